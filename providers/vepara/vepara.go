package vepara

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
)

// Name is the provider's name in routes and records.
const Name = "vepara"

// Hosts of the ccpayment platform. API paths are relative to them.
const (
	// TestBaseURL is Vepara's test host (the default).
	TestBaseURL = "https://test.vepara.com.tr/ccpayment"
	// LiveBaseURL is Vepara's live host.
	LiveBaseURL = "https://app.vepara.com.tr/ccpayment"
	// SipayTestBaseURL is Sipay's test host (same platform, same protocol).
	SipayTestBaseURL = "https://provisioning.sipay.com.tr/ccpayment"
	// SipayLiveBaseURL is Sipay's live host.
	SipayLiveBaseURL = "https://app.sipay.com.tr/ccpayment"
)

// Config holds the merchant's credentials, all required. They are secrets:
// they never reach a log or an error message.
type Config struct {
	// AppID is the application key of the merchant panel.
	AppID string
	// AppSecret is the application secret; it is also the hash_key key.
	AppSecret string
	// MerchantKey identifies the merchant ("$2y$10$...").
	MerchantKey string
}

// AmountFormat says how amounts (total, item prices, refund amounts) are
// written in the JSON body and, identically, inside the hash_key.
type AmountFormat int

const (
	// AmountShortest writes the shortest exact decimal, as PHP prints a
	// float and as the official PHP SDK sends it: 210, 250.35, 100.5.
	AmountShortest AmountFormat = iota
	// AmountTwoDecimals always writes two decimals, as the Node SDK does:
	// 210.00, 250.35, 100.50.
	AmountTwoDecimals
)

// Option configures a Provider.
type Option func(*config) error

type config struct {
	baseURL        string
	httpClient     *http.Client
	logger         *zap.Logger
	clock          payment.Clock
	limiter        *rate.Limiter
	currencies     []string
	amountFormat   AmountFormat
	saleWebhookKey string
	refundHookKey  string
	quoteBIN       string
	tokenMargin    time.Duration
}

// WithBaseURL sets the platform host, such as LiveBaseURL or a simulator's
// URL. The default is TestBaseURL.
func WithBaseURL(u string) Option {
	return func(c *config) error {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return errors.New("vepara: WithBaseURL: need an absolute http(s) URL")
		}
		c.baseURL = strings.TrimRight(u, "/")
		return nil
	}
}

// WithHTTPClient sets the HTTP client. The default has a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("vepara: WithHTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithLogger sets the logger. Card data, tokens and secrets are never
// logged.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("vepara: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// Clock tells the time; payment.Clock satisfies it.
type Clock = payment.Clock

// clockFunc adapts a function to Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// WithClock sets the clock the token cache reads.
func WithClock(clock Clock) Option {
	return func(c *config) error {
		if clock == nil {
			return errors.New("vepara: WithClock: nil clock")
		}
		c.clock = clock
		return nil
	}
}

// WithClockFunc sets the clock from a function such as time.Now.
func WithClockFunc(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("vepara: WithClockFunc: nil function")
		}
		c.clock = clockFunc(now)
		return nil
	}
}

// WithRateLimit limits outgoing requests to r per second with bursts of
// burst. The platform documents no limit; the default is none.
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *config) error {
		if r <= 0 || burst <= 0 {
			return errors.New("vepara: WithRateLimit: rate and burst must be positive")
		}
		c.limiter = rate.NewLimiter(r, burst)
		return nil
	}
}

// WithCurrencies sets the currencies the merchant account accepts. The
// default is TRY only; USD and EUR are possible where the merchant's POS
// allows them.
func WithCurrencies(codes ...string) Option {
	return func(c *config) error {
		if len(codes) == 0 {
			return errors.New("vepara: WithCurrencies: no currency")
		}
		for _, code := range codes {
			if _, err := payment.CurrencyExponent(code); err != nil {
				return fmt.Errorf("vepara: WithCurrencies: %w", err)
			}
		}
		c.currencies = slices.Clone(codes)
		return nil
	}
}

// WithAmountFormat sets how amounts are written (default AmountShortest).
func WithAmountFormat(f AmountFormat) Option {
	return func(c *config) error {
		if f != AmountShortest && f != AmountTwoDecimals {
			return errors.New("vepara: WithAmountFormat: unknown format")
		}
		c.amountFormat = f
		return nil
	}
}

// WithSaleWebhookKey sets the key (name) under which the sale webhook URL is
// registered in the merchant panel (API settings). It is sent with every
// sale as sale_web_hook_key (sale_webhook_key on the marketplace endpoint).
// Without it the platform sends no sale webhook: the platform takes no URL
// per payment, so StartRequest.NotifyURL cannot be used.
func WithSaleWebhookKey(key string) Option {
	return func(c *config) error {
		c.saleWebhookKey = key
		return nil
	}
}

// WithRefundWebhookKey sets the panel key of the refund webhook URL, sent
// with every refund as refund_web_hook_key.
func WithRefundWebhookKey(key string) Option {
	return func(c *config) error {
		c.refundHookKey = key
		return nil
	}
}

// WithQuoteBIN sets the card BIN (first 6 digits) Quote asks getpos about.
// The default is 450803, a Turkish Visa credit card: quotes are estimates
// for such a card, since payment.QuoteRequest carries no card. Use
// QuoteCard for a specific card.
func WithQuoteBIN(bin string) Option {
	return func(c *config) error {
		if len(bin) < 6 || len(bin) > 8 || !allDigits(bin) {
			return errors.New("vepara: WithQuoteBIN: need 6 to 8 digits")
		}
		c.quoteBIN = bin
		return nil
	}
}

// WithTokenRefreshMargin sets how long before its expiry the API token is
// renewed (default 10 minutes, at most a quarter of the token's life).
func WithTokenRefreshMargin(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("vepara: WithTokenRefreshMargin: negative margin")
		}
		c.tokenMargin = d
		return nil
	}
}

// Provider is the Vepara card provider: the non-secure marketplace sale
// with sub-merchant splits, the plain 2D sale, pre-authorization, status,
// refunds, instalment quotes and sub-merchant management. It is safe for
// concurrent use.
type Provider struct {
	cred  Config
	cfg   *config
	log   *zap.Logger
	token tokenCache
}

// Compile-time checks of the capabilities.
var (
	_ payment.Provider          = (*Provider)(nil)
	_ payment.Syncer            = (*Provider)(nil)
	_ payment.Refunder          = (*Provider)(nil)
	_ payment.RefundSyncer      = (*Provider)(nil)
	_ payment.Canceler          = (*Provider)(nil)
	_ payment.Capturer          = (*Provider)(nil)
	_ payment.Quoter            = (*Provider)(nil)
	_ payment.CheckoutValidator = (*Provider)(nil)
)

// New returns a Provider for the merchant's credentials.
func New(cred Config, opts ...Option) (*Provider, error) {
	switch {
	case cred.AppID == "":
		return nil, errors.New("vepara: New: AppID is required")
	case cred.AppSecret == "":
		return nil, errors.New("vepara: New: AppSecret is required")
	case cred.MerchantKey == "":
		return nil, errors.New("vepara: New: MerchantKey is required")
	}
	cfg := &config{
		baseURL:     TestBaseURL,
		httpClient:  &http.Client{Timeout: 30 * time.Second},
		logger:      zap.NewNop(),
		clock:       clockFunc(time.Now),
		currencies:  []string{"TRY"},
		quoteBIN:    "450803",
		tokenMargin: 10 * time.Minute,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	return &Provider{cred: cred, cfg: cfg, log: cfg.logger.Named(Name)}, nil
}

// Name returns "vepara".
func (p *Provider) Name() string { return Name }

// Methods returns card.
func (p *Provider) Methods() []payment.Method { return []payment.Method{payment.MethodCard} }

// Currencies returns the configured currencies (TRY by default).
func (p *Provider) Currencies() []string { return slices.Clone(p.cfg.currencies) }

func (p *Provider) now() time.Time { return p.cfg.clock.Now() }

// formatAmount writes minor units the configured way.
func (p *Provider) formatAmount(minor int64, currency string) (string, error) {
	exp, err := payment.CurrencyExponent(currency)
	if err != nil {
		return "", err
	}
	if p.cfg.amountFormat == AmountTwoDecimals {
		return payment.FormatDecimal(minor, exp, exp), nil
	}
	return payment.FormatShortest(minor, exp), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
