package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func paymentTests() []test {
	return []test{
		{name: "CreatePayment inserts with Version 1 and GetPayment returns it", run: testCreateGetPayment},
		{name: "CreatePayment with an existing id is ErrAlreadyExists and writes nothing", run: testCreatePaymentDuplicateID},
		{name: "GetPayment of a missing id is ErrNotFound", run: testGetPaymentMissing},
		{name: "a payment round-trips every field, large and unicode values included", run: testPaymentRoundTrip},
		{name: "times are returned in UTC and equal to the microsecond", run: testPaymentTimesUTC},
		{name: "returned payments are copies and inputs are not kept", run: testPaymentCopies},
		{name: "GetPaymentByReference finds by provider and reference", run: testGetPaymentByReference},
		{name: "FindPayments returns an order's payments oldest first, any provider when empty", run: testFindPayments},
		{name: "FindPayments with no match is an empty slice", run: testFindPaymentsEmpty},
		{name: "UpdatePayment at the stored Version replaces the payment and increments Version", run: testUpdatePayment},
		{name: "UpdatePayment with a stale Version is ErrConflict and writes nothing", run: testUpdatePaymentStale},
		{name: "UpdatePayment of a missing payment is ErrNotFound and writes nothing", run: testUpdatePaymentMissing},
	}
}

func testCreateGetPayment(t *testing.T, s payment.Store) {
	const c = "CreatePayment inserts p with Version 1 and sets p.Version; GetPayment returns it"
	p := newPayment(newProvider(), newOrderID(), now())
	p.Version = 0
	mustCreatePayment(t, s, p)
	require.Equal(t, int64(1), p.Version, c+": p.Version is set to 1")
	got := mustGetPayment(t, s, p.ID)
	require.Equal(t, int64(1), got.Version, c+": the stored Version is 1")
	requirePaymentEqual(t, p, got, c)
}

func testCreatePaymentDuplicateID(t *testing.T, s payment.Store) {
	const c = "CreatePayment fails with ErrAlreadyExists when a payment with p.ID exists, and writes nothing"
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	first := paymentEvent(p, at)
	mustCreatePayment(t, s, p, first)

	dup := newPayment(newProvider(), newOrderID(), at)
	dup.ID = p.ID
	dup.Amount = 777
	dupEvent := paymentEvent(dup, at)
	requireErrorIs(t, s.CreatePayment(t.Context(), dup, []payment.Event{dupEvent}), payment.ErrAlreadyExists, c)

	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+": the first payment is unchanged")
	events, err := s.ListEvents(t.Context(), p.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{first}, events, c+": the refused payment's events are not appended")
	found, err := s.FindPayments(t.Context(), dup.Provider, dup.OrderID)
	require.NoError(t, err, c)
	require.Empty(t, found, c+": the refused payment is not findable by its order")
}

func testGetPaymentMissing(t *testing.T, s payment.Store) {
	const c = "GetPayment returns ErrNotFound for a missing id"
	p, err := s.GetPayment(t.Context(), newID(payment.PrefixPayment))
	requireErrorIs(t, err, payment.ErrNotFound, c)
	require.Nil(t, p, c+": no payment is returned with the error")
}

func testPaymentRoundTrip(t *testing.T, s payment.Store) {
	const c = "a payment comes back from the store exactly as it was written, every field"
	at := now()
	p := fullPayment(newProvider(), newOrderID(), at)
	mustCreatePayment(t, s, p)
	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+" (CreatePayment)")

	byRef, err := s.GetPaymentByReference(t.Context(), p.Provider, p.ProviderReference)
	require.NoError(t, err, c+" (GetPaymentByReference)")
	requirePaymentEqual(t, p, byRef, c+" (GetPaymentByReference)")
	found, err := s.FindPayments(t.Context(), p.Provider, p.OrderID)
	require.NoError(t, err, c+" (FindPayments)")
	require.Len(t, found, 1, c+" (FindPayments)")
	requirePaymentEqual(t, p, found[0], c+" (FindPayments)")

	// Every field changed, pointers cleared and set the other way round.
	p.Status = payment.StatusFailed
	p.Method = payment.MethodBankTransfer
	p.Amount = 1
	p.AmountCaptured = 0
	p.AmountRefunded = 0
	p.AmountRefundPending = 0
	p.NextAction = nil
	p.Failure = &payment.Failure{Code: payment.FailureExpired, Message: "hết hạn"}
	p.Card = nil
	p.Customer = &payment.Customer{Email: "a@example.com"}
	p.Description = ""
	p.Items = nil
	p.Metadata = map[string]string{"k": "v"}
	p.Flags = []string{payment.FlagConflictingOutcome}
	p.ExpiresAt = nil
	p.NextSyncAt = nil
	p.ProviderReference = "ref2-" + randText()
	p.ReturnURL = ""
	p.UpdatedAt = at.Add(time.Hour + 123*time.Microsecond)
	mustUpdatePayment(t, s, p)
	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+" (UpdatePayment)")

	// And a large payment in a currency without minor units, with an order id
	// of the maximum length.
	big := newPayment(newProvider(), (newOrderID() + "-----------------------------------")[:50], at)
	big.Currency = "JPY"
	big.Amount = 1<<63 - 1
	big.AmountCaptured = 1<<63 - 1
	mustCreatePayment(t, s, big)
	requirePaymentEqual(t, big, mustGetPayment(t, s, big.ID), c+" (MaxInt64 amounts, 50-character order id)")
}

func testPaymentTimesUTC(t *testing.T, s payment.Store) {
	const c = "times are stored and returned in UTC, equal to the microsecond"
	at := now() // not UTC, microseconds set
	if at.Nanosecond()%1000 != 0 || at.Location() == time.UTC {
		t.Fatalf("fixture: %s is not a non-UTC time truncated to microseconds", at)
	}
	p := newPayment(newProvider(), newOrderID(), at)
	p.CreatedAt = at.Add(-999999 * time.Microsecond)
	exp := at.Add(time.Hour + time.Microsecond)
	p.ExpiresAt = &exp
	mustCreatePayment(t, s, p)
	got := mustGetPayment(t, s, p.ID)
	require.Equal(t, time.UTC, got.CreatedAt.Location(), c+": CreatedAt is in UTC")
	require.True(t, got.CreatedAt.Equal(p.CreatedAt), c+": CreatedAt is the same instant, to the microsecond: got %s want %s", got.CreatedAt, p.CreatedAt)
	require.True(t, got.UpdatedAt.Equal(p.UpdatedAt), c+": UpdatedAt is the same instant")
	require.NotNil(t, got.ExpiresAt, c+": ExpiresAt is kept")
	require.Equal(t, time.UTC, got.ExpiresAt.Location(), c+": ExpiresAt is in UTC")
	require.True(t, got.ExpiresAt.Equal(exp), c+": ExpiresAt is the same instant, to the microsecond")
	requirePaymentEqual(t, p, got, c)
}

func testPaymentCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: values passed in and returned are the caller's"
	at := now()
	p := fullPayment(newProvider(), newOrderID(), at)
	mustCreatePayment(t, s, p)
	want := utcPayment(p)

	// Changing the value passed in does not change the store.
	mutatePayment(p)
	requirePaymentEqual(t, want, mustGetPayment(t, s, want.ID), c+": changing the payment passed to CreatePayment")

	// Changing a returned value does not change the store.
	mutatePayment(mustGetPayment(t, s, want.ID))
	requirePaymentEqual(t, want, mustGetPayment(t, s, want.ID), c+": changing the payment GetPayment returned")
	byRef, err := s.GetPaymentByReference(t.Context(), want.Provider, want.ProviderReference)
	require.NoError(t, err, c)
	mutatePayment(byRef)
	found, err := s.FindPayments(t.Context(), want.Provider, want.OrderID)
	require.NoError(t, err, c)
	require.Len(t, found, 1, c)
	mutatePayment(found[0])
	requirePaymentEqual(t, want, mustGetPayment(t, s, want.ID), c+": changing payments GetPaymentByReference and FindPayments returned")

	// Changing the value passed to UpdatePayment after the call.
	upd := mustGetPayment(t, s, want.ID)
	upd.Description = "updated"
	mustUpdatePayment(t, s, upd)
	want2 := utcPayment(upd)
	mutatePayment(upd)
	requirePaymentEqual(t, want2, mustGetPayment(t, s, want.ID), c+": changing the payment passed to UpdatePayment")
}

// mutatePayment changes every part of p that a shallow copy would share.
func mutatePayment(p *payment.Payment) {
	p.Amount++
	p.Status = payment.StatusCanceled
	p.Metadata["cart"] = "changed"
	p.Metadata["added"] = "x"
	p.Items[0].Name = "changed"
	p.Flags[0] = "changed"
	p.NextAction.URL = "https://changed.example"
	p.NextAction.BankAccount.Number = "changed"
	*p.NextAction.ExpiresAt = p.NextAction.ExpiresAt.Add(time.Hour)
	p.Failure.Code = "changed"
	p.Card.Last4 = "0000"
	p.Customer.Name = "changed"
	p.Customer.BankAccount.Number = "changed"
	*p.ExpiresAt = p.ExpiresAt.Add(time.Hour)
	*p.NextSyncAt = p.NextSyncAt.Add(time.Hour)
}

func testGetPaymentByReference(t *testing.T, s payment.Store) {
	const c = "GetPaymentByReference returns the payment of that provider with that ProviderReference, or ErrNotFound"
	at := now()
	ref := "ref_" + randText()
	a := newPayment(newProvider(), newOrderID(), at)
	a.ProviderReference = ref
	b := newPayment(newProvider(), newOrderID(), at)
	b.ProviderReference = ref // same reference at another provider
	noRef := newPayment(newProvider(), newOrderID(), at)
	mustCreatePayment(t, s, a)
	mustCreatePayment(t, s, b)
	mustCreatePayment(t, s, noRef)

	got, err := s.GetPaymentByReference(t.Context(), a.Provider, ref)
	require.NoError(t, err, c)
	requirePaymentEqual(t, a, got, c+": provider a")
	got, err = s.GetPaymentByReference(t.Context(), b.Provider, ref)
	require.NoError(t, err, c)
	requirePaymentEqual(t, b, got, c+": the same reference at provider b is b's payment")

	_, err = s.GetPaymentByReference(t.Context(), a.Provider, "ref_"+randText())
	requireErrorIs(t, err, payment.ErrNotFound, c+": unknown reference")
	_, err = s.GetPaymentByReference(t.Context(), newProvider(), ref)
	requireErrorIs(t, err, payment.ErrNotFound, c+": known reference, other provider")

	// A reference learned by UpdatePayment is found; the old one no longer is.
	ref2 := "ref_" + randText()
	a.ProviderReference = ref2
	mustUpdatePayment(t, s, a)
	got, err = s.GetPaymentByReference(t.Context(), a.Provider, ref2)
	require.NoError(t, err, c+": a reference set by UpdatePayment")
	requirePaymentEqual(t, a, got, c+": a reference set by UpdatePayment")
	_, err = s.GetPaymentByReference(t.Context(), a.Provider, ref)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the payment no longer has the old reference")

	noRef.ProviderReference = "ref_" + randText()
	mustUpdatePayment(t, s, noRef)
	got, err = s.GetPaymentByReference(t.Context(), noRef.Provider, noRef.ProviderReference)
	require.NoError(t, err, c+": a first reference set by UpdatePayment")
	require.Equal(t, noRef.ID, got.ID, c+": a first reference set by UpdatePayment")
}

func testFindPayments(t *testing.T, s payment.Store) {
	const c = "FindPayments returns the payments for an order id, oldest first; an empty provider matches every provider"
	at := now()
	order := newOrderID()
	prov, other := newProvider(), newProvider()

	// Three payments of prov for the order (each released before the next)
	// and one of other, interleaved, with increasing creation times.
	var all, ofProv []*payment.Payment
	for i := range 4 {
		pr := prov
		if i == 2 {
			pr = other
		}
		p := newPayment(pr, order, at.Add(time.Duration(i)*time.Second))
		mustCreatePayment(t, s, p)
		if pr == prov {
			p.Status = payment.StatusFailed
			mustUpdatePayment(t, s, p)
			ofProv = append(ofProv, p)
		}
		all = append(all, p)
	}
	// Noise: another order of the same provider.
	mustCreatePayment(t, s, newPayment(prov, newOrderID(), at))

	got, err := s.FindPayments(t.Context(), prov, order)
	require.NoError(t, err, c)
	require.Equal(t, ids(ofProv), ids(got), c+": only that provider's payments, oldest first")
	for i := range got {
		requirePaymentEqual(t, ofProv[i], got[i], c)
	}
	got, err = s.FindPayments(t.Context(), "", order)
	require.NoError(t, err, c)
	require.Equal(t, ids(all), ids(got), c+": an empty provider matches every provider, oldest first")
	got, err = s.FindPayments(t.Context(), other, order)
	require.NoError(t, err, c)
	require.Equal(t, ids(all[2:3]), ids(got), c+": the other provider's payment only")
}

func ids(ps []*payment.Payment) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func testFindPaymentsEmpty(t *testing.T, s payment.Store) {
	const c = "FindPayments with no match returns an empty slice (not nil) and no error"
	p := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, p)
	for _, q := range []struct{ provider, order string }{
		{p.Provider, newOrderID()},
		{"", newOrderID()},
		{newProvider(), p.OrderID},
	} {
		got, err := s.FindPayments(t.Context(), q.provider, q.order)
		require.NoError(t, err, c)
		require.NotNil(t, got, c)
		require.Empty(t, got, c)
	}
}

func testUpdatePayment(t *testing.T, s payment.Store) {
	const c = "UpdatePayment replaces the stored payment when its Version equals p.Version, then sets p.Version to Version+1"
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	mustCreatePayment(t, s, p)

	p.Status = payment.StatusProcessing
	p.ProviderReference = "ref_" + randText()
	p.UpdatedAt = at.Add(time.Second)
	mustUpdatePayment(t, s, p)
	require.Equal(t, int64(2), p.Version, c+": p.Version becomes 2")
	got := mustGetPayment(t, s, p.ID)
	require.Equal(t, int64(2), got.Version, c+": the stored Version becomes 2")
	requirePaymentEqual(t, p, got, c)

	got.Status = payment.StatusSucceeded
	got.AmountCaptured = got.Amount
	mustUpdatePayment(t, s, got)
	require.Equal(t, int64(3), got.Version, c+": p.Version becomes 3")
	requirePaymentEqual(t, got, mustGetPayment(t, s, p.ID), c)
}

func testUpdatePaymentStale(t *testing.T, s payment.Store) {
	const c = "UpdatePayment with a Version other than the stored one is ErrConflict and writes nothing"
	at := now()
	p := newPayment(newProvider(), newOrderID(), at)
	created := paymentEvent(p, at)
	mustCreatePayment(t, s, p, created)
	stale := p.Clone()

	p.Status = payment.StatusProcessing
	won := paymentEvent(p, at)
	mustUpdatePayment(t, s, p, won)

	stale.Status = payment.StatusFailed
	stale.ProviderReference = "ref_" + randText()
	lost := newEvent(payment.EventPaymentFailed, p.ID, p.ID, at)
	requireErrorIs(t, s.UpdatePayment(t.Context(), stale, []payment.Event{lost}), payment.ErrConflict, c+" (behind)")
	ahead := p.Clone()
	ahead.Version = p.Version + 5
	ahead.Status = payment.StatusFailed
	requireErrorIs(t, s.UpdatePayment(t.Context(), ahead, []payment.Event{lost}), payment.ErrConflict, c+" (ahead)")

	requirePaymentEqual(t, p, mustGetPayment(t, s, p.ID), c+": the stored payment is unchanged")
	events, err := s.ListEvents(t.Context(), p.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{created, won}, events, c+": the losing writer's events are not appended")
	_, err = s.GetPaymentByReference(t.Context(), p.Provider, stale.ProviderReference)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the losing writer's reference is not indexed")
}

func testUpdatePaymentMissing(t *testing.T, s payment.Store) {
	const c = "UpdatePayment of a missing payment is ErrNotFound and writes nothing"
	p := newPayment(newProvider(), newOrderID(), now())
	p.Version = 1
	ev := paymentEvent(p, p.CreatedAt)
	requireErrorIs(t, s.UpdatePayment(t.Context(), p, []payment.Event{ev}), payment.ErrNotFound, c)
	_, err := s.GetPayment(t.Context(), p.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": no payment is created")
	events, err := s.ListEvents(t.Context(), p.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}
