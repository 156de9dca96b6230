package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// server is a running quickstart on a random loopback port.
type server struct {
	base string
	key  string
	stop func()
}

func start(t *testing.T, db string) *server {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	cfg := config{addr: ln.Addr().String(), apiKey: "sk_test_quickstart", db: db}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, base, zap.NewNop())
	require.NoError(t, err)
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	runDone := make(chan error, 1)
	go func() { runDone <- a.svc.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		shutdownCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(shutdownCtx)
		cancel()
		require.NoError(t, <-runDone)
		a.close()
	}
	t.Cleanup(stop)
	return &server{base: base, key: cfg.apiKey, stop: stop}
}

// call sends a request and decodes the JSON answer.
func (s *server) call(t *testing.T, method, path, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if strings.HasPrefix(path, "/pay/") {
		req.Header.Set("X-API-Key", s.key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	}
	return resp.StatusCode, out
}

// TestReadmeSession runs the README's curl session: a QR checkout, the
// customer pays (the sandbox's signed webhook comes back over HTTP), read,
// partial refund, events.
func TestReadmeSession(t *testing.T) {
	s := start(t, "memory")
	checkout := `{"provider":"sandbox","method":"qr","order_id":"demo-1","amount":100000,"currency":"THB"}`
	code, p := s.call(t, "POST", "/pay/checkout", checkout, "Idempotency-Key", "demo-1")
	require.Equal(t, http.StatusCreated, code, "%v", p)
	require.Equal(t, "requires_action", p["status"])
	id := p["id"].(string)

	code, again := s.call(t, "POST", "/pay/checkout", checkout, "Idempotency-Key", "demo-1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, id, again["id"], "idempotent replay")

	code, paid := s.call(t, "POST", "/sandbox/payments/"+id+"/pay", "")
	require.Equal(t, http.StatusOK, code, "%v", paid)
	require.Equal(t, "succeeded", paid["status"], "the webhook came back and was applied")

	code, got := s.call(t, "GET", "/pay/payments/"+id, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "succeeded", got["status"])

	code, r := s.call(t, "POST", "/pay/payments/"+id+"/refunds", `{"amount":25000,"reason":"one item returned"}`)
	require.Equal(t, http.StatusCreated, code, "%v", r)
	require.Equal(t, "succeeded", r["status"])

	code, evs := s.call(t, "GET", "/pay/payments/"+id+"/events", "")
	require.Equal(t, http.StatusOK, code)
	var types []string
	for _, e := range evs["data"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	require.Equal(t, []string{
		string(payment.EventPaymentCreated), string(payment.EventPaymentRequiresAction), string(payment.EventPaymentSucceeded),
		string(payment.EventRefundCreated), string(payment.EventRefundSucceeded), string(payment.EventPaymentPartiallyRefunded),
	}, types)
}

// TestPaymentsSurviveRestart: with the default SQLite store, a payment made
// before a restart is there after it.
func TestPaymentsSurviveRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "paykit-quickstart.db")
	s := start(t, db)
	code, p := s.call(t, "POST", "/pay/checkout", `{"provider":"sandbox","method":"qr","order_id":"keep-1","amount":5000,"currency":"THB"}`)
	require.Equal(t, http.StatusCreated, code, "%v", p)
	id := p["id"].(string)
	s.stop()

	s2 := start(t, db)
	code, got := s2.call(t, "GET", "/pay/payments/"+id, "")
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, "requires_action", got["status"])
}
