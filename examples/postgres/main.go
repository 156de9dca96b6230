// Command postgres is a small shop on PostgreSQL that uses paykit as a
// library: its own orders table, an order and its payment created in one
// database transaction, the paykit HTTP API under /pay/, and a subscriber
// that marks an order paid when its payment succeeds.
//
//	go run ./examples/postgres [-db postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable] [-addr 127.0.0.1:8081] [-api-key sk_test_postgres]
//
// Routes:
//
//	POST /orders       {"amount": 25000, "currency": "THB", "method": "qr"}: the order and its payment, one transaction
//	GET  /orders/{id}  the order with its payment
//	/pay/...           paykit's API (X-API-Key), webhooks at /pay/webhooks/{provider}
//	/sandbox/...       the sandbox customer: POST /sandbox/payments/{id}/pay | decline | expire
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "postgres example:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	db     string
	addr   string
	apiKey string
}

func run() error {
	var cfg config
	flag.StringVar(&cfg.db, "db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL")
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "address to listen on")
	flag.StringVar(&cfg.apiKey, "api-key", "sk_test_postgres", "the API key clients send in X-API-Key to /pay/")
	flag.Parse()

	logger, err := zap.NewDevelopment()
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()

	// The first SIGINT or SIGTERM starts a graceful shutdown; a second one
	// kills the process the usual way.
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var lc net.ListenConfig
	ln, err := lc.Listen(sigCtx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	a, err := newApp(sigCtx, cfg, base, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer a.close()

	// Run's context is not the signal's: it ends after the HTTP server
	// has finished its in-flight requests, so what they wrote is still
	// dispatched by this instance.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- a.svc.Run(runCtx) }()

	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	printUsage(os.Stdout, base, cfg)

	select {
	case <-sigCtx.Done():
	case err := <-serveDone:
		stopRun()
		return errors.Join(err, <-runDone)
	}
	stop()
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) && shutdownErr == nil {
		shutdownErr = err
	}
	stopRun()
	if err := <-runDone; err != nil && shutdownErr == nil {
		shutdownErr = err
	}
	return shutdownErr
}

// printUsage tells a new user what is running and how to try it.
func printUsage(w io.Writer, base string, cfg config) {
	fmt.Fprintf(w, `
paykit postgres example is listening on %[1]s
  orders:    POST %[1]s/orders, GET %[1]s/orders/{id}
  paykit:    %[1]s/pay/   (header X-API-Key: %[2]s)
  customer:  POST %[1]s/sandbox/payments/{payment_id}/pay | decline | expire

Try it (bash):

  ORDER=$(curl -s -X POST %[1]s/orders -H 'Content-Type: application/json' \
    -d '{"amount":25000,"currency":"THB","method":"qr"}'); echo "$ORDER"
  ID=$(echo "$ORDER" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
  PAY=$(echo "$ORDER" | grep -o '"payment_id":"pay_[^"]*"' | cut -d'"' -f4)
  curl -s -X POST %[1]s/sandbox/payments/$PAY/pay
  curl -s %[1]s/orders/$ID          # "status": "paid" once the subscriber ran
  curl -s %[1]s/pay/payments/$PAY/events -H 'X-API-Key: %[2]s'

Stop with Ctrl-C.
`, base, cfg.apiKey)
}
