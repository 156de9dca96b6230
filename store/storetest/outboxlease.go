package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// leased returns ev asking for its subscribers' message to be written
// leased to owner until until.
func leased(ev payment.Event, owner string, until time.Time) payment.Event {
	ev.Lease = &payment.OutboxLease{Destination: subscribers, Owner: owner, Until: until}
	return ev
}

// requireGrants skips the test when s ignores Event.Lease, which the
// contract allows: it asks for the lease of a new stream, which a store
// that grants leases must grant.
func requireGrants(t *testing.T, s payment.Store, at time.Time) {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at)
	ev := leased(paymentEvent(p, at), "storetest-probe", farFuture)
	mustCreatePayment(t, s, p, ev)
	if !ev.Lease.Granted {
		t.Skip("the store ignores Event.Lease, as the contract allows")
	}
}

func testOutboxLeaseGranted(t *testing.T, s payment.Store) {
	const c = "an event's Lease writes its message leased to Lease.Owner until Lease.Until when its stream has no pending message"
	base := pastWindow()
	drainOutbox(t, s, base)
	requireGrants(t, s, base)

	until := base.Add(time.Minute)
	p := newPayment(newProvider(), newOrderID(), base)
	created := leased(to(paymentEvent(p, base), subscribers, "endpoint:1"), "d1", until)
	mustCreatePayment(t, s, p, created)
	require.True(t, created.Lease.Granted, c+": Granted reports it")
	msgs := claim(t, s, "a", base.Add(30*time.Second), time.Minute, 10)
	require.Equal(t, []string{messageID(created.ID, "endpoint:1")}, outboxIDs(msgs),
		c+": only the message for Lease.Destination is leased; the other is claimable at once")
	requireEventEqual(t, created, msgs[0].Event, c+": the message carries the event, without its Lease")
	require.Empty(t, claim(t, s, "b", until.Add(-time.Microsecond), time.Minute, 10), c+": not claimable until the lease ends")
	msgs = claim(t, s, "b", until, time.Minute, 10)
	require.Equal(t, []string{subID(created)}, outboxIDs(msgs), c+": claimable by another once the lease ends")
	require.Zero(t, msgs[0].Attempts, c+": no attempt counted")
	ack(t, s, "b", until, subID(created))
	ack(t, s, "a", until, messageID(created.ID, "endpoint:1"))

	p = newPayment(newProvider(), newOrderID(), base)
	ev := leased(paymentEvent(p, base), "d1", until)
	mustCreatePayment(t, s, p, ev)
	require.True(t, ev.Lease.Granted, c)
	require.Equal(t, 1, acked(t, s, "d1", base.Add(time.Second), subID(ev)), c+": the owner acknowledges it as a claimed one")
	require.Empty(t, claim(t, s, "b", until.Add(time.Hour), time.Minute, 10), c+": and it is delivered for good")

	p = newPayment(newProvider(), newOrderID(), base)
	ev = leased(paymentEvent(p, base), "d1", until)
	mustCreatePayment(t, s, p, ev)
	n, err := s.ReleaseOutbox(t.Context(), "d1", []string{subID(ev)}, base.Add(time.Second))
	require.NoError(t, err, c+": the owner puts it back")
	require.Equal(t, 1, n, c+": the owner puts it back")
	msgs = claim(t, s, "b", base.Add(time.Second), time.Minute, 10)
	require.Equal(t, []string{subID(ev)}, outboxIDs(msgs), c+": claimable once put back")
	require.Zero(t, msgs[0].Attempts, c+": put back untried, no attempt counted")

	events, err := s.ListEvents(t.Context(), p.ID)
	require.NoError(t, err, "ListEvents works")
	requireEvents(t, []payment.Event{ev}, events, c+": events read back have no Lease")
}

func testOutboxLeaseHeld(t *testing.T, s payment.Store) {
	const c = "an event's Lease is granted only when every pending message of its Destination and Stream stored before it is leased to Lease.Owner"
	base := pastWindow()
	drainOutbox(t, s, base)
	requireGrants(t, s, base)
	until := farFuture

	// A stream whose older message nobody holds (waiting to be claimed).
	p := newPayment(newProvider(), newOrderID(), base)
	first := paymentEvent(p, base)
	mustCreatePayment(t, s, p, first)
	second := leased(paymentEvent(p, base.Add(time.Second)), "d1", until)
	mustUpdatePayment(t, s, p, second)
	require.False(t, second.Lease.Granted, c+": not while an older message waits unleased")
	msgs := claim(t, s, "a", base.Add(time.Hour), time.Minute, 10)
	require.Equal(t, []string{subID(first)}, outboxIDs(msgs), c+": the message not granted is written as any other")
	// The older message held by another claimer.
	third := leased(paymentEvent(p, base.Add(2*time.Second)), "d1", until)
	mustUpdatePayment(t, s, p, third)
	require.False(t, third.Lease.Granted, c+": not while another owner holds an older message")
	ack(t, s, "a", base.Add(time.Hour), subID(first))
	msgs = claim(t, s, "a", base.Add(time.Hour), time.Minute, 10)
	require.Equal(t, []string{subID(second)}, outboxIDs(msgs), c+": the stream keeps its order")

	// A stream the owner holds.
	p = newPayment(newProvider(), newOrderID(), base)
	first = leased(paymentEvent(p, base), "d1", until)
	mustCreatePayment(t, s, p, first)
	second = leased(paymentEvent(p, base.Add(time.Second)), "d1", until)
	mustUpdatePayment(t, s, p, second)
	require.True(t, first.Lease.Granted && second.Lease.Granted, c+": granted while the owner holds every older message")
	other := leased(paymentEvent(p, base.Add(2*time.Second)), "d2", until)
	mustUpdatePayment(t, s, p, other)
	require.False(t, other.Lease.Granted, c+": not for another owner")
	// A failed message no longer holds its stream back.
	p = newPayment(newProvider(), newOrderID(), base)
	first = leased(paymentEvent(p, base), "d1", until)
	mustCreatePayment(t, s, p, first)
	require.NoError(t, s.FailOutbox(t.Context(), subID(first), "d1", "gone", base), "FailOutbox works")
	second = leased(paymentEvent(p, base.Add(time.Second)), "d2", until)
	mustUpdatePayment(t, s, p, second)
	require.True(t, first.Lease.Granted && second.Lease.Granted, c+": a failed message is not pending")

	// Messages of one call: each counts the ones before it.
	p = newPayment(newProvider(), newOrderID(), base)
	plain, asked := paymentEvent(p, base), leased(paymentEvent(p, base.Add(time.Second)), "d1", until)
	mustCreatePayment(t, s, p, plain, asked)
	require.False(t, asked.Lease.Granted, c+": not behind an unleased message of the same call")
	p = newPayment(newProvider(), newOrderID(), base)
	first, second = leased(paymentEvent(p, base), "d1", until), leased(paymentEvent(p, base.Add(time.Second)), "d1", until)
	mustCreatePayment(t, s, p, first, second)
	require.True(t, first.Lease.Granted && second.Lease.Granted, c+": granted behind a message of the same call the owner holds")
	p = newPayment(newProvider(), newOrderID(), base)
	first, second = leased(paymentEvent(p, base), "d1", until), leased(paymentEvent(p, base.Add(time.Second)), "d2", until)
	mustCreatePayment(t, s, p, first, second)
	require.True(t, first.Lease.Granted, c)
	require.False(t, second.Lease.Granted, c+": not behind a message of the same call another owner holds")
	msgs = claim(t, s, "a", base.Add(time.Hour), time.Minute, 10)
	require.Equal(t, []string{subID(plain)}, outboxIDs(msgs), c+": the leased messages are not claimable")
}
