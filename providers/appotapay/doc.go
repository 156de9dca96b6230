// Package appotapay is the paykit provider for AppotaPay (Vietnam): linked
// e-wallet payments with the OTP step, gateway v2 payments (hosted page for
// cards and banks, QR over a virtual account), status, refunds and the
// signed IPN.
//
// # Configuration
//
//	p, err := appotapay.New(appotapay.Config{
//		PartnerCode: "...", // the JWT's iss
//		APIKey:      "...", // the JWT's api_key, the OAuth client_key
//		SecretKey:   "...", // signs the JWT, the request signatures, the IPN
//	}, appotapay.WithProduction())
//
// Without WithProduction (or WithBaseURL) the provider talks to the
// sandbox (gateway.dev.appotapay.com, ewallet.dev.appotapay.com), so a
// forgotten option never moves real money. Other options: WithHTTPClient
// (default 30 s timeout), WithLogger, WithClock, WithRateLimit (AppotaPay
// documents no limit; none by default), WithTokenTTL (JWT lifetime, default
// 300 s), WithBearerAuthHeader, WithLanguage, WithAccountRefID,
// WithDefaultReturnURL, WithDefaultNotifyURL, WithAccessTokenFunc,
// WithPendingTTL, WithWebhookConfirmation, WithPaymentMethod and
// WithEWalletBaseURL.
//
// # Methods
//
// Only VND, in integer amounts from 1,000 to 500,000,000 đồng.
//
//   - ewallet with a payment_token: the token is the customer's linked
//     AppotaPay wallet access token (see Linking a wallet). The wallet is
//     charged at once through POST /api/v2/ewallet/payment: the payment
//     succeeds, or, when the wallet asks for an OTP, it is requires_action
//     with an "otp" next action; the host sends the code the customer got
//     to POST /payments/{id}/confirm ({"otp": "123456"}), which calls
//     Confirm (POST /api/v2/ewallet/payment/confirm).
//
//   - Every other checkout is a gateway v2 payment (POST
//     /api/v2/orders/payment) that the customer finishes on AppotaPay's
//     side: requires_action with a "redirect" next action (the hosted page)
//     or, for qr, "display_qr" (the VietQR content of a virtual account).
//     The default mapping of paykit methods to AppotaPay's paymentMethod:
//
//     card           -> CC      (international cards on the hosted page)
//     qr             -> VA      (display_qr: VietQR of a collection account; redirect when no QR comes back)
//     bank_transfer  -> VA      (redirect: the page shows the account to transfer to)
//     ewallet        -> EWALLET (without a token: the page lists the wallets)
//
// A checkout's metadata "appotapay_payment_method" (ATM, CC, EWALLET, VA,
// MM, ISTM, ALL) overrides it for one payment (ATM for domestic ATM cards
// and internet banking), "appotapay_bank_code" preselects a bank or wallet
// (VCB, VISA, ZALOPAY, ...), and WithPaymentMethod changes the default.
// Gateway payments need a return_url (or WithDefaultReturnURL) and a notify
// URL (the Service's webhook URL, or WithDefaultNotifyURL).
//
// The AppotaPay orderId is the paykit payment id without its underscore
// (OrderID: "pay_01JD3..." -> "pay01JD3...", alphanumeric, 29 characters),
// so a retried Start meets AppotaPay's duplicate check (30) and is answered
// by querying the order: never two charges. orderInfo is the payment's
// description (or "Order <order_id>"), at most 150 characters; extraData
// carries the merchant's order_id. ValidateCheckout enforces all of this
// before anything is recorded or sent, with a *payment.ValidationError
// naming the field (currency, amount, method, id, description, card,
// capture_method, payment_token, return_url, metadata.appotapay_*).
//
// # Capabilities
//
// Sync (GET /api/v2/orders/transaction by orderId), Refund (POST
// /api/v2/transaction/refund, partnerRefId = the refund id without its
// underscore; at least 1,000 đồng; partial where the underlying channel
// allows it: an Appota wallet payment refunds only in full, answered with
// 106 and an error wrapping payment.ErrUnsupported), SyncRefund (GET
// /api/v2/transaction/refund/{partnerRefId}?type=PARTNER_ORDER_ID), Confirm
// (the OTP) and CheckoutValidator. There is no cancel: AppotaPay documents
// no body for its e-wallet cancel endpoint.
//
// # Status and error codes
//
// AppotaPay statuses map as success -> succeeded, error -> failed (expired
// for 22, an expired OTP), pending/processing -> requires_action while the
// customer still has something to do, else processing. Every documented
// code is mapped (see the README's table): 34, 94, 99 and 500 mean the
// outcome is unknown, so they are processing (a retryable
// *payment.ProviderError from Start), never failed; a sync resolves them.
// Declines (33, 39, 65, 70, 75, 84, 162) are a failed state with a Failure
// (75 is insufficient_funds), not an error. Request errors (1, 2, 32, 52,
// 90, 140, 141) and 401 are non-retryable errors. Timestamps are RFC 3339
// in +07:00.
//
// # What is verified, and how
//
//   - Every request carries X-APPOTAPAY-AUTH: a JWT made with
//     golang-jwt, HS256 with the secret key, header {"typ":"JWT",
//     "alg":"HS256","cty":"appotapay-api;v=1"}, claims iss (partner code),
//     jti (api key + "-" + unix seconds), api_key and exp (now + 300 s). It
//     is sent bare by default (the v2 pages' samples); WithBearerAuthHeader
//     sends "Bearer <jwt>" (the e-wallet pages' variant).
//   - The e-wallet payment signature is hex HMAC-SHA256 with the secret key
//     over exactly "amount=..&currency=..&extraData=..&orderId=..&orderInfo=.."
//     (raw values, empty extraData included); the OTP confirmation's over
//     "orderId=..&verificationCode=..". The gateway v2 and refund bodies
//     carry no signature, as documented.
//   - The IPN (ParseWebhook, VerifyIPN) is {data, signature, time}: the
//     signature is hex HMAC-SHA256 over the raw base64 data string as
//     received, compared in constant time; only then is data decoded. Any
//     verification failure wraps payment.ErrInvalidSignature. The
//     acknowledgement is exactly {"status":"ok"}. The event carries
//     orderAmount, which the Service compares with the record. The
//     unsigned time member is not checked (AppotaPay retries 5 minutes
//     apart). WithWebhookConfirmation also asks the status API, as the
//     vendor recommends. The redirect's query form (data, signature, time)
//     is accepted too.
//
// # Linking a wallet
//
// LoginURL gives the OAuth login form the customer opens; AppotaPay sends
// them back with a code, which ExchangeCode trades for a WalletToken
// (RefreshToken renews it). The host stores the tokens with its customer and
// passes AccessToken as payment_token. paykit never stores it: for the OTP
// step the provider keeps it in memory for WithPendingTTL (15 minutes), or
// asks WithAccessTokenFunc, which a host running several instances should
// set.
//
// # Simulator
//
// Package appotapaysim simulates these APIs for tests and demos.
package appotapay
