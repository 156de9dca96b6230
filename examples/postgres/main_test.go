package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykit/paykit/internal/pgtest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/bunstore"
)

// testServer is the PostgreSQL server of this run (its maintenance
// database), checked once by TestMain; serverErr says why it cannot be
// used. Each test creates a database of its own on it.
var testServer struct {
	url string
	err error
}

func TestMain(m *testing.M) {
	testServer.url = pgtest.ServerURL()
	testServer.err = pingServer(testServer.url)
	os.Exit(m.Run())
}

func pingServer(server string) error {
	db, err := bunstore.OpenPostgres(server)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// freshDatabase creates a database of the test's own,
// paykit_example_<random>, drops it at cleanup, and returns its URL. The
// example migrates it itself. Without a server the test is skipped, or
// fails when CI is set: a suite that skips in CI proves nothing.
func freshDatabase(t testing.TB) string {
	t.Helper()
	if testServer.err != nil {
		pgtest.SkipOrFail(t, testServer.err)
	}
	name := "paykit_example_" + strings.ToLower(rand.Text()[:16])
	admin, err := bunstore.OpenPostgres(testServer.url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(testServer.url)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// openDB opens the test's database for direct checks, closed at cleanup.
func openDB(t testing.TB, dbURL string) *bun.DB {
	t.Helper()
	db, err := bunstore.OpenPostgres(dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// server is the example running on a random loopback port, with its Run
// loop, as main runs it.
type server struct {
	base string
	key  string
	app  *app
	stop func()
}

func start(t testing.TB, dbURL string) *server {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	cfg := config{db: dbURL, addr: ln.Addr().String(), apiKey: "sk_test_postgres"}
	a, err := newApp(t.Context(), cfg, base, zap.NewNop())
	if err != nil {
		_ = ln.Close()
	}
	require.NoError(t, err)
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	runCtx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- a.svc.Run(runCtx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = srv.Shutdown(ctx)
			cancel()
			require.NoError(t, <-runDone)
			a.close()
		})
	}
	t.Cleanup(stop)
	return &server{base: base, key: cfg.apiKey, app: a, stop: stop}
}

// call sends a request and decodes the JSON answer.
func (s *server) call(t testing.TB, method, path, body string) (int, map[string]any) {
	t.Helper()
	code, out, err := s.do(t.Context(), method, path, body)
	require.NoError(t, err)
	return code, out
}

// do is call without a testing.TB, for conditions polled off the test's
// goroutine.
func (s *server) do(ctx context.Context, method, path, body string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if strings.HasPrefix(path, "/pay/") {
		req.Header.Set("X-API-Key", s.key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			return 0, nil, fmt.Errorf("body %s: %w", raw, err)
		}
	}
	return resp.StatusCode, out, nil
}

// postOrder creates an order and returns its id and its payment's id.
func (s *server) postOrder(t testing.TB, body string) (string, string) {
	t.Helper()
	code, o := s.call(t, http.MethodPost, "/orders", body)
	require.Equal(t, http.StatusCreated, code, "%v", o)
	id, ok := o["id"].(json.Number)
	require.True(t, ok, "order id in %v", o)
	pid, ok := o["payment_id"].(string)
	require.True(t, ok, "payment id in %v", o)
	return id.String(), pid
}

// count counts the rows of table matching where.
func count(t testing.TB, db bun.IDB, table, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM "+table+" WHERE "+where, args...).Scan(t.Context(), &n))
	return n
}

// requireNothingStored checks that no order and no payment, event or
// notification exists.
func requireNothingStored(t testing.TB, db bun.IDB) {
	t.Helper()
	for _, table := range []string{"orders", "paykit_payments", "paykit_events", "paykit_outbox", "paykit_idempotency_keys"} {
		require.Zero(t, count(t, db, table, "true"), "%s must be empty", table)
	}
}

func field(t testing.TB, m map[string]any, path ...string) any {
	t.Helper()
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		require.True(t, ok, "%s in %v", k, m)
		v = obj[k]
	}
	return v
}

// The order and its payment commit together: the order holds the payment
// id, paykit holds a payment for the order with its created event and
// notification, and GET /orders/{id} shows the payment's status, also
// after a restart.
func TestOrderAndPaymentCommitTogether(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)

	code, o := s.call(t, http.MethodPost, "/orders", `{"amount":25000,"currency":"THB","method":"qr"}`)
	require.Equal(t, http.StatusCreated, code, "%v", o)
	require.Equal(t, statusAwaitingPayment, o["status"])
	require.Equal(t, json.Number("25000"), o["amount"])
	require.Equal(t, "THB", o["currency"])
	id := o["id"].(json.Number).String()
	pid := o["payment_id"].(string)
	require.True(t, strings.HasPrefix(pid, payment.PrefixPayment), pid)
	require.Equal(t, pid, field(t, o, "payment", "id"))
	require.Equal(t, string(payment.StatusRequiresAction), field(t, o, "payment", "status"))
	require.Equal(t, "order-"+id, field(t, o, "payment", "order_id"))
	require.Equal(t, "display_qr", field(t, o, "payment", "next_action", "type"), "the QR code to show")

	require.Equal(t, 1, count(t, db, "orders", "id = ? AND payment_id = ? AND status = ?", id, pid, statusAwaitingPayment))
	require.Equal(t, 1, count(t, db, "paykit_payments", "id = ? AND order_id = ? AND amount = 25000 AND currency = 'THB'", pid, "order-"+id))
	require.Equal(t, 2, count(t, db, "paykit_events", "object_id = ?", pid), "payment.created and payment.requires_action")
	require.Equal(t, 1, s.app.sandbox.ChargesFor(pid), "one charge at the provider")

	code, got := s.call(t, http.MethodGet, "/orders/"+id, "")
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, pid, got["payment_id"])
	require.Equal(t, string(payment.StatusRequiresAction), field(t, got, "payment", "status"))

	code, p := s.call(t, http.MethodGet, "/pay/payments/"+pid, "")
	require.Equal(t, http.StatusOK, code, "the payment is paykit's, served under /pay/: %v", p)
	require.Equal(t, "order-"+id, p["order_id"])

	// A second order gets its own payment.
	id2, pid2 := s.postOrder(t, `{"amount":100,"currency":"USD","method":"qr"}`)
	require.NotEqual(t, id, id2)
	require.NotEqual(t, pid, pid2)

	// Restarted on the same database (migrations run again), the order
	// and its payment are there.
	s.stop()
	s2 := start(t, dbURL)
	code, got = s2.call(t, http.MethodGet, "/orders/"+id, "")
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, pid, field(t, got, "payment", "id"))
}

// A payment that cannot be created (the provider does not take the
// method or the currency) rolls the order back: nothing is stored.
func TestRefusedPaymentRollsBackOrder(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)

	for _, tc := range []struct {
		name, body, field string
	}{
		{"card without card data", `{"amount":25000,"currency":"THB","method":"card"}`, "card"},
		{"currency the sandbox lacks", `{"amount":25000,"currency":"JPY","method":"qr"}`, "currency"},
		{"unknown method", `{"amount":25000,"currency":"THB","method":"cash"}`, "method"},
	} {
		code, out := s.call(t, http.MethodPost, "/orders", tc.body)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", tc.name, out)
		require.Contains(t, []any{"INVALID_INPUT", "MISSING_FIELD"}, field(t, out, "error", "code"), tc.name)
		require.Contains(t, field(t, out, "error", "details", "field"), tc.field, tc.name)
	}
	requireNothingStored(t, db)
	require.Zero(t, s.app.sandbox.Charges(), "nothing reached the provider")
}

// A failure after the payment was inserted (here the shop's own
// constraint refuses the order's update) rolls back both: no order, no
// payment, no event, no notification.
func TestFailureAfterPaymentRollsBackBoth(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)
	_, err := db.ExecContext(t.Context(),
		"ALTER TABLE orders ADD CONSTRAINT test_refuse_payment CHECK (payment_id IS NULL OR amount <> 13013)")
	require.NoError(t, err)

	code, out := s.call(t, http.MethodPost, "/orders", `{"amount":13013,"currency":"THB","method":"qr"}`)
	require.Equal(t, http.StatusInternalServerError, code, "%v", out)
	require.Equal(t, "INTERNAL_ERROR", field(t, out, "error", "code"))
	require.NotContains(t, fmt.Sprint(out), "test_refuse_payment", "nothing internal in the answer")

	requireNothingStored(t, db)
	// The provider was called inside the transaction: it started a
	// payment paykit no longer has (see createOrder). Nobody saw its QR
	// code.
	require.Equal(t, 1, s.app.sandbox.Charges())

	// The transaction was rolled back cleanly: the next order goes through.
	id, pid := s.postOrder(t, `{"amount":13014,"currency":"THB","method":"qr"}`)
	require.Equal(t, 1, count(t, db, "orders", "true"))
	require.Equal(t, 1, count(t, db, "paykit_payments", "id = ? AND order_id = ?", pid, "order-"+id))
}

// The customer pays through the sandbox: its signed callback reaches
// /pay/webhooks/sandbox, paykit records the success, and the subscriber
// marks the order paid (once). A declined or expired payment leaves the
// order unpaid.
func TestCustomerOutcomeReachesOrder(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)

	for _, tc := range []struct {
		action        string
		paymentStatus payment.Status
		orderStatus   string
		event         payment.EventType
	}{
		{"pay", payment.StatusSucceeded, statusPaid, payment.EventPaymentSucceeded},
		{"decline", payment.StatusFailed, statusUnpaid, payment.EventPaymentFailed},
		{"expire", payment.StatusExpired, statusUnpaid, payment.EventPaymentExpired},
	} {
		id, pid := s.postOrder(t, `{"amount":50000,"currency":"THB","method":"qr"}`)
		code, out := s.call(t, http.MethodPost, "/sandbox/payments/"+pid+"/"+tc.action, "")
		require.Equal(t, http.StatusOK, code, "%s: %v", tc.action, out)

		require.Eventually(t, func() bool {
			code, got, err := s.do(t.Context(), http.MethodGet, "/orders/"+id, "")
			return err == nil && code == http.StatusOK && got["status"] == tc.orderStatus
		}, 10*time.Second, 20*time.Millisecond, "%s: the order becomes %s", tc.action, tc.orderStatus)
		code, got := s.call(t, http.MethodGet, "/orders/"+id, "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, tc.orderStatus, got["status"], tc.action)
		require.Equal(t, string(tc.paymentStatus), field(t, got, "payment", "status"), tc.action)
		require.Equal(t, 1, count(t, db, "order_payment_events", "order_id = ? AND type = ?", id, string(tc.event)),
			"%s: the subscriber applied %s once", tc.action, tc.event)
	}
}

// The subscriber applies an event once, however often it is delivered
// and by however many instances at a time; events of payments that are no
// order's are ignored.
func TestSubscriberIsIdempotent(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)
	ctx := t.Context()

	id, pid := s.postOrder(t, `{"amount":7000,"currency":"THB","method":"qr"}`)
	ev := payment.Event{
		Object: "event", ID: "evt_test_" + rand.Text(), Type: payment.EventPaymentSucceeded,
		ObjectID: pid, PaymentID: pid, From: string(payment.StatusRequiresAction), To: string(payment.StatusSucceeded),
		Source: payment.SourceWebhook, CreatedAt: time.Now().UTC(),
	}
	// Concurrent deliveries of one event: each succeeds, one applies it.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.app.onPaymentEvent(ctx, ev)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, count(t, db, "orders", "id = ? AND status = ?", id, statusPaid))
	require.Equal(t, 1, count(t, db, "order_payment_events", "event_id = ?", ev.ID))

	// Put the order back by hand: a redelivery of the same event must not
	// apply it again (the event id stops it, not the order's status); a
	// new event does.
	_, err := db.ExecContext(ctx, "UPDATE orders SET status = ? WHERE id = ?", statusAwaitingPayment, id)
	require.NoError(t, err)
	require.NoError(t, s.app.onPaymentEvent(ctx, ev))
	require.Equal(t, 1, count(t, db, "orders", "id = ? AND status = ?", id, statusAwaitingPayment))
	again := ev
	again.ID = "evt_test_" + rand.Text()
	require.NoError(t, s.app.onPaymentEvent(ctx, again))
	require.Equal(t, 1, count(t, db, "orders", "id = ? AND status = ?", id, statusPaid))

	// A failure after success does not unpay the order.
	failed := ev
	failed.ID, failed.Type, failed.To = "evt_test_"+rand.Text(), payment.EventPaymentFailed, string(payment.StatusFailed)
	require.NoError(t, s.app.onPaymentEvent(ctx, failed))
	require.Equal(t, 1, count(t, db, "orders", "id = ? AND status = ?", id, statusPaid))

	// Another payment's event, and an event that is no payment outcome:
	// nothing.
	other := ev
	other.ID, other.PaymentID, other.ObjectID = "evt_test_"+rand.Text(), "pay_not_an_order", "pay_not_an_order"
	require.NoError(t, s.app.onPaymentEvent(ctx, other))
	created := ev
	created.ID, created.Type = "evt_test_"+rand.Text(), payment.EventPaymentCreated
	require.NoError(t, s.app.onPaymentEvent(ctx, created))
	require.Zero(t, count(t, db, "order_payment_events", "event_id IN (?, ?)", other.ID, created.ID))
}

// Bad requests are refused before anything is written.
func TestInvalidOrders(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)
	db := openDB(t, dbURL)

	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"empty body", ``, "INVALID_INPUT", ""},
		{"not JSON", `amount=1`, "INVALID_INPUT", ""},
		{"two objects", `{"amount":1,"currency":"THB","method":"qr"}{}`, "INVALID_INPUT", ""},
		{"unknown field", `{"amount":1,"currency":"THB","method":"qr","card":{}}`, "INVALID_INPUT", ""},
		{"fractional amount", `{"amount":250.5,"currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"exponent amount", `{"amount":1e3,"currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"amount as string", `{"amount":"100","currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"amount beyond int64", `{"amount":9223372036854775808,"currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"zero amount", `{"amount":0,"currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"negative amount", `{"amount":-100,"currency":"THB","method":"qr"}`, "INVALID_INPUT", "amount"},
		{"missing currency", `{"amount":100,"method":"qr"}`, "MISSING_FIELD", "currency"},
		{"lower-case currency", `{"amount":100,"currency":"thb","method":"qr"}`, "INVALID_INPUT", "currency"},
		{"missing method", `{"amount":100,"currency":"THB"}`, "MISSING_FIELD", "method"},
	} {
		code, out := s.call(t, http.MethodPost, "/orders", tc.body)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", tc.name, out)
		require.Equal(t, tc.code, field(t, out, "error", "code"), tc.name)
		if tc.field != "" {
			require.Equal(t, tc.field, field(t, out, "error", "details", "field"), tc.name)
		}
	}

	big := `{"amount":100,"currency":"THB","method":"qr","x":"` + strings.Repeat("a", maxOrderBody) + `"}`
	code, out := s.call(t, http.MethodPost, "/orders", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "%v", out)

	for _, path := range []string{"/orders/1", "/orders/0", "/orders/-1", "/orders/abc", "/orders/99999999999999999999"} {
		code, out := s.call(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusNotFound, code, "%s: %v", path, out)
		require.Equal(t, "NOT_FOUND", field(t, out, "error", "code"), path)
	}
	requireNothingStored(t, db)
}

// paykit's API is mounted under /pay/ behind the API key.
func TestPaykitAPIMounted(t *testing.T) {
	t.Parallel()
	dbURL := freshDatabase(t)
	s := start(t, dbURL)

	code, out := s.call(t, http.MethodGet, "/pay/providers", "")
	require.Equal(t, http.StatusOK, code, "%v", out)
	data, ok := out["data"].([]any)
	require.True(t, ok, "%v", out)
	require.Len(t, data, 1)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base+"/pay/providers", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no API key")
}

// A database that cannot be reached makes newApp fail with paykit's
// ErrUnavailable, without hanging.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cfg := config{db: "postgres://postgres@" + addr + "/postgres?sslmode=disable", apiKey: "sk_test_postgres"}
	_, err = newApp(ctx, cfg, "http://127.0.0.1:1", zap.NewNop())
	require.ErrorIs(t, err, payment.ErrUnavailable)
	require.True(t, unavailable(err))

	_, err = newApp(ctx, config{db: "mysql://x", apiKey: "k"}, "http://127.0.0.1:1", zap.NewNop())
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}
