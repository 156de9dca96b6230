package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func payoutTests() []test {
	return []test{
		{name: "CreatePayout inserts with Version 1 and GetPayout returns every field", run: testCreatePayout},
		{name: "CreatePayout with an existing id is ErrAlreadyExists and writes nothing", run: testCreatePayoutDuplicateID},
		{name: "CreatePayout for an existing provider and order id is ErrAlreadyExists", run: testCreatePayoutDuplicateOrder},
		{name: "GetPayout of a missing id is ErrNotFound", run: testGetPayoutMissing},
		{name: "GetPayoutByReference finds by provider and reference", run: testGetPayoutByReference},
		{name: "UpdatePayout at the stored Version replaces the payout and increments Version", run: testUpdatePayout},
		{name: "UpdatePayout with a stale Version is ErrConflict and writes nothing", run: testUpdatePayoutStale},
		{name: "UpdatePayout of a missing payout is ErrNotFound", run: testUpdatePayoutMissing},
		{name: "returned payouts are copies and inputs are not kept", run: testPayoutCopies},
	}
}

func fullPayout(at time.Time) *payment.Payout {
	po := newPayout(newProvider(), newOrderID(), at)
	sync := at.Add(100 * 365 * 24 * time.Hour)
	po.Amount = 1<<63 - 1
	po.Currency = "VND"
	po.Fee = 1<<62 + 3
	po.TransferAmount = 1<<63 - 1 - (1<<62 + 3)
	po.BankAccount = payment.BankAccount{BankCode: "VCB", Number: "0011004455667", Name: "NGUYỄN VĂN A 🏦"}
	po.Status = payment.PayoutProcessing
	po.ProviderReference = "po-" + randText()
	po.Failure = &payment.Failure{Code: "bank_rejected", Message: "Tài khoản không hợp lệ"}
	po.Metadata = map[string]string{"batch": "b1", "ghi chú": "lương tháng 5"}
	po.UpdatedAt = at.Add(time.Microsecond)
	po.NextSyncAt = &sync
	return po
}

func mustGetPayout(t *testing.T, s payment.Store, id string) *payment.Payout {
	t.Helper()
	po, err := s.GetPayout(t.Context(), id)
	require.NoError(t, err, "GetPayout returns an existing payout")
	require.NotNil(t, po, "GetPayout returns an existing payout")
	return po
}

func testCreatePayout(t *testing.T, s payment.Store) {
	const c = "CreatePayout inserts p with Version 1; GetPayout returns it exactly, times in UTC"
	po := fullPayout(now())
	ev := newEvent(payment.EventPayoutCreated, po.ID, "", now())
	require.NoError(t, s.CreatePayout(t.Context(), po, []payment.Event{ev}), c)
	require.Equal(t, int64(1), po.Version, c+": p.Version is set to 1")
	got := mustGetPayout(t, s, po.ID)
	require.Equal(t, int64(1), got.Version, c+": the stored Version is 1")
	requirePayoutEqual(t, po, got, c)
	events, err := s.ListEvents(t.Context(), po.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{ev}, events, c+": the events are appended")

	small := newPayout(newProvider(), newOrderID(), now())
	require.NoError(t, s.CreatePayout(t.Context(), small, nil), c)
	requirePayoutEqual(t, small, mustGetPayout(t, s, small.ID), c+" (no optional fields)")
}

func testCreatePayoutDuplicateID(t *testing.T, s payment.Store) {
	const c = "CreatePayout fails with ErrAlreadyExists when p.ID exists, and writes nothing"
	po := newPayout(newProvider(), newOrderID(), now())
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), c)
	dup := newPayout(newProvider(), newOrderID(), now())
	dup.ID = po.ID
	ev := newEvent(payment.EventPayoutCreated, po.ID, "", now())
	requireErrorIs(t, s.CreatePayout(t.Context(), dup, []payment.Event{ev}), payment.ErrAlreadyExists, c)
	requirePayoutEqual(t, po, mustGetPayout(t, s, po.ID), c+": the first payout is unchanged")
	events, err := s.ListEvents(t.Context(), po.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}

func testCreatePayoutDuplicateOrder(t *testing.T, s payment.Store) {
	const c = "CreatePayout fails with ErrAlreadyExists when a payout with the same Provider and OrderID exists"
	po := newPayout(newProvider(), newOrderID(), now())
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), c)
	dup := newPayout(po.Provider, po.OrderID, now())
	requireErrorIs(t, s.CreatePayout(t.Context(), dup, nil), payment.ErrAlreadyExists, c)
	_, err := s.GetPayout(t.Context(), dup.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the refused payout is not stored")

	// Even a failed payout keeps its order id.
	po.Status = payment.PayoutFailed
	require.NoError(t, s.UpdatePayout(t.Context(), po, nil), c)
	requireErrorIs(t, s.CreatePayout(t.Context(), dup, nil), payment.ErrAlreadyExists, c+" (the first one failed)")

	other := newPayout(newProvider(), po.OrderID, now())
	require.NoError(t, s.CreatePayout(t.Context(), other, nil), c+": another provider may use the order id")
}

func testGetPayoutMissing(t *testing.T, s payment.Store) {
	const c = "GetPayout returns ErrNotFound for a missing id"
	po, err := s.GetPayout(t.Context(), newID(payment.PrefixPayout))
	requireErrorIs(t, err, payment.ErrNotFound, c)
	require.Nil(t, po, c)
}

func testGetPayoutByReference(t *testing.T, s payment.Store) {
	const c = "GetPayoutByReference returns the payout of that provider with that ProviderReference, or ErrNotFound"
	ref := "po-" + randText()
	a := newPayout(newProvider(), newOrderID(), now())
	a.ProviderReference = ref
	b := newPayout(newProvider(), newOrderID(), now())
	b.ProviderReference = ref
	require.NoError(t, s.CreatePayout(t.Context(), a, nil), c)
	require.NoError(t, s.CreatePayout(t.Context(), b, nil), c)
	got, err := s.GetPayoutByReference(t.Context(), a.Provider, ref)
	require.NoError(t, err, c)
	requirePayoutEqual(t, a, got, c)
	got, err = s.GetPayoutByReference(t.Context(), b.Provider, ref)
	require.NoError(t, err, c)
	requirePayoutEqual(t, b, got, c+": the same reference at another provider")
	_, err = s.GetPayoutByReference(t.Context(), a.Provider, "po-"+randText())
	requireErrorIs(t, err, payment.ErrNotFound, c+": unknown reference")
	_, err = s.GetPayoutByReference(t.Context(), newProvider(), ref)
	requireErrorIs(t, err, payment.ErrNotFound, c+": other provider")

	ref2 := "po-" + randText()
	a.ProviderReference = ref2
	require.NoError(t, s.UpdatePayout(t.Context(), a, nil), c)
	got, err = s.GetPayoutByReference(t.Context(), a.Provider, ref2)
	require.NoError(t, err, c+": a reference set by UpdatePayout")
	requirePayoutEqual(t, a, got, c+": a reference set by UpdatePayout")
	_, err = s.GetPayoutByReference(t.Context(), a.Provider, ref)
	requireErrorIs(t, err, payment.ErrNotFound, c+": the payout no longer has the old reference")
}

func testUpdatePayout(t *testing.T, s payment.Store) {
	const c = "UpdatePayout replaces the stored payout when its Version equals p.Version, then sets p.Version to Version+1"
	po := newPayout(newProvider(), newOrderID(), now())
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), c)
	full := fullPayout(now())
	full.ID, full.Provider, full.OrderID, full.CreatedAt = po.ID, po.Provider, po.OrderID, po.CreatedAt
	full.Version = po.Version
	ev := newEvent(payment.EventPayoutProcessing, po.ID, "", now())
	require.NoError(t, s.UpdatePayout(t.Context(), full, []payment.Event{ev}), c)
	require.Equal(t, int64(2), full.Version, c+": p.Version becomes 2")
	got := mustGetPayout(t, s, po.ID)
	require.Equal(t, int64(2), got.Version, c+": the stored Version becomes 2")
	requirePayoutEqual(t, full, got, c)

	got.Status = payment.PayoutSucceeded
	got.Failure = nil
	got.NextSyncAt = nil
	got.Metadata = nil
	require.NoError(t, s.UpdatePayout(t.Context(), got, nil), c)
	require.Equal(t, int64(3), got.Version, c+": p.Version becomes 3")
	requirePayoutEqual(t, got, mustGetPayout(t, s, po.ID), c)
	events, err := s.ListEvents(t.Context(), po.ID)
	require.NoError(t, err, c)
	requireEvents(t, []payment.Event{ev}, events, c+": the events are appended")
}

func testUpdatePayoutStale(t *testing.T, s payment.Store) {
	const c = "UpdatePayout with a Version other than the stored one is ErrConflict and writes nothing"
	po := newPayout(newProvider(), newOrderID(), now())
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), c)
	stale := po.Clone()
	po.Status = payment.PayoutProcessing
	require.NoError(t, s.UpdatePayout(t.Context(), po, nil), c)

	stale.Status = payment.PayoutFailed
	ev := newEvent(payment.EventPayoutFailed, po.ID, "", now())
	requireErrorIs(t, s.UpdatePayout(t.Context(), stale, []payment.Event{ev}), payment.ErrConflict, c)
	requirePayoutEqual(t, po, mustGetPayout(t, s, po.ID), c+": the stored payout is unchanged")
	events, err := s.ListEvents(t.Context(), po.ID)
	require.NoError(t, err, c)
	require.Empty(t, events, c+": no event is appended")
}

func testUpdatePayoutMissing(t *testing.T, s payment.Store) {
	const c = "UpdatePayout of a missing payout is ErrNotFound"
	po := newPayout(newProvider(), newOrderID(), now())
	po.Version = 1
	requireErrorIs(t, s.UpdatePayout(t.Context(), po, nil), payment.ErrNotFound, c)
	_, err := s.GetPayout(t.Context(), po.ID)
	requireErrorIs(t, err, payment.ErrNotFound, c+": no payout is created")
}

func testPayoutCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: payouts passed in and returned are the caller's"
	po := fullPayout(now())
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), c)
	want := po.Clone()
	mutatePayout(po)
	requirePayoutEqual(t, want, mustGetPayout(t, s, want.ID), c+": changing the payout passed in")
	mutatePayout(mustGetPayout(t, s, want.ID))
	byRef, err := s.GetPayoutByReference(t.Context(), want.Provider, want.ProviderReference)
	require.NoError(t, err, c)
	mutatePayout(byRef)
	requirePayoutEqual(t, want, mustGetPayout(t, s, want.ID), c+": changing payouts returned")
}

func mutatePayout(po *payment.Payout) {
	po.Amount = 1
	po.Failure.Code = "changed"
	po.Metadata["batch"] = "changed"
	po.BankAccount.Number = "changed"
	*po.NextSyncAt = po.NextSyncAt.Add(time.Hour)
}
