package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
)

func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	svc, err := payment.New(memstore.New())
	require.NoError(t, err)
	hh, err := NewHandler(svc, WithAPIKeys("sk_test_rl"), WithRateLimit(RateLimit{}))
	require.NoError(t, err)
	h := hh.(*handler)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }
	get := func() *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/providers", nil)
		r.Header.Set("X-API-Key", "sk_test_rl")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range DefaultRateLimitBurst {
		w := get()
		require.Equal(t, http.StatusOK, w.Code, "request %d of the burst", i+1)
		require.Equal(t, "1000", w.Header().Get("X-RateLimit-Limit"))
		require.Equal(t, itoa(DefaultRateLimitBurst-1-i), w.Header().Get("X-RateLimit-Remaining"))
	}
	w := get()
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the 101st request in the same instant")
	require.Equal(t, "1", w.Header().Get("Retry-After"), "1000/min refills a token every 60 ms")

	// 60 ms later one more request goes through; a minute later a full
	// burst again (the bucket holds at most 100).
	now = now.Add(60 * time.Millisecond)
	require.Equal(t, http.StatusOK, get().Code)
	require.Equal(t, http.StatusTooManyRequests, get().Code)
	now = now.Add(time.Minute)
	for range DefaultRateLimitBurst {
		require.Equal(t, http.StatusOK, get().Code)
	}
	require.Equal(t, http.StatusTooManyRequests, get().Code)
}

func TestLimitersStayBounded(t *testing.T) {
	t.Parallel()
	rl := &RateLimit{Requests: 60, Per: time.Minute, Burst: 2}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

	// Idle callers (full buckets) make room for new ones.
	l := newLimiters(rl, 0, 2)
	a := l.get("a", -1, now)
	require.Same(t, a, l.get("a", -1, now))
	l.get("b", -1, now)
	c := l.get("c", -1, now)
	require.NotSame(t, l.overflow, c)
	require.LessOrEqual(t, len(l.dyn), 2)

	// Busy callers are kept; a newcomer shares the overflow bucket.
	l = newLimiters(rl, 0, 2)
	for _, id := range []string{"x", "y"} {
		_, _, ok := l.take(l.get(id, -1, now), now)
		require.True(t, ok)
	}
	require.Same(t, l.overflow, l.get("z", -1, now))
	require.Len(t, l.dyn, 2)

	// Keys of the fixed set have their own buckets and never touch the map.
	l = newLimiters(rl, 2, 2)
	require.Same(t, l.fixed[1], l.get("ignored", 1, now))
	require.Empty(t, l.dyn)
}

func TestTakeRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	l := newLimiters(&RateLimit{Requests: 1, Per: 10 * time.Second, Burst: 1}, 1, 1)
	lim := l.fixed[0]
	remaining, _, ok := l.take(lim, now)
	require.True(t, ok)
	require.Equal(t, 0, remaining)
	_, wait, ok := l.take(lim, now.Add(2*time.Second))
	require.False(t, ok)
	require.InDelta(t, float64(8*time.Second), float64(wait), float64(time.Millisecond))
	require.Equal(t, "8", retryAfterSeconds(wait))
	require.Equal(t, "1", retryAfterSeconds(time.Millisecond))
}
