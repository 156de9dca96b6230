package memstore

import (
	"bytes"
	"time"

	"github.com/paykit/paykit/payment"
)

// The clones below are deep copies with every time in UTC, so the store
// neither keeps nor hands out a pointer the caller holds. Payment.Clone and
// Payout.Clone already copy every pointer, so their times are set to UTC in
// place rather than copied again.

func clonePayment(p *payment.Payment) *payment.Payment {
	c := p.Clone()
	if c.NextAction != nil {
		toUTC(c.NextAction.ExpiresAt)
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	toUTC(c.ExpiresAt)
	toUTC(c.NextSyncAt)
	return c
}

func cloneRefund(r *payment.Refund) *payment.Refund {
	c := r.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c
}

func clonePayout(p *payment.Payout) *payment.Payout {
	c := p.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	toUTC(c.NextSyncAt)
	return c
}

func cloneEvent(e payment.Event) payment.Event {
	e.Data = bytes.Clone(e.Data)
	e.CreatedAt = e.CreatedAt.UTC()
	return e
}

func cloneIdem(r *payment.IdempotencyRecord) *payment.IdempotencyRecord {
	c := *r
	c.Response = bytes.Clone(r.Response)
	c.LockedUntil = c.LockedUntil.UTC()
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	return &c
}

func cloneInbox(m *payment.InboxMessage) *payment.InboxMessage {
	c := *m
	c.Payload = bytes.Clone(m.Payload)
	c.ReceivedAt = c.ReceivedAt.UTC()
	c.ProcessedAt = utcPtr(m.ProcessedAt)
	return &c
}

func cloneOutbox(m *payment.OutboxMessage) *payment.OutboxMessage {
	c := *m
	c.Event = cloneEvent(m.Event)
	c.NextAttemptAt = c.NextAttemptAt.UTC()
	c.LeaseUntil = c.LeaseUntil.UTC()
	c.DeliveredAt = utcPtr(m.DeliveredAt)
	c.FailedAt = utcPtr(m.FailedAt)
	return &c
}

// toUTC sets *t, a time the store owns, to UTC; nil is left alone.
func toUTC(t *time.Time) {
	if t != nil {
		*t = t.UTC()
	}
}

// utcPtr returns a copy of *t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
