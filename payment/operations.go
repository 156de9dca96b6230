package payment

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// Sync asks the provider for the payment's state and records it. A
// provider without sync returns an error wrapping ErrUnsupported.
func (s *Service) Sync(ctx context.Context, id string) (*Payment, error) {
	return s.sync(ctx, id, SourceSync)
}

func (s *Service) sync(ctx context.Context, id string, src Source) (*Payment, error) {
	p, prov, err := s.paymentAndProvider(ctx, id)
	if err != nil {
		return nil, err
	}
	syncer, ok := prov.(Syncer)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot sync", ErrUnsupported, p.Provider)
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := syncer.Sync(pctx, p.Clone())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("payment: sync %s: %w", id, err)
	}
	return s.applyPaymentState(ctx, p, st, src, nil)
}

func (s *Service) paymentAndProvider(ctx context.Context, id string) (*Payment, Provider, error) {
	p, err := s.GetPayment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	prov, err := s.Provider(p.Provider)
	if err != nil {
		return nil, nil, err
	}
	return p, prov, nil
}

// Cancel cancels a payment that has not succeeded; an authorized payment's
// hold is voided. A provider without cancel can still have a payment that
// is not authorized canceled locally: if the customer pays anyway, the
// late-success rule records it. Cancel after success is ErrInvalidState.
func (s *Service) Cancel(ctx context.Context, id string) (*Payment, error) {
	defer s.lock(id)()
	p, prov, err := s.paymentAndProvider(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status == StatusCanceled {
		return p, nil
	}
	if p.Status.Final() {
		return nil, fmt.Errorf("%w: cannot cancel a %s payment", ErrInvalidState, p.Status)
	}
	st := &PaymentState{Status: StatusCanceled, Failure: &Failure{Code: FailureCanceled, Message: "canceled by the merchant"}}
	if c, ok := prov.(Canceler); ok {
		pctx, cancel := s.providerCtx(ctx)
		st, err = c.Cancel(pctx, p.Clone())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("payment: cancel %s: %w", id, err)
		}
	} else if p.Status == StatusAuthorized {
		return nil, fmt.Errorf("%w: provider %s cannot void an authorization", ErrUnsupported, p.Provider)
	}
	return s.expectStatus(ctx, p, st, StatusCanceled)
}

// Capture captures an authorized payment: all of it when amount is 0,
// otherwise amount minor units (at most the authorized amount).
func (s *Service) Capture(ctx context.Context, id string, amount int64) (*Payment, error) {
	defer s.lock(id)()
	p, prov, err := s.paymentAndProvider(ctx, id)
	if err != nil {
		return nil, err
	}
	if amount < 0 || amount > p.Amount {
		return nil, InvalidField("amount", fmt.Sprintf("must be between 1 and %d", p.Amount))
	}
	if p.Status != StatusAuthorized {
		return nil, fmt.Errorf("%w: cannot capture a %s payment", ErrInvalidState, p.Status)
	}
	c, ok := prov.(Capturer)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot capture", ErrUnsupported, p.Provider)
	}
	if amount == 0 {
		amount = p.Amount
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := c.Capture(pctx, p.Clone(), amount)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("payment: capture %s: %w", id, err)
	}
	if st.Status == StatusSucceeded && st.AmountCaptured == nil {
		st.AmountCaptured = &amount
	}
	return s.expectStatus(ctx, p, st, StatusSucceeded)
}

// Confirm finishes a step the customer did outside, such as a wallet OTP.
func (s *Service) Confirm(ctx context.Context, id string, c *Confirmation) (*Payment, error) {
	if c == nil {
		return nil, MissingField("otp")
	}
	if err := s.validate.Struct(c); err != nil {
		return nil, err
	}
	defer s.lock(id)()
	p, prov, err := s.paymentAndProvider(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status != StatusRequiresAction {
		return nil, fmt.Errorf("%w: nothing to confirm on a %s payment", ErrInvalidState, p.Status)
	}
	cf, ok := prov.(Confirmer)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s has no confirmation step", ErrUnsupported, p.Provider)
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := cf.Confirm(pctx, p.Clone(), c)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("payment: confirm %s: %w", id, err)
	}
	return s.applyPaymentState(ctx, p, st, SourceAPI, nil)
}

// expectStatus applies st and reports ErrInvalidState when the payment did
// not end in want (a capture that lost to a cancel, say).
func (s *Service) expectStatus(ctx context.Context, p *Payment, st *PaymentState, want Status) (*Payment, error) {
	out, err := s.applyPaymentState(ctx, p, st, SourceAPI, nil)
	if err != nil {
		return nil, err
	}
	if out.Status != want && st.Status == want {
		return out, fmt.Errorf("%w: the payment is %s", ErrInvalidState, out.Status)
	}
	return out, nil
}

// RefundParams asks to refund a payment.
type RefundParams struct {
	// PaymentID is the payment to refund.
	PaymentID string `json:"-" validate:"required"`
	// Amount is in minor units; 0 refunds everything still refundable.
	Amount int64 `json:"amount,omitempty" validate:"gte=0"`
	// Reason is the merchant's reason.
	Reason string `json:"reason,omitempty" validate:"max=255"`
	// IdempotencyKey makes retries safe, as for Checkout.
	IdempotencyKey string `json:"-" validate:"omitempty,idemkey"`
}

// Refund refunds all or part of a succeeded payment. The sum of refunds
// that have not failed never exceeds the captured amount, even under
// concurrent requests: a refund reserves its amount on the payment
// (compare-and-set) before the provider is called. More than what is left
// is ErrRefundExceedsCaptured; a payment that has not succeeded is
// ErrInvalidState.
func (s *Service) Refund(ctx context.Context, params *RefundParams) (*Refund, error) {
	if params == nil {
		return nil, InvalidField("body", "is required")
	}
	if err := s.validate.Struct(params); err != nil {
		return nil, err
	}
	p, prov, err := s.paymentAndProvider(ctx, params.PaymentID)
	if err != nil {
		return nil, err
	}
	refunder, ok := prov.(Refunder)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot refund", ErrUnsupported, p.Provider)
	}
	var fp string
	if params.IdempotencyKey != "" {
		fp = fingerprint("refund", struct {
			PaymentID, Reason string
			Amount            int64
		}{params.PaymentID, params.Reason, params.Amount})
	}
	h, err := s.begin(ctx, params.IdempotencyKey, fp, s.ids.newID(PrefixRefund, s.now()))
	if err != nil {
		return nil, err
	}
	if h.replay != nil {
		out, err := decodeReplay[Refund](h.replay)
		if err != nil {
			return nil, err
		}
		out.Replayed = true
		return out, nil
	}
	r, err := s.refund(ctx, refunder, p, params, h.resourceID)
	s.settle(ctx, h, r, err)
	return r, err
}

func (s *Service) refund(ctx context.Context, refunder Refunder, p *Payment, params *RefundParams, refundID string) (*Refund, error) {
	r, err := s.store.GetRefund(ctx, refundID)
	switch {
	case errors.Is(err, ErrNotFound):
		if r, p, err = s.reserveRefund(ctx, p, params, refundID); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("payment: get refund %s: %w", refundID, err)
	default:
		// A retry resumes: only a refund still pending goes to the provider.
		if r.Status != RefundPending {
			return r, nil
		}
		if p, err = s.GetPayment(ctx, r.PaymentID); err != nil {
			return nil, err
		}
	}

	pctx, cancel := s.providerCtx(ctx)
	st, perr := refunder.Refund(pctx, &RefundRequest{Payment: p.Clone(), Refund: r.Clone(), IdempotencyKey: r.ID})
	cancel()
	switch {
	case perr != nil && IsRetryable(perr):
		s.log.Warn("refund outcome unknown; left pending", zap.String("refund_id", r.ID), zap.Error(perr))
		return r, nil
	case perr != nil:
		msg := "the provider refused the refund"
		var pe *ProviderError
		if errors.As(perr, &pe) && pe.Message != "" {
			msg = pe.Message
		}
		st = &RefundState{Status: RefundFailed, Failure: &Failure{Code: FailureProviderError, Message: msg}}
	case st == nil:
		st = &RefundState{Status: RefundPending}
	}
	out, err := s.applyRefundState(ctx, r, st, SourceAPI, nil)
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return out, perr
	}
	return out, nil
}

// reserveRefund records a pending refund and reserves its amount on the
// payment, atomically.
func (s *Service) reserveRefund(ctx context.Context, p *Payment, params *RefundParams, refundID string) (*Refund, *Payment, error) {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if p == nil {
			var err error
			if p, err = s.GetPayment(ctx, params.PaymentID); err != nil {
				return nil, nil, err
			}
		}
		if p.Status != StatusSucceeded && p.Status != StatusPartiallyRefunded {
			return nil, nil, fmt.Errorf("%w: cannot refund a %s payment", ErrInvalidState, p.Status)
		}
		refundable := p.Refundable()
		amount := params.Amount
		if amount == 0 {
			amount = refundable
		}
		if amount <= 0 || amount > refundable {
			return nil, nil, fmt.Errorf("%w: %d requested, %d refundable", ErrRefundExceedsCaptured, amount, max(refundable, 0))
		}
		now := s.now()
		r := &Refund{
			Object: "refund", ID: refundID, PaymentID: p.ID, Amount: amount, Currency: p.Currency,
			Status: RefundPending, Reason: params.Reason, CreatedAt: now, UpdatedAt: now,
		}
		np := p.Clone()
		np.AmountRefundPending += amount
		np.UpdatedAt = now
		np.NextSyncAt = s.nextSync(np, now) // the sweeper asks, should the outcome stay unknown
		evs := []Event{s.newRefundEvent(EventRefundCreated, r, SourceAPI, "", "")}
		s.finishEvents(evs, r)
		err := s.store.CreateRefund(ctx, r, np, evs)
		if errors.Is(err, ErrConflict) {
			p = nil
			casBackoff(attempt)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("payment: create refund %s: %w", refundID, err)
		}
		s.notifyDispatcher()
		return r, np, nil
	}
	return nil, nil, fmt.Errorf("payment: refund %s: gave up after %d concurrent changes: %w", params.PaymentID, maxCASAttempts, ErrConflict)
}

// applyRefundState records a refund's outcome and moves the payment's
// amounts and status with it, atomically. msg is the webhook message that
// reported it, or nil (see updatePayment).
func (s *Service) applyRefundState(ctx context.Context, r *Refund, st *RefundState, src Source, msg *InboxMessage) (*Refund, error) {
	eventKey := eventKeyOf(msg)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		cur, err := s.store.GetRefund(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("payment: get refund %s: %w", r.ID, err)
		}
		settles := st.Status == RefundSucceeded || st.Status == RefundFailed
		learnsRef := st.ProviderReference != "" && cur.ProviderReference == ""
		if cur.Status.Final() || (!settles && !learnsRef) {
			// A settled refund never changes; nothing new to record.
			if err := s.recordInbox(ctx, msg); err != nil {
				return nil, err
			}
			return cur, nil
		}
		p, err := s.GetPayment(ctx, cur.PaymentID)
		if err != nil {
			return nil, err
		}
		now := s.now()
		nr, np := cur.Clone(), p.Clone()
		if st.ProviderReference != "" && nr.ProviderReference == "" {
			nr.ProviderReference = st.ProviderReference
		}
		var evs []Event
		if settles {
			nr.Status = st.Status
			nr.Failure = st.Failure
			np.AmountRefundPending -= nr.Amount
			if st.Status == RefundSucceeded {
				np.AmountRefunded += nr.Amount
				evs = append(evs, s.newRefundEvent(EventRefundSucceeded, nr, src, eventKey, string(RefundPending)))
				to := StatusPartiallyRefunded
				if np.AmountRefunded >= np.AmountCaptured {
					to = StatusRefunded
				}
				if to != np.Status && CanTransition(np.Status, to) {
					from := np.Status
					np.Status = to
					evs = append(evs, s.newEvent(paymentEventType(from, to), np, src, eventKey, string(from)))
				}
			} else {
				evs = append(evs, s.newRefundEvent(EventRefundFailed, nr, src, eventKey, string(RefundPending)))
			}
		}
		nr.UpdatedAt, np.UpdatedAt = now, now
		if settles {
			np.NextSyncAt = s.nextSync(np, now)
		}
		s.finishEvents(evs, nr)
		s.finishEvents(evs, np)
		carried := carryInbox(evs, msg)
		err = s.store.UpdateRefund(ctx, nr, np, evs)
		if errors.Is(err, ErrConflict) {
			casBackoff(attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("payment: update refund %s: %w", r.ID, carriedErr(err, carried))
		}
		if len(evs) > 0 {
			s.notifyDispatcher()
		}
		if !carried {
			if err := s.recordInbox(ctx, msg); err != nil {
				return nil, err
			}
		}
		return nr, nil
	}
	return nil, fmt.Errorf("payment: refund %s: gave up after %d concurrent changes: %w", r.ID, maxCASAttempts, ErrConflict)
}

func (s *Service) newRefundEvent(typ EventType, r *Refund, src Source, eventKey, from string) Event {
	now := s.now()
	return Event{
		Object: "event", ID: s.ids.newID(PrefixEvent, now), Type: typ, ObjectID: r.ID, PaymentID: r.PaymentID,
		From: from, To: string(r.Status), Source: src, ProviderEventID: eventKey, CreatedAt: now,
	}
}

// SyncRefund asks the provider for a pending refund's outcome and records
// it. A provider without refund sync returns an error wrapping
// ErrUnsupported.
func (s *Service) SyncRefund(ctx context.Context, refundID string) (*Refund, error) {
	r, err := s.GetRefund(ctx, refundID)
	if err != nil {
		return nil, err
	}
	if r.Status.Final() {
		return r, nil
	}
	p, prov, err := s.paymentAndProvider(ctx, r.PaymentID)
	if err != nil {
		return nil, err
	}
	rs, ok := prov.(RefundSyncer)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot sync refunds", ErrUnsupported, p.Provider)
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := rs.SyncRefund(pctx, p, r.Clone())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("payment: sync refund %s: %w", refundID, err)
	}
	return s.applyRefundState(ctx, r, st, SourceSync, nil)
}
