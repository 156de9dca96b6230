package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// This file checks the outbox's destinations: the messages an event gets
// for its Destinations, the order per (Destination, Stream), and failed
// messages (FailOutbox, ListFailedOutbox, RedeliverOutbox). Its tests are in
// outboxTests.

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

// requireMessage checks that m is the new message of ev for dest, never
// attempted: due at ev's CreatedAt, carrying ev (without Destinations).
func requireMessage(t testing.TB, m *payment.OutboxMessage, ev payment.Event, dest, contract string) {
	t.Helper()
	require.Equal(t, messageID(ev.ID, dest), m.ID, contract+": the ID is event id+\"/\"+destination")
	require.Equal(t, ev.Stream(), m.Stream, contract+": the event's Stream")
	require.Equal(t, dest, m.Destination, contract+": that Destination")
	requireEventEqual(t, ev, m.Event, contract+": the event, without its Destinations")
	require.Zero(t, m.Attempts, contract+": no attempts yet")
	require.Empty(t, m.LastError, contract+": no error yet")
	require.Truef(t, m.NextAttemptAt.Equal(ev.CreatedAt), "%s: due at the event's CreatedAt (NextAttemptAt): got %s want %s",
		contract, m.NextAttemptAt, ev.CreatedAt)
}

func testOutboxDestinations(t *testing.T, s payment.Store) {
	const c = "an event gets one outbox message per destination, in the order of its Destinations: ID event id+\"/\"+destination, " +
		"the event's Stream and Event, that Destination, due at the event's CreatedAt, newer than every message stored before; " +
		"an event without Destinations gets none"
	base := pastWindow()
	drainOutbox(t, s, base)
	at := base.Add(time.Minute)
	older := enqueue(t, s, at)[0] // stored before, due at the same time
	dests := []string{subscribers, "endpoint:zz", "endpoint:aa"}
	p := newPayment(newProvider(), newOrderID(), at)
	ev := to(paymentEvent(p, at), dests...)
	none := to(newEvent(payment.EventPaymentRequiresAction, p.ID, p.ID, at))
	next := to(newEvent(payment.EventPaymentSucceeded, p.ID, p.ID, at), "endpoint:aa", subscribers)
	mustCreatePayment(t, s, p, ev, none, next)
	audit := to(newEvent(payment.EventPaymentFlagged, p.ID, p.ID, at), dests...)
	require.NoError(t, s.AppendEvents(t.Context(), []payment.Event{audit}), c)
	requireEvents(t, []payment.Event{ev, none, next, audit}, mustListEvents(t, s, p.ID), c+": ListEvents returns the events, without Destinations")

	require.Empty(t, claim(t, s, "a", at.Add(-time.Microsecond), time.Minute, 10), c+": not claimable before the event's CreatedAt")
	msgs := claim(t, s, "a", at, time.Hour, 10)
	require.Equal(t, append([]string{subID(older)}, messageIDs(ev)...), outboxIDs(msgs),
		c+": claimable at CreatedAt, oldest first: after the message stored before, in the order of the event's Destinations, "+
			"each destination's message of the next event waiting for the older one")
	for i, m := range msgs[1:] {
		requireMessage(t, m, ev, dests[i], c)
	}

	ack(t, s, "a", at, messageID(ev.ID, "endpoint:aa"))
	msgs = claim(t, s, "b", at, time.Hour, 10)
	require.Equal(t, []string{messageID(next.ID, "endpoint:aa")}, outboxIDs(msgs),
		c+": a pending message for one destination never holds back another destination's message of the same stream")
	requireMessage(t, msgs[0], next, "endpoint:aa", c)
	ack(t, s, "b", at, msgs[0].ID)
	ack(t, s, "a", at, subID(older), messageID(ev.ID, subscribers), messageID(ev.ID, "endpoint:zz"))
	msgs = claim(t, s, "c", at, time.Hour, 10)
	require.Equal(t, []string{messageID(next.ID, subscribers)}, outboxIDs(msgs), c+": the next event's message once the older one is delivered")
	requireMessage(t, msgs[0], next, subscribers, c)
	ack(t, s, "c", at, msgs[0].ID)
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10),
		c+": an event without Destinations, or appended by AppendEvents, has no message, and delivered messages never come back")
}

func testOutboxDestinationOrder(t *testing.T, s payment.Store) {
	const c = "a message is claimable only when no older message of the same Destination and Stream is pending; " +
		"other destinations of the stream are independent; an event's messages are in the order of its Destinations"
	base := pastWindow()
	drainOutbox(t, s, base)
	dests := []string{subscribers, "endpoint:zz", "endpoint:aa"}
	st := enqueueTo(t, s, dests, base, base.Add(time.Second))
	t0 := base.Add(time.Minute)
	require.Equal(t, messageIDs(st[0]), outboxIDs(claim(t, s, "a", t0, time.Hour, 10)),
		c+": the older event's messages, in the order of its Destinations; the newer event's wait")
	require.Empty(t, claim(t, s, "b", t0, time.Hour, 10), c+": each destination's newer message waits while its older one is leased")

	ack(t, s, "a", t0, messageID(st[0].ID, "endpoint:zz"))
	msgs := claim(t, s, "b", t0, time.Hour, 10)
	require.Equal(t, []string{messageID(st[1].ID, "endpoint:zz")}, outboxIDs(msgs), c+": a destination does not wait for another destination")
	ack(t, s, "b", t0, msgs[0].ID)
	ack(t, s, "a", t0, messageID(st[0].ID, subscribers))
	msgs = claim(t, s, "b", t0, time.Hour, 10)
	require.Equal(t, []string{messageID(st[1].ID, subscribers)}, outboxIDs(msgs), c+": the newer message once the older one is delivered")
	ack(t, s, "b", t0, msgs[0].ID)

	next := t0.Add(time.Hour)
	require.NoError(t, s.RetryOutbox(t.Context(), messageID(st[0].ID, "endpoint:aa"), "a", next, "endpoint down"), c)
	require.Empty(t, claim(t, s, "c", t0.Add(30*time.Minute), time.Hour, 10), c+": the newer message waits for the older one's retry")
	require.Equal(t, []string{messageID(st[0].ID, "endpoint:aa")}, outboxIDs(claim(t, s, "c", next, time.Hour, 10)), c+": the older one first")
	ack(t, s, "c", next, messageID(st[0].ID, "endpoint:aa"))
	require.Equal(t, []string{messageID(st[1].ID, "endpoint:aa")}, outboxIDs(claim(t, s, "c", next, time.Hour, 10)), c+": then the newer one")
	ack(t, s, "c", next, messageID(st[1].ID, "endpoint:aa"))
	require.Empty(t, claim(t, s, "d", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back")
}

func testOutboxFail(t *testing.T, s payment.Store) {
	const c = "FailOutbox ends owner's lease, counts the attempt, records lastErr and FailedAt: the message is never claimable " +
		"and no longer holds back its Destination and Stream"
	base := pastWindow()
	drainFailed(t, s, base)
	drainOutbox(t, s, base)
	st := enqueueTo(t, s, []string{"endpoint:x"}, base, base.Add(time.Second))
	t0 := base.Add(time.Minute)
	id := messageID(st[0].ID, "endpoint:x")
	require.Equal(t, []string{id}, outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c+": the newer message waits for the older one")

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
	require.Zero(t, acked(t, s, "b", failedAt, id), c+": the lease has ended: AckOutbox does not mark the failed message")

	require.Equal(t, []string{messageID(st[1].ID, "endpoint:x")}, outboxIDs(claim(t, s, "c", failedAt, time.Hour, 10)),
		c+": the newer message of its Destination and Stream no longer waits")
	ack(t, s, "c", failedAt, messageID(st[1].ID, "endpoint:x"))
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
	require.Equal(t, messageIDs(evs...), outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fail(t, s, subID(evs[0]), "a", "third", t0.Add(3*time.Minute))
	fail(t, s, subID(evs[1]), "a", "first", t0.Add(time.Minute))
	fail(t, s, subID(evs[2]), "a", "second", t0.Add(2*time.Minute))
	ack(t, s, "a", t0, subID(evs[3]))
	require.NoError(t, s.RetryOutbox(t.Context(), subID(evs[4]), "a", t0.Add(time.Hour), "pending"), c)

	want := []string{subID(evs[1]), subID(evs[2]), subID(evs[0])}
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
	dests := []string{"endpoint:b", "endpoint:a"}
	st := enqueueTo(t, s, dests, base, base.Add(time.Second))
	other := enqueue(t, s, base.Add(2*time.Second))[0]
	t0 := base.Add(time.Minute)
	require.Equal(t, append(messageIDs(st[0]), subID(other)), outboxIDs(claim(t, s, "a", t0, time.Hour, 10)), c)
	fail(t, s, subID(other), "a", "other", t0)
	failedAt := t0.Add(time.Minute)
	for _, id := range messageIDs(st[0]) {
		fail(t, s, id, "a", "down", failedAt)
	}
	// The newer messages no longer wait; they stay unclaimed.

	at := failedAt.Add(time.Hour)
	require.Equal(t, 2, redeliver(t, s, st[0].ID, at), c+": both failed messages of the event")
	require.Empty(t, claim(t, s, "b", at.Add(-time.Microsecond), time.Hour, 10),
		c+": not claimable before now, and the newer messages of their Destination and Stream wait for them again")
	msgs := claim(t, s, "b", at, time.Hour, 10)
	require.Equal(t, messageIDs(st[0]), outboxIDs(msgs), c+": claimable at now, before the newer ones")
	for i, m := range msgs {
		require.Equal(t, dests[i], m.Destination, c+": the Destination is kept")
		requireEventEqual(t, st[0], m.Event, c+": the Event is kept")
		require.Zero(t, m.Attempts, c+": Attempts reset")
		require.Truef(t, m.NextAttemptAt.Equal(at), "%s: due at now: got %s want %s", c, m.NextAttemptAt, at)
	}
	require.Equal(t, []string{subID(other)}, outboxIDs(listFailed(t, s, 10)), c+": another event's failed message stays failed")
	require.Zero(t, redeliver(t, s, st[0].ID, at), c+": no failed message of the event is left")
	require.Zero(t, redeliver(t, s, newID(payment.PrefixEvent), at), c+": an unknown event has none")

	ack(t, s, "b", at, outboxIDs(msgs)...)
	msgs = claim(t, s, "c", at, time.Hour, 10)
	require.Equal(t, messageIDs(st[1]), outboxIDs(msgs), c+": the newer ones once the redelivered ones are delivered")
	ack(t, s, "c", at, outboxIDs(msgs)...)

	require.Equal(t, 1, redeliver(t, s, other.ID, at), c+": an event's only failed message")
	msgs = claim(t, s, "d", at, time.Hour, 10)
	require.Equal(t, []string{subID(other)}, outboxIDs(msgs), c)
	require.Equal(t, subscribers, msgs[0].Destination, c+": the Destination is kept")
	require.Zero(t, msgs[0].Attempts, c+": Attempts reset")
	ack(t, s, "d", at, subID(other))
	require.Empty(t, listFailed(t, s, 10), c+": nothing failed is left")
	require.Empty(t, claim(t, s, "e", windowEnd(base).Add(-time.Minute), time.Minute, 10), c+": delivered messages never come back")
}
