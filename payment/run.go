package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Run runs the sweeper and the notification dispatcher until ctx ends,
// then returns nil. Several instances (processes) may run it against one
// store at once: the store's leases keep them from doing the same work.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.loop(ctx, s.cfg.sweepInterval, nil, "sweep", s.Sweep)
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
// and payouts that have waited past their due time, records the answers,
// and expires abandoned payments the provider confirms were not paid. It
// returns how many objects it looked at. Run calls it periodically; a host
// with its own job engine may call it instead.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	lease := max(s.cfg.syncAfter, 2*s.cfg.providerTimeout)
	ps, err := s.store.ClaimDuePayments(ctx, now, lease, s.cfg.sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("payment: sweep: %w", err)
	}
	for _, p := range ps {
		if err := s.reconcile(ctx, p); err != nil {
			s.log.Warn("reconcile failed; will retry", zap.String("payment_id", p.ID), zap.Error(err))
		}
	}
	pos, err := s.store.ClaimDuePayouts(ctx, now, lease, s.cfg.sweepBatch)
	if err != nil {
		return len(ps), fmt.Errorf("payment: sweep payouts: %w", err)
	}
	for _, po := range pos {
		if _, err := s.SyncPayout(ctx, po.ID); err != nil && !errors.Is(err, ErrUnsupported) {
			s.log.Warn("payout sync failed; will retry", zap.String("payout_id", po.ID), zap.Error(err))
		}
	}
	if _, err := s.store.DeleteExpiredIdempotencyKeys(ctx, now); err != nil {
		s.log.Warn("expired idempotency keys not deleted", zap.Error(err))
	}
	return len(ps) + len(pos), nil
}

// reconcile brings one stuck payment up to date with the provider.
func (s *Service) reconcile(ctx context.Context, p *Payment) error {
	prov, err := s.Provider(p.Provider)
	if err != nil {
		return err
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
		if c, ok := prov.(Canceler); ok {
			cctx, cancel := s.providerCtx(ctx)
			if _, err := c.Cancel(cctx, p.Clone()); err != nil {
				s.log.Info("cancel of abandoned payment failed", zap.String("payment_id", p.ID), zap.Error(err))
			}
			cancel()
		}
		st = &PaymentState{Status: StatusExpired, Failure: defaultFailure(StatusExpired)}
	}
	out, err := s.applyPaymentState(ctx, p, st, SourceReconcile, "")
	if err != nil {
		return err
	}
	if out.Version == p.Version && !out.Status.Final() {
		return s.reschedule(ctx, out)
	}
	return nil
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
	_, err := s.updatePayment(ctx, p.ID, p, func(p *Payment, now time.Time) (change, error) {
		next := s.nextSync(p, now)
		if next == nil || (p.NextSyncAt != nil && !next.After(*p.NextSyncAt)) {
			return change{}, nil
		}
		p.NextSyncAt = next
		return change{changed: true}, nil
	})
	return err
}

// Dispatch runs one notification pass: it delivers due outbox messages to
// the subscribers, in order per payment, and schedules failed ones for a
// retry with exponential backoff and jitter. It returns how many messages
// it delivered. Run calls it when events are written and periodically.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	delivered := 0
	for ctx.Err() == nil {
		now := s.now()
		msgs, err := s.store.ClaimOutbox(ctx, s.owner, now, s.cfg.dispatchLease, s.cfg.dispatchBatch)
		if err != nil {
			return delivered, fmt.Errorf("payment: dispatch: %w", err)
		}
		if len(msgs) == 0 {
			return delivered, nil
		}
		progressed := false
		for _, m := range msgs {
			if err := s.deliver(ctx, m.Event); err != nil {
				next := s.now().Add(s.backoff(m.Attempts))
				s.log.Warn("notification failed; will retry", zap.String("event_id", m.ID),
					zap.Int("attempt", m.Attempts+1), zap.Time("next", next), zap.Error(err))
				if err := s.store.RetryOutbox(ctx, m.ID, s.owner, next, err.Error()); err != nil {
					return delivered, fmt.Errorf("payment: dispatch retry %s: %w", m.ID, err)
				}
				continue
			}
			if err := s.store.AckOutbox(ctx, m.ID, s.owner, s.now()); err != nil {
				return delivered, fmt.Errorf("payment: dispatch ack %s: %w", m.ID, err)
			}
			delivered++
			progressed = true
		}
		if !progressed {
			return delivered, nil
		}
	}
	return delivered, nil
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
