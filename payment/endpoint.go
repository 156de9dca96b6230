package payment

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Outbound notifications over HTTP follow the Standard Webhooks
// specification (standardwebhooks.com): every request carries
//
//	webhook-id:        the event id, the same on every retry
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: "v1,<base64 HMAC-SHA256 of id.timestamp.body>",
//	                   one per secret, space-separated, during key rotation
//
// and the body is the Event's JSON. Secrets are "whsec_" followed by the
// base64 of the key bytes.

// Destination names for outbox messages.
const (
	// destSubscribers delivers to the in-process subscribers.
	destSubscribers = "subscribers"
	// destEndpointPrefix prefixes an HTTP endpoint's id.
	destEndpointPrefix = "endpoint:"
)

// EndpointOption configures one webhook endpoint.
type EndpointOption func(*endpoint) error

type endpoint struct {
	id           string
	url          *url.URL
	secrets      [][]byte
	types        []string
	allowPrivate bool
	timeout      time.Duration
	client       *http.Client
}

// WithWebhookEndpoint sends every notifying event (or those EndpointEvents
// selects) to an HTTP endpoint, signed with secret per Standard Webhooks,
// at least once, in order per payment, retrying with exponential backoff
// and jitter for the retry window (WithWebhookRetryWindow, 3 days by
// default). Several endpoints may be added. secret is "whsec_" + base64.
// An endpoint whose address resolves to a loopback, private or link-local
// IP is refused at dial time unless EndpointAllowPrivate is given. An
// answer of 410 Gone disables the endpoint in this Service until the
// process restarts: its notifications then fail at once, listed by
// FailedDeliveries and redeliverable, until the host removes the endpoint
// from its configuration.
func WithWebhookEndpoint(rawURL, secret string, opts ...EndpointOption) Option {
	return optionFunc(func(c *config) error {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("payment: WithWebhookEndpoint: %q is not an absolute http(s) URL", rawURL)
		}
		key, err := DecodeWebhookSecret(secret)
		if err != nil {
			return fmt.Errorf("payment: WithWebhookEndpoint %s: %w", u.Redacted(), err)
		}
		sum := sha256.Sum256([]byte(u.String()))
		ep := &endpoint{id: hex.EncodeToString(sum[:6]), url: u, secrets: [][]byte{key}, timeout: 15 * time.Second}
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o(ep); err != nil {
				return fmt.Errorf("payment: WithWebhookEndpoint %s: %w", u.Redacted(), err)
			}
		}
		for _, other := range c.endpoints {
			if other.id == ep.id {
				return fmt.Errorf("payment: WithWebhookEndpoint: endpoint id %q used twice", ep.id)
			}
		}
		ep.client = newWebhookClient(ep.allowPrivate)
		c.endpoints = append(c.endpoints, ep)
		return nil
	})
}

// EndpointID names the endpoint in delivery records (default: derived from
// its URL). Keep it stable when the URL changes, so pending deliveries
// follow it.
func EndpointID(id string) EndpointOption {
	return func(e *endpoint) error {
		if id == "" || strings.ContainsAny(id, " /:") {
			return fmt.Errorf("invalid endpoint id %q", id)
		}
		e.id = id
		return nil
	}
}

// EndpointEvents limits the endpoint to these event types; a type ending
// in ".*" selects a family ("payment.*", "refund.*").
func EndpointEvents(types ...EventType) EndpointOption {
	return func(e *endpoint) error {
		for _, t := range types {
			e.types = append(e.types, string(t))
		}
		return nil
	}
}

// EndpointSecrets adds secrets the endpoint's requests are also signed
// with, for key rotation: the receiver accepts any one signature.
func EndpointSecrets(secrets ...string) EndpointOption {
	return func(e *endpoint) error {
		for _, s := range secrets {
			key, err := DecodeWebhookSecret(s)
			if err != nil {
				return err
			}
			e.secrets = append(e.secrets, key)
		}
		return nil
	}
}

// EndpointAllowPrivate lets the endpoint resolve to loopback, private and
// link-local addresses (for development and tests).
func EndpointAllowPrivate() EndpointOption {
	return func(e *endpoint) error {
		e.allowPrivate = true
		return nil
	}
}

// EndpointTimeout bounds each delivery attempt (default 15 s).
func EndpointTimeout(d time.Duration) EndpointOption {
	return func(e *endpoint) error {
		if d <= 0 {
			return fmt.Errorf("endpoint timeout must be positive, got %s", d)
		}
		e.timeout = d
		return nil
	}
}

// WithWebhookRetryWindow sets how long a failing endpoint delivery is
// retried before it is recorded as failed (default 72 h). Failed deliveries
// are listed by FailedDeliveries and sent again by Redeliver.
func WithWebhookRetryWindow(d time.Duration) Option {
	return durationOption("WithWebhookRetryWindow", d, func(c *config) { c.webhookRetryWindow = d })
}

func (e *endpoint) destination() string { return destEndpointPrefix + e.id }

// wants reports whether the endpoint's filter selects the event type.
func (e *endpoint) wants(t EventType) bool {
	if len(e.types) == 0 {
		return true
	}
	return slices.ContainsFunc(e.types, func(sel string) bool {
		if fam, ok := strings.CutSuffix(sel, ".*"); ok {
			return strings.HasPrefix(string(t), fam+".")
		}
		return sel == string(t)
	})
}

// DecodeWebhookSecret decodes a Standard Webhooks secret: "whsec_" followed
// by standard base64 of at least 16 bytes (the prefix is optional).
func DecodeWebhookSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) < 16 {
		return nil, errors.New("webhook secret must be whsec_ followed by the base64 of at least 16 bytes")
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header value for a delivery:
// one "v1,<base64>" per key, space-separated.
func SignWebhook(id string, ts time.Time, body []byte, keys ...[]byte) string {
	sigs := make([]string, 0, len(keys))
	stamp := strconv.FormatInt(ts.Unix(), 10)
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(stamp))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// deliveryError is a failed attempt: retry after RetryAfter if set; Gone
// (410) disables the endpoint.
type deliveryError struct {
	status     int
	retryAfter time.Duration
	gone       bool
	err        error
}

func (e *deliveryError) Error() string {
	if e.err != nil {
		return "webhook delivery: " + e.err.Error()
	}
	return "webhook delivery: HTTP " + strconv.Itoa(e.status)
}

func (e *deliveryError) Unwrap() error { return e.err }

// send makes one delivery attempt of body (the event's JSON).
func (e *endpoint) send(ctx context.Context, eventID string, body []byte, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url.String(), bytes.NewReader(body))
	if err != nil {
		return &deliveryError{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paykit-webhooks/1")
	req.Header.Set("webhook-id", eventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", SignWebhook(eventID, now, body, e.secrets...))
	resp, err := e.client.Do(req)
	if err != nil {
		return &deliveryError{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	de := &deliveryError{status: resp.StatusCode, gone: resp.StatusCode == http.StatusGone}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			de.retryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			de.retryAfter = t.Sub(now)
		}
	}
	return de
}

// errPrivateAddress is returned when an endpoint resolves to an address it
// may not reach.
var errPrivateAddress = errors.New("payment: webhook endpoint resolves to a loopback, private or link-local address")

// newWebhookClient returns a client that follows no redirects, uses no
// proxy, and (unless allowPrivate) refuses to connect to non-public
// addresses, checked on the resolved IP at dial time so DNS cannot be used
// to slip past the check.
func newWebhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if !publicAddr(ip) {
				return fmt.Errorf("%w: %s", errPrivateAddress, ip)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not a place to go
		},
	}
}

// publicAddr reports whether ip is a globally routable unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublicPrefixes() {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublicPrefixes are the non-routable ranges the netip predicates do not
// cover: "this network", carrier-grade NAT, IETF protocol assignments,
// documentation, benchmarking and reserved space.
func nonPublicPrefixes() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
}
