package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// PayoutParams asks to send money out to a bank account. The JSON form is
// the body of POST /payouts.
type PayoutParams struct {
	// Provider is the configured provider's name.
	Provider string `json:"provider" validate:"required,max=64"`
	// OrderID is the merchant's reference: 1 to 50 of A-Za-z0-9_-.
	OrderID string `json:"order_id" validate:"required,orderid"`
	// Amount is in minor units of Currency, and positive.
	Amount int64 `json:"amount" validate:"gt=0"`
	// Currency is an upper-case ISO 4217 code.
	Currency string `json:"currency" validate:"required,currency"`
	// BankAccount is where the money goes.
	BankAccount *BankAccount `json:"bank_account" validate:"required"`
	// Metadata is the merchant's own data.
	Metadata map[string]string `json:"metadata,omitempty" validate:"max=50,dive,keys,max=64,endkeys,max=1024"`
	// IdempotencyKey makes retries safe, as for Checkout.
	IdempotencyKey string `json:"-" validate:"omitempty,idemkey"`
}

// CreatePayout records a payout and sends it to the provider, with the
// same idempotency and unknown-outcome rules as Checkout: a timeout leaves
// it processing until a callback, SyncPayout or the sweeper resolves it.
func (s *Service) CreatePayout(ctx context.Context, params *PayoutParams) (*Payout, error) {
	if params == nil {
		return nil, InvalidField("body", "is required")
	}
	if err := s.validate.Struct(params); err != nil {
		return nil, err
	}
	prov, err := s.Provider(params.Provider)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownProvider, InvalidField("provider", "is not a configured provider"))
	}
	payouter, ok := prov.(Payouter)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot send payouts", ErrUnsupported, params.Provider)
	}
	now := s.now()
	po := &Payout{
		Object: "payout", ID: s.ids.newID(PrefixPayout, now), Provider: params.Provider, OrderID: params.OrderID, Amount: params.Amount,
		Currency: params.Currency, BankAccount: *params.BankAccount, Status: PayoutPending,
		Metadata: params.Metadata, CreatedAt: now, UpdatedAt: now,
	}
	po = po.Clone()
	req := &PayoutRequest{Payout: po, NotifyURL: s.notifyURL(params.Provider)}
	if pv, ok := prov.(PayoutValidator); ok {
		if err := pv.ValidatePayout(req); err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				err = fmt.Errorf("%w: %w", ErrInvalidInput, err)
			}
			return nil, err
		}
	}
	p2 := *params
	p2.IdempotencyKey = ""
	h, err := s.begin(ctx, params.IdempotencyKey, fingerprint("payout", &p2), po.ID)
	if err != nil {
		return nil, err
	}
	if h.replay != nil {
		out, err := decodeReplay[Payout](h.replay)
		if err != nil {
			return nil, err
		}
		out.Replayed = true
		return out, nil
	}
	po.ID = h.resourceID
	out, err := s.payout(ctx, payouter, po, req)
	s.settle(ctx, h, out, err)
	return out, err
}

func (s *Service) payout(ctx context.Context, payouter Payouter, po *Payout, req *PayoutRequest) (*Payout, error) {
	existing, err := s.store.GetPayout(ctx, po.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		po.NextSyncAt = s.payoutNextSync(po, po.CreatedAt)
		evs := []Event{s.newPayoutEvent(EventPayoutCreated, po, SourceAPI, "", "")}
		s.finishEvents(evs, po)
		if err := s.store.CreatePayout(ctx, po, evs); err != nil {
			if errors.Is(err, ErrAlreadyExists) {
				return nil, fmt.Errorf("payment: payout order %s exists at %s: %w", po.OrderID, po.Provider, err)
			}
			return nil, fmt.Errorf("payment: create payout %s: %w", po.ID, err)
		}
		s.notifyDispatcher()
	case err != nil:
		return nil, fmt.Errorf("payment: get payout %s: %w", po.ID, err)
	default:
		po = existing
		if po.Status != PayoutPending {
			return po, nil
		}
	}
	req.Payout = po.Clone()
	req.IdempotencyKey = po.ID
	pctx, cancel := s.providerCtx(ctx)
	st, perr := payouter.StartPayout(pctx, req)
	cancel()
	switch {
	case perr != nil && IsRetryable(perr):
		s.log.Warn("payout outcome unknown; left processing", zap.String("payout_id", po.ID), zap.Error(perr))
		st = &PayoutState{Status: PayoutProcessing}
	case perr != nil:
		msg := "the provider refused the payout"
		var pe *ProviderError
		if errors.As(perr, &pe) && pe.Message != "" {
			msg = pe.Message
		}
		st = &PayoutState{Status: PayoutFailed, Failure: &Failure{Code: FailureProviderError, Message: msg}}
	case st == nil:
		st = &PayoutState{Status: PayoutProcessing}
	}
	out, err := s.applyPayoutState(ctx, po, st, SourceAPI, nil)
	if err != nil {
		return nil, err
	}
	if perr != nil && !IsRetryable(perr) {
		return out, perr
	}
	return out, nil
}

// GetPayout returns a payout, or an error wrapping ErrNotFound.
func (s *Service) GetPayout(ctx context.Context, id string) (*Payout, error) {
	po, err := s.store.GetPayout(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: get payout %s: %w", id, err)
	}
	return po, nil
}

// SyncPayout asks the provider for the payout's state and records it.
func (s *Service) SyncPayout(ctx context.Context, id string) (*Payout, error) {
	po, err := s.GetPayout(ctx, id)
	if err != nil {
		return nil, err
	}
	prov, err := s.Provider(po.Provider)
	if err != nil {
		return nil, err
	}
	payouter, ok := prov.(Payouter)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot send payouts", ErrUnsupported, po.Provider)
	}
	pctx, cancel := s.providerCtx(ctx)
	st, err := payouter.SyncPayout(pctx, po.Clone())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("payment: sync payout %s: %w", id, err)
	}
	return s.applyPayoutState(ctx, po, st, SourceSync, nil)
}

// applyPayoutState records what a provider reported about a payout, in a
// compare-and-set loop. Backward or conflicting reports are audited and
// change nothing. msg is the webhook message that reported it, or nil (see
// updatePayment).
func (s *Service) applyPayoutState(ctx context.Context, cur *Payout, st *PayoutState, src Source, msg *InboxMessage) (*Payout, error) {
	eventKey := eventKeyOf(msg)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		po := cur.Clone()
		now := s.now()
		changed := false
		if st.ProviderReference != "" && po.ProviderReference == "" {
			po.ProviderReference, changed = st.ProviderReference, true
		}
		if st.Fee != nil && *st.Fee != po.Fee {
			po.Fee, changed = *st.Fee, true
		}
		if st.TransferAmount != nil && *st.TransferAmount != po.TransferAmount {
			po.TransferAmount, changed = *st.TransferAmount, true
		}
		var evs, audit []Event
		from, to := po.Status, st.Status
		switch {
		case to == "" || to == from:
		case CanPayoutTransition(from, to):
			po.Status = to
			if to == PayoutFailed || to == PayoutCanceled {
				po.Failure = st.Failure
			}
			evs = append(evs, s.newPayoutEvent(payoutEventType(to), po, src, eventKey, string(from)))
			changed = true
		default:
			ev := s.newPayoutEvent(EventIgnored, po, src, eventKey, string(from))
			ev.To, ev.Reason = string(to), fmt.Sprintf("stale or conflicting: %s after %s", to, from)
			audit = append(audit, ev)
		}
		if !changed {
			if err := s.appendAudit(ctx, audit, msg); err != nil {
				return nil, fmt.Errorf("payment: audit payout %s: %w", po.ID, err)
			}
			return cur, nil
		}
		po.UpdatedAt = now
		po.NextSyncAt = s.payoutNextSync(po, now)
		s.finishEvents(evs, po)
		carried := carryInbox(evs, msg)
		err := s.store.UpdatePayout(ctx, po, evs)
		if errors.Is(err, ErrConflict) {
			id := cur.ID
			if cur, err = s.store.GetPayout(ctx, id); err != nil {
				return nil, fmt.Errorf("payment: get payout %s: %w", id, err)
			}
			casBackoff(attempt)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("payment: update payout %s: %w", po.ID, carriedErr(err, carried))
		}
		if len(evs) > 0 {
			s.notifyDispatcher()
		}
		if !carried {
			if err := s.recordInbox(ctx, msg); err != nil {
				return nil, err
			}
		}
		return po, nil
	}
	return nil, fmt.Errorf("payment: payout %s: gave up after %d concurrent changes: %w", cur.ID, maxCASAttempts, ErrConflict)
}

func (s *Service) payoutNextSync(po *Payout, now time.Time) *time.Time {
	if po.Status.Final() {
		return nil
	}
	t := now.Add(max(s.cfg.syncAfter, min(s.cfg.maxSyncInterval, now.Sub(po.CreatedAt)/4)))
	return &t
}

func payoutEventType(to PayoutStatus) EventType {
	switch to {
	case PayoutPending:
		return EventPayoutCreated
	case PayoutProcessing:
		return EventPayoutProcessing
	case PayoutSucceeded:
		return EventPayoutSucceeded
	case PayoutFailed:
		return EventPayoutFailed
	case PayoutCanceled:
		return EventPayoutCanceled
	}
	return EventType("payout." + string(to))
}

func (s *Service) newPayoutEvent(typ EventType, po *Payout, src Source, eventKey, from string) Event {
	now := s.now()
	return Event{
		Object: "event", ID: s.ids.newID(PrefixEvent, now), Type: typ, ObjectID: po.ID,
		From: from, To: string(po.Status), Source: src, ProviderEventID: eventKey, CreatedAt: now,
	}
}
