package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// maxCASAttempts bounds compare-and-set retries against concurrent writers.
const maxCASAttempts = 20

// change is what one step decided to write.
type change struct {
	changed bool    // the payment must be written
	events  []Event // written with it, and notified
	audit   []Event // audit only, written when nothing else is
}

// updatePayment applies decide to the payment in a compare-and-set loop: on
// a conflict it re-reads and decides again. cur, when not nil, is the
// payment as last read (it saves a read on the first attempt); it stays as
// it is unless handOver says the caller gives it up, to be changed in place
// and returned (a checkout's own record, which nobody else holds). msg, when
// not nil, is the webhook message the change applies: it is recorded with
// the change (see carryInbox), or on its own when nothing is written.
//
// decide changes p in place, and leaves it as it was when it decides that
// nothing changed: cur is then returned.
func (s *Service) updatePayment(ctx context.Context, id string, cur *Payment, handOver bool, msg *InboxMessage, decide func(p *Payment, now time.Time) (change, error)) (*Payment, error) {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		p := cur
		switch {
		case cur == nil:
			// A payment read here is updatePayment's own.
			var err error
			if cur, err = s.store.GetPayment(ctx, id); err != nil {
				return nil, fmt.Errorf("payment: get %s: %w", id, err)
			}
			p = cur
		case !handOver:
			p = cur.Clone()
		}
		now := s.now()
		c, err := decide(p, now)
		if err != nil {
			return nil, err
		}
		if !c.changed {
			if err := s.appendAudit(ctx, c.audit, msg); err != nil {
				return nil, fmt.Errorf("payment: audit %s: %w", id, err)
			}
			return cur, nil
		}
		p.UpdatedAt = now
		s.finishEvents(c.events, p)
		carried := carryInbox(c.events, msg)
		claim, err := s.writeDirect(c.events, func() error { return s.store.UpdatePayment(ctx, p, c.events) })
		if errors.Is(err, ErrConflict) {
			cur, handOver = nil, false
			casBackoff(attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("payment: update %s: %w", id, carriedErr(err, carried))
		}
		if claim {
			s.notifyDispatcher()
		}
		if !carried {
			if err := s.recordInbox(ctx, msg); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	return nil, fmt.Errorf("payment: update %s: gave up after %d concurrent changes: %w", id, maxCASAttempts, ErrConflict)
}

// casBackoff sleeps a little, more after each lost race, so that writers
// that keep colliding spread out.
func casBackoff(attempt int) {
	if attempt == 0 {
		return
	}
	max := time.Duration(min(attempt, 8)) * 200 * time.Microsecond
	time.Sleep(time.Duration(rand.Int64N(int64(max)) + 1)) //nolint:gosec // jitter, not security
}

// applyPaymentState records what a provider reported about a payment. msg
// is the webhook message that reported it, or nil.
func (s *Service) applyPaymentState(ctx context.Context, cur *Payment, st *PaymentState, src Source, msg *InboxMessage) (*Payment, error) {
	return s.updatePayment(ctx, cur.ID, cur, false, msg, s.planState(st, src, msg))
}

// planState returns the decide step of updatePayment that applies st.
func (s *Service) planState(st *PaymentState, src Source, msg *InboxMessage) func(p *Payment, now time.Time) (change, error) {
	return func(p *Payment, now time.Time) (change, error) {
		return s.plan(p, st, src, eventKeyOf(msg), now), nil
	}
}

// plan decides, for a reported state, the change to p (made in place) and
// the events. It is the state machine's one entry point for provider news:
//   - the same status changes nothing and makes no event (a duplicate);
//   - an allowed transition moves the payment and makes one event;
//   - success or authorization for another amount or currency never
//     moves it: the payment is flagged amount_mismatch;
//   - a success after a failure, or a failure after success, never flips
//     it: the payment is flagged conflicting_outcome;
//   - anything else (a stale or backward event) is audited as ignored.
func (s *Service) plan(p *Payment, st *PaymentState, src Source, eventKey string, now time.Time) change {
	var c change
	if st.ProviderReference != "" && p.ProviderReference == "" {
		p.ProviderReference = st.ProviderReference
		c.changed = true
	}
	if st.Card != nil && p.Card == nil {
		p.Card = st.Card
		c.changed = true
	}
	var reasons []string
	flag := func(f, reason string) {
		if !p.HasFlag(f) {
			p.Flags = append(p.Flags, f)
			reasons = append(reasons, reason)
		}
	}
	for _, f := range st.Flags {
		flag(f, "provider flagged "+f)
	}

	from, to := p.Status, st.Status
	var ignored string
	switch {
	case to == "" || to == from:
		// Nothing to move (a duplicate or a state we already have).
	case !to.Valid():
		ignored = fmt.Sprintf("unknown status %q", to)
	case (to == StatusSucceeded || to == StatusAuthorized) && st.Amount != nil &&
		(st.Amount.Amount != p.Amount || st.Amount.Currency != p.Currency):
		flag(FlagAmountMismatch, fmt.Sprintf("provider reported %s %s, expected %s", to, st.Amount, p.Money()))
		ignored = "amount mismatch"
	case !CanTransition(from, to):
		if conflicting(from, to) {
			flag(FlagConflictingOutcome, fmt.Sprintf("provider reported %s after %s", to, from))
		}
		ignored = fmt.Sprintf("stale or conflicting: %s after %s", to, from)
	default:
		s.transition(p, st, now)
		typ := paymentEventType(from, to)
		c.events = append(c.events, s.newEvent(typ, p, src, eventKey, string(from)))
		c.changed = true
	}
	if len(reasons) > 0 {
		ev := s.newEvent(EventPaymentFlagged, p, src, eventKey, string(p.Status))
		ev.Reason = reasons[0]
		c.events = append(c.events, ev)
		c.changed = true
	}
	if ignored != "" && len(c.events) == 0 {
		ev := s.newEvent(EventIgnored, p, src, eventKey, string(p.Status))
		ev.To = string(to)
		ev.Reason = ignored
		c.audit = append(c.audit, ev)
	}
	return c
}

// transition moves p to st.Status and sets what comes with the new status.
func (s *Service) transition(p *Payment, st *PaymentState, now time.Time) {
	p.Status = st.Status
	if st.ExpiresAt != nil {
		p.ExpiresAt = st.ExpiresAt
	}
	switch st.Status {
	case StatusRequiresAction:
		if st.NextAction != nil {
			p.NextAction = st.NextAction
		}
	case StatusSucceeded:
		p.AmountCaptured = p.Amount
		if st.AmountCaptured != nil && *st.AmountCaptured > 0 && *st.AmountCaptured <= p.Amount {
			p.AmountCaptured = *st.AmountCaptured
		}
		p.NextAction, p.Failure = nil, nil
	case StatusFailed, StatusCanceled, StatusExpired:
		p.NextAction = nil
		p.Failure = st.Failure
		if p.Failure == nil {
			p.Failure = defaultFailure(st.Status)
		}
	case StatusAuthorized, StatusProcessing:
		p.NextAction = nil
	case StatusPending, StatusPartiallyRefunded, StatusRefunded:
	}
	p.NextSyncAt = s.nextSync(p, now)
}

// nextSync says when the sweeper should next ask about p: a while after
// now for statuses that wait on the provider, never for the others.
// Intervals grow with the payment's age, up to maxSyncInterval.
func (s *Service) nextSync(p *Payment, now time.Time) *time.Time {
	switch p.Status {
	case StatusPending, StatusRequiresAction, StatusProcessing:
	default:
		if p.AmountRefundPending == 0 {
			return nil
		}
	}
	delay := max(s.cfg.syncAfter, min(s.cfg.maxSyncInterval, now.Sub(p.CreatedAt)/4))
	t := now.Add(delay)
	if p.ExpiresAt != nil && p.ExpiresAt.After(now) && p.ExpiresAt.Before(t) {
		t = p.ExpiresAt.Add(time.Second) // look right after it expires
	}
	return &t
}

func defaultFailure(st Status) *Failure {
	switch st {
	case StatusExpired:
		return &Failure{Code: FailureExpired, Message: "the payment expired before it was paid"}
	case StatusCanceled:
		return &Failure{Code: FailureCanceled, Message: "the payment was canceled"}
	default:
		return &Failure{Code: FailureProviderError, Message: "the payment failed"}
	}
}

// conflicting reports whether to contradicts from's outcome: money moved
// after a failure, or a failure after money moved.
func conflicting(from, to Status) bool {
	moved := to.Paid() || to == StatusAuthorized
	if from == StatusFailed && moved {
		return true
	}
	return from.Paid() && (to == StatusFailed || to == StatusCanceled || to == StatusExpired)
}

// paymentEventType names the event of a transition.
func paymentEventType(from, to Status) EventType {
	if IsLateSuccess(from, to) {
		return EventPaymentSucceededLate
	}
	switch to {
	case StatusRequiresAction:
		return EventPaymentRequiresAction
	case StatusProcessing:
		return EventPaymentProcessing
	case StatusAuthorized:
		return EventPaymentAuthorized
	case StatusSucceeded:
		return EventPaymentSucceeded
	case StatusPartiallyRefunded:
		return EventPaymentPartiallyRefunded
	case StatusRefunded:
		return EventPaymentRefunded
	case StatusFailed:
		return EventPaymentFailed
	case StatusCanceled:
		return EventPaymentCanceled
	case StatusExpired:
		return EventPaymentExpired
	case StatusPending:
		return EventPaymentCreated
	}
	return EventType("payment." + string(to))
}

// newEvent makes an event about a payment; Data is filled when written.
func (s *Service) newEvent(typ EventType, p *Payment, src Source, eventKey, from string) Event {
	now := s.now()
	return Event{
		Object:          "event",
		ID:              s.ids.newID(PrefixEvent, now),
		Type:            typ,
		ObjectID:        p.ID,
		PaymentID:       p.ID,
		From:            from,
		To:              string(p.Status),
		Source:          src,
		ProviderEventID: eventKey,
		CreatedAt:       now,
	}
}

// finishEvents readies the events about obj for the store: each is
// addressed to its destinations, and snapshots obj unless it already has
// data.
func (s *Service) finishEvents(events []Event, obj interface{ objectID() string }) {
	var data json.RawMessage
	for i := range events {
		e := &events[i]
		if e.ObjectID != obj.objectID() {
			continue
		}
		if e.Destinations == nil {
			e.Destinations = s.destinationsFor(e)
		}
		if e.Data != nil {
			continue
		}
		if data == nil {
			var b []byte
			var err error
			if p, ok := obj.(*Payment); ok {
				b, err = p.AppendJSON(make([]byte, 0, 1024), true)
			} else {
				b, err = json.Marshal(obj)
			}
			if err != nil {
				continue
			}
			data = b
		}
		e.Data = data
	}
}

func (p *Payment) objectID() string { return p.ID }
func (r *Refund) objectID() string  { return r.ID }
func (p *Payout) objectID() string  { return p.ID }
