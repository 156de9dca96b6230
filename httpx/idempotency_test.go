package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
)

func TestIdempotentCheckoutReplayAndMismatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	key := hdr("Idempotency-Key", "order-77-attempt")
	body := qrCheckout("idem-1", 2500)

	first := e.do(req{method: "POST", path: "/checkout", body: body, header: key})
	require.Equal(t, http.StatusCreated, first.Status, "body: %s", first.Body)
	p := first.payment(t)
	for range 100 {
		r := e.do(req{method: "POST", path: "/checkout", body: body, header: key})
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(r.Body))
	}
	require.Equal(t, 1, e.sbx.StartCalls(p.ID), "one provider call")

	// Another amount, currency or route with the key: 422, nothing changes.
	other := qrCheckout("idem-1", 2501)
	e.do(req{method: "POST", path: "/checkout", body: other, header: key}).requireError(t, 422, "IDEMPOTENCY_MISMATCH", "")
	other = qrCheckout("idem-1", 2500)
	other["currency"] = "VND"
	e.do(req{method: "POST", path: "/checkout", body: other, header: key}).requireError(t, 422, "IDEMPOTENCY_MISMATCH", "")
	e.do(req{method: "POST", path: "/payouts", header: key, body: map[string]any{
		"provider": "sandbox", "order_id": "idem-1", "amount": 2500, "currency": "THB",
		"bank_account": map[string]string{"bank_code": "KBANK", "number": "1", "name": "J"},
	}}).requireError(t, 422, "IDEMPOTENCY_MISMATCH", "")
	require.Equal(t, 1, e.sbx.Charges())
	r := e.do(req{method: "GET", path: "/payments?order_id=idem-1"})
	var ps listBody[payment.Payment]
	r.decode(t, &ps)
	require.Len(t, ps.Data, 1)
}

func TestIdempotencyInProgress(t *testing.T) {
	t.Parallel()
	blocker, entered, release := blockingProvider("blocker")
	e := setup(t, withPayment(payment.WithProvider(blocker)))
	t.Cleanup(release) // before the server closes, should the test stop early
	body := qrCheckout("slow-1", 100)
	body["provider"] = "blocker"
	key := hdr("Idempotency-Key", "slow-key")

	type result struct {
		r   *response
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := e.send(t.Context(), req{method: "POST", path: "/checkout", body: body, header: key})
		done <- result{r, err}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the provider")
	}
	r := e.do(req{method: "POST", path: "/checkout", body: body, header: key})
	r.requireError(t, 409, "IDEMPOTENCY_IN_PROGRESS", "")
	require.Equal(t, "1", r.Header.Get("Retry-After"))

	release()
	res := <-done
	require.NoError(t, res.err)
	first := res.r
	require.Equal(t, http.StatusCreated, first.Status, "body: %s", first.Body)
	r = e.do(req{method: "POST", path: "/checkout", body: body, header: key})
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(r.Body))
	require.Equal(t, int64(1), blocker.starts.Load())
}

func TestConcurrentDuplicateCheckouts(t *testing.T) {
	t.Parallel()
	slow := &fakeProvider{name: "slow", start: func(_ context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
		time.Sleep(20 * time.Millisecond) // keep the first request in flight while the others arrive
		return &payment.PaymentState{Status: payment.StatusRequiresAction, ProviderReference: "slow_" + req.Payment.ID}, nil
	}}
	e := setup(t, withPayment(payment.WithProvider(slow)))
	body := qrCheckout("dup-1", 100)
	body["provider"] = "slow"
	key := hdr("Idempotency-Key", "dup-key")

	const n = 200
	results := make([]*response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.send(t.Context(), req{method: "POST", path: "/checkout", body: body, header: key.Clone()})
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	require.Equal(t, int64(1), slow.starts.Load(), "exactly one provider call")
	var created, replayed, inProgress int
	var id string
	for _, r := range results {
		switch r.Status {
		case http.StatusCreated:
			created++
			id = r.payment(t).ID
		case http.StatusOK:
			replayed++
			require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
		case http.StatusConflict:
			inProgress++
			r.requireError(t, 409, "IDEMPOTENCY_IN_PROGRESS", "")
		default:
			t.Fatalf("unexpected %d: %s", r.Status, r.Body)
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, n, created+replayed+inProgress)
	for _, r := range results {
		if r.Status == http.StatusOK {
			require.Equal(t, id, r.payment(t).ID)
		}
	}
}

func TestConcurrentRefunds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.paidPayment("crf-1", 10000)

	const n = 50
	results := make([]*response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.send(t.Context(), req{method: "POST", path: "/payments/" + p.ID + "/refunds", body: map[string]any{"amount": 3000}})
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	var ok int
	for _, r := range results {
		switch r.Status {
		case http.StatusCreated:
			ok++
		case http.StatusUnprocessableEntity:
			r.requireError(t, 422, "REFUND_EXCEEDS_CAPTURED", "amount")
		case http.StatusConflict:
			r.requireError(t, 409, "CONFLICT", "")
		default:
			t.Fatalf("unexpected %d: %s", r.Status, r.Body)
		}
	}
	require.LessOrEqual(t, ok, 3, "never more than the captured amount")
	require.GreaterOrEqual(t, ok, 1)
	got := e.do(req{method: "GET", path: "/payments/" + p.ID}).payment(t)
	require.Equal(t, int64(ok)*3000, got.AmountRefunded)
	require.LessOrEqual(t, got.AmountRefunded, got.AmountCaptured)
}

// Requests rejected by authentication, the rate limit or validation never
// reach the idempotency store, so the corrected retry with the same key
// proceeds.
func TestRejectedRequestsDoNotStoreTheKey(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	e := setup(t, withStore(func(s payment.Store) payment.Store {
		cs.Store = s
		return cs
	}))
	key := "retry-after-fix"
	good := qrCheckout("fix-1", 900)
	post := func(rq req) *response {
		rq.method, rq.path = "POST", "/checkout"
		if rq.header == nil {
			rq.header = hdr()
		}
		if rq.header.Get("Idempotency-Key") == "" {
			rq.header.Set("Idempotency-Key", key)
		}
		return e.do(rq)
	}

	post(req{body: good, noKey: true}).requireError(t, 401, "UNAUTHORIZED", "")
	post(req{body: good, header: hdr("Content-Type", "text/plain")}).requireError(t, 415, "UNSUPPORTED_MEDIA_TYPE", "")
	post(req{body: `{"provider":"sandbox","method":"qr","order_id":"fix-1","amount":9.5,"currency":"THB"}`}).
		requireError(t, 400, "INVALID_INPUT", "amount")
	post(req{body: `{"provider":"sandbox","method":"qr","order_id":"fix-1","currency":"THB"}`}).
		requireError(t, 400, "MISSING_FIELD", "amount")
	bad := qrCheckout("fix-1", 900)
	bad["currency"] = "XXX1"
	post(req{body: bad}).requireError(t, 400, "INVALID_INPUT", "currency")

	// Rate limited: a second handler on the same Service with an empty
	// bucket.
	limited, err := httpx.NewHandler(e.svc, httpx.WithAPIKeys(testKey),
		httpx.WithRateLimit(httpx.RateLimit{Requests: 1, Per: time.Hour, Burst: 1}))
	require.NoError(t, err)
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		path := "/providers"
		var rbody *strings.Reader
		if i == 1 {
			path = "/checkout"
			rbody = strings.NewReader(`{"provider":"sandbox","method":"qr","order_id":"fix-1","amount":900,"currency":"THB"}`)
		}
		var r *http.Request
		if rbody != nil {
			r = httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, rbody)
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
		}
		r.Header.Set("X-API-Key", testKey)
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		limited.ServeHTTP(w, r)
		require.Equal(t, want, w.Code)
	}

	require.Equal(t, int64(0), cs.idempotency.Load(), "no rejected request reached the idempotency store")
	require.Equal(t, int64(0), cs.writes.Load(), "and nothing was written")

	r := post(req{body: good})
	require.Equal(t, http.StatusCreated, r.Status, "the corrected retry proceeds: %s", r.Body)
	require.Equal(t, int64(1), cs.idempotency.Load())
}
