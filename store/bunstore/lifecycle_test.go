package bunstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// One payment through its life on each backend: create, compare-and-set,
// events, outbox, refund, sweeper claim, idempotency key, inbox.
func TestLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		ctx := t.Context()
		at := now()
		p := testPayment(at)
		ns := at.Add(time.Minute)
		p.NextSyncAt = &ns
		p.Items = []payment.Item{}
		p.Metadata = map[string]string{"a": "b"}
		require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentCreated, p, at)}))
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got)
		p.Status = payment.StatusSucceeded
		p.AmountCaptured = p.Amount
		require.NoError(t, s.UpdatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentSucceeded, p, at)}))
		require.Equal(t, int64(2), p.Version)
		old := *p
		old.Version = 1
		require.ErrorIs(t, s.UpdatePayment(ctx, &old, nil), payment.ErrConflict)
		evs, err := s.ListEvents(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		msgs, err := s.ClaimOutbox(ctx, "me", at, time.Minute, 10)
		require.NoError(t, err)
		require.NotEmpty(t, msgs)
		r := &payment.Refund{ID: uniq("re_"), PaymentID: p.ID, Amount: 100, Currency: "THB", Status: payment.RefundPending, CreatedAt: at, UpdatedAt: at}
		p.AmountRefundPending = 100
		require.NoError(t, s.CreateRefund(ctx, r, p, []payment.Event{testEvent(payment.EventRefundCreated, p, at)}))
		r.Status = payment.RefundSucceeded
		p.AmountRefundPending, p.AmountRefunded = 0, 100
		p.Status = payment.StatusPartiallyRefunded
		require.NoError(t, s.UpdateRefund(ctx, r, p, []payment.Event{testEvent(payment.EventRefundSucceeded, p, at)}))
		rs, err := s.ListRefunds(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, rs, 1)
		due, err := s.ClaimDuePayments(ctx, at.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.NotEmpty(t, due)
		rec := &payment.IdempotencyRecord{Key: uniq("k"), Fingerprint: "f", Status: payment.IdempotencyInProgress, LockedUntil: at.Add(time.Minute), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		st, ok, err := s.AcquireIdempotencyKey(ctx, rec, at)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, rec, st)
		_, ok, err = s.AcquireIdempotencyKey(ctx, rec, at)
		require.NoError(t, err)
		require.False(t, ok)
		m := &payment.InboxMessage{Provider: "x", EventKey: uniq("e"), Status: payment.InboxReceived, Payload: []byte("hi"), ReceivedAt: at}
		_, ins, err := s.RecordInbox(ctx, m)
		require.NoError(t, err)
		require.True(t, ins)
		_, ins, err = s.RecordInbox(ctx, m)
		require.NoError(t, err)
		require.False(t, ins)
	})
}
