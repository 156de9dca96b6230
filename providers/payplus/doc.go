// Package payplus is the paykit provider for Pay-Plus, a Thai payment
// gateway for PromptPay QR and bank-transfer deposits, withdrawals to bank
// accounts, the merchant balance and order queries.
//
// # Configuration
//
//	p, err := payplus.New(payplus.Config{
//		BaseURL:    "https://<host issued to you>/api/v1",
//		MerchantID: "your_merchant_id",
//		APIKey:     os.Getenv("PAYPLUS_API_KEY"),
//	}, payplus.WithLogger(logger))
//
// MerchantID and APIKey are required, and so is the base URL (Config.BaseURL
// or WithBaseURL): Pay-Plus issues a host per merchant and its documentation
// leaves it blank. The base URL includes the "/api/v1" version path.
// Options: WithHTTPClient (default: 30 s timeout), WithLogger (zap; requests
// are logged at debug level without bodies, keys or signatures), WithClock,
// WithRateLimit (no limit by default: none is published), WithPaths,
// WithMillisecondTimestamps, WithCallbackTolerance, WithCallbackURL,
// WithLenientCallbackClaims.
//
// Every request carries the API key in the x-api-key header and a signature
// field. Pay-Plus also checks the caller's IP against the merchant's
// whitelist.
//
// # Paths
//
// Only the deposit and sign-helper paths are documented publicly. The others
// are proposals, all configurable with WithPaths:
//
//	deposit     POST /deposit          documented
//	withdrawal  POST /withdraw         proposed
//	balance     POST /balance          proposed (GET with Paths.BalanceMethod)
//	order query POST /order/query      proposed
//	banks       GET  /banks            proposed
//	health      GET  /health           proposed, unauthenticated
//	sign helper POST /jwt/create       documented; only the simulator's tests use it
//
// # Signatures
//
// The signature is what Node's jsonwebtoken produces for
// jwt.sign(sortedParams, apiKey, {algorithm: "HS256", noTimestamp: true}):
// an HS256 JWT whose payload is JSON.stringify of the request parameters
// (without signature) with keys sorted, keyed with the API key string, with
// no iat. [Sign] reproduces it byte for byte ([CanonicalJSON]): keys in
// JavaScript order, numbers as JavaScript prints them (amounts are THB and go
// out as 1000 and 995.5, never 1000.00, built from minor units with
// payment.FormatShortest, never through float64), strings escaped only as
// JSON requires (a callback URL with "&" is signed as is, not as \u0026).
// The notes' worked example is a test vector. Timestamps are Unix seconds
// (WithMillisecondTimestamps for milliseconds); the documented types are kept:
// a number for deposits, balance and queries, a string for withdrawals.
// Deposit parameters are camelCase (merchantId, callbackUrl), withdrawal and
// callback fields snake_case (agent_order_no, callback_url), exactly as
// documented.
//
// # Deposits (payments)
//
// Methods qr (type QR) and bank_transfer (type BANK_TRANSFER), in THB. The
// payer's bank code, account number and holder name come from the checkout's
// customer.bank_account (required; [Provider.ValidateCheckout] checks it), as
// Pay-Plus matches the incoming transfer against them. The payment id
// ("pay_...") is the transactionId, so Start is idempotent: a
// "transactionId already exists" answer is resolved by querying the order.
//
// Start answers requires_action with a display_qr next action: qr_image is
// the PNG data URL Pay-Plus sends (qrcode), qr_code a PromptPay EMVCo payload
// for the promptpayNumber and the amount to transfer (see [PromptPayPayload];
// the bare number when it is not a PromptPay id), amount_to_pay is
// depositAmount (what the payer must transfer, which may differ from the
// amount), promptpay_id the number, bank_account the account to transfer
// to, expires_at the expireDate.
//
// Sync queries the order (by order_no when known, else by agent_order_no).
// pending stays requires_action with the recorded next action (processing
// when there is none, as after a lost answer), completed is succeeded,
// failed failed, expired expired, cancelled canceled.
//
// Money: a completed deposit reports its amount in the payment's terms.
// What was due is transfer_amount (callbacks), else amount minus fee
// (queries), else amount. When actual_amount is below it, the state carries
// the "underpaid" flag and the amount less the shortfall, which differs from
// the payment's, so the Service never marks it paid in full. Paying more
// than due is success.
//
// # Withdrawals (payouts)
//
// [Provider.StartPayout] sends a withdrawal with the payout id as
// agent_order_no; the state is processing with Pay-Plus's order_no, fee and
// transfer_amount. SyncPayout queries it: pending and processing are
// processing, completed succeeded, failed and expired failed, cancelled
// canceled. A duplicate agent_order_no is resolved by querying.
//
// # Balance, banks, health
//
// Balance implements payment.BalanceReader (one THB amount, all available).
// [Provider.Banks] and [Provider.Health] are plain methods.
//
// # Callbacks
//
// Pay-Plus POSTs JSON to the callbackUrl / callback_url with order_no,
// agent_order_no, type (deposit or withdrawal), amount, fee,
// transfer_amount, actual_amount, status, timestamp and signature.
// ParseWebhook verifies, in this order: the body is one JSON object; the
// signature is an HS256 JWT of the API key (jwt.WithValidMethods pins HS256:
// none, HS384, RS256... are refused); its claims equal the body's other
// fields exactly, numbers compared by value (WithLenientCallbackClaims
// accepts unsigned extra fields as long as every field paykit acts on is
// signed); the timestamp (seconds or milliseconds) is within 5 minutes of
// now, both ways (WithCallbackTolerance; zero turns it off for a vendor that
// retries with the original timestamp). Any failure is an error wrapping
// payment.ErrInvalidSignature. A verified callback with an unknown type or
// status is an error wrapping payment.ErrInvalidInput.
//
// A deposit callback becomes a payment event (PaymentID is the
// agent_order_no when it is a paykit id, ProviderReference the order_no), a
// withdrawal callback a payout event with fee and transfer amount. A pending
// deposit callback carries no news and yields no event. Event keys cover
// every field but timestamp and signature, so a re-signed redelivery
// deduplicates. The acknowledgement is exactly {"code":200,"message":"Success"}.
//
// # Errors
//
// Vendor errors are *payment.ProviderError with the vendor's code (HTTP
// status or the body's code) and message: "Invalid signature" wraps
// [ErrSignatureRejected]; "Invalid API key", "IP not in whitelist" and
// "merchantId does not match API key" wrap [ErrAuthentication];
// "transactionId already exists" wraps [ErrDuplicate] (Start and
// StartPayout recover from it); 5xx, 408, 429, timeouts and unreadable
// answers are Retryable (the outcome is unknown). An unknown order is an
// error wrapping payment.ErrNotFound.
//
// # Simulator
//
// Package payplussim is a stateful Pay-Plus simulator for tests and demos:
//
//	sim := payplussim.New()
//	srv := httptest.NewServer(sim)
//	p, _ := payplus.New(payplus.Config{
//		BaseURL:    srv.URL + payplussim.DefaultPrefix,
//		MerchantID: payplussim.DefaultMerchantID,
//		APIKey:     payplussim.DefaultAPIKey,
//	})
package payplus
