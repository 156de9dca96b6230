package payplus_test

import (
	"context"
	"testing"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, method := range []payment.Method{payment.MethodQR, payment.MethodBankTransfer} {
		t.Run(string(method), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			providertest.Run(t, providertest.Harness{
				Provider: e.p,
				Checkout: func(t testing.TB) *payment.StartRequest { return e.checkout(t, method, 100000) },
				Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
					if err := e.sim.Pay(ctx, p.ID); err != nil {
						return nil, err
					}
					return e.rec.Next(ctx, p.ID)
				},
				Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
					if err := e.sim.Decline(ctx, p.ID); err != nil {
						return nil, err
					}
					return e.rec.Next(ctx, p.ID)
				},
				Charges: func(p *payment.Payment) int { return e.sim.Charges(p.ID) },
			})
		})
	}
}
