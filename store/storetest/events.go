package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func eventTests() []test {
	return []test{
		{name: "ListEvents returns events whose ObjectID or PaymentID is id, once each, in append order", run: testListEvents},
		{name: "ListEvents of an unknown id is empty", run: testListEventsEmpty},
		{name: "returned events are copies and inputs are not kept", run: testEventCopies},
		{name: "CreatePayment events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsCreatePayment},
		{name: "UpdatePayment events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsUpdatePayment},
		{name: "CreateRefund events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsCreateRefund},
		{name: "UpdateRefund events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsUpdateRefund},
		{name: "CreatePayout events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsCreatePayout},
		{name: "UpdatePayout events are in ListEvents and in the outbox once per destination", serial: true, run: testEventsUpdatePayout},
		{name: "AppendEvents events are in ListEvents but never in the outbox, whatever their Destinations", serial: true, run: testEventsAppend},
		{name: "a refused write adds no event and no outbox message", serial: true, run: testEventsRefusedWrites},
	}
}

// mustListEvents lists the events of id, failing the test on an error.
func mustListEvents(t *testing.T, s payment.Store, id string) []payment.Event {
	t.Helper()
	events, err := s.ListEvents(t.Context(), id)
	require.NoError(t, err, "ListEvents works")
	return events
}

// requireOutbox checks that the outbox holds, in the test's window, exactly
// a fresh message per event of want and destination of the event, each
// (Destination, Stream) queue in order. It claims and acknowledges them.
func requireOutbox(t *testing.T, s payment.Store, base time.Time, want []payment.Event, contract string) {
	t.Helper()
	got := claimAll(t, s, base.Add(time.Hour))
	byQueue := map[string][]*payment.OutboxMessage{}
	for _, m := range got {
		byQueue[queue(m.Destination, m.Stream)] = append(byQueue[queue(m.Destination, m.Stream)], m)
	}
	wantByQueue := map[string][]payment.Event{}
	for _, e := range want {
		for _, d := range e.Destinations {
			wantByQueue[queue(d, e.Stream())] = append(wantByQueue[queue(d, e.Stream())], e)
		}
	}
	require.ElementsMatchf(t, messageIDs(want...), outboxIDs(got),
		"%s: the outbox holds one message per event and destination of the event, with ID event id+\"/\"+destination", contract)
	for q, evs := range wantByQueue {
		msgs := byQueue[q]
		ids := make([]string, 0, len(evs))
		for _, m := range msgs {
			ids = append(ids, m.Event.ID)
		}
		require.Equalf(t, eventIDs(evs), ids, "%s: queue %s holds a message per event addressed to it (by event id, in order)", contract, q)
		for i, m := range msgs {
			requireUTC(t, m, contract)
			require.Equal(t, evs[i].Stream(), m.Stream, contract+": the message's Stream is the event's Stream()")
			require.Equal(t, messageID(evs[i].ID, m.Destination), m.ID, contract+": the message's ID is event id+\"/\"+destination")
			requireEventEqual(t, evs[i], m.Event, contract+": the message carries the event")
			require.Zero(t, m.Attempts, contract+": a new message has no attempts")
			require.Truef(t, m.NextAttemptAt.Equal(evs[i].CreatedAt), "%s: a new message is due at its event's CreatedAt: got %s want %s", contract, m.NextAttemptAt, evs[i].CreatedAt)
			require.Nil(t, m.DeliveredAt, contract+": a claimed message is not delivered")
		}
	}
}

// queue names the (Destination, Stream) queue a message is delivered in.
func queue(destination, stream string) string { return destination + " " + stream }

// outboxIDs returns the ids of msgs, in order.
func outboxIDs(msgs []*payment.OutboxMessage) []string {
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func testListEvents(t *testing.T, s payment.Store) {
	const c = "ListEvents returns the events whose ObjectID or PaymentID is id, in the order they were appended"
	at := now() // one CreatedAt for all: the order must be the append order
	p := captured(newPayment(newProvider(), newOrderID(), at), 10000)
	var all []payment.Event
	add := func(e payment.Event) payment.Event { all = append(all, e); return e }

	mustCreatePayment(t, s, p, add(newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)), add(paymentEvent(p, at)))
	for range 5 {
		mustUpdatePayment(t, s, p, add(paymentEvent(p, at)))
	}
	r := newRefund(p, 1000, at)
	p.AmountRefundPending = 1000
	refundCreated := add(newEvent(payment.EventRefundCreated, r.ID, p.ID, at))
	require.NoError(t, s.CreateRefund(t.Context(), r, p, []payment.Event{refundCreated, add(paymentEvent(p, at))}), c)
	ignored := add(newEvent(payment.EventIgnored, r.ID, p.ID, at))
	require.NoError(t, s.AppendEvents(t.Context(), []payment.Event{ignored, add(newEvent(payment.EventIgnored, p.ID, p.ID, at))}), c)
	r.Status = payment.RefundSucceeded
	refundDone := add(newEvent(payment.EventRefundSucceeded, r.ID, p.ID, at))
	require.NoError(t, s.UpdateRefund(t.Context(), r, p, []payment.Event{refundDone}), c)
	for range 5 {
		mustUpdatePayment(t, s, p, add(paymentEvent(p, at)))
	}
	// Another payment's events are not listed.
	other := newPayment(newProvider(), newOrderID(), at)
	mustCreatePayment(t, s, other, paymentEvent(other, at))

	requireEvents(t, all, mustListEvents(t, s, p.ID), c+": by PaymentID (the refund's events included)")
	requireEvents(t, []payment.Event{refundCreated, ignored, refundDone}, mustListEvents(t, s, r.ID), c+": by ObjectID (the refund's own events)")
}

func testListEventsEmpty(t *testing.T, s payment.Store) {
	const c = "ListEvents of an id no event names returns no events and no error"
	require.Empty(t, mustListEvents(t, s, newID(payment.PrefixPayment)), c)
}

func testEventCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: events passed in and returned are the caller's"
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	ev := paymentEvent(p, at)
	want := ev
	want.Data = append(json.RawMessage(nil), ev.Data...)
	mustCreatePayment(t, s, p, ev)
	copy(ev.Data, `{"id":"changed"`) // same length prefix, still the caller's slice
	requireEvents(t, []payment.Event{want}, mustListEvents(t, s, p.ID), c+": changing the event passed in")
	got := mustListEvents(t, s, p.ID)
	require.Len(t, got, 1, c)
	copy(got[0].Data, `{"id":"changed"`)
	requireEvents(t, []payment.Event{want}, mustListEvents(t, s, p.ID), c+": changing an event returned")
}

func testEventsCreatePayment(t *testing.T, s payment.Store) {
	const c = "CreatePayment appends events, each also to the outbox once per destination (none for an event without)"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := newPayment(newProvider(), newOrderID(), base)
	evs := []payment.Event{
		to(newEvent(payment.EventPaymentCreated, p.ID, p.ID, base), subscribers, "endpoint:zz", "endpoint:aa"),
		to(paymentEvent(p, base)),
		paymentEvent(p, base),
	}
	mustCreatePayment(t, s, p, evs...)
	requireEvents(t, evs, mustListEvents(t, s, p.ID), c+": ListEvents")
	requireOutbox(t, s, base, evs, c)
}

func testEventsUpdatePayment(t *testing.T, s payment.Store) {
	const c = "UpdatePayment appends events, each also to the outbox once per destination (none for an event without)"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := newPayment(newProvider(), newOrderID(), base)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, base)
	mustCreatePayment(t, s, p, created)
	evs := []payment.Event{
		to(paymentEvent(p, base.Add(time.Second)), "endpoint:b", subscribers),
		to(newEvent(payment.EventPaymentSucceeded, p.ID, p.ID, base.Add(time.Second))),
		to(newEvent(payment.EventPaymentSucceeded, p.ID, p.ID, base.Add(time.Second)), subscribers, "endpoint:b"),
	}
	mustUpdatePayment(t, s, p, evs...)
	all := append([]payment.Event{created}, evs...)
	requireEvents(t, all, mustListEvents(t, s, p.ID), c+": ListEvents")
	requireOutbox(t, s, base, all, c)
}

func testEventsCreateRefund(t *testing.T, s payment.Store) {
	const c = "CreateRefund appends events, each also to the outbox once per destination"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := captured(newPayment(newProvider(), newOrderID(), base), 10000)
	mustCreatePayment(t, s, p)
	r := newRefund(p, 5000, base)
	p.AmountRefundPending = 5000
	evs := []payment.Event{
		to(newEvent(payment.EventRefundCreated, r.ID, p.ID, base), "endpoint:x", subscribers),
		newEvent(payment.EventPaymentPartiallyRefunded, p.ID, p.ID, base),
	}
	require.NoError(t, s.CreateRefund(t.Context(), r, p, evs), c)
	requireEvents(t, evs, mustListEvents(t, s, p.ID), c+": ListEvents by payment")
	requireEvents(t, evs[:1], mustListEvents(t, s, r.ID), c+": ListEvents by refund")
	requireOutbox(t, s, base, evs, c)
}

func testEventsUpdateRefund(t *testing.T, s payment.Store) {
	const c = "UpdateRefund appends events, each also to the outbox once per destination (none for an event without)"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := captured(newPayment(newProvider(), newOrderID(), base), 10000)
	mustCreatePayment(t, s, p)
	r := newRefund(p, 5000, base)
	p.AmountRefundPending = 5000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), c)
	r.Status = payment.RefundSucceeded
	p.AmountRefundPending, p.AmountRefunded = 0, 5000
	evs := []payment.Event{
		to(newEvent(payment.EventRefundSucceeded, r.ID, p.ID, base), subscribers, "endpoint:x"),
		to(newEvent(payment.EventPaymentPartiallyRefunded, p.ID, p.ID, base)),
	}
	require.NoError(t, s.UpdateRefund(t.Context(), r, p, evs), c)
	requireEvents(t, evs, mustListEvents(t, s, p.ID), c+": ListEvents by payment")
	requireEvents(t, evs[:1], mustListEvents(t, s, r.ID), c+": ListEvents by refund")
	requireOutbox(t, s, base, evs, c)
}

func testEventsCreatePayout(t *testing.T, s payment.Store) {
	const c = "CreatePayout appends events, each also to the outbox once per destination (none for an event without)"
	base := pastWindow()
	drainOutbox(t, s, base)
	po := newPayout(newProvider(), newOrderID(), base)
	evs := []payment.Event{
		to(newEvent(payment.EventPayoutCreated, po.ID, "", base), "endpoint:p", subscribers),
		to(newEvent(payment.EventPayoutProcessing, po.ID, "", base)),
		newEvent(payment.EventPayoutProcessing, po.ID, "", base),
	}
	require.NoError(t, s.CreatePayout(t.Context(), po, evs), c)
	requireEvents(t, evs, mustListEvents(t, s, po.ID), c+": ListEvents")
	requireOutbox(t, s, base, evs, c)
}

func testEventsUpdatePayout(t *testing.T, s payment.Store) {
	const c = "UpdatePayout appends events, each also to the outbox once per destination"
	base := pastWindow()
	drainOutbox(t, s, base)
	po := newPayout(newProvider(), newOrderID(), base)
	created := newEvent(payment.EventPayoutCreated, po.ID, "", base)
	require.NoError(t, s.CreatePayout(t.Context(), po, []payment.Event{created}), c)
	po.Status = payment.PayoutSucceeded
	done := to(newEvent(payment.EventPayoutSucceeded, po.ID, "", base), subscribers, "endpoint:p")
	require.NoError(t, s.UpdatePayout(t.Context(), po, []payment.Event{done}), c)
	requireEvents(t, []payment.Event{created, done}, mustListEvents(t, s, po.ID), c+": ListEvents")
	requireOutbox(t, s, base, []payment.Event{created, done}, c)
}

func testEventsAppend(t *testing.T, s payment.Store) {
	const c = "AppendEvents appends audit-only events: in ListEvents, never in the outbox, whatever their Destinations"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := newPayment(newProvider(), newOrderID(), base)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, base)
	mustCreatePayment(t, s, p, created)
	// An ignored event and, to be sure the store decides neither by type
	// nor by Destinations, a notifying type too, both addressed.
	audit := []payment.Event{
		newEvent(payment.EventIgnored, p.ID, p.ID, base),
		to(newEvent(payment.EventPaymentFlagged, p.ID, p.ID, base), subscribers, "endpoint:x"),
	}
	require.NoError(t, s.AppendEvents(t.Context(), audit), c)
	updated := paymentEvent(p, base)
	mustUpdatePayment(t, s, p, updated)
	// An event about an object the store does not know (an orphan).
	orphan := newEvent(payment.EventIgnored, newID(payment.PrefixPayment), "", base)
	require.NoError(t, s.AppendEvents(t.Context(), []payment.Event{orphan}), c)

	requireEvents(t, []payment.Event{created, audit[0], audit[1], updated}, mustListEvents(t, s, p.ID), c+": ListEvents")
	requireEvents(t, []payment.Event{orphan}, mustListEvents(t, s, orphan.ObjectID), c+": ListEvents of an unknown object")
	requireOutbox(t, s, base, []payment.Event{created, updated}, c)
}

func testEventsRefusedWrites(t *testing.T, s payment.Store) {
	const c = "a write that fails writes nothing: no event and no outbox message"
	base := pastWindow()
	drainOutbox(t, s, base)
	p := captured(newPayment(newProvider(), newOrderID(), base), 10000)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, base)
	mustCreatePayment(t, s, p, created)
	stale := p.Clone()
	updated := paymentEvent(p, base)
	mustUpdatePayment(t, s, p, updated)

	requireErrorIs(t, s.UpdatePayment(t.Context(), stale.Clone(), []payment.Event{paymentEvent(p, base)}), payment.ErrConflict, c+": stale UpdatePayment")
	dup := newPayment(newProvider(), newOrderID(), base)
	dup.ID = p.ID
	requireErrorIs(t, s.CreatePayment(t.Context(), dup, []payment.Event{paymentEvent(p, base)}), payment.ErrAlreadyExists, c+": duplicate CreatePayment")
	r := newRefund(p, 1000, base)
	requireErrorIs(t, s.CreateRefund(t.Context(), r, stale.Clone(), []payment.Event{newEvent(payment.EventRefundCreated, r.ID, p.ID, base)}), payment.ErrConflict, c+": stale CreateRefund")

	held := newPayment(p.Provider, p.OrderID, base)
	heldEvent := paymentEvent(held, base)
	requireErrorIs(t, s.CreatePayment(t.Context(), held, []payment.Event{heldEvent}), payment.ErrAlreadyExists, c+": CreatePayment for a held order")

	requireEvents(t, []payment.Event{created, updated}, mustListEvents(t, s, p.ID), c+": ListEvents")
	requireOutbox(t, s, base, []payment.Event{created, updated}, c)
}
