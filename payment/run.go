package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Run runs the sweeper and the notification dispatcher until ctx ends,
// then returns nil. Several instances (processes) may run it against one
// store at once: the store's leases keep them from doing the same work.
// Within one process, run it once per Service: while one call runs, a
// second leaves notifications to the claims instead of delivering them
// straight after their writes.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	if s.home && s.direct.start(s.owner) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runDirect(ctx)
		}()
	}
	go func() {
		defer wg.Done()
		s.loop(ctx, s.cfg.sweepInterval, nil, "sweep", s.sweepBacklog)
	}()
	go func() {
		defer wg.Done()
		s.loop(ctx, s.cfg.dispatchInterval, s.wake, "dispatch", s.Dispatch)
	}()
	wg.Wait()
	return nil
}

// loop calls step every interval, or when woken, until ctx ends.
func (s *Service) loop(ctx context.Context, interval time.Duration, wake <-chan struct{}, name string, step func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := step(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn(name+" failed; will retry", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// Sweep runs one reconciliation pass: it asks the provider about payments
// and payouts that have waited past their due time (four at once), records
// the answers, and expires abandoned payments the provider confirms were
// not paid. It
// returns how many objects it looked at: at most a batch (100) of each
// kind. Run calls it periodically, and at once again while a pass finds a
// full batch; a host with its own job engine may call it instead (and
// should call it again while it returns 100 or more).
//
// A pass leases what it claims for the longer of WithSyncAfter and twice
// WithProviderTimeout, so that two sweepers never ask about the same
// payment at once. What a slow provider keeps it from starting while a
// call still fits in that lease is left, not counted, for a pass after
// the lease ends; so is the rest of a payment that needs several calls
// (a cancel and then a sync, or one per pending refund).
func (s *Service) Sweep(ctx context.Context) (int, error) {
	lease := max(s.cfg.syncAfter, 2*s.cfg.providerTimeout)
	now := s.now()
	ps, err := s.store.ClaimDuePayments(ctx, now, lease, s.cfg.sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("payment: sweep: %w", err)
	}
	looked := withinLease(s, "payments", ps, now, lease, func(p *Payment, startBy time.Time) {
		switch err := s.reconcile(ctx, p, startBy); {
		case errors.Is(err, errLeaseRanShort):
			s.log.Info("reconcile stopped before a provider call its lease had no room for; the next pass goes on",
				zap.String("payment_id", p.ID))
		case err != nil:
			s.log.Warn("reconcile failed; will retry", zap.String("payment_id", p.ID), zap.Error(err))
		}
	})
	// The payments may have taken a while: the payouts' claim and lease
	// start now, not when the pass did.
	now = s.now()
	pos, err := s.store.ClaimDuePayouts(ctx, now, lease, s.cfg.sweepBatch)
	if err != nil {
		return looked, fmt.Errorf("payment: sweep payouts: %w", err)
	}
	looked += withinLease(s, "payouts", pos, now, lease, func(po *Payout, _ time.Time) {
		if _, err := s.SyncPayout(ctx, po.ID); err != nil && !errors.Is(err, ErrUnsupported) {
			s.log.Warn("payout sync failed; will retry", zap.String("payout_id", po.ID), zap.Error(err))
		}
	})
	if _, err := s.store.DeleteExpiredIdempotencyKeys(ctx, now); err != nil {
		s.log.Warn("expired idempotency keys not deleted", zap.Error(err))
	}
	return looked, nil
}

// withinLease calls fn for the items a sweep claimed at claimedAt for
// lease, sweepConcurrency at once, and returns how many it called it for.
// A claim holds its items until claimedAt+lease; after that another
// sweeper may claim them again. An item not started while a provider call
// still fits in the lease is left to that later claim, so that a batch
// held up by a slow provider neither asks about the same item twice at
// once nor piles more calls on the provider for every sweeper. fn is
// given that last start time: an item that needs more than one provider
// call checks it before each (see leaseLeft).
func withinLease[T any](s *Service, kind string, items []T, claimedAt time.Time, lease time.Duration, fn func(T, time.Time)) int {
	startBy := claimedAt.Add(lease - s.cfg.providerTimeout)
	var started atomic.Int64
	each(items, s.cfg.sweepConcurrency, func(it T) {
		if s.now().After(startBy) {
			return
		}
		started.Add(1)
		fn(it, startBy)
	})
	n := int(started.Load())
	if left := len(items) - n; left > 0 {
		s.log.Info("sweep ran out of its lease; the rest is asked about when it ends",
			zap.String("kind", kind), zap.Int("left", left), zap.Time("next", claimedAt.Add(lease)))
	}
	return n
}

// each calls fn for every item of items, at most n at once, and returns
// once every call has.
func each[T any](items []T, n int, fn func(T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(n, 1))
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(it)
		}()
	}
	wg.Wait()
}

// sweepBacklog sweeps until a pass finds less than a batch to look at, so
// that Run works through a backlog of due payments at once instead of one
// batch per interval. Each payment a pass claims is leased, so a pass never
// finds the same payment again, even when reconciling it failed.
func (s *Service) sweepBacklog(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := s.Sweep(ctx)
		total += n
		if err != nil || n < s.cfg.sweepBatch {
			return total, err
		}
	}
	return total, nil
}

// errLeaseRanShort stops a reconcile before a provider call that might
// not end within the sweep's lease on the payment.
var errLeaseRanShort = errors.New("the sweep's lease has no room for another provider call")

// leaseLeft returns errLeaseRanShort once a provider call started now could
// outlast the lease whose last start time is startBy: by then another
// sweeper may have claimed the payment, and would ask the provider too.
func (s *Service) leaseLeft(startBy time.Time) error {
	if s.now().After(startBy) {
		return errLeaseRanShort
	}
	return nil
}

// reconcile brings one stuck payment up to date with the provider. It
// starts each provider call by startBy (see withinLease); when a call it
// needs cannot start in time, it stops there, writes nothing more, and
// leaves the payment to a later pass.
func (s *Service) reconcile(ctx context.Context, p *Payment, startBy time.Time) error {
	prov, err := s.Provider(p.Provider)
	if err != nil {
		return err
	}
	if p.Status.Paid() || p.Status.Terminal() {
		if p.AmountRefundPending > 0 && p.Status.Paid() {
			return s.reconcileRefunds(ctx, prov, p, startBy)
		}
		return s.reschedule(ctx, p) // nothing to ask about: stop sweeping it
	}
	now := s.now()
	abandoned := s.abandoned(p, now)
	syncer, ok := prov.(Syncer)
	if !ok {
		// Nothing can confirm the outcome: keep the payment as it is and
		// look again later, never expire what might have been paid.
		return s.reschedule(ctx, p)
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := syncer.Sync(pctx, p.Clone())
	cancel()
	switch {
	case err != nil && errors.Is(err, ErrNotFound) && abandoned &&
		(p.Status == StatusPending || p.Status == StatusProcessing):
		// Long past its time, the provider says it never received it (we
		// died before the call, or the call never arrived): it cannot have
		// been paid.
		st = &PaymentState{Status: StatusExpired}
	case err != nil:
		return fmt.Errorf("sync: %w", err)
	}
	if abandoned && (st.Status == StatusPending || st.Status == StatusRequiresAction) {
		// The provider confirms it was not paid. Cancel it there where
		// possible, so it cannot be paid later; a payment that still gets
		// paid is recorded by the late-success rule.
		expire := true
		if c, ok := prov.(Canceler); ok {
			if err := s.leaseLeft(startBy); err != nil {
				return err
			}
			cctx, cancel := s.providerCtx(ctx)
			_, cerr := c.Cancel(cctx, p.Clone())
			cancel()
			if cerr != nil {
				// The provider would not cancel it: the customer may have
				// paid in the meantime. Ask again instead of expiring what
				// may have been paid.
				s.log.Info("cancel of abandoned payment failed; asking again", zap.String("payment_id", p.ID), zap.Error(cerr))
				if err := s.leaseLeft(startBy); err != nil {
					return err
				}
				pctx, cancel := s.providerCtx(ctx)
				st, err = syncer.Sync(pctx, p.Clone())
				cancel()
				if err != nil {
					return fmt.Errorf("sync after a failed cancel: %w", err)
				}
				expire = false
				if st.Status == StatusPending || st.Status == StatusRequiresAction {
					return s.reschedule(ctx, p)
				}
			}
		}
		if expire {
			st = &PaymentState{Status: StatusExpired, Failure: defaultFailure(StatusExpired)}
		}
	}
	out, err := s.applyPaymentState(ctx, p, st, SourceReconcile, nil)
	if err != nil {
		return err
	}
	if out.Version == p.Version && !out.Status.Final() {
		return s.reschedule(ctx, out)
	}
	return nil
}

// reconcileRefunds asks the provider about a paid payment's pending
// refunds: their outcome was unknown (a timeout) and no callback has told
// it since. A provider without refund sync is asked with the refund again,
// under the same idempotency key. Like reconcile, it asks about a refund
// only while the call fits in the lease; a later pass asks about the rest.
func (s *Service) reconcileRefunds(ctx context.Context, prov Provider, p *Payment, startBy time.Time) error {
	rs, err := s.store.ListRefunds(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Status != RefundPending {
			continue
		}
		if err := s.leaseLeft(startBy); err != nil {
			return err
		}
		var st *RefundState
		pctx, cancel := s.providerCtx(ctx)
		switch x := prov.(type) {
		case RefundSyncer:
			st, err = x.SyncRefund(pctx, p.Clone(), r.Clone())
		case Refunder:
			st, err = x.Refund(pctx, &RefundRequest{Payment: p.Clone(), Refund: r.Clone(), IdempotencyKey: r.ID})
		default:
			err = fmt.Errorf("%w: provider %s cannot refund", ErrUnsupported, p.Provider)
		}
		cancel()
		if err != nil {
			s.log.Warn("refund sync failed; will retry", zap.String("refund_id", r.ID), zap.Error(err))
			continue
		}
		if _, err := s.applyRefundState(ctx, r, st, SourceReconcile, nil); err != nil {
			return err
		}
	}
	cur, err := s.store.GetPayment(ctx, p.ID)
	if err != nil {
		return err
	}
	return s.reschedule(ctx, cur)
}

// abandoned reports whether the customer's chance to pay has passed.
func (s *Service) abandoned(p *Payment, now time.Time) bool {
	if p.ExpiresAt != nil {
		return now.After(*p.ExpiresAt)
	}
	return now.Sub(p.CreatedAt) > s.cfg.abandonAfter
}

// reschedule pushes the next sync of an unchanged payment out, with the
// interval growing with the payment's age.
func (s *Service) reschedule(ctx context.Context, p *Payment) error {
	_, err := s.updatePayment(ctx, p.ID, p, false, nil, func(p *Payment, now time.Time) (change, error) {
		next := s.nextSync(p, now)
		switch {
		case next == nil && p.NextSyncAt == nil:
			return change{}, nil
		case next == nil:
			p.NextSyncAt = nil // nothing left to ask about
		case p.NextSyncAt != nil && !next.After(*p.NextSyncAt):
			return change{}, nil
		default:
			p.NextSyncAt = next
		}
		return change{changed: true}, nil
	})
	return err
}

// Dispatch runs one notification pass: it delivers due messages to their
// destinations (the in-process subscribers, and every webhook endpoint whose
// filter selected the event when it was written), each destination in order
// per payment, several destinations and payments at once, and acknowledges
// each batch's deliveries in one store call. A failed
// delivery is retried with exponential backoff and jitter (and the
// endpoint's Retry-After) until the retry window ends; then it is recorded
// as failed (see FailedDeliveries and Redeliver). It returns how many
// messages it delivered. Run calls it when events are written and
// periodically.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	delivered := 0
	for ctx.Err() == nil {
		msgs, err := s.store.ClaimOutbox(ctx, s.owner, s.now(), s.cfg.dispatchLease, s.cfg.dispatchBatch)
		if err != nil {
			return delivered, fmt.Errorf("payment: dispatch: %w", err)
		}
		if len(msgs) == 0 {
			return delivered, nil
		}
		var (
			mu       sync.Mutex
			done     []string // delivered, to acknowledge
			firstErr error
			moved    atomic.Bool
		)
		each(msgs, s.cfg.dispatchConcurrency, func(m *OutboxMessage) {
			ok, progressed, err := s.dispatchOne(ctx, m)
			if progressed {
				moved.Store(true)
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				done = append(done, m.ID)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
		n, err := s.ack(ctx, s.owner, done)
		delivered += n
		if n > 0 {
			moved.Store(true)
		}
		if err = errors.Join(firstErr, err); err != nil {
			return delivered, err
		}
		if !moved.Load() {
			return delivered, nil
		}
	}
	return delivered, nil
}

// ack records the delivery of the messages ids, which owner holds, in one
// store call, even when Run is being stopped: a delivery not recorded is
// made again after the lease.
func (s *Service) ack(ctx context.Context, owner string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n, err := s.store.AckOutbox(actx, owner, ids, s.now())
	if err != nil {
		return 0, fmt.Errorf("payment: dispatch ack of %d messages: %w", len(ids), err)
	}
	if n < len(ids) {
		s.log.Info("deliveries made after their lease ended; they will be made again",
			zap.Int("messages", len(ids)-n))
	}
	return n, nil
}

// dispatchOne makes one delivery attempt of a claimed message. ok reports
// a delivery, which the caller acknowledges; progressed reports that a
// later message may have become claimable.
func (s *Service) dispatchOne(ctx context.Context, m *OutboxMessage) (ok, progressed bool, err error) {
	if !m.LeaseUntil.IsZero() && !s.now().Before(m.LeaseUntil) {
		// The batch took longer than its lease: another instance may
		// hold this message now. Leave it to the next claim.
		return false, true, nil
	}
	derr := s.deliverTo(ctx, m)
	if derr == nil {
		return true, false, nil
	}
	now := s.now()
	var de *deliveryError
	gone := errors.As(derr, &de) && de.gone
	if gone || errors.Is(derr, errEndpointGone) || now.Sub(m.Event.CreatedAt) > s.cfg.webhookRetryWindow {
		s.log.Error("notification failed for good; see FailedDeliveries", zap.String("event_id", m.Event.ID),
			zap.String("destination", m.Destination), zap.Int("attempts", m.Attempts+1), zap.Error(derr))
		if err := s.store.FailOutbox(ctx, m.ID, m.LeaseOwner, derr.Error(), now); err != nil {
			return false, false, fmt.Errorf("payment: dispatch fail %s: %w", m.ID, err)
		}
		return false, true, nil
	}
	wait := s.backoff(m.Attempts)
	if de != nil && de.retryAfter > wait {
		wait = min(de.retryAfter, 24*time.Hour)
	}
	next := now.Add(wait)
	s.log.Warn("notification failed; will retry", zap.String("event_id", m.Event.ID), zap.String("destination", m.Destination),
		zap.Int("attempt", m.Attempts+1), zap.Time("next", next), zap.Error(derr))
	if err := s.store.RetryOutbox(ctx, m.ID, m.LeaseOwner, next, derr.Error()); err != nil {
		return false, false, fmt.Errorf("payment: dispatch retry %s: %w", m.ID, err)
	}
	return false, false, nil
}

// errEndpointGone: the destination's endpoint is no longer configured or
// answered 410 Gone.
var errEndpointGone = errors.New("payment: webhook endpoint removed or gone (410)")

// destinationsFor lists who gets an event: nobody for an event that does
// not notify.
func (s *Service) destinationsFor(e *Event) []string {
	if !e.Notifies() {
		return nil
	}
	var dests []string
	if len(s.cfg.subscribers) > 0 {
		dests = append(dests, destSubscribers)
	}
	for _, ep := range s.cfg.endpoints {
		if ep.wants(e.Type) {
			dests = append(dests, ep.destination())
		}
	}
	return dests
}

// deliverTo makes one delivery attempt of a message to its destination.
func (s *Service) deliverTo(ctx context.Context, m *OutboxMessage) error {
	if m.Destination == destSubscribers {
		return s.deliver(ctx, m.Event)
	}
	ep := s.endpoints[m.Destination]
	if ep == nil || s.gone(m.Destination) {
		return errEndpointGone
	}
	body, err := json.Marshal(m.Event)
	if err != nil {
		return err
	}
	err = ep.send(ctx, m.Event.ID, body, s.now())
	var de *deliveryError
	if errors.As(err, &de) && de.gone {
		s.markGone(m.Destination)
	}
	return err
}

func (s *Service) gone(dest string) bool {
	s.goneMu.Lock()
	defer s.goneMu.Unlock()
	return s.goneEndpoints[dest]
}

func (s *Service) markGone(dest string) {
	s.goneMu.Lock()
	defer s.goneMu.Unlock()
	if !s.goneEndpoints[dest] {
		s.log.Error("webhook endpoint answered 410 Gone: disabled until restart", zap.String("destination", dest))
	}
	s.goneEndpoints[dest] = true
}

// FailedDelivery is a notification whose delivery to one destination was
// given up: the endpoint kept failing through the retry window, answered
// 410 Gone, or is no longer configured.
type FailedDelivery struct {
	// Object is always "delivery" in JSON.
	Object string `json:"object"`
	// EventID is the event's id (the webhook-id of its requests).
	EventID string `json:"event_id"`
	// EventType is the event's type.
	EventType EventType `json:"event_type"`
	// Destination is "subscribers" or "endpoint:<id>".
	Destination string `json:"destination"`
	// Status is always "failed".
	Status string `json:"status"`
	// Attempts counts the attempts made.
	Attempts int `json:"attempts"`
	// LastError is the last attempt's error.
	LastError string `json:"last_error"`
	// FailedAt is when delivery was given up.
	FailedAt time.Time `json:"failed_at"`
	// Event is what was to be delivered.
	Event Event `json:"event"`
}

// FailedDeliveries lists deliveries that were given up, oldest first, at
// most limit (1 to 1000; 100 when out of range).
func (s *Service) FailedDeliveries(ctx context.Context, limit int) ([]FailedDelivery, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	ms, err := s.store.ListFailedOutbox(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("payment: failed deliveries: %w", err)
	}
	out := make([]FailedDelivery, 0, len(ms))
	for _, m := range ms {
		fd := FailedDelivery{
			Object: "delivery", EventID: m.Event.ID, EventType: m.Event.Type, Destination: m.Destination,
			Status: "failed", Attempts: m.Attempts, LastError: m.LastError, Event: m.Event,
		}
		if m.FailedAt != nil {
			fd.FailedAt = *m.FailedAt
		}
		out = append(out, fd)
	}
	return out, nil
}

// Redeliver sends an event's failed deliveries again, from now, and returns
// how many it queued. An event with no failed delivery is ErrNotFound. An
// endpoint that answered 410 stays disabled until the process restarts.
func (s *Service) Redeliver(ctx context.Context, eventID string) (int, error) {
	n, err := s.store.RedeliverOutbox(ctx, eventID, s.now())
	if err != nil {
		return 0, fmt.Errorf("payment: redeliver %s: %w", eventID, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("payment: redeliver %s: no failed delivery: %w", eventID, ErrNotFound)
	}
	s.notifyDispatcher()
	return n, nil
}

// deliver hands an event to every subscriber; a panic counts as a failure.
func (s *Service) deliver(ctx context.Context, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("subscriber panicked: %v", r)
		}
	}()
	for _, sub := range s.cfg.subscribers {
		if err := sub(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the delay before retry number attempts+1: one second doubled
// per attempt, capped, with ±20% jitter.
func (s *Service) backoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 20)
	d = min(d, s.cfg.maxDispatchBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10 //nolint:gosec // jitter, not security
	return d + jitter
}
