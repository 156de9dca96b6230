package villa

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
)

// Name is the provider's name in routes and records.
const Name = "villa"

// Flavor selects which of Villa's two documented API variants the provider
// speaks. The variants differ in base URL, authentication, response shape and
// the shape of the QR request; see the package documentation.
type Flavor string

// API flavors.
const (
	// FlavorMain is the "Main API" (api.villamarket.com): X-API-Key
	// authentication, responses in a {statusCode, body} envelope, QR
	// payments as {orderId, userId, amount, customerId}. The default.
	FlavorMain Flavor = "main"
	// FlavorPayment3 is the "payment3api" of the guide pages
	// (shop.villamarket.com/api/payment3api): an Authorization header
	// carrying a Cognito ID token, raw KBank order objects, QR payments as
	// {orderid, source}.
	FlavorPayment3 Flavor = "payment3"
)

// Environment selects the documented base URL of a flavor.
type Environment string

// Environments.
const (
	// Development is Villa's development environment. The default, so a
	// forgotten setting never moves real money.
	Development Environment = "development"
	// Sandbox is the main API's sandbox (api-sandbox.villamarket.com). The
	// payment3 flavor has none; it uses Development instead.
	Sandbox Environment = "sandbox"
	// Production moves real money.
	Production Environment = "production"
)

// Documented base URLs.
const (
	MainDevelopmentURL     = "https://api-dev.villamarket.com"
	MainSandboxURL         = "https://api-sandbox.villamarket.com"
	MainProductionURL      = "https://api.villamarket.com"
	Payment3DevelopmentURL = "https://shop.villamarket.com/api/payment3devapi"
	Payment3ProductionURL  = "https://shop.villamarket.com/api/payment3api"
)

// QRShape is the request body the provider sends to POST /qrpayment.
type QRShape string

// QR request shapes.
const (
	// QRShapeDefault picks the flavor's own shape: QRShapeMain for
	// FlavorMain, QRShapeOrder for FlavorPayment3.
	QRShapeDefault QRShape = ""
	// QRShapeMain sends {orderId, userId, amount, customerId} (plus source
	// and callback) in one call.
	QRShapeMain QRShape = "main"
	// QRShapeOrder first registers the order and its amount with POST
	// /kbank/createorder, then sends {orderid, source}.
	QRShapeOrder QRShape = "order"
)

// Documented rate limits: 1000 requests a minute per API key, bursts of 100.
const (
	DefaultRateLimit = rate.Limit(1000.0 / 60.0)
	DefaultBurst     = 100
)

// Config holds what a Villa merchant account needs. One of APIKey
// (FlavorMain) or TokenSource (FlavorPayment3) is required.
type Config struct {
	// Flavor is FlavorMain (the default when empty) or FlavorPayment3.
	Flavor Flavor
	// Environment is Development (the default when empty), Sandbox or
	// Production. WithBaseURL overrides it.
	Environment Environment
	// APIKey is sent as X-API-Key (FlavorMain).
	APIKey string
	// TokenSource supplies the Cognito ID token sent as Authorization
	// (FlavorPayment3). It is asked again when the token expires or Villa
	// answers 401.
	TokenSource TokenSource
	// WebhookSecret, when set, makes ParseWebhook require an HMAC
	// signature on every callback (see the package documentation for the
	// scheme). Callbacks are confirmed with GET /checkstatus either way.
	WebhookSecret string
	// KBankSecretKey, when set, makes ParseWebhook verify the checksum of
	// KBank notify bodies (charge objects) with this skey_... key.
	KBankSecretKey string
	// DefaultUserID is Villa's userId for payments without a customer id.
	// Empty means "guest".
	DefaultUserID string
}

// Provider is the Villa Payment API provider. It is safe for concurrent
// use.
type Provider struct {
	flavor         Flavor
	baseURL        string
	apiKey         string
	tokens         TokenSource
	webhookSecret  []byte
	kbankSecretKey string
	defaultUserID  string

	hc            *http.Client
	log           *zap.Logger
	clock         payment.Clock
	limiter       *rate.Limiter
	timeout       time.Duration
	attempts      int
	backoff       time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	qrShape       QRShape
	tolerance     time.Duration

	tokenMu sync.Mutex
	token   Token
}

var (
	_ payment.Provider          = (*Provider)(nil)
	_ payment.Syncer            = (*Provider)(nil)
	_ payment.Quoter            = (*Provider)(nil)
	_ payment.CheckoutValidator = (*Provider)(nil)
)

type settings struct {
	baseURL       string
	hc            *http.Client
	log           *zap.Logger
	clock         payment.Clock
	limit         rate.Limit
	burst         int
	timeout       time.Duration
	attempts      int
	backoff       time.Duration
	maxRetryAfter time.Duration
	qrShape       QRShape
	tolerance     time.Duration
}

// Option configures a Provider.
type Option func(*settings)

// WithBaseURL overrides the environment's base URL (a simulator, a proxy).
func WithBaseURL(u string) Option { return func(s *settings) { s.baseURL = u } }

// WithHTTPClient sets the HTTP client. Its Timeout, if any, applies on top
// of the per-request timeout.
func WithHTTPClient(c *http.Client) Option { return func(s *settings) { s.hc = c } }

// WithLogger sets the logger. Requests are logged at debug level without
// bodies or credentials.
func WithLogger(l *zap.Logger) Option { return func(s *settings) { s.log = l } }

// WithClock sets the clock used for token expiry and webhook timestamps.
func WithClock(c payment.Clock) Option { return func(s *settings) { s.clock = c } }

// WithRateLimit sets the client-side rate limit: limit requests a second
// with bursts of burst. The default is Villa's documented 1000 a minute
// with bursts of 100.
func WithRateLimit(limit rate.Limit, burst int) Option {
	return func(s *settings) { s.limit, s.burst = limit, burst }
}

// WithTimeout sets the timeout of each HTTP attempt (default 15 s).
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithRetry sets how many attempts a retry-safe request gets (default 3)
// and the first backoff (default 200 ms, doubling, with jitter, at most 5 s).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(s *settings) { s.attempts, s.backoff = attempts, backoff }
}

// WithMaxRetryAfter caps how long the provider waits when Villa answers 429
// with a Retry-After header (default 30 s). A longer wait fails the request
// with a retryable error instead.
func WithMaxRetryAfter(d time.Duration) Option { return func(s *settings) { s.maxRetryAfter = d } }

// WithQRShape overrides the flavor's QR request shape.
func WithQRShape(shape QRShape) Option { return func(s *settings) { s.qrShape = shape } }

// WithWebhookTolerance sets how far a signed callback's timestamp may be
// from now, either way (default 5 minutes).
func WithWebhookTolerance(d time.Duration) Option { return func(s *settings) { s.tolerance = d } }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// New returns a Villa provider for cfg.
func New(cfg Config, opts ...Option) (*Provider, error) {
	s := settings{
		limit:         DefaultRateLimit,
		burst:         DefaultBurst,
		timeout:       15 * time.Second,
		attempts:      3,
		backoff:       200 * time.Millisecond,
		maxRetryAfter: 30 * time.Second,
		tolerance:     5 * time.Minute,
	}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if cfg.Flavor == "" {
		cfg.Flavor = FlavorMain
	}
	if cfg.Environment == "" {
		cfg.Environment = Development
	}
	p := &Provider{
		flavor:         cfg.Flavor,
		apiKey:         cfg.APIKey,
		tokens:         cfg.TokenSource,
		kbankSecretKey: cfg.KBankSecretKey,
		defaultUserID:  cfg.DefaultUserID,
		hc:             s.hc,
		log:            s.log,
		clock:          s.clock,
		timeout:        s.timeout,
		attempts:       s.attempts,
		backoff:        s.backoff,
		maxBackoff:     5 * time.Second,
		maxRetryAfter:  s.maxRetryAfter,
		qrShape:        s.qrShape,
		tolerance:      s.tolerance,
	}
	if cfg.WebhookSecret != "" {
		p.webhookSecret = []byte(cfg.WebhookSecret)
	}
	if p.defaultUserID == "" {
		p.defaultUserID = "guest"
	}
	switch cfg.Flavor {
	case FlavorMain:
		if cfg.APIKey == "" && cfg.TokenSource == nil {
			return nil, errors.New("villa: Config.APIKey is required for the main API")
		}
	case FlavorPayment3:
		if cfg.TokenSource == nil && cfg.APIKey == "" {
			return nil, errors.New("villa: Config.TokenSource is required for payment3api")
		}
	default:
		return nil, fmt.Errorf("villa: unknown flavor %q", cfg.Flavor)
	}
	base, err := baseURLFor(cfg.Flavor, cfg.Environment)
	if err != nil {
		return nil, err
	}
	if s.baseURL != "" {
		base = s.baseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("villa: base URL %q is not an absolute http(s) URL", base)
	}
	p.baseURL = strings.TrimRight(base, "/")
	switch p.qrShape {
	case QRShapeDefault:
		p.qrShape = QRShapeMain
		if cfg.Flavor == FlavorPayment3 {
			p.qrShape = QRShapeOrder
		}
	case QRShapeMain, QRShapeOrder:
	default:
		return nil, fmt.Errorf("villa: unknown QR shape %q", p.qrShape)
	}
	if p.hc == nil {
		p.hc = &http.Client{}
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.clock == nil {
		p.clock = systemClock{}
	}
	if s.limit <= 0 || s.burst <= 0 {
		return nil, errors.New("villa: rate limit and burst must be positive")
	}
	p.limiter = rate.NewLimiter(s.limit, s.burst)
	if p.timeout <= 0 {
		return nil, errors.New("villa: timeout must be positive")
	}
	if p.attempts < 1 {
		return nil, errors.New("villa: retry attempts must be at least 1")
	}
	if p.backoff < 0 || p.maxRetryAfter < 0 || p.tolerance <= 0 {
		return nil, errors.New("villa: backoff, max Retry-After and webhook tolerance must not be negative")
	}
	return p, nil
}

func baseURLFor(f Flavor, env Environment) (string, error) {
	switch f {
	case FlavorMain:
		switch env {
		case Development:
			return MainDevelopmentURL, nil
		case Sandbox:
			return MainSandboxURL, nil
		case Production:
			return MainProductionURL, nil
		}
	case FlavorPayment3:
		switch env {
		case Development, Sandbox:
			return Payment3DevelopmentURL, nil
		case Production:
			return Payment3ProductionURL, nil
		}
	}
	return "", fmt.Errorf("villa: unknown environment %q", env)
}

// Name returns "villa".
func (p *Provider) Name() string { return Name }

// Methods returns card, qr and wechat.
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{payment.MethodCard, payment.MethodQR, payment.MethodWeChat}
}

// Currencies returns THB.
func (p *Provider) Currencies() []string { return []string{"THB"} }

// Flavor returns the API flavor the provider speaks.
func (p *Provider) Flavor() Flavor { return p.flavor }

// BaseURL returns the base URL the provider calls.
func (p *Provider) BaseURL() string { return p.baseURL }
