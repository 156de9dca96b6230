package appotapay_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/providers/appotapay"
)

// Test vectors of the protocol notes (shared/providers/appotapay.md).
const (
	vectorSecret  = "YOUR_SECRET_KEY_EXAMPLE"
	vectorPartner = "TEST"
	vectorAPIKey  = "oMhJpkz7K6HDcR6S"
	vectorIssued  = 1614225624
	vectorJWT     = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImN0eSI6ImFwcG90YXBheS1hcGk7dj0xIn0." +
		"eyJpc3MiOiJURVNUIiwianRpIjoib01oSnBrejdLNkhEY1I2Uy0xNjE0MjI1NjI0IiwiYXBpX2tleSI6Im9NaEpwa3o3SzZIRGNSNlMiLCJleHAiOjE2MTQyMjU5MjR9." +
		"bcAHdDHV9_OIx_trq8wZSpal-f3_w_pK44k4m9BUDZk"
	vectorIPNData = "eyJ0cmFuc2FjdGlvbiI6eyJ0cmFuc2FjdGlvbklkIjoiQVAxIiwic3RhdHVzIjoic3VjY2VzcyIsIm9yZGVyQW1vdW50IjoxMDAwMH19"
	vectorIPNSig  = "d2cfb6b32707327f8b0212be0b6cf5efb84a3693a105e9339376c656d95c096d"
)

func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{
			name: "e-wallet payment (notes 2.3)",
			got:  appotapay.SignEWalletPayment(vectorSecret, 120000, "VND", "test", "123", "test"),
			want: "ed632f8854298922827c86cd95c70d001bb3da2f03f7d518c7b532752c1fc0fd",
		},
		{
			name: "IPN over the raw data string (notes 2.5)",
			got:  appotapay.SignIPN(vectorSecret, vectorIPNData),
			want: vectorIPNSig,
		},
		{
			// No vector in the notes: computed independently with
			// `openssl dgst -sha256 -hmac YOUR_SECRET_KEY_EXAMPLE` over the
			// documented string of the vendor's confirm example.
			name: "OTP confirmation",
			got:  appotapay.SignEWalletConfirm(vectorSecret, "241698338917842945", "123456"),
			want: "dfdf8761b505f4aec220cb25b491cd10c79dafcccdd7830a82041061b50a9265",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.got)
		})
	}
}

func TestEWalletSignString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                   string
		amount                                 int64
		currency, extra, orderID, info, wanted string
	}{
		{
			"doc example", 120000, "VND", "test", "123", "test",
			"amount=120000&currency=VND&extraData=test&orderId=123&orderInfo=test",
		},
		{
			"empty extraData is kept", 1000, "VND", "", "pay01ABC", "Order 1",
			"amount=1000&currency=VND&extraData=&orderId=pay01ABC&orderInfo=Order 1",
		},
		{
			"raw values, no URL encoding", 500000000, "VND", "a&b=c", "x1", "Thanh toán đơn/1",
			"amount=500000000&currency=VND&extraData=a&b=c&orderId=x1&orderInfo=Thanh toán đơn/1",
		},
	}
	for _, tt := range tests {
		require.Equal(t, tt.wanted, appotapay.EWalletPaymentSignString(tt.amount, tt.currency, tt.extra, tt.orderID, tt.info), tt.name)
	}
}

// The seed's sample signature is SHA-256("123456"), a placeholder: it must
// not be mistaken for the signature of its request.
func TestSeedSampleSignatureIsAPlaceholder(t *testing.T) {
	t.Parallel()
	const seedSample = "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"
	sum := sha256.Sum256([]byte("123456"))
	require.Equal(t, seedSample, hex.EncodeToString(sum[:]))
	require.NotEqual(t, seedSample, appotapay.SignEWalletPayment(vectorSecret, 120000, "VND", "test", "123", "test"))
}

func parseAuthJWT(t testing.TB, token, secret string, now time.Time) (*jwt.Token, jwt.MapClaims, error) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	return tok, claims, err
}

// The notes' JWT decodes and verifies with golang-jwt (pinned to HS256).
func TestJWTVectorVerifies(t *testing.T) {
	t.Parallel()
	now := time.Unix(vectorIssued, 0)
	tok, claims, err := parseAuthJWT(t, vectorJWT, vectorSecret, now)
	require.NoError(t, err)
	require.True(t, tok.Valid)
	require.Equal(t, "appotapay-api;v=1", tok.Header["cty"])
	require.Equal(t, "JWT", tok.Header["typ"])
	require.Equal(t, "TEST", claims["iss"])
	require.Equal(t, "oMhJpkz7K6HDcR6S-1614225624", claims["jti"])
	require.Equal(t, "oMhJpkz7K6HDcR6S", claims["api_key"])
	exp, err := claims.GetExpirationTime()
	require.NoError(t, err)
	require.Equal(t, int64(vectorIssued+300), exp.Unix())

	_, _, err = parseAuthJWT(t, vectorJWT, "another secret", now)
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	_, _, err = parseAuthJWT(t, vectorJWT, vectorSecret, now.Add(301*time.Second))
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
}

// Our JWT for the notes' inputs decodes and verifies with golang-jwt and
// carries the same header members and claims as the vector. (The bytes of
// the header differ: golang-jwt writes its members in another order.)
func TestSignAuthTokenMatchesVector(t *testing.T) {
	t.Parallel()
	cfg := appotapay.Config{PartnerCode: vectorPartner, APIKey: vectorAPIKey, SecretKey: vectorSecret}
	now := time.Unix(vectorIssued, 0)
	ours, err := appotapay.SignAuthToken(cfg, now, 300*time.Second)
	require.NoError(t, err)

	tok, claims, err := parseAuthJWT(t, ours, vectorSecret, now)
	require.NoError(t, err)
	require.True(t, tok.Valid)
	_, want, err := parseAuthJWT(t, vectorJWT, vectorSecret, now)
	require.NoError(t, err)
	require.Equal(t, want, claims)
	require.Equal(t, "HS256", tok.Header["alg"])
	require.Equal(t, "JWT", tok.Header["typ"])
	require.Equal(t, appotapay.JWTContentType, tok.Header["cty"])
	require.Len(t, tok.Header, 3)

	// The claims are written in the vendor's order, so the payload segment
	// is byte for byte the vector's.
	require.Equal(t, strings.Split(vectorJWT, ".")[1], strings.Split(ours, ".")[1])

	_, _, err = parseAuthJWT(t, ours, "wrong", now)
	require.Error(t, err)
}
