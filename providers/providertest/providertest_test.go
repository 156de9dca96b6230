package providertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/sandbox"
)

// broken wraps the sandbox and breaks one contract, to prove the suite
// notices.
type broken struct {
	*sandbox.Provider
	mode string
	mu   sync.Mutex
	n    int
}

func (b *broken) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	if b.mode == "not-idempotent" {
		b.mu.Lock()
		b.n++
		n := b.n
		b.mu.Unlock()
		c := *req
		c.Payment = req.Payment.Clone()
		c.Payment.ID += strings.Repeat("x", n)
		c.IdempotencyKey = c.Payment.ID
		return b.Provider.Start(ctx, &c)
	}
	if b.mode == "modifies-payment" {
		req.Payment.Description = "rewritten by the provider"
	}
	return b.Provider.Start(ctx, req)
}

func (b *broken) ParseWebhook(ctx context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	switch b.mode {
	case "unsigned":
		if req != nil {
			req = sandbox.SignWebhook(sandbox.DefaultWebhookSecret, time.Now(), req.Body)
		}
	case "panics":
		if req != nil && len(req.Body) == 0 {
			panic("empty body")
		}
	case "wrong-error":
		res, err := b.Provider.ParseWebhook(ctx, req)
		if errors.Is(err, payment.ErrInvalidSignature) {
			return nil, errors.New("bad callback")
		}
		return res, err
	}
	res, err := b.Provider.ParseWebhook(ctx, req)
	if err != nil {
		return nil, err
	}
	ev := &res.Events[0]
	switch b.mode {
	case "wrong-amount":
		if ev.Payment != nil && ev.Payment.Amount != nil {
			ev.Payment.Amount.Amount++
		}
	case "no-key":
		ev.Key = ""
	case "random-key":
		b.mu.Lock()
		b.n++
		ev.Key += strings.Repeat("x", b.n)
		b.mu.Unlock()
	case "foreign-event":
		ev.PaymentID, ev.ProviderReference, ev.OrderID = "pay_someone_else", "", ""
	}
	return res, nil
}

func (b *broken) Sync(ctx context.Context, p *payment.Payment) (*payment.PaymentState, error) {
	st, err := b.Provider.Sync(ctx, p)
	if err == nil && b.mode == "sync-disagrees" && st.Status == payment.StatusSucceeded {
		st.Status = payment.StatusProcessing
	}
	return st, err
}

func (b *broken) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	st, err := b.Provider.Refund(ctx, req)
	if b.mode == "overdraw" && errors.Is(err, payment.ErrRefundExceedsCaptured) {
		return &payment.RefundState{Status: payment.RefundSucceeded, ProviderReference: "sbx_re_over"}, nil
	}
	return st, err
}

// harness returns a harness for provider p (the sandbox, possibly
// wrapped), with callbacks captured in process.
func harness(t testing.TB, wrap func(*sandbox.Provider) payment.Provider) providertest.Harness {
	t.Helper()
	var (
		mu   sync.Mutex
		last = map[string]*payment.WebhookRequest{}
	)
	sb, err := sandbox.New(sandbox.WithQRImage(false), sandbox.WithDeliver(func(_ context.Context, req *payment.WebhookRequest) error {
		var ev sandbox.Event
		if err := json.Unmarshal(req.Body, &ev); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		last[ev.Data.ID] = req
		return nil
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	callback := func(id string) *payment.WebhookRequest {
		mu.Lock()
		defer mu.Unlock()
		return last[id]
	}
	return providertest.Harness{
		Provider: wrap(sb),
		Checkout: func(testing.TB) *payment.StartRequest {
			return providertest.NewStartRequest(sb.Name(), payment.MethodQR, 10000, "THB")
		},
		Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sb.Pay(ctx, p.ID); err != nil {
				return nil, err
			}
			return callback(p.ID), nil
		},
		Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sb.Decline(ctx, p.ID); err != nil {
				return nil, err
			}
			return callback(p.ID), nil
		},
		Charges: func(p *payment.Payment) int { return sb.ChargesFor(p.ID) },
	}
}

func TestRunPassesOnTheSandbox(t *testing.T) {
	t.Parallel()
	providertest.Run(t, harness(t, func(sb *sandbox.Provider) payment.Provider { return sb }))
}

// TestBrokenProvider runs the suite on a broken provider; it is run in a
// child process by TestRunCatchesBrokenProviders, and skips otherwise.
func TestBrokenProvider(t *testing.T) {
	mode := os.Getenv("PROVIDERTEST_BROKEN")
	if mode == "" {
		t.Skip("run by TestRunCatchesBrokenProviders")
	}
	providertest.Run(t, harness(t, func(sb *sandbox.Provider) payment.Provider {
		return &broken{Provider: sb, mode: mode}
	}))
}

func TestRunCatchesBrokenProviders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    string
		subtest string
		message string
	}{
		{"unsigned", "TamperedWebhook", "must be rejected with"},
		{"wrong-error", "TamperedWebhook", "an error wrapping ErrInvalidSignature"},
		{"not-idempotent", "StartIdempotent", "must return the same provider reference"},
		{"wrong-amount", "Pay", "the amount a callback reports must be the payment's amount"},
		{"no-key", "Pay", "must carry a Key"},
		{"random-key", "DuplicateWebhook", "a duplicate callback must parse to the same event Keys"},
		{"foreign-event", "Pay", "identifies the payment"},
		{"panics", "GarbageWebhook", "must never panic"},
		{"sync-disagrees", "Pay", "Sync must agree with the callback"},
		{"overdraw", "Refund", "beyond the captured amount must be refused"},
		{"modifies-payment", "Start", "must not modify the request's Payment"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenProvider$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "PROVIDERTEST_BROKEN="+tt.mode)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite must fail a provider that is %s:\n%s", tt.mode, out)
			require.Contains(t, string(out), "--- FAIL: TestBrokenProvider/"+tt.subtest, "output:\n%s", out)
			require.Contains(t, string(out), tt.message, "output:\n%s", out)
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := providertest.NewID(payment.PrefixPayment)
		require.True(t, strings.HasPrefix(id, "pay_"))
		require.Len(t, id, 4+26)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	rec := providertest.NewRecorder(t)
	post := func(url, body string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Sign", "abc")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, post(rec.URLFor("pay_1")+"?a=b", "one"))
	require.Equal(t, http.StatusOK, post(rec.URLFor("pay_2"), "two"))
	rec.SetResponse(http.StatusAccepted, "application/json", []byte(`{"status":"ok"}`))
	require.Equal(t, http.StatusAccepted, post(rec.URLFor("pay_1"), "three"))
	require.Equal(t, 2, rec.Count("pay_1"))
	require.Equal(t, 3, rec.Count(""))

	got, err := rec.Next(t.Context(), "pay_1")
	require.NoError(t, err)
	require.Equal(t, "one", string(got.Body))
	require.Equal(t, "b", got.Query.Get("a"))
	require.Equal(t, "abc", got.Header.Get("X-Sign"))
	got, err = rec.Next(t.Context(), "pay_1")
	require.NoError(t, err)
	require.Equal(t, "three", string(got.Body))
	got, err = rec.Next(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, "two", string(got.Body))

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = rec.Next(ctx, "pay_1")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Next waits for a callback that arrives later.
	done := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Post(rec.URLFor("pay_3"), "text/plain", strings.NewReader("late"))
		if err == nil {
			err = resp.Body.Close()
		}
		done <- err
	}()
	got, err = rec.Next(t.Context(), "pay_3")
	require.NoError(t, err)
	require.Equal(t, "late", string(got.Body))
	require.NoError(t, <-done)
}
