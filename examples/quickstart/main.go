// Command quickstart runs paykit with no services needed: an embedded store,
// the sandbox provider and every vendor's simulator in process, the payment
// API under /pay/ and the customer's side (pay, decline, expire) under
// /sandbox/.
//
//	go run ./examples/quickstart [-addr 127.0.0.1:8080] [-api-key sk_test_quickstart] [-db paykit-quickstart.db|memory|postgres://...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	addr   string
	apiKey string
	db     string
}

func run() error {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.StringVar(&cfg.apiKey, "api-key", "sk_test_quickstart", "the API key clients send in X-API-Key")
	flag.StringVar(&cfg.db, "db", "paykit-quickstart.db", `store: a SQLite file path, "memory", or a postgres:// URL`)
	flag.Parse()

	logger, err := zap.NewDevelopment()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	app, err := newApp(ctx, cfg, "http://"+ln.Addr().String(), logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer app.close()

	srv := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	runDone := make(chan error, 1)
	go func() { runDone <- app.svc.Run(ctx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	printUsage(os.Stdout, "http://"+ln.Addr().String(), cfg, app.providers)

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		return err
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-runDone
}

// app is the wired program: the Service, the HTTP handler and what to
// release at the end.
type app struct {
	svc       *payment.Service
	handler   http.Handler
	providers []string
	closers   []func()
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// newApp wires the store, the providers (each against its in-process
// simulator unless the environment names a real server), the Service and
// the routes. baseURL is where this server listens, so providers can send
// their callbacks to /pay/webhooks/{provider}.
func newApp(ctx context.Context, cfg config, baseURL string, logger *zap.Logger) (*app, error) {
	a := &app{}
	store, closeStore, err := openStore(ctx, cfg.db)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeStore)

	reg, err := newRegistry(baseURL, logger)
	if err != nil {
		a.close()
		return nil, err
	}
	a.closers = append(a.closers, reg.close)

	opts := []payment.Option{
		payment.WithLogger(logger),
		payment.WithWebhookBaseURL(baseURL + "/pay"),
		payment.WithSyncAfter(30 * time.Second),
		payment.WithSweepInterval(10 * time.Second),
		payment.WithSubscriber(func(_ context.Context, e payment.Event) error {
			logger.Info("event", zap.String("type", string(e.Type)), zap.String("object_id", e.ObjectID),
				zap.String("from", e.From), zap.String("to", e.To), zap.String("source", string(e.Source)))
			return nil
		}),
	}
	for _, p := range reg.providers {
		opts = append(opts, payment.WithProvider(p))
		a.providers = append(a.providers, p.Name())
	}
	svc, err := payment.New(store, opts...)
	if err != nil {
		a.close()
		return nil, err
	}
	a.svc = svc

	api, err := httpx.NewHandler(svc, httpx.WithAPIKeys(cfg.apiKey), httpx.WithLogger(logger),
		httpx.WithRateLimit(httpx.RateLimit{}))
	if err != nil {
		a.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/pay/", http.StripPrefix("/pay", api))
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", reg.actionsHandler(svc)))
	a.handler = mux
	return a, nil
}
