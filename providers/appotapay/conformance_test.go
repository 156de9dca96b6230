package appotapay_test

import (
	"context"
	"testing"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
	"github.com/paykit/paykit/providers/providertest"
)

// The conformance suite runs against the simulator for the gateway flows
// (the ones AppotaPay announces with an IPN): QR over a virtual account and
// cards on the hosted page. A declined checkout is a linked wallet without
// money. Linked-wallet payments send no IPN, so the suite's Pay contract
// (which returns the callback) does not apply to them; the tests above
// cover them.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, method := range []payment.Method{payment.MethodQR, payment.MethodCard} {
		t.Run(string(method), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			providertest.Run(t, providertest.Harness{
				Provider: b.p,
				Checkout: func(testing.TB) *payment.StartRequest {
					return b.gatewayCheckout(method, 100_000)
				},
				Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
					if err := b.sim.Pay(ctx, p.ID); err != nil {
						return nil, err
					}
					return b.rec.Next(ctx, p.ID)
				},
				Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
					// The gateway announces only successes: the suite syncs.
					return nil, b.sim.Decline(ctx, p.ID)
				},
				DeclinedCheckout: func(testing.TB) *payment.StartRequest {
					return walletCheckout(appotapaysim.WalletTokenEmpty, 100_000)
				},
				Charges: func(p *payment.Payment) int { return b.sim.Charges(p.ID) },
			})
		})
	}
}
