package httpx

import (
	"crypto/sha256"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per caller. Callers of a fixed set (the
// configured API keys) have a bucket each from the start; other callers
// (named by an authenticator) get one on their first authenticated
// request, up to max. When the map is full, buckets that are full again
// (their caller has been idle long enough to forget) are dropped; if none
// is, the newcomer shares an overflow bucket, so memory stays bounded.
type limiters struct {
	limit    rate.Limit
	burst    int
	requests string
	fixed    []*rate.Limiter

	mu       sync.Mutex
	dyn      map[[sha256.Size]byte]*rate.Limiter
	max      int
	overflow *rate.Limiter
}

func newLimiters(rl *RateLimit, fixed, maxDyn int) *limiters {
	l := &limiters{
		limit:    rate.Limit(float64(rl.Requests) / rl.Per.Seconds()),
		burst:    rl.Burst,
		requests: itoa(rl.Requests),
		dyn:      map[[sha256.Size]byte]*rate.Limiter{},
		max:      maxDyn,
	}
	for range fixed {
		l.fixed = append(l.fixed, rate.NewLimiter(l.limit, l.burst))
	}
	l.overflow = rate.NewLimiter(l.limit, l.burst)
	return l
}

// get returns the caller's bucket.
func (l *limiters) get(identity string, index int, now time.Time) *rate.Limiter {
	if index >= 0 && index < len(l.fixed) {
		return l.fixed[index]
	}
	// Hashed, so raw credentials are not kept as map keys.
	k := sha256.Sum256([]byte(identity))
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.dyn[k]; ok {
		return lim
	}
	if len(l.dyn) >= l.max {
		for key, lim := range l.dyn {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.dyn, key)
			}
		}
		if len(l.dyn) >= l.max {
			return l.overflow
		}
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.dyn[k] = lim
	return lim
}

// take takes a token from lim. It returns the whole tokens left, or, when
// none was available, false and how long until one is.
func (l *limiters) take(lim *rate.Limiter, now time.Time) (remaining int, retryAfter time.Duration, ok bool) {
	if lim.AllowN(now, 1) {
		return max(int(lim.TokensAt(now)), 0), 0, true
	}
	missing := 1 - lim.TokensAt(now)
	wait := time.Duration(math.Ceil(missing / float64(l.limit) * float64(time.Second)))
	return 0, max(wait, time.Millisecond), false
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return itoa(max(s, 1))
}
