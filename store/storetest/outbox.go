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
		{name: "AckOutbox marks delivered every message of ids owner holds and returns how many; delivered messages never come back", serial: true, run: testOutboxAck},
		{name: "AckOutbox skips, without counting or changing them, messages owner does not hold", serial: true, run: testOutboxAckNotHeld},
		{name: "RetryOutbox ends the lease, counts the attempt, records the error and reschedules", serial: true, run: testOutboxRetry},
		{name: "RetryOutbox by another owner is ErrConflict and changes nothing", serial: true, run: testOutboxRetryWrongOwner},
		{name: "ReleaseOutbox ends owner's leases on ids, due at next, counting no attempt and keeping LastError, and returns how many", serial: true, run: testOutboxRelease},
		{name: "an event gets one message per destination, in the order of its Destinations, and none without", serial: true, run: testOutboxDestinations},
		{name: "a message waits for older pending messages of its Destination and Stream only", serial: true, run: testOutboxDestinationOrder},
		{name: "FailOutbox counts the attempt and marks the message failed: never claimable, it no longer holds back its stream", serial: true, run: testOutboxFail},
		{name: "ListFailedOutbox returns failed messages, oldest failure first, at most limit", serial: true, run: testOutboxListFailed},
		{name: "RedeliverOutbox makes an event's failed messages pending again, and they hold back newer ones again", serial: true, run: testOutboxRedeliver},
		{name: "an event's Lease writes its message leased to its owner when the stream holds nothing else, and it is not claimable during the lease", serial: true, run: testOutboxLeaseGranted},
		{name: "an event's Lease is granted only when its owner holds every pending message of the stream, this call's included", serial: true, run: testOutboxLeaseHeld},
	}
}

// enqueue creates a payment whose creation appends one event per time in
// at, each addressed to the subscribers only, and returns the events (their
// stream is the payment id; subID names their messages).
func enqueue(t *testing.T, s payment.Store, at ...time.Time) []payment.Event {
	t.Helper()
	return enqueueTo(t, s, []string{subscribers}, at...)
}

// enqueueTo creates a payment whose creation appends one event per time in
// at, each addressed to destinations, and returns the events (their stream
// is the payment id).
func enqueueTo(t *testing.T, s payment.Store, destinations []string, at ...time.Time) []payment.Event {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at[0])
	evs := make([]payment.Event, 0, len(at))
	for _, a := range at {
		evs = append(evs, to(paymentEvent(p, a), destinations...))
	}
	mustCreatePayment(t, s, p, evs...)
	return evs
}

// messageID returns the id of the outbox message of event eventID for
// destination.
func messageID(eventID, destination string) string { return eventID + "/" + destination }

// subID returns the id of ev's outbox message for the subscribers.
func subID(ev payment.Event) string { return messageID(ev.ID, subscribers) }

// messageIDs returns the ids of the outbox messages of events: one per
// event and destination, in order.
func messageIDs(events ...payment.Event) []string {
	var ids []string
	for _, e := range events {
		for _, d := range e.Destinations {
			ids = append(ids, messageID(e.ID, d))
		}
	}
	return ids
}

// acked acknowledges the messages ids as owner at at and returns how many
// AckOutbox marked.
func acked(t testing.TB, s payment.Store, owner string, at time.Time, ids ...string) int {
	t.Helper()
	n, err := s.AckOutbox(t.Context(), owner, ids, at)
	require.NoError(t, err, "AckOutbox works")
	require.GreaterOrEqual(t, n, 0, "AckOutbox returns how many messages it marked")
	require.LessOrEqual(t, n, len(ids), "AckOutbox marks only messages of ids")
	return n
}

// ack acknowledges the messages ids, all leased to owner, at at, in one
// call.
func ack(t testing.TB, s payment.Store, owner string, at time.Time, ids ...string) {
	t.Helper()
	require.Equal(t, len(ids), acked(t, s, owner, at, ids...),
		"AckOutbox marks delivered every message of ids that owner holds and returns how many")
}

// claim claims up to limit messages as owner at at for lease, and checks
// what every claimed message must be.
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
	require.Equal(t, subID(evs[0]), m.ID, c+": the message's ID is the event's id+\"/\"+destination")
	require.Equal(t, evs[0].Stream(), m.Stream, c+": the message's Stream is the event's Stream()")
	require.Equal(t, subscribers, m.Destination, c+": the message's Destination is the event's destination")
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
		want = append(want, subID(evs[0]))
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
	require.Equal(t, messageIDs(evs...), outboxIDs(msgs), c)
	require.Empty(t, claim(t, s, "b", t0, time.Minute, 10), c+": leased to a at the same time")
	require.Empty(t, claim(t, s, "b", t0.Add(59*time.Second), time.Minute, 10), c+": leased to a until its lease ends")
	msgs = claim(t, s, "b", t0.Add(61*time.Second), time.Minute, 10)
	require.Equal(t, messageIDs(evs...), outboxIDs(msgs), c+": claimable by b once a's lease ended")

	const own = "AckOutbox skips a message owner no longer holds, and RetryOutbox returns ErrConflict when owner no longer holds the lease"
	late := t0.Add(62 * time.Second)
	require.Zero(t, acked(t, s, "a", late, subID(evs[0])), own+" (ack)")
	requireErrorIs(t, s.RetryOutbox(t.Context(), subID(evs[0]), "a", t0, "late"), payment.ErrConflict, own+" (retry)")
	require.Empty(t, claim(t, s, "c", late, time.Minute, 10), own+": the message stays leased to b")
	require.Equal(t, 1, acked(t, s, "b", late, subID(evs[0])), c+": b holds the lease")
}

func testOutboxStreamOrder(t *testing.T, s payment.Store) {
	const c = "a message is not claimable while an older undelivered message of the same Stream exists"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second), base.Add(2*time.Second))
	other := enqueue(t, s, base.Add(3*time.Second))
	at := base.Add(time.Hour)

	msgs := claim(t, s, "a", at, time.Minute, 10)
	require.Equal(t, []string{subID(st[0]), subID(other[0])}, outboxIDs(msgs), c+": only the oldest of each stream")
	require.Empty(t, claim(t, s, "b", at, time.Minute, 10), c+": the newer ones wait while the oldest is leased")
	ack(t, s, "a", at, subID(st[0]))
	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, []string{subID(st[1])}, outboxIDs(msgs), c+": the next one once the oldest is delivered")
	ack(t, s, "b", at, subID(st[1]))
	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, []string{subID(st[2])}, outboxIDs(msgs), c+": and the next")
}

func testOutboxStreamOrderScheduled(t *testing.T, s payment.Store) {
	const c = "a message is not claimable while an older undelivered message of the same Stream exists, even one scheduled later"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	at := base.Add(time.Minute)
	msgs := claim(t, s, "a", at, time.Minute, 10)
	require.Equal(t, []string{subID(st[0])}, outboxIDs(msgs), c)
	next := base.Add(2 * time.Hour)
	require.NoError(t, s.RetryOutbox(t.Context(), subID(st[0]), "a", next, "subscriber down"), c)

	require.Empty(t, claim(t, s, "b", base.Add(time.Hour), time.Minute, 10), c+": the newer message waits for the older one's retry")
	msgs = claim(t, s, "b", next, time.Minute, 10)
	require.Equal(t, []string{subID(st[0])}, outboxIDs(msgs), c+": the older one comes first when due")
	ack(t, s, "b", next, subID(st[0]))
	msgs = claim(t, s, "b", next, time.Minute, 10)
	require.Equal(t, []string{subID(st[1])}, outboxIDs(msgs), c+": then the newer one")
}

func testOutboxAck(t *testing.T, s payment.Store) {
	const c = "AckOutbox marks delivered, in one atomic step, each message of ids that owner holds and returns how many it marked; " +
		"delivered messages are never claimed again"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	other := enqueue(t, s, base.Add(2*time.Second))[0]
	multi := enqueueTo(t, s, []string{subscribers, "endpoint:x"}, base.Add(3*time.Second))[0]
	at := base.Add(time.Minute)
	msgs := claim(t, s, "a", at, time.Hour, 10)
	held := append([]string{subID(st[0]), subID(other)}, messageIDs(multi)...)
	require.Equal(t, held, outboxIDs(msgs), c)

	require.Zero(t, acked(t, s, "a", at), c+": no ids marks nothing")
	n, err := s.AckOutbox(t.Context(), "a", []string{}, at)
	require.NoError(t, err, c+": an empty list")
	require.Zero(t, n, c+": an empty list marks nothing")
	require.Empty(t, claim(t, s, "b", at, time.Minute, 10), c+": acknowledging no ids changes nothing")

	require.Equal(t, len(held), acked(t, s, "a", at, append(held, held[0])...),
		c+": every message of ids is marked and counted, once however often it is listed")
	msgs = claim(t, s, "b", at, time.Minute, 10)
	require.Equal(t, []string{subID(st[1])}, outboxIDs(msgs), c+": the delivered messages do not come back, and the stream's next one is claimable")
	require.Zero(t, acked(t, s, "a", at, held...), c+": a delivered message is not marked or counted again")
	ack(t, s, "b", at, subID(st[1]))
	require.Empty(t, claim(t, s, "c", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back, however late")
}

func testOutboxAckNotHeld(t *testing.T, s payment.Store) {
	const c = "AckOutbox leaves as they are, and does not count, the messages of ids owner does not hold " +
		"(another owner's, delivered, failed, released by RetryOutbox, or unknown), without an error"
	base := pastWindow()
	drainOutbox(t, s, base)
	mine := enqueue(t, s, base)[0]
	theirs := enqueue(t, s, base.Add(time.Second))[0]
	failed := enqueue(t, s, base.Add(2*time.Second))[0]
	retried := enqueue(t, s, base.Add(3*time.Second))[0]
	t0 := base.Add(time.Minute)
	require.Equal(t, []string{subID(mine)}, outboxIDs(claim(t, s, "a", t0, time.Hour, 1)), c)
	require.Equal(t, []string{subID(theirs), subID(failed), subID(retried)}, outboxIDs(claim(t, s, "b", t0, time.Hour, 10)), c)
	fail(t, s, subID(failed), "b", "gone", t0)
	next := t0.Add(time.Hour)
	require.NoError(t, s.RetryOutbox(t.Context(), subID(retried), "b", next, "later"), c)

	unknown := messageID(newID(payment.PrefixEvent), subscribers)
	require.Equal(t, 1, acked(t, s, "a", t0, subID(theirs), subID(failed), subID(mine), subID(retried), unknown),
		c+": of a batch, only the message owner holds is marked and counted")
	require.Zero(t, acked(t, s, "a", t0, subID(mine)), c+": a delivered message is not counted again")
	require.Zero(t, acked(t, s, "b", t0, subID(retried)), c+": RetryOutbox ended b's lease")
	require.Zero(t, acked(t, s, "", t0, subID(retried), subID(theirs)), c+": an empty owner holds nothing, not even a message nobody holds")
	require.Zero(t, acked(t, s, "a", t0, unknown), c+": an unknown message")

	require.Empty(t, claim(t, s, "c", t0.Add(30*time.Minute), time.Hour, 10),
		c+": another owner's message is still leased to it, and the retried message still waits until next")
	require.Equal(t, 1, acked(t, s, "b", t0.Add(30*time.Minute), subID(theirs)), c+": the other owner still holds its message and acknowledges it")
	msgs := claim(t, s, "c", next, time.Hour, 10)
	require.Equal(t, []string{subID(retried)}, outboxIDs(msgs), c+": the retried message is still pending, due at next")
	require.Equal(t, 1, msgs[0].Attempts, c+": the retried message is unchanged")
	ack(t, s, "c", next, subID(retried))
	require.Equal(t, 1, redeliver(t, s, failed.ID, next), c+": the failed message is still failed")
	msgs = claim(t, s, "d", next, time.Hour, 10)
	require.Equal(t, []string{subID(failed)}, outboxIDs(msgs), c+": the failed message is redelivered")
	ack(t, s, "d", next, subID(failed))
	require.Empty(t, claim(t, s, "e", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back")
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
	require.NoError(t, s.RetryOutbox(t.Context(), subID(evs[0]), "a", next, "subscriber: 503 — thử lại"), c)
	require.Empty(t, claim(t, s, "b", next.Add(-time.Microsecond), time.Minute, 10), c+": not claimable before next")
	msgs = claim(t, s, "b", next, time.Minute, 10) // before a's old lease would have ended
	require.Len(t, msgs, 1, c+": claimable at next, a's lease having ended")
	m := msgs[0]
	require.Equal(t, 1, m.Attempts, c+": one attempt counted")
	require.Equal(t, "subscriber: 503 — thử lại", m.LastError, c+": lastErr recorded")
	require.True(t, m.NextAttemptAt.Equal(next), "%s: NextAttemptAt is next: got %s", c, m.NextAttemptAt)
	requireEventEqual(t, evs[0], m.Event, c+": the event is unchanged")

	next2 := next.Add(20 * time.Minute)
	require.NoError(t, s.RetryOutbox(t.Context(), subID(evs[0]), "b", next2, "again"), c)
	msgs = claim(t, s, "c", next2, time.Minute, 10)
	require.Len(t, msgs, 1, c)
	require.Equal(t, 2, msgs[0].Attempts, c+": two attempts counted")
	require.Equal(t, "again", msgs[0].LastError, c+": the last error is kept")
	ack(t, s, "c", next2, subID(evs[0]))
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered after retries, it never comes back")
}

func testOutboxRelease(t *testing.T, s payment.Store) {
	const c = "ReleaseOutbox ends owner's lease on each message of ids it holds, making it claimable at next, " +
		"counts no attempt, leaves LastError, and returns how many; others are left as they are"
	base := pastWindow()
	drainOutbox(t, s, base)
	fresh, retried, others := enqueue(t, s, base)[0], enqueue(t, s, base)[0], enqueue(t, s, base)[0]
	t0 := base.Add(time.Minute)
	require.Len(t, claim(t, s, "a", t0, time.Hour, 2), 2, c)
	require.NoError(t, s.RetryOutbox(t.Context(), subID(retried), "a", t0, "subscriber down"), c)
	require.Len(t, claim(t, s, "a", t0, time.Hour, 1), 1, c+": the retried message, claimed again")
	require.Len(t, claim(t, s, "b", t0, time.Hour, 10), 1, c+": b holds the third")

	next := t0.Add(10 * time.Minute)
	n, err := s.ReleaseOutbox(t.Context(), "a", []string{subID(fresh), subID(retried), subID(others), subID(fresh), "evt_unknown/subscribers"}, next)
	require.NoError(t, err, c)
	require.Equal(t, 2, n, c+": a's two messages, each once; b's and an unknown one not counted")
	n, err = s.ReleaseOutbox(t.Context(), "a", []string{subID(fresh)}, next)
	require.NoError(t, err, c)
	require.Zero(t, n, c+": released, a no longer holds it")

	require.Empty(t, claim(t, s, "c", next.Add(-time.Microsecond), time.Minute, 10), c+": not claimable before next, a's lease ended or not")
	msgs := claim(t, s, "c", next, time.Minute, 10)
	require.Equal(t, []string{subID(fresh), subID(retried)}, outboxIDs(msgs), c+": both claimable at next")
	require.Zero(t, msgs[0].Attempts, c+": no attempt counted")
	require.Empty(t, msgs[0].LastError, c+": no error recorded")
	require.True(t, msgs[0].NextAttemptAt.Equal(next), "%s: NextAttemptAt is next: got %s", c, msgs[0].NextAttemptAt)
	require.Equal(t, 1, msgs[1].Attempts, c+": the earlier attempt stays counted, no more")
	require.Equal(t, "subscriber down", msgs[1].LastError, c+": the last error is kept")
	require.Equal(t, 1, acked(t, s, "b", next, subID(others)), c+": b still holds its message")
	ack(t, s, "c", next, subID(fresh), subID(retried))
}

func testOutboxRetryWrongOwner(t *testing.T, s payment.Store) {
	const c = "RetryOutbox returns ErrConflict when owner does not hold the lease, and changes nothing"
	base := pastWindow()
	drainOutbox(t, s, base)
	evs := enqueue(t, s, base)
	t0 := base.Add(time.Minute)
	require.Len(t, claim(t, s, "a", t0, time.Minute, 10), 1, c)
	requireErrorIs(t, s.RetryOutbox(t.Context(), subID(evs[0]), "b", t0, "not mine"), payment.ErrConflict, c)
	require.Empty(t, claim(t, s, "c", t0, time.Minute, 10), c+": a still holds the lease")
	msgs := claim(t, s, "c", t0.Add(2*time.Minute), time.Minute, 10)
	require.Len(t, msgs, 1, c)
	require.Zero(t, msgs[0].Attempts, c+": no attempt counted")
	require.Empty(t, msgs[0].LastError, c+": no error recorded")
	require.True(t, msgs[0].NextAttemptAt.Equal(base), "%s: not rescheduled: got %s", c, msgs[0].NextAttemptAt)
}
