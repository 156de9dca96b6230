// Package veparasim simulates Vepara's ccpayment platform for tests, demos
// and the quickstart: a stateful http.Handler that speaks the platform's
// wire protocol to one merchant.
//
//	sim := veparasim.New()
//	srv := httptest.NewServer(sim)
//	sim.SetWebhookURL("paykit", "http://127.0.0.1:8080/pay/webhooks/vepara")
//	p, _ := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(),
//		MerchantKey: sim.MerchantKey()}, vepara.WithBaseURL(srv.URL), vepara.WithSaleWebhookKey("paykit"))
//
// # What it does like the platform
//
//   - Tokens: POST /api/token checks app_id and app_secret (422 when
//     missing, 401 with status 30 when wrong) and issues tokens that live 2
//     hours (WithTokenTTL) by the simulator's clock (WithClock); every other
//     call needs a live token ("Bearer <token>" or the bare token, as the PHP
//     SDK sends it), else 401.
//   - hash_key: decrypted with the app secret (its own implementation of the
//     algorithm, independent of the provider's) and checked field by field:
//     90 when it does not decrypt or names another invoice, currency or
//     instalment count, 91 for another merchant key, 68 when its total
//     differs numerically from the request's ("210" and "210.00" are equal).
//     Answers and webhooks carry hash_keys made the same way
//     (status|total|invoice_id|order_id|currency_code).
//   - Validation: Laravel-style 422 {"message", "errors": {field: [...]}}
//     for the platform's rules (cc_no 16 to 20 digits, cvv 3 or 4 digits,
//     cc_holder_name without digits and at most 50 characters, expiry_year
//     4 digits (2 accepted), invoice_id at most 50, hash_key at most 256,
//     merchant_key at most 128, item_id, sub_merchant_id and
//     sub_merchant_share on marketplace items, ...); 14 for another merchant
//     key, 12 for an unknown currency or malformed items, 13 when items do
//     not add up to the total, 40 for a disabled instalment count, 80 for an
//     unknown sub-merchant, 56 for an unregistered webhook key.
//   - Invoices: a reused invoice id is refused with 3 and charges nothing.
//   - Commissions: the merchant pays 2.49% of the total; each instalment
//     beyond the first adds 1.25% of the total that the customer pays
//     (getpos's payable_amount, checkstatus's transaction_amount).
//   - Card network: test cards decide (CardApprove, CardApproveMastercard,
//     CardDecline (41, bank 05), CardInsufficientFunds (41, bank 51),
//     CardBlocked (44), CardPending (69, decided later by Pay, Decline or
//     Expire)); any other number passing the Luhn check is approved, one
//     failing it is refused with 108, and an expired card is declined (41,
//     bank 54).
//   - Pre-authorization (transaction_type PreAuth), confirmPayment with
//     status 1 (capture, all or part) and 2 (void), 113 without one.
//   - checkstatus in the platform's flat shape, with refund_info for
//     show_refund_info "Y"; refunds with 100, 101 (WithManualRefunds or
//     SetManualRefunds; settle with CompleteRefund or FailRefund), 104 (a
//     reused refund_transaction_id), 110 (WithPartialRefunds(false)) and 49
//     (not refundable, or more than what is left).
//   - getpos, installments, and sub-merchant add, edit, list (GET with a
//     body) and delete.
//   - The sale webhook: form fields posted to the URL registered under the
//     sale's webhook key, with a valid hash_key, for every decided sale,
//     retried with backoff until a 2xx (WithWebhookRetries).
//
// # Playing the customer and the faults
//
// Pay, Decline and Expire take paykit's payment id (the invoice id). A
// non-secure sale is decided when it is made; Pay on an approved sale only
// sends its webhook again, and Decline and Expire act on CardPending sales.
// InjectFault makes the next requests to a path fail before acting (500),
// lose the answer after acting (502), answer late, answer 401, or answer
// garbage after acting; SetWebhookFaults drops, duplicates or delays
// webhooks; RevokeTokens expires every token. Calls, TokenRequests,
// Charges, Transaction, Deliveries and SubMerchants let tests look inside.
//
// Webhook URLs may contain "{invoice_id}" (a simulator convenience) so that
// a test can give every payment its own URL. The simulator keeps cards only
// masked.
package veparasim
