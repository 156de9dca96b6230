package payment_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/store/memstore"
)

// claimCounter counts ClaimOutbox calls, can fail the direct path's first
// AckOutbox, and can hold UpdatePayment until released.
type claimCounter struct {
	payment.Store
	claims    atomic.Int64
	failAck   atomic.Bool
	hold      chan struct{} // when set, UpdatePayment waits for it to close
	held      chan struct{} // closed when an UpdatePayment waits
	holdOrder string        // when set, only the updates of this order wait
	once      sync.Once
}

func (c *claimCounter) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	c.claims.Add(1)
	return c.Store.ClaimOutbox(ctx, owner, now, lease, limit)
}

func (c *claimCounter) AckOutbox(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	if strings.Contains(owner, "/direct/") && c.failAck.CompareAndSwap(true, false) {
		return 0, errors.New("connection lost")
	}
	return c.Store.AckOutbox(ctx, owner, ids, now)
}

func (c *claimCounter) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if c.hold != nil && (c.holdOrder == "" || c.holdOrder == p.OrderID) {
		c.once.Do(func() { close(c.held) })
		<-c.hold
	}
	return c.Store.UpdatePayment(ctx, p, events)
}

// runService starts b.svc.Run and waits until its dispatcher made its first
// pass (so the direct path is on); the returned function stops it.
func runService(t *testing.T, b *bundle, c *claimCounter) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.svc.Run(ctx)
	}()
	require.Eventually(t, func() bool { return c.claims.Load() > 0 }, 5*time.Second, time.Millisecond, "Run's first dispatch pass")
	return func() {
		cancel()
		<-done
	}
}

// newCounted returns a bundle whose store is c and whose dispatcher polls
// hourly, with opts.
func newCounted(t *testing.T, c *claimCounter, opts ...payment.Option) *bundle {
	t.Helper()
	return setup(t, withStore(func(s payment.Store) payment.Store { c.Store = s; return c }),
		withOptions(append([]payment.Option{payment.WithDispatchInterval(time.Hour)}, opts...)...))
}

// firstThen returns a subscriber that records into rec, and that runs
// first before its first delivery: an error from first fails that delivery.
func firstThen(rec *paymenttest.Recorder, first func() error) payment.Subscriber {
	var calls atomic.Int64
	record := rec.Subscriber()
	return func(ctx context.Context, e payment.Event) error {
		if calls.Add(1) == 1 {
			if err := first(); err != nil {
				return err
			}
		}
		return record(ctx, e)
	}
}

// dispatchUntil runs Dispatch until rec holds n notifications of payment id.
func dispatchUntil(t *testing.T, b *bundle, rec *paymenttest.Recorder, id string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := b.svc.Dispatch(t.Context())
		require.NoError(t, err)
		return len(rec.Types(id)) >= n
	}, 5*time.Second, time.Millisecond)
}

func TestDirectDeliveryNeedsNoClaim(t *testing.T) {
	t.Parallel()
	c := &claimCounter{}
	b := newCounted(t, c)
	stop := runService(t, b, c)
	defer stop()
	before := c.claims.Load()
	var ids []string
	for _, order := range []string{"ord-direct-1", "ord-direct-2"} {
		p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", order, 100, "THB"))
		require.NoError(t, err)
		ids = append(ids, p.ID)
	}
	for _, e := range b.rec.WaitFor(t, 4, 5*time.Second) {
		require.Nil(t, e.Lease, "subscribers get the event without the store request")
	}
	for _, id := range ids {
		require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction}, b.rec.Types(id),
			"each payment's notifications once, in order")
	}
	require.Equal(t, before, c.claims.Load(), "delivered without waking the dispatcher to claim")
	require.Eventually(t, func() bool {
		msgs, err := c.Store.ClaimOutbox(t.Context(), "check", b.clock.Now().Add(24*time.Hour), time.Minute, 10)
		require.NoError(t, err)
		return len(msgs) == 0
	}, 5*time.Second, time.Millisecond, "every message acknowledged: nothing to claim once the leases end")
}

func TestDirectFailureKeepsTheOrder(t *testing.T) {
	t.Parallel()
	var tried atomic.Bool
	rec := paymenttest.NewRecorder()
	c := &claimCounter{}
	b := newCounted(t, c, payment.WithSubscriber(firstThen(rec, func() error {
		tried.Store(true)
		return errors.New("host down")
	})))
	stop := runService(t, b, c)
	defer stop()
	p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", "ord-direct-fail", 100, "THB"))
	require.NoError(t, err)
	require.Eventually(t, tried.Load, 5*time.Second, time.Millisecond, "the direct delivery was tried")
	_, err = b.hook(t.Context(), scriptedEvent{Key: "df-1", PaymentID: p.ID, Status: payment.StatusSucceeded})
	require.NoError(t, err)
	b.clock.Advance(time.Hour)
	dispatchUntil(t, b, rec, p.ID, 3)
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction, payment.EventPaymentSucceeded},
		rec.Types(p.ID), "after a failed direct delivery, the stream goes through claims, in order, each event once")
}

func TestDirectWriteAfterStopIsPutBack(t *testing.T) {
	t.Parallel()
	c := &claimCounter{hold: make(chan struct{}), held: make(chan struct{})}
	b := newCounted(t, c)
	stop := runService(t, b, c)
	done := make(chan error, 1)
	go func() {
		_, err := b.svc.Checkout(context.Background(), paymenttest.QRCheckout("scripted", "ord-direct-stop", 100, "THB"))
		done <- err
	}()
	<-c.held // the payment is created; its update waits
	b.rec.WaitFor(t, 1, 5*time.Second)
	stop() // Run stops (the creation's message delivered and acknowledged) while the update is written
	close(c.hold)
	require.NoError(t, <-done)
	msgs, err := c.Store.ClaimOutbox(t.Context(), "check", b.clock.Now(), time.Second, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the update's message is put back, due at once")
	require.Zero(t, msgs[0].Attempts, "put back untried: no attempt counted")
	require.Empty(t, msgs[0].LastError, "nor an error recorded")
	b.clock.Advance(time.Second) // the check's lease ends
	_, err = b.svc.Dispatch(t.Context())
	require.NoError(t, err)
	evs := b.rec.Events()
	require.Len(t, evs, 2, "the update's message is put back and claimed at once, not after its lease")
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction}, b.rec.Types(evs[0].ObjectID))
}

func TestWithStoreWritesTakeNoDirectLease(t *testing.T) {
	t.Parallel()
	c := &claimCounter{}
	b := newCounted(t, c)
	stop := runService(t, b, c)
	defer stop()
	other := memstore.New() // stands for the host's transaction
	_, err := b.svc.WithStore(other).Checkout(t.Context(), paymenttest.QRCheckout("scripted", "ord-direct-tx", 100, "THB"))
	require.NoError(t, err)
	msgs, err := other.ClaimOutbox(t.Context(), "host", b.clock.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "a write the host may still roll back is left to claims: its messages are not leased")
	require.Empty(t, b.rec.Events(), "and nothing was delivered directly")
}

func TestDirectLostAckKeepsTheOrder(t *testing.T) {
	t.Parallel()
	rec := paymenttest.NewRecorder()
	c := &claimCounter{}
	c.failAck.Store(true)
	b := newCounted(t, c, payment.WithSubscriber(firstThen(rec, func() error {
		time.Sleep(50 * time.Millisecond) // the next message is written meanwhile
		return nil
	})))
	stop := runService(t, b, c)
	defer stop()
	p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", "ord-direct-ack", 100, "THB"))
	require.NoError(t, err)
	rec.WaitFor(t, 1, 5*time.Second)
	b.clock.Advance(2 * time.Minute) // past the lease of the delivery whose acknowledgement was lost
	dispatchUntil(t, b, rec, p.ID, 3)
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentCreated, payment.EventPaymentRequiresAction},
		rec.Types(p.ID), "a delivery not recorded is made again, and nothing of its stream passes it")
}

func TestDirectSlowWriteHoldsBackOnlyItsStream(t *testing.T) {
	t.Parallel()
	c := &claimCounter{hold: make(chan struct{}), held: make(chan struct{}), holdOrder: "ord-direct-slow"}
	b := newCounted(t, c)
	stop := runService(t, b, c)
	defer stop()
	done := make(chan *payment.Payment, 1)
	go func() {
		p, err := b.svc.Checkout(context.Background(), paymenttest.QRCheckout("scripted", "ord-direct-slow", 100, "THB"))
		assert.NoError(t, err)
		done <- p
	}()
	<-c.held // the slow payment's update is being written
	fast, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", "ord-direct-fast", 100, "THB"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.rec.Types(fast.ID)) == 2 }, 5*time.Second, time.Millisecond,
		"another payment's notifications do not wait for a slow write")
	close(c.hold)
	slow := <-done
	require.Eventually(t, func() bool { return len(b.rec.Types(slow.ID)) == 2 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction}, b.rec.Types(slow.ID))
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction}, b.rec.Types(fast.ID))
}
