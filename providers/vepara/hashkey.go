package vepara

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the platform's hash_key algorithm is built on SHA-1; it is not used for integrity here
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/paykit/paykit/payment"
)

// ErrInvalidHashKey is wrapped by every error about a hash_key that does not
// decrypt or whose fields do not match. It wraps payment.ErrInvalidSignature.
var ErrInvalidHashKey = fmt.Errorf("vepara: invalid hash_key: %w", payment.ErrInvalidSignature)

// maxHashKeyLen bounds what ParseHashKey reads; real ones are under 300.
const maxHashKeyLen = 4096

// HashKey returns the platform's hash_key over parts (joined with "|"),
// encrypted with a key derived from appSecret, with a fresh IV and salt from
// crypto/rand, exactly as the platform's PHP SDK builds it:
//
//	key      = first 32 characters of sha256_hex(sha1_hex(appSecret) + salt)
//	hash_key = iv + ":" + salt + ":" + base64(AES-256-CBC(key, iv, PKCS7(data))), "/" replaced by "__"
//
// where iv is 16 hex characters used as the 16-byte IV and salt is 4 hex
// characters.
func HashKey(appSecret string, parts ...string) (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("vepara: hash_key: %w", err)
	}
	h := hex.EncodeToString(b[:])
	return encryptHashKey(appSecret, h[:16], h[16:20], strings.Join(parts, "|"))
}

// encryptHashKey is HashKey with a given iv and salt: the seam the tests use
// to reproduce the documented vector.
func encryptHashKey(appSecret, iv, salt, data string) (string, error) {
	if len(iv) != aes.BlockSize {
		return "", errors.New("vepara: hash_key: iv must be 16 characters")
	}
	block, err := hashKeyCipher(appSecret, salt)
	if err != nil {
		return "", err
	}
	padded := pkcs7Pad([]byte(data))
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, []byte(iv)).CryptBlocks(ct, padded)
	out := iv + ":" + salt + ":" + base64.StdEncoding.EncodeToString(ct)
	return strings.ReplaceAll(out, "/", "__"), nil
}

// ParseHashKey decrypts a hash_key made with appSecret and returns its
// fields (the data split on "|"). Response, redirect and webhook hash_keys
// carry status|total|invoice_id|order_id|currency_code.
//
// Decryption is the platform's only check (there is no MAC): a wrong key
// usually fails the padding check but may yield garbage, so callers must
// compare the fields with what they expect. Errors wrap ErrInvalidHashKey.
//
// Spaces are read as "+" (a form post that did not encode "+"), and line
// breaks in the base64 are ignored.
func ParseHashKey(appSecret, hashKey string) ([]string, error) {
	if hashKey == "" || len(hashKey) > maxHashKeyLen {
		return nil, ErrInvalidHashKey
	}
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ':
			return '+'
		case '\r', '\n':
			return -1
		default:
			return r
		}
	}, hashKey)
	s = strings.ReplaceAll(s, "__", "/")
	iv, rest, ok := strings.Cut(s, ":")
	if !ok || len(iv) != aes.BlockSize {
		return nil, ErrInvalidHashKey
	}
	salt, ct, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, ErrInvalidHashKey
	}
	raw, err := base64.StdEncoding.DecodeString(ct)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(ct)
		if err != nil {
			return nil, ErrInvalidHashKey
		}
	}
	if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, ErrInvalidHashKey
	}
	block, err := hashKeyCipher(appSecret, salt)
	if err != nil {
		return nil, ErrInvalidHashKey
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, []byte(iv)).CryptBlocks(plain, raw)
	data, ok := pkcs7Unpad(plain)
	if !ok || !utf8.Valid(data) {
		return nil, ErrInvalidHashKey
	}
	return strings.Split(string(data), "|"), nil
}

// hashKeyCipher derives the AES-256 key: the first 32 ASCII characters of
// sha256_hex(sha1_hex(secret)+salt), as PHP's openssl_encrypt truncates the
// 64-character passphrase.
func hashKeyCipher(appSecret, salt string) (cipher.Block, error) {
	pw := sha1.Sum([]byte(appSecret)) //nolint:gosec // the platform's key derivation
	k := sha256.Sum256([]byte(hex.EncodeToString(pw[:]) + salt))
	return aes.NewCipher([]byte(hex.EncodeToString(k[:])[:32]))
}

func pkcs7Pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

func pkcs7Unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
