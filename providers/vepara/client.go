package vepara

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// maxResponse bounds a response body read from the platform.
const maxResponse = 1 << 20

// tokenLifetime is the documented life of an API token.
const tokenLifetime = 2 * time.Hour

// istanbul is the platform's local time (Turkey keeps +03:00 all year).
var istanbul = time.FixedZone("TRT", 3*60*60)

// flexString is a JSON string, number or boolean kept as its text: the
// platform sends ids and amounts sometimes as strings, sometimes as numbers.
// Numbers are never decoded through float64.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{' || b[0] == '[':
		*f = ""
	default:
		*f = flexString(b)
	}
	return nil
}

// Int returns the value as an integer.
func (f flexString) Int() (int, bool) {
	s := strings.TrimSpace(string(f))
	if s == "" {
		return 0, false
	}
	if i, err := strconv.Atoi(s); err == nil {
		return i, true
	}
	// "100.0" or "1.00"
	if n, err := payment.ParseDecimal(s, 0); err == nil && n >= -1<<31 && n < 1<<31 {
		return int(n), true
	}
	return 0, false
}

// amount parses the value as a decimal in currency's minor units, exactly.
func (f flexString) amount(currency string) (int64, error) {
	exp, err := payment.CurrencyExponent(currency)
	if err != nil {
		return 0, err
	}
	return payment.ParseDecimal(strings.TrimSpace(string(f)), exp)
}

// encodeJSON encodes v without HTML escaping and without the trailing
// newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// baseResponse is the part every platform answer shares.
type baseResponse struct {
	StatusCode        flexString `json:"status_code"`
	StatusDescription string     `json:"status_description"`
	Message           string     `json:"message"`
}

func (b *baseResponse) code() int {
	c, _ := b.StatusCode.Int()
	return c
}

func (b *baseResponse) describe() string {
	return vendorMessage(b.code(), b.StatusDescription, b.Message)
}

// providerError builds the provider's error for op.
func providerError(op, code, msg string, retryable bool, err error) *payment.ProviderError {
	return &payment.ProviderError{Provider: Name, Op: op, Code: code, Message: msg, Retryable: retryable, Err: err}
}

// codeError is the error for a status_code the operation cannot continue
// with.
func codeError(op string, resp *baseResponse) error {
	code := resp.code()
	var cause error
	retryable := false
	switch classify(code) {
	case classInput:
		cause = payment.ErrInvalidInput
	case classNotFound:
		cause = payment.ErrNotFound
	case classPending:
		retryable = true
	case classSuccess, classDeclined, classDuplicate, classError:
	}
	return providerError(op, strconv.Itoa(code), resp.describe(), retryable, cause)
}

// vendorFields maps the platform's request field names to paykit's, for
// validation errors.
var vendorFields = map[string]string{
	"cc_no":               "card.number",
	"cvv":                 "card.cvv",
	"cc_holder_name":      "card.holder_name",
	"expiry_month":        "card.expiry_month",
	"expiry_year":         "card.expiry_year",
	"total":               "amount",
	"amount":              "amount",
	"currency_code":       "currency",
	"currency_id":         "currency",
	"invoice_id":          "id",
	"invoice_description": "description",
	"installments_number": "metadata.installments",
	"name":                "customer.name",
	"surname":             "customer.name",
	"bill_email":          "customer.email",
	"bill_phone":          "customer.phone",
	"items":               "items",
}

// validationError turns a Laravel 422 body into a *payment.ValidationError
// naming the (first) field. The platform's text is kept only for fields
// that are not card data.
func validationError(body []byte) *payment.ValidationError {
	var v struct {
		Message string              `json:"message"`
		Errors  map[string][]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Errors) == 0 {
		return &payment.ValidationError{Field: "body", Reason: "was rejected by vepara"}
	}
	keys := make([]string, 0, len(v.Errors))
	for k := range v.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	field := keys[0]
	msg := ""
	if len(v.Errors[field]) > 0 {
		msg = v.Errors[field][0]
	}
	out := mapVendorField(field)
	if strings.HasPrefix(out, "card.") || msg == "" {
		return &payment.ValidationError{Field: out, Reason: "was rejected by vepara"}
	}
	return &payment.ValidationError{Field: out, Reason: "was rejected by vepara: " + vendorMessage(0, msg)}
}

// mapVendorField maps "items.1.price" to "items[1].price" and plain names
// through vendorFields.
func mapVendorField(field string) string {
	if f, ok := vendorFields[field]; ok {
		return f
	}
	parts := strings.Split(field, ".")
	if len(parts) >= 2 && parts[0] == "items" {
		if _, err := strconv.Atoi(parts[1]); err == nil {
			out := "items[" + parts[1] + "]"
			if len(parts) > 2 {
				sub := strings.Join(parts[2:], ".")
				switch sub {
				case "qty":
					sub = "quantity"
				case "item_id":
					sub = "id"
				}
				out += "." + sub
			}
			return out
		}
	}
	return field
}

// response is a platform answer as received.
type response struct {
	status int
	body   []byte
}

// send posts (or GETs, with a body: the platform's sub-merchant list reads
// one) payload to path and returns the answer. Authenticated calls carry the
// cached bearer token; a 401 renews the token and repeats the call once (a
// 401 means the platform did not act on the request).
//
// Transport failures, 5xx and 429 answers are retryable errors: the request
// may have been acted on. Everything else is returned for the caller to
// interpret.
func (p *Provider) send(ctx context.Context, op, method, path string, payload []byte, auth bool) (*response, error) {
	for attempt := 0; ; attempt++ {
		token := ""
		if auth {
			var err error
			token, err = p.accessToken(ctx)
			if err != nil {
				return nil, err
			}
		}
		resp, err := p.roundTrip(ctx, op, method, path, payload, token)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && auth && attempt == 0 {
			p.invalidateToken(token)
			continue
		}
		switch {
		case resp.status == http.StatusUnauthorized && auth:
			return nil, providerError(op, "401", "the platform refused the API token", false, nil)
		case resp.status == http.StatusTooManyRequests:
			return nil, providerError(op, "429", "rate limited", true, payment.ErrUnavailable)
		case resp.status >= 500:
			return nil, providerError(op, "http_"+strconv.Itoa(resp.status), "server error", true, payment.ErrUnavailable)
		}
		return resp, nil
	}
}

func (p *Provider) roundTrip(ctx context.Context, op, method, path string, payload []byte, token string) (*response, error) {
	if p.cfg.limiter != nil {
		if err := p.cfg.limiter.Wait(ctx); err != nil {
			return nil, providerError(op, "", "rate limit wait", true, err)
		}
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.cfg.baseURL+path, body)
	if err != nil {
		return nil, providerError(op, "", "build request", false, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := p.cfg.httpClient.Do(req)
	if err != nil {
		p.log.Warn("request failed", zap.String("op", op), zap.String("path", path), zap.Duration("took", time.Since(start)))
		return nil, providerError(op, "", "request failed", true, err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return nil, providerError(op, "", "read response", true, err)
	}
	p.log.Debug("request", zap.String("op", op), zap.String("path", path),
		zap.Int("status", res.StatusCode), zap.Duration("took", time.Since(start)))
	return &response{status: res.StatusCode, body: raw}, nil
}

// call sends v as JSON and decodes the answer into out. A 422 becomes an
// error wrapping a *payment.ValidationError; an answer that is not JSON is
// an error, retryable when the status was 2xx (the platform may have acted).
// The encoded request is wiped once sent, since it may hold card data.
func (p *Provider) call(ctx context.Context, op, method, path string, v, out any) error {
	_, err := p.callStatus(ctx, op, method, path, v, out)
	return err
}

// callStatus is call that also returns the HTTP status.
func (p *Provider) callStatus(ctx context.Context, op, method, path string, v, out any) (int, error) {
	payload, err := encodeJSON(v)
	if err != nil {
		return 0, providerError(op, "", "encode request", false, err)
	}
	resp, err := p.send(ctx, op, method, path, payload, true)
	clear(payload)
	if err != nil {
		return 0, err
	}
	return resp.status, decodeAnswer(op, resp, out)
}

func decodeAnswer(op string, resp *response, out any) error {
	if resp.status == http.StatusUnprocessableEntity {
		return providerError(op, "422", "validation failed", false, validationError(resp.body))
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		ok := resp.status >= 200 && resp.status < 300
		return providerError(op, "http_"+strconv.Itoa(resp.status), "unreadable answer", ok, errors.New("vepara: response is not the expected JSON"))
	}
	return nil
}

// tokenCache holds the API token, shared by concurrent requests: one fetch
// at a time, renewed early, dropped on a 401.
type tokenCache struct {
	mu      sync.Mutex
	token   string
	expires time.Time
	renewAt time.Time
	call    *tokenCall
	// is3D is the token answer's is_3d: 0 2D only, 1 both, 2 3D only,
	// 3 (Vepara) or 4 (Sipay) branded.
	is3D string
}

// tokenCall is a fetch in flight that other requests wait for.
type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

// accessToken returns a valid token, fetching one when there is none or
// when it is due for renewal. Concurrent callers share one fetch; while a
// renewal is in flight, callers keep using the still-valid current token.
func (p *Provider) accessToken(ctx context.Context) (string, error) {
	for {
		c := &p.token
		c.mu.Lock()
		now := p.now()
		valid := c.token != "" && now.Before(c.expires)
		if valid && (now.Before(c.renewAt) || c.call != nil) {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		if call := c.call; call != nil {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return "", providerError("token", "", "waiting for the token", true, ctx.Err())
			}
			if call.err == nil {
				return call.token, nil
			}
			if isContextErr(call.err) && ctx.Err() == nil {
				continue // the fetching request gave up; try again with ours
			}
			return "", call.err
		}
		call := &tokenCall{done: make(chan struct{})}
		c.call = call
		old, oldExpires := c.token, c.expires
		c.mu.Unlock()

		tok, expires, err := p.fetchToken(ctx)

		c.mu.Lock()
		if err == nil {
			c.token, c.expires = tok, expires
			margin := min(p.cfg.tokenMargin, expires.Sub(p.now())/4)
			c.renewAt = expires.Add(-margin)
		} else if old != "" && p.now().Before(oldExpires) && c.token == old {
			// Early renewal failed: the current token still works.
			tok, err = old, nil
			p.log.Warn("token renewal failed; using the current token")
		}
		call.token, call.err = tok, err
		c.call = nil
		close(call.done)
		c.mu.Unlock()
		return tok, err
	}
}

// invalidateToken drops tok after the platform refused it, unless another
// request has already replaced it.
func (p *Provider) invalidateToken(tok string) {
	p.token.mu.Lock()
	defer p.token.mu.Unlock()
	if p.token.token == tok {
		p.token.token = ""
		p.token.expires = time.Time{}
		p.token.renewAt = time.Time{}
	}
}

// is3D returns the merchant's is_3d from the last token answer.
func (p *Provider) is3D() string {
	p.token.mu.Lock()
	defer p.token.mu.Unlock()
	return p.token.is3D
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetchToken asks POST /api/token for a token. Both answer shapes of the
// platform are read: Vepara's {"status":"success","data":{"token",
// "expired_at"}} and Sipay's {"status_code":100,"data":{"token",
// "expires_at"}}. The token lives 2 hours or until the expiry the platform
// states (Istanbul time), whichever comes first.
func (p *Provider) fetchToken(ctx context.Context) (string, time.Time, error) {
	const op = "token"
	payload, err := encodeJSON(map[string]string{"app_id": p.cred.AppID, "app_secret": p.cred.AppSecret})
	if err != nil {
		return "", time.Time{}, providerError(op, "", "encode request", false, err)
	}
	fetchedAt := p.now()
	resp, err := p.send(ctx, op, http.MethodPost, "/api/token", payload, false)
	clear(payload)
	if err != nil {
		return "", time.Time{}, err
	}
	var out struct {
		baseResponse
		Data json.RawMessage `json:"data"`
	}
	if err := decodeAnswer(op, resp, &out); err != nil {
		return "", time.Time{}, err
	}
	var data struct {
		Token     string     `json:"token"`
		Is3D      flexString `json:"is_3d"`
		ExpiredAt string     `json:"expired_at"`
		ExpiresAt string     `json:"expires_at"`
	}
	if len(out.Data) > 0 && out.Data[0] == '{' {
		_ = json.Unmarshal(out.Data, &data)
	}
	code, hasCode := out.StatusCode.Int()
	if data.Token == "" || (hasCode && code != CodeSuccess) || resp.status >= 300 {
		if !hasCode {
			code = CodeInvalidCredentials
		}
		return "", time.Time{}, providerError(op, strconv.Itoa(code), vendorMessage(code, out.StatusDescription, out.Message), false, nil)
	}
	expires := fetchedAt.Add(tokenLifetime)
	stated := data.ExpiredAt
	if stated == "" {
		stated = data.ExpiresAt
	}
	if t, err := time.ParseInLocation(time.DateTime, stated, istanbul); err == nil &&
		t.After(fetchedAt.Add(time.Minute)) && t.Before(expires) {
		expires = t
	}
	p.token.mu.Lock()
	p.token.is3D = string(data.Is3D)
	p.token.mu.Unlock()
	p.log.Debug("token fetched", zap.Time("expires", expires), zap.String("is_3d", string(data.Is3D)))
	return data.Token, expires, nil
}
