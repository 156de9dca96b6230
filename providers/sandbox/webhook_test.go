package sandbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

const testBody = `{"id":"evt_sbx_pay_1_succeeded","type":"payment.succeeded","created":1795262400,` +
	`"data":{"object":"payment","id":"pay_1","order_id":"o1","reference":"sbx_ch_1","status":"succeeded","amount":100000,"currency":"THB"}}`

// TestSignatureVector pins the signature scheme with an independent
// computation: hex(HMAC-SHA256(secret, timestamp "." body)).
func TestSignatureVector(t *testing.T) {
	t.Parallel()
	mac := hmac.New(sha256.New, []byte("whsec_sandbox_test_secret"))
	mac.Write([]byte("1795262400." + testBody))
	want := hex.EncodeToString(mac.Sum(nil))
	require.Equal(t, want, sandbox.Signature(sandbox.DefaultWebhookSecret, 1795262400, []byte(testBody)))

	wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, time.Unix(1795262400, 0), []byte(testBody))
	require.Equal(t, "1795262400", wr.Header.Get("Sandbox-Timestamp"))
	require.Equal(t, want, wr.Header.Get("Sandbox-Signature"))
	require.Equal(t, "application/json", wr.Header.Get("Content-Type"))
	require.True(t, bytes.Equal([]byte(testBody), wr.Body), "the body is sent byte for byte")
}

func TestParseWebhookSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.clock.Now()
	body := []byte(testBody)
	tests := []struct {
		name string
		req  func() *payment.WebhookRequest
		ok   bool
	}{
		{"good", func() *payment.WebhookRequest { return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body) }, true},
		{"299 s old", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(-299*time.Second), body)
		}, true},
		{"300 s old", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(-300*time.Second), body)
		}, true},
		{"300 s ahead", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(300*time.Second), body)
		}, true},
		{"301 s old", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(-301*time.Second), body)
		}, false},
		{"301 s ahead", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(301*time.Second), body)
		}, false},
		{"a day old", func() *payment.WebhookRequest {
			return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(-24*time.Hour), body)
		}, false},
		{"wrong secret", func() *payment.WebhookRequest { return sandbox.SignWebhook("whsec_other", now, body) }, false},
		{"body changed", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Body[len(wr.Body)-5] ^= 1
			return wr
		}, false},
		{"body empty", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Body = nil
			return wr
		}, false},
		{"signature bit flipped", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			sig := []byte(wr.Header.Get(sandbox.HeaderSignature))
			sig[10] ^= 1
			wr.Header.Set(sandbox.HeaderSignature, string(sig))
			return wr
		}, false},
		{"signature upper-case hex of another body", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, []byte("{}"))
			wr.Body = body
			return wr
		}, false},
		{"signature truncated", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderSignature, wr.Header.Get(sandbox.HeaderSignature)[:62])
			return wr
		}, false},
		{"signature not hex", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderSignature, "zz"+wr.Header.Get(sandbox.HeaderSignature)[2:])
			return wr
		}, false},
		{"signature missing", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Del(sandbox.HeaderSignature)
			return wr
		}, false},
		{"timestamp changed", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return wr
		}, false},
		{"timestamp missing", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Del(sandbox.HeaderTimestamp)
			return wr
		}, false},
		{"timestamp negative", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderTimestamp, "-1")
			return wr
		}, false},
		{"timestamp huge", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderTimestamp, "99999999999999999999999")
			return wr
		}, false},
		{"timestamp not a number", func() *payment.WebhookRequest {
			wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
			wr.Header.Set(sandbox.HeaderTimestamp, "1e9")
			return wr
		}, false},
		{"no headers", func() *payment.WebhookRequest { return &payment.WebhookRequest{Body: body} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := b.sb.ParseWebhook(t.Context(), tt.req())
			if !tt.ok {
				require.ErrorIs(t, err, payment.ErrInvalidSignature)
				require.Nil(t, res)
				return
			}
			require.NoError(t, err)
			require.Equal(t, &payment.WebhookResult{Events: []payment.WebhookEvent{{
				Key:               "evt_sbx_pay_1_succeeded",
				PaymentID:         "pay_1",
				OrderID:           "o1",
				ProviderReference: "sbx_ch_1",
				Payment: &payment.PaymentState{
					Status:            payment.StatusSucceeded,
					ProviderReference: "sbx_ch_1",
					Amount:            &payment.Money{Amount: 100000, Currency: "THB"},
				},
				OccurredAt: time.Unix(1795262400, 0).UTC(),
			}}}, res)
		})
	}
	_, err := b.sb.ParseWebhook(t.Context(), nil)
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
}

func TestParseWebhookCustomSecretAndTolerance(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithWebhookSecret("whsec_mine"), sandbox.WithTolerance(10*time.Second))
	body := []byte(testBody)
	_, err := b.sb.ParseWebhook(t.Context(), sandbox.SignWebhook("whsec_mine", b.clock.Now().Add(-10*time.Second), body))
	require.NoError(t, err)
	_, err = b.sb.ParseWebhook(t.Context(), sandbox.SignWebhook("whsec_mine", b.clock.Now().Add(-11*time.Second), body))
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	_, err = b.sb.ParseWebhook(t.Context(), sandbox.SignWebhook(sandbox.DefaultWebhookSecret, b.clock.Now(), body))
	require.ErrorIs(t, err, payment.ErrInvalidSignature, "the default secret no longer verifies")
}

func TestParseWebhookBadBodies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct{ name, body string }{
		{"not JSON", `not json`},
		{"empty object", `{}`},
		{"no object id", `{"id":"e1","data":{"object":"payment","status":"succeeded"}}`},
		{"unknown object", `{"id":"e1","data":{"object":"invoice","id":"x","status":"paid"}}`},
		{"unknown payment status", `{"id":"e1","data":{"object":"payment","id":"pay_1","status":"paid"}}`},
		{"unknown payout status", `{"id":"e1","data":{"object":"payout","id":"po_1","status":"done"}}`},
		{"fractional amount", `{"id":"e1","data":{"object":"payment","id":"pay_1","status":"succeeded","amount":10.5}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.sb.ParseWebhook(t.Context(), sandbox.SignWebhook(sandbox.DefaultWebhookSecret, b.clock.Now(), []byte(tt.body)))
			require.ErrorIs(t, err, payment.ErrInvalidInput, "a verified body that is not a sandbox event")
			require.NotErrorIs(t, err, payment.ErrInvalidSignature)
		})
	}
}

func TestCustomerActionsSendCallbacks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	paid := qrReq(100000, "THB")
	st, err := b.sb.Start(ctx, paid)
	require.NoError(t, err)
	require.NoError(t, b.sb.Pay(ctx, paid.Payment.ID))
	ev := parse(t, b.sb, b.inbox.last(paid.Payment.ID))
	require.Equal(t, paid.Payment.ID, ev.PaymentID)
	require.Equal(t, paid.Payment.OrderID, ev.OrderID)
	require.Equal(t, st.ProviderReference, ev.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, ev.Payment.Amount)
	require.Equal(t, b.clock.Now(), ev.OccurredAt)
	requireBalance(t, b.sb, "THB", 100000, 0)

	err = b.sb.Pay(ctx, paid.Payment.ID)
	require.ErrorIs(t, err, payment.ErrInvalidState, "paying twice")
	require.ErrorIs(t, b.sb.Decline(ctx, paid.Payment.ID), payment.ErrInvalidState)
	require.ErrorIs(t, b.sb.Expire(ctx, paid.Payment.ID), payment.ErrInvalidState)
	require.Equal(t, 1, b.inbox.count(paid.Payment.ID), "a refused action sends nothing")

	// A resend is a duplicate: same key.
	require.NoError(t, b.sb.Resend(ctx, paid.Payment.ID))
	require.Equal(t, 2, b.inbox.count(paid.Payment.ID))
	require.Equal(t, ev.Key, parse(t, b.sb, b.inbox.last(paid.Payment.ID)).Key)

	declined := qrReq(100, "THB")
	_, err = b.sb.Start(ctx, declined)
	require.NoError(t, err)
	require.NoError(t, b.sb.Decline(ctx, declined.Payment.ID))
	ev2 := parse(t, b.sb, b.inbox.last(declined.Payment.ID))
	require.Equal(t, payment.StatusFailed, ev2.Payment.Status)
	require.Equal(t, &payment.Failure{Code: "declined", Message: "the customer declined the payment"}, ev2.Payment.Failure)
	require.Nil(t, ev2.Payment.Amount, "no money moved")
	require.NotEqual(t, ev.Key, ev2.Key)

	card := startOTP(t, b)
	require.NoError(t, b.sb.Decline(ctx, card))
	require.Equal(t, payment.FailureCardDeclined, parse(t, b.sb, b.inbox.last(card)).Payment.Failure.Code)

	expired := qrReq(100, "THB")
	_, err = b.sb.Start(ctx, expired)
	require.NoError(t, err)
	require.NoError(t, b.sb.Expire(ctx, expired.Payment.ID))
	ev3 := parse(t, b.sb, b.inbox.last(expired.Payment.ID))
	require.Equal(t, payment.StatusExpired, ev3.Payment.Status)
	require.Equal(t, payment.FailureExpired, ev3.Payment.Failure.Code)

	// Authorizations expire too, releasing the hold.
	auth := cardReq(t, sandbox.CardVisa, 700, "THB")
	auth.Payment.CaptureMethod = payment.CaptureManual
	_, err = b.sb.Start(ctx, auth)
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 100000, 700)
	require.NoError(t, b.sb.Expire(ctx, auth.Payment.ID))
	requireBalance(t, b.sb, "THB", 100000, 0)

	for _, act := range []func(context.Context, string) error{b.sb.Pay, b.sb.Decline, b.sb.Expire, b.sb.Resend} {
		require.ErrorIs(t, act(ctx, "pay_unknown"), payment.ErrNotFound)
	}
}

// startOTP starts an OTP card payment and returns its id.
func startOTP(t *testing.T, b *bundle) string {
	t.Helper()
	req := cardReq(t, sandbox.CardVisa, 100, "THB")
	req.Card = nil
	req.PaymentToken = sandbox.TokenOTP
	_, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	return req.Payment.ID
}

func TestPayManualCaptureAuthorizes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 100, "THB")
	req.Card = nil
	req.PaymentToken = sandbox.TokenOTP
	req.Payment.CaptureMethod = payment.CaptureManual
	_, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, b.sb.Pay(t.Context(), req.Payment.ID))
	ev := parse(t, b.sb, b.inbox.last(req.Payment.ID))
	require.Equal(t, payment.StatusAuthorized, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 100, Currency: "THB"}, ev.Payment.Amount)
}

func TestWebhookFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 100, "THB")
	_, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)

	stale, err := b.sb.WebhookFor(req.Payment.ID, payment.StatusPending)
	require.NoError(t, err)
	ev := parse(t, b.sb, stale)
	require.Equal(t, payment.StatusPending, ev.Payment.Status)
	require.Equal(t, "evt_sbx_"+req.Payment.ID+"_pending", ev.Key)

	ok, err := b.sb.WebhookFor(req.Payment.ID, payment.StatusSucceeded)
	require.NoError(t, err)
	require.NotEqual(t, ev.Key, parse(t, b.sb, ok).Key, "keys are unique per (payment, status)")

	_, err = b.sb.WebhookFor("pay_unknown", payment.StatusSucceeded)
	require.ErrorIs(t, err, payment.ErrNotFound)
	_, err = b.sb.WebhookFor(req.Payment.ID, "paid")
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

// httpCallbacks is a host webhook endpoint that records what it gets and
// fails the first failures requests.
type httpCallbacks struct {
	srv      *httptest.Server
	failures atomic.Int32
	mu       sync.Mutex
	got      []*payment.WebhookRequest
	arrived  chan struct{}
}

func newHTTPCallbacks(t testing.TB, failures int32) *httpCallbacks {
	t.Helper()
	h := &httpCallbacks{arrived: make(chan struct{}, 100)}
	h.failures.Store(failures)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if h.failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			h.arrived <- struct{}{}
			return
		}
		h.mu.Lock()
		h.got = append(h.got, &payment.WebhookRequest{Header: r.Header.Clone(), Body: body})
		h.mu.Unlock()
		h.arrived <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *httpCallbacks) received() []*payment.WebhookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*payment.WebhookRequest(nil), h.got...)
}

func (h *httpCallbacks) wait(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.arrived:
		case <-time.After(10 * time.Second):
			require.FailNow(t, "callback did not arrive")
		}
	}
}

func TestHTTPDelivery(t *testing.T) {
	t.Parallel()
	host := newHTTPCallbacks(t, 0)
	sb, err := sandbox.New(sandbox.WithQRImage(false))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })

	req := qrReq(2500, "USD")
	req.NotifyURL = host.srv.URL + "/webhooks/sandbox"
	_, err = sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), req.Payment.ID))

	got := host.received()
	require.Len(t, got, 1, "the first attempt is made before Pay returns")
	wr := got[0]
	ts, err := strconv.ParseInt(wr.Header.Get("Sandbox-Timestamp"), 10, 64)
	require.NoError(t, err)
	require.Equal(t, sandbox.Signature(sandbox.DefaultWebhookSecret, ts, wr.Body), wr.Header.Get("Sandbox-Signature"))
	require.Equal(t, "application/json", wr.Header.Get("Content-Type"))
	var ev sandbox.Event
	require.NoError(t, json.Unmarshal(wr.Body, &ev))
	require.Equal(t, "payment.succeeded", ev.Type)
	require.Equal(t, req.Payment.ID, ev.Data.ID)

	res, err := sb.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)

	// Without a notify URL nothing is sent; Sync still sees the change.
	quiet := qrReq(2500, "USD")
	st, err := sb.Start(t.Context(), quiet)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), quiet.Payment.ID))
	synced, err := sb.Sync(t.Context(), recordOf(quiet, st))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, synced.Status)
	require.Len(t, host.received(), 1)
}

func TestHTTPDeliveryRetries(t *testing.T) {
	t.Parallel()
	host := newHTTPCallbacks(t, 2)
	sb, err := sandbox.New(sandbox.WithQRImage(false), sandbox.WithDeliveryRetry(4, 5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	req := qrReq(2500, "USD")
	req.NotifyURL = host.srv.URL
	_, err = sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), req.Payment.ID), "a failed delivery does not fail the action")
	host.wait(t, 3) // two 503s, then the delivery
	got := host.received()
	require.Len(t, got, 1)
	_, err = sb.ParseWebhook(t.Context(), got[0])
	require.NoError(t, err)
}

func TestDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	deliver := func(context.Context, *payment.WebhookRequest) error {
		calls.Add(1)
		return errors.New("host down")
	}
	sb, err := sandbox.New(sandbox.WithDeliver(deliver), sandbox.WithDeliveryRetry(3, time.Millisecond))
	require.NoError(t, err)
	req := qrReq(100, "THB")
	_, err = sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), req.Payment.ID))
	require.Eventually(t, func() bool { return calls.Load() == 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, sb.Close())
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, int32(3), calls.Load(), "bounded: 3 attempts in all")
}

func TestCloseStopsRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	deliver := func(context.Context, *payment.WebhookRequest) error {
		calls.Add(1)
		return errors.New("host down")
	}
	sb, err := sandbox.New(sandbox.WithDeliver(deliver), sandbox.WithDeliveryRetry(1000, time.Hour))
	require.NoError(t, err)
	req := qrReq(100, "THB")
	_, err = sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), req.Payment.ID))
	done := make(chan struct{})
	go func() {
		_ = sb.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Close did not stop the retry loop")
	}
	require.Equal(t, int32(1), calls.Load())

	// After Close, actions still work; failed deliveries are not retried.
	req2 := qrReq(100, "THB")
	_, err = sb.Start(t.Context(), req2)
	require.NoError(t, err)
	require.NoError(t, sb.Pay(t.Context(), req2.Payment.ID))
	require.Equal(t, int32(2), calls.Load())
}

func TestActionsHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithOpeningBalance("THB", 1000000))
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", b.sb.ActionsHandler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	do := func(method, path string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		if resp.Header.Get("Content-Type") == "application/json" {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		}
		return resp.StatusCode, out
	}

	req := qrReq(100000, "THB")
	_, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	id := req.Payment.ID

	code, body := do(http.MethodGet, "/sandbox/payments/"+id)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "requires_action", body["status"])

	code, body = do(http.MethodPost, "/sandbox/payments/"+id+"/pay")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "sandbox_payment", body["object"])
	require.Equal(t, id, body["id"])
	require.Equal(t, "succeeded", body["status"])
	require.Equal(t, payment.StatusSucceeded, parse(t, b.sb, b.inbox.last(id)).Payment.Status)

	code, body = do(http.MethodPost, "/sandbox/payments/"+id+"/decline")
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "INVALID_STATE", body["error"].(map[string]any)["code"])

	code, body = do(http.MethodPost, "/sandbox/payments/pay_unknown/pay")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "NOT_FOUND", body["error"].(map[string]any)["code"])
	code, _ = do(http.MethodGet, "/sandbox/payments/pay_unknown")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = do(http.MethodGet, "/sandbox/payments/"+id+"/pay")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	for _, action := range []string{"decline", "expire"} {
		r := qrReq(100, "THB")
		_, err := b.sb.Start(t.Context(), r)
		require.NoError(t, err)
		code, body := do(http.MethodPost, "/sandbox/payments/"+r.Payment.ID+"/"+action)
		require.Equal(t, http.StatusOK, code, action)
		require.Equal(t, map[string]string{"decline": "failed", "expire": "expired"}[action], body["status"])
	}
	code, _ = do(http.MethodPost, "/sandbox/payments/"+id+"/resend")
	require.Equal(t, http.StatusOK, code)

	for _, action := range []string{"complete", "fail"} {
		po := payoutReq(10000, "THB")
		_, err := b.sb.StartPayout(t.Context(), po)
		require.NoError(t, err)
		code, body := do(http.MethodPost, "/sandbox/payouts/"+po.Payout.ID+"/"+action)
		require.Equal(t, http.StatusOK, code, action)
		require.Equal(t, "sandbox_payout", body["object"])
		require.Equal(t, map[string]string{"complete": "succeeded", "fail": "failed"}[action], body["status"])
		code, body = do(http.MethodGet, "/sandbox/payouts/"+po.Payout.ID)
		require.Equal(t, http.StatusOK, code)
		require.InDelta(t, 100, body["fee"], 0) // 1% of 100.00
		code, _ = do(http.MethodPost, "/sandbox/payouts/"+po.Payout.ID+"/"+action)
		require.Equal(t, http.StatusConflict, code)
	}
	code, _ = do(http.MethodPost, "/sandbox/payouts/po_unknown/complete")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = do(http.MethodGet, "/sandbox/payouts/po_unknown")
	require.Equal(t, http.StatusNotFound, code)
}
