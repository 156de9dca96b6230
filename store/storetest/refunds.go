package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func refundTests() []test {
	return []test{
		{name: "CreateRefund inserts the refund and updates the payment in one step", run: testCreateRefund},
		{name: "CreateRefund with a stale payment Version is ErrConflict and inserts no refund", run: testCreateRefundStale},
		{name: "CreateRefund with an existing refund id is ErrAlreadyExists and leaves the payment unchanged", run: testCreateRefundDuplicate},
		{name: "CreateRefund for a missing payment is ErrNotFound and inserts no refund", run: testCreateRefundMissingPayment},
		{name: "GetRefund of a missing id is ErrNotFound", run: testGetRefundMissing},
		{name: "a refund round-trips every field, times in UTC", run: testRefundRoundTrip},
		{name: "ListRefunds returns a payment's refunds oldest first", run: testListRefunds},
		{name: "UpdateRefund replaces the refund and updates the payment in one step", run: testUpdateRefund},
		{name: "UpdateRefund with a stale payment Version is ErrConflict and changes neither", run: testUpdateRefundStale},
		{name: "UpdateRefund of a missing refund or payment is ErrNotFound and changes nothing", run: testUpdateRefundMissing},
		{name: "returned refunds are copies", run: testRefundCopies},
	}
}

// refundable creates a captured payment of amount and returns it.
func refundable(t *testing.T, s payment.Store, amount int64) *payment.Payment {
	t.Helper()
	p := captured(newPayment(newProvider(), newOrderID(), now()), amount)
	mustCreatePayment(t, s, p)
	return p
}

func mustGetRefund(t *testing.T, s payment.Store, id string) *payment.Refund {
	t.Helper()
	r, err := s.GetRefund(t.Context(), id)
	require.NoError(t, err, "GetRefund returns an existing refund")
	require.NotNil(t, r, "GetRefund returns an existing refund")
	return r
}

func testCreateRefund(t *testing.T, s payment.Store) {
	const c = "CreateRefund inserts r and updates p as UpdatePayment does, with events, in one atomic step"
	p := refundable(t, s, 10000)
	r := newRefund(p, 3000, now())
	p.AmountRefundPending += r.Amount
	p.Status = payment.StatusPartiallyRefunded
	ev := newEvent(payment.EventRefundCreated, r.ID, p.ID, now())
	require.NoError(t, s.CreateRefund(t.Context(), r, p, []payment.Event{ev}), c)
	require.Equal(t, int64(2), p.Version, c+": p.Version is incremented")
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+": the refund is stored")
	got := mustGetPayment(t, s, p.ID)
	require.Equal(t, int64(2), got.Version, c+": the stored Version is incremented")
	requirePaymentEqual(t, p, got, c+": the payment is updated")
	events, err := s.ListEvents(t.Context(), r.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{ev}, events, c+": the events are appended")
}

func testCreateRefundStale(t *testing.T, s payment.Store) {
	const c = "CreateRefund fails with ErrConflict when p's Version is stale, and inserts no refund"
	p := refundable(t, s, 10000)
	stale := p.Clone()
	p.Flags = []string{"x"}
	mustUpdatePayment(t, s, p)

	r := newRefund(stale, 3000, now())
	stale.AmountRefundPending = 3000
	ev := newEvent(payment.EventRefundCreated, r.ID, p.ID, now())
	requireErrorIs(t, s.CreateRefund(t.Context(), r, stale, []payment.Event{ev}), payment.ErrConflict, c)
	_, err := s.GetRefund(t.Context(), r.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the refund was not inserted")
	refunds, err := s.ListRefunds(t.Context(), p.ID)
	require.NoError(t, err, c)
	require.Empty(t, refunds, c+": the refund is not listed")
	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+": the payment is unchanged")
	events, err := s.ListEvents(t.Context(), r.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}

func testCreateRefundDuplicate(t *testing.T, s payment.Store) {
	const c = "CreateRefund fails with ErrAlreadyExists when r.ID exists, and changes nothing"
	p := refundable(t, s, 10000)
	r := newRefund(p, 1000, now())
	p.AmountRefundPending = 1000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)

	dup := newRefund(p, 2000, now())
	dup.ID = r.ID
	before := p.Clone()
	p.AmountRefundPending = 3000
	ev := newEvent(payment.EventRefundCreated, r.ID, p.ID, now())
	requireErrorIs(t, s.CreateRefund(t.Context(), dup, p, []payment.Event{ev}), payment.ErrAlreadyExists, c)
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+": the first refund is unchanged")
	requirePaymentEqual(t, before, mustGetPayment(t, s, p.ID), c+": the payment is not updated")
	events, err := s.ListEvents(t.Context(), r.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}

func testCreateRefundMissingPayment(t *testing.T, s payment.Store) {
	const c = "CreateRefund updates p as UpdatePayment does: a missing payment is ErrNotFound, and no refund is inserted"
	p := captured(newPayment(newProvider(), newOrderID(), now()), 10000)
	p.Version = 1
	r := newRefund(p, 1000, now())
	requireErrorIs(t, s.CreateRefund(t.Context(), r, p, nil), payment.ErrNotFound, c)
	_, err := s.GetRefund(t.Context(), r.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the refund was not inserted")
}

func testGetRefundMissing(t *testing.T, s payment.Store) {
	const c = "GetRefund returns ErrNotFound for a missing id"
	r, err := s.GetRefund(t.Context(), newID(payment.PrefixRefund))
	requireErrorIs(t, err, payment.ErrNotFound, c)
	require.Nil(t, r, c)
}

func testRefundRoundTrip(t *testing.T, s payment.Store) {
	const c = "a refund comes back exactly as written, times in UTC"
	p := refundable(t, s, 1<<63-1)
	at := now()
	r := newRefund(p, 1<<63-1, at.Add(-time.Microsecond))
	r.ProviderReference = "rf-" + randText() + "-ผู้ขาย"
	r.UpdatedAt = at.Add(time.Hour + time.Microsecond)
	r.Reason = "lý do 🧾 " + "返金"
	p.AmountRefundPending = r.Amount
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+" (CreateRefund)")

	r.Status = payment.RefundFailed
	r.Failure = &payment.Failure{Code: "refund_rejected", Message: "Từ chối — 拒否 ❌"}
	r.UpdatedAt = at.Add(2 * time.Hour)
	p.AmountRefundPending = 0
	require.NoError(t, s.UpdateRefund(t.Context(), r, p, nil), c)
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+" (UpdateRefund)")
}

func testListRefunds(t *testing.T, s payment.Store) {
	const c = "ListRefunds returns a payment's refunds, oldest first"
	p := refundable(t, s, 10000)
	other := refundable(t, s, 10000)
	at := now()
	var want []*payment.Refund
	for i := range 3 {
		r := newRefund(p, 1000, at.Add(time.Duration(i)*time.Second))
		p.AmountRefundPending += 1000
		require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
		want = append(want, r)
		// A refund of another payment in between.
		ro := newRefund(other, 10, at.Add(time.Duration(i)*time.Second))
		other.AmountRefundPending += 10
		require.NoError(t, s.CreateRefund(t.Context(), ro, other, nil), c)
	}
	got, err := s.ListRefunds(t.Context(), p.ID)
	require.NoError(t, err, c)
	require.Len(t, got, len(want), c+": only this payment's refunds")
	for i := range want {
		requireRefundEqual(t, want[i], got[i], c)
	}
	none, err := s.ListRefunds(t.Context(), newID(payment.PrefixPayment))
	require.NoError(t, err, c+": an unknown payment has no refunds")
	require.Empty(t, none, c+": an unknown payment has no refunds")
}

func testUpdateRefund(t *testing.T, s payment.Store) {
	const c = "UpdateRefund replaces the stored refund r.ID with r and updates p as UpdatePayment does, with events, atomically"
	p := refundable(t, s, 10000)
	r := newRefund(p, 4000, now())
	p.AmountRefundPending = 4000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)

	r.Status = payment.RefundSucceeded
	r.ProviderReference = "rf-" + randText()
	r.UpdatedAt = now()
	p.AmountRefundPending = 0
	p.AmountRefunded = 4000
	p.Status = payment.StatusPartiallyRefunded
	ev := newEvent(payment.EventRefundSucceeded, r.ID, p.ID, now())
	require.NoError(t, s.UpdateRefund(t.Context(), r, p, []payment.Event{ev}), c)
	require.Equal(t, int64(3), p.Version, c+": p.Version is incremented")
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+": the refund is replaced")
	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+": the payment is updated")
	events, err := s.ListEvents(t.Context(), r.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{ev}, events, c+": the events are appended")
}

func testUpdateRefundStale(t *testing.T, s payment.Store) {
	const c = "UpdateRefund fails with ErrConflict when p's Version is stale, and changes neither refund nor payment"
	p := refundable(t, s, 10000)
	r := newRefund(p, 4000, now())
	p.AmountRefundPending = 4000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
	stale := p.Clone()
	p.Flags = []string{"x"}
	mustUpdatePayment(t, s, p)

	changed := r.Clone()
	changed.Status = payment.RefundSucceeded
	stale.AmountRefunded = 4000
	stale.AmountRefundPending = 0
	ev := newEvent(payment.EventRefundSucceeded, r.ID, p.ID, now())
	requireErrorIs(t, s.UpdateRefund(t.Context(), changed, stale, []payment.Event{ev}), payment.ErrConflict, c)
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+": the refund is unchanged")
	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+": the payment is unchanged")
	events, err := s.ListEvents(t.Context(), r.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}

func testUpdateRefundMissing(t *testing.T, s payment.Store) {
	const c = "UpdateRefund returns ErrNotFound when the refund or the payment is missing, and changes nothing"
	p := refundable(t, s, 10000)
	ghost := newRefund(p, 1000, now())
	before := p.Clone()
	p.AmountRefundPending = 1000
	requireErrorIs(t, s.UpdateRefund(t.Context(), ghost, p, nil), payment.ErrNotFound, c+": missing refund")
	requirePaymentEqual(t, before, mustGetPayment(t, s, p.ID), c+": missing refund: the payment is unchanged")
	_, err := s.GetRefund(t.Context(), ghost.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": missing refund: UpdateRefund does not insert it")

	r := newRefund(p, 1000, now())
	p = before.Clone()
	p.AmountRefundPending = 1000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
	missing := captured(newPayment(newProvider(), newOrderID(), now()), 10000)
	missing.Version = 1
	changed := r.Clone()
	changed.Status = payment.RefundFailed
	requireErrorIs(t, s.UpdateRefund(t.Context(), changed, missing, nil), payment.ErrNotFound, c+": missing payment")
	requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), c+": missing payment: the refund is unchanged")
}

func testRefundCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: refunds passed in and returned are the caller's"
	p := refundable(t, s, 10000)
	r := newRefund(p, 1000, now())
	r.Failure = &payment.Failure{Code: "a", Message: "b"}
	p.AmountRefundPending = 1000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
	want := r.Clone()
	r.Failure.Code = "changed"
	r.Amount = 1
	got := mustGetRefund(t, s, r.ID)
	requireRefundEqual(t, want, got, c+": changing the refund passed in")
	got.Failure.Code = "changed"
	got.Amount = 2
	list, err := s.ListRefunds(t.Context(), p.ID)
	require.NoError(t, err, c)
	require.Len(t, list, 1, c)
	list[0].Failure.Message = "changed"
	requireRefundEqual(t, want, mustGetRefund(t, s, r.ID), c+": changing refunds returned")
}
