package vepara

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// The protocol notes' worked example (section 4.3).
const (
	vectorSecret   = "b46a67571aa1e7ef5641dc3fa6f1712a"
	vectorMerchant = "$2y$10$HmRgYosneqcwHj.UH7upGuyCZqpQ1ITgSMj9Vvxn.t6f.Vdf2SQFO"
	vectorData     = "100.00|1|TRY|" + vectorMerchant + "|INV-1001"
	vectorIV       = "d9c0ed2d4b2f7e1a"
	vectorSalt     = "5e3b"
	vectorPassword = "763cef03571c409cf32bea13f292d24ab2afb39d"
	vectorSHA256   = "eaca03f7150bcc98a23d89174c07c061ee8495159a4e74b0af8aaa5493432d98"
	vectorHashKey  = "d9c0ed2d4b2f7e1a:5e3b:hbUmRRoOTmPo2503RcxuOth+78oQ__fy1E4Yr__6tUjqXleJ6TcdBeR4cnLaYeCbSM6NtB6I7n0kI3x5qPEKIpiYYSAZyoigkY7qXlCp9YA8hczRuWY4G4JiA17JgHV4YR"
	// seedHashKey is the marketplace sale sample's hash_key (its secret is
	// not published): it must be read without panicking.
	seedHashKey = "36a50210c8b2f19e:12514:ZOkRUTaBZRzxotsa3GoEP8YdACrveObLwFbf91t1LQyoct4t9mUvh82oU5Jf/ni0mXFuFHTBfxAiMHLnRyv1/o3qT5mQ8690UUbAk3AKiCU="
)

func TestHashKeyDerivationMatchesTheNotes(t *testing.T) {
	t.Parallel()
	pw := sha1.Sum([]byte(vectorSecret))
	require.Equal(t, vectorPassword, hex.EncodeToString(pw[:]))
	k := sha256.Sum256([]byte(vectorPassword + vectorSalt))
	require.Equal(t, vectorSHA256, hex.EncodeToString(k[:]))
}

func TestHashKeyVectorEncrypts(t *testing.T) {
	t.Parallel()
	got, err := encryptHashKey(vectorSecret, vectorIV, vectorSalt, vectorData)
	require.NoError(t, err)
	require.Equal(t, vectorHashKey, got)
}

func TestHashKeyVectorDecrypts(t *testing.T) {
	t.Parallel()
	parts, err := ParseHashKey(vectorSecret, vectorHashKey)
	require.NoError(t, err)
	require.Equal(t, []string{"100.00", "1", "TRY", vectorMerchant, "INV-1001"}, parts)
}

func TestHashKeyAgreesWithTheSimulatorsImplementation(t *testing.T) {
	t.Parallel()
	// The simulator's code was written apart: each must read the other's.
	require.Equal(t, vectorHashKey, veparasim.SealHashKey(vectorSecret, vectorIV, vectorSalt, vectorData))
	for _, data := range []string{"", "x", "1|210|pay_01J|162435932934307|TRY", strings.Repeat("é|", 40)} {
		ours, err := HashKey(vectorSecret, data)
		require.NoError(t, err)
		parts, err := veparasim.OpenHashKey(vectorSecret, ours)
		require.NoError(t, err)
		require.Equal(t, strings.Split(data, "|"), parts)

		theirs := veparasim.SealHashKey(vectorSecret, "0123456789abcdef", "beef", data)
		parts, err = ParseHashKey(vectorSecret, theirs)
		require.NoError(t, err)
		require.Equal(t, strings.Split(data, "|"), parts)
	}
}

var hashKeyShape = regexp.MustCompile(`^[0-9a-f]{16}:[0-9a-f]{4}:[A-Za-z0-9+=_]+$`)

func TestHashKeyIsFreshEveryTime(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	ivs := map[string]bool{}
	for range 50 {
		hk, err := HashKey(vectorSecret, "210", "1", "TRY", vectorMerchant, "pay_1")
		require.NoError(t, err)
		require.Regexp(t, hashKeyShape, hk)
		require.NotContains(t, hk, "/", "every / must be replaced by __")
		require.False(t, seen[hk], "two hash_keys must never be equal")
		seen[hk] = true
		ivs[hk[:16]] = true
		parts, err := ParseHashKey(vectorSecret, hk)
		require.NoError(t, err)
		require.Equal(t, []string{"210", "1", "TRY", vectorMerchant, "pay_1"}, parts)
	}
	require.Len(t, ivs, 50, "every hash_key must have its own IV")
}

func TestParseHashKeyRejects(t *testing.T) {
	t.Parallel()
	flipLast := []byte(vectorHashKey)
	flipLast[len(flipLast)-1] = 'A'
	tests := []struct {
		name, secret, hashKey string
	}{
		{"empty", vectorSecret, ""},
		{"no separators", vectorSecret, "d9c0ed2d4b2f7e1a5e3bhbUmRRoOTmPo"},
		{"one separator", vectorSecret, "d9c0ed2d4b2f7e1a:5e3b"},
		{"short iv", vectorSecret, "d9c0ed2d:5e3b:" + vectorHashKey[22:]},
		{"not base64", vectorSecret, vectorIV + ":" + vectorSalt + ":!!!!"},
		{"empty ciphertext", vectorSecret, vectorIV + ":" + vectorSalt + ":"},
		{"not whole blocks", vectorSecret, vectorIV + ":" + vectorSalt + ":AAAA"},
		{"wrong secret", "another-secret-entirely", vectorHashKey},
		{"wrong salt", vectorSecret, vectorIV + ":5e3c:" + vectorHashKey[22:]},
		{"last byte changed", vectorSecret, string(flipLast)},
		{"too long", vectorSecret, vectorIV + ":" + vectorSalt + ":" + strings.Repeat("A", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts, err := ParseHashKey(tt.secret, tt.hashKey)
			require.ErrorIs(t, err, ErrInvalidHashKey)
			require.ErrorIs(t, err, payment.ErrInvalidSignature)
			require.Nil(t, parts)
		})
	}
}

func TestParseHashKeyToleratesTransportDamage(t *testing.T) {
	t.Parallel()
	// A form post that did not encode "+" turns it into a space, and
	// openssl's base64 wraps lines.
	damaged := strings.ReplaceAll(vectorHashKey, "+", " ")
	require.NotEqual(t, vectorHashKey, damaged)
	parts, err := ParseHashKey(vectorSecret, damaged)
	require.NoError(t, err)
	require.Equal(t, "INV-1001", parts[4])

	wrapped := vectorHashKey[:60] + "\n" + vectorHashKey[60:]
	parts, err = ParseHashKey(vectorSecret, wrapped)
	require.NoError(t, err)
	require.Equal(t, "INV-1001", parts[4])
}

func TestEncryptHashKeyNeedsA16CharacterIV(t *testing.T) {
	t.Parallel()
	_, err := encryptHashKey(vectorSecret, "short", vectorSalt, vectorData)
	require.Error(t, err)
}

func FuzzDecryptHashKey(f *testing.F) {
	f.Add(vectorSecret, vectorHashKey)
	f.Add(vectorSecret, seedHashKey)
	f.Add("", seedHashKey)
	f.Add(vectorSecret, strings.ReplaceAll(vectorHashKey, "__", "/"))
	f.Add(vectorSecret, vectorIV+":"+vectorSalt+":")
	f.Add(vectorSecret, "::")
	f.Fuzz(func(t *testing.T, secret, hashKey string) {
		parts, err := ParseHashKey(secret, hashKey)
		if err != nil {
			require.ErrorIs(t, err, payment.ErrInvalidSignature)
			return
		}
		// Whatever decrypts must encrypt back to something that decrypts
		// to the same fields with the same IV and salt.
		norm := strings.NewReplacer(" ", "+", "\r", "", "\n", "").Replace(hashKey)
		iv, rest, _ := strings.Cut(strings.ReplaceAll(norm, "__", "/"), ":")
		salt, _, _ := strings.Cut(rest, ":")
		again, err := encryptHashKey(secret, iv, salt, strings.Join(parts, "|"))
		require.NoError(t, err)
		back, err := ParseHashKey(secret, again)
		require.NoError(t, err)
		require.Equal(t, parts, back)
	})
}
