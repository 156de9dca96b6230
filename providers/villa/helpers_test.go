package villa_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

// env is a provider wired to a simulator and a callback recorder.
type env struct {
	sim *villasim.Server
	srv *httptest.Server
	p   *villa.Provider
	rec *providertest.Recorder
}

type setupOpts struct {
	sim []villasim.Option
	cfg villa.Config
	opt []villa.Option
}

func setup(t testing.TB, so setupOpts) *env {
	t.Helper()
	sim := villasim.New(so.sim...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases hung requests
	cfg := so.cfg
	if cfg.APIKey == "" && cfg.TokenSource == nil {
		cfg.APIKey = villasim.DefaultAPIKey
	}
	opts := append([]villa.Option{villa.WithBaseURL(srv.URL), villa.WithRetry(3, time.Millisecond)}, so.opt...)
	p, err := villa.New(cfg, opts...)
	require.NoError(t, err)
	return &env{sim: sim, srv: srv, p: p, rec: providertest.NewRecorder(t)}
}

// checkout returns a start request whose callbacks reach the recorder.
func (e *env) checkout(method payment.Method, amount int64) *payment.StartRequest {
	req := providertest.NewStartRequest(villa.Name, method, amount, "THB")
	req.NotifyURL = e.rec.URLFor(req.Payment.ID)
	if method == payment.MethodCard {
		req.PaymentToken = villasim.CardToken(villasim.Card3DS)
	}
	return req
}

// start starts a checkout and returns the request and the state.
func (e *env) start(t testing.TB, method payment.Method, amount int64) (*payment.StartRequest, *payment.PaymentState) {
	t.Helper()
	req := e.checkout(method, amount)
	st, err := e.p.Start(t.Context(), req)
	require.NoError(t, err)
	return req, st
}

// next waits for the next callback about id.
func (e *env) next(t testing.TB, id string) *payment.WebhookRequest {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	wr, err := e.rec.Next(ctx, id)
	require.NoError(t, err)
	return wr
}

func harness(e *env, method payment.Method, signed bool) providertest.Harness {
	h := providertest.Harness{
		Provider: e.p,
		Checkout: func(testing.TB) *payment.StartRequest { return e.checkout(method, 123456) },
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
		Charges:      func(p *payment.Payment) int { return e.sim.Charges(p.ID) },
		UnsignedBody: !signed,
	}
	if method == payment.MethodCard {
		h.DeclinedCheckout = func(testing.TB) *payment.StartRequest {
			req := e.checkout(method, 5000)
			req.PaymentToken = villasim.CardToken(villasim.CardDeclined)
			return req
		}
	}
	return h
}
