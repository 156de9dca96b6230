package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

const testKey = "sk_test_httpx_0123456789"

// setupConfig is what a test may change about its environment.
type setupConfig struct {
	httpOpts    []httpx.Option
	payOpts     []payment.Option
	sandboxOpts []sandbox.Option
	wrapStore   func(payment.Store) payment.Store
	ownAuth     bool
}

// env is a paykit stack served over HTTP: memstore, the sandbox provider
// (calling back through the webhook route), the Service and the handler
// mounted under /pay/ in a stdlib mux, with every log line observed.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	base  string
	svc   *payment.Service
	sbx   *sandbox.Provider
	store payment.Store
	logs  *observer.ObservedLogs
	h     http.Handler
}

func setup(t testing.TB, configure ...func(*setupConfig)) *env {
	t.Helper()
	var cfg setupConfig
	for _, c := range configure {
		c(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(core)

	e := &env{t: t, logs: logs}
	var handler atomic.Pointer[http.Handler]
	mux := http.NewServeMux()
	mux.Handle("/pay/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/pay"

	sbxOpts := append([]sandbox.Option{
		sandbox.WithQRImage(false),
		sandbox.WithLogger(logger),
		sandbox.WithHTTPClient(e.srv.Client()),
		sandbox.WithOpeningBalance("THB", 10_000_000),
		sandbox.WithDeliveryRetry(1, time.Millisecond),
	}, cfg.sandboxOpts...)
	sbx, err := sandbox.New(sbxOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sbx.Close() })
	e.sbx = sbx

	var store payment.Store = memstore.New()
	if cfg.wrapStore != nil {
		store = cfg.wrapStore(store)
	}
	e.store = store
	payOpts := append([]payment.Option{
		payment.WithProvider(sbx),
		payment.WithLogger(logger),
		payment.WithWebhookBaseURL(e.base),
	}, cfg.payOpts...)
	svc, err := payment.New(store, payOpts...)
	require.NoError(t, err)
	e.svc = svc

	httpOpts := []httpx.Option{httpx.WithLogger(logger)}
	if !cfg.ownAuth {
		httpOpts = append(httpOpts, httpx.WithAPIKeys(testKey))
	}
	httpOpts = append(httpOpts, cfg.httpOpts...)
	h, err := httpx.NewHandler(svc, httpOpts...)
	require.NoError(t, err)
	e.h = http.StripPrefix("/pay", h)
	handler.Store(&e.h)
	return e
}

// withHTTP adds handler options.
func withHTTP(opts ...httpx.Option) func(*setupConfig) {
	return func(c *setupConfig) { c.httpOpts = append(c.httpOpts, opts...) }
}

// withOwnAuth adds handler options that make the authentication decision.
func withOwnAuth(opts ...httpx.Option) func(*setupConfig) {
	return func(c *setupConfig) {
		c.ownAuth = true
		c.httpOpts = append(c.httpOpts, opts...)
	}
}

// withPayment adds Service options.
func withPayment(opts ...payment.Option) func(*setupConfig) {
	return func(c *setupConfig) { c.payOpts = append(c.payOpts, opts...) }
}

// withStore wraps the memstore.
func withStore(wrap func(payment.Store) payment.Store) func(*setupConfig) {
	return func(c *setupConfig) { c.wrapStore = wrap }
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

func (r *response) payment(t testing.TB) *payment.Payment {
	t.Helper()
	var p payment.Payment
	r.decode(t, &p)
	return &p
}

// errorBody is the error envelope as a client sees it.
type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details"`
	} `json:"error"`
}

// requireError checks an error response: status, code, and details.field
// when field is not empty.
func (r *response) requireError(t testing.TB, status int, code, field string) errorBody {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var eb errorBody
	r.decode(t, &eb)
	require.Equal(t, code, eb.Error.Code, "body: %s", r.Body)
	require.NotEmpty(t, eb.Error.Message)
	if field != "" {
		require.Equal(t, field, eb.Error.Details["field"], "body: %s", r.Body)
	}
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))
	return eb
}

// req is a request to send.
type req struct {
	method string
	path   string
	body   any // string and []byte are sent as they are; others as JSON
	header http.Header
	noKey  bool
}

// do sends rq to the handler under /pay and reads the whole response.
func (e *env) do(rq req) *response {
	e.t.Helper()
	r, err := e.send(context.Background(), rq)
	require.NoError(e.t, err)
	return r
}

// send is do for goroutines other than the test's: it returns its error.
func (e *env) send(ctx context.Context, rq req) (*response, error) {
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequestWithContext(ctx, rq.method, e.base+rq.path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if !rq.noKey {
		r.Header.Set("X-API-Key", testKey)
	}
	for k, vs := range rq.header {
		r.Header.Del(k)
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// hdr builds a header from key, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// qrCheckout is a valid QR checkout body for order.
func qrCheckout(order string, amount int64) map[string]any {
	return map[string]any{
		"provider": "sandbox", "method": "qr", "order_id": order,
		"amount": amount, "currency": "THB", "description": "Order " + order,
		"metadata": map[string]string{"cart": "c_991"},
	}
}

// cardCheckout is a valid card checkout body.
func cardCheckout(order, number string) map[string]any {
	return map[string]any{
		"provider": "sandbox", "method": "card", "order_id": order,
		"amount": 100000, "currency": "THB",
		"card": map[string]any{
			"number": number, "expiry_month": 12, "expiry_year": 2099, "cvv": "123", "holder_name": "John Doe",
		},
	}
}

// checkout creates a payment and requires 201.
func (e *env) checkout(body map[string]any) *payment.Payment {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/checkout", body: body})
	require.Equal(e.t, http.StatusCreated, r.Status, "body: %s", r.Body)
	return r.payment(e.t)
}

// paidPayment returns a succeeded QR payment of amount.
func (e *env) paidPayment(order string, amount int64) *payment.Payment {
	e.t.Helper()
	p := e.checkout(qrCheckout(order, amount))
	require.NoError(e.t, e.sbx.Pay(context.Background(), p.ID))
	r := e.do(req{method: "GET", path: "/payments/" + p.ID})
	require.Equal(e.t, http.StatusOK, r.Status)
	got := r.payment(e.t)
	require.Equal(e.t, payment.StatusSucceeded, got.Status, "the sandbox's callback went through the webhook route")
	return got
}

// countingStore counts the Store calls that write, and can be told to
// fail every call with an error.
type countingStore struct {
	payment.Store
	writes      atomic.Int64
	idempotency atomic.Int64
	mu          sync.Mutex
	fail        error
}

func (s *countingStore) failWith(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *countingStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail
}

func (s *countingStore) write() error {
	s.writes.Add(1)
	return s.err()
}

func (s *countingStore) CreatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	if err := s.write(); err != nil {
		return err
	}
	return s.Store.CreatePayment(ctx, p, evs)
}

func (s *countingStore) UpdatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	if err := s.write(); err != nil {
		return err
	}
	return s.Store.UpdatePayment(ctx, p, evs)
}

func (s *countingStore) AppendEvents(ctx context.Context, evs []payment.Event) error {
	if err := s.write(); err != nil {
		return err
	}
	return s.Store.AppendEvents(ctx, evs)
}

func (s *countingStore) RecordInbox(ctx context.Context, m *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	if err := s.write(); err != nil {
		return nil, false, err
	}
	return s.Store.RecordInbox(ctx, m)
}

func (s *countingStore) UpdateInbox(ctx context.Context, m *payment.InboxMessage) error {
	if err := s.write(); err != nil {
		return err
	}
	return s.Store.UpdateInbox(ctx, m)
}

func (s *countingStore) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.GetPayment(ctx, id)
}

func (s *countingStore) AcquireIdempotencyKey(ctx context.Context, rec *payment.IdempotencyRecord, now time.Time) (*payment.IdempotencyRecord, bool, error) {
	s.idempotency.Add(1)
	if err := s.write(); err != nil {
		return nil, false, err
	}
	return s.Store.AcquireIdempotencyKey(ctx, rec, now)
}
