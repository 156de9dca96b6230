package payment_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
)

func newSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// hostEndpoint is the host's webhook receiver: it verifies every request
// with the Standard Webhooks reference library and records what arrived.
type hostEndpoint struct {
	t       testing.TB
	verify  []*standardwebhooks.Webhook
	srv     *httptest.Server
	mu      sync.Mutex
	ids     []string // webhook-id of each accepted request, in arrival order
	types   []payment.EventType
	streams map[string][]payment.EventType
	byID    map[string]int
	tries   atomic.Int64
	answer  atomic.Value // func(n int64) (status int, header http.Header)
	checkTS bool
}

func newHostEndpoint(t testing.TB, secrets ...string) *hostEndpoint {
	t.Helper()
	h := &hostEndpoint{t: t, streams: map[string][]payment.EventType{}, byID: map[string]int{}}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		require.NoError(t, err)
		h.verify = append(h.verify, wh)
	}
	h.answer.Store(func(int64) (int, http.Header) { return http.StatusOK, nil })
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	n := h.tries.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, wh := range h.verify {
		verify := wh.VerifyIgnoringTimestamp
		if h.checkTS {
			verify = wh.Verify
		}
		if err := verify(body, r.Header); err != nil {
			h.t.Errorf("signature does not verify with the reference library: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	status, hdr := h.answer.Load().(func(int64) (int, http.Header))(n)
	if status != http.StatusOK {
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		return
	}
	var e payment.Event
	if err := json.Unmarshal(body, &e); err != nil {
		h.t.Errorf("body is not an event: %v", err)
	}
	if r.Header.Get("webhook-id") != e.ID {
		h.t.Errorf("webhook-id %q is not the event id %q", r.Header.Get("webhook-id"), e.ID)
	}
	h.mu.Lock()
	h.ids = append(h.ids, e.ID)
	h.byID[e.ID]++
	h.types = append(h.types, e.Type)
	h.streams[e.Stream()] = append(h.streams[e.Stream()], e.Type)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hostEndpoint) received() (ids []string, byID map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(map[string]int, len(h.byID))
	for k, v := range h.byID {
		c[k] = v
	}
	return append([]string(nil), h.ids...), c
}

func TestWebhookEndpointSignaturesVerifyIndependently(t *testing.T) {
	t.Parallel()
	oldSecret, newSecretV := newSecret(t), newSecret(t)
	// During rotation the endpoint verifies with either secret: we send both.
	host := newHostEndpoint(t, oldSecret)
	host.checkTS = true
	rotated := newHostEndpoint(t, newSecretV)
	rotated.checkTS = true
	b := setup(t, withOptions(
		payment.WithClock(realClock{}),
		payment.WithWebhookEndpoint(host.srv.URL, oldSecret, payment.EndpointAllowPrivate()),
		payment.WithWebhookEndpoint(rotated.srv.URL, oldSecret, payment.EndpointSecrets(newSecretV), payment.EndpointAllowPrivate()),
	))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-sw", 100, "THB"))
	require.NoError(t, err)
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	ids, _ := host.received()
	require.Len(t, ids, 2, "created and requires_action")
	rids, _ := rotated.received()
	require.Equal(t, ids, rids)
	evs, err := b.svc.ListEvents(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, evs[0].ID, ids[0], "webhook-id is the event id")
}

// realClock is the system clock (the reference library checks timestamps
// against it).
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func TestWebhookEndpointFailsThenRecovers(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	host := newHostEndpoint(t, secret)
	var down atomic.Bool
	down.Store(true)
	host.answer.Store(func(int64) (int, http.Header) {
		if down.Load() {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	b := setup(t, withOptions(payment.WithWebhookEndpoint(host.srv.URL, secret, payment.EndpointAllowPrivate())))
	ctx := t.Context()
	var payIDs []string
	for i := range 5 {
		p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-rec-%d", i), 100, "THB"))
		require.NoError(t, err)
		_, err = b.hook(ctx, scriptedEvent{Key: fmt.Sprintf("rec-%d", i), PaymentID: p.ID, Status: payment.StatusSucceeded})
		require.NoError(t, err)
		payIDs = append(payIDs, p.ID)
	}
	// The host is down for an hour: attempts back off (fewer than one a
	// minute per stream), nothing is lost.
	for range 60 {
		_, err := b.svc.Dispatch(ctx)
		require.NoError(t, err)
		b.clock.Advance(time.Minute)
	}
	tries := host.tries.Load()
	require.Less(t, tries, int64(5*60), "backoff grows")
	require.GreaterOrEqual(t, tries, int64(5*3))
	down.Store(false)
	b.clock.Advance(2 * time.Hour)
	for range 10 {
		_, err := b.svc.Dispatch(ctx)
		require.NoError(t, err)
	}
	ids, byID := host.received()
	require.Len(t, ids, 5*3, "every event arrives")
	for id, n := range byID {
		require.Equal(t, 1, n, "event %s accepted once", id)
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	for _, id := range payIDs {
		require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction, payment.EventPaymentSucceeded},
			host.streams[id], "in order per payment")
	}
}

func TestWebhookEndpointRetryAfterGoneAndRedeliver(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	slow := newHostEndpoint(t, secret)
	slow.answer.Store(func(n int64) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": []string{"3600"}}
		}
		return http.StatusOK, nil
	})
	gone := newHostEndpoint(t, secret)
	gone.answer.Store(func(int64) (int, http.Header) { return http.StatusGone, nil })
	b := setup(t, withOptions(
		payment.WithWebhookEndpoint(slow.srv.URL, secret, payment.EndpointAllowPrivate(), payment.EndpointID("slow"),
			payment.EndpointEvents("payment.created")),
		payment.WithWebhookEndpoint(gone.srv.URL, secret, payment.EndpointAllowPrivate(), payment.EndpointID("gone")),
	))
	ctx := t.Context()
	_, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-ra", 100, "THB"))
	require.NoError(t, err)
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), slow.tries.Load())
	b.clock.Advance(30 * time.Minute) // well past the backoff, not past Retry-After
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), slow.tries.Load(), "Retry-After is honoured")
	b.clock.Advance(31 * time.Minute)
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	ids, _ := slow.received()
	require.Len(t, ids, 1, "the filter selects payment.created only")

	// 410 disabled the second endpoint: its deliveries are failed at once.
	require.Equal(t, int64(1), gone.tries.Load(), "one attempt, then disabled")
	failed, err := b.svc.FailedDeliveries(ctx, 10)
	require.NoError(t, err)
	require.Len(t, failed, 2)
	require.Equal(t, "endpoint:gone", failed[0].Destination)
	require.Equal(t, "failed", failed[0].Status)

	// Redelivery re-queues them; the endpoint stays disabled until restart,
	// so they fail again without a request.
	n, err := b.svc.Redeliver(ctx, failed[0].EventID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), gone.tries.Load())
	_, err = b.svc.Redeliver(ctx, "evt_nothing")
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestWebhookEndpointGivesUpAfterTheWindowAndRedelivers(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	host := newHostEndpoint(t, secret)
	var down atomic.Bool
	down.Store(true)
	host.answer.Store(func(int64) (int, http.Header) {
		if down.Load() {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	b := setup(t, withOptions(payment.WithWebhookEndpoint(host.srv.URL, secret, payment.EndpointAllowPrivate()),
		payment.WithWebhookRetryWindow(72*time.Hour)))
	ctx := t.Context()
	_, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-win", 100, "THB"))
	require.NoError(t, err)
	for range 100 { // three days and a bit, an hour at a time
		_, err := b.svc.Dispatch(ctx)
		require.NoError(t, err)
		b.clock.Advance(45 * time.Minute)
	}
	failed, err := b.svc.FailedDeliveries(ctx, 10)
	require.NoError(t, err)
	require.Len(t, failed, 2, "given up after the window")
	require.GreaterOrEqual(t, failed[0].Attempts, 10)
	down.Store(false)
	for _, f := range failed {
		_, err := b.svc.Redeliver(ctx, f.EventID)
		require.NoError(t, err)
	}
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	ids, _ := host.received()
	require.Len(t, ids, 2)
	failed, err = b.svc.FailedDeliveries(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, failed)
}

func TestWebhookEndpointRefusesPrivateAddressesAndRedirects(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	host := newHostEndpoint(t, secret)
	redirect := httptest.NewServer(http.RedirectHandler(host.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	// Without EndpointAllowPrivate a loopback URL is refused at dial time.
	b := setup(t, withOptions(
		payment.WithWebhookEndpoint(strings.Replace(host.srv.URL, "127.0.0.1", "localhost", 1), secret, payment.EndpointID("private")),
		payment.WithWebhookEndpoint(redirect.URL, secret, payment.EndpointAllowPrivate(), payment.EndpointID("redirect")),
	))
	ctx := t.Context()
	_, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-ssrf", 100, "THB"))
	require.NoError(t, err)
	_, err = b.svc.Dispatch(ctx)
	require.NoError(t, err)
	require.Zero(t, host.tries.Load(), "neither the private address nor the redirect reached the host")
}

func TestWebhookEndpointConfiguration(t *testing.T) {
	t.Parallel()
	store := setup(t).store
	_, err := payment.New(store, payment.WithWebhookEndpoint("ftp://x", newSecret(t)))
	require.Error(t, err)
	_, err = payment.New(store, payment.WithWebhookEndpoint("https://example.com/hook", "whsec_short"))
	require.Error(t, err)
	s := newSecret(t)
	_, err = payment.New(store, payment.WithWebhookEndpoint("https://example.com/a", s, payment.EndpointID("x")),
		payment.WithWebhookEndpoint("https://example.com/b", s, payment.EndpointID("x")))
	require.ErrorContains(t, err, "used twice")
	_, err = payment.New(store, payment.WithWebhookEndpoint("https://example.com/a", s, payment.EndpointTimeout(0)))
	require.Error(t, err)
}

func TestSignWebhookMatchesTheReferenceLibrary(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	key, err := payment.DecodeWebhookSecret(secret)
	require.NoError(t, err)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"type":"payment.succeeded"}`)
	want, err := wh.Sign("evt_1", ts, body)
	require.NoError(t, err)
	require.Equal(t, want, payment.SignWebhook("evt_1", ts, body, key))
	require.NoError(t, wh.VerifyIgnoringTimestamp(body, http.Header{
		"Webhook-Id": {"evt_1"}, "Webhook-Timestamp": {"1700000000"}, "Webhook-Signature": {payment.SignWebhook("evt_1", ts, body, key)},
	}))
}
