package payplus

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
)

// Name is the provider's name in routes and records.
const Name = "payplus"

// Currency is the only currency Pay-Plus settles in.
const Currency = "THB"

// Config holds what Pay-Plus issues to a merchant.
type Config struct {
	// BaseURL is the API root issued with the account, including the
	// version path: "https://<host>/api/v1". WithBaseURL overrides it.
	BaseURL string
	// MerchantID is the merchant id bound to the API key (main_username).
	MerchantID string
	// APIKey is sent in the x-api-key header and is the key of every JWT
	// signature, in both directions. It never appears in logs or errors.
	APIKey string
}

// Paths are the request paths, relative to the base URL. Only Deposit and
// Sign are documented; the others are the proposed defaults (see the
// package documentation). Empty fields keep their defaults.
type Paths struct {
	Deposit  string // POST; default "/deposit"
	Withdraw string // POST; default "/withdraw"
	Balance  string // default "/balance", with BalanceMethod
	Query    string // POST; default "/order/query"
	Banks    string // GET; default "/banks"
	Health   string // GET; default "/health"
	Sign     string // POST; default "/jwt/create" (the simulator's tests use it)
	// BalanceMethod is "POST" (default, signed JSON body) or "GET" (the
	// signed parameters in the query string).
	BalanceMethod string
}

// DefaultPaths returns the documented and proposed paths.
func DefaultPaths() Paths {
	return Paths{
		Deposit:       "/deposit",
		Withdraw:      "/withdraw",
		Balance:       "/balance",
		Query:         "/order/query",
		Banks:         "/banks",
		Health:        "/health",
		Sign:          "/jwt/create",
		BalanceMethod: http.MethodPost,
	}
}

func (p Paths) withDefaults() Paths {
	d := DefaultPaths()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&p.Deposit, d.Deposit)
	set(&p.Withdraw, d.Withdraw)
	set(&p.Balance, d.Balance)
	set(&p.Query, d.Query)
	set(&p.Banks, d.Banks)
	set(&p.Health, d.Health)
	set(&p.Sign, d.Sign)
	set(&p.BalanceMethod, d.BalanceMethod)
	p.BalanceMethod = strings.ToUpper(p.BalanceMethod)
	return p
}

// Option configures a Provider.
type Option func(*config)

type config struct {
	baseURL         string
	client          *http.Client
	logger          *zap.Logger
	clock           payment.Clock
	limiter         *rate.Limiter
	paths           Paths
	millis          bool
	tolerance       time.Duration
	callbackURL     string
	lenientCallback bool
}

// WithBaseURL sets the API root ("https://<host>/api/v1"), overriding
// Config.BaseURL.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithHTTPClient sets the HTTP client. The default has a 30 s timeout.
func WithHTTPClient(h *http.Client) Option { return func(c *config) { c.client = h } }

// WithLogger sets the logger. Requests are logged at debug level without
// bodies, keys or signatures.
func WithLogger(l *zap.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock used for request timestamps and for checking
// callback timestamps.
func WithClock(clk payment.Clock) Option { return func(c *config) { c.clock = clk } }

// WithRateLimit limits outgoing requests to r per second with bursts of
// burst. Pay-Plus publishes no limit, so there is none by default.
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *config) { c.limiter = rate.NewLimiter(r, burst) }
}

// WithPaths overrides request paths; empty fields keep the defaults.
func WithPaths(p Paths) Option { return func(c *config) { c.paths = p } }

// WithMillisecondTimestamps sends request timestamps in Unix milliseconds
// instead of seconds (the documentation allows either, "consistent with
// signing").
func WithMillisecondTimestamps() Option { return func(c *config) { c.millis = true } }

// WithCallbackTolerance sets how far a callback's timestamp may be from
// now, both ways. The default is 5 minutes; zero or less turns the check
// off (for vendors that retry callbacks with their original timestamp).
func WithCallbackTolerance(d time.Duration) Option { return func(c *config) { c.tolerance = d } }

// WithCallbackURL sets the callback URL used when a request carries no
// NotifyURL.
func WithCallbackURL(u string) Option { return func(c *config) { c.callbackURL = u } }

// WithLenientCallbackClaims accepts a callback whose JWT covers only some
// of its fields, provided every signed claim equals the body's field and
// every field paykit acts on is signed. By default the claims must equal
// the body's fields exactly.
func WithLenientCallbackClaims() Option { return func(c *config) { c.lenientCallback = true } }

type sysClock struct{}

func (sysClock) Now() time.Time { return time.Now().UTC() }

// Provider is the Pay-Plus provider: QR and bank-transfer deposits as
// payments, withdrawals as payouts, the balance, order queries as sync.
// It is safe for concurrent use.
type Provider struct {
	cfg             Config
	baseURL         string
	client          *http.Client
	log             *zap.Logger
	clock           payment.Clock
	limiter         *rate.Limiter
	paths           Paths
	millis          bool
	tolerance       time.Duration
	callbackURL     string
	lenientCallback bool
	exponent        int
}

var (
	_ payment.Provider          = (*Provider)(nil)
	_ payment.Syncer            = (*Provider)(nil)
	_ payment.Payouter          = (*Provider)(nil)
	_ payment.BalanceReader     = (*Provider)(nil)
	_ payment.CheckoutValidator = (*Provider)(nil)
	_ payment.PayoutValidator   = (*Provider)(nil)
)

// New returns a Provider for the merchant in cfg. MerchantID and APIKey are
// required, and so is a base URL (Config.BaseURL or WithBaseURL): Pay-Plus
// issues a host per merchant.
func New(cfg Config, opts ...Option) (*Provider, error) {
	c := config{
		baseURL:   cfg.BaseURL,
		tolerance: 5 * time.Minute,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if strings.TrimSpace(cfg.MerchantID) == "" {
		return nil, errors.New("payplus: Config.MerchantID is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("payplus: Config.APIKey is required")
	}
	if c.baseURL == "" {
		return nil, errors.New("payplus: a base URL is required (Config.BaseURL or WithBaseURL)")
	}
	u, err := url.Parse(c.baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("payplus: base URL %q is not an absolute http(s) URL", c.baseURL)
	}
	if c.callbackURL != "" {
		if err := checkCallbackURL(c.callbackURL); err != nil {
			return nil, fmt.Errorf("payplus: callback URL: %w", err)
		}
	}
	paths := c.paths.withDefaults()
	if paths.BalanceMethod != http.MethodGet && paths.BalanceMethod != http.MethodPost {
		return nil, fmt.Errorf("payplus: balance method %q is not GET or POST", paths.BalanceMethod)
	}
	exp, err := payment.CurrencyExponent(Currency)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:             cfg,
		baseURL:         strings.TrimRight(c.baseURL, "/"),
		client:          c.client,
		log:             c.logger,
		clock:           c.clock,
		limiter:         c.limiter,
		paths:           paths,
		millis:          c.millis,
		tolerance:       c.tolerance,
		callbackURL:     c.callbackURL,
		lenientCallback: c.lenientCallback,
		exponent:        exp,
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 30 * time.Second}
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.clock == nil {
		p.clock = sysClock{}
	}
	return p, nil
}

// Name returns "payplus".
func (p *Provider) Name() string { return Name }

// Methods returns qr and bank_transfer.
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{payment.MethodQR, payment.MethodBankTransfer}
}

// Currencies returns THB.
func (p *Provider) Currencies() []string { return []string{Currency} }

// MerchantID returns the configured merchant id.
func (p *Provider) MerchantID() string { return p.cfg.MerchantID }

func checkCallbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}
