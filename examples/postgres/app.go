package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/bunstore"
)

// app is the wired shop: one database for the shop's tables and paykit's,
// the shared Service, and the routes.
type app struct {
	db       *bun.DB
	sandbox  *sandbox.Provider
	provider string // the provider orders are paid with
	// svc is the Service on the shared store (the *bun.DB): it serves
	// /pay/, runs the sweeper and the dispatcher, and reads payments.
	svc     *payment.Service
	log     *zap.Logger
	handler http.Handler
}

// newApp opens and migrates the database (paykit's tables and the shop's),
// and wires the sandbox, the Service, the subscriber and the routes.
// baseURL is where the server listens, so the sandbox sends its callbacks
// to baseURL/pay/webhooks/sandbox.
func newApp(ctx context.Context, cfg config, baseURL string, logger *zap.Logger) (*app, error) {
	db, err := bunstore.OpenPostgres(cfg.db)
	if err != nil {
		return nil, err
	}
	a := &app{db: db, log: logger}
	if err := a.init(ctx, cfg, baseURL); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) init(ctx context.Context, cfg config, baseURL string) error {
	if err := bunstore.Migrate(ctx, a.db); err != nil {
		return err
	}
	if err := migrateShop(ctx, a.db); err != nil {
		return err
	}
	sb, err := sandbox.New(sandbox.WithLogger(a.log))
	if err != nil {
		return err
	}
	a.sandbox, a.provider = sb, sb.Name()

	store, err := bunstore.New(a.db)
	if err != nil {
		return err
	}
	svc, err := payment.New(store,
		payment.WithProvider(sb),
		payment.WithLogger(a.log),
		payment.WithWebhookBaseURL(baseURL+"/pay"),
		payment.WithSubscriber(a.onPaymentEvent),
	)
	if err != nil {
		return err
	}
	a.svc = svc

	api, err := httpx.NewHandler(svc, httpx.WithAPIKeys(cfg.apiKey), httpx.WithLogger(a.log))
	if err != nil {
		return fmt.Errorf("paykit API: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", a.postOrder)
	mux.HandleFunc("GET /orders/{id}", a.getOrder)
	mux.Handle("/pay/", http.StripPrefix("/pay", api))
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", sb.ActionsHandler()))
	a.handler = mux
	return nil
}

// close stops the sandbox's callback retries and closes the database.
func (a *app) close() {
	if a.sandbox != nil {
		_ = a.sandbox.Close()
	}
	_ = a.db.Close()
}
