package vepara_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// env is a provider wired to a fresh simulator, with every request body
// and Authorization header the simulator received, and a recorder for its
// webhooks.
type env struct {
	sim *veparasim.Server
	srv *httptest.Server
	p   *vepara.Provider
	rec *providertest.Recorder

	mu       sync.Mutex
	requests []sentRequest
}

type sentRequest struct {
	path, auth string
	body       []byte
}

// newEnv starts a simulator (with simOpts) and a provider (with opts) that
// uses it; sale webhooks go to the recorder under the key "paykit".
func newEnv(t testing.TB, simOpts []veparasim.Option, opts ...vepara.Option) *env {
	t.Helper()
	e := &env{sim: veparasim.New(simOpts...)}
	t.Cleanup(e.sim.Close)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.requests = append(e.requests, sentRequest{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body})
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.rec = providertest.NewRecorder(t)
	e.sim.SetWebhookURL("paykit", e.rec.URL()+"/cb/{invoice_id}")
	all := append([]vepara.Option{vepara.WithBaseURL(e.srv.URL), vepara.WithSaleWebhookKey("paykit")}, opts...)
	p, err := vepara.New(vepara.Config{AppID: e.sim.AppID(), AppSecret: e.sim.AppSecret(), MerchantKey: e.sim.MerchantKey()}, all...)
	require.NoError(t, err)
	e.p = p
	return e
}

// last returns the JSON body of the last request to path, decoded with
// numbers kept as written.
func (e *env) last(t testing.TB, path string) map[string]any {
	t.Helper()
	raw := e.lastRaw(t, path)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m), "the body of %s must be a JSON object", path)
	return m
}

func (e *env) lastRaw(t testing.TB, path string) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.requests) - 1; i >= 0; i-- {
		if e.requests[i].path == path {
			return e.requests[i].body
		}
	}
	require.Failf(t, "no request", "the simulator received no request to %s", path)
	return nil
}

func (e *env) authHeaders() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.requests {
		if r.auth != "" {
			out = append(out, r.auth)
		}
	}
	return out
}

// cardCheckout returns a card checkout of amount TRY with the given card.
func cardCheckout(number string, amount int64) *payment.StartRequest {
	req := providertest.NewStartRequest(vepara.Name, payment.MethodCard, amount, "TRY")
	req.Card = &payment.Card{Number: number, ExpiryMonth: 12, ExpiryYear: 2035, CVV: "9876", HolderName: "John Doe"}
	req.Payment.Customer = &payment.Customer{Name: "John Ronald Doe", Email: "john@example.com", Phone: "+905551112233"}
	req.ClientIP = "203.0.113.7"
	return req
}

// marketplaceCheckout is the marketplace sale sample: 210.00 TRY over four
// items and three sub-merchants.
func marketplaceCheckout() *payment.StartRequest {
	req := cardCheckout(veparasim.CardApprove, 21000)
	req.Payment.Items = sampleItems()
	return req
}

// start starts req and returns the payment as the Service would record it.
func start(t testing.TB, p *vepara.Provider, req *payment.StartRequest) (*payment.Payment, *payment.PaymentState) {
	t.Helper()
	st, err := p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	pay.Status = st.Status
	pay.ProviderReference = st.ProviderReference
	if st.Status.Paid() {
		pay.AmountCaptured = pay.Amount
	}
	return pay, st
}

// providerErr asserts err is a *payment.ProviderError and returns it.
func providerErr(t testing.TB, err error) *payment.ProviderError {
	t.Helper()
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	return pe
}

// clock is a settable clock shared by the provider and the simulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
