package payplus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// Errors a *payment.ProviderError from this package may wrap, besides the
// payment sentinels.
var (
	// ErrDuplicate: the transaction id (or agent order number) was used
	// before ("transactionId already exists"). Start and StartPayout
	// resolve it by querying the order; it surfaces only when that fails.
	ErrDuplicate = errors.New("payplus: transaction id already exists")
	// ErrAuthentication: Pay-Plus refused the credentials or the caller:
	// "Invalid API key", "IP not in whitelist", "merchantId does not match
	// API key".
	ErrAuthentication = errors.New("payplus: authentication refused")
	// ErrSignatureRejected: Pay-Plus answered "Invalid signature" to a
	// request (a wrong API key, or a clock or encoding disagreement).
	ErrSignatureRejected = errors.New("payplus: request signature rejected")
)

// maxResponse bounds what is read of a response body.
const maxResponse = 1 << 20

// envelope is every Pay-Plus answer: {"status":"success",...} for
// deposits, {"code":200,...} for the rest, with a message and data.
type envelope struct {
	Status  string          `json:"status"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// code returns the envelope's numeric code, or 0 when it has none.
func (e *envelope) code() int {
	raw := bytes.TrimSpace(e.Code)
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	s := string(raw)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

// timestamp returns the request timestamp in the configured unit.
func (p *Provider) timestamp() int64 {
	now := p.clock.Now()
	if p.millis {
		return now.UnixMilli()
	}
	return now.Unix()
}

// amount formats minor units as the JSON number Pay-Plus expects: THB in
// JavaScript's shortest form (1000, 995.5).
func (p *Provider) amount(minor int64) json.Number {
	return json.Number(payment.FormatShortest(minor, p.exponent))
}

// call sends a signed request and returns the data of a successful answer.
// params must not hold the signature; it is added here.
func (p *Provider) call(ctx context.Context, op, method, path string, params Params) (json.RawMessage, error) {
	var body []byte
	var query url.Values
	if params != nil {
		sig, err := Sign(params, p.cfg.APIKey)
		if err != nil {
			return nil, &payment.ProviderError{Provider: Name, Op: op, Err: fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)}
		}
		if method == http.MethodGet {
			query = url.Values{}
			for k, v := range params {
				query.Set(k, queryValue(v))
			}
			query.Set(SignatureField, sig)
		} else {
			body, err = encodeBody(params, sig)
			if err != nil {
				return nil, &payment.ProviderError{Provider: Name, Op: op, Err: fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)}
			}
		}
	}
	return p.send(ctx, op, method, path, query, body, true)
}

func queryValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		if n, err := jsNumber(string(x)); err == nil {
			return n
		}
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	default:
		return ""
	}
}

// send performs one request. Errors are *payment.ProviderError: Retryable
// when the outcome is unknown (no answer, a 5xx, an unreadable answer).
func (p *Provider) send(ctx context.Context, op, method, path string, query url.Values, body []byte, auth bool) (json.RawMessage, error) {
	if p.limiter != nil {
		if err := p.limiter.Wait(ctx); err != nil {
			return nil, &payment.ProviderError{Provider: Name, Op: op, Retryable: true, Err: err}
		}
	}
	u := p.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: op, Err: fmt.Errorf("%w: build request: %w", payment.ErrInvalidInput, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if auth {
		req.Header.Set("x-api-key", p.cfg.APIKey)
	}

	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		p.log.Debug("payplus request failed", zap.String("op", op), zap.String("path", path),
			zap.Duration("took", time.Since(start)), zap.Error(redactURLError(err)))
		return nil, &payment.ProviderError{Provider: Name, Op: op, Retryable: true, Message: "no answer", Err: redactURLError(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	p.log.Debug("payplus request", zap.String("op", op), zap.String("path", path),
		zap.Int("status", resp.StatusCode), zap.Duration("took", time.Since(start)))
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: op, Retryable: true, Message: "reading the answer", Err: err}
	}
	var env envelope
	decodeErr := json.Unmarshal(raw, &env)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && decodeErr == nil {
		code := env.code()
		ok := (code == 0 || code == 200) &&
			(env.Status == "" || strings.EqualFold(env.Status, "success") || strings.EqualFold(env.Status, "ok"))
		if ok {
			return env.Data, nil
		}
		return nil, classify(op, code, env.Message)
	}
	if decodeErr != nil {
		// Not the vendor's envelope: a proxy page, a truncated body.
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusRequestTimeout || (resp.StatusCode >= 200 && resp.StatusCode < 300)
		return nil, &payment.ProviderError{
			Provider: Name, Op: op, Code: strconv.Itoa(resp.StatusCode), Retryable: retry,
			Message: "unreadable answer", Err: unavailable(retry),
		}
	}
	code := env.code()
	if code == 0 || code == 200 {
		code = resp.StatusCode
	}
	return nil, classify(op, code, env.Message)
}

func unavailable(retry bool) error {
	if retry {
		return payment.ErrUnavailable
	}
	return nil
}

// classify maps a Pay-Plus error answer to a *payment.ProviderError.
func classify(op string, code int, message string) *payment.ProviderError {
	msg := truncate(message, 200)
	pe := &payment.ProviderError{Provider: Name, Op: op, Code: strconv.Itoa(code), Message: msg}
	m := strings.ToLower(message)
	switch {
	case strings.Contains(m, "already exist"):
		pe.Err = ErrDuplicate
	case strings.Contains(m, "invalid signature"):
		pe.Err = ErrSignatureRejected
	case strings.Contains(m, "invalid api key"), strings.Contains(m, "whitelist"),
		strings.Contains(m, "does not match api key"):
		pe.Err = ErrAuthentication
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		pe.Err = ErrAuthentication
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		pe.Retryable = true
		pe.Err = payment.ErrUnavailable
	case code == http.StatusNotFound || strings.Contains(m, "not found"):
		pe.Err = payment.ErrNotFound
	}
	return pe
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// redactURLError drops the URL from a *url.Error: it carries no secret
// today, but query-string requests (GET balance) do carry a signature.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// decodeData decodes the data of an answer into v, numbers exact.
func decodeData(data json.RawMessage, v any) error {
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		return errors.New("answer without data")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// decimal is an amount as Pay-Plus sends it: a JSON number or a numeric
// string. It keeps the literal so nothing passes through float64.
type decimal struct {
	lit string
	set bool
}

// UnmarshalJSON accepts a number, a numeric string or null.
func (d *decimal) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*d = decimal{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var uq string
		if err := json.Unmarshal(b, &uq); err != nil {
			return fmt.Errorf("payplus: amount: %w", err)
		}
		s = strings.TrimSpace(uq)
		if s == "" {
			*d = decimal{}
			return nil
		}
	}
	*d = decimal{lit: s, set: true}
	return nil
}

// minor returns the amount in minor units of an exponent-2 currency.
func (d decimal) minor(exp int) (int64, error) {
	if !d.set {
		return 0, errors.New("payplus: amount missing")
	}
	lit := d.lit
	if strings.ContainsAny(lit, "eE") {
		n, err := jsNumber(lit)
		if err != nil {
			return 0, fmt.Errorf("%w: %q", payment.ErrInvalidAmount, d.lit)
		}
		lit = n
	}
	return payment.ParseDecimal(lit, exp)
}

// flexString is an identifier that may arrive as a string or a number.
type flexString string

// UnmarshalJSON accepts a string, a number or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "null":
		*f = ""
	case strings.HasPrefix(s, `"`):
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*f = flexString(str)
	default:
		*f = flexString(s)
	}
	return nil
}
