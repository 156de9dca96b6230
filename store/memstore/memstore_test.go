package memstore_test

import (
	"context"
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
