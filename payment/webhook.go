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

// handleWebhookEvent applies one provider event and keeps it in the inbox.
// A new event that changes something costs one write: the message is
// recorded as processed with the change it applies. A message an earlier
// delivery kept without applying it (status received) is applied and then
// marked. A duplicate of an event already applied costs one read.
func (s *Service) handleWebhookEvent(ctx context.Context, provider string, ev *WebhookEvent, body []byte) error {
	if ev.Key == "" {
		return fmt.Errorf("payment: webhook %s: event without a key: %w", provider, ErrInvalidInput)
	}
	stored, err := s.store.GetInbox(ctx, provider, ev.Key)
	switch {
	case errors.Is(err, ErrNotFound):
		stored = nil
	case err != nil:
		return fmt.Errorf("payment: webhook %s inbox: %w", provider, err)
	case stored.Status != InboxReceived:
		return nil // a duplicate of an event already applied
	}
	now := s.now()
	msg := &InboxMessage{
		Provider: provider, EventKey: ev.Key, Status: InboxProcessed, Payload: body,
		ReceivedAt: now, ProcessedAt: &now,
	}
	carried := msg
	if stored != nil {
		carried = nil // it is stored: mark it once applied
	}
	applyErr := s.applyWebhookEvent(ctx, provider, ev, msg, carried)
	switch {
	case errors.Is(applyErr, errDuplicateEvent):
		return nil // another delivery of the same event recorded it first
	case errors.Is(applyErr, ErrNotFound):
		msg.Status, msg.ObjectID, msg.Error = InboxOrphan, "", "no matching payment, refund or payout"
		s.log.Warn("webhook for an unknown object kept as orphan", zap.String("provider", provider), zap.String("event_key", ev.Key))
	case applyErr != nil:
		if stored == nil {
			// Keep it unapplied, for ListInbox; the provider's retry applies it.
			msg.Status, msg.ProcessedAt = InboxReceived, nil
			if _, _, err := s.store.RecordInbox(ctx, msg); err != nil {
				s.log.Warn("webhook not kept in the inbox", zap.String("provider", provider),
					zap.String("event_key", ev.Key), zap.Error(err))
			}
		}
		return applyErr
	case carried != nil:
		return nil // recorded with what it changed
	}
	if stored == nil {
		if _, _, err := s.store.RecordInbox(ctx, msg); err != nil {
			return fmt.Errorf("payment: webhook %s inbox: %w", provider, err)
		}
		return nil
	}
	stored.Status, stored.ObjectID, stored.Error, stored.ProcessedAt = msg.Status, msg.ObjectID, msg.Error, msg.ProcessedAt
	if err := s.store.UpdateInbox(ctx, stored); err != nil {
		return fmt.Errorf("payment: webhook %s inbox: %w", provider, err)
	}
	return nil
}

// applyWebhookEvent finds the object an event is about, sets msg.ObjectID
// and applies the event. carried, when not nil, is msg, to be recorded with
// what the event changes. It returns ErrNotFound when nothing matches, and
// errDuplicateEvent when another delivery recorded carried first.
func (s *Service) applyWebhookEvent(ctx context.Context, provider string, ev *WebhookEvent, msg, carried *InboxMessage) error {
	switch {
	case ev.Payout != nil:
		po, err := s.findPayout(ctx, provider, ev)
		if err != nil {
			return err
		}
		msg.ObjectID = po.ID
		_, err = s.applyPayoutState(ctx, po, ev.Payout, SourceWebhook, carried)
		return err
	case ev.Refund != nil:
		r, err := s.findRefund(ctx, provider, ev)
		if err != nil {
			return err
		}
		msg.ObjectID = r.ID
		_, err = s.applyRefundState(ctx, r, ev.Refund, SourceWebhook, carried)
		return err
	case ev.Payment != nil:
		p, err := s.findPayment(ctx, provider, ev)
		if err != nil {
			return err
		}
		msg.ObjectID = p.ID
		_, err = s.applyPaymentState(ctx, p, ev.Payment, SourceWebhook, carried)
		return err
	default:
		return s.recordInbox(ctx, carried) // an event that reports nothing we track
	}
}

// errDuplicateEvent: a webhook message this delivery meant to record was
// recorded first by another delivery of the same event.
var errDuplicateEvent = errors.New("payment: the webhook event was recorded by another delivery")

// eventKeyOf returns the event key of msg, or "" for nil.
func eventKeyOf(msg *InboxMessage) string {
	if msg == nil {
		return ""
	}
	return msg.EventKey
}

// carryInbox attaches msg, the webhook message a write applies, to the
// first of events, so that the store records it in the same write. It
// reports whether it did: a write without events cannot carry it.
func carryInbox(events []Event, msg *InboxMessage) bool {
	if msg == nil || len(events) == 0 {
		return false
	}
	events[0].Inbox = msg
	return true
}

// carriedErr maps the error of a write: when it carried a webhook message,
// ErrAlreadyExists means the message was recorded by another delivery (no
// write of the Service's fails so otherwise).
func carriedErr(err error, carried bool) error {
	if carried && errors.Is(err, ErrAlreadyExists) {
		return fmt.Errorf("%w: %w", errDuplicateEvent, err)
	}
	return err
}

// recordInbox records msg, a webhook message whose write carried nothing,
// on its own. A nil msg records nothing.
func (s *Service) recordInbox(ctx context.Context, msg *InboxMessage) error {
	if msg == nil {
		return nil
	}
	_, inserted, err := s.store.RecordInbox(ctx, msg)
	if err != nil {
		return fmt.Errorf("payment: webhook %s inbox: %w", msg.Provider, err)
	}
	if !inserted {
		return errDuplicateEvent
	}
	return nil
}

// appendAudit appends audit-only events; msg, when not nil, is recorded
// with them, or on its own when there are none.
func (s *Service) appendAudit(ctx context.Context, audit []Event, msg *InboxMessage) error {
	if len(audit) == 0 {
		return s.recordInbox(ctx, msg)
	}
	carried := carryInbox(audit, msg)
	if err := s.store.AppendEvents(ctx, audit); err != nil {
		return carriedErr(err, carried)
	}
	return nil
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
