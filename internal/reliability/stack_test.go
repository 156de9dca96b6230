package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
)

const apiKey = "sk_test_reliability_0123456789"

// start is the fake clocks' starting time.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// stackOptions is what a test chooses about its stack.
type stackOptions struct {
	// store is the Store the Service uses (required).
	store payment.Store
	// clock, when set, is the Service's and the sandbox's clock (vendor
	// providers and simulators keep real time).
	clock *paymenttest.Clock
	// wrap, when set, wraps the sandbox into the provider registered as
	// "sandbox" (to inject provider faults).
	wrap func(sb *sandbox.Provider) payment.Provider
	// providers returns the providers to register besides the sandbox,
	// given the base URL the API is served under (their callbacks go to
	// base + "/webhooks/" + name).
	providers func(base string) []payment.Provider
	// tap, when set, sees every webhook request (with its raw body) before
	// the handler does.
	tap     func(r *http.Request, body []byte)
	sandbox []sandbox.Option
	payment []payment.Option
	httpx   []httpx.Option
	// subscriberFault, when set, may fail a delivery (a host that is down
	// for a moment): a non-nil error is retried by the dispatcher.
	subscriberFault func(e payment.Event) error
	// noWebhookBase leaves the Service without a webhook base URL, so the
	// sandbox sends no callbacks by itself.
	noWebhookBase bool
}

// stack is paykit served over HTTP: the Service on a Store, the sandbox
// (calling back through the webhook route) and the handler mounted under
// /pay in a stdlib mux, with a subscriber that records every notification.
type stack struct {
	t     testing.TB
	store payment.Store
	// raw is the store without injected failures, for the checks.
	raw    payment.Store
	svc    *payment.Service
	sb     *sandbox.Provider
	clock  *paymenttest.Clock
	notes  *notes
	srv    *httptest.Server
	base   string
	client *http.Client
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	require.NotNil(t, o.store)
	s := &stack{t: t, store: o.store, raw: o.store, clock: o.clock, notes: newNotes(o.subscriberFault)}
	if c, ok := o.store.(*chaosStore); ok {
		s.raw = c.Store
	}
	var handler atomic.Pointer[http.Handler]
	mux := http.NewServeMux()
	mux.Handle("/pay/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.tap != nil && strings.HasPrefix(r.URL.Path, "/pay/webhooks/") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "tap: "+err.Error(), http.StatusBadRequest)
				return
			}
			o.tap(r, body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		(*handler.Load()).ServeHTTP(w, r)
	}))
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.base = s.srv.URL + "/pay"
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	tr.MaxConnsPerHost = 256
	s.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)

	sbOpts := []sandbox.Option{
		sandbox.WithQRImage(false),
		sandbox.WithHTTPClient(s.client),
		sandbox.WithOpeningBalance("THB", 1_000_000_000),
		// One attempt: tests redeliver callbacks themselves (Resend), so
		// nothing arrives behind their back.
		sandbox.WithDeliveryRetry(1, time.Millisecond),
	}
	if o.clock != nil {
		sbOpts = append(sbOpts, sandbox.WithClock(o.clock))
	}
	sb, err := sandbox.New(append(sbOpts, o.sandbox...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	s.sb = sb
	var prov payment.Provider = sb
	if o.wrap != nil {
		prov = o.wrap(sb)
	}
	opts := []payment.Option{
		payment.WithProvider(prov),
		payment.WithSubscriber(s.notes.subscriber()),
		payment.WithAbandonAfter(time.Hour),
	}
	if !o.noWebhookBase {
		opts = append(opts, payment.WithWebhookBaseURL(s.base))
	}
	if o.clock != nil {
		opts = append(opts, payment.WithClock(o.clock))
	}
	if o.providers != nil {
		for _, p := range o.providers(s.base) {
			opts = append(opts, payment.WithProvider(p))
		}
	}
	svc, err := payment.New(o.store, append(opts, o.payment...)...)
	require.NoError(t, err)
	s.svc = svc
	h, err := httpx.NewHandler(svc, append([]httpx.Option{httpx.WithAPIKeys(apiKey)}, o.httpx...)...)
	require.NoError(t, err)
	sh := http.StripPrefix("/pay", h)
	handler.Store(&sh)
	return s
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) code() string {
	var eb httpx.ErrorBody
	if json.Unmarshal(r.body, &eb) != nil {
		return ""
	}
	return string(eb.Error.Code)
}

func (r *response) payment(t testing.TB) *payment.Payment {
	t.Helper()
	p, err := r.decodePayment()
	require.NoError(t, err, "body: %s", r.body)
	return p
}

// decodePayment is payment for goroutines other than the test's.
func (r *response) decodePayment() (*payment.Payment, error) {
	var p payment.Payment
	if err := json.Unmarshal(r.body, &p); err != nil {
		return nil, fmt.Errorf("%w: body %s", err, r.body)
	}
	return &p, nil
}

// call sends a request to the API under /pay with the API key; body is
// sent as JSON unless it is []byte.
func (s *stack) call(ctx context.Context, method, path string, body any, header http.Header) (*response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-API-Key", apiKey)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// postWebhook posts a provider callback, as the provider would send it, to
// the webhook route.
func (s *stack) postWebhook(ctx context.Context, provider string, wr *payment.WebhookRequest) (*response, error) {
	u := s.base + "/webhooks/" + provider
	if len(wr.Query) > 0 {
		u += "?" + wr.Query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(wr.Body))
	if err != nil {
		return nil, err
	}
	for k, vs := range wr.Header {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

func keyHeader(key string) http.Header {
	if key == "" {
		return nil
	}
	return http.Header{"Idempotency-Key": {key}}
}

// qrBody is a QR checkout for the sandbox.
func qrBody(order string, amount int64) map[string]any {
	return map[string]any{
		"provider": "sandbox", "method": "qr", "order_id": order,
		"amount": amount, "currency": "THB", "description": "Order " + order,
	}
}

// cardBody is a card checkout for the sandbox with a test card.
func cardBody(order, number string, amount int64) map[string]any {
	return map[string]any{
		"provider": "sandbox", "method": "card", "order_id": order,
		"amount": amount, "currency": "THB",
		"card": map[string]any{
			"number": number, "expiry_month": 12, "expiry_year": 2099, "cvv": "123", "holder_name": "Test Holder",
		},
	}
}

// dispatchAll delivers due notifications until a pass delivers nothing, or
// a few passes failed.
func (s *stack) dispatchAll(ctx context.Context) {
	for range 50 {
		n, err := s.svc.Dispatch(ctx)
		if err == nil && n == 0 {
			return
		}
	}
}

// drain delivers notifications until every notifying event of the
// payments ids was delivered, moving the fake clock past retry backoffs
// and lost leases. It fails the test when that does not happen.
func (s *stack) drain(ctx context.Context, ids []string) {
	s.t.Helper()
	for round := 0; round < 200; round++ {
		s.dispatchAll(ctx)
		missing, err := s.undelivered(ctx, ids)
		require.NoError(s.t, err)
		if missing == 0 {
			return
		}
		if s.clock != nil {
			s.clock.Advance(2 * time.Minute)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	missing, _ := s.undelivered(ctx, ids)
	require.Zero(s.t, missing, "notifications never delivered")
}

// undelivered counts the notifying events of ids not yet delivered.
func (s *stack) undelivered(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		evs, err := s.raw.ListEvents(ctx, id)
		if err != nil {
			return 0, err
		}
		for _, e := range evs {
			if e.Notifies() && s.notes.count(e.ID) == 0 {
				n++
			}
		}
	}
	return n, nil
}

// notes records what the subscriber received: how often each event, and
// in which order per stream (payment). A subscriber deduplicates on the
// event id, so deliveries after the first are counted apart.
type notes struct {
	mu      sync.Mutex
	seen    map[string]int
	streams map[string][]string
	events  map[string]payment.Event
	fault   func(e payment.Event) error
	failed  int
	seq     atomic.Int64
}

func newNotes(fault func(e payment.Event) error) *notes {
	return &notes{seen: map[string]int{}, streams: map[string][]string{}, events: map[string]payment.Event{}, fault: fault}
}

func (n *notes) subscriber() payment.Subscriber {
	return func(_ context.Context, e payment.Event) error {
		if n.fault != nil {
			if err := n.fault(e); err != nil {
				n.mu.Lock()
				n.failed++
				n.mu.Unlock()
				return err
			}
		}
		n.seq.Add(1)
		n.mu.Lock()
		defer n.mu.Unlock()
		n.seen[e.ID]++
		if n.seen[e.ID] == 1 {
			n.streams[e.Stream()] = append(n.streams[e.Stream()], e.ID)
			n.events[e.ID] = e
		}
		return nil
	}
}

func (n *notes) count(id string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seen[id]
}

// stream returns the event ids of a stream in first-delivery order.
func (n *notes) stream(id string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.streams[id]...)
}

// totals returns how many distinct events were delivered and how many
// deliveries repeated one (at-least-once redeliveries).
func (n *notes) totals() (distinct, repeats int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.seen {
		distinct++
		repeats += c - 1
	}
	return distinct, repeats
}

// flakyProvider is the sandbox with a Start that can be made to time out,
// before the charge (the request never arrived) or after it (the answer
// was lost): both are retryable errors whose outcome is unknown.
type flakyProvider struct {
	*sandbox.Provider
	mu     sync.Mutex
	next   faultMode // for the next Start
	before int
	after  int
}

func (f *flakyProvider) armStart(m faultMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = m
}

// Start implements payment.Provider.
func (f *flakyProvider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	f.mu.Lock()
	m := f.next
	f.next = faultNone
	switch m {
	case faultBefore:
		f.before++
	case faultAfter:
		f.after++
	case faultNone:
	}
	f.mu.Unlock()
	timeout := &payment.ProviderError{
		Provider: f.Name(), Op: "start", Code: "timeout", Retryable: true,
		Err: errors.New("injected timeout"),
	}
	switch m {
	case faultBefore:
		return nil, timeout
	case faultAfter:
		if _, err := f.Provider.Start(ctx, req); err != nil {
			return nil, err
		}
		return nil, timeout
	case faultNone:
	}
	return f.Provider.Start(ctx, req)
}

func (f *flakyProvider) faults() (before, after int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.before, f.after
}
