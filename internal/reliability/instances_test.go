package reliability

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
)

// scriptVendor is the vendor behind the scripted provider that every
// instance talks to: Start charges and then times out (the payment is
// stuck in processing); Sync answers processing until a payment's
// resolveAt-th query, then succeeded. It counts queries per payment and
// per instance, and how many ran at once for one payment.
type scriptVendor struct {
	mu          sync.Mutex
	resolveAt   int
	charges     map[string]int
	syncs       map[string]int
	byInstance  map[string]int
	inflight    map[string]int
	maxInflight int
	// hang, when it names a payment, makes the next query of it hang
	// until the caller gives up, and is cleared.
	hang   string
	hungBy string
	hung   chan struct{}
}

func newScriptVendor(resolveAt int) *scriptVendor {
	return &scriptVendor{
		resolveAt: resolveAt, charges: map[string]int{}, syncs: map[string]int{},
		byInstance: map[string]int{}, inflight: map[string]int{}, hung: make(chan struct{}),
	}
}

func (v *scriptVendor) totalSyncs() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.syncs {
		n += c
	}
	return n
}

func (v *scriptVendor) chargesOf(id string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.charges[id]
}

func (v *scriptVendor) syncsOf(id string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.syncs[id]
}

// scripted is one instance's provider for the scriptVendor.
type scripted struct {
	instance string
	v        *scriptVendor
}

func (p *scripted) Name() string              { return "script" }
func (p *scripted) Methods() []payment.Method { return []payment.Method{payment.MethodQR} }
func (p *scripted) Currencies() []string      { return []string{"THB"} }
func (p *scripted) ParseWebhook(context.Context, *payment.WebhookRequest) (*payment.WebhookResult, error) {
	return nil, fmt.Errorf("script: no webhooks: %w", payment.ErrInvalidSignature)
}

func (p *scripted) Start(_ context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	p.v.mu.Lock()
	p.v.charges[req.Payment.ID]++
	p.v.mu.Unlock()
	return nil, &payment.ProviderError{
		Provider: "script", Op: "start", Code: "timeout", Retryable: true,
		Err: errors.New("charged, then the answer was lost"),
	}
}

func (p *scripted) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	v := p.v
	v.mu.Lock()
	v.syncs[pay.ID]++
	n := v.syncs[pay.ID]
	v.byInstance[p.instance]++
	v.inflight[pay.ID]++
	v.maxInflight = max(v.maxInflight, v.inflight[pay.ID])
	hang := v.hang == pay.ID
	if hang {
		v.hang, v.hungBy = "", p.instance
		close(v.hung)
	}
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.inflight[pay.ID]--
		v.mu.Unlock()
	}()
	if hang {
		<-ctx.Done() // the instance dies holding the payment's lease
		return nil, &payment.ProviderError{Provider: "script", Op: "sync", Retryable: true, Err: ctx.Err()}
	}
	if n >= v.resolveAt {
		return &payment.PaymentState{
			Status: payment.StatusSucceeded, ProviderReference: "scr_" + pay.ID,
			Amount: &payment.Money{Amount: pay.Amount, Currency: pay.Currency},
		}, nil
	}
	return &payment.PaymentState{Status: payment.StatusProcessing, ProviderReference: "scr_" + pay.ID}, nil
}

var _ payment.Syncer = (*scripted)(nil)

// deliveries records every instance's successful deliveries: the union
// (notes) and who delivered what. A subscriber call for a stream while
// another for the same stream runs is counted.
type deliveries struct {
	*notes
	mu          sync.Mutex
	by          map[string]string // event id -> instance
	perInstance map[string]int
	inflight    map[string]int
	overlaps    int
	// block, when set, makes the named instance's subscriber hold its next
	// delivery until the instance's context ends (the instance dies while
	// delivering), and is cleared.
	block   string
	blocked chan payment.Event
	// log is every successful delivery: instance, event id.
	log [][2]string
}

func newDeliveries() *deliveries {
	return &deliveries{
		notes: newNotes(nil), by: map[string]string{}, perInstance: map[string]int{}, inflight: map[string]int{},
		blocked: make(chan payment.Event, 1),
	}
}

func (d *deliveries) subscriber(instance string) payment.Subscriber {
	union := d.notes.subscriber()
	return func(ctx context.Context, e payment.Event) error {
		d.mu.Lock()
		d.inflight[e.Stream()]++
		if d.inflight[e.Stream()] > 1 {
			d.overlaps++
		}
		block := d.block == instance
		if block {
			d.block = ""
		}
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			d.inflight[e.Stream()]--
			d.mu.Unlock()
		}()
		if block {
			d.blocked <- e
			<-ctx.Done()
			return ctx.Err()
		}
		if err := union(ctx, e); err != nil {
			return err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, ok := d.by[e.ID]; !ok {
			d.by[e.ID] = instance
		}
		d.perInstance[instance]++
		d.log = append(d.log, [2]string{instance, e.ID})
		return nil
	}
}

// instance is one Service on its own pool, as one process would be.
type instance struct {
	name   string
	store  *pgStore
	svc    *payment.Service
	cancel context.CancelFunc
	done   chan struct{}
}

func newInstance(t testing.TB, name, dbURL string, clock *paymenttest.Clock, v *scriptVendor, d *deliveries) *instance {
	t.Helper()
	store := openPGStore(t, dbURL, 6)
	svc, err := payment.New(store,
		payment.WithInstanceID(name),
		payment.WithProvider(&scripted{instance: name, v: v}),
		payment.WithClock(clock),
		payment.WithSubscriber(d.subscriber(name)),
		payment.WithSweepInterval(20*time.Millisecond),
		payment.WithDispatchInterval(20*time.Millisecond),
		payment.WithSyncAfter(time.Minute),
		payment.WithProviderTimeout(10*time.Second),
	)
	require.NoError(t, err)
	return &instance{name: name, store: store, svc: svc}
}

func (in *instance) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel, in.done = cancel, make(chan struct{})
	go func() {
		defer close(in.done)
		_ = in.svc.Run(ctx)
	}()
	t.Cleanup(in.stop)
}

func (in *instance) stop() {
	if in.cancel != nil {
		in.cancel()
		<-in.done
	}
}

// stuckPayments creates n payments whose Start timed out after charging.
func stuckPayments(ctx context.Context, t testing.TB, svc *payment.Service, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		p, err := svc.Checkout(ctx, paymenttest.QRCheckout("script", fmt.Sprintf("%s-%d", prefix, i), 10000, "THB"))
		require.NoError(t, err)
		require.Equal(t, payment.StatusProcessing, p.Status)
		ids[i] = p.ID
	}
	return ids
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 90*time.Second, 5*time.Millisecond, what)
}

// requireDeliveredOnce checks the union of every instance's deliveries:
// each notifying event of each payment delivered exactly once, by one
// instance, in the order the events were written.
func requireDeliveredOnce(ctx context.Context, t testing.TB, raw payment.Store, d *deliveries, ids []string) {
	t.Helper()
	for _, id := range ids {
		checkPayment(ctx, t, raw, d.notes, id)
	}
	distinct, repeats := d.totals()
	require.Zero(t, repeats, "an event delivered twice")
	require.Positive(t, distinct)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Zero(t, d.overlaps, "two deliveries of one payment at once")
}

// Three Service instances, each on its own pool, run Run on one PostgreSQL
// database with short sweep and dispatch intervals. Stuck payments (a
// provider whose Start timed out after charging) are queried exactly once
// per sweep round by exactly one instance and resolved once; every
// notification is delivered by exactly one instance, in order per payment,
// never two of one payment at once. An instance that dies holding leases
// (a hung delivery and a hung provider query, then its context canceled)
// has them expire, and the others take its work over.
func TestThreeInstancesOnePostgres(t *testing.T) {
	requirePG(t)
	t.Parallel()

	t.Run("sweeper and dispatcher", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		dbURL := freshPG(t)
		clock := paymenttest.NewClock(time.Now())
		const rounds, n = 3, 240 // more than a sweep batch (100): the instances split each round
		v := newScriptVendor(rounds)
		d := newDeliveries()
		var ins []*instance
		for _, name := range []string{"A", "B", "C"} {
			ins = append(ins, newInstance(t, name, dbURL, clock, v, d))
		}
		ids := stuckPayments(ctx, t, ins[0].svc, "stuck", n)
		for _, in := range ins {
			in.run(t)
		}
		delivered := func() bool {
			missing, err := undeliveredOf(ctx, ins[0].store, d.notes, ids)
			return err == nil && missing == 0
		}
		for round := 1; round <= rounds; round++ {
			// The clock moves only between rounds, once every notification
			// was delivered: a jump while a delivery is in flight would
			// end its lease (1 min) under it, and at-least-once delivery
			// would then rightly deliver it again.
			waitFor(t, fmt.Sprintf("round %d: every notification so far delivered", round), delivered)
			clock.Advance(time.Hour)
			waitFor(t, fmt.Sprintf("round %d: every stuck payment queried", round), func() bool { return v.totalSyncs() >= n*round })
			time.Sleep(100 * time.Millisecond) // time for a second query, if any instance were to make one
			for _, id := range ids {
				require.Equal(t, round, v.syncsOf(id), "payment %s: queried once per round", id)
			}
		}
		waitFor(t, "every notification delivered", delivered)
		time.Sleep(100 * time.Millisecond) // time for a duplicate, if any
		for _, in := range ins {
			in.stop()
		}
		for _, id := range ids {
			p, err := ins[0].store.GetPayment(ctx, id)
			require.NoError(t, err)
			require.Equal(t, payment.StatusSucceeded, p.Status)
			require.Equal(t, 1, v.chargesOf(id))
			requireSucceededEventOnce(ctx, t, ins[0].store, id)
		}
		requireDeliveredOnce(ctx, t, ins[0].store, d, ids)
		require.LessOrEqual(t, v.maxInflight, 1, "a payment queried by two instances at once")
		distinct, _ := d.totals()
		t.Logf("3 instances, %d stuck payments, %d sweep rounds: %d provider queries (%d per payment per round; by instance %v), "+
			"at most %d at once per payment; each resolved once; %d notifications, each delivered once by one instance "+
			"(by instance %v), in order, never two of one payment at once; doubled 0, lost 0",
			n, rounds, v.totalSyncs(), 1, v.byInstance, v.maxInflight, distinct, d.perInstance)
	})

	t.Run("an instance dies holding leases", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		dbURL := freshPG(t)
		clock := paymenttest.NewClock(time.Now())
		v := newScriptVendor(1) // the first query resolves
		d := newDeliveries()
		a := newInstance(t, "A", dbURL, clock, v, d)
		b := newInstance(t, "B", dbURL, clock, v, d)
		c := newInstance(t, "C", dbURL, clock, v, d)
		const n = 10
		ids := stuckPayments(ctx, t, a.svc, "dies", n)

		// C alone: its subscriber hangs on the first event it delivers,
		// and its provider query of one payment hangs.
		d.mu.Lock()
		d.block = "C"
		d.mu.Unlock()
		v.mu.Lock()
		v.hang = ids[n-1]
		v.mu.Unlock()
		clock.Advance(time.Hour) // the stuck payments are due
		c.run(t)
		var held payment.Event
		select {
		case held = <-d.blocked:
		case <-time.After(30 * time.Second):
			require.FailNow(t, "C never delivered")
		}
		select {
		case <-v.hung:
		case <-time.After(30 * time.Second):
			require.FailNow(t, "C never queried the provider")
		}
		// C dies with both leases held.
		c.stop()
		require.Zero(t, d.count(held.ID), "C's hung delivery does not count")
		hungPayment := ids[n-1]
		require.Equal(t, 1, v.syncsOf(hungPayment))

		// A and B take over once the leases run out. (The clock moves
		// before they start: a jump while they deliver would end their
		// own leases under them.)
		clock.Advance(2 * time.Minute) // past the dispatch and the sweep leases (1 min)
		a.run(t)
		b.run(t)
		waitFor(t, "the held notification delivered by another instance", func() bool { return d.count(held.ID) == 1 })
		waitFor(t, "the hung payment resolved", func() bool {
			p, err := a.store.GetPayment(ctx, hungPayment)
			return err == nil && p.Status == payment.StatusSucceeded
		})
		waitFor(t, "every payment resolved and notified", func() bool {
			for _, id := range ids {
				p, err := a.store.GetPayment(ctx, id)
				if err != nil || p.Status != payment.StatusSucceeded {
					return false
				}
			}
			missing, err := undeliveredOf(ctx, a.store, d.notes, ids)
			return err == nil && missing == 0
		})
		time.Sleep(100 * time.Millisecond)
		a.stop()
		b.stop()
		for _, id := range ids {
			requireSucceededEventOnce(ctx, t, a.store, id)
			checkPayment(ctx, t, a.store, d.notes, id) // every event notified, in order
		}
		// The living deliver each event once; what C delivered but could
		// not acknowledge before it died is delivered again (at least
		// once), and nothing else is.
		d.mu.Lock()
		living, byC := map[string]int{}, map[string]bool{}
		for _, l := range d.log {
			if l[0] == "C" {
				byC[l[1]] = true
			} else {
				living[l[1]]++
			}
		}
		takenBy := d.by[held.ID]
		overlaps := d.overlaps
		d.mu.Unlock()
		again := 0
		for id, n := range living {
			require.Equal(t, 1, n, "event %s delivered twice by the living instances", id)
			if byC[id] {
				again++
			}
		}
		require.Zero(t, overlaps, "two deliveries of one payment at once")
		require.Contains(t, []string{"A", "B"}, takenBy)
		t.Logf("C died holding the lease of notification %s (%s of %s) and of payment %s (a hung provider query); "+
			"after the 1 min leases ran out %s delivered the notification and the payment was queried again "+
			"(%d queries in all) and resolved once; %d payments: every notification delivered, in order, once by the "+
			"living instances (%d that C had delivered without its acknowledgement getting through came again); lost 0",
			held.ID, held.Type, held.Stream(), hungPayment, takenBy, v.syncsOf(hungPayment), n, again)
	})
}

// undeliveredOf counts the notifying events of ids that n has not received.
func undeliveredOf(ctx context.Context, store payment.Store, n *notes, ids []string) (int, error) {
	missing := 0
	for _, id := range ids {
		evs, err := store.ListEvents(ctx, id)
		if err != nil {
			return 0, err
		}
		for _, e := range evs {
			if e.Notifies() && n.count(e.ID) == 0 {
				missing++
			}
		}
	}
	return missing, nil
}

func requireSucceededEventOnce(ctx context.Context, t testing.TB, store payment.Store, id string) {
	t.Helper()
	evs, err := store.ListEvents(ctx, id)
	require.NoError(t, err)
	n := 0
	for _, e := range evs {
		if e.Type == payment.EventPaymentSucceeded {
			n++
		}
	}
	require.Equal(t, 1, n, "payment %s resolved once", id)
}

// One instance works through a claimed batch slowly (each delivery takes
// 20 s: a slow host, or endpoints near their timeout), so the batch's
// 1-minute lease runs out long before it reaches the last messages of the
// batch; another instance then claims those and delivers them. The slow
// instance must not start delivering a message whose lease it no longer
// holds: only the deliveries in flight when the lease ran out (at most the
// dispatch concurrency, 8) may reach the host twice.
func TestSlowBatchOutlivesItsLease(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		store := b.open(t)
		clock := paymenttest.NewClock(time.Now())
		d := newDeliveries()
		var calls atomic.Int64
		var other *payment.Service
		slow := func(ctx context.Context, e payment.Event) error {
			clock.Advance(20 * time.Second)
			if calls.Add(1) == 12 {
				// Two minutes in: the other instance finds the rest of the
				// batch unleased, and delivers it.
				if _, err := other.Dispatch(ctx); err != nil {
					return err
				}
			}
			return d.subscriber("slow")(ctx, e)
		}
		v := newScriptVendor(1)
		svc, err := payment.New(store, payment.WithInstanceID("slow"), payment.WithClock(clock),
			payment.WithProvider(&scripted{instance: "slow", v: v}), payment.WithSubscriber(slow))
		require.NoError(t, err)
		other, err = payment.New(store, payment.WithInstanceID("other"), payment.WithClock(clock),
			payment.WithProvider(&scripted{instance: "other", v: v}), payment.WithSubscriber(d.subscriber("other")))
		require.NoError(t, err)
		ids := stuckPayments(ctx, t, svc, "slow", 40)
		for range 5 {
			_, _ = svc.Dispatch(ctx)
		}
		distinct, repeats := d.totals()
		t.Logf("%d events, %d delivered twice, by instance %v", distinct, repeats, d.perInstance)
		require.LessOrEqual(t, repeats, 8, "messages delivered by two instances beyond those in flight")
		require.Len(t, ids, 40)
	})
}
