package villa_test

import (
	"context"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

// TestConformance runs providertest against villasim: every method, both
// flavors, with and without webhook signatures.
func TestConformance(t *testing.T) {
	const secret = "whsec_conformance"
	cases := []struct {
		name   string
		method payment.Method
		flavor villa.Flavor
		signed bool
	}{
		{"main/qr/unsigned", payment.MethodQR, villa.FlavorMain, false},
		{"main/wechat/signed", payment.MethodWeChat, villa.FlavorMain, true},
		{"main/card/unsigned", payment.MethodCard, villa.FlavorMain, false},
		{"main/card/signed", payment.MethodCard, villa.FlavorMain, true},
		{"payment3/qr/signed", payment.MethodQR, villa.FlavorPayment3, true},
		{"payment3/wechat/unsigned", payment.MethodWeChat, villa.FlavorPayment3, false},
		{"payment3/card/signed", payment.MethodCard, villa.FlavorPayment3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			so := setupOpts{cfg: villa.Config{Flavor: tc.flavor}}
			if tc.signed {
				so.sim = append(so.sim, villasim.WithWebhookSecret(secret))
				so.cfg.WebhookSecret = secret
			}
			var sim *villasim.Server
			if tc.flavor == villa.FlavorPayment3 {
				so.cfg.TokenSource = villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
					return villa.Token{Value: sim.IDToken(time.Hour)}, nil
				})
			}
			e := setup(t, so)
			sim = e.sim
			providertest.Run(t, harness(e, tc.method, tc.signed))
		})
	}
}
