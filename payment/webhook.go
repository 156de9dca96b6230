package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"
)

// HandleWebhook processes an inbound provider callback: the provider
// verifies and normalises it; each event is kept once in the inbox
// (deduplicated on the provider's event key) and applied through the state
// machine. It returns the acknowledgement the provider expects.
//
// A callback that does not verify returns an error wrapping
// ErrInvalidSignature and writes nothing. A duplicate of an event already
// applied is acknowledged and changes nothing. An event for no known
// payment is acknowledged and kept as an orphan (see ListInbox). When the
// store fails, the error wraps ErrUnavailable: answer 5xx so the provider
// retries; the retry applies the event once.
func (s *Service) HandleWebhook(ctx context.Context, provider string, req *WebhookRequest) (*WebhookAck, error) {
	prov, err := s.Provider(provider)
	if err != nil {
		return nil, err
	}
	if req == nil {
		return nil, fmt.Errorf("%w: empty webhook", ErrInvalidSignature)
	}
	pctx, cancel := s.providerCtx(ctx)
	res, err := prov.ParseWebhook(pctx, req)
	cancel()
	if err != nil {
		if errors.Is(err, ErrInvalidSignature) {
			s.log.Warn("webhook rejected", zap.String("provider", provider), zap.Error(err))
		}
		return nil, fmt.Errorf("payment: webhook %s: %w", provider, err)
	}
	if res == nil {
		res = &WebhookResult{}
	}
	payload := req.Body
	if res.Payload != nil {
		payload = res.Payload
	}
	for i := range res.Events {
		if err := s.handleWebhookEvent(ctx, provider, &res.Events[i], payload); err != nil {
			return nil, err
		}
	}
	if res.Ack == nil {
		return &WebhookAck{StatusCode: http.StatusOK}, nil
	}
	return res.Ack, nil
}

func (s *Service) handleWebhookEvent(ctx context.Context, provider string, ev *WebhookEvent, body []byte) error {
	if ev.Key == "" {
		return fmt.Errorf("payment: webhook %s: event without a key: %w", provider, ErrInvalidInput)
	}
	now := s.now()
	msg := &InboxMessage{Provider: provider, EventKey: ev.Key, Status: InboxReceived, Payload: body, ReceivedAt: now}
	stored, inserted, err := s.store.RecordInbox(ctx, msg)
	if err != nil {
		return fmt.Errorf("payment: webhook %s inbox: %w", provider, err)
	}
	if !inserted && stored.Status != InboxReceived {
		return nil // a duplicate of an event already applied
	}
	objectID, applyErr := s.applyWebhookEvent(ctx, provider, ev)
	done := now
	stored.ObjectID, stored.ProcessedAt, stored.Error = objectID, &done, ""
	switch {
	case errors.Is(applyErr, ErrNotFound):
		stored.Status = InboxOrphan
		stored.Error = "no matching payment, refund or payout"
		s.log.Warn("webhook for an unknown object kept as orphan", zap.String("provider", provider), zap.String("event_key", ev.Key))
	case applyErr != nil:
		return applyErr // stays received; the provider's retry applies it
	default:
		stored.Status = InboxProcessed
	}
	if err := s.store.UpdateInbox(ctx, stored); err != nil {
		return fmt.Errorf("payment: webhook %s inbox: %w", provider, err)
	}
	return nil
}

// applyWebhookEvent finds the object an event is about and applies it.
// It returns ErrNotFound when nothing matches.
func (s *Service) applyWebhookEvent(ctx context.Context, provider string, ev *WebhookEvent) (string, error) {
	switch {
	case ev.Payout != nil:
		po, err := s.findPayout(ctx, provider, ev)
		if err != nil {
			return "", err
		}
		_, err = s.applyPayoutState(ctx, po, ev.Payout, SourceWebhook, ev.Key)
		return po.ID, err
	case ev.Refund != nil:
		r, err := s.findRefund(ctx, provider, ev)
		if err != nil {
			return "", err
		}
		_, err = s.applyRefundState(ctx, r, ev.Refund, SourceWebhook, ev.Key)
		return r.ID, err
	case ev.Payment != nil:
		p, err := s.findPayment(ctx, provider, ev)
		if err != nil {
			return "", err
		}
		_, err = s.applyPaymentState(ctx, p, ev.Payment, SourceWebhook, ev.Key)
		return p.ID, err
	default:
		return "", nil // an event that reports nothing we track
	}
}

func (s *Service) findPayment(ctx context.Context, provider string, ev *WebhookEvent) (*Payment, error) {
	if ev.PaymentID != "" {
		p, err := s.store.GetPayment(ctx, ev.PaymentID)
		if err == nil && p.Provider == provider {
			return p, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if ev.ProviderReference != "" {
		p, err := s.store.GetPaymentByReference(ctx, provider, ev.ProviderReference)
		if !errors.Is(err, ErrNotFound) {
			return p, err
		}
	}
	if ev.OrderID != "" {
		ps, err := s.store.FindPayments(ctx, provider, ev.OrderID)
		if err != nil {
			return nil, err
		}
		// The newest payment for the order is the one the provider knows.
		if len(ps) > 0 {
			return ps[len(ps)-1], nil
		}
	}
	return nil, ErrNotFound
}

func (s *Service) findRefund(ctx context.Context, provider string, ev *WebhookEvent) (*Refund, error) {
	if ev.RefundID != "" {
		r, err := s.store.GetRefund(ctx, ev.RefundID)
		if !errors.Is(err, ErrNotFound) {
			return r, err
		}
	}
	p, err := s.findPayment(ctx, provider, ev)
	if err != nil {
		return nil, err
	}
	rs, err := s.store.ListRefunds(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if ev.Refund.ProviderReference != "" && r.ProviderReference == ev.Refund.ProviderReference {
			return r, nil
		}
	}
	return nil, ErrNotFound
}

func (s *Service) findPayout(ctx context.Context, provider string, ev *WebhookEvent) (*Payout, error) {
	if ev.PayoutID != "" {
		po, err := s.store.GetPayout(ctx, ev.PayoutID)
		if err == nil && po.Provider == provider {
			return po, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	ref := ev.ProviderReference
	if ev.Payout.ProviderReference != "" {
		ref = ev.Payout.ProviderReference
	}
	if ref != "" {
		return s.store.GetPayoutByReference(ctx, provider, ref)
	}
	return nil, ErrNotFound
}
