package payment_test

import (
	"math"
	"testing"

	"github.com/paykit/paykit/payment"
	"github.com/stretchr/testify/require"
)

func TestCurrencyExponent(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{"THB": 2, "VND": 0, "TRY": 2, "KWD": 3, "JPY": 0, "USD": 2} {
		got, err := payment.CurrencyExponent(code)
		require.NoError(t, err, code)
		require.Equal(t, want, got, code)
	}
	for _, bad := range []string{"", "thb", "TH", "THBB", "ZZZ", "12A"} {
		_, err := payment.CurrencyExponent(bad)
		require.ErrorIs(t, err, payment.ErrInvalidAmount, "currency %q", bad)
	}
}

func TestFormatDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor       int64
		exp, places int
		want        string
	}{
		{10000, 2, 4, "100.0000"}, // KBank checksum amount
		{25035, 2, 2, "250.35"},   // Sipay total
		{120000, 0, 0, "120000"},  // AppotaPay VND
		{100000, 2, 0, "1000"},    // Pay-Plus JSON number for 1000.00
		{99550, 2, 0, "995.5"},    // ... and 995.50
		{99551, 2, 0, "995.51"},
		{5, 2, 2, "0.05"},
		{0, 2, 2, "0.00"},
		{-5, 2, 2, "-0.05"},
		{-123456, 3, 3, "-123.456"},
		{1, 3, 1, "0.001"}, // never drops non-zero digits
		{math.MaxInt64, 2, 2, "92233720368547758.07"},
		{math.MinInt64, 2, 2, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, payment.FormatDecimal(tt.minor, tt.exp, tt.places), "%d exp %d places %d", tt.minor, tt.exp, tt.places)
	}
	require.Equal(t, "995.5", payment.FormatShortest(99550, 2))
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		exp  int
		want int64
	}{
		{"100.0000", 2, 10000},
		{"250.35", 2, 25035},
		{"250.3", 2, 25030},
		{"120000", 0, 120000},
		{"120000.00", 0, 120000},
		{"0", 2, 0},
		{"0.01", 2, 1},
		{"-0.01", 2, -1},
		{"007", 0, 7},
		{"92233720368547758.07", 2, math.MaxInt64},
		{"-92233720368547758.08", 2, math.MinInt64},
		{"300.0", 2, 30000},
	}
	for _, tt := range ok {
		got, err := payment.ParseDecimal(tt.in, tt.exp)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1,000", "1e3", "+5", " 5", "5 ", "0x10", "1.005", "NaN", "92233720368547758.08", "--1", "1.2.3"} {
		_, err := payment.ParseDecimal(bad, 2)
		require.ErrorIs(t, err, payment.ErrInvalidAmount, "input %q", bad)
	}
}

func TestMoneyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ s, cur string }{{"1000.50", "THB"}, {"120000", "VND"}, {"1.234", "KWD"}, {"0.00", "TRY"}} {
		m, err := payment.ParseMoney(tt.s, tt.cur)
		require.NoError(t, err)
		require.Equal(t, tt.s, m.Decimal())
	}
	m, err := payment.ParseMoney("1000.5", "THB")
	require.NoError(t, err)
	require.Equal(t, payment.Money{Amount: 100050, Currency: "THB"}, m)
	require.Equal(t, "1000.50 THB", m.String())
	_, err = payment.ParseMoney("1.5", "VND")
	require.ErrorIs(t, err, payment.ErrInvalidAmount, "VND has no minor unit")
}

func TestMoneyAddOverflow(t *testing.T) {
	t.Parallel()
	a := payment.Money{Amount: math.MaxInt64, Currency: "THB"}
	_, err := a.Add(payment.Money{Amount: 1, Currency: "THB"})
	require.ErrorIs(t, err, payment.ErrInvalidAmount)
	_, err = a.Add(payment.Money{Amount: 1, Currency: "VND"})
	require.ErrorIs(t, err, payment.ErrInvalidAmount)
	sum, err := payment.Money{Amount: 150, Currency: "THB"}.Add(payment.Money{Amount: -50, Currency: "THB"})
	require.NoError(t, err)
	require.Equal(t, int64(100), sum.Amount)
	_, ok := payment.MulInt64(math.MaxInt64/2+1, 2)
	require.False(t, ok)
	p, ok := payment.MulInt64(-3, 4)
	require.True(t, ok)
	require.Equal(t, int64(-12), p)
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"100.0000", "0.01", "-5", "1e3", "", "92233720368547758.07"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, exp int) {
		exp = ((exp % 5) + 5) % 5
		v, err := payment.ParseDecimal(s, exp)
		if err != nil {
			require.ErrorIs(t, err, payment.ErrInvalidAmount)
			return
		}
		// Whatever parses formats back to a string that parses to the same value.
		back, err := payment.ParseDecimal(payment.FormatDecimal(v, exp, exp), exp)
		require.NoError(t, err)
		require.Equal(t, v, back)
	})
}

func TestCardNeverPrints(t *testing.T) {
	t.Parallel()
	c := payment.Card{Number: "4111111111111111", CVV: "987", ExpiryMonth: 1, ExpiryYear: 2030}
	for _, s := range []string{c.String(), c.GoString()} {
		require.NotContains(t, s, "4111111111111111")
		require.NotContains(t, s, "987")
	}
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, `{"brand":"visa","last4":"1111"}`, string(b))
}
