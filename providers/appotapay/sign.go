package appotapay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthClaims are the claims of the X-APPOTAPAY-AUTH JWT, in the order the
// vendor's samples write them.
type AuthClaims struct {
	// Issuer is the partner code.
	Issuer string `json:"iss"`
	// ID is the API key, "-" and the issue time in unix seconds.
	ID string `json:"jti"`
	// APIKey is the API key.
	APIKey string `json:"api_key"`
	// ExpiresAt is when the token stops being valid.
	ExpiresAt *jwt.NumericDate `json:"exp"`
}

// GetExpirationTime implements jwt.Claims.
func (c AuthClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c AuthClaims) GetIssuedAt() (*jwt.NumericDate, error) { return nil, nil }

// GetNotBefore implements jwt.Claims.
func (c AuthClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c AuthClaims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c AuthClaims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims.
func (c AuthClaims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

// SignAuthToken returns the X-APPOTAPAY-AUTH JWT for cfg issued at now and
// valid for ttl: HS256 with the secret key, header cty "appotapay-api;v=1",
// claims iss, jti, api_key, exp.
func SignAuthToken(cfg Config, now time.Time, ttl time.Duration) (string, error) {
	claims := AuthClaims{
		Issuer:    cfg.PartnerCode,
		ID:        cfg.APIKey + "-" + strconv.FormatInt(now.Unix(), 10),
		APIKey:    cfg.APIKey,
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl).Truncate(time.Second)),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = "JWT"
	tok.Header["cty"] = JWTContentType
	s, err := tok.SignedString([]byte(cfg.SecretKey))
	if err != nil {
		return "", fmt.Errorf("appotapay: sign JWT: %w", err)
	}
	return s, nil
}

func (p *Provider) authToken() (string, error) {
	return SignAuthToken(p.cred, p.now(), p.c.tokenTTL)
}

// hmacHex returns hex(HMAC-SHA256(key, msg)).
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// EWalletPaymentSignString is the string the e-wallet payment signature
// covers: exactly these five keys, alphabetical, raw values, an empty
// extraData included as "extraData=".
func EWalletPaymentSignString(amount int64, currency, extraData, orderID, orderInfo string) string {
	return "amount=" + strconv.FormatInt(amount, 10) +
		"&currency=" + currency +
		"&extraData=" + extraData +
		"&orderId=" + orderID +
		"&orderInfo=" + orderInfo
}

// SignEWalletPayment returns the signature of an e-wallet payment request.
func SignEWalletPayment(secretKey string, amount int64, currency, extraData, orderID, orderInfo string) string {
	return hmacHex(secretKey, EWalletPaymentSignString(amount, currency, extraData, orderID, orderInfo))
}

// SignEWalletConfirm returns the signature of an OTP confirmation:
// HMAC-SHA256 over "orderId={orderId}&verificationCode={verificationCode}".
func SignEWalletConfirm(secretKey, orderID, verificationCode string) string {
	return hmacHex(secretKey, "orderId="+orderID+"&verificationCode="+verificationCode)
}

// SignIPN returns the signature of an IPN or redirect: HMAC-SHA256 over
// the raw base64 data string as sent.
func SignIPN(secretKey, data string) string { return hmacHex(secretKey, data) }

// verifyHex reports, in constant time, whether sig is the hex HMAC-SHA256
// of msg under key (either letter case).
func verifyHex(key, msg, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hmac.Equal(m.Sum(nil), got)
}
