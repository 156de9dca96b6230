// Package sandbox is an offline payment provider with deterministic test
// cards, QR and bank-transfer flows, refunds, captures, payouts, balances and
// quotes, so a host developer can build and test a whole paykit integration
// without a gateway account or a network.
//
// # Getting started
//
//	sb, err := sandbox.New()                  // name "sandbox"
//	defer sb.Close()
//	svc, err := payment.New(store, payment.WithProvider(sb))
//	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", sb.ActionsHandler()))
//
// Callbacks go by HTTP POST to the StartRequest.NotifyURL (or
// PayoutRequest.NotifyURL) the payment was started with, or, with
// [WithDeliver], to a Go function (for example one that hands them to the
// Service's webhook handling in process).
//
// # Methods and what Start does
//
// card needs a test card (StartRequest.Card) or a test token
// (StartRequest.PaymentToken); any other card number is invalid input. A
// card needs an expiry month 1-12 not in the past and a 3-digit CVV (4 for
// amex).
//
//	4111111111111111  succeeded (authorized with capture_method manual)
//	5555555555554444  succeeded (authorized with capture_method manual)
//	378282246310005   succeeded (authorized with capture_method manual)
//	4000000000000002  failed, code card_declined
//	4000000000009995  failed, code insufficient_funds
//	4000000000000119  Start returns a Retryable *payment.ProviderError (a timeout),
//	                  but the charge went through: Sync later reports it succeeded
//	tok_visa          succeeded, like 4111111111111111
//	tok_otp           requires_action with an "otp" next action; Confirm with OTP
//	                  "123456" succeeds, any other code is an error wrapping
//	                  payment.ErrInvalidInput and the payment keeps waiting
//
// qr is requires_action with a "display_qr" next action: an EMVCo QR
// payload (PromptPay for THB, ending with its CRC16), a PNG of it as a
// data:image/png;base64 URL (turn off with WithQRImage(false)), the
// PromptPay id for THB, and an expiry 15 minutes from the clock
// (WithQRTTL). Past the expiry, the payment is expired.
//
// bank_transfer needs the payer's Customer.BankAccount; it is like qr, and
// the next action also carries the merchant account to pay into
// (WithMerchantAccount).
//
// Currencies default to THB, VND, TRY, USD and EUR (WithCurrencies).
// Manual capture is for cards only.
//
// Start is idempotent on StartRequest.IdempotencyKey (or the payment id):
// repeated and concurrent calls return the same charge; Charges, ChargesFor
// and StartCalls count what happened, so tests can prove one charge.
//
// # Playing the customer
//
// Pay, Decline and Expire (payments) and CompletePayout and FailPayout
// (payouts) take paykit's id ("pay_...", "po_..."), change the state and
// deliver a signed callback. ActionsHandler serves the same over HTTP:
// POST /payments/{id}/pay, /decline, /expire, /resend, POST
// /payouts/{id}/complete, /fail, and GET /payments/{id}, /payouts/{id}.
// A declined card fails with card_declined, a declined qr or bank_transfer
// with declined; an expired payment with expired.
//
// # Callbacks and their signature
//
// A callback is a JSON [Event] POSTed with two headers:
//
//	Sandbox-Timestamp: 1767225600                      (Unix seconds)
//	Sandbox-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// The secret is DefaultWebhookSecret ("whsec_sandbox_test_secret") unless
// WithWebhookSecret sets another. ParseWebhook compares in constant time and
// rejects a timestamp more than 300 s from the clock either way
// (WithTolerance); a callback that does not verify is an error wrapping
// payment.ErrInvalidSignature. Event ids, the inbox key, are unique per
// (payment, status), so duplicates deduplicate. [SignWebhook] and
// [Provider.WebhookFor] build signed callbacks for tests.
//
// The first delivery attempt happens before the action returns; a failure
// (a non-2xx answer, a network error, an error from the WithDeliver
// function) is retried in the background, 6 attempts in all with delays of
// 1 s, 2 s, 4 s, 8 s and 16 s (WithDeliveryRetry), until Close. Each attempt
// is signed afresh. Nothing is sent for a payment started without a notify
// URL unless WithDeliver is set; Sync still sees every change.
//
// # Money
//
// Refunds succeed at once, in full or in part, up to the captured amount
// (beyond it: payment.ErrRefundExceedsCaptured). Capture takes all or part
// of an authorization. Payouts are pending until CompletePayout or
// FailPayout; they debit the available balance by their amount, and the
// account receives the amount less a fee of 1% (PayoutFeeBPS); a payout
// beyond the available balance fails with insufficient_funds. Balance
// reports, per currency, available = opening balance (WithOpeningBalance) +
// captured - refunded - payouts not failed, and pending = authorized but not
// captured.
//
// Quote reports a fee of 2.95% for card and 1% for qr and bank_transfer,
// borne by the merchant, and for cards instalment plans of 3, 6 and 12
// months that add 0.5% a month. Every percentage is applied with integer
// math and rounded half up to the minor unit; an instalment plan's
// PerInstallment is Total/Count rounded down, and the first instalment
// carries the remainder.
package sandbox
