package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
)

// Errors an authenticator given to WithAuthenticator may wrap.
var (
	// ErrUnauthorized means the caller is not authenticated: 401
	// UNAUTHORIZED. Any authenticator error that does not wrap ErrForbidden
	// is treated the same way.
	ErrUnauthorized = errors.New("httpx: unauthorized")
	// ErrForbidden means the caller is authenticated but may not do this:
	// 403 FORBIDDEN.
	ErrForbidden = errors.New("httpx: forbidden")
)

// headerAPIKey is where callers put their API key.
const headerAPIKey = "X-API-Key" //nolint:gosec // a header name, not a credential

// authenticator decides whether a request may use the API, and names the
// caller for rate limiting.
type authenticator interface {
	// authenticate returns the caller's identity and whether it is one of
	// a fixed set (index >= 0), or an error wrapping ErrUnauthorized or
	// ErrForbidden.
	authenticate(r *http.Request) (identity string, index int, err error)
}

// apiKeyAuth compares the X-API-Key header with every configured key in
// constant time. Both sides are hashed first, so neither the keys' lengths
// nor their contents leak through timing, and no comparison stops early.
type apiKeyAuth struct {
	hashes [][sha256.Size]byte
	ids    []string
}

func newAPIKeyAuth(keys []string) *apiKeyAuth {
	a := &apiKeyAuth{}
	for i, k := range keys {
		a.hashes = append(a.hashes, sha256.Sum256([]byte(k)))
		a.ids = append(a.ids, "apikey#"+strconv.Itoa(i))
	}
	return a
}

func (a *apiKeyAuth) authenticate(r *http.Request) (string, int, error) {
	vals := r.Header.Values(headerAPIKey)
	if len(vals) != 1 || vals[0] == "" {
		return "", -1, ErrUnauthorized
	}
	given := sha256.Sum256([]byte(vals[0]))
	match := -1
	for i := range a.hashes {
		eq := subtle.ConstantTimeCompare(given[:], a.hashes[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return "", -1, ErrUnauthorized
	}
	return a.ids[match], match, nil
}

// funcAuth runs the host's authenticator.
type funcAuth struct {
	fn  func(*http.Request) error
	key func(*http.Request) string
}

func (a *funcAuth) authenticate(r *http.Request) (string, int, error) {
	if err := a.fn(r); err != nil {
		if errors.Is(err, ErrForbidden) {
			return "", -1, err
		}
		return "", -1, errors.Join(ErrUnauthorized, err)
	}
	if a.key != nil {
		return a.key(r), -1, nil
	}
	return r.Header.Get(headerAPIKey), -1, nil
}

// noAuth lets everything through. Without a rate-limit key function every
// request is one caller.
type noAuth struct {
	key func(*http.Request) string
}

func (a *noAuth) authenticate(r *http.Request) (string, int, error) {
	if a.key != nil {
		return a.key(r), -1, nil
	}
	return "", -1, nil
}
