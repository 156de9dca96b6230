package reliability

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
)

func newMemStore() payment.Store { return memstore.New() }

// faultMode is where an injected store failure happens.
type faultMode int

const (
	faultNone faultMode = iota
	// faultBefore fails the call without doing it: the database was away.
	faultBefore
	// faultAfter does the call, then fails it: the connection broke after
	// the commit, so the caller cannot know that it happened.
	faultAfter
)

func (m faultMode) String() string {
	switch m {
	case faultBefore:
		return "before"
	case faultAfter:
		return "after"
	case faultNone:
	}
	return "none"
}

// writeOps are the Store methods that write.
var writeOps = map[string]bool{
	"CreatePayment": true, "UpdatePayment": true, "CreateRefund": true, "UpdateRefund": true,
	"CreatePayout": true, "UpdatePayout": true, "AppendEvents": true, "AcquireIdempotencyKey": true,
	"CompleteIdempotencyKey": true, "ReleaseIdempotencyKey": true, "DeleteExpiredIdempotencyKeys": true,
	"RecordInbox": true, "UpdateInbox": true, "ClaimOutbox": true, "FailOutbox": true,
	"RedeliverOutbox": true, "AckOutbox": true, "RetryOutbox": true, "ReleaseOutbox": true, "ClaimDuePayments": true,
	"ClaimDuePayouts": true,
}

// chaosStore is a payment.Store that fails calls with
// payment.ErrUnavailable: the armed call (a crash point chosen by the
// test), or each call with a probability. It counts every call, and every
// failure it injected. It is safe for concurrent use.
type chaosStore struct {
	payment.Store

	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64 // probability that a call fails
	armed     int     // fail the call this many calls from now; -1: none
	armedMode faultMode
	armedOp   map[string]faultMode // fail the next call of the op
	calls     map[string]int
	injected  map[string]int // "op/before", "op/after"
	delay     map[string]time.Duration
}

func newChaos(s payment.Store, seed uint64) *chaosStore {
	return &chaosStore{
		Store: s, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), armed: -1,
		calls: map[string]int{}, injected: map[string]int{}, delay: map[string]time.Duration{},
		armedOp: map[string]faultMode{},
	}
}

// arm makes the call n calls from now (0: the next) fail with mode; a
// negative n disarms.
func (c *chaosStore) arm(n int, mode faultMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.armedMode = n, mode
	if n < 0 || mode == faultNone {
		c.armed = -1
	}
}

// armOp makes the next call of op fail with mode.
func (c *chaosStore) armOp(op string, mode faultMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armedOp[op] = mode
}

// setRate makes each call fail with probability r (half before, half
// after the call).
func (c *chaosStore) setRate(r float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = r
}

func (c *chaosStore) decide(op string) (faultMode, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	mode := faultNone
	switch {
	case c.armed == 0:
		mode, c.armed = c.armedMode, -1
	case c.armed > 0:
		c.armed--
	}
	if m, ok := c.armedOp[op]; ok && mode == faultNone {
		mode = m
		delete(c.armedOp, op)
	}
	if mode == faultNone && c.rate > 0 && c.rng.Float64() < c.rate {
		mode = faultBefore
		if c.rng.IntN(2) == 0 {
			mode = faultAfter
		}
	}
	if mode != faultNone {
		c.injected[op+"/"+mode.String()]++
	}
	return mode, c.delay[op]
}

// count returns how many times op was called.
func (c *chaosStore) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// writes returns how many write calls were made.
func (c *chaosStore) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for op, k := range c.calls {
		if writeOps[op] {
			n += k
		}
	}
	return n
}

// injectedTotal returns how many failures were injected, before and after.
func (c *chaosStore) injectedTotal() (before, after int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.injected {
		if strings.HasSuffix(k, "/before") {
			before += n
		} else {
			after += n
		}
	}
	return before, after
}

// injectedSummary lists the injected failures by operation.
func (c *chaosStore) injectedSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := slices.Sorted(maps.Keys(c.injected))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c.injected[k]))
	}
	return strings.Join(parts, " ")
}

func unavailable(op string) error { return fmt.Errorf("chaos: %s: %w", op, payment.ErrUnavailable) }

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func do0(ctx context.Context, c *chaosStore, op string, f func() error) error {
	mode, d := c.decide(op)
	sleepCtx(ctx, d)
	if mode == faultBefore {
		return unavailable(op)
	}
	if err := f(); err != nil {
		return err
	}
	if mode == faultAfter {
		return unavailable(op)
	}
	return nil
}

func do1[T any](ctx context.Context, c *chaosStore, op string, f func() (T, error)) (T, error) {
	var zero T
	mode, d := c.decide(op)
	sleepCtx(ctx, d)
	if mode == faultBefore {
		return zero, unavailable(op)
	}
	v, err := f()
	if err != nil {
		return v, err
	}
	if mode == faultAfter {
		return zero, unavailable(op)
	}
	return v, nil
}

func do2[T any](ctx context.Context, c *chaosStore, op string, f func() (T, bool, error)) (T, bool, error) {
	var zero T
	mode, d := c.decide(op)
	sleepCtx(ctx, d)
	if mode == faultBefore {
		return zero, false, unavailable(op)
	}
	v, ok, err := f()
	if err != nil {
		return v, ok, err
	}
	if mode == faultAfter {
		return zero, false, unavailable(op)
	}
	return v, ok, nil
}

func (c *chaosStore) CreatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	return do0(ctx, c, "CreatePayment", func() error { return c.Store.CreatePayment(ctx, p, evs) })
}

func (c *chaosStore) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	return do1(ctx, c, "GetPayment", func() (*payment.Payment, error) { return c.Store.GetPayment(ctx, id) })
}

func (c *chaosStore) GetPaymentByReference(ctx context.Context, provider, ref string) (*payment.Payment, error) {
	return do1(ctx, c, "GetPaymentByReference", func() (*payment.Payment, error) {
		return c.Store.GetPaymentByReference(ctx, provider, ref)
	})
}

func (c *chaosStore) FindPayments(ctx context.Context, provider, orderID string) ([]*payment.Payment, error) {
	return do1(ctx, c, "FindPayments", func() ([]*payment.Payment, error) {
		return c.Store.FindPayments(ctx, provider, orderID)
	})
}

func (c *chaosStore) UpdatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	return do0(ctx, c, "UpdatePayment", func() error { return c.Store.UpdatePayment(ctx, p, evs) })
}

func (c *chaosStore) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, evs []payment.Event) error {
	return do0(ctx, c, "CreateRefund", func() error { return c.Store.CreateRefund(ctx, r, p, evs) })
}

func (c *chaosStore) UpdateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, evs []payment.Event) error {
	return do0(ctx, c, "UpdateRefund", func() error { return c.Store.UpdateRefund(ctx, r, p, evs) })
}

func (c *chaosStore) GetRefund(ctx context.Context, id string) (*payment.Refund, error) {
	return do1(ctx, c, "GetRefund", func() (*payment.Refund, error) { return c.Store.GetRefund(ctx, id) })
}

func (c *chaosStore) ListRefunds(ctx context.Context, paymentID string) ([]*payment.Refund, error) {
	return do1(ctx, c, "ListRefunds", func() ([]*payment.Refund, error) { return c.Store.ListRefunds(ctx, paymentID) })
}

func (c *chaosStore) CreatePayout(ctx context.Context, p *payment.Payout, evs []payment.Event) error {
	return do0(ctx, c, "CreatePayout", func() error { return c.Store.CreatePayout(ctx, p, evs) })
}

func (c *chaosStore) GetPayout(ctx context.Context, id string) (*payment.Payout, error) {
	return do1(ctx, c, "GetPayout", func() (*payment.Payout, error) { return c.Store.GetPayout(ctx, id) })
}

func (c *chaosStore) GetPayoutByReference(ctx context.Context, provider, ref string) (*payment.Payout, error) {
	return do1(ctx, c, "GetPayoutByReference", func() (*payment.Payout, error) {
		return c.Store.GetPayoutByReference(ctx, provider, ref)
	})
}

func (c *chaosStore) UpdatePayout(ctx context.Context, p *payment.Payout, evs []payment.Event) error {
	return do0(ctx, c, "UpdatePayout", func() error { return c.Store.UpdatePayout(ctx, p, evs) })
}

func (c *chaosStore) AppendEvents(ctx context.Context, evs []payment.Event) error {
	return do0(ctx, c, "AppendEvents", func() error { return c.Store.AppendEvents(ctx, evs) })
}

func (c *chaosStore) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	return do1(ctx, c, "ListEvents", func() ([]payment.Event, error) { return c.Store.ListEvents(ctx, id) })
}

func (c *chaosStore) AcquireIdempotencyKey(ctx context.Context, rec *payment.IdempotencyRecord, now time.Time) (*payment.IdempotencyRecord, bool, error) {
	return do2(ctx, c, "AcquireIdempotencyKey", func() (*payment.IdempotencyRecord, bool, error) {
		return c.Store.AcquireIdempotencyKey(ctx, rec, now)
	})
}

func (c *chaosStore) CompleteIdempotencyKey(ctx context.Context, key string, response []byte) error {
	return do0(ctx, c, "CompleteIdempotencyKey", func() error { return c.Store.CompleteIdempotencyKey(ctx, key, response) })
}

func (c *chaosStore) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	return do0(ctx, c, "ReleaseIdempotencyKey", func() error { return c.Store.ReleaseIdempotencyKey(ctx, key) })
}

func (c *chaosStore) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	return do1(ctx, c, "DeleteExpiredIdempotencyKeys", func() (int, error) {
		return c.Store.DeleteExpiredIdempotencyKeys(ctx, now)
	})
}

func (c *chaosStore) RecordInbox(ctx context.Context, m *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	return do2(ctx, c, "RecordInbox", func() (*payment.InboxMessage, bool, error) { return c.Store.RecordInbox(ctx, m) })
}

func (c *chaosStore) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	return do1(ctx, c, "GetInbox", func() (*payment.InboxMessage, error) { return c.Store.GetInbox(ctx, provider, eventKey) })
}

func (c *chaosStore) UpdateInbox(ctx context.Context, m *payment.InboxMessage) error {
	return do0(ctx, c, "UpdateInbox", func() error { return c.Store.UpdateInbox(ctx, m) })
}

func (c *chaosStore) ListInbox(ctx context.Context, status payment.InboxStatus, limit int) ([]*payment.InboxMessage, error) {
	return do1(ctx, c, "ListInbox", func() ([]*payment.InboxMessage, error) { return c.Store.ListInbox(ctx, status, limit) })
}

func (c *chaosStore) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	return do1(ctx, c, "ClaimOutbox", func() ([]*payment.OutboxMessage, error) {
		return c.Store.ClaimOutbox(ctx, owner, now, lease, limit)
	})
}

func (c *chaosStore) FailOutbox(ctx context.Context, id, owner, lastErr string, now time.Time) error {
	return do0(ctx, c, "FailOutbox", func() error { return c.Store.FailOutbox(ctx, id, owner, lastErr, now) })
}

func (c *chaosStore) ListFailedOutbox(ctx context.Context, limit int) ([]*payment.OutboxMessage, error) {
	return do1(ctx, c, "ListFailedOutbox", func() ([]*payment.OutboxMessage, error) {
		return c.Store.ListFailedOutbox(ctx, limit)
	})
}

func (c *chaosStore) RedeliverOutbox(ctx context.Context, eventID string, now time.Time) (int, error) {
	return do1(ctx, c, "RedeliverOutbox", func() (int, error) { return c.Store.RedeliverOutbox(ctx, eventID, now) })
}

func (c *chaosStore) AckOutbox(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	return do1(ctx, c, "AckOutbox", func() (int, error) { return c.Store.AckOutbox(ctx, owner, ids, now) })
}

func (c *chaosStore) RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	return do0(ctx, c, "RetryOutbox", func() error { return c.Store.RetryOutbox(ctx, id, owner, next, lastErr) })
}

func (c *chaosStore) ReleaseOutbox(ctx context.Context, owner string, ids []string, next time.Time) (int, error) {
	return do1(ctx, c, "ReleaseOutbox", func() (int, error) { return c.Store.ReleaseOutbox(ctx, owner, ids, next) })
}

func (c *chaosStore) ClaimDuePayments(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payment, error) {
	return do1(ctx, c, "ClaimDuePayments", func() ([]*payment.Payment, error) {
		return c.Store.ClaimDuePayments(ctx, now, lease, limit)
	})
}

func (c *chaosStore) ClaimDuePayouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payout, error) {
	return do1(ctx, c, "ClaimDuePayouts", func() ([]*payment.Payout, error) {
		return c.Store.ClaimDuePayouts(ctx, now, lease, limit)
	})
}

var _ payment.Store = (*chaosStore)(nil)
