package memstore_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
	"github.com/paykit/paykit/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) payment.Store { return memstore.New() })
}

// TestConformanceShared runs the suite against one store shared by every
// subtest, as a SQL database would be.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	storetest.Run(t, func(*testing.T) payment.Store { return s })
}

func TestCanceledContextWritesNothing(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	now := time.Now().UTC()
	p := &payment.Payment{ID: "pay_1", Provider: "sandbox", OrderID: "o1", Amount: 100, Currency: "THB", Status: payment.StatusPending, CreatedAt: now, UpdatedAt: now}
	require.ErrorIs(t, s.CreatePayment(ctx, p, nil), context.Canceled)
	_, err := s.GetPayment(t.Context(), "pay_1")
	require.ErrorIs(t, err, payment.ErrNotFound)
	_, err = s.GetPayment(ctx, "pay_1")
	require.ErrorIs(t, err, context.Canceled)
}

func TestZoneAndMonotonicClockAreDropped(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	local := time.Now().In(time.FixedZone("ICT", 7*3600)) // with a monotonic reading
	p := &payment.Payment{ID: "pay_2", Provider: "sandbox", OrderID: "o2", Amount: 100, Currency: "THB", Status: payment.StatusPending, CreatedAt: local, UpdatedAt: local}
	require.NoError(t, s.CreatePayment(t.Context(), p, nil))
	got, err := s.GetPayment(t.Context(), "pay_2")
	require.NoError(t, err)
	require.Equal(t, time.UTC, got.CreatedAt.Location())
	require.Equal(t, local.UTC().Round(0), got.CreatedAt) // memstore keeps nanoseconds
}

// The sweeper's queue follows every change of NextSyncAt: set, moved or
// cleared by an update, moved by a claim. Claims in small batches return
// exactly the due payments, soonest first, as a scan of all of them would.
func TestClaimDueFollowsUpdates(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	at := func() *time.Time {
		if rng.IntN(5) == 0 {
			return nil
		}
		v := base.Add(time.Duration(rng.IntN(1000)) * time.Second)
		return &v
	}
	want := map[string]*time.Time{}
	var ps []*payment.Payment
	for i := range 500 {
		p := &payment.Payment{
			ID: fmt.Sprintf("pay_%03d", i), Provider: "sandbox", OrderID: fmt.Sprintf("o%d", i), Amount: 100,
			Currency: "THB", Status: payment.StatusPending, CreatedAt: base, UpdatedAt: base, NextSyncAt: at(),
		}
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		want[p.ID] = p.NextSyncAt
		ps = append(ps, p)
	}
	for _, p := range ps {
		if rng.IntN(2) == 0 {
			p.NextSyncAt = at()
			require.NoError(t, s.UpdatePayment(ctx, p, nil))
			want[p.ID] = p.NextSyncAt
		}
	}
	now := base.Add(600 * time.Second)
	var expect []string
	for id, due := range want {
		if due != nil && !due.After(now) {
			expect = append(expect, id)
		}
	}
	slices.SortFunc(expect, func(a, b string) int {
		return cmp.Or(want[a].Compare(*want[b]), cmp.Compare(a, b)) // ids follow creation order
	})
	var got []string
	for {
		batch, err := s.ClaimDuePayments(ctx, now, time.Hour, 7)
		require.NoError(t, err)
		if len(batch) == 0 {
			break
		}
		for _, p := range batch {
			got = append(got, p.ID)
		}
	}
	require.Equal(t, expect, got)
	// The claimed ones are due again when their lease ends, the others
	// when they were.
	again, err := s.ClaimDuePayments(ctx, now.Add(time.Hour), time.Hour, 1000)
	require.NoError(t, err)
	require.Len(t, again, len(expect)+countDue(want, now, now.Add(time.Hour)))
}

// countDue counts the times in want after from and not after to.
func countDue(want map[string]*time.Time, from, to time.Time) int {
	n := 0
	for _, due := range want {
		if due != nil && due.After(from) && !due.After(to) {
			n++
		}
	}
	return n
}
