package payplus_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
	"github.com/paykit/paykit/providers/providertest"
)

// fakeClock is a clock tests move by hand, shared by the simulator and the
// provider.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a provider talking to a simulator over HTTP, with a recorder
// that receives the simulator's callbacks and acknowledges them as the
// vendor expects.
type env struct {
	sim   *payplussim.Server
	srv   *httptest.Server
	rec   *providertest.Recorder
	p     *payplus.Provider
	clock *fakeClock
}

type envConfig struct {
	simOpts  []payplussim.Option
	opts     []payplus.Option
	fake     bool
	merchant string
	apiKey   string
}

type envOption func(*envConfig)

func withSim(o ...payplussim.Option) envOption {
	return func(c *envConfig) { c.simOpts = append(c.simOpts, o...) }
}

func withProvider(o ...payplus.Option) envOption {
	return func(c *envConfig) { c.opts = append(c.opts, o...) }
}

// withFakeClock shares a hand-moved clock between the simulator and the
// provider.
func withFakeClock() envOption { return func(c *envConfig) { c.fake = true } }

func withCredentials(merchant, apiKey string) envOption {
	return func(c *envConfig) { c.merchant, c.apiKey = merchant, apiKey }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	c := envConfig{merchant: payplussim.DefaultMerchantID, apiKey: payplussim.DefaultAPIKey}
	for _, o := range opts {
		o(&c)
	}
	e := &env{}
	simOpts := []payplussim.Option{payplussim.WithCallbackRetry(4, 20*time.Millisecond)}
	provOpts := []payplus.Option{}
	if c.fake {
		e.clock = newFakeClock()
		simOpts = append(simOpts, payplussim.WithClock(e.clock.Now))
		provOpts = append(provOpts, payplus.WithClock(e.clock))
	}
	e.sim = payplussim.New(append(simOpts, c.simOpts...)...)
	e.srv = httptest.NewServer(e.sim)
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.sim.Close) // runs first: ends hanging requests and retries
	e.rec = providertest.NewRecorder(t)
	e.rec.SetResponse(http.StatusOK, "application/json", []byte(payplus.AckBody))
	provOpts = append(provOpts, payplus.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	p, err := payplus.New(payplus.Config{
		BaseURL:    e.srv.URL + payplussim.DefaultPrefix,
		MerchantID: c.merchant,
		APIKey:     c.apiKey,
	}, append(provOpts, c.opts...)...)
	require.NoError(t, err)
	e.p = p
	return e
}

// checkout returns a start request for a new deposit whose callbacks go
// to the recorder.
func (e *env) checkout(t testing.TB, method payment.Method, amount int64) *payment.StartRequest {
	t.Helper()
	req := providertest.NewStartRequest(payplus.Name, method, amount, "THB")
	req.Payment.Customer = &payment.Customer{
		Name:        "John Doe",
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "123-4-56789-0", Name: "John Doe"},
	}
	req.NotifyURL = e.rec.URLFor(req.Payment.ID)
	return req
}

// start starts a deposit and returns the payment as the Service would
// record it.
func (e *env) start(t testing.TB, ctx context.Context, method payment.Method, amount int64) (*payment.Payment, *payment.PaymentState) {
	t.Helper()
	req := e.checkout(t, method, amount)
	st, err := e.p.Start(ctx, req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	pay.Status = st.Status
	pay.ProviderReference = st.ProviderReference
	pay.NextAction = st.NextAction
	pay.ExpiresAt = st.ExpiresAt
	return pay, st
}

// callback waits for the next callback about id and parses it.
func (e *env) callback(t testing.TB, ctx context.Context, id string) (*payment.WebhookRequest, *payment.WebhookResult) {
	t.Helper()
	wr, err := e.rec.Next(ctx, id)
	require.NoError(t, err)
	res, err := e.p.ParseWebhook(ctx, wr)
	require.NoError(t, err)
	require.NotNil(t, res.Ack)
	require.Equal(t, http.StatusOK, res.Ack.StatusCode)
	requireExactly(t, payplus.AckBody, string(res.Ack.Body))
	return wr, res
}

// newPayout returns a payout request whose callbacks go to the recorder.
func (e *env) newPayout(amount int64) *payment.PayoutRequest {
	id := providertest.NewID(payment.PrefixPayout)
	now := time.Now().UTC()
	return &payment.PayoutRequest{
		Payout: &payment.Payout{
			Object: "payout", ID: id, Provider: payplus.Name, OrderID: "wd_" + id[3:],
			Amount: amount, Currency: "THB",
			BankAccount: payment.BankAccount{BankCode: "SCB", Number: "9876543210", Name: "Jane Roe"},
			Status:      payment.PayoutPending, CreatedAt: now, UpdatedAt: now, Version: 1,
		},
		IdempotencyKey: id,
		NotifyURL:      e.rec.URLFor(id),
	}
}

// requireExactly compares byte for byte: the vendor expects exactly these
// bytes, so an equivalent JSON would not do.
func requireExactly(t testing.TB, want, got string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want, got, msgAndArgs...)
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
