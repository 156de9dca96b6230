// Package villa is the paykit provider for the Villa Payment API (Villa
// Market, Thailand), which fronts the KBank K-Payment Gateway: card
// payments with a KBank card token, Thai QR and WeChat Pay QR payments,
// cost quotes, payment status, and KBank orders and users. Its simulator is
// [github.com/paykit/paykit/providers/villa/villasim].
//
// # Getting started
//
//	p, err := villa.New(villa.Config{
//		APIKey:        os.Getenv("VILLA_API_KEY"),
//		Environment:   villa.Production,
//		WebhookSecret: os.Getenv("VILLA_WEBHOOK_SECRET"), // optional
//	})
//	if err != nil { ... }
//	svc, err := payment.New(store, payment.WithProvider(p))
//
// Against the simulator:
//
//	sim := villasim.New(villasim.WithWebhookSecret("whsec_demo"))
//	srv := httptest.NewServer(sim)
//	p, err := villa.New(villa.Config{APIKey: villasim.DefaultAPIKey, WebhookSecret: "whsec_demo"},
//		villa.WithBaseURL(srv.URL))
//
// # Two documented APIs: which one is the default
//
// Villa publishes two descriptions of its API that disagree. Both are
// supported; Config.Flavor picks one, and FlavorMain is the default.
//
//	                 FlavorMain (default)                FlavorPayment3
//	base URL         https://api.villamarket.com          https://shop.villamarket.com/api/payment3api
//	  development    https://api-dev.villamarket.com      https://shop.villamarket.com/api/payment3devapi
//	  sandbox        https://api-sandbox.villamarket.com  (development)
//	authentication   X-API-Key: <Config.APIKey>           Authorization: <Cognito ID token> (no "Bearer")
//	answers          {"statusCode":200,"body":{...}}      raw KBank order objects
//	errors           {"statusCode":400,"body":{"error":   {"error":{"code":"missing_field",
//	                  "msg","code":"INVALID_INPUT",        "message":"..."}}
//	                  "details":{}}}
//	QR request       {orderId,userId,amount,customerId}   {orderid, source: qr|wechat}
//	create a user    POST /kbank/createuser               POST /kbank/user
//
// The main API is the default because it is the one Villa documents as its
// primary interface, with a complete endpoint list, error codes and rate
// limits. Config.Environment selects Development (the default, so a
// forgotten setting never moves real money), Sandbox or Production;
// WithBaseURL overrides both. Whatever the flavor, the provider reads
// either answer shape, so a proxy that unwraps the envelope, or one that
// answers errors with HTTP 200 and the status only in statusCode, works.
// A Config may carry both an APIKey and a TokenSource: both headers are
// then sent.
//
// The Cognito ID token comes from a [TokenSource] the host supplies (for
// example one that calls Cognito's InitiateAuth). The provider caches it
// until 30 seconds before it expires (Token.Expiry, or the token's "exp"
// claim when Expiry is zero), and asks again once when Villa answers 401.
//
// # Methods and capabilities
//
// Methods card, qr and wechat; currency THB only. The provider implements
// payment.Provider, payment.Syncer (GET /checkstatus/{orderId}),
// payment.Quoter (POST /calculate-cost) and payment.CheckoutValidator.
// Villa documents no refund, cancel or capture endpoint, so the provider
// offers none: refund card payments in KBank's merchant portal. It also
// has Go methods for the rest of the API: [Provider.CheckStatus],
// [Provider.CreateKBankOrder] (POST /kbank/createorder), [Provider.CreateUser]
// and [Provider.GetUser] (GET /kbank/user/{userId}).
//
//   - card: POST /cardpayment, form-urlencoded, with orderId, userId,
//     amount, token and callback. The token is the KBank card token KPay.js
//     gave the customer's browser (tokn_...), passed in
//     StartRequest.PaymentToken; raw card data is refused by
//     ValidateCheckout and never sent. The KBank charge comes back
//     Authorized (succeeded), Pre-Authorized (requires_action, redirect to
//     the 3-D Secure page in redirect_url) or Declined (failed, with
//     card_declined or insufficient_funds). Manual capture is refused.
//   - qr, wechat: POST /qrpayment. With the main shape one call creates the
//     order; with the order shape (payment3's {orderid, source}) the
//     provider first registers the order and its amount with POST
//     /kbank/createorder, then asks for the QR. The answer is a KBank order
//     object whose status "success" means created, not paid: the payment is
//     requires_action, with a display_qr next action when the answer carries
//     a QR payload (qr_code, qr_image; the documented object has none, and
//     then NextAction is nil: render KPay.js with the KBank order id from
//     [Provider.CheckStatus]) and ExpiresAt = created + expire_time_seconds.
//     WithQRShape overrides the flavor's shape.
//
// userId is the payment's Customer.ID, or Config.DefaultUserID ("guest"
// when empty); the main QR shape sends it as customerId too.
//
// # Order ids and idempotency
//
// Villa's orderId is paykit's payment id ("pay_01JD3..."), and the
// payment's ProviderReference is that order id (the KBank order or charge
// id changes with every attempt). A retried Start therefore reaches the same
// order: when Villa answers that the order exists (INVALID_INPUT with
// details.reason "duplicate_order", code DUPLICATE_ORDER or duplicate_order,
// or HTTP 409), Start answers with the order's state from GET
// /checkstatus instead of failing, and if that read fails the error is
// retryable (the order exists: its outcome is unknown, never failed).
//
// # Amounts and times
//
// Amounts are int64 satang. They are sent as decimals with two places
// ("1000.00", a JSON number in JSON bodies) built with payment.FormatDecimal,
// and read back exactly with payment.ParseDecimal from numbers or strings
// ("300.0", "1000", "1000.50"); more than two non-zero decimals, exponents
// and anything else are refused. No amount ever passes through float64.
// KBank's "created" (YYYYMMDDHHmmssSSS) is Asia/Bangkok time (UTC+7, no
// daylight saving); livemode may be a boolean or the string "false".
//
// # Status
//
// GET /checkstatus/{orderId} is undocumented; the provider reads orderId,
// status, amount, currency, source_type, chargeId, kbankOrderId,
// transaction_state, failure_code, failure_message, created,
// expire_time_seconds, redirect_url and qr_code (camelCase and snake_case
// variants, optionally nested under "order" or "data"), or a raw KBank order
// or charge object. Villa's status decides first: paid, succeeded,
// completed, settled, authorized and captured are succeeded; pending,
// created, waiting and unpaid are requires_action; processing;
// failed, declined and rejected are failed; expired; cancelled, canceled
// and voided are canceled; refunded and partially_refunded. Otherwise
// KBank's transaction_state decides (Authorized and Settled succeeded,
// Pre-Authorized requires_action, Declined failed, Voided canceled,
// Expired expired). "success" alone is never taken as paid, since KBank
// says it for an order that was merely created; an unknown status is
// processing (logged), never failed.
//
// # Webhooks: what is verified, and how
//
// Villa documents no signature for its callbacks, so ParseWebhook never
// trusts a body. It accepts three shapes:
//
//   - Villa's {"event":"payment.status.updated","data":{"orderId","status",
//     "amount","timestamp"}};
//   - KBank's card callback form objectId=chrg_...&token=tokn_...&status=true&
//     message=&saveCard=false, which names only the charge: the provider
//     puts orderId=<order id> in the query of the callback URL it sends
//     (StartRequest.NotifyURL), and the charge must be the order's;
//   - KBank's notify body (a charge object with a checksum).
//
// For every shape it reads only which order (and charge) the callback is
// about, then fetches GET /checkstatus/{orderId} and reports that state
// (status, amount, failure) as the event: a forged or stale callback can
// at worst make paykit ask Villa. A callback naming an unknown order, a
// charge of another order, an unknown event or malformed content is
// rejected with an error wrapping payment.ErrInvalidSignature; a failed
// status query returns a retryable error so the sender tries again. The
// event key is "villa:<orderId>:<status>", so duplicates and stale
// callbacks deduplicate in the inbox.
//
// When Config.WebhookSecret is set, every callback must also carry
// paykit's HMAC scheme (villasim signs the same way), checked before any
// call to Villa:
//
//	X-Villa-Timestamp: <Unix seconds>
//	X-Villa-Signature: v1=<lower-case hex HMAC-SHA256(secret, timestamp + "." + raw body)>
//
// The timestamp must be within 5 minutes of now either way
// (WithWebhookTolerance); several comma-separated v1= values are accepted
// for key rotation; comparisons are constant-time. [SignWebhook] computes
// the header for tests. When Config.KBankSecretKey is set, KBank notify
// bodies must carry KBank's checksum ([KBankChecksum]: lower-case hex
// SHA-256 of id + amount with four decimals ("100.0000") + currency +
// status + transaction_state + the skey_ secret key). The callback URL's
// acknowledgement is HTTP 200 with an empty body.
//
// # Rate limits, retries and timeouts
//
// Requests are limited on the client to Villa's documented 1000 a minute
// with bursts of 100 (golang.org/x/time/rate; WithRateLimit). A 429 is
// repeated after its Retry-After (seconds or an HTTP date; at most
// WithMaxRetryAfter, 30 s by default, beyond which the call fails with a
// retryable RATE_LIMITED error). Timeouts, network errors and 5xx answers
// are repeated, with exponential backoff and jitter (WithRetry: 3 attempts
// from 200 ms), only where repeating is safe: reads, quotes, and writes
// that carry the order id (card and QR payments, order creation), which
// Villa refuses to do twice. Creating a user is never repeated after an
// unknown outcome. Every attempt has its own timeout (WithTimeout, 15 s).
//
// # Errors
//
// Villa's error answers become *payment.ProviderError with Villa's code as
// spelled: INVALID_INPUT, MISSING_FIELD (and the lower-case payment3
// codes, invalid_amount, ...) wrap payment.ErrInvalidInput; UNAUTHORIZED
// and FORBIDDEN are final; NOT_FOUND wraps payment.ErrNotFound;
// RATE_LIMITED is retryable; INTERNAL_ERROR and SERVICE_UNAVAILABLE (and any
// 5xx, timeout or unreadable 2xx answer) are retryable and wrap
// payment.ErrUnavailable. Card tokens and credentials are redacted from
// vendor messages, never logged (requests are logged at debug level with
// method, path, status and duration only) and never put in errors.
package villa
