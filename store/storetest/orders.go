package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func orderTests() []test {
	tests := []test{
		{name: "a second payment for an order held by a live payment is ErrAlreadyExists and writes nothing", run: testOrderHeld},
		{name: "another provider may use the same order id", run: testOrderOtherProvider},
		{name: "a succeeded or refunded payment keeps holding its order", run: testOrderHeldAfterSuccess},
		{name: "a late success does not make a payment hold its order again, and updating it does not fail", run: testOrderLateSuccess},
		{name: "a payment that succeeds late before another is created does not hold its order", run: testOrderLateSuccessAlone},
		{name: "a payment created already failed does not hold its order", run: testOrderCreatedFailed},
	}
	for _, st := range []payment.Status{payment.StatusFailed, payment.StatusCanceled, payment.StatusExpired} {
		tests = append(tests, test{
			name: "a payment that reached " + string(st) + " releases its order",
			run:  func(t *testing.T, s payment.Store) { testOrderReleased(t, s, st) },
		})
	}
	return tests
}

func requireOrderHeld(t *testing.T, s payment.Store, provider, order, contract string) {
	t.Helper()
	p := newPayment(provider, order, now())
	ev := paymentEvent(p, p.CreatedAt)
	requireErrorIs(t, s.CreatePayment(t.Context(), p, []payment.Event{ev}), payment.ErrAlreadyExists, contract)
	_, err := s.GetPayment(t.Context(), p.ID)
	requireErrorIs(t, err, payment.ErrNotFound, contract+": the refused payment is not stored")
	events, err := s.ListEvents(t.Context(), p.ID)
	require.NoError(t, err, contract)
	require.Empty(t, events, contract+": the refused payment's events are not appended")
}

func requireOrderFree(t *testing.T, s payment.Store, provider, order, contract string) *payment.Payment {
	t.Helper()
	p := newPayment(provider, order, now())
	require.NoError(t, s.CreatePayment(t.Context(), p, nil), contract)
	return p
}

func testOrderHeld(t *testing.T, s payment.Store) {
	const c = "CreatePayment fails with ErrAlreadyExists when another payment for the same Provider and OrderID holds the order"
	first := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, first)
	requireOrderHeld(t, s, first.Provider, first.OrderID, c+" (pending)")
	for _, st := range []payment.Status{payment.StatusRequiresAction, payment.StatusProcessing, payment.StatusAuthorized} {
		first.Status = st
		mustUpdatePayment(t, s, first)
		requireOrderHeld(t, s, first.Provider, first.OrderID, c+" ("+string(st)+")")
	}
	found, err := s.FindPayments(t.Context(), first.Provider, first.OrderID)
	require.NoError(t, err, c)
	require.Equal(t, []string{first.ID}, ids(found), c+": only the first payment is stored")
}

func testOrderOtherProvider(t *testing.T, s payment.Store) {
	const c = "the order is held per Provider and OrderID: another provider may use the same order id"
	first := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, first)
	requireOrderFree(t, s, newProvider(), first.OrderID, c)
	requireOrderFree(t, s, first.Provider, newOrderID(), c+" (and the same provider another order id)")
}

func testOrderReleased(t *testing.T, s payment.Store, st payment.Status) {
	c := "a payment holds its order until it first reaches failed, canceled or expired (" + string(st) + ")"
	first := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, first)
	first.Status = payment.StatusProcessing
	mustUpdatePayment(t, s, first)
	requireOrderHeld(t, s, first.Provider, first.OrderID, c+": held while processing")
	first.Status = st
	mustUpdatePayment(t, s, first)
	second := requireOrderFree(t, s, first.Provider, first.OrderID, c+": a new payment may be created once the first is "+string(st))
	requireOrderHeld(t, s, first.Provider, first.OrderID, c+": the new payment holds the order")

	// Updating the released payment again (still released) does not fail.
	first.Flags = []string{payment.FlagConflictingOutcome}
	require.NoError(t, s.UpdatePayment(t.Context(), first, nil), c+": updating a released payment does not fail")
	found, err := s.FindPayments(t.Context(), first.Provider, first.OrderID)
	require.NoError(t, err, c)
	require.Equal(t, []string{first.ID, second.ID}, ids(found), c)
}

func testOrderHeldAfterSuccess(t *testing.T, s payment.Store) {
	const c = "a payment holds its order from creation until it first reaches failed, canceled or expired; success does not release it"
	first := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, first)
	for _, st := range []payment.Status{payment.StatusSucceeded, payment.StatusPartiallyRefunded, payment.StatusRefunded} {
		first.Status = st
		mustUpdatePayment(t, s, first)
		requireOrderHeld(t, s, first.Provider, first.OrderID, c+" ("+string(st)+")")
	}
}

func testOrderLateSuccess(t *testing.T, s payment.Store) {
	const c = "a payment never holds its order again after failed, canceled or expired, even after a late success"
	old := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, old)
	old.Status = payment.StatusExpired
	mustUpdatePayment(t, s, old)
	second := requireOrderFree(t, s, old.Provider, old.OrderID, c+": a new payment after expiry")

	// The old payment succeeds late while the new one holds the order.
	old.Status = payment.StatusSucceeded
	old.AmountCaptured = old.Amount
	late := newEvent(payment.EventPaymentSucceededLate, old.ID, old.ID, now())
	require.NoError(t, s.UpdatePayment(t.Context(), old, []payment.Event{late}), c+": the late success of the old payment is recorded")
	requirePaymentEqual(t, old, mustGetPayment(t, s, old.ID), c+": the late success is stored")
	requireOrderHeld(t, s, old.Provider, old.OrderID, c+": the new payment still holds the order")

	// Once the new payment fails, the order is free: the late-succeeded old
	// payment does not hold it.
	second.Status = payment.StatusFailed
	mustUpdatePayment(t, s, second)
	requireOrderFree(t, s, old.Provider, old.OrderID, c+": the late-succeeded payment does not hold the order")

	// Later updates of the old payment (a refund) still do not fail.
	old.Status = payment.StatusRefunded
	old.AmountRefunded = old.Amount
	require.NoError(t, s.UpdatePayment(t.Context(), old, nil), c+": updating the late-succeeded payment does not fail")
}

func testOrderLateSuccessAlone(t *testing.T, s payment.Store) {
	const c = "a payment never holds its order again after failed, canceled or expired, even after a late success"
	for _, st := range []payment.Status{payment.StatusCanceled, payment.StatusExpired} {
		old := newPayment(newProvider(), newOrderID(), now())
		mustCreatePayment(t, s, old)
		old.Status = st
		mustUpdatePayment(t, s, old)
		old.Status = payment.StatusSucceeded
		require.NoError(t, s.UpdatePayment(t.Context(), old, nil), c+": late success after "+string(st))
		requireOrderFree(t, s, old.Provider, old.OrderID, c+": late success after "+string(st))
	}
}

func testOrderCreatedFailed(t *testing.T, s payment.Store) {
	const c = "a payment holds its order from creation until it first reaches failed: one created failed never holds it"
	p := newPayment(newProvider(), newOrderID(), now())
	p.Status = payment.StatusFailed
	p.Failure = &payment.Failure{Code: payment.FailureCardDeclined, Message: "declined"}
	mustCreatePayment(t, s, p)
	requireOrderFree(t, s, p.Provider, p.OrderID, c)
}
