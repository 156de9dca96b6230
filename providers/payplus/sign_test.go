package payplus

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// docParams are the documentation's example parameters.
func docParams() Params {
	return Params{
		"merchantId":        "your_merchant_id",
		"transactionId":     "unique_transaction_id",
		"bankAccountNumber": "1234567890",
		"bankName":          "KBANK",
		"name":              "John Doe",
		"amount":            json.Number(payment.FormatShortest(100000, 2)),
		"callbackUrl":       "https://your-domain.com/callback",
		"type":              "QR",
		"timestamp":         json.Number("1640995200"),
	}
}

// The worked example of the protocol notes: the documentation's parameters
// signed with "test_api_key", as Node's jsonwebtoken produces it.
const (
	vectorPayload = `{"amount":1000,"bankAccountNumber":"1234567890","bankName":"KBANK","callbackUrl":"https://your-domain.com/callback","merchantId":"your_merchant_id","name":"John Doe","timestamp":1640995200,"transactionId":"unique_transaction_id","type":"QR"}`
	vectorJWT     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhbW91bnQiOjEwMDAsImJhbmtBY2NvdW50TnVtYmVyIjoiMTIzNDU2Nzg5MCIsImJhbmtOYW1lIjoiS0JBTksiLCJjYWxsYmFja1VybCI6Imh0dHBzOi8veW91ci1kb21haW4uY29tL2NhbGxiYWNrIiwibWVyY2hhbnRJZCI6InlvdXJfbWVyY2hhbnRfaWQiLCJuYW1lIjoiSm9obiBEb2UiLCJ0aW1lc3RhbXAiOjE2NDA5OTUyMDAsInRyYW5zYWN0aW9uSWQiOiJ1bmlxdWVfdHJhbnNhY3Rpb25faWQiLCJ0eXBlIjoiUVIifQ._zGnik9POdAxH3dsztSEefmlyzpyVwMELG4r2zyz9QQ"
)

// requireExactly compares byte for byte: a signature depends on the exact
// bytes, so an equivalent JSON would not do.
func requireExactly(t testing.TB, want, got string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want, got, msgAndArgs...)
}

func TestSignNotesVector(t *testing.T) {
	t.Parallel()
	payload, err := CanonicalJSON(docParams())
	require.NoError(t, err)
	requireExactly(t, vectorPayload, string(payload))

	sig, err := Sign(docParams(), "test_api_key")
	require.NoError(t, err)
	require.Equal(t, vectorJWT, sig)

	// The signature field itself is never signed.
	withSig := docParams()
	withSig[SignatureField] = "anything"
	again, err := Sign(withSig, "test_api_key")
	require.NoError(t, err)
	require.Equal(t, vectorJWT, again)

	// The header is jsonwebtoken's, and there is no iat.
	parts := strings.Split(sig, ".")
	require.Len(t, parts, 3)
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	requireExactly(t, `{"alg":"HS256","typ":"JWT"}`, string(head))
	require.NotContains(t, vectorPayload, "iat")

	claims, err := VerifyToken(sig, "test_api_key")
	require.NoError(t, err)
	require.Equal(t, json.Number("1000"), claims["amount"])
	_, err = VerifyToken(sig, "other_key")
	require.Error(t, err)
}

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Params
		want string
	}{
		{"empty", Params{}, `{}`},
		{"no HTML escaping", Params{"callbackUrl": "https://shop.example/cb?a=1&b=<2>"}, `{"callbackUrl":"https://shop.example/cb?a=1&b=<2>"}`},
		{"control characters as JSON.stringify", Params{"s": "a\"b\\c\b\f\n\r\t\x01\x1f\x7f"}, `{"s":"a\"b\\c\b\f\n\r\t\u0001\u001f` + "\x7f" + `"}`},
		{"unicode stays literal", Params{"name": "สมชาย\u2028é"}, `{"name":"สมชาย` + "\u2028" + `é"}`},
		{"keys sorted by code unit", Params{"b": "1", "B": "2", "a": "3", "_": "4"}, `{"B":"2","_":"4","a":"3","b":"1"}`},
		{"array-index keys first, numerically", Params{"10": "x", "9": "y", "a": "z", "01": "w"}, `{"9":"y","10":"x","01":"w","a":"z"}`},
		{"numbers as JavaScript prints them", Params{"a": json.Number("1000.00"), "b": json.Number("995.50"), "c": json.Number("0.01"), "d": json.Number("-0")}, `{"a":1000,"b":995.5,"c":0.01,"d":0}`},
		{"booleans and null", Params{"t": true, "f": false, "n": nil}, `{"f":false,"n":null,"t":true}`},
		{"signature left out", Params{"a": "1", "signature": "x"}, `{"a":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CanonicalJSON(tt.in)
			require.NoError(t, err)
			requireExactly(t, tt.want, string(got))
		})
	}
}

func TestCanonicalJSONRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Params
	}{
		{"nested object", Params{"a": map[string]any{"b": "c"}}},
		{"array", Params{"a": []any{"b"}}},
		{"float64", Params{"a": 1000.5}},
		{"invalid UTF-8", Params{"a": "\xff"}},
		{"inexact number", Params{"a": json.Number("0.12345678901234567")}},
		{"not a number", Params{"a": json.Number("12abc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := CanonicalJSON(tt.in)
			require.ErrorIs(t, err, errNotSignable)
		})
	}
}

func TestJSNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "1000", want: "1000"},
		{in: "1000.00", want: "1000"},
		{in: "995.50", want: "995.5"},
		{in: "995.51", want: "995.51"},
		{in: "0.5", want: "0.5"},
		{in: "0.000001", want: "0.000001"},
		{in: "0.0000001", want: "1e-7"},
		{in: "0.00000012", want: "1.2e-7"},
		{in: "-12.30", want: "-12.3"},
		{in: "-0.0", want: "0"},
		{in: "1e3", want: "1000"},
		{in: "1.5E+2", want: "150"},
		{in: "25e-1", want: "2.5"},
		{in: "1e21", want: "1e+21"},
		{in: "123456789012345678901", bad: true}, // not exact in a double
		{in: "100000000000000000000", want: "100000000000000000000"},
		{in: "9007199254740993", bad: true},
		{in: "9007199254740992", want: "9007199254740992"},
		{in: "1640995200000", want: "1640995200000"},
		{in: "01", bad: true},
		{in: ".5", bad: true},
		{in: "1.", bad: true},
		{in: "", bad: true},
		{in: "-", bad: true},
		{in: "1e", bad: true},
		{in: "1e99999", bad: true},
		{in: "NaN", bad: true},
	}
	for _, tt := range tests {
		got, err := jsNumber(tt.in)
		if tt.bad {
			require.Error(t, err, "jsNumber(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "jsNumber(%q)", tt.in)
		require.Equal(t, tt.want, got, "jsNumber(%q)", tt.in)
	}
}

// Amounts are built with payment.FormatShortest: JS prints 1000, not
// 1000.00, and 995.5, not 995.50.
func TestAmountFormatting(t *testing.T) {
	t.Parallel()
	p, err := New(Config{BaseURL: "https://pay.example/api/v1", MerchantID: "m", APIKey: "k"})
	require.NoError(t, err)
	tests := []struct {
		minor int64
		want  json.Number
	}{
		{100000, "1000"}, {99550, "995.5"}, {99551, "995.51"}, {1, "0.01"}, {10, "0.1"}, {123456789, "1234567.89"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, p.amount(tt.minor), "amount(%d)", tt.minor)
	}
}

// Verification is pinned to HS256: a token with another algorithm, or
// none, does not verify even when its claims are right.
func TestVerifyTokenPinnedToHS256(t *testing.T) {
	t.Parallel()
	claims := jwt.MapClaims{"amount": 1000}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		tok, err := jwt.NewWithClaims(m, claims).SignedString([]byte("k"))
		require.NoError(t, err)
		_, err = VerifyToken(tok, "k")
		require.Error(t, err, "alg %s must be refused", m.Alg())
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = VerifyToken(none, "k")
	require.Error(t, err)

	good, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("k"))
	require.NoError(t, err)
	_, err = VerifyToken(good, "k")
	require.NoError(t, err)
	_, err = VerifyToken(good, "")
	require.Error(t, err)
}

func TestSameValue(t *testing.T) {
	t.Parallel()
	require.True(t, sameValue(json.Number("1000"), json.Number("1000.00")))
	require.True(t, sameValue("a", "a"))
	require.True(t, sameValue(nil, nil))
	require.True(t, sameValue(true, true))
	require.False(t, sameValue(json.Number("1000"), "1000"), "a number never equals a string")
	require.False(t, sameValue(json.Number("1000"), json.Number("1000.01")))
	require.False(t, sameValue(map[string]any{}, map[string]any{}))
}
