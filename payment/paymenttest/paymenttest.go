// Package paymenttest helps host applications test their paykit
// integration: a controllable clock, checkout fixtures, a subscriber that
// records events, and assertions on payment status.
//
//	clock := paymenttest.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
//	rec := paymenttest.NewRecorder()
//	svc, _ := payment.New(memstore.New(), payment.WithProvider(sb),
//		payment.WithClock(clock), payment.WithSubscriber(rec.Subscriber()))
//	p, _ := svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "order-1", 100000, "THB"))
//	paymenttest.RequireStatus(t, svc, p.ID, payment.StatusRequiresAction)
package paymenttest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/stretchr/testify/require"
)

// Clock is a payment.Clock that only moves when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t (in UTC).
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

var _ payment.Clock = (*Clock)(nil)

// RequireStatus fails the test unless the payment id has the status.
func RequireStatus(t testing.TB, svc *payment.Service, id string, want payment.Status) *payment.Payment {
	t.Helper()
	p, err := svc.GetPayment(context.Background(), id)
	require.NoError(t, err, "get payment %s", id)
	require.Equal(t, want, p.Status, "status of payment %s", id)
	return p
}

// QRCheckout returns params for a QR payment.
func QRCheckout(provider, orderID string, amount int64, currency string) *payment.CheckoutParams {
	return &payment.CheckoutParams{
		Provider: provider, Method: payment.MethodQR, OrderID: orderID,
		Amount: amount, Currency: currency, Description: "Order " + orderID,
	}
}

// CardCheckout returns params for a card payment with a test card number
// (and a CVV of the right length for its brand).
func CardCheckout(provider, orderID string, amount int64, currency, cardNumber string) *payment.CheckoutParams {
	cvv := "123"
	if strings.HasPrefix(cardNumber, "34") || strings.HasPrefix(cardNumber, "37") {
		cvv = "1234"
	}
	return &payment.CheckoutParams{
		Provider: provider, Method: payment.MethodCard, OrderID: orderID,
		Amount: amount, Currency: currency, Description: "Order " + orderID,
		Card: &payment.Card{
			Number: cardNumber, ExpiryMonth: 12, ExpiryYear: time.Now().Year() + 3,
			CVV: cvv, HolderName: "Test Holder",
		},
	}
}

// Recorder is a subscriber that keeps every event it receives.
type Recorder struct {
	mu     sync.Mutex
	events []payment.Event
	signal chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{signal: make(chan struct{}, 1)} }

// Subscriber returns the function to pass to payment.WithSubscriber.
func (r *Recorder) Subscriber() payment.Subscriber {
	return func(_ context.Context, e payment.Event) error {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		select {
		case r.signal <- struct{}{}:
		default:
		}
		return nil
	}
}

// Events returns the events received so far, in delivery order.
func (r *Recorder) Events() []payment.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Types returns the types of the events received for one object id (a
// payment's id matches its refunds' events too).
func (r *Recorder) Types(id string) []payment.EventType {
	var out []payment.EventType
	for _, e := range r.Events() {
		if e.ObjectID == id || e.PaymentID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

// WaitFor waits until at least n events arrived, or fails the test after
// timeout.
func (r *Recorder) WaitFor(t testing.TB, n int, timeout time.Duration) []payment.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if evs := r.Events(); len(evs) >= n {
			return evs
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			require.FailNowf(t, "events did not arrive", "want %d events, got %d", n, len(r.Events()))
		}
	}
}
