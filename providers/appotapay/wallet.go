package appotapay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// defaultWalletScopes are the OAuth scopes a payment link asks for.
func defaultWalletScopes() []string {
	return []string{"user.info", "user.apoint_payment", "user.wallet_payment"}
}

// WalletToken is a linked AppotaPay wallet's OAuth tokens. The host keeps it
// (encrypted) with the customer and passes AccessToken as the checkout's
// payment_token. Its String, GoString and Format methods redact the tokens.
type WalletToken struct {
	// AccessToken authorizes payments from the wallet.
	AccessToken string `json:"access_token"`
	// TokenType is "Bearer".
	TokenType string `json:"token_type"`
	// RefreshToken gets a new pair; using it invalidates it.
	RefreshToken string `json:"refresh_token"`
	// ExpiresAt is when AccessToken stops working.
	ExpiresAt time.Time `json:"expires_at"`
	// RefreshExpiresAt is when RefreshToken stops working.
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// String redacts the tokens.
func (t WalletToken) String() string {
	return "appotapay.WalletToken{[redacted] expires " + t.ExpiresAt.Format(time.RFC3339) + "}"
}

// GoString redacts the tokens for %#v.
func (t WalletToken) GoString() string { return t.String() }

// Format redacts the tokens for every fmt verb.
func (t WalletToken) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LoginURL returns the AppotaPay OAuth login form the customer opens to link
// their wallet: {ewallet}/oauth/login?client_key=..&scope=..&response_type=code
// &redirect_uri=..&state=... AppotaPay sends the customer back to
// redirectURI with code and state; pass the code to ExchangeCode. Without
// scopes it asks for user.info, user.apoint_payment and user.wallet_payment.
func (p *Provider) LoginURL(redirectURI, state string, scopes ...string) (string, error) {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("appotapay: login url: redirect URI is not an absolute http(s) URL: %w", payment.ErrInvalidInput)
	}
	if len(scopes) == 0 {
		scopes = defaultWalletScopes()
	}
	q := url.Values{
		"client_key":    {p.cred.APIKey},
		"scope":         {strings.Join(scopes, ",")},
		"response_type": {"code"},
		"redirect_uri":  {redirectURI},
		"state":         {state},
	}
	return p.c.ewalletURL + "/oauth/login?" + q.Encode(), nil
}

type oauthRequest struct {
	ClientKey    string `json:"client_key"`
	SecretKey    string `json:"secret_key"`
	GrantType    string `json:"grant_type"`
	Code         string `json:"code,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

type oauthResponse struct {
	Code    flexInt `json:"code"`
	Message string  `json:"message"`
	Data    struct {
		AccessToken          string  `json:"access_token"`
		TokenType            string  `json:"token_type"`
		RefreshToken         string  `json:"refresh_token"`
		ExpiryIn             flexInt `json:"expiry_in"`
		RefreshTokenExpiryIn flexInt `json:"refresh_token_expiry_in"`
	} `json:"data"`
}

// ExchangeCode trades the code of the OAuth redirect for the wallet's tokens
// (POST {ewallet}/api/v1/oauth/access_token).
func (p *Provider) ExchangeCode(ctx context.Context, code string) (*WalletToken, error) {
	if code == "" {
		return nil, &payment.ProviderError{Provider: Name, Op: "oauth_code", Code: "invalid_input", Err: payment.MissingField("code")}
	}
	return p.oauth(ctx, "oauth_code", "/api/v1/oauth/access_token", oauthRequest{
		ClientKey: p.cred.APIKey, SecretKey: p.cred.SecretKey, GrantType: "authorization_code", Code: code,
	})
}

// RefreshToken trades a refresh token for a new token pair (POST
// {ewallet}/api/v1/oauth/refresh_token); the old refresh token stops
// working. The grant type is "authorization_code", as documented.
func (p *Provider) RefreshToken(ctx context.Context, refreshToken string) (*WalletToken, error) {
	if refreshToken == "" {
		return nil, &payment.ProviderError{Provider: Name, Op: "oauth_refresh", Code: "invalid_input", Err: payment.MissingField("refresh_token")}
	}
	return p.oauth(ctx, "oauth_refresh", "/api/v1/oauth/refresh_token", oauthRequest{
		ClientKey: p.cred.APIKey, SecretKey: p.cred.SecretKey, GrantType: "authorization_code", RefreshToken: refreshToken,
	})
}

func (p *Provider) oauth(ctx context.Context, op, path string, body oauthRequest) (*WalletToken, error) {
	buf, err := marshal(body)
	if err != nil {
		return nil, fmt.Errorf("appotapay: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.c.ewalletURL+path, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("appotapay: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.c.limiter != nil {
		if err := p.c.limiter.Wait(ctx); err != nil {
			return nil, transportError(op, err)
		}
	}
	resp, err := p.c.httpClient.Do(req)
	if err != nil {
		return nil, transportError(op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, transportError(op, err)
	}
	var out oauthResponse
	decodeErr := unmarshal(raw, &out)
	if resp.StatusCode != http.StatusOK || decodeErr != nil || (out.Code.Set && out.Code.Value != http.StatusOK) ||
		out.Data.AccessToken == "" {
		code := "http_" + strconv.Itoa(resp.StatusCode)
		if out.Code.Set {
			code = strconv.FormatInt(out.Code.Value, 10)
		}
		return nil, &payment.ProviderError{
			Provider: Name, Op: op, Code: code, Message: truncate(out.Message, 200),
			Retryable: resp.StatusCode >= 500,
		}
	}
	return &WalletToken{
		AccessToken:      out.Data.AccessToken,
		TokenType:        out.Data.TokenType,
		RefreshToken:     out.Data.RefreshToken,
		ExpiresAt:        unixTime(out.Data.ExpiryIn),
		RefreshExpiresAt: unixTime(out.Data.RefreshTokenExpiryIn),
	}, nil
}

func unixTime(f flexInt) time.Time {
	if !f.Set || f.Value <= 0 {
		return time.Time{}
	}
	return time.Unix(f.Value, 0).UTC()
}
