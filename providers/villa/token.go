package villa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token is a Cognito ID token and when it expires.
type Token struct {
	// Value is the token, sent as the Authorization header as is (without
	// "Bearer", as Villa documents it).
	Value string
	// Expiry is when the token stops working. Zero means the provider reads
	// the token's "exp" claim, and failing that keeps it until Villa
	// answers 401.
	Expiry time.Time
}

// TokenSource supplies Cognito ID tokens for the payment3api flavor (for
// example from an AWS Cognito InitiateAuth call the host makes). The
// provider caches the token and asks again shortly before it expires and
// when Villa answers 401.
type TokenSource interface {
	IDToken(ctx context.Context) (Token, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (Token, error)

// IDToken calls f.
func (f TokenSourceFunc) IDToken(ctx context.Context) (Token, error) { return f(ctx) }

// tokenSkew is how long before its expiry a token is replaced.
const tokenSkew = 30 * time.Second

// idToken returns a cached token that is still good, or a fresh one.
func (p *Provider) idToken(ctx context.Context) (string, error) {
	p.tokenMu.Lock()
	defer p.tokenMu.Unlock()
	now := p.clock.Now()
	if p.token.Value != "" && (p.token.Expiry.IsZero() || now.Before(p.token.Expiry.Add(-tokenSkew))) {
		return p.token.Value, nil
	}
	t, err := p.tokens.IDToken(ctx)
	if err != nil {
		return "", fmt.Errorf("villa: get ID token: %w", err)
	}
	if t.Value == "" {
		return "", errors.New("villa: token source returned an empty ID token")
	}
	if t.Expiry.IsZero() {
		t.Expiry = jwtExpiry(t.Value)
	}
	p.token = t
	return t.Value, nil
}

// dropToken forgets the cached token (after a 401), unless another request
// already replaced it.
func (p *Provider) dropToken(value string) {
	p.tokenMu.Lock()
	defer p.tokenMu.Unlock()
	if p.token.Value == value {
		p.token = Token{}
	}
}

// jwtExpiry reads the exp claim of a JWT without verifying it (Villa
// verifies it; the provider only wants to know when to refresh), or returns
// the zero time.
func jwtExpiry(tok string) time.Time {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return time.Time{}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}
	}
	return exp.UTC()
}
