package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func outboxTests() []test {
	return []test{
		{name: "a new message is claimable from its event's CreatedAt, not before", serial: true, run: testOutboxFresh},
		{name: "ClaimOutbox returns the oldest messages first, at most limit", serial: true, run: testOutboxOldestFirst},
		{name: "a leased message is not claimable until its lease ends", serial: true, run: testOutboxLease},
		{name: "a stream's newer message is not claimable while an older one is undelivered", serial: true, run: testOutboxStreamOrder},
		{name: "a stream's newer message waits even when the older one is scheduled later", serial: true, run: testOutboxStreamOrderScheduled},
		{name: "AckOutbox by another owner is ErrConflict; delivered messages never come back", serial: true, run: testOutboxAck},
		{name: "RetryOutbox ends the lease, counts the attempt, records the error and reschedules", serial: true, run: testOutboxRetry},
		{name: "RetryOutbox by another owner is ErrConflict and changes nothing", serial: true, run: testOutboxRetryWrongOwner},
		{name: "FanOutOutbox delivers the message and inserts one message per destination, due at now, newer than every stored message", serial: true, run: testOutboxFanOut},
		{name: "FanOutOutbox by another owner is ErrConflict and changes nothing", serial: true, run: testOutboxFanOutWrongOwner},
		{name: "a message waits for older pending messages of its Destination and Stream only", serial: true, run: testOutboxDestinationOrder},
		{name: "FailOutbox counts the attempt and marks the message failed: never claimable, it no longer holds back its stream", serial: true, run: testOutboxFail},
		{name: "ListFailedOutbox returns failed messages, oldest failure first, at most limit", serial: true, run: testOutboxListFailed},
		{name: "RedeliverOutbox makes an event's failed messages pending again, and they hold back newer ones again", serial: true, run: testOutboxRedeliver},
	}
}

// enqueue creates a payment whose creation appends one event per time in
// at, and returns the events (their stream is the payment id).
func enqueue(t *testing.T, s payment.Store, at ...time.Time) []payment.Event {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at[0])
	evs := make([]payment.Event, 0, len(at))
	for _, a := range at {
		evs = append(evs, paymentEvent(p, a))
	}
	mustCreatePayment(t, s, p, evs...)
	return evs
}

func claim(t *testing.T, s payment.Store, owner string, at time.Time, lease time.Duration, limit int) []*payment.OutboxMessage {
	t.Helper()
	msgs, err := s.ClaimOutbox(t.Context(), owner, at, lease, limit)
	require.NoError(t, err, "ClaimOutbox works")
	require.LessOrEqual(t, len(msgs), limit, "ClaimOutbox leases up to limit messages")
	for _, m := range msgs {
		requireUTC(t, m, "ClaimOutbox")
		require.Equal(t, owner, m.LeaseOwner, "ClaimOutbox leases messages to owner")
		require.True(t, m.LeaseUntil.Equal(at.Add(lease)), "ClaimOutbox leases messages until now+lease: got %s want %s", m.LeaseUntil, at.Add(lease))
		require.Nil(t, m.DeliveredAt, "ClaimOutbox returns undelivered messages only")
		require.Nil(t, m.FailedAt, "ClaimOutbox returns messages that are not failed only")
	}
	return msgs
}

func testOutboxFresh(t *testing.T, s payment.Store) {
	const c = "an outbox message is due at its event's CreatedAt (NextAttemptAt), and ClaimOutbox leases it to owner until now+lease"
	base := pastWindow()
	drainOutbox(t, s, base)
	at := base.Add(10 * time.Minute)
	evs := enqueue(t, s, at)
	require.Empty(t, claim(t, s, "a", at.Add(-time.Microsecond), time.Minute, 10), c+": not claimable before NextAttemptAt")
	msgs := claim(t, s, "a", at, time.Minute, 10)
	require.Len(t, msgs, 1, c+": claimable at NextAttemptAt")
	m := msgs[0]
	require.Equal(t, evs[0].ID, m.ID, c+": the message's ID is the event's")
	require.Equal(t, evs[0].Stream(), m.Stream, c+": the message's Stream is the event's Stream()")
	require.Empty(t, m.Destination, c+": an appended event's message has Destination \"\" (not yet fanned out)")
	requireEventEqual(t, evs[0], m.Event, c+": the message carries the event")
	require.Zero(t, m.Attempts, c+": no attempts yet")
	require.True(t, m.NextAttemptAt.Equal(at), "%s: NextAttemptAt is the event's CreatedAt: got %s", c, m.NextAttemptAt)
	require.Empty(t, m.LastError, c+": no error yet")
}

func testOutboxOldestFirst(t *testing.T, s payment.Store) {
	const c = "ClaimOutbox leases up to limit messages and returns them oldest first"
	base := pastWindow()
	drainOutbox(t, s, base)
	var want []string
	for i := range 5 {
		evs := enqueue(t, s, base.Add(time.Duration(i)*time.Second))
		want = append(want, evs[0].ID)
	}
	at := base.Add(time.Hour)
	var got []string
	for _, n := range []int{2, 2, 2} {
		msgs := claim(t, s, "a", at, time.Minute, n)
		got = append(got, outboxIDs(msgs)...)
	}
	require.Equal(t, want, got, c)
	require.Empty(t, claim(t, s, "b", at, time.Minute, 10), c+": every message is leased")
}

func testOutboxLease(t *testing.T, s payment.Store) {
	const c = "a message is claimable only when its lease (if any) has ended: two claimers never hold it at once"
	base := pastWindow()
	drainOutbox(t, s, base)
	evs := enqueue(t, s, base)
	t0 := base.Add(time.Minute)
	msgs := claim(t, s, "a", t0, time.Minute, 10)
	require.Equal(t, eventIDs(evs), outboxIDs(msgs), c)
	require.Empty(t, claim(t, s, "b", t0, time.Minute, 10), c+": leased to a at the same time")
	require.Empty(t, claim(t, s, "b", t0.Add(59*time.Second), time.Minute, 10), c+": leased to a until its lease ends")
	msgs = claim(t, s, "b", t0.Add(61*time.Second), time.Minute, 10)
	require.Equal(t, eventIDs(evs), outboxIDs(msgs), c+": claimable by b once a's lease ended")

	const own = "AckOutbox and RetryOutbox return ErrConflict when owner no longer holds the lease"
	requireErrorIs(t, s.AckOutbox(t.Context(), evs[0].ID, "a", t0.Add(62*time.Second)), payment.ErrConflict, own+" (ack)")
	requireErrorIs(t, s.RetryOutbox(t.Context(), evs[0].ID, "a", t0, "late"), payment.ErrConflict, own+" (retry)")
	require.NoError(t, s.AckOutbox(t.Context(), evs[0].ID, "b", t0.Add(62*time.Second)), c+": b holds the lease")
}

func testOutboxStreamOrder(t *testing.T, s payment.Store) {
	const c = "a message is not claimable while an older undelivered message of the same Stream exists"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second), base.Add(2*time.Second))
	other := enqueue(t, s, base.Add(3*time.Second))
	at := base.Add(time.Hour)

	msgs := claim(t, s, "a", at, time.Minute, 10)
	require.Equal(t, []string{st[0].ID, other[0].ID}, outboxIDs(msgs), c+": only the oldest of each stream")
	require.Empty(t, claim(t, s, "b", at, time.Minute, 10), c+": the newer ones wait while the oldest is leased")
	require.NoError(t, s.AckOutbox(t.Context(), st[0].ID, "a", at), c)
	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, []string{st[1].ID}, outboxIDs(msgs), c+": the next one once the oldest is delivered")
	require.NoError(t, s.AckOutbox(t.Context(), st[1].ID, "b", at), c)
	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, []string{st[2].ID}, outboxIDs(msgs), c+": and the next")
}

func testOutboxStreamOrderScheduled(t *testing.T, s payment.Store) {
	const c = "a message is not claimable while an older undelivered message of the same Stream exists, even one scheduled later"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	at := base.Add(time.Minute)
	msgs := claim(t, s, "a", at, time.Minute, 10)
	require.Equal(t, []string{st[0].ID}, outboxIDs(msgs), c)
	next := base.Add(2 * time.Hour)
	require.NoError(t, s.RetryOutbox(t.Context(), st[0].ID, "a", next, "subscriber down"), c)

	require.Empty(t, claim(t, s, "b", base.Add(time.Hour), time.Minute, 10), c+": the newer message waits for the older one's retry")
	msgs = claim(t, s, "b", next, time.Minute, 10)
	require.Equal(t, []string{st[0].ID}, outboxIDs(msgs), c+": the older one comes first when due")
	require.NoError(t, s.AckOutbox(t.Context(), st[0].ID, "b", next), c)
	msgs = claim(t, s, "b", next, time.Minute, 10)
	require.Equal(t, []string{st[1].ID}, outboxIDs(msgs), c+": then the newer one")
}

func testOutboxAck(t *testing.T, s payment.Store) {
	const c = "AckOutbox marks a leased message delivered; ErrConflict when owner does not hold the lease; delivered messages are never claimed again"
	base := pastWindow()
	drainOutbox(t, s, base)
	evs := enqueue(t, s, base, base.Add(time.Second))
	at := base.Add(time.Minute)
	msgs := claim(t, s, "a", at, time.Hour, 10)
	require.Equal(t, eventIDs(evs[:1]), outboxIDs(msgs), c)
	requireErrorIs(t, s.AckOutbox(t.Context(), evs[0].ID, "b", at), payment.ErrConflict, c+": another owner")
	require.Empty(t, claim(t, s, "c", at, time.Minute, 10), c+": a failed ack by another owner does not end a's lease")
	require.NoError(t, s.AckOutbox(t.Context(), evs[0].ID, "a", at), c+": the owner acknowledges")

	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, eventIDs(evs[1:]), outboxIDs(msgs), c+": the delivered message does not come back")
	require.NoError(t, s.AckOutbox(t.Context(), evs[1].ID, "b", at), c)
	require.Empty(t, claim(t, s, "c", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back, however late")
}

func testOutboxRetry(t *testing.T, s payment.Store) {
	const c = "RetryOutbox ends owner's lease, counts the attempt, records lastErr and schedules the message for next"
	base := pastWindow()
	drainOutbox(t, s, base)
	evs := enqueue(t, s, base)
	t0 := base.Add(time.Minute)
	msgs := claim(t, s, "a", t0, time.Hour, 10)
	require.Len(t, msgs, 1, c)
	copy(msgs[0].Event.Data, `{"id":"changed"`) // a returned value is the caller's

	next := t0.Add(10 * time.Minute)
	require.NoError(t, s.RetryOutbox(t.Context(), evs[0].ID, "a", next, "subscriber: 503 — thử lại"), c)
	require.Empty(t, claim(t, s, "b", next.Add(-time.Microsecond), time.Minute, 10), c+": not claimable before next")
	msgs = claim(t, s, "b", next, time.Minute, 10) // before a's old lease would have ended
	require.Len(t, msgs, 1, c+": claimable at next, a's lease having ended")
	m := msgs[0]
	require.Equal(t, 1, m.Attempts, c+": one attempt counted")
	require.Equal(t, "subscriber: 503 — thử lại", m.LastError, c+": lastErr recorded")
	require.True(t, m.NextAttemptAt.Equal(next), "%s: NextAttemptAt is next: got %s", c, m.NextAttemptAt)
	requireEventEqual(t, evs[0], m.Event, c+": the event is unchanged")

	next2 := next.Add(20 * time.Minute)
	require.NoError(t, s.RetryOutbox(t.Context(), evs[0].ID, "b", next2, "again"), c)
	msgs = claim(t, s, "c", next2, time.Minute, 10)
	require.Len(t, msgs, 1, c)
	require.Equal(t, 2, msgs[0].Attempts, c+": two attempts counted")
	require.Equal(t, "again", msgs[0].LastError, c+": the last error is kept")
	require.NoError(t, s.AckOutbox(t.Context(), evs[0].ID, "c", next2), c)
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered after retries, it never comes back")
}

func testOutboxRetryWrongOwner(t *testing.T, s payment.Store) {
	const c = "RetryOutbox returns ErrConflict when owner does not hold the lease, and changes nothing"
	base := pastWindow()
	drainOutbox(t, s, base)
	evs := enqueue(t, s, base)
	t0 := base.Add(time.Minute)
	require.Len(t, claim(t, s, "a", t0, time.Minute, 10), 1, c)
	requireErrorIs(t, s.RetryOutbox(t.Context(), evs[0].ID, "b", t0, "not mine"), payment.ErrConflict, c)
	require.Empty(t, claim(t, s, "c", t0, time.Minute, 10), c+": a still holds the lease")
	msgs := claim(t, s, "c", t0.Add(2*time.Minute), time.Minute, 10)
	require.Len(t, msgs, 1, c)
	require.Zero(t, msgs[0].Attempts, c+": no attempt counted")
	require.Empty(t, msgs[0].LastError, c+": no error recorded")
	require.True(t, msgs[0].NextAttemptAt.Equal(base), "%s: not rescheduled: got %s", c, msgs[0].NextAttemptAt)
}
