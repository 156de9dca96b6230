package villa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxResponseBytes bounds what the provider reads of an answer.
const maxResponseBytes = 1 << 20

// call is one API request.
type call struct {
	// op names the operation in errors ("start", "sync", ...).
	op     string
	method string
	// path is relative to the base URL, already escaped.
	path string
	// form or body is the request body (form-urlencoded or JSON).
	form url.Values
	body any
	// retrySafe says repeating the request after an unknown outcome cannot
	// do anything twice: a read, or a write carrying the same order id.
	retrySafe bool
	// secrets are request values to redact from vendor messages.
	secrets []string
}

// result is a decoded answer: a success payload or an error answer.
type result struct {
	payload json.RawMessage
	apiErr  *apiError
}

// do sends c, honouring the rate limit, retrying what is safe to retry, and
// returns the success payload or an error: a *payment.ProviderError for
// Villa's error answers (mapped from its codes) and for unknown outcomes
// (Retryable).
func (p *Provider) do(ctx context.Context, c *call) (json.RawMessage, error) {
	res, err := p.send(ctx, c)
	if err != nil {
		return nil, err
	}
	if res.apiErr != nil {
		return nil, res.apiErr.providerError(c.op, c.secrets...)
	}
	return res.payload, nil
}

// send is do without the mapping of error answers, so callers can look at
// them (a duplicate order).
func (p *Provider) send(ctx context.Context, c *call) (*result, error) {
	var body []byte
	contentType := ""
	switch {
	case c.form != nil:
		body, contentType = []byte(c.form.Encode()), "application/x-www-form-urlencoded"
	case c.body != nil:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.body); err != nil {
			return nil, fmt.Errorf("villa: %s: encode request: %w", c.op, err)
		}
		body, contentType = bytes.TrimRight(buf.Bytes(), "\n"), "application/json"
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		if err := p.limiter.Wait(ctx); err != nil {
			return nil, transportError(c.op, fmt.Errorf("villa: %s: rate limiter: %w", c.op, err))
		}
		status, header, respBody, token, err := p.roundTrip(ctx, c, body, contentType)
		if err != nil {
			if ctx.Err() == nil && c.retrySafe && attempt < p.attempts {
				p.log.Debug("villa: retrying after a transport error", zap.String("op", c.op), zap.Int("attempt", attempt), zap.Error(err))
				if werr := p.sleep(ctx, p.backoffFor(attempt)); werr != nil {
					return nil, transportError(c.op, err)
				}
				continue
			}
			return nil, transportError(c.op, err)
		}
		payload, ae, err := decodeResponse(status, respBody)
		if err != nil {
			// A 2xx we cannot read: the request may have done its work.
			return nil, transportError(c.op, fmt.Errorf("%w (HTTP %d)", err, status))
		}
		if ae == nil {
			return &result{payload: payload}, nil
		}
		switch {
		case ae.status == http.StatusUnauthorized && token != "" && !refreshed:
			// The ID token may have expired early: get a fresh one, once.
			// The request was refused, so repeating it is safe.
			p.dropToken(token)
			refreshed = true
			attempt--
			continue
		case ae.rateLimited() && attempt < p.attempts:
			// Refused before any work: always safe to repeat.
			wait, ok := retryAfter(header.Get("Retry-After"), p.clock.Now())
			if !ok {
				wait = p.backoffFor(attempt)
			}
			if wait > p.maxRetryAfter {
				return &result{apiErr: ae}, nil
			}
			if werr := p.sleep(ctx, wait); werr != nil {
				return &result{apiErr: ae}, nil
			}
			continue
		case ae.retryable() && c.retrySafe && attempt < p.attempts:
			if werr := p.sleep(ctx, p.backoffFor(attempt)); werr != nil {
				return &result{apiErr: ae}, nil
			}
			continue
		}
		return &result{apiErr: ae}, nil
	}
}

// roundTrip makes one HTTP attempt with the per-request timeout.
func (p *Provider) roundTrip(ctx context.Context, c *call, body []byte, contentType string) (status int, header http.Header, respBody []byte, token string, err error) {
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, c.method, p.baseURL+c.path, rd)
	if err != nil {
		return 0, nil, nil, "", fmt.Errorf("villa: %s: build request: %w", c.op, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paykit-villa/1")
	if p.apiKey != "" {
		req.Header.Set("X-API-Key", p.apiKey)
	}
	if p.tokens != nil {
		token, err = p.idToken(actx)
		if err != nil {
			return 0, nil, nil, "", err
		}
		req.Header.Set("Authorization", token)
	}
	start := time.Now()
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, nil, nil, token, fmt.Errorf("villa: %s %s: %w", c.method, c.path, scrubURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, token, fmt.Errorf("villa: %s %s: read response: %w", c.method, c.path, err)
	}
	p.log.Debug("villa: request",
		zap.String("op", c.op), zap.String("method", c.method), zap.String("path", c.path),
		zap.Int("status", resp.StatusCode), zap.Duration("took", time.Since(start)))
	return resp.StatusCode, resp.Header, respBody, token, nil
}

// scrubURLError drops the URL from a *url.Error (it holds nothing secret,
// but the op and path are already in the message).
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// backoffFor returns the wait before attempt+1: exponential with jitter.
func (p *Provider) backoffFor(attempt int) time.Duration {
	if p.backoff <= 0 {
		return 0
	}
	d := p.backoff << (attempt - 1)
	if d > p.maxBackoff || d <= 0 {
		d = p.maxBackoff
	}
	half := int64(d / 2)
	return time.Duration(half + rand.Int64N(half+1)) //nolint:gosec // jitter, not a secret
}

// sleep waits d or until ctx ends.
func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}
