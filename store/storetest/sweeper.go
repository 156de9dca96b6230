package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func sweeperTests() []test {
	return []test{
		{name: "ClaimDuePayments returns due payments oldest first and moves NextSyncAt to now+lease, Version unchanged", serial: true, run: testClaimDuePayments},
		{name: "ClaimDuePayments returns at most limit, the oldest", serial: true, run: testClaimDuePaymentsLimit},
		{name: "ClaimDuePayouts returns due payouts oldest first and moves NextSyncAt to now+lease, Version unchanged", serial: true, run: testClaimDuePayouts},
		{name: "ClaimDuePayouts returns at most limit, the oldest", serial: true, run: testClaimDuePayoutsLimit},
	}
}

// duePayment creates a pending payment due for a sync at due (nil: never).
func duePayment(t *testing.T, s payment.Store, base time.Time, due *time.Time) *payment.Payment {
	t.Helper()
	p := newPayment(newProvider(), newOrderID(), base)
	p.NextSyncAt = due
	mustCreatePayment(t, s, p)
	return p
}

func duePayout(t *testing.T, s payment.Store, base time.Time, due *time.Time) *payment.Payout {
	t.Helper()
	po := newPayout(newProvider(), newOrderID(), base)
	po.NextSyncAt = due
	require.NoError(t, s.CreatePayout(t.Context(), po, nil), "CreatePayout inserts a new payout")
	return po
}

func ptr(t time.Time) *time.Time { return &t }

func payoutIDs(ps []*payment.Payout) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func testClaimDuePayments(t *testing.T, s payment.Store) {
	const c = "ClaimDuePayments returns the payments whose NextSyncAt is not after now, oldest NextSyncAt first, and moves their NextSyncAt to now+lease without changing Version"
	base := pastWindow()
	drainDue(t, s, base)
	at := base.Add(time.Hour)
	// Created in another order than their due times.
	b := duePayment(t, s, base, ptr(at.Add(-2*time.Minute)))
	a := duePayment(t, s, base, ptr(at.Add(-3*time.Minute)))
	cc := duePayment(t, s, base, ptr(at)) // due exactly now
	later := duePayment(t, s, base, ptr(at.Add(time.Minute)))
	duePayment(t, s, base, nil) // never due
	// A payment updated since its creation keeps its Version.
	b.Flags = []string{"x"}
	mustUpdatePayment(t, s, b)

	lease := 5 * time.Minute
	got, err := s.ClaimDuePayments(t.Context(), at, lease, 100)
	require.NoError(t, err, c)
	require.Equal(t, ids([]*payment.Payment{a, b, cc}), ids(got), c+": the due ones, oldest NextSyncAt first")
	for i, want := range []*payment.Payment{a, b, cc} {
		requireUTC(t, got[i], c)
		require.Equal(t, want.Version, got[i].Version, c+": Version is unchanged")
		// The returned payments are the caller's.
		got[i].Amount++
		*got[i].NextSyncAt = farFuture
		stored := mustGetPayment(t, s, want.ID)
		require.Equal(t, want.Version, stored.Version, c+": the stored Version is unchanged")
		require.NotNil(t, stored.NextSyncAt, c)
		require.True(t, stored.NextSyncAt.Equal(at.Add(lease)), "%s: NextSyncAt moves to now+lease: got %s", c, stored.NextSyncAt)
		expect := want.Clone()
		expect.NextSyncAt = ptr(at.Add(lease))
		requirePaymentEqual(t, expect, stored, c+": nothing else changes")
	}

	got, err = s.ClaimDuePayments(t.Context(), at, lease, 100)
	require.NoError(t, err, c)
	require.Empty(t, got, c+": a second claim at the same now gets nothing")

	// The claimed payment can still be updated at the Version the caller had.
	a.Status = payment.StatusProcessing
	a.NextSyncAt = ptr(at.Add(time.Hour))
	require.NoError(t, s.UpdatePayment(t.Context(), a, nil), c+": UpdatePayment at the pre-claim Version succeeds")

	// When the lease has passed: the unclaimed later one first, then the
	// two still-leased ones.
	got, err = s.ClaimDuePayments(t.Context(), at.Add(lease), lease, 100)
	require.NoError(t, err, c)
	require.Len(t, got, 3, c+": due again once NextSyncAt (the lease) has passed")
	require.Equal(t, later.ID, got[0].ID, c+": the oldest NextSyncAt first")
	require.ElementsMatch(t, ids([]*payment.Payment{b, cc}), ids(got[1:]), c+": due again once NextSyncAt (the lease) has passed")
}

func testClaimDuePaymentsLimit(t *testing.T, s payment.Store) {
	const c = "ClaimDuePayments returns up to limit payments, oldest NextSyncAt first"
	base := pastWindow()
	drainDue(t, s, base)
	at := base.Add(time.Hour)
	var want []*payment.Payment
	for i := range 5 {
		want = append(want, duePayment(t, s, base, ptr(base.Add(time.Duration(i)*time.Minute))))
	}
	var got []*payment.Payment
	for range 3 {
		ps, err := s.ClaimDuePayments(t.Context(), at, time.Minute, 2)
		require.NoError(t, err, c)
		require.LessOrEqual(t, len(ps), 2, c+": at most limit")
		got = append(got, ps...)
	}
	require.Equal(t, ids(want), ids(got), c)
}

func testClaimDuePayouts(t *testing.T, s payment.Store) {
	const c = "ClaimDuePayouts returns the payouts whose NextSyncAt is not after now, oldest NextSyncAt first, and moves their NextSyncAt to now+lease without changing Version"
	base := pastWindow()
	drainDue(t, s, base)
	at := base.Add(time.Hour)
	b := duePayout(t, s, base, ptr(at.Add(-2*time.Minute)))
	a := duePayout(t, s, base, ptr(at.Add(-3*time.Minute)))
	cc := duePayout(t, s, base, ptr(at))
	later := duePayout(t, s, base, ptr(at.Add(time.Minute)))
	duePayout(t, s, base, nil)
	b.Status = payment.PayoutProcessing
	require.NoError(t, s.UpdatePayout(t.Context(), b, nil), c)

	lease := 5 * time.Minute
	got, err := s.ClaimDuePayouts(t.Context(), at, lease, 100)
	require.NoError(t, err, c)
	require.Equal(t, payoutIDs([]*payment.Payout{a, b, cc}), payoutIDs(got), c+": the due ones, oldest NextSyncAt first")
	for i, want := range []*payment.Payout{a, b, cc} {
		requireUTC(t, got[i], c)
		require.Equal(t, want.Version, got[i].Version, c+": Version is unchanged")
		got[i].Amount++
		*got[i].NextSyncAt = farFuture
		stored := mustGetPayout(t, s, want.ID)
		expect := want.Clone()
		expect.NextSyncAt = ptr(at.Add(lease))
		requirePayoutEqual(t, expect, stored, c+": NextSyncAt moves to now+lease, nothing else changes")
	}
	got, err = s.ClaimDuePayouts(t.Context(), at, lease, 100)
	require.NoError(t, err, c)
	require.Empty(t, got, c+": a second claim at the same now gets nothing")

	a.Status = payment.PayoutSucceeded
	a.NextSyncAt = nil
	require.NoError(t, s.UpdatePayout(t.Context(), a, nil), c+": UpdatePayout at the pre-claim Version succeeds")
	got, err = s.ClaimDuePayouts(t.Context(), at.Add(lease), lease, 100)
	require.NoError(t, err, c)
	require.Len(t, got, 3, c+": due again once the lease has passed")
	require.Equal(t, later.ID, got[0].ID, c+": the oldest NextSyncAt first")
	require.ElementsMatch(t, payoutIDs([]*payment.Payout{b, cc}), payoutIDs(got[1:]), c+": due again once the lease has passed")
}

func testClaimDuePayoutsLimit(t *testing.T, s payment.Store) {
	const c = "ClaimDuePayouts returns up to limit payouts, oldest NextSyncAt first"
	base := pastWindow()
	drainDue(t, s, base)
	at := base.Add(time.Hour)
	var want []*payment.Payout
	for i := range 5 {
		want = append(want, duePayout(t, s, base, ptr(base.Add(time.Duration(i)*time.Minute))))
	}
	var got []*payment.Payout
	for range 3 {
		ps, err := s.ClaimDuePayouts(t.Context(), at, time.Minute, 2)
		require.NoError(t, err, c)
		require.LessOrEqual(t, len(ps), 2, c+": at most limit")
		got = append(got, ps...)
	}
	require.Equal(t, payoutIDs(want), payoutIDs(got), c)
}
