package payment

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an exact amount: an integer count of the currency's minor units
// plus an ISO 4217 code. THB 1,000.00 is Money{Amount: 100000, Currency: "THB"};
// VND 120,000 is Money{Amount: 120000, Currency: "VND"}.
//
// Money never passes through float64. Conversions to and from a provider's
// decimal strings are done with [FormatDecimal] and [ParseDecimal].
type Money struct {
	// Amount is the number of minor units (satang, cents, đồng).
	Amount int64 `json:"amount"`
	// Currency is the upper-case ISO 4217 code.
	Currency string `json:"currency"`
}

// ErrInvalidAmount is wrapped by every error about a malformed or out of
// range amount or currency.
var ErrInvalidAmount = errors.New("payment: invalid amount")

// CurrencyExponent returns the number of decimal places of an ISO 4217
// currency (THB 2, VND 0, KWD 3), from the CLDR table maintained in
// golang.org/x/text/currency. Codes are upper case; unknown codes are an error
// wrapping [ErrInvalidAmount].
func CurrencyExponent(code string) (int, error) {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return 0, fmt.Errorf("%w: currency %q is not an upper-case ISO 4217 code", ErrInvalidAmount, code)
	}
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("%w: unknown currency %q", ErrInvalidAmount, code)
	}
	scale, _ := currency.Standard.Rounding(unit)
	return scale, nil
}

// NewMoney returns Money after checking the currency code.
func NewMoney(amount int64, currencyCode string) (Money, error) {
	if _, err := CurrencyExponent(currencyCode); err != nil {
		return Money{}, err
	}
	return Money{Amount: amount, Currency: currencyCode}, nil
}

// ParseMoney parses a decimal string in major units ("1000.50") in the given
// currency, exactly. More fractional digits than the currency has are an
// error unless they are zeros ("1000.500" THB is fine, "1000.505" is not).
func ParseMoney(s, currencyCode string) (Money, error) {
	exp, err := CurrencyExponent(currencyCode)
	if err != nil {
		return Money{}, err
	}
	amount, err := ParseDecimal(s, exp)
	if err != nil {
		return Money{}, err
	}
	return Money{Amount: amount, Currency: currencyCode}, nil
}

// Decimal formats the amount in major units with exactly the currency's
// number of decimal places: "1000.50" for THB, "120000" for VND.
func (m Money) Decimal() string {
	exp, err := CurrencyExponent(m.Currency)
	if err != nil {
		return strconv.FormatInt(m.Amount, 10)
	}
	return FormatDecimal(m.Amount, exp, exp)
}

// String formats the money for people and logs: "1000.50 THB".
func (m Money) String() string { return m.Decimal() + " " + m.Currency }

// IsZero reports whether m is the zero value.
func (m Money) IsZero() bool { return m == Money{} }

// Add returns m+o. Different currencies or an overflow are errors.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrInvalidAmount, o.Currency, m.Currency)
	}
	sum, ok := AddInt64(m.Amount, o.Amount)
	if !ok {
		return Money{}, fmt.Errorf("%w: overflow adding %d and %d", ErrInvalidAmount, m.Amount, o.Amount)
	}
	return Money{Amount: sum, Currency: m.Currency}, nil
}

// AddInt64 returns a+b and whether the sum fits in an int64.
func AddInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// MulInt64 returns a*b and whether the product fits in an int64.
func MulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// FormatDecimal formats minor units with the given exponent as a decimal
// string with exactly places fractional digits, padding with zeros or
// dropping zeros. It is how providers build their wire amounts:
// FormatDecimal(10000, 2, 4) is "100.0000" (KBank), FormatDecimal(25035, 2, 2)
// is "250.35" (Sipay), FormatDecimal(120000, 0, 0) is "120000" (AppotaPay).
// Dropping non-zero digits would lose money, so places below the exponent
// only drop zeros and otherwise keep the digits that are needed.
func FormatDecimal(minor int64, exponent, places int) string {
	neg := minor < 0
	var digits string
	if neg {
		// Negating MinInt64 overflows; format through the unsigned value.
		digits = strconv.FormatUint(uint64(-(minor+1))+1, 10)
	} else {
		digits = strconv.FormatInt(minor, 10)
	}
	if exponent > 0 {
		if len(digits) <= exponent {
			digits = strings.Repeat("0", exponent-len(digits)+1) + digits
		}
	}
	intPart, frac := digits[:len(digits)-exponent], digits[len(digits)-exponent:]
	switch {
	case places > len(frac):
		frac += strings.Repeat("0", places-len(frac))
	case places < len(frac):
		keep := len(strings.TrimRight(frac, "0"))
		frac = frac[:max(places, keep)]
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// FormatShortest formats minor units with the given exponent with no
// trailing fractional zeros, the way JavaScript prints a number: 100000 at
// exponent 2 is "1000", 99550 is "995.5", 99551 is "995.51".
func FormatShortest(minor int64, exponent int) string {
	return FormatDecimal(minor, exponent, 0)
}

// ParseDecimal parses a decimal string ("1000.5", "-3", "0.0100") into minor
// units with the given exponent, exactly. It accepts an optional leading
// minus, digits, and an optional fraction; digits beyond the exponent must be
// zeros. Exponents, signs other than a leading minus, spaces and grouping
// separators are rejected, and so is overflow.
func ParseDecimal(s string, exponent int) (int64, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("%w: empty amount", ErrInvalidAmount)
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidAmount, orig)
	}
	if len(frac) > exponent {
		if strings.Trim(frac[exponent:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than %d decimal places", ErrInvalidAmount, orig, exponent)
		}
		frac = frac[:exponent]
	}
	frac += strings.Repeat("0", exponent-len(frac))
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil
	}
	u, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is out of range", ErrInvalidAmount, orig)
	}
	if neg {
		if u > uint64(math.MaxInt64)+1 {
			return 0, fmt.Errorf("%w: %q is out of range", ErrInvalidAmount, orig)
		}
		return -int64(u-1) - 1, nil
	}
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %q is out of range", ErrInvalidAmount, orig)
	}
	return int64(u), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
