package sandbox

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBPSOf checks the half-up rounding against big.Int arithmetic.
func TestBPSOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount, bps, want int64
	}{
		{0, 295, 0},
		{1, 295, 0},       // 0.0295
		{16, 295, 0},      // 0.472
		{17, 295, 1},      // 0.5015
		{1000, 295, 30},   // 29.5 exactly: half up
		{10000, 295, 295}, // exact
		{100000, 295, 2950},
		{50, 100, 1},  // 0.5: half up
		{49, 100, 0},  // 0.49
		{150, 100, 2}, // 1.5: half up
		{10000, 10000, 10000},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, bpsOf(tt.amount, tt.bps), "bpsOf(%d, %d)", tt.amount, tt.bps)
	}
	ref := func(amount, bps int64) int64 {
		n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(bps))
		n.Add(n, big.NewInt(5000))
		return n.Quo(n, big.NewInt(10000)).Int64()
	}
	for _, amount := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 / 3, 123456789012345, 9999, 10001} {
		for _, bps := range []int64{1, 50, 100, 295, 600, 9999, 10000} {
			require.Equal(t, ref(amount, bps), bpsOf(amount, bps), "bpsOf(%d, %d) against big.Int", amount, bps)
		}
	}
}
