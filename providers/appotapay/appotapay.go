package appotapay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
)

// Hosts of AppotaPay's APIs.
const (
	// SandboxGatewayURL is the sandbox host of the payment gateway and
	// e-wallet payment APIs (/api/v2/...).
	SandboxGatewayURL = "https://gateway.dev.appotapay.com"
	// ProductionGatewayURL is the production host of the same APIs.
	ProductionGatewayURL = "https://gateway.appotapay.com"
	// SandboxEWalletURL is the sandbox host of the e-wallet OAuth APIs
	// (login form, access and refresh tokens).
	SandboxEWalletURL = "https://ewallet.dev.appotapay.com"
	// ProductionEWalletURL is the production host of the e-wallet OAuth APIs.
	ProductionEWalletURL = "https://ewallet.appotapay.com"
)

// Vendor limits and constants.
const (
	// Name is the provider's name in routes and records.
	Name = "appotapay"
	// Currency is the only currency AppotaPay takes.
	Currency = "VND"
	// MinAmount is the smallest payment AppotaPay takes, in đồng.
	MinAmount = 1_000
	// MaxAmount is the largest payment AppotaPay takes, in đồng.
	MaxAmount = 500_000_000
	// MinRefundAmount is the smallest refund AppotaPay takes, in đồng.
	MinRefundAmount = 1_000
	// MaxOrderIDLength is the longest orderId (alphanumeric).
	MaxOrderIDLength = 50
	// MaxOrderInfoLength is the longest orderInfo, in characters.
	MaxOrderInfoLength = 150
	// MaxRefundReasonLength is the longest refund reason, in characters.
	MaxRefundReasonLength = 100
	// JWTContentType is the mandatory cty member of the X-APPOTAPAY-AUTH
	// JWT header.
	JWTContentType = "appotapay-api;v=1"
	// DefaultTokenTTL is how long an X-APPOTAPAY-AUTH JWT is valid (the
	// vendor suggests now+300 s).
	DefaultTokenTTL = 300 * time.Second
)

// maxResponseBytes bounds what is read from a vendor response.
const maxResponseBytes = 1 << 20

// Config holds the credentials AppotaPay issues to a partner. All three are
// required. Its String, GoString and Format methods redact the keys.
type Config struct {
	// PartnerCode is the partner code (the JWT's iss).
	PartnerCode string
	// APIKey is the API key (the JWT's api_key, and the OAuth client_key).
	APIKey string
	// SecretKey signs the JWT, the request signatures and the IPN.
	SecretKey string
}

// String redacts the keys.
func (c Config) String() string {
	return "appotapay.Config{PartnerCode:" + c.PartnerCode + " APIKey:[redacted] SecretKey:[redacted]}"
}

// GoString redacts the keys for %#v.
func (c Config) GoString() string { return c.String() }

// Format redacts the keys for every fmt verb.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// Option configures a Provider.
type Option func(*config)

type config struct {
	gatewayURL       string
	ewalletURL       string
	httpClient       *http.Client
	logger           *zap.Logger
	clock            payment.Clock
	limiter          *rate.Limiter
	tokenTTL         time.Duration
	bearerAuth       bool
	language         string
	accountRefID     string
	defaultReturnURL string
	defaultNotifyURL string
	accessTokenFunc  func(ctx context.Context, p *payment.Payment) (string, error)
	pendingTTL       time.Duration
	confirmWebhooks  bool
	methodMap        map[payment.Method]string
}

// WithBaseURL sets the gateway host (both the payment gateway and the
// e-wallet payment APIs), for a simulator or a proxy. The default is
// SandboxGatewayURL.
func WithBaseURL(u string) Option {
	return func(c *config) { c.gatewayURL = strings.TrimRight(u, "/") }
}

// WithEWalletBaseURL sets the e-wallet OAuth host (login form, tokens). The
// default is SandboxEWalletURL, or ProductionEWalletURL with WithProduction.
func WithEWalletBaseURL(u string) Option {
	return func(c *config) { c.ewalletURL = strings.TrimRight(u, "/") }
}

// WithProduction points the provider at AppotaPay's production hosts. Without
// it (and without WithBaseURL) the provider talks to the sandbox, so a
// forgotten option never moves real money.
func WithProduction() Option {
	return func(c *config) {
		c.gatewayURL = ProductionGatewayURL
		c.ewalletURL = ProductionEWalletURL
	}
}

// WithHTTPClient sets the HTTP client. The default has a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithLogger sets the logger. Keys, signatures and access tokens are never
// logged.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock sets the clock the JWT's exp and the caches read.
func WithClock(clk payment.Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithRateLimit limits outgoing requests to r per second with bursts of
// burst. AppotaPay documents no limit; none is applied by default.
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *config) { c.limiter = rate.NewLimiter(r, burst) }
}

// WithTokenTTL sets the lifetime of each X-APPOTAPAY-AUTH JWT (exp - now).
// The default is DefaultTokenTTL; keep it short.
func WithTokenTTL(d time.Duration) Option {
	return func(c *config) { c.tokenTTL = d }
}

// WithBearerAuthHeader sends X-APPOTAPAY-AUTH as "Bearer <jwt>" instead of
// the bare JWT. The vendor's pages disagree: the v2 payment, refund and
// confirm samples send the bare JWT (the default), the e-wallet tables write
// "Bearer JWT_TOKEN".
func WithBearerAuthHeader() Option {
	return func(c *config) { c.bearerAuth = true }
}

// WithLanguage sets X-Language ("vi" or "en"), the language of the hosted
// payment pages.
func WithLanguage(lang string) Option {
	return func(c *config) { c.language = lang }
}

// WithAccountRefID sets X-Account-Ref-ID, the sub-account AppotaPay gave an
// owner-type sub-account partner.
func WithAccountRefID(id string) Option {
	return func(c *config) { c.accountRefID = id }
}

// WithDefaultReturnURL sets the redirectUrl for gateway payments whose
// return_url is empty (AppotaPay requires one).
func WithDefaultReturnURL(u string) Option {
	return func(c *config) { c.defaultReturnURL = u }
}

// WithDefaultNotifyURL sets the IPN notifyUrl for gateway payments when the
// Service gives none (when the host configured no public webhook base URL).
func WithDefaultNotifyURL(u string) Option {
	return func(c *config) { c.defaultNotifyURL = u }
}

// WithAccessTokenFunc gives the provider the customer's linked-wallet access
// token when it needs it after Start: the OTP confirmation
// (/api/v2/ewallet/payment/confirm) must carry it again, and paykit never
// stores tokens. Without it the provider keeps the token in memory for the
// pending TTL (see WithPendingTTL), which does not survive a restart and is
// not shared between instances.
func WithAccessTokenFunc(f func(ctx context.Context, p *payment.Payment) (string, error)) Option {
	return func(c *config) { c.accessTokenFunc = f }
}

// WithPendingTTL sets how long the provider remembers, in memory, a pending
// payment's wallet access token (for the OTP step) and its next action (to
// answer a retried Start). The default is 15 minutes.
func WithPendingTTL(d time.Duration) Option {
	return func(c *config) { c.pendingTTL = d }
}

// WithWebhookConfirmation makes ParseWebhook confirm every verified IPN with
// the transaction status API and report that answer, as the vendor
// recommends. The HMAC already authenticates the IPN, so it is off by default.
func WithWebhookConfirmation() Option {
	return func(c *config) { c.confirmWebhooks = true }
}

// WithPaymentMethod maps a paykit method to an AppotaPay gateway
// paymentMethod (ATM, CC, EWALLET, VA, MM, ISTM or ALL) for checkouts
// without a wallet token, replacing the default mapping for that method.
func WithPaymentMethod(m payment.Method, appotaMethod string) Option {
	return func(c *config) {
		if c.methodMap == nil {
			c.methodMap = map[payment.Method]string{}
		}
		c.methodMap[m] = appotaMethod
	}
}

// Provider is the AppotaPay provider: linked e-wallet payments (with the OTP
// step), gateway v2 payments (hosted page or QR), status, refunds and IPN.
// It is safe for concurrent use.
type Provider struct {
	cred Config
	c    config
	// tokens holds wallet access tokens of payments waiting for an OTP.
	tokens *ttlCache[string]
	// actions holds next actions of gateway payments waiting for the
	// customer, to answer a retried Start.
	actions *ttlCache[payment.NextAction]
}

var (
	_ payment.Provider          = (*Provider)(nil)
	_ payment.Syncer            = (*Provider)(nil)
	_ payment.Refunder          = (*Provider)(nil)
	_ payment.RefundSyncer      = (*Provider)(nil)
	_ payment.Confirmer         = (*Provider)(nil)
	_ payment.CheckoutValidator = (*Provider)(nil)
)

// New returns a Provider. The three credentials are required.
func New(cfg Config, opts ...Option) (*Provider, error) {
	switch {
	case strings.TrimSpace(cfg.PartnerCode) == "":
		return nil, errors.New("appotapay: Config.PartnerCode is required")
	case strings.TrimSpace(cfg.APIKey) == "":
		return nil, errors.New("appotapay: Config.APIKey is required")
	case cfg.SecretKey == "":
		return nil, errors.New("appotapay: Config.SecretKey is required")
	}
	c := config{
		gatewayURL: SandboxGatewayURL,
		ewalletURL: SandboxEWalletURL,
		httpClient: &http.Client{Timeout: 30 * time.Second},
		logger:     zap.NewNop(),
		clock:      utcClock{},
		tokenTTL:   DefaultTokenTTL,
		pendingTTL: 15 * time.Minute,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tokenTTL <= 0 || c.tokenTTL > time.Hour {
		return nil, fmt.Errorf("appotapay: token TTL %s is outside (0, 1h]", c.tokenTTL)
	}
	if c.pendingTTL <= 0 {
		return nil, fmt.Errorf("appotapay: pending TTL %s must be positive", c.pendingTTL)
	}
	if c.language != "" && c.language != "vi" && c.language != "en" {
		return nil, fmt.Errorf("appotapay: language %q is not vi or en", c.language)
	}
	for _, u := range []string{c.gatewayURL, c.ewalletURL} {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return nil, fmt.Errorf("appotapay: base URL %q is not an http(s) URL", u)
		}
	}
	for m, am := range c.methodMap {
		if !validGatewayMethod(am) {
			return nil, fmt.Errorf("appotapay: paymentMethod %q for %s is not one of ATM, CC, EWALLET, VA, MM, ISTM, ALL", am, m)
		}
	}
	return &Provider{
		cred:    cfg,
		c:       c,
		tokens:  newTTLCache[string](),
		actions: newTTLCache[payment.NextAction](),
	}, nil
}

// Name returns "appotapay".
func (p *Provider) Name() string { return Name }

// Methods returns the methods the provider takes: ewallet (a linked wallet
// with a token, or the wallet list of the hosted page without one), card,
// qr and bank_transfer (through the hosted gateway).
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{payment.MethodEWallet, payment.MethodCard, payment.MethodQR, payment.MethodBankTransfer}
}

// Currencies returns VND.
func (p *Provider) Currencies() []string { return []string{Currency} }

func (p *Provider) now() time.Time { return p.c.clock.Now() }

type utcClock struct{}

func (utcClock) Now() time.Time { return time.Now().UTC() }

// vendorError is a non-200 answer: {"errorCode":..,"message":..,"errors":[..]}.
type vendorError struct {
	HTTPStatus int
	Code       int
	HasCode    bool
	Message    string
	Fields     []fieldError
}

type fieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// call sends one request and decodes a 200 answer into out. It returns a
// *vendorError for any other status, and a transport error (network,
// timeout, unreadable 200 body) as err: the outcome of those is unknown.
func (p *Provider) call(ctx context.Context, method, url string, body any, accessToken string, out any) (*vendorError, error) {
	var rdr io.Reader
	if body != nil {
		buf, err := marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rdr = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rdr)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	jwtToken, err := p.authToken()
	if err != nil {
		return nil, err
	}
	if p.c.bearerAuth {
		jwtToken = "Bearer " + jwtToken
	}
	req.Header.Set("X-APPOTAPAY-AUTH", jwtToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Request-ID", newRequestID())
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	if p.c.language != "" {
		req.Header.Set("X-Language", p.c.language)
	}
	if p.c.accountRefID != "" {
		req.Header.Set("X-Account-Ref-ID", p.c.accountRefID)
	}
	if p.c.limiter != nil {
		if err := p.c.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("rate limit: %w", err)
		}
	}
	resp, err := p.c.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return parseVendorError(resp.StatusCode, raw), nil
	}
	if out != nil {
		if err := unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode response: %w", err)
		}
	}
	return nil, nil
}

func parseVendorError(status int, raw []byte) *vendorError {
	ve := &vendorError{HTTPStatus: status}
	var body struct {
		ErrorCode flexInt      `json:"errorCode"`
		Message   string       `json:"message"`
		Errors    []fieldError `json:"errors"`
	}
	if err := unmarshal(raw, &body); err == nil && body.ErrorCode.Set {
		ve.Code = int(body.ErrorCode.Value)
		ve.HasCode = true
		ve.Message = truncate(body.Message, 200)
		if len(body.Errors) > 10 {
			body.Errors = body.Errors[:10]
		}
		ve.Fields = body.Errors
	}
	return ve
}

// retryable reports whether the outcome of the request that got ve is
// unknown or transient.
func (ve *vendorError) retryable() bool {
	if ve.HasCode {
		k := classify(ve.Code)
		return k == kindPending || k == kindUnknown || k == kindTryLater
	}
	return ve.HTTPStatus >= 500 || ve.HTTPStatus == http.StatusTooManyRequests ||
		ve.HTTPStatus == http.StatusRequestTimeout
}

// providerError turns ve into a *payment.ProviderError for op.
func (ve *vendorError) providerError(op string, cause error) *payment.ProviderError {
	pe := &payment.ProviderError{
		Provider:  Name,
		Op:        op,
		Retryable: ve.retryable(),
		Err:       cause,
	}
	if ve.HasCode {
		pe.Code = strconv.Itoa(ve.Code)
		pe.Message = ve.Message
		if pe.Message == "" {
			pe.Message = codeMessage(ve.Code)
		}
		for _, f := range ve.Fields {
			pe.Message += "; " + truncate(f.Field, 64) + ": " + truncate(f.Reason, 120)
		}
	} else {
		pe.Code = "http_" + strconv.Itoa(ve.HTTPStatus)
		pe.Message = http.StatusText(ve.HTTPStatus)
	}
	if cause == nil && ve.HasCode {
		pe.Err = causeFor(classify(ve.Code))
	}
	return pe
}

// transportError is a network failure, timeout or unreadable answer: the
// outcome is unknown.
func transportError(op string, err error) *payment.ProviderError {
	return &payment.ProviderError{Provider: Name, Op: op, Code: "transport", Retryable: true, Err: err}
}

// marshal encodes JSON without HTML escaping, so URLs with & reach the
// vendor as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// unmarshal decodes JSON keeping numbers exact.
func unmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// newRequestID returns a random UUIDv4 for X-Request-ID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// flexInt is an integer the vendor sends as a JSON number or a string
// (errorCode is documented both ways). Fractions are rejected unless zero;
// no float64 is involved.
type flexInt struct {
	Value int64
	Set   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*f = flexInt{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
		if s == "" {
			*f = flexInt{}
			return nil
		}
	}
	v, err := payment.ParseDecimal(s, 0)
	if err != nil {
		return err
	}
	*f = flexInt{Value: v, Set: true}
	return nil
}

// flexString is a string the vendor may send as a JSON number (time).
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
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
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// parseTime parses an RFC 3339 vendor timestamp; zero when absent or bad.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// ttlCache is a small in-memory map with expiry.
type ttlCache[V any] struct {
	mu sync.Mutex
	m  map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[V any]() *ttlCache[V] { return &ttlCache[V]{m: map[string]ttlEntry[V]{}} }

func (c *ttlCache[V]) put(k string, v V, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.m {
		if !now.Before(e.exp) {
			delete(c.m, key)
		}
	}
	c.m[k] = ttlEntry[V]{v: v, exp: now.Add(ttl)}
}

func (c *ttlCache[V]) get(k string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) del(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
