package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// This file checks the Inbox messages events carry: every method that
// appends events inserts them, as RecordInbox would, in the same atomic
// step, and a message stored already fails the whole write. Its tests are
// in inboxTests.

func inboxWriteTests() []test {
	return []test{
		{name: "every write that appends events inserts the Inbox messages they carry, and events read back carry none", serial: true, run: testInboxCarried},
		{name: "a write carrying an Inbox message stored already is ErrAlreadyExists and writes nothing", serial: true, run: testInboxCarriedStored},
		{name: "a write whose compare-and-set misses is ErrConflict and inserts no Inbox message", run: testInboxCarriedStale},
		{name: "a write of a missing payment or payout is ErrNotFound and inserts no Inbox message", run: testInboxCarriedMissing},
		{name: "a write does not keep the Inbox message passed in", run: testInboxCarriedCopies},
		{name: "of 50 concurrent AppendEvents carrying one Inbox message exactly one writes", run: testInboxCarriedConcurrentAppend},
		{name: "of 20 concurrent UpdatePayment of different payments carrying one Inbox message exactly one writes", run: testInboxCarriedConcurrentUpdate},
		{name: "of concurrent RecordInbox and AppendEvents of one Inbox message exactly one inserts it", run: testInboxCarriedConcurrentRecord},
	}
}

// carry returns ev carrying the Inbox message m.
func carry(ev payment.Event, m *payment.InboxMessage) payment.Event {
	ev.Inbox = m
	return ev
}

// withoutInbox returns copies of events without their Inbox messages, as a
// Store hands them back.
func withoutInbox(events ...payment.Event) []payment.Event {
	out := make([]payment.Event, len(events))
	for i, e := range events {
		e.Inbox = nil
		out[i] = e
	}
	return out
}

// noInboxContract is what requireNoInbox checks.
const noInboxContract = "a Store does not keep an event's Inbox message: events read back (ListEvents, outbox messages' Event) have none"

// requireNoInbox checks that events read back carry no Inbox message.
func requireNoInbox(t testing.TB, events []payment.Event, contract string) {
	t.Helper()
	for _, e := range events {
		require.Nilf(t, e.Inbox, "%s (%s): event %s carries %+v", noInboxContract, contract, e.ID, e.Inbox)
	}
}

// requireOutboxOf checks, as requireOutbox does but without the order of
// the queues, that the outbox holds in the test's window exactly a fresh
// message per event of want and destination of the event, and that their
// Events carry no Inbox message. It claims and acknowledges them.
func requireOutboxOf(t *testing.T, s payment.Store, base time.Time, want []payment.Event, contract string) {
	t.Helper()
	got := claimAll(t, s, base.Add(time.Hour))
	require.ElementsMatchf(t, messageIDs(want...), outboxIDs(got),
		"%s: the outbox holds one message per event and destination of the event, and no other", contract)
	byID := map[string]payment.Event{}
	for _, e := range withoutInbox(want...) {
		byID[e.ID] = e
	}
	for _, m := range got {
		requireNoInbox(t, []payment.Event{m.Event}, contract+": the outbox message "+m.ID)
		requireEventEqual(t, byID[m.Event.ID], m.Event, contract+": the message carries the event")
	}
}

// carrierWrite is one call of a Store method that appends events, set up
// and ready to be made.
type carrierWrite struct {
	// id names the events the write appends, for ListEvents.
	id string
	// before are the events ListEvents(id) returns before the write, all
	// appended by writes that notify (one outbox message each).
	before []payment.Event
	// notifies is false for AppendEvents, whose events get no outbox
	// message.
	notifies bool
	// event returns a new event, at at, of the kind the write appends,
	// addressed to the subscribers.
	event func(at time.Time) payment.Event
	// do makes the write, appending events. It may be called once.
	do func(events []payment.Event) error
	// applied checks that the write changed what it writes.
	applied func(t *testing.T, contract string)
	// unchanged checks that what the write would change is as it was
	// before.
	unchanged func(t *testing.T, contract string)
	// makeStale moves the stored payment or payout on, so that do's
	// compare-and-set misses with ErrConflict; nil for a write without a
	// compare-and-set.
	makeStale func(t *testing.T)
}

// carrier is a Store method that appends events.
type carrier struct {
	name string
	// prepare stores, at at, what the write needs.
	prepare func(t *testing.T, s payment.Store, at time.Time) *carrierWrite
}

// carriers returns every Store method that appends events.
func carriers() []carrier {
	return []carrier{
		{"CreatePayment", prepareCreatePayment},
		{"UpdatePayment", prepareUpdatePayment},
		{"CreateRefund", prepareCreateRefund},
		{"UpdateRefund", prepareUpdateRefund},
		{"CreatePayout", prepareCreatePayout},
		{"UpdatePayout", prepareUpdatePayout},
		{"AppendEvents", prepareAppendEvents},
	}
}

// staleCarriers returns the carriers whose write is a compare-and-set.
func staleCarriers() []carrier {
	var out []carrier
	for _, c := range carriers() {
		if c.name != "CreatePayment" && c.name != "CreatePayout" && c.name != "AppendEvents" {
			out = append(out, c)
		}
	}
	return out
}

// paymentState returns checks that the stored payment is *stored.
func paymentState(s payment.Store, stored **payment.Payment) func(t *testing.T, contract string) {
	return func(t *testing.T, contract string) {
		got := mustGetPayment(t, s, (*stored).ID)
		require.Equal(t, (*stored).Version, got.Version, contract+": the payment's Version does not move")
		requirePaymentEqual(t, *stored, got, contract+": the payment is unchanged")
	}
}

// bumpPayment returns a makeStale that updates the stored payment *stored.
func bumpPayment(s payment.Store, stored **payment.Payment) func(t *testing.T) {
	return func(t *testing.T) {
		moved := (*stored).Clone()
		moved.Flags = append(moved.Flags, "moved-on")
		mustUpdatePayment(t, s, moved)
		*stored = moved
	}
}

func prepareCreatePayment(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at)
	return &carrierWrite{
		id:       p.ID,
		notifies: true,
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
		},
		do: func(events []payment.Event) error { return s.CreatePayment(t.Context(), p.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			want := p.Clone()
			want.Version = 1
			requirePaymentEqual(t, want, mustGetPayment(t, s, p.ID), contract+": the payment is inserted")
		},
		unchanged: func(t *testing.T, contract string) {
			_, err := s.GetPayment(t.Context(), p.ID)
			requireErrorIs(t, err, payment.ErrNotFound, contract+": the payment is not inserted")
			found, err := s.FindPayments(t.Context(), p.Provider, p.OrderID)
			require.NoError(t, err, contract)
			require.Empty(t, found, contract+": the payment is not inserted")
		},
	}
}

func prepareUpdatePayment(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	stored := p.Clone()
	w := p.Clone()
	w.Status = payment.StatusProcessing
	w.ProviderReference = "ref-" + randText()
	w.UpdatedAt = at.Add(time.Second)
	return &carrierWrite{
		id:       p.ID,
		before:   []payment.Event{created},
		notifies: true,
		event:    func(at time.Time) payment.Event { return paymentEvent(p, at) },
		do:       func(events []payment.Event) error { return s.UpdatePayment(t.Context(), w.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			want := w.Clone()
			want.Version = stored.Version + 1
			requirePaymentEqual(t, want, mustGetPayment(t, s, p.ID), contract+": the payment is updated")
		},
		unchanged: paymentState(s, &stored),
		makeStale: bumpPayment(s, &stored),
	}
}

func prepareCreateRefund(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	p := captured(newPayment(newProvider(), newOrderID(), at), 10000)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	stored := p.Clone()
	r := newRefund(p, 4000, at)
	w := p.Clone()
	w.AmountRefundPending = 4000
	w.Status = payment.StatusPartiallyRefunded
	state := paymentState(s, &stored)
	return &carrierWrite{
		id:       p.ID,
		before:   []payment.Event{created},
		notifies: true,
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventRefundCreated, r.ID, p.ID, at)
		},
		do: func(events []payment.Event) error { return s.CreateRefund(t.Context(), r.Clone(), w.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), contract+": the refund is inserted")
			want := w.Clone()
			want.Version = stored.Version + 1
			requirePaymentEqual(t, want, mustGetPayment(t, s, p.ID), contract+": the payment is updated")
		},
		unchanged: func(t *testing.T, contract string) {
			_, err := s.GetRefund(t.Context(), r.ID)
			requireErrorIs(t, err, payment.ErrNotFound, contract+": the refund is not inserted")
			state(t, contract)
		},
		makeStale: bumpPayment(s, &stored),
	}
}

func prepareUpdateRefund(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	p := captured(newPayment(newProvider(), newOrderID(), at), 10000)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	r := newRefund(p, 4000, at)
	p.AmountRefundPending = 4000
	require.NoError(t, s.CreateRefund(t.Context(), r, p, nil), "CreateRefund: a new refund is inserted")
	stored := p.Clone()
	wr := r.Clone()
	wr.Status = payment.RefundSucceeded
	wr.ProviderReference = "rf-" + randText()
	wr.UpdatedAt = at.Add(time.Second)
	w := p.Clone()
	w.AmountRefundPending, w.AmountRefunded = 0, 4000
	w.Status = payment.StatusPartiallyRefunded
	state := paymentState(s, &stored)
	return &carrierWrite{
		id:       p.ID,
		before:   []payment.Event{created},
		notifies: true,
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventRefundSucceeded, r.ID, p.ID, at)
		},
		do: func(events []payment.Event) error { return s.UpdateRefund(t.Context(), wr.Clone(), w.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			requireRefundEqual(t, wr, mustGetRefund(t, s, r.ID), contract+": the refund is replaced")
			want := w.Clone()
			want.Version = stored.Version + 1
			requirePaymentEqual(t, want, mustGetPayment(t, s, p.ID), contract+": the payment is updated")
		},
		unchanged: func(t *testing.T, contract string) {
			requireRefundEqual(t, r, mustGetRefund(t, s, r.ID), contract+": the refund is unchanged")
			state(t, contract)
		},
		makeStale: bumpPayment(s, &stored),
	}
}

func prepareCreatePayout(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	po := newPayout(newProvider(), newOrderID(), at)
	return &carrierWrite{
		id:       po.ID,
		notifies: true,
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventPayoutCreated, po.ID, "", at)
		},
		do: func(events []payment.Event) error { return s.CreatePayout(t.Context(), po.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			want := po.Clone()
			want.Version = 1
			requirePayoutEqual(t, want, mustGetPayout(t, s, po.ID), contract+": the payout is inserted")
		},
		unchanged: func(t *testing.T, contract string) {
			_, err := s.GetPayout(t.Context(), po.ID)
			requireErrorIs(t, err, payment.ErrNotFound, contract+": the payout is not inserted")
		},
	}
}

func prepareUpdatePayout(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	po := newPayout(newProvider(), newOrderID(), at)
	created := newEvent(payment.EventPayoutCreated, po.ID, "", at)
	require.NoError(t, s.CreatePayout(t.Context(), po, []payment.Event{created}), "CreatePayout: a new payout is inserted")
	stored := po.Clone()
	w := po.Clone()
	w.Status = payment.PayoutProcessing
	w.ProviderReference = "po-" + randText()
	w.UpdatedAt = at.Add(time.Second)
	return &carrierWrite{
		id:       po.ID,
		before:   []payment.Event{created},
		notifies: true,
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventPayoutProcessing, po.ID, "", at)
		},
		do: func(events []payment.Event) error { return s.UpdatePayout(t.Context(), w.Clone(), events) },
		applied: func(t *testing.T, contract string) {
			want := w.Clone()
			want.Version = stored.Version + 1
			requirePayoutEqual(t, want, mustGetPayout(t, s, po.ID), contract+": the payout is updated")
		},
		unchanged: func(t *testing.T, contract string) {
			got := mustGetPayout(t, s, po.ID)
			require.Equal(t, stored.Version, got.Version, contract+": the payout's Version does not move")
			requirePayoutEqual(t, stored, got, contract+": the payout is unchanged")
		},
		makeStale: func(t *testing.T) {
			moved := stored.Clone()
			moved.Fee = 1
			require.NoError(t, s.UpdatePayout(t.Context(), moved, nil), "UpdatePayout: an update at the stored Version succeeds")
			stored = moved
		},
	}
}

func prepareAppendEvents(t *testing.T, s payment.Store, at time.Time) *carrierWrite {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), at)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	stored := p.Clone()
	state := paymentState(s, &stored)
	return &carrierWrite{
		id:     p.ID,
		before: []payment.Event{created},
		event: func(at time.Time) payment.Event {
			return newEvent(payment.EventIgnored, p.ID, p.ID, at)
		},
		do:        func(events []payment.Event) error { return s.AppendEvents(t.Context(), events) },
		applied:   state,
		unchanged: state,
	}
}

func testInboxCarried(t *testing.T, s payment.Store) {
	const c = "every method that appends events inserts the Inbox message each event carries, as RecordInbox would, " +
		"with every field as given, in the same step"
	for _, cr := range carriers() {
		t.Run(cr.name, func(t *testing.T) {
			c := cr.name + ": " + c
			base := pastWindow()
			drainOutbox(t, s, base)
			w := cr.prepare(t, s, base)
			prov := newProvider()
			processed := fullInbox(prov, w.id, now())
			received := newInbox(prov, now())
			evs := []payment.Event{
				carry(w.event(base), processed),
				w.event(base),
				carry(w.event(base.Add(time.Second)), received),
			}
			require.NoError(t, w.do(evs), c)
			w.applied(t, c)

			requireInboxEqual(t, processed, mustGetInbox(t, s, prov, processed.EventKey, c), c+": GetInbox (a processed message, every field set)")
			requireInboxEqual(t, received, mustGetInbox(t, s, prov, received.EventKey, c), c+": GetInbox (a received message)")
			requireInboxEqual(t, processed, record(t, s, processed, false, c+": RecordInbox finds the message stored already"),
				c+": RecordInbox returns the message as stored")

			listed := mustListEvents(t, s, w.id)
			requireNoInbox(t, listed, c+": ListEvents")
			requireEvents(t, append(w.before, withoutInbox(evs...)...), listed, c+": ListEvents returns the events appended")
			out := w.before
			if w.notifies {
				out = append(out, evs...)
			}
			requireOutboxOf(t, s, base, out, c)
		})
	}
}

func testInboxCarriedStored(t *testing.T, s payment.Store) {
	const c = "a write carrying an Inbox message whose Provider and EventKey are stored already fails with ErrAlreadyExists " +
		"and writes nothing"
	for _, cr := range carriers() {
		for _, status := range []payment.InboxStatus{payment.InboxReceived, payment.InboxProcessed} {
			t.Run(cr.name+" "+string(status), func(t *testing.T) {
				c := fmt.Sprintf("%s: %s (stored as %s)", cr.name, c, status)
				base := pastWindow()
				drainOutbox(t, s, base)
				w := cr.prepare(t, s, base)
				first := newInbox(newProvider(), now())
				if status == payment.InboxProcessed {
					first = fullInbox(first.Provider, w.id, now())
				}
				record(t, s, first, true, c)

				// A new message first: it is not inserted either.
				fresh := fullInbox(first.Provider, w.id, now())
				again := fullInbox(first.Provider, w.id, now().Add(time.Minute))
				again.EventKey = first.EventKey
				again.Payload = []byte(`{"redelivered":true}`)
				evs := []payment.Event{carry(w.event(base), fresh), carry(w.event(base), again)}
				requireErrorIs(t, w.do(evs), payment.ErrAlreadyExists, c)

				w.unchanged(t, c)
				requireEvents(t, w.before, mustListEvents(t, s, w.id), c+": no event is appended")
				requireInboxEqual(t, first, mustGetInbox(t, s, first.Provider, first.EventKey, c), c+": the stored message is unchanged")
				requireInboxMissing(t, s, fresh, c+": the write's other Inbox message is not inserted")
				requireOutboxOf(t, s, base, w.before, c+": no outbox message is added")
			})
		}
	}
}

func testInboxCarriedStale(t *testing.T, s payment.Store) {
	const c = "a compare-and-set that misses is ErrConflict, first, and writes nothing: not the Inbox message the events carry"
	for _, cr := range staleCarriers() {
		t.Run(cr.name, func(t *testing.T) {
			c := cr.name + ": " + c
			at := now()
			w := cr.prepare(t, s, at)
			w.makeStale(t)
			m := fullInbox(newProvider(), w.id, at)
			requireErrorIs(t, w.do([]payment.Event{carry(w.event(at), m)}), payment.ErrConflict, c)
			requireInboxMissing(t, s, m, c+": the Inbox message is not inserted")
			w.unchanged(t, c)
			requireEvents(t, w.before, mustListEvents(t, s, w.id), c+": no event is appended")
		})
		t.Run(cr.name+" stored already", func(t *testing.T) {
			c := cr.name + ": " + c + " (even when the message is stored already: ErrConflict, not ErrAlreadyExists)"
			at := now()
			w := cr.prepare(t, s, at)
			w.makeStale(t)
			first := newInbox(newProvider(), at)
			record(t, s, first, true, c)
			again := fullInbox(first.Provider, w.id, at)
			again.EventKey = first.EventKey
			err := w.do([]payment.Event{carry(w.event(at), again)})
			requireErrorIs(t, err, payment.ErrConflict, c)
			require.NotErrorIsf(t, err, payment.ErrAlreadyExists, "%s: got %v", c, err)
			requireInboxEqual(t, first, mustGetInbox(t, s, first.Provider, first.EventKey, c), c+": the stored message is unchanged")
			w.unchanged(t, c)
			requireEvents(t, w.before, mustListEvents(t, s, w.id), c+": no event is appended")
		})
	}
}

func testInboxCarriedMissing(t *testing.T, s payment.Store) {
	const c = "a write of a missing payment or payout is ErrNotFound, first, and inserts no Inbox message"
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	p.Version = 1
	po := newPayout(newProvider(), newOrderID(), at)
	po.Version = 1
	stored := newInbox(newProvider(), at)
	record(t, s, stored, true, c)
	for _, w := range []struct {
		name  string
		id    string
		event payment.Event
		do    func(events []payment.Event) error
	}{
		{"UpdatePayment", p.ID, paymentEvent(p, at), func(events []payment.Event) error { return s.UpdatePayment(t.Context(), p.Clone(), events) }},
		{"UpdatePayout", po.ID, newEvent(payment.EventPayoutProcessing, po.ID, "", at), func(events []payment.Event) error {
			return s.UpdatePayout(t.Context(), po.Clone(), events)
		}},
	} {
		c := w.name + ": " + c
		m := fullInbox(newProvider(), w.id, at)
		requireErrorIs(t, w.do([]payment.Event{carry(w.event, m)}), payment.ErrNotFound, c)
		requireInboxMissing(t, s, m, c+": the Inbox message is not inserted")

		again := fullInbox(stored.Provider, w.id, at)
		again.EventKey = stored.EventKey
		err := w.do([]payment.Event{carry(w.event, again)})
		requireErrorIs(t, err, payment.ErrNotFound, c+" (the message is stored already: ErrNotFound, not ErrAlreadyExists)")
		require.NotErrorIsf(t, err, payment.ErrAlreadyExists, "%s (the message is stored already): got %v", c, err)
		requireInboxEqual(t, stored, mustGetInbox(t, s, stored.Provider, stored.EventKey, c), c+": the stored message is unchanged")
		require.Empty(t, mustListEvents(t, s, w.id), c+": no event is appended")
	}
}

func testInboxCarriedCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: the Inbox message an event carries is the caller's"
	for _, cr := range carriers() {
		t.Run(cr.name, func(t *testing.T) {
			c := cr.name + ": " + c
			at := now()
			w := cr.prepare(t, s, at)
			m := fullInbox(newProvider(), w.id, at)
			want := utcInbox(m)
			evs := []payment.Event{carry(w.event(at), m)}
			require.NoError(t, w.do(evs), c)
			copy(m.Payload, "XXXX")
			m.Status = payment.InboxOrphan
			m.ObjectID = "changed"
			m.Error = "changed"
			*m.ProcessedAt = m.ProcessedAt.Add(time.Hour)
			m.ReceivedAt = m.ReceivedAt.Add(time.Hour)
			m.EventKey += "-changed"
			requireInboxEqual(t, want, mustGetInbox(t, s, want.Provider, want.EventKey, c), c+": changing the message passed in")
			requireInboxMissing(t, s, m, c+": changing the message passed in")
		})
	}
}

// inboxRace checks the outcome of writes racing with one Inbox message: of
// errs, exactly one is nil and the others wrap ErrAlreadyExists. It returns
// the winner.
func inboxRace(t *testing.T, errs []error, contract string) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equalf(t, -1, winner, "%s: writes %d and %d both succeeded", contract, winner, i)
			winner = i
			continue
		}
		requireErrorIs(t, err, payment.ErrAlreadyExists, contract)
	}
	require.NotEqual(t, -1, winner, contract+": one write succeeds")
	return winner
}

// withKey returns the events whose ProviderEventID is key.
func withKey(events []payment.Event, key string) []payment.Event {
	var out []payment.Event
	for _, e := range events {
		if e.ProviderEventID == key {
			out = append(out, e)
		}
	}
	return out
}

func testInboxCarriedConcurrentAppend(t *testing.T, s payment.Store) {
	const c = "a write carrying an Inbox message is atomic with it: of concurrent AppendEvents carrying one message, " +
		"exactly one writes, the others get ErrAlreadyExists"
	const n = 50
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	base := newInbox(newProvider(), at)
	evs := make([]payment.Event, n)
	msgs := make([]*payment.InboxMessage, n)
	for i := range n {
		m := *base
		m.Payload = fmt.Appendf(nil, `{"delivery":%d}`, i)
		msgs[i] = &m
		evs[i] = carry(newEvent(payment.EventIgnored, p.ID, p.ID, at), &m)
		evs[i].ProviderEventID = base.EventKey
	}
	errs := make([]error, n)
	together(n, func(i int) {
		errs[i] = s.AppendEvents(t.Context(), []payment.Event{evs[i]})
	})
	winner := inboxRace(t, errs, c)
	listed := mustListEvents(t, s, p.ID)
	require.Len(t, withKey(listed, base.EventKey), 1, c+": exactly one event of the message is appended")
	requireEvents(t, withoutInbox(created, evs[winner]), listed, c+": only the winner's event is appended")
	requireInboxEqual(t, msgs[winner], mustGetInbox(t, s, base.Provider, base.EventKey, c), c+": the winner's message is stored")
}

func testInboxCarriedConcurrentUpdate(t *testing.T, s payment.Store) {
	const c = "a write carrying an Inbox message is atomic with it: of concurrent UpdatePayment of different payments carrying one message, " +
		"exactly one writes, the others get ErrAlreadyExists and change nothing"
	const n = 20
	at := now()
	base := newInbox(newProvider(), at)
	ps := make([]*payment.Payment, n)
	writes := make([]*payment.Payment, n)
	created := make([]payment.Event, n)
	evs := make([]payment.Event, n)
	msgs := make([]*payment.InboxMessage, n)
	for i := range n {
		p := newPayment(newProvider(), newOrderID(), at)
		created[i] = newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
		mustCreatePayment(t, s, p, created[i])
		ps[i] = p
		w := p.Clone()
		w.Status = payment.StatusSucceeded
		w.AmountCaptured = w.Amount
		writes[i] = w
		m := fullInbox(base.Provider, p.ID, at)
		m.EventKey = base.EventKey
		msgs[i] = m
		evs[i] = carry(newEvent(payment.EventPaymentSucceeded, p.ID, p.ID, at), m)
		evs[i].ProviderEventID = base.EventKey
	}
	errs := make([]error, n)
	together(n, func(i int) {
		errs[i] = s.UpdatePayment(t.Context(), writes[i], []payment.Event{evs[i]})
	})
	winner := inboxRace(t, errs, c)
	for i := range n {
		got := mustGetPayment(t, s, ps[i].ID)
		listed := mustListEvents(t, s, ps[i].ID)
		if i == winner {
			require.Equal(t, int64(2), got.Version, c+": the winner's payment is updated")
			requirePaymentEqual(t, writes[i], got, c+": the winner's payment is updated")
			requireEvents(t, withoutInbox(created[i], evs[i]), listed, c+": the winner's event is appended")
			continue
		}
		require.Equal(t, int64(1), got.Version, c+": a loser's payment is unchanged")
		requirePaymentEqual(t, ps[i], got, c+": a loser's payment is unchanged")
		requireEvents(t, []payment.Event{created[i]}, listed, c+": a loser's event is not appended")
	}
	requireInboxEqual(t, msgs[winner], mustGetInbox(t, s, base.Provider, base.EventKey, c), c+": the winner's message is stored")
}

func testInboxCarriedConcurrentRecord(t *testing.T, s payment.Store) {
	const c = "the Inbox message a write carries is inserted as RecordInbox would: of concurrent RecordInbox and AppendEvents " +
		"of one message, exactly one inserts it"
	const n = 40
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	created := newEvent(payment.EventPaymentCreated, p.ID, p.ID, at)
	mustCreatePayment(t, s, p, created)
	base := newInbox(newProvider(), at)
	msgs := make([]*payment.InboxMessage, n)
	evs := make([]payment.Event, n)
	for i := range n {
		m := *base
		m.Payload = fmt.Appendf(nil, `{"delivery":%d}`, i)
		msgs[i] = &m
		evs[i] = carry(newEvent(payment.EventIgnored, p.ID, p.ID, at), &m)
		evs[i].ProviderEventID = base.EventKey
	}
	errs := make([]error, n)
	inserted := make([]bool, n)
	stored := make([]*payment.InboxMessage, n)
	together(n, func(i int) {
		if i%2 == 0 {
			stored[i], inserted[i], errs[i] = s.RecordInbox(t.Context(), msgs[i])
			return
		}
		errs[i] = s.AppendEvents(t.Context(), []payment.Event{evs[i]})
		inserted[i] = errs[i] == nil
	})
	winner := -1
	for i := range n {
		if i%2 == 0 {
			require.NoError(t, errs[i], c+": RecordInbox")
		} else if errs[i] != nil {
			requireErrorIs(t, errs[i], payment.ErrAlreadyExists, c+": AppendEvents")
		}
		if inserted[i] {
			require.Equalf(t, -1, winner, "%s: calls %d and %d both inserted it", c, winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, c+": one call inserts it")
	want := msgs[winner]
	requireInboxEqual(t, want, mustGetInbox(t, s, base.Provider, base.EventKey, c), c+": the inserted message is stored")
	for i := 0; i < n; i += 2 {
		requireInboxEqual(t, want, stored[i], c+": every RecordInbox returns the inserted message")
	}
	listed := mustListEvents(t, s, p.ID)
	if winner%2 == 1 {
		requireEvents(t, withoutInbox(created, evs[winner]), listed, c+": only the inserting write's event is appended")
	} else {
		requireEvents(t, []payment.Event{created}, listed, c+": no write's event is appended")
	}
}
