package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

func newService(t testing.TB, opts ...payment.Option) *payment.Service {
	t.Helper()
	svc, err := payment.New(memstore.New(), opts...)
	require.NoError(t, err)
	return svc
}

func TestNewHandlerOptions(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	_, err := httpx.NewHandler(nil, httpx.WithoutAuth())
	require.Error(t, err)
	_, err = httpx.NewHandler(svc)
	require.ErrorContains(t, err, "authentication")
	_, err = httpx.NewHandler(svc, httpx.WithLogger(nil))
	require.Error(t, err, "no decision")
	_, err = httpx.NewHandler(svc, httpx.WithAPIKeys())
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithAPIKeys("good_key", ""))
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithAPIKeys("sk secret with space"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "the key is never printed")
	_, err = httpx.NewHandler(svc, httpx.WithAPIKeys("k1"), httpx.WithoutAuth())
	require.Error(t, err, "two decisions")
	_, err = httpx.NewHandler(svc, httpx.WithAuthenticator(nil))
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithMaxBodyBytes(0))
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithMaxWebhookBodyBytes(-1))
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithRateLimit(httpx.RateLimit{Requests: -1}))
	require.Error(t, err)
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithClientIP(nil))
	require.Error(t, err)

	h, err := httpx.NewHandler(svc, httpx.WithAPIKeys("k1"), httpx.WithAPIKeys("k2"), nil)
	require.NoError(t, err)
	require.NotNil(t, h)
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth())
	require.NoError(t, err)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := setup(t, withOwnAuth(httpx.WithAPIKeys("sk_old_key", testKey)))

	e.do(req{method: "GET", path: "/providers", noKey: true}).requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", "sk_wrong")}).requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", testKey+"x")}).requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", testKey, "X-API-Key", testKey)}).
		requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", "")}).requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "POST", path: "/checkout", body: qrCheckout("auth-1", 100), noKey: true}).requireError(t, 401, "UNAUTHORIZED", "")

	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/providers"}).Status)
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", "sk_old_key")}).Status)

	// Unknown routes are 404 with or without a key; webhooks need none.
	e.do(req{method: "GET", path: "/nope", noKey: true}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "POST", path: "/webhooks/sandbox", body: "{}", noKey: true}).requireError(t, 401, "UNAUTHORIZED", "")
}

func TestAuthenticator(t *testing.T) {
	t.Parallel()
	e := setup(t, withOwnAuth(httpx.WithAuthenticator(func(r *http.Request) error {
		switch r.Header.Get("Authorization") {
		case "Bearer admin":
			return nil
		case "Bearer reader":
			if r.Method != http.MethodGet {
				return fmt.Errorf("reader may not %s: %w", r.Method, httpx.ErrForbidden)
			}
			return nil
		default:
			return errors.New("no bearer token: internal detail")
		}
	})))
	r := e.do(req{method: "GET", path: "/providers", noKey: true})
	eb := r.requireError(t, 401, "UNAUTHORIZED", "")
	require.NotContains(t, eb.Error.Message, "internal detail")
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/providers", noKey: true, header: hdr("Authorization", "Bearer reader")}).Status)
	e.do(req{method: "POST", path: "/checkout", body: qrCheckout("x", 1), noKey: true, header: hdr("Authorization", "Bearer reader")}).
		requireError(t, 403, "FORBIDDEN", "")
	r = e.do(req{method: "POST", path: "/checkout", body: qrCheckout("x", 100), noKey: true, header: hdr("Authorization", "Bearer admin")})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
}

func TestWithoutAuth(t *testing.T) {
	t.Parallel()
	e := setup(t, withOwnAuth(httpx.WithoutAuth()))
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/providers", noKey: true}).Status)
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.do(req{method: "GET", path: "/nope"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/payments/"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/payments/pay_1/nope"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/payments/pay_missing"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/payments/pay_missing/events"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "POST", path: "/payments/pay_missing/refunds"}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/payments/" + strings.Repeat("x", 200)}).requireError(t, 404, "NOT_FOUND", "")

	r := e.do(req{method: "GET", path: "/payments/pay_1/refunds"})
	r.requireError(t, 405, "INVALID_INPUT", "")
	require.Equal(t, "POST", r.Header.Get("Allow"))
	r = e.do(req{method: "DELETE", path: "/payments/pay_1"})
	r.requireError(t, 405, "INVALID_INPUT", "")
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
	r = e.do(req{method: "PUT", path: "/checkout"})
	r.requireError(t, 405, "INVALID_INPUT", "")
	require.Equal(t, "POST", r.Header.Get("Allow"))
	e.do(req{method: "POST", path: "/providers"}).requireError(t, 405, "INVALID_INPUT", "")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do(req{method: "GET", path: "/providers", header: hdr("X-Request-Id", "client-req-42")})
	require.Equal(t, "client-req-42", r.Header.Get("X-Request-Id"))

	r1 := e.do(req{method: "GET", path: "/providers", header: hdr("X-Request-Id", "bad id\twith space")})
	r2 := e.do(req{method: "GET", path: "/nope"})
	id1, id2 := r1.Header.Get("X-Request-Id"), r2.Header.Get("X-Request-Id")
	require.True(t, strings.HasPrefix(id1, "req_"), id1)
	require.True(t, strings.HasPrefix(id2, "req_"), id2)
	require.NotEqual(t, id1, id2)
	r = e.do(req{method: "GET", path: "/providers", noKey: true})
	require.NotEmpty(t, r.Header.Get("X-Request-Id"), "errors carry one too")
}

func TestCheckoutValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	post := func(body any, h ...string) *response {
		return e.do(req{method: "POST", path: "/checkout", body: body, header: hdr(h...)})
	}
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":1.5,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "amount")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":"100","currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "amount")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":1e3,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "amount")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":0,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "amount")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","currency":"THB"}`).requireError(t, 400, "MISSING_FIELD", "amount")
	post(`{"provider":"sandbox","method":"qr","amount":100,"currency":"THB"}`).requireError(t, 400, "MISSING_FIELD", "order_id")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":100}`).requireError(t, 400, "MISSING_FIELD", "currency")
	post(`{"provider":"sandbox","method":"qr","order_id":"v 1","amount":100,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "order_id")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":100,"currency":"THB","colour":"red"}`).requireError(t, 400, "INVALID_INPUT", "colour")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":100,"currency":"THB","customer":{"nick":"x"}}`).
		requireError(t, 400, "INVALID_INPUT", "customer.nick")
	post(`{"provider":"nope","method":"qr","order_id":"v1","amount":100,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "provider")
	post(`{"provider":"sandbox","method":"wechat","order_id":"v1","amount":100,"currency":"THB"}`).requireError(t, 400, "INVALID_INPUT", "method")
	post(`{"provider":"sandbox","method":"qr","order_id":"v1","amount":100,"currency":"thb"}`).requireError(t, 400, "INVALID_INPUT", "currency")
	post(`{"provider":"sandbox",`).requireError(t, 400, "INVALID_INPUT", "body")
	post(`[]`).requireError(t, 400, "INVALID_INPUT", "body")
	post(qrCheckout("v1", 100), "Idempotency-Key", "").requireError(t, 400, "INVALID_INPUT", "Idempotency-Key")
	post(qrCheckout("v1", 100), "Idempotency-Key", strings.Repeat("k", 256)).requireError(t, 400, "INVALID_INPUT", "Idempotency-Key")
	post(qrCheckout("v1", 100), "Idempotency-Key", "tab\tkey").requireError(t, 400, "INVALID_INPUT", "Idempotency-Key")
	post(qrCheckout("v1", 100), "Idempotency-Key", "a", "Idempotency-Key", "b").requireError(t, 400, "INVALID_INPUT", "Idempotency-Key")
	e.do(req{method: "POST", path: "/checkout"}).requireError(t, 400, "INVALID_INPUT", "body")

	// Content types.
	post(qrCheckout("v1", 100), "Content-Type", "text/plain").requireError(t, 415, "UNSUPPORTED_MEDIA_TYPE", "")
	post(qrCheckout("v1", 100), "Content-Type", "application/x-www-form-urlencoded").requireError(t, 415, "UNSUPPORTED_MEDIA_TYPE", "")
	r := post(qrCheckout("v1", 100), "Content-Type", "application/json; charset=utf-8", "Idempotency-Key", strings.Repeat("k", 255))
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)

	// Without a key, a second checkout of a live order is a conflict.
	post(qrCheckout("v1", 100)).requireError(t, 409, "CONFLICT", "")
}

func TestRefundErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.checkout(qrCheckout("rf-1", 10000))
	path := "/payments/" + p.ID + "/refunds"
	e.do(req{method: "POST", path: path, body: map[string]any{"amount": 100}}).requireError(t, 409, "INVALID_STATE", "")

	paid := e.paidPayment("rf-2", 10000)
	path = "/payments/" + paid.ID + "/refunds"
	e.do(req{method: "POST", path: path, body: map[string]any{"amount": 10001}}).requireError(t, 422, "REFUND_EXCEEDS_CAPTURED", "amount")
	e.do(req{method: "POST", path: path, body: `{"amount": 0}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: path, body: `{"amount": -5}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: path, body: `{"amount": 50.5}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: path, body: `{"amount": 50, "why": "x"}`}).requireError(t, 400, "INVALID_INPUT", "why")
	e.do(req{method: "POST", path: path, body: `{"amount": 50}`, header: hdr("Content-Type", "text/plain")}).
		requireError(t, 415, "UNSUPPORTED_MEDIA_TYPE", "")

	key := hdr("Idempotency-Key", "refund-key-1")
	r := e.do(req{method: "POST", path: path, body: map[string]any{"amount": 4000}, header: key})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	replay := e.do(req{method: "POST", path: path, body: map[string]any{"amount": 4000}, header: key})
	require.Equal(t, http.StatusOK, replay.Status)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(r.Body), string(replay.Body))
	e.do(req{method: "POST", path: path, body: map[string]any{"amount": 4001}, header: key}).requireError(t, 422, "IDEMPOTENCY_MISMATCH", "")
	got := e.do(req{method: "GET", path: "/payments/" + paid.ID}).payment(t)
	require.Equal(t, int64(4000), got.AmountRefunded, "one refund despite the replay")
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := `{"provider":"sandbox","description":"` + strings.Repeat("x", 64<<10) + `"}`
	e.do(req{method: "POST", path: "/checkout", body: big}).requireError(t, 413, "PAYLOAD_TOO_LARGE", "")

	// Without a Content-Length (chunked), the limit still holds.
	chunked := io.MultiReader(strings.NewReader(big))
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.base+"/checkout", chunked)
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-API-Key", testKey)
	resp, err := e.srv.Client().Do(r)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, int64(0), r.ContentLength, "unknown length: sent chunked")
	(&response{Status: resp.StatusCode, Header: resp.Header, Body: body}).requireError(t, 413, "PAYLOAD_TOO_LARGE", "")

	// Webhooks: 256 KiB by default.
	e.do(req{method: "POST", path: "/webhooks/sandbox", body: bytes.Repeat([]byte("a"), 1<<20), noKey: true}).
		requireError(t, 413, "PAYLOAD_TOO_LARGE", "")
	e.do(req{method: "POST", path: "/webhooks/sandbox", body: bytes.Repeat([]byte("a"), 200<<10), noKey: true}).
		requireError(t, 401, "UNAUTHORIZED", "")

	small := setup(t, withHTTP(httpx.WithMaxBodyBytes(100), httpx.WithMaxWebhookBodyBytes(50)))
	small.do(req{method: "POST", path: "/checkout", body: strings.Repeat(" ", 101)}).requireError(t, 413, "PAYLOAD_TOO_LARGE", "")
	small.do(req{method: "POST", path: "/webhooks/sandbox", body: strings.Repeat(" ", 51), noKey: true}).requireError(t, 413, "PAYLOAD_TOO_LARGE", "")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, withOwnAuth(
		httpx.WithAPIKeys(testKey, "sk_other_key"),
		httpx.WithRateLimit(httpx.RateLimit{Requests: 1, Per: time.Hour, Burst: 3}),
	))
	// Unauthenticated requests are not counted.
	for range 5 {
		e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", "sk_garbage")}).requireError(t, 401, "UNAUTHORIZED", "")
	}
	for i := range 3 {
		r := e.do(req{method: "GET", path: "/providers"})
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "1", r.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, fmt.Sprint(2-i), r.Header.Get("X-RateLimit-Remaining"))
	}
	r := e.do(req{method: "GET", path: "/providers"})
	r.requireError(t, 429, "RATE_LIMITED", "")
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 3600, retry, 60, "one token an hour")
	require.Equal(t, "0", r.Header.Get("X-RateLimit-Remaining"))
	require.Equal(t, "1", r.Header.Get("X-RateLimit-Limit"))

	// Another key has its own bucket; webhooks are not limited.
	r = e.do(req{method: "GET", path: "/providers", header: hdr("X-API-Key", "sk_other_key")})
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "2", r.Header.Get("X-RateLimit-Remaining"))
	r = e.do(req{method: "POST", path: "/webhooks/sandbox", body: "{}", noKey: true})
	require.Empty(t, r.Header.Get("X-RateLimit-Limit"))
}

func TestRateLimitByAuthenticatorKey(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	h, err := httpx.NewHandler(svc,
		httpx.WithAuthenticator(func(r *http.Request) error {
			if !strings.HasPrefix(r.Header.Get("X-API-Key"), "tenant_") {
				return httpx.ErrUnauthorized
			}
			return nil
		}),
		httpx.WithRateLimit(httpx.RateLimit{Requests: 1, Per: time.Hour, Burst: 1}))
	require.NoError(t, err)
	get := func(key string) int {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/providers", nil)
		r.Header.Set("X-API-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, get("tenant_a"))
	require.Equal(t, http.StatusTooManyRequests, get("tenant_a"))
	require.Equal(t, http.StatusOK, get("tenant_b"))
	require.Equal(t, http.StatusUnauthorized, get("garbage"))
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	e := setup(t, withOwnAuth(httpx.WithAuthenticator(func(r *http.Request) error {
		if r.Header.Get("X-Boom") != "" {
			panic("secret-panic-detail")
		}
		return nil
	})))
	r := e.do(req{method: "GET", path: "/providers", header: hdr("X-Boom", "1")})
	eb := r.requireError(t, 500, "INTERNAL_ERROR", "")
	require.Equal(t, "internal error", eb.Error.Message)
	require.NotContains(t, string(r.Body), "secret-panic-detail")
	require.Nil(t, eb.Error.Details)

	logged := e.logs.FilterMessage("panic serving request").All()
	require.Len(t, logged, 1)
	require.Equal(t, r.Header.Get("X-Request-Id"), logged[0].ContextMap()["request_id"])

	// The server goes on.
	require.Equal(t, http.StatusOK, e.do(req{method: "GET", path: "/providers"}).Status)
}

func TestProviderErrorsAndUnavailable(t *testing.T) {
	t.Parallel()
	refuser := &fakeProvider{name: "refuser", start: func(context.Context, *payment.StartRequest) (*payment.PaymentState, error) {
		return nil, &payment.ProviderError{Provider: "refuser", Op: "start", Code: "E42", Message: "vendor says no"}
	}, balance: func(context.Context) ([]payment.Balance, error) {
		return nil, &payment.ProviderError{Provider: "refuser", Op: "balance", Code: "timeout", Retryable: true}
	}}
	cs := &countingStore{}
	e := setup(t, withPayment(payment.WithProvider(refuser)), withStore(func(s payment.Store) payment.Store {
		cs.Store = s
		return cs
	}))

	body := qrCheckout("pe-1", 100)
	body["provider"] = "refuser"
	eb := e.do(req{method: "POST", path: "/checkout", body: body}).requireError(t, 502, "PROVIDER_ERROR", "")
	require.Equal(t, "refuser", eb.Error.Details["provider"])
	require.Equal(t, "E42", eb.Error.Details["provider_code"])
	require.NotContains(t, eb.Error.Message, "vendor says no")

	e.do(req{method: "GET", path: "/providers/refuser/balance"}).requireError(t, 503, "SERVICE_UNAVAILABLE", "")
	e.do(req{method: "GET", path: "/providers/refuser/quote?amount=100&currency=THB"}).requireError(t, 400, "INVALID_INPUT", "")

	cs.failWith(fmt.Errorf("memstore: connection refused to 10.0.0.7: %w", payment.ErrUnavailable))
	eb = e.do(req{method: "GET", path: "/payments/pay_x"}).requireError(t, 503, "SERVICE_UNAVAILABLE", "")
	require.NotContains(t, eb.Error.Message, "10.0.0.7")
	cs.failWith(errors.New("memstore: corrupted row 12 (internal)"))
	eb = e.do(req{method: "GET", path: "/payments/pay_x"}).requireError(t, 500, "INTERNAL_ERROR", "")
	require.Equal(t, "internal error", eb.Error.Message)
	// The log has the detail, under the request id.
	var found bool
	for _, le := range e.logs.FilterMessage("request").All() {
		if strings.Contains(fmt.Sprint(le.ContextMap()["error"]), "corrupted row 12") {
			found = true
			require.NotEmpty(t, le.ContextMap()["request_id"])
		}
	}
	require.True(t, found, "the 500's cause is logged")
}

func TestUnsupportedCapability(t *testing.T) {
	t.Parallel()
	e := setup(t, withPayment(payment.WithProvider(&fakeProvider{name: "plain"})))
	body := qrCheckout("un-1", 100)
	body["provider"] = "plain"
	p := e.checkout(body)
	eb := e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture"}).requireError(t, 409, "INVALID_STATE", "")
	require.NotEmpty(t, eb.Error.Message)
	eb = e.do(req{method: "GET", path: "/payments/" + p.ID + "?sync=true"}).requireError(t, 400, "INVALID_INPUT", "")
	require.Contains(t, eb.Error.Message, "plain")
	e.do(req{method: "GET", path: "/providers/plain/quote?amount=100&currency=THB"}).requireError(t, 400, "INVALID_INPUT", "")
}

func TestWebhookBadSignatureWritesNothing(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	e := setup(t, withStore(func(s payment.Store) payment.Store {
		cs.Store = s
		return cs
	}))
	p := e.checkout(qrCheckout("sig-1", 1000))
	good, err := e.sbx.WebhookFor(p.ID, payment.StatusSucceeded)
	require.NoError(t, err)

	tampered := bytes.Replace(good.Body, []byte(`"succeeded"`), []byte(`"succeedee"`), 1)
	require.NotEqual(t, good.Body, tampered)
	forged := sandbox.SignWebhook("whsec_wrong", time.Now(), good.Body)
	noSig := good.Header.Clone()
	noSig.Del(sandbox.HeaderSignature)
	stale := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, time.Now().Add(-time.Hour), good.Body)

	before := cs.writes.Load()
	for name, c := range map[string]struct {
		body []byte
		h    http.Header
	}{
		"tampered body":     {tampered, good.Header},
		"wrong secret":      {good.Body, forged.Header},
		"missing signature": {good.Body, noSig},
		"stale timestamp":   {good.Body, stale.Header},
	} {
		r := e.do(req{method: "POST", path: "/webhooks/sandbox", body: c.body, header: c.h.Clone(), noKey: true})
		r.requireError(t, 401, "UNAUTHORIZED", "")
		require.Equal(t, before, cs.writes.Load(), "%s: nothing written", name)
	}
	got := e.do(req{method: "GET", path: "/payments/" + p.ID}).payment(t)
	require.Equal(t, payment.StatusRequiresAction, got.Status)

	// The store down: 503 so the provider retries; the retry applies once.
	cs.failWith(fmt.Errorf("down: %w", payment.ErrUnavailable))
	e.do(req{method: "POST", path: "/webhooks/sandbox", body: good.Body, header: good.Header.Clone(), noKey: true}).
		requireError(t, 503, "SERVICE_UNAVAILABLE", "")
	cs.failWith(nil)
	r := e.do(req{method: "POST", path: "/webhooks/sandbox", body: good.Body, header: good.Header.Clone(), noKey: true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	got = e.do(req{method: "GET", path: "/payments/" + p.ID}).payment(t)
	require.Equal(t, payment.StatusSucceeded, got.Status)
}

// panickyWriter fails like a broken host writer: Write panics.
type panickyWriter struct {
	*httptest.ResponseRecorder
}

func (w panickyWriter) Write([]byte) (int, error) { panic("write failed") }

func TestPanicAfterWriteAbortsTheResponse(t *testing.T) {
	t.Parallel()
	h, err := httpx.NewHandler(newService(t), httpx.WithoutAuth())
	require.NoError(t, err)
	w := panickyWriter{httptest.NewRecorder()}
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/providers", nil)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		h.ServeHTTP(w, r)
	}()
	require.Equal(t, http.ErrAbortHandler, recovered, "a response already started is aborted, not completed")
	require.Equal(t, http.StatusOK, w.Code)
}

// conflictingStore loses every compare-and-set once conflict is set, as
// under endless concurrent updates.
type conflictingStore struct {
	payment.Store
	conflict atomic.Bool
}

func (s *conflictingStore) UpdatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	if s.conflict.Load() {
		return payment.ErrConflict
	}
	return s.Store.UpdatePayment(ctx, p, evs)
}

// TestWebhookLostToConcurrentUpdatesIs503: vendors retry a 5xx, not a 409.
func TestWebhookLostToConcurrentUpdatesIs503(t *testing.T) {
	t.Parallel()
	cs := &conflictingStore{}
	e := setup(t, withStore(func(s payment.Store) payment.Store {
		cs.Store = s
		return cs
	}))
	p := e.checkout(qrCheckout("conflict-1", 1000))
	good, err := e.sbx.WebhookFor(p.ID, payment.StatusSucceeded)
	require.NoError(t, err)
	cs.conflict.Store(true)
	r := e.do(req{method: "POST", path: "/webhooks/sandbox", body: good.Body, header: good.Header.Clone(), noKey: true})
	r.requireError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
}
