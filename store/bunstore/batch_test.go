package bunstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// batchProbe records the size of every batch a batcher writes.
type batchProbe struct {
	mu    sync.Mutex
	sizes []int
}

func probe(b *batcher) *batchProbe {
	p := &batchProbe{}
	write := b.write
	b.write = func(ctx context.Context, jobs []*writeJob) {
		p.mu.Lock()
		p.sizes = append(p.sizes, len(jobs))
		p.mu.Unlock()
		write(ctx, jobs)
	}
	return p
}

func (p *batchProbe) largest() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := 0
	for _, n := range p.sizes {
		m = max(m, n)
	}
	return m
}

// blocker holds PostgreSQL locks in a transaction of its own, so that the
// writes that need them wait and keep the batcher's slots busy.
type blocker struct{ tx bun.Tx }

func block(t *testing.T, db *bun.DB, sql string, args ...any) *blocker {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	_, err = tx.ExecContext(t.Context(), sql, args...)
	require.NoError(t, err)
	return &blocker{tx: tx}
}

func (b *blocker) release(t *testing.T) {
	t.Helper()
	require.NoError(t, b.tx.Rollback())
}

func (b *batcher) state() (running, queued int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running, len(b.queue)
}

// patientStore returns a database and a Store on it whose batchers wait as
// long as a test needs before a queued call starts a batch beside a stalled
// one.
func patientStore(t *testing.T) (*bun.DB, *Store) {
	t.Helper()
	db, _ := openPG(t)
	s := newStore(t, db)
	s.creates.stall, s.updates.stall = time.Hour, time.Hour
	return db, s
}

// async runs fn in a goroutine and returns the channel its error arrives on.
func async(fn func() error) chan error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return ch
}

// queueBehindBlocked runs blocked, which waits on the blocker's locks and
// takes b's first slot, then the calls of queued (fewer than maxBatch, so
// no second batch starts), and returns once these are all queued. Each
// call's error is sent on its channel, blocked's first.
func queueBehindBlocked(t *testing.T, b *batcher, blocked func() error, queued []func() error) []chan error {
	t.Helper()
	require.Less(t, len(queued), maxBatch)
	out := []chan error{async(blocked)}
	require.Eventually(t, func() bool { r, _ := b.state(); return r == 1 },
		5*time.Second, time.Millisecond, "the blocked write takes the first slot")
	for _, fn := range queued {
		out = append(out, async(fn))
	}
	require.Eventually(t, func() bool { _, q := b.state(); return q == len(queued) },
		5*time.Second, time.Millisecond, "the other writes queue")
	running, _ := b.state()
	require.Equal(t, 1, running, "a batch short of full waits for the running one")
	return out
}

func wait(t *testing.T, chs []chan error) []error {
	t.Helper()
	errs := make([]error, len(chs))
	for i, ch := range chs {
		select {
		case errs[i] = <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d did not return", i)
		}
	}
	return errs
}

// holdOrders inserts, uncommitted, live payments for the orders of ps, so
// that creating ps waits on the order-holder index.
func holdOrders(t *testing.T, db *bun.DB, ps ...*payment.Payment) *blocker {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	for _, p := range ps {
		h := *p
		h.ID = uniq(payment.PrefixPayment)
		args, err := paymentArgs(&h)
		require.NoError(t, err)
		_, err = tx.ExecContext(t.Context(), paymentInsert(1), append(args, true)...)
		require.NoError(t, err)
	}
	return &blocker{tx: tx}
}

func TestBatchedCreates(t *testing.T) {
	t.Parallel()
	db, s := patientStore(t)
	pr := probe(s.creates)
	ctx := t.Context()
	at := now()

	live := testPayment(at)
	require.NoError(t, s.CreatePayment(ctx, live, nil))
	dup := testPayment(at)
	dup.Provider, dup.OrderID = live.Provider, live.OrderID

	a := testPayment(at)
	hold := holdOrders(t, db, a)
	create := func(p *payment.Payment) func() error {
		return func() error {
			return s.CreatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentCreated, p, at)})
		}
	}
	var queued []*payment.Payment
	var calls []func() error
	var leases []*payment.OutboxLease
	for i := range 10 {
		p := testPayment(at)
		queued = append(queued, p)
		if i%2 == 1 {
			calls = append(calls, create(p))
			continue
		}
		// Every other call asks for its message leased: each learns its own answer.
		l := &payment.OutboxLease{Destination: "subscribers", Owner: "direct-" + p.ID, Until: at.Add(time.Hour)}
		leases = append(leases, l)
		calls = append(calls, func() error {
			ev := testEvent(payment.EventPaymentCreated, p, at)
			ev.Lease = l
			return s.CreatePayment(ctx, p, []payment.Event{ev})
		})
	}
	chs := queueBehindBlocked(t, s.creates, create(a), calls)
	hold.release(t)
	errs := wait(t, chs)
	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
	require.Equal(t, 10, pr.largest(), "the queued creates were written together")
	for i, l := range leases {
		require.True(t, l.Granted, "lease %d granted", i)
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "stream = ? AND lease_owner = ?", queued[2*i].ID, l.Owner))
	}
	for i := 1; i < 10; i += 2 {
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "stream = ? AND lease_owner = ''", queued[i].ID))
	}
	for _, p := range append(queued, a) {
		require.Equal(t, int64(1), p.Version)
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, p.OrderID, got.OrderID)
		require.Equal(t, int64(1), countRows(t, db, "paykit_events", "object_id = ?", p.ID))
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "stream = ?", p.ID))
	}
	// Each message is newer than its event, in the order the batch listed
	// them.
	require.Zero(t, countRows(t, db, "paykit_outbox o JOIN paykit_events e ON e.id = o.event_id",
		"o.seq <= e.seq AND e.object_id IN (?, ?)", queued[0].ID, queued[9].ID))

	t.Run("a refused batch is written again call by call", func(t *testing.T) {
		pr.mu.Lock()
		pr.sizes = nil
		pr.mu.Unlock()
		a := testPayment(at)
		hold := holdOrders(t, db, a)
		queued := []*payment.Payment{testPayment(at), dup, testPayment(at)}
		calls := []func() error{create(queued[0]), create(queued[1]), create(queued[2])}
		chs := queueBehindBlocked(t, s.creates, create(a), calls)
		hold.release(t)
		errs := wait(t, chs)
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.ErrorIs(t, errs[2], payment.ErrAlreadyExists, "only the second live payment of an order fails")
		require.NoError(t, errs[3])
		require.Equal(t, 3, pr.largest())
		_, err := s.GetPayment(ctx, dup.ID)
		require.ErrorIs(t, err, payment.ErrNotFound)
		require.Zero(t, countRows(t, db, "paykit_events", "object_id = ?", dup.ID), "nothing of it is written")
		for _, p := range []*payment.Payment{a, queued[0], queued[2]} {
			require.Equal(t, int64(1), countRows(t, db, "paykit_events", "object_id = ?", p.ID))
		}
	})

	t.Run("a queued call whose context ends writes nothing", func(t *testing.T) {
		a := testPayment(at)
		hold := holdOrders(t, db, a)
		gone := testPayment(at)
		cctx, cancel := context.WithCancel(ctx)
		chs := queueBehindBlocked(t, s.creates, create(a), []func() error{
			func() error { return s.CreatePayment(cctx, gone, nil) },
		})
		cancel()
		require.ErrorIs(t, wait(t, chs[1:])[0], context.Canceled)
		hold.release(t)
		require.NoError(t, wait(t, chs[:1])[0])
		_, err := s.GetPayment(ctx, gone.ID)
		require.ErrorIs(t, err, payment.ErrNotFound)
	})
}

func TestBatchedUpdates(t *testing.T) {
	t.Parallel()
	db, s := patientStore(t)
	pr := probe(s.updates)
	ctx := t.Context()
	at := now()

	stored := func() *payment.Payment {
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		return p
	}
	// update compare-and-sets a copy of p (as read at version) to
	// succeeded, with one event, carrying msg if not nil.
	update := func(p *payment.Payment, version int64, msg *payment.InboxMessage) (func() error, *payment.Payment, *payment.Event) {
		c := *p
		c.Version = version
		c.Status = payment.StatusSucceeded
		c.ProviderReference = uniq("ref_")
		c.AmountCaptured = c.Amount
		e := testEvent(payment.EventPaymentSucceeded, &c, at)
		e.Inbox = msg
		// Each asks for its message leased: the batch tells each call its own answer.
		e.Lease = &payment.OutboxLease{Destination: "subscribers", Owner: "direct-" + c.ID, Until: at.Add(time.Hour)}
		return func() error { return s.UpdatePayment(ctx, &c, []payment.Event{e}) }, &c, &e
	}
	inbox := func(key string) *payment.InboxMessage {
		processed := at
		return &payment.InboxMessage{
			Provider: "sandbox", EventKey: key, Status: payment.InboxProcessed,
			Payload: []byte(`{}`), ReceivedAt: at, ProcessedAt: &processed,
		}
	}

	x := stored()
	hold := block(t, db, `SELECT id FROM paykit_payments WHERE id = ? FOR UPDATE`, x.ID)
	ux, _, _ := update(x, 1, nil)

	var calls []func() error
	var updated []*payment.Payment
	var events []*payment.Event
	for i := range 6 {
		var msg *payment.InboxMessage
		if i%2 == 0 {
			msg = inbox(uniq("evt_"))
		}
		fn, c, e := update(stored(), 1, msg)
		calls, updated, events = append(calls, fn), append(updated, c), append(events, e)
	}
	stale := stored()
	uStale, _, staleEvent := update(stale, 7, nil)
	missing := testPayment(at)
	uMissing, _, _ := update(missing, 1, nil)
	// A second update of the first queued payment, at the same version: one
	// batch holds one call per payment, so the two are written one after
	// the other, and whichever queued second misses.
	again, againCopy, againEvent := update(updated[0], 1, nil)
	calls = append(calls, uStale, uMissing, again)

	chs := queueBehindBlocked(t, s.updates, ux, calls)
	hold.release(t)
	errs := wait(t, chs)
	require.NoError(t, errs[0])
	for i := 1; i < 6; i++ {
		require.NoError(t, errs[1+i], "call %d", 1+i)
	}
	require.ErrorIs(t, errs[7], payment.ErrConflict, "a stale version fails only its own call")
	require.ErrorIs(t, errs[8], payment.ErrNotFound)
	if errs[1] != nil {
		// The repeated call was queued first and won.
		require.ErrorIs(t, errs[1], payment.ErrConflict)
		require.NoError(t, errs[9])
		updated[0], events[0], againCopy, againEvent = againCopy, againEvent, updated[0], events[0]
	} else {
		require.ErrorIs(t, errs[9], payment.ErrConflict)
	}
	require.Equal(t, 8, pr.largest(), "one batch for the distinct payments; the repeated one goes in the next")

	for i, c := range updated {
		got, err := s.GetPayment(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, got.Status)
		require.Equal(t, c.ProviderReference, got.ProviderReference)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, int64(2), c.Version, "the caller's copy is bumped")
		require.Equal(t, int64(1), countRows(t, db, "paykit_events", "id = ?", events[i].ID))
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "event_id = ? AND lease_owner = ?", events[i].ID, events[i].Lease.Owner))
		require.True(t, events[i].Lease.Granted, "update %d: its lease is granted", i)
		if m := events[i].Inbox; m != nil {
			got, err := s.GetInbox(ctx, m.Provider, m.EventKey)
			require.NoError(t, err)
			require.Equal(t, payment.InboxProcessed, got.Status)
		}
	}
	require.Equal(t, int64(1), againCopy.Version, "the loser's copy is not bumped")
	for _, e := range []*payment.Event{staleEvent, againEvent} {
		require.Zero(t, countRows(t, db, "paykit_events", "id = ?", e.ID), "a missed compare-and-set writes no event")
		require.Zero(t, countRows(t, db, "paykit_outbox", "event_id = ?", e.ID))
		require.False(t, e.Lease.Granted, "a missed compare-and-set grants no lease")
	}
	if m := againEvent.Inbox; m != nil {
		_, err := s.GetInbox(ctx, m.Provider, m.EventKey)
		require.ErrorIs(t, err, payment.ErrNotFound, "nor its inbox message")
	}
	got, err := s.GetPayment(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StatusPending, got.Status)

	t.Run("a stored inbox message refuses the batch, and only its call fails", func(t *testing.T) {
		known := inbox(uniq("evt_"))
		_, _, err := s.RecordInbox(ctx, known)
		require.NoError(t, err)
		x := stored()
		hold := block(t, db, `SELECT id FROM paykit_payments WHERE id = ? FOR UPDATE`, x.ID)
		ux, _, _ := update(x, 1, nil)
		first, c1, e1 := update(stored(), 1, inbox(uniq("evt_")))
		dupCall, c2, e2 := update(stored(), 1, known)
		last, c3, e3 := update(stored(), 1, nil)
		chs := queueBehindBlocked(t, s.updates, ux, []func() error{first, dupCall, last})
		hold.release(t)
		errs := wait(t, chs)
		require.NoError(t, errs[1])
		require.ErrorIs(t, errs[2], payment.ErrAlreadyExists)
		require.NoError(t, errs[3])
		for _, c := range []*payment.Payment{c1, c3} {
			got, err := s.GetPayment(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, payment.StatusSucceeded, got.Status)
		}
		got, err := s.GetPayment(ctx, c2.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusPending, got.Status, "nothing of the refused call is written")
		require.Zero(t, countRows(t, db, "paykit_events", "id = ?", e2.ID))
		require.Equal(t, int64(2), countRows(t, db, "paykit_events", "id IN (?, ?)", e1.ID, e3.ID))
	})
}

func TestWithoutBatching(t *testing.T) {
	t.Parallel()
	db, _ := openPG(t)
	s := newStore(t, db, WithoutBatching())
	require.Nil(t, s.creates)
	require.Nil(t, s.updates)
	require.NotNil(t, newStore(t, db).creates, "a PostgreSQL pool batches by default")
	require.Nil(t, newStore(t, openSQLite(t)).creates, "SQLite does not")
	p := testPayment(now())
	require.NoError(t, s.CreatePayment(t.Context(), p, nil))
	p.Status = payment.StatusProcessing
	require.NoError(t, s.UpdatePayment(t.Context(), p, nil))
	require.Equal(t, int64(2), p.Version)
}

// A write that panics fails the calls of its batch that it did not
// finish, and the queue goes on: later writes are not stuck behind it.
func TestBatchPanicDoesNotStopTheQueue(t *testing.T) {
	t.Parallel()
	db, s := patientStore(t)
	ctx := t.Context()
	at := now()
	write := s.creates.write
	var panics atomic.Int32
	s.creates.write = func(ctx context.Context, jobs []*writeJob) {
		if len(jobs) > 1 && panics.Add(1) == 1 {
			panic("boom")
		}
		write(ctx, jobs)
	}
	create := func(p *payment.Payment) func() error {
		return func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panicked: %v", r)
				}
			}()
			return s.CreatePayment(ctx, p, nil)
		}
	}
	a := testPayment(at)
	hold := holdOrders(t, db, a)
	queued := []*payment.Payment{testPayment(at), testPayment(at), testPayment(at)}
	chs := queueBehindBlocked(t, s.creates, create(a),
		[]func() error{create(queued[0]), create(queued[1]), create(queued[2])})
	hold.release(t)
	errs := wait(t, chs)
	require.NoError(t, errs[0])
	panicked, failed := 0, 0
	for _, err := range errs[1:] {
		require.Error(t, err)
		if strings.HasPrefix(err.Error(), "panicked") {
			panicked++
		} else {
			require.ErrorIs(t, err, payment.ErrUnavailable)
			failed++
		}
	}
	require.Equal(t, 1, panicked, "the panic goes up the stack of the call that wrote the batch")
	require.Equal(t, 2, failed)
	running, queuedNow := s.creates.state()
	require.Zero(t, running, "the slot was freed")
	require.Zero(t, queuedNow)
	p := testPayment(at)
	require.NoError(t, s.CreatePayment(ctx, p, nil), "later writes go through")
}

// A full batch starts beside a running one, up to batchesInFlight at
// once; beyond that, full batches wait too.
func TestFullBatchesRunBeside(t *testing.T) {
	t.Parallel()
	db, s := patientStore(t)
	pr := probe(s.creates)
	ctx := t.Context()
	at := now()
	create := func(p *payment.Payment) chan error {
		return async(func() error { return s.CreatePayment(ctx, p, nil) })
	}
	// Each of the first batchesInFlight batches holds one payment whose
	// order an open transaction holds: the batch waits on it as a whole.
	held := make([]*payment.Payment, batchesInFlight)
	for i := range held {
		held[i] = testPayment(at)
	}
	hold := holdOrders(t, db, held...)
	var chs []chan error
	chs = append(chs, create(held[0]))
	require.Eventually(t, func() bool { r, _ := s.creates.state(); return r == 1 }, 5*time.Second, time.Millisecond)
	for k := 1; k < batchesInFlight; k++ {
		for range maxBatch - 1 {
			chs = append(chs, create(testPayment(at)))
		}
		chs = append(chs, create(held[k]))
		require.Eventually(t, func() bool { r, q := s.creates.state(); return r == k+1 && q == 0 },
			5*time.Second, time.Millisecond, "full batch %d starts beside the running ones", k)
	}
	var last []chan error
	for range maxBatch {
		last = append(last, create(testPayment(at)))
	}
	require.Eventually(t, func() bool { _, q := s.creates.state(); return q == maxBatch },
		5*time.Second, time.Millisecond, "every slot is taken: the next full batch queues")
	running, _ := s.creates.state()
	require.Equal(t, batchesInFlight, running)
	hold.release(t)
	for i, err := range wait(t, append(chs, last...)) {
		require.NoError(t, err, "call %d", i)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	want := []int{1}
	for range batchesInFlight {
		want = append(want, maxBatch)
	}
	require.Equal(t, want, pr.sizes, "the first write alone, then full batches")
}

// A call queued behind a batch that waits on a row lock starts a batch of
// its own after stallAfter, and does not wait for the lock.
func TestStalledBatch(t *testing.T) {
	t.Parallel()
	db, _ := openPG(t)
	s := newStore(t, db)
	require.Equal(t, stallAfter, s.creates.stall)
	ctx := t.Context()
	at := now()
	stuck, next := testPayment(at), testPayment(at)
	hold := holdOrders(t, db, stuck)
	stuckDone := async(func() error { return s.CreatePayment(ctx, stuck, nil) })
	require.Eventually(t, func() bool { r, _ := s.creates.state(); return r == 1 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	nextDone := async(func() error { return s.CreatePayment(ctx, next, nil) })
	select {
	case err := <-nextDone:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		hold.release(t)
		t.Fatal("the queued create waited for the stuck one's lock")
	}
	require.GreaterOrEqual(t, time.Since(start), stallAfter, "it waited for the running batch first")
	select {
	case err := <-stuckDone:
		t.Fatalf("the stuck create returned before its lock was released: %v", err)
	default:
	}
	hold.release(t)
	require.NoError(t, <-stuckDone)
}

// A batch statement's text depends only on its shape, so a text built for
// one batch serves every batch of that shape; the arguments collected with
// a known text are those of a full build.
func TestBatchTextDependsOnlyOnShape(t *testing.T) {
	t.Parallel()
	at := now()
	// jobs returns n payments with two events each; the inbox message
	// and the second destination go to the events picked by flip.
	jobs := func(n int, flip bool) ([]*writeJob, []payment.Event) {
		var out []*writeJob
		for i := range n {
			j := twoEventJob(t, at)
			evs := j.events
			k := i % 2
			if flip {
				k = 1 - k
			}
			evs[k].Destinations = []string{"subscribers", "endpoint:e"}
			evs[1-k].Destinations = []string{"subscribers"}
			evs[1-k].Inbox = &payment.InboxMessage{Provider: "sandbox", EventKey: uniq("evt_"), Payload: []byte(`{}`), ReceivedAt: at}
			evs[k].Lease = &payment.OutboxLease{Destination: "subscribers", Owner: "o", Until: at}
			out = append(out, j)
		}
		return out, batchEvents(out)
	}
	for _, update := range []bool{false, true} {
		build := createStatement
		if update {
			build = updateStatement
		}
		for _, n := range []int{1, 2, 5, maxBatch} {
			a, aEvents := jobs(n, false)
			b, bEvents := jobs(n, true)
			require.Equal(t, shapeOf(update, n, aEvents), shapeOf(update, n, bEvents))
			var qa, qb query
			build(&qa, a, aEvents)
			build(&qb, b, bEvents)
			require.Equal(t, qa.String(), qb.String(), "update %v, %d payments", update, n)

			cache := &textCache{m: map[batchShape]batchText{}}
			text, args := cache.statement(shapeOf(update, n, aEvents), func(q *query) { build(q, a, aEvents) })
			require.Equal(t, qa.String(), text)
			require.Equal(t, qa.args, args)
			text, args = cache.statement(shapeOf(update, n, bEvents), func(q *query) { build(q, b, bEvents) })
			require.Equal(t, qb.String(), text, "from the cache")
			require.Equal(t, qb.args, args, "a cached text still gets its own batch's arguments")

			// One inbox message fewer, or one outbox message fewer, is
			// another shape with another text.
			for _, change := range []func(e *payment.Event){
				func(e *payment.Event) { e.Inbox = nil },
				func(e *payment.Event) { e.Destinations = e.Destinations[:len(e.Destinations)-1] },
			} {
				c, _ := jobs(n, false)
				change(&c[0].events[1])
				cEvents := batchEvents(c)
				require.NotEqual(t, shapeOf(update, n, aEvents), shapeOf(update, n, cEvents))
				var qc query
				build(&qc, c, cEvents)
				require.NotEqual(t, qa.String(), qc.String())
			}
		}
	}
}

// twoEventJob returns the write of a new test payment with two events
// (created, succeeded), no destinations yet: the arguments an update
// batch takes (the payment's, holds_order, the expected version).
func twoEventJob(tb testing.TB, at time.Time) *writeJob {
	tb.Helper()
	p := testPayment(at)
	args, err := paymentArgs(p)
	require.NoError(tb, err)
	args = append(args, true, p.Version)
	evs := []payment.Event{
		testEvent(payment.EventPaymentCreated, p, at),
		testEvent(payment.EventPaymentSucceeded, p, at),
	}
	return newWriteJob(tb.Context(), p, args, evs)
}

// BenchmarkBatchStatement measures what a batch costs in Go before it is
// sent, once its text is cached: the arguments of 8 payments with two
// events each and their outbox rows, one of them leased.
func BenchmarkBatchStatement(b *testing.B) {
	at := now()
	var jobs []*writeJob
	for range 8 {
		j := twoEventJob(b, at)
		j.events[0].Destinations = []string{"subscribers"}
		j.events[1].Destinations = []string{"subscribers"}
		j.events[1].Lease = &payment.OutboxLease{Destination: "subscribers", Owner: "o", Until: at}
		jobs = append(jobs, j)
	}
	events := batchEvents(jobs)
	for _, update := range []bool{false, true} {
		build, name := createStatement, "create"
		if update {
			build, name = updateStatement, "update"
		}
		b.Run(name, func(b *testing.B) {
			cache := &textCache{m: map[batchShape]batchText{}}
			sh := shapeOf(update, len(jobs), events)
			cache.statement(sh, func(q *query) { build(q, jobs, events) })
			b.ReportAllocs()
			for b.Loop() {
				cache.statement(sh, func(q *query) { build(q, jobs, events) })
			}
		})
	}
}
