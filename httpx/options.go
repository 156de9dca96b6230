package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Default limits.
const (
	// DefaultMaxBodyBytes bounds the body of an API request (64 KiB).
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxWebhookBodyBytes bounds the body of an inbound provider
	// callback (256 KiB).
	DefaultMaxWebhookBodyBytes = 256 << 10
	// DefaultBodyReadTimeout bounds how long reading a request body may
	// take (10 s).
	DefaultBodyReadTimeout = 10 * time.Second
	// DefaultRateLimitRequests is the default number of requests per
	// DefaultRateLimitPer an API key may make.
	DefaultRateLimitRequests = 1000
	// DefaultRateLimitPer is the default rate-limit window.
	DefaultRateLimitPer = time.Minute
	// DefaultRateLimitBurst is the default number of requests an idle API
	// key may make at once.
	DefaultRateLimitBurst = 100
)

// Option configures the handler NewHandler builds.
type Option func(*config) error

// authKind is the authentication decision a handler was built with.
type authKind int

const (
	authUndecided authKind = iota
	authAPIKeys
	authFunc
	authNone
)

type config struct {
	auth            authKind
	apiKeys         []string
	authenticator   func(*http.Request) error
	logger          *zap.Logger
	maxBody         int64
	maxWebhookBody  int64
	bodyTimeout     time.Duration
	rateLimit       *RateLimit
	clientIP        func(*http.Request) string
	maxRateLimiters int
}

func defaultConfig() *config {
	return &config{
		logger:          zap.NewNop(),
		maxBody:         DefaultMaxBodyBytes,
		maxWebhookBody:  DefaultMaxWebhookBodyBytes,
		bodyTimeout:     DefaultBodyReadTimeout,
		clientIP:        remoteIP,
		maxRateLimiters: 10000,
	}
}

func (c *config) decide(kind authKind, name string) error {
	if c.auth != authUndecided && c.auth != kind {
		return fmt.Errorf("httpx: %s: the handler already has another authentication decision", name)
	}
	c.auth = kind
	return nil
}

// WithAPIKeys authenticates every route except the webhooks by the
// X-API-Key header, compared in constant time against each of keys (more
// than one key allows rotation). Keys must be non-empty printable ASCII
// without spaces. Calling it again adds keys.
func WithAPIKeys(keys ...string) Option {
	return func(c *config) error {
		if err := c.decide(authAPIKeys, "WithAPIKeys"); err != nil {
			return err
		}
		if len(keys) == 0 {
			return errors.New("httpx: WithAPIKeys: no keys")
		}
		for i, k := range keys {
			if !validAPIKey(k) {
				// Never print the key itself.
				return fmt.Errorf("httpx: WithAPIKeys: key %d is empty or not printable ASCII without spaces", i)
			}
		}
		c.apiKeys = append(c.apiKeys, keys...)
		return nil
	}
}

// WithAuthenticator authenticates every route except the webhooks with fn:
// a nil error lets the request through; an error wrapping ErrForbidden
// answers 403 FORBIDDEN, any other error 401 UNAUTHORIZED. The error's text
// is logged, never sent to the caller.
func WithAuthenticator(fn func(*http.Request) error) Option {
	return func(c *config) error {
		if err := c.decide(authFunc, "WithAuthenticator"); err != nil {
			return err
		}
		if fn == nil || c.authenticator != nil {
			return errors.New("httpx: WithAuthenticator: nil or second authenticator")
		}
		c.authenticator = fn
		return nil
	}
}

// WithoutAuth builds a handler that authenticates nothing, for hosts that
// authenticate in their own middleware. NewHandler refuses to build a
// handler without WithAPIKeys, WithAuthenticator or WithoutAuth.
func WithoutAuth() Option {
	return func(c *config) error { return c.decide(authNone, "WithoutAuth") }
}

// WithLogger sets the logger for the request log (default: none). Each
// request is logged once with its method, route pattern, status, duration
// and request id; errors add their code, and server errors their detail.
// Bodies, headers, query strings, card data, tokens, API keys and
// signatures are never logged.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithMaxBodyBytes sets the largest API request body (default 64 KiB).
// A larger body is answered with 413 PAYLOAD_TOO_LARGE.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("httpx: WithMaxBodyBytes: %d is not positive", n)
		}
		c.maxBody = n
		return nil
	}
}

// WithMaxWebhookBodyBytes sets the largest webhook body (default 256 KiB).
func WithMaxWebhookBodyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("httpx: WithMaxWebhookBodyBytes: %d is not positive", n)
		}
		c.maxWebhookBody = n
		return nil
	}
}

// WithBodyReadTimeout bounds how long the handler waits for a request body,
// API and webhook routes alike (default 10 s, from when the handler starts
// reading it). A client that sends its body slower, a byte at a time, is
// answered 408 INVALID_INPUT (details.field "body") and its connection is
// closed, so it cannot hold a handler. A shorter ReadTimeout of the
// http.Server still applies. The deadline is set through
// http.ResponseController, so a middleware that wraps the ResponseWriter
// must implement Unwrap for it to work.
func WithBodyReadTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("httpx: WithBodyReadTimeout: %s is not positive", d)
		}
		c.bodyTimeout = d
		return nil
	}
}

// RateLimit configures per-caller rate limiting. The zero value is the
// default: 1000 requests per minute with bursts of 100.
//
// Each caller has a token bucket that holds Burst tokens and refills at
// Requests per Per (1000/min is one token every 60 ms, about 16.7 a
// second). A request takes a token; with none left it is answered 429
// RATE_LIMITED with Retry-After. So an idle caller may send Burst (100)
// requests at once, in the same second, and then Requests per Per on
// average: never more than Burst+Requests in any window of Per.
type RateLimit struct {
	// Requests is how many requests a caller may make per Per (default 1000).
	Requests int
	// Per is the window (default one minute).
	Per time.Duration
	// Burst is how many requests an idle caller may make at once (default
	// 100).
	Burst int
	// Key names the caller a request comes from; it is called only after
	// the request was authenticated. The default is the API key that
	// matched (WithAPIKeys) or the X-API-Key header (WithAuthenticator);
	// set Key when your authenticator uses something else. Under
	// WithoutAuth, without Key, every request shares one bucket.
	Key func(*http.Request) string
}

// WithRateLimit limits each authenticated caller (API key) to rl. Only
// authenticated requests are counted, so unauthenticated callers can
// neither use up a key's budget nor grow the handler's memory. Responses
// to limited routes carry X-RateLimit-Limit (rl.Requests) and
// X-RateLimit-Remaining (whole tokens left in the caller's bucket); a 429
// carries Retry-After in seconds. Webhook routes are not limited.
func WithRateLimit(rl RateLimit) Option {
	return func(c *config) error {
		if rl.Requests < 0 || rl.Per < 0 || rl.Burst < 0 {
			return errors.New("httpx: WithRateLimit: negative value")
		}
		if rl.Requests == 0 {
			rl.Requests = DefaultRateLimitRequests
		}
		if rl.Per == 0 {
			rl.Per = DefaultRateLimitPer
		}
		if rl.Burst == 0 {
			rl.Burst = DefaultRateLimitBurst
		}
		c.rateLimit = &rl
		return nil
	}
}

// WithClientIP sets how the paying customer's IP address is found for
// checkouts (passed to providers that want it). The default is the host
// part of the request's RemoteAddr; behind a proxy, or when the caller is
// the merchant's backend, read it from a header you trust.
func WithClientIP(fn func(*http.Request) string) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("httpx: WithClientIP: nil function")
		}
		c.clientIP = fn
		return nil
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func validAPIKey(k string) bool {
	if k == "" || len(k) > 1024 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}
