package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// This file checks the outbox's destinations: FanOutOutbox, the order per
// (Destination, Stream), and failed messages (FailOutbox, ListFailedOutbox,
// RedeliverOutbox). Its tests are in outboxTests.

// fannedIDs returns the ids FanOutOutbox gives the messages of id for
// destinations, in order.
func fannedIDs(id string, destinations ...string) []string {
	ids := make([]string, 0, len(destinations))
	for _, d := range destinations {
		ids = append(ids, id+"/"+d)
	}
	return ids
}

// fanOut fans the message id, leased to owner, out to destinations at at.
func fanOut(t testing.TB, s payment.Store, id, owner string, at time.Time, destinations ...string) {
	t.Helper()
	require.NoError(t, s.FanOutOutbox(t.Context(), id, owner, destinations, at), "FanOutOutbox by the lease holder works")
}

// ack acknowledges the messages ids, leased to owner, at at.
func ack(t testing.TB, s payment.Store, owner string, at time.Time, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, s.AckOutbox(t.Context(), id, owner, at), "AckOutbox by the lease holder works")
	}
}

// fail marks the message id, leased to owner, failed at at.
func fail(t testing.TB, s payment.Store, id, owner, lastErr string, at time.Time) {
	t.Helper()
	require.NoError(t, s.FailOutbox(t.Context(), id, owner, lastErr, at), "FailOutbox by the lease holder works")
}

// listFailed lists failed messages and checks what every one must be.
func listFailed(t testing.TB, s payment.Store, limit int) []*payment.OutboxMessage {
	t.Helper()
	msgs, err := s.ListFailedOutbox(t.Context(), limit)
	require.NoError(t, err, "ListFailedOutbox works")
	require.LessOrEqual(t, len(msgs), max(limit, 0), "ListFailedOutbox returns at most limit messages")
	for _, m := range msgs {
		requireUTC(t, m, "ListFailedOutbox")
		require.NotNilf(t, m.FailedAt, "ListFailedOutbox returns failed messages only (FailedAt set): %s", m.ID)
		require.Nilf(t, m.DeliveredAt, "ListFailedOutbox returns failed messages only (not delivered): %s", m.ID)
		require.Emptyf(t, m.LeaseOwner, "FailOutbox ends the lease: %s", m.ID)
	}
	return msgs
}

// redeliver redelivers eventID's failed messages at at and returns how
// many.
func redeliver(t testing.TB, s payment.Store, eventID string, at time.Time) int {
	t.Helper()
	n, err := s.RedeliverOutbox(t.Context(), eventID, at)
	require.NoError(t, err, "RedeliverOutbox works")
	return n
}

// drainFailed makes every failed message pending again, due at base, so
// that failed leftovers of earlier runs do not show up in ListFailedOutbox.
// Call drainOutbox(base) next: it parks them with the other leftovers.
func drainFailed(t testing.TB, s payment.Store, base time.Time) {
	t.Helper()
	for range 10000 {
		msgs := listFailed(t, s, 1000)
		if len(msgs) == 0 {
			return
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			if !seen[m.Event.ID] {
				seen[m.Event.ID] = true
				require.Positive(t, redeliver(t, s, m.Event.ID, base), "RedeliverOutbox: a listed failed message is redelivered")
			}
		}
	}
	t.Fatal("ListFailedOutbox: could not drain failed leftovers of earlier runs")
}

// requireFanned checks that m is the message FanOutOutbox made of ev for
// dest at at, never attempted.
func requireFanned(t testing.TB, m *payment.OutboxMessage, ev payment.Event, dest string, at time.Time, contract string) {
	t.Helper()
	require.Equal(t, ev.ID+"/"+dest, m.ID, contract+": the ID is id+\"/\"+destination")
	require.Equal(t, ev.Stream(), m.Stream, contract+": the same Stream")
	require.Equal(t, dest, m.Destination, contract+": that Destination")
	requireEventEqual(t, ev, m.Event, contract+": the same Event")
	require.Zero(t, m.Attempts, contract+": no attempts yet")
	require.Empty(t, m.LastError, contract+": no error yet")
	require.Truef(t, m.NextAttemptAt.Equal(at), "%s: due at now (NextAttemptAt): got %s want %s", contract, m.NextAttemptAt, at)
}

func testOutboxFanOut(t *testing.T, s payment.Store) {
	const c = "FanOutOutbox marks the leased message delivered and inserts one message per destination, in the order given: " +
		"ID id+\"/\"+destination, the same Stream and Event, that Destination, due at now, newer than every message already stored"
	base := pastWindow()
	drainOutbox(t, s, base)
	ev := enqueue(t, s, base)[0]
	older := enqueue(t, s, base.Add(time.Second))[0]
	t0 := base.Add(time.Minute)
	require.Equal(t, []string{ev.ID}, outboxIDs(claim(t, s, "a", t0, time.Minute, 1)), c+": the oldest message first")
	dests := []string{"subscribers", "endpoint:zz", "endpoint:aa"}
	t1 := t0.Add(time.Minute)
	fanOut(t, s, ev.ID, "a", t1, dests...)

	// older stays claimable: a 1µs lease shows what else is claimable just
	// before t1 and gives it back at t1.
	msgs := claim(t, s, "b", t1.Add(-time.Microsecond), time.Microsecond, 10)
	require.Equal(t, []string{older.ID}, outboxIDs(msgs), c+": the new messages are not claimable before now, and the fanned-out message is delivered")
	msgs = claim(t, s, "c", t1, time.Minute, 10)
	require.Equal(t, append([]string{older.ID}, fannedIDs(ev.ID, dests...)...), outboxIDs(msgs),
		c+": claimable at now, oldest first: after the message stored before, in the order given")
	for i, m := range msgs[1:] {
		requireFanned(t, m, ev, dests[i], t1, c)
	}
	ack(t, s, "c", t1, outboxIDs(msgs)...)

	// No destination: the message is only delivered.
	ev2 := enqueue(t, s, t1)[0]
	require.Equal(t, []string{ev2.ID}, outboxIDs(claim(t, s, "d", t1, time.Minute, 10)), c)
	fanOut(t, s, ev2.ID, "d", t1)
	require.Empty(t, claim(t, s, "e", windowEnd(base).Add(-time.Minute), time.Minute, 10),
		c+": fanned-out and delivered messages never come back, and no destination inserts nothing")
}

func testOutboxFanOutWrongOwner(t *testing.T, s payment.Store) {
	const c = "FanOutOutbox returns ErrConflict when owner does not hold the lease, and changes nothing"
	base := pastWindow()
	drainOutbox(t, s, base)
	ev := enqueue(t, s, base)[0]
	t0 := base.Add(time.Minute)
	require.Len(t, claim(t, s, "a", t0, time.Minute, 10), 1, c)
	requireErrorIs(t, s.FanOutOutbox(t.Context(), ev.ID, "b", []string{"subscribers"}, t0), payment.ErrConflict, c+": another owner")
	require.Empty(t, claim(t, s, "c", t0, time.Minute, 10), c+": a still holds the lease, and no message was inserted")

	t1 := t0.Add(2 * time.Minute)
	msgs := claim(t, s, "c", t1, time.Minute, 10)
	require.Equal(t, []string{ev.ID}, outboxIDs(msgs), c+": the message is still undelivered once a's lease ended, and nothing was inserted")
	require.Empty(t, msgs[0].Destination, c+": the message is still the event's")
	requireErrorIs(t, s.FanOutOutbox(t.Context(), ev.ID, "a", []string{"subscribers"}, t1), payment.ErrConflict, c+": a's lease was taken over")

	t2 := t1.Add(2 * time.Minute)
	require.Equal(t, []string{ev.ID}, outboxIDs(claim(t, s, "d", t2, time.Minute, 10)), c+": still nothing inserted")
	fanOut(t, s, ev.ID, "d", t2, "subscribers")
	msgs = claim(t, s, "e", t2, time.Minute, 10)
	require.Equal(t, fannedIDs(ev.ID, "subscribers"), outboxIDs(msgs), c+": the lease holder fans out")
	requireFanned(t, msgs[0], ev, "subscribers", t2, c)
}

func testOutboxDestinationOrder(t *testing.T, s payment.Store) {
	const c = "a message is claimable only when no older message of the same Destination and Stream is pending; " +
		"other destinations of the stream are independent"
	base := pastWindow()
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	t0 := base.Add(time.Minute)
	require.Equal(t, []string{st[0].ID}, outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c+": the stream's newer message waits")
	dests := []string{"endpoint:a", "endpoint:b"}
	fanOut(t, s, st[0].ID, "a", t0, dests...)
	msgs := claim(t, s, "a", t0, time.Hour, 10)
	require.Equal(t, append([]string{st[1].ID}, fannedIDs(st[0].ID, dests...)...), outboxIDs(msgs),
		c+": the stream's next message once the older one is fanned out, then the fanned-out ones, oldest first")
	fanOut(t, s, st[1].ID, "a", t0, dests...)
	require.Empty(t, claim(t, s, "b", t0, time.Hour, 10), c+": each destination's newer message waits while its older one is leased")

	ack(t, s, "a", t0, st[0].ID+"/endpoint:a")
	msgs = claim(t, s, "b", t0, time.Hour, 10)
	require.Equal(t, []string{st[1].ID + "/endpoint:a"}, outboxIDs(msgs), c+": a destination does not wait for another destination")
	ack(t, s, "b", t0, msgs[0].ID)

	next := t0.Add(time.Hour)
	require.NoError(t, s.RetryOutbox(t.Context(), st[0].ID+"/endpoint:b", "a", next, "endpoint down"), c)
	require.Empty(t, claim(t, s, "c", t0.Add(30*time.Minute), time.Hour, 10), c+": the newer message waits for the older one's retry")
	require.Equal(t, []string{st[0].ID + "/endpoint:b"}, outboxIDs(claim(t, s, "c", next, time.Hour, 10)), c+": the older one first")
	ack(t, s, "c", next, st[0].ID+"/endpoint:b")
	require.Equal(t, []string{st[1].ID + "/endpoint:b"}, outboxIDs(claim(t, s, "c", next, time.Hour, 10)), c+": then the newer one")
	ack(t, s, "c", next, st[1].ID+"/endpoint:b")
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back")
}

func testOutboxFail(t *testing.T, s payment.Store) {
	const c = "FailOutbox ends owner's lease, counts the attempt, records lastErr and FailedAt: the message is never claimable " +
		"and no longer holds back its Destination and Stream"
	base := pastWindow()
	drainFailed(t, s, base)
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	t0 := base.Add(time.Minute)
	require.Equal(t, []string{st[0].ID}, outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fanOut(t, s, st[0].ID, "a", t0, "endpoint:x")
	require.Equal(t, []string{st[1].ID, st[0].ID + "/endpoint:x"}, outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fanOut(t, s, st[1].ID, "a", t0, "endpoint:x")
	id := st[0].ID + "/endpoint:x"

	next := t0.Add(10 * time.Minute)
	require.NoError(t, s.RetryOutbox(t.Context(), id, "a", next, "first"), c)
	require.Equal(t, []string{id}, outboxIDs(claim(t, s, "b", next, time.Hour, 10)), c+": the newer message waits for the older one")
	requireErrorIs(t, s.FailOutbox(t.Context(), id, "c", "not mine", next), payment.ErrConflict, c+": ErrConflict for another owner")
	require.Empty(t, claim(t, s, "c", next, time.Hour, 10), c+": a FailOutbox by another owner does not end b's lease")
	require.Empty(t, listFailed(t, s, 10), c+": a FailOutbox by another owner fails nothing")

	failedAt := next.Add(time.Minute)
	fail(t, s, id, "b", "endpoint: 500 — bỏ cuộc", failedAt)
	msgs := listFailed(t, s, 10)
	require.Equal(t, []string{id}, outboxIDs(msgs), c+": ListFailedOutbox lists it")
	m := msgs[0]
	require.Equal(t, 2, m.Attempts, c+": the attempt is counted")
	require.Equal(t, "endpoint: 500 — bỏ cuộc", m.LastError, c+": lastErr recorded")
	require.Truef(t, m.FailedAt.Equal(failedAt), "%s: FailedAt is now: got %s want %s", c, m.FailedAt, failedAt)
	require.Equal(t, "endpoint:x", m.Destination, c+": the Destination is kept")
	require.Equal(t, st[0].Stream(), m.Stream, c+": the Stream is kept")
	requireEventEqual(t, st[0], m.Event, c+": the Event is kept")
	requireErrorIs(t, s.AckOutbox(t.Context(), id, "b", failedAt), payment.ErrConflict, c+": the lease has ended")

	require.Equal(t, []string{st[1].ID + "/endpoint:x"}, outboxIDs(claim(t, s, "c", failedAt, time.Hour, 10)),
		c+": the newer message of its Destination and Stream no longer waits")
	ack(t, s, "c", failedAt, st[1].ID+"/endpoint:x")
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": a failed message is never claimable")
	require.Equal(t, []string{id}, outboxIDs(listFailed(t, s, 10)), c+": it stays failed")
}

func testOutboxListFailed(t *testing.T, s payment.Store) {
	const c = "ListFailedOutbox returns failed messages only, oldest failure first, at most limit"
	base := pastWindow()
	drainFailed(t, s, base)
	drainOutbox(t, s, base)
	var evs []payment.Event
	for i := range 5 {
		evs = append(evs, enqueue(t, s, base.Add(time.Duration(i)*time.Second))[0])
	}
	t0 := base.Add(time.Minute)
	require.Equal(t, eventIDs(evs), outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fail(t, s, evs[0].ID, "a", "third", t0.Add(3*time.Minute))
	fail(t, s, evs[1].ID, "a", "first", t0.Add(time.Minute))
	fail(t, s, evs[2].ID, "a", "second", t0.Add(2*time.Minute))
	ack(t, s, "a", t0, evs[3].ID)
	require.NoError(t, s.RetryOutbox(t.Context(), evs[4].ID, "a", t0.Add(time.Hour), "pending"), c)

	want := []string{evs[1].ID, evs[2].ID, evs[0].ID}
	require.Equal(t, want, outboxIDs(listFailed(t, s, 10)), c+": failed messages only, oldest failure first")
	require.Equal(t, want[:2], outboxIDs(listFailed(t, s, 2)), c+": at most limit")
	require.Empty(t, listFailed(t, s, 0), c+": limit 0")
}

func testOutboxRedeliver(t *testing.T, s payment.Store) {
	const c = "RedeliverOutbox makes every failed message of the event pending again, due at now with Attempts reset, and returns " +
		"how many; being older, they hold back newer pending messages of their Destination and Stream again"
	base := pastWindow()
	drainFailed(t, s, base)
	drainOutbox(t, s, base)
	st := enqueue(t, s, base, base.Add(time.Second))
	other := enqueue(t, s, base.Add(2*time.Second))[0]
	t0 := base.Add(time.Minute)
	require.Equal(t, []string{st[0].ID, other.ID}, outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	dests := []string{"endpoint:a", "endpoint:b"}
	fanOut(t, s, st[0].ID, "a", t0, dests...)
	fail(t, s, other.ID, "a", "other", t0)
	require.Equal(t, append([]string{st[1].ID}, fannedIDs(st[0].ID, dests...)...), outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fanOut(t, s, st[1].ID, "a", t0, dests...)
	failedAt := t0.Add(time.Minute)
	for _, id := range fannedIDs(st[0].ID, dests...) {
		fail(t, s, id, "a", "down", failedAt)
	}
	// The newer messages no longer wait; they stay unclaimed.

	at := failedAt.Add(time.Hour)
	require.Equal(t, 2, redeliver(t, s, st[0].ID, at), c+": both failed messages of the event")
	require.Empty(t, claim(t, s, "b", at.Add(-time.Microsecond), time.Hour, 10),
		c+": not claimable before now, and the newer messages of their Destination and Stream wait for them again")
	msgs := claim(t, s, "b", at, time.Hour, 10)
	require.Equal(t, fannedIDs(st[0].ID, dests...), outboxIDs(msgs), c+": claimable at now, before the newer ones")
	for i, m := range msgs {
		require.Equal(t, dests[i], m.Destination, c+": the Destination is kept")
		requireEventEqual(t, st[0], m.Event, c+": the Event is kept")
		require.Zero(t, m.Attempts, c+": Attempts reset")
		require.Truef(t, m.NextAttemptAt.Equal(at), "%s: due at now: got %s want %s", c, m.NextAttemptAt, at)
	}
	require.Equal(t, []string{other.ID}, outboxIDs(listFailed(t, s, 10)), c+": another event's failed message stays failed")
	require.Zero(t, redeliver(t, s, st[0].ID, at), c+": no failed message of the event is left")
	require.Zero(t, redeliver(t, s, newID(payment.PrefixEvent), at), c+": an unknown event has none")

	ack(t, s, "b", at, outboxIDs(msgs)...)
	msgs = claim(t, s, "c", at, time.Hour, 10)
	require.Equal(t, fannedIDs(st[1].ID, dests...), outboxIDs(msgs), c+": the newer ones once the redelivered ones are delivered")
	ack(t, s, "c", at, outboxIDs(msgs)...)

	require.Equal(t, 1, redeliver(t, s, other.ID, at), c+": an event's message before fan-out too")
	msgs = claim(t, s, "d", at, time.Hour, 10)
	require.Equal(t, []string{other.ID}, outboxIDs(msgs), c)
	require.Empty(t, msgs[0].Destination, c+": the Destination is kept")
	require.Zero(t, msgs[0].Attempts, c+": Attempts reset")
	ack(t, s, "d", at, other.ID)
	require.Empty(t, listFailed(t, s, 10), c+": nothing failed is left")
	require.Empty(t, claim(t, s, "e", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back")
}
