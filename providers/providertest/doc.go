// Package providertest is the conformance suite every paykit Provider must
// pass against its simulator (or against the sandbox).
//
// # Using it
//
// A provider package adds one test that fills a [Harness] and calls [Run]:
//
//	func TestConformance(t *testing.T) {
//		sim := villasim.New()
//		srv := httptest.NewServer(sim)
//		t.Cleanup(srv.Close)
//		rec := providertest.NewRecorder(t) // captures the simulator's callbacks
//		p, err := villa.New(cfg, villa.WithBaseURL(srv.URL))
//		require.NoError(t, err)
//		providertest.Run(t, providertest.Harness{
//			Provider: p,
//			Checkout: func(t testing.TB) *payment.StartRequest {
//				req := providertest.NewStartRequest(p.Name(), payment.MethodQR, 10000, "THB")
//				req.NotifyURL = rec.URLFor(req.Payment.ID)
//				return req
//			},
//			Pay: func(ctx context.Context, pay *payment.Payment) (*payment.WebhookRequest, error) {
//				if err := sim.Pay(ctx, pay.ID); err != nil {
//					return nil, err
//				}
//				return rec.Next(ctx, pay.ID)
//			},
//			Decline: func(ctx context.Context, pay *payment.Payment) (*payment.WebhookRequest, error) {
//				if err := sim.Decline(ctx, pay.ID); err != nil {
//					return nil, err
//				}
//				return rec.Next(ctx, pay.ID)
//			},
//		})
//	}
//
// Checkout must return a request for a new payment each time it is called:
// [NewStartRequest] makes one with a fresh "pay_" id, order id and
// idempotency key. The payment passed to Pay and Decline is the suite's
// record of it after Start: Status, ProviderReference, NextAction and
// ExpiresAt are filled from the provider's answer, as the Service would.
//
// # What it checks
//
// Every subtest names the contract it checks, and every failure message
// names the contract that was broken:
//
//   - Describe: Name, Methods and Currencies are set and cover the checkout.
//   - Start: a checkout starts with a valid, non-failed status, a provider
//     reference, and a usable next action when it requires action.
//   - StartIdempotent: starting the same request twice (and concurrently)
//     gives the same provider reference and, when [Harness.Charges] is set,
//     one charge.
//   - Pay: the callback the simulator sends after the customer pays parses
//     into an event with a Key, that identifies the payment, with status
//     succeeded (authorized for capture_method manual) and the payment's
//     amount when it reports one; Sync (for a payment.Syncer) agrees.
//   - Decline: a declined payment is reported failed, by callback or Sync;
//     a [Harness.DeclinedCheckout] is failed by Start itself.
//   - Refund (for a payment.Refunder): a partial refund, its retry, and the
//     rest; a refund beyond what was captured is refused.
//   - TamperedWebhook: a one-byte change of the body (a letter or digit
//     changed to another, at up to 48 places; changes that break the JSON
//     syntax are left to GarbageWebhook) must be rejected with an error
//     wrapping payment.ErrInvalidSignature, or, for a byte the vendor's
//     scheme does not sign, parse to exactly the same events; at least one
//     change must be rejected unless [Harness.UnsignedBody]. A one-bit
//     change of every header and query parameter whose name contains
//     "sign", and the removal of such a header, must be rejected with
//     payment.ErrInvalidSignature. Verify before you validate: a provider
//     that reports a missing field before checking the signature fails here.
//   - DuplicateWebhook: the same callback parses to the same event keys.
//   - GarbageWebhook: ParseWebhook never panics and returns an error on
//     empty, random and truncated bodies.
//
// Optional capabilities the provider does not implement are skipped. The
// subtests run one after another, so Harness functions need not be safe
// for concurrent use (Provider must be).
//
// # Helpers
//
// [NewStartRequest] and [NewID] make fresh paykit-shaped requests and ids.
// [Recorder] is an HTTP endpoint that captures a simulator's callbacks per
// payment. [FuzzParseWebhook] turns genuine callbacks into a fuzz target:
//
//	func FuzzParseWebhook(f *testing.F) {
//		providertest.FuzzParseWebhook(f, provider, sampleCallback)
//	}
package providertest
