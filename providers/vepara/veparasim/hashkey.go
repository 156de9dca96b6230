package veparasim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the platform's hash_key derivation uses SHA-1
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// This is the simulator's own implementation of the platform's hash_key,
// written apart from the provider's so that each checks the other.

var errHash = errors.New("veparasim: hash_key does not decrypt")

// deriveKey returns the AES-256 key: the first 32 ASCII characters of
// sha256_hex(sha1_hex(secret) + salt).
func deriveKey(secret, salt string) []byte {
	h1 := sha1.New() //nolint:gosec // the platform's algorithm
	h1.Write([]byte(secret))
	password := hex.EncodeToString(h1.Sum(nil))
	h2 := sha256.New()
	h2.Write([]byte(password))
	h2.Write([]byte(salt))
	full := hex.EncodeToString(h2.Sum(nil))
	return []byte(full[:32])
}

// makeHashKey builds a hash_key over fields with a random 16-hex-character
// IV and a 4-hex-character salt, as the platform does.
func makeHashKey(secret string, fields ...string) string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	h := hex.EncodeToString(r[:])
	return sealHashKey(secret, h[:16], h[16:], strings.Join(fields, "|"))
}

// SealHashKey builds a hash_key over data with the given 16-character IV
// and salt: the platform's algorithm, exported for tests that need a fixed
// value.
func SealHashKey(secret, iv, salt, data string) string {
	if len(iv) != aes.BlockSize {
		return ""
	}
	return sealHashKey(secret, iv, salt, data)
}

func sealHashKey(secret, iv, salt, data string) string {
	block, _ := aes.NewCipher(deriveKey(secret, salt))
	pad := aes.BlockSize - len(data)%aes.BlockSize
	buf := make([]byte, len(data)+pad)
	copy(buf, data)
	for i := len(data); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, []byte(iv)).CryptBlocks(buf, buf)
	enc := base64.StdEncoding.EncodeToString(buf)
	return strings.ReplaceAll(iv+":"+salt+":"+enc, "/", "__")
}

// OpenHashKey decrypts a hash_key made with secret and returns its fields.
func OpenHashKey(secret, hashKey string) ([]string, error) {
	parts := strings.SplitN(strings.ReplaceAll(hashKey, "__", "/"), ":", 3)
	if len(parts) != 3 || len(parts[0]) != aes.BlockSize {
		return nil, errHash
	}
	ct, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errHash
	}
	block, err := aes.NewCipher(deriveKey(secret, parts[1]))
	if err != nil {
		return nil, errHash
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, []byte(parts[0])).CryptBlocks(out, ct)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, errHash
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errHash
		}
	}
	return strings.Split(string(out[:len(out)-pad]), "|"), nil
}
