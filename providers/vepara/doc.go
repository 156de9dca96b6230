// Package vepara is the paykit provider for Vepara (Turkey), the white-label
// of Sipay's "ccpayment" platform: non-secure (2D) card payments, marketplace
// sales that split each item between the merchant and a sub-merchant,
// pre-authorization with capture and void, status, full and partial refunds,
// instalment quotes and sub-merchant management. The same code talks to
// Sipay (SipayTestBaseURL, SipayLiveBaseURL): the protocol is the platform's.
//
// # Configuration
//
//	p, err := vepara.New(vepara.Config{
//		AppID:       os.Getenv("PAYKIT_VEPARA_APP_ID"),
//		AppSecret:   os.Getenv("PAYKIT_VEPARA_APP_SECRET"),
//		MerchantKey: os.Getenv("PAYKIT_VEPARA_MERCHANT_KEY"),
//	},
//		vepara.WithBaseURL(vepara.LiveBaseURL), // default: TestBaseURL
//		vepara.WithSaleWebhookKey("paykit"),    // the key of the webhook URL in the merchant panel
//	)
//
// Options: WithBaseURL, WithHTTPClient (default: 30 s timeout), WithLogger,
// WithClock or WithClockFunc, WithRateLimit (the platform documents no
// limit; none by default), WithCurrencies (default TRY; add USD or EUR when
// the merchant's POS takes them), WithAmountFormat, WithSaleWebhookKey,
// WithRefundWebhookKey, WithQuoteBIN and WithTokenRefreshMargin.
//
// The platform takes no callback URL per payment: the sale webhook URL is
// registered in the merchant panel (API settings) under a key, and every
// sale names that key (WithSaleWebhookKey). StartRequest.NotifyURL is
// therefore not used; register paykit's webhook route
// (.../webhooks/vepara) in the panel.
//
// # Payments
//
// Method card, with the raw card in StartRequest.Card (never stored, logged
// or kept after the call). The invoice id is paykit's payment id, so Start
// is idempotent: a repeated Start meets status 3 ("invoice already
// processed") and answers with the first sale's state from checkstatus.
// The provider reference is the platform's order_id (the invoice id when the
// platform refused a sale before creating an order).
//
//   - Items that all name a sub-merchant (Item.SubMerchantID and
//     SubMerchantShare, the sub-merchant's part of the line) make a
//     marketplace sale, POST /api/marketplace/sale/pay/smart/non-secure.
//   - Otherwise the plain 2D sale, POST /api/paySmart2D, with the items (or
//     one line for the whole amount).
//   - capture_method manual sends transaction_type PreAuth: the payment is
//     authorized, then Capture (confirmPayment status 1, all or part) or
//     Cancel (confirmPayment status 2) settles it.
//   - The number of instalments comes from Payment.Metadata["installments"]
//     (1 to 12, default 1; see MetadataInstallments).
//
// The outcome of a non-secure sale is known when Start returns: succeeded
// (authorized for a pre-authorization), or failed with a Failure for a
// declined card (status 41 and the other decline codes; bank code 51 is
// insufficient_funds). A timeout, a 5xx, a 429 or an answer that is not
// JSON is a retryable error: the sale may have happened, and the next Start
// or Sync finds out. 3-D Secure (paySmart3D) is not supported yet.
//
// ValidateCheckout (payment.CheckoutValidator) applies the platform's field
// rules before anything is sent: card number 16 to 20 digits, CVV 3 or 4
// digits, holder name without digits and at most 50 characters, expiry
// month 1 to 12, a 4-digit expiry year, the invoice id (the payment id) at
// most 50 characters, items that add up to the amount and either all or
// none with a sub-merchant, a sub-merchant share no larger than its line.
// Errors are *payment.ValidationError naming the field ("card.number"),
// never the value. The platform's own Laravel-style 422 answers become
// errors wrapping a *payment.ValidationError too, with the platform's field
// mapped to paykit's (cc_no is card.number, total is amount).
//
// Amounts are written exactly, from minor units, never through float64:
// by default the shortest decimal (210, 250.35, 100.5), the form of the
// official PHP SDK; WithAmountFormat(AmountTwoDecimals) writes 210.00 as the
// Node SDK does. The total inside the hash_key is always written exactly as
// the JSON total.
//
// # Capabilities
//
//   - Sync (payment.Syncer): POST /api/checkstatus. 100 with
//     transaction_status Completed is succeeded (authorized for a
//     pre-authorization not yet confirmed), 41 failed, 69 or Pending
//     processing, Cancelled canceled; an unknown invoice (31) is an error
//     wrapping payment.ErrNotFound. Anything unclear is processing, never
//     failed.
//   - Refund (payment.Refunder) and SyncRefund (payment.RefundSyncer): POST
//     /api/refund with the exact amount and refund_transaction_id = the
//     refund's id (RefundTransactionID), so a retried refund meets 104 and is
//     resolved from checkstatus's refund_info instead of refunding twice.
//     101 (a refund request the platform settles by hand) is pending, 49
//     failed, 110 (no partial refunds for this payment) an error wrapping
//     payment.ErrUnsupported.
//   - Capture (payment.Capturer) and Cancel (payment.Canceler):
//     confirmPayment. 113 (no pre-authorization) is resolved from
//     checkstatus when the payment is already in the wanted state, otherwise
//     an error wrapping payment.ErrInvalidState.
//   - Quote (payment.Quoter): /api/installments (the enabled counts) and
//     /api/getpos (what the customer pays per count). payment.QuoteRequest
//     names no card, so Quote asks about the BIN of WithQuoteBIN (default
//     450803, a Turkish Visa credit card); QuoteCard and Pos take a BIN.
//   - Sub-merchants: AddSubMerchant, EditSubMerchant, ListSubMerchants and
//     DeleteSubMerchant (/api/sub-merchant/...), with the zip code (5
//     digits) and Turkish IBAN checked before sending.
//
// # Authentication and hash_key
//
// The token of POST /api/token (both answer shapes, Vepara's expired_at and
// Sipay's expires_at) is cached for its life (2 hours, or less when the
// platform says so), shared by concurrent requests (one fetch at a time),
// renewed WithTokenRefreshMargin (10 minutes) before it expires while the
// current one keeps serving, and dropped and fetched again when the
// platform answers 401 (the call is then repeated once). It is sent as
// "Authorization: Bearer <token>".
//
// Every request that the platform checks carries a hash_key (HashKey), made
// exactly as the platform's PHP SDK makes it: AES-256-CBC of the "|"-joined
// fields with the first 32 characters of
// sha256_hex(sha1_hex(app_secret)+salt) as the key, a fresh 16-character IV
// and 4-character salt from crypto/rand per request, base64, and "/"
// replaced by "__". The fields: total|installments_number|currency_code|
// merchant_key|invoice_id for sales, invoice_id|merchant_key for
// checkstatus, amount|invoice_id|merchant_key for refunds, and
// merchant_key|invoice_id|status for confirmPayment.
//
// # Webhooks
//
// The platform posts the sale webhook as form fields (vepara_status or
// sipay_status, order_no, invoice_id, payment_status, transaction_type,
// hash_key, ...). ParseWebhook decrypts the hash_key
// (status|total|invoice_id|order_id|currency_code) and requires it to agree
// with the form (invoice id, order id, the status fields) and the currency
// to be one of the provider's; since AES-CBC authenticates nothing, it then
// asks checkstatus, which must know the invoice with the same order id and
// total, and reports checkstatus's state. A callback that fails any check
// is an error wrapping payment.ErrInvalidSignature (and ErrInvalidHashKey);
// when checkstatus cannot be reached the error is retryable, so the
// platform's redelivery is not lost. The reply is an empty 200.
//
// # Choices where the sources disagree
//
//   - The total in the hash_key: the shortest decimal, exactly as in the
//     JSON (PHP SDK); the platform compares numerically.
//   - The marketplace endpoint's webhook key is sent as sale_webhook_key
//     (its page's spelling), the 2D sale's as sale_web_hook_key.
//   - The marketplace body is a JSON object, not the array of the docs'
//     sample.
//   - expiry_year is sent with 4 digits; cc_no is sent as a string (a
//     20-digit number does not survive PHP's float).
//   - Pre-authorization on the marketplace endpoint, the shape of
//     refund_info and of the sub-merchant answers are not documented: the
//     provider reads the plausible variants.
package vepara
