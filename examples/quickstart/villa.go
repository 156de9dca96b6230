package main

import (
	"net/http/httptest"
	"os"

	"go.uber.org/zap"

	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

// Demo credentials of the in-process Villa simulator.
const (
	villaDemoAPIKey        = villasim.DefaultAPIKey
	villaDemoWebhookSecret = "whsec_villa_quickstart_demo" //nolint:gosec // G101: the in-process simulator's demo secret
)

// addVilla registers villa: against PAYKIT_VILLA_BASE_URL when set (with
// PAYKIT_VILLA_API_KEY and, when set, PAYKIT_VILLA_WEBHOOK_SECRET),
// otherwise against an in-process simulator. Demo card tokens
// ("payment_token"): tokn_test_ok charges at once, tokn_test_declined is
// declined, any other tokn_... waits for 3-D Secure until /sandbox/.../pay.
func addVilla(r *registry, _ string, logger *zap.Logger) error {
	if base := os.Getenv("PAYKIT_VILLA_BASE_URL"); base != "" {
		p, err := villa.New(villa.Config{
			APIKey:        os.Getenv("PAYKIT_VILLA_API_KEY"),
			WebhookSecret: os.Getenv("PAYKIT_VILLA_WEBHOOK_SECRET"),
		}, villa.WithBaseURL(base), villa.WithLogger(logger))
		if err != nil {
			return err
		}
		r.add(p, nil)
		return nil
	}
	sim := villasim.New(villasim.WithAPIKey(villaDemoAPIKey), villasim.WithWebhookSecret(villaDemoWebhookSecret),
		villasim.WithReusableTokens())
	srv := httptest.NewServer(sim)
	r.closers = append(r.closers, srv.Close, sim.Close)
	p, err := villa.New(villa.Config{APIKey: villaDemoAPIKey, WebhookSecret: villaDemoWebhookSecret},
		villa.WithBaseURL(srv.URL), villa.WithLogger(logger))
	if err != nil {
		return err
	}
	r.add(p, sim)
	return nil
}
