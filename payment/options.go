package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Option configures a Service. Nil options are skipped.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Subscriber receives every notifying event at least once, in order per
// payment (or payout). Returning an error makes the dispatcher retry the
// event later with backoff. Subscribers deduplicate on Event.ID. Calls for
// different payments may run concurrently; calls for one payment never do.
type Subscriber func(ctx context.Context, e Event) error

type config struct {
	providers           map[string]Provider
	providerOrder       []string
	logger              *zap.Logger
	clock               Clock
	subscribers         []Subscriber
	idempotencyTTL      time.Duration
	idempotencyLock     time.Duration
	sweepInterval       time.Duration
	dispatchInterval    time.Duration
	syncAfter           time.Duration
	maxSyncInterval     time.Duration
	abandonAfter        time.Duration
	providerTimeout     time.Duration
	webhookBaseURL      string
	instanceID          string
	sweepBatch          int
	sweepConcurrency    int
	dispatchBatch       int
	dispatchLease       time.Duration
	maxDispatchBackoff  time.Duration
	endpoints           []*endpoint
	webhookRetryWindow  time.Duration
	dispatchConcurrency int
}

func defaultConfig() *config {
	return &config{
		providers:           map[string]Provider{},
		logger:              zap.NewNop(),
		clock:               systemClock{},
		idempotencyTTL:      24 * time.Hour,
		idempotencyLock:     time.Minute,
		sweepInterval:       30 * time.Second,
		dispatchInterval:    time.Second,
		syncAfter:           time.Minute,
		maxSyncInterval:     time.Hour,
		abandonAfter:        24 * time.Hour,
		providerTimeout:     30 * time.Second,
		sweepBatch:          100,
		sweepConcurrency:    4,
		dispatchBatch:       100,
		dispatchLease:       time.Minute,
		maxDispatchBackoff:  time.Hour,
		webhookRetryWindow:  72 * time.Hour,
		dispatchConcurrency: 8,
	}
}

// WithProvider registers a provider under its Name. Registering two
// providers with one name is an error.
func WithProvider(p Provider) Option {
	return optionFunc(func(c *config) error {
		if p == nil {
			return errors.New("payment: WithProvider: nil provider")
		}
		name := p.Name()
		if name == "" || strings.ContainsAny(name, "/ ") {
			return fmt.Errorf("payment: WithProvider: invalid provider name %q", name)
		}
		if _, dup := c.providers[name]; dup {
			return fmt.Errorf("payment: WithProvider: provider %q registered twice", name)
		}
		c.providers[name] = p
		c.providerOrder = append(c.providerOrder, name)
		return nil
	})
}

// WithLogger sets the logger (default: no logging). Card data, tokens and
// secrets are never logged.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	})
}

// WithClock sets the clock every time is read from (default: the system
// clock in UTC).
func WithClock(clock Clock) Option {
	return optionFunc(func(c *config) error {
		if clock != nil {
			c.clock = clock
		}
		return nil
	})
}

// WithSubscriber adds an in-process subscriber. Several may be added; each
// event is retried until every subscriber accepted it.
func WithSubscriber(fn Subscriber) Option {
	return optionFunc(func(c *config) error {
		if fn != nil {
			c.subscribers = append(c.subscribers, fn)
		}
		return nil
	})
}

func durationOption(name string, d time.Duration, set func(*config)) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("payment: %s must be positive, got %s", name, d)
		}
		set(c)
		return nil
	})
}

// WithIdempotencyTTL sets how long an idempotency key's result is replayed
// (default 24 h).
func WithIdempotencyTTL(d time.Duration) Option {
	return durationOption("WithIdempotencyTTL", d, func(c *config) { c.idempotencyTTL = d })
}

// WithIdempotencyLockTimeout sets how long a request holds its idempotency
// key before a retry may take it over and resume its work (default 1 min).
// Keep it above the provider timeout.
func WithIdempotencyLockTimeout(d time.Duration) Option {
	return durationOption("WithIdempotencyLockTimeout", d, func(c *config) { c.idempotencyLock = d })
}

// WithSweepInterval sets how often Run's sweeper looks for payments to
// reconcile (default 30 s).
func WithSweepInterval(d time.Duration) Option {
	return durationOption("WithSweepInterval", d, func(c *config) { c.sweepInterval = d })
}

// WithDispatchInterval sets how often Run's dispatcher polls the outbox
// when nothing woke it (default 1 s).
func WithDispatchInterval(d time.Duration) Option {
	return durationOption("WithDispatchInterval", d, func(c *config) { c.dispatchInterval = d })
}

// WithSyncAfter sets how long a payment may stay pending, processing or
// requires_action before the sweeper first asks the provider (default
// 1 min). Later asks back off up to an hour apart.
func WithSyncAfter(d time.Duration) Option {
	return durationOption("WithSyncAfter", d, func(c *config) { c.syncAfter = d })
}

// WithAbandonAfter sets when a payment without an expiry of its own counts
// as abandoned (default 24 h after creation). The sweeper expires an
// abandoned payment only after the provider confirms it was not paid.
func WithAbandonAfter(d time.Duration) Option {
	return durationOption("WithAbandonAfter", d, func(c *config) { c.abandonAfter = d })
}

// WithProviderTimeout bounds every provider call (default 30 s). A call
// that times out leaves the payment processing, never failed.
func WithProviderTimeout(d time.Duration) Option {
	return durationOption("WithProviderTimeout", d, func(c *config) { c.providerTimeout = d })
}

// WithWebhookBaseURL sets the public URL under which the host mounted the
// webhook routes ("https://shop.example/pay"); providers are told to send
// callbacks to base + "/webhooks/" + provider name.
func WithWebhookBaseURL(base string) Option {
	return optionFunc(func(c *config) error {
		if base != "" && !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return fmt.Errorf("payment: WithWebhookBaseURL: %q is not an http(s) URL", base)
		}
		c.webhookBaseURL = strings.TrimRight(base, "/")
		return nil
	})
}

// WithInstanceID names this instance in leases (default: a random id).
func WithInstanceID(id string) Option {
	return optionFunc(func(c *config) error {
		c.instanceID = id
		return nil
	})
}
