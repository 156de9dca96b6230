package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// Defaults, documented in the package comment.
const (
	// DefaultName is the provider's name unless WithName says otherwise.
	DefaultName = "sandbox"
	// DefaultWebhookSecret signs callbacks unless WithWebhookSecret says
	// otherwise. It is a test secret: it protects nothing.
	DefaultWebhookSecret = "whsec_sandbox_test_secret" //nolint:gosec // a published test secret, not a credential
	// DefaultQRTTL is how long a qr or bank_transfer payment waits for the
	// customer.
	DefaultQRTTL = 15 * time.Minute
	// DefaultTolerance is how far a callback's timestamp may be from now,
	// either way.
	DefaultTolerance = 300 * time.Second
	// DefaultPromptPayID is the PromptPay number in the sandbox's QR codes.
	DefaultPromptPayID = "0812345678"
)

// Test cards and tokens. Every other card number is rejected as invalid
// input.
const (
	CardVisa              = "4111111111111111" // succeeds
	CardMastercard        = "5555555555554444" // succeeds
	CardAmex              = "378282246310005"  // succeeds
	CardDeclined          = "4000000000000002" // fails with card_declined
	CardInsufficientFunds = "4000000000009995" // fails with insufficient_funds
	CardTimeout           = "4000000000000119" // Start times out; the charge succeeded
	// TokenOTP as StartRequest.PaymentToken needs an OTP: the payment is
	// requires_action with an otp next action until Confirm gets OTPCode.
	TokenOTP = "tok_otp"
	// TokenVisa as StartRequest.PaymentToken succeeds like CardVisa.
	TokenVisa = "tok_visa"
	// OTPCode is the only OTP Confirm accepts.
	OTPCode = "123456"
)

// Provider is the sandbox payment provider. It is safe for concurrent use.
// Close it to stop background callback retries.
type Provider struct {
	cfg config

	ctx    context.Context // ends on Close; bounds background deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeMu sync.Mutex // orders wg.Add against Close
	closed  bool

	// A charge is found by its payment's id; its reference is derived from
	// that id (see chargeRef), and paykit's idempotency key for a Start is
	// the payment's id, so one map entry serves a charge in the usual case.
	// byKey and keyCalls hold only keys that are not their payment's id.
	mu        sync.Mutex
	charges   map[string]*charge // by paykit payment id
	byKey     map[string]*charge // by idempotency key, when not the payment id
	keyCalls  map[string]int     // Start calls by idempotency key, when not the payment id
	created   int                // provider-side charges created
	refunds   map[string]*refund // by paykit refund id
	refundKey map[string]*refund // by idempotency key
	payouts   map[string]*payout // by paykit payout id
	payoutKey map[string]*payout // by idempotency key
	payoutRef map[string]*payout // by provider reference
	available map[string]int64   // by currency
	held      map[string]int64   // authorized, not captured, by currency
}

var (
	_ payment.Provider          = (*Provider)(nil)
	_ payment.Syncer            = (*Provider)(nil)
	_ payment.Refunder          = (*Provider)(nil)
	_ payment.RefundSyncer      = (*Provider)(nil)
	_ payment.Canceler          = (*Provider)(nil)
	_ payment.Capturer          = (*Provider)(nil)
	_ payment.Confirmer         = (*Provider)(nil)
	_ payment.Payouter          = (*Provider)(nil)
	_ payment.BalanceReader     = (*Provider)(nil)
	_ payment.Quoter            = (*Provider)(nil)
	_ payment.CheckoutValidator = (*Provider)(nil)
	_ payment.PayoutValidator   = (*Provider)(nil)
)

type config struct {
	name          string
	currencies    []string
	clock         payment.Clock
	secret        string
	tolerance     time.Duration
	client        *http.Client
	deliver       func(ctx context.Context, req *payment.WebhookRequest) error
	qrTTL         time.Duration
	qrImage       bool
	promptPayID   string
	account       payment.BankAccount
	logger        *zap.Logger
	attempts      int
	backoff       time.Duration
	openingByCurr map[string]int64
}

// Option configures a Provider.
type Option func(*config) error

// WithName sets the provider's name (default "sandbox"), so several
// sandboxes can be registered side by side.
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("sandbox: empty name")
		}
		c.name = name
		return nil
	}
}

// WithCurrencies sets the supported currencies (default THB, VND, TRY, USD,
// EUR): upper-case ISO 4217 codes.
func WithCurrencies(codes ...string) Option {
	return func(c *config) error {
		if len(codes) == 0 {
			return errors.New("sandbox: no currencies")
		}
		for _, code := range codes {
			if _, err := payment.CurrencyExponent(code); err != nil {
				return fmt.Errorf("sandbox: currency: %w", err)
			}
		}
		c.currencies = slices.Clone(codes)
		return nil
	}
}

// WithClock sets the clock for expiries and callback timestamps.
func WithClock(clock payment.Clock) Option {
	return func(c *config) error {
		if clock == nil {
			return errors.New("sandbox: nil clock")
		}
		c.clock = clock
		return nil
	}
}

// WithWebhookSecret sets the secret callbacks are signed with (default
// DefaultWebhookSecret).
func WithWebhookSecret(secret string) Option {
	return func(c *config) error {
		if secret == "" {
			return errors.New("sandbox: empty webhook secret")
		}
		c.secret = secret
		return nil
	}
}

// WithTolerance sets how far a callback's timestamp may be from the clock,
// either way (default 300 s).
func WithTolerance(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("sandbox: tolerance must be positive")
		}
		c.tolerance = d
		return nil
	}
}

// WithHTTPClient sets the client callbacks are POSTed with (default: a
// client with a 10 s timeout).
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("sandbox: nil HTTP client")
		}
		c.client = client
		return nil
	}
}

// WithDeliver delivers callbacks to fn, in process, instead of POSTing them
// to the notify URL. A non-nil error is retried like a failed POST.
func WithDeliver(fn func(ctx context.Context, req *payment.WebhookRequest) error) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("sandbox: nil deliver function")
		}
		c.deliver = fn
		return nil
	}
}

// WithQRTTL sets how long a qr or bank_transfer payment waits for the
// customer (default 15 minutes).
func WithQRTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("sandbox: QR TTL must be positive")
		}
		c.qrTTL = d
		return nil
	}
}

// WithQRImage turns the PNG QR image (a data:image/png;base64 URL in
// qr_image) in display_qr next actions on or off (the default: the QR
// payload alone, which is what a page renders; the PNG costs about 1 ms and
// a few kilobytes in every stored payment and event).
func WithQRImage(on bool) Option {
	return func(c *config) error {
		c.qrImage = on
		return nil
	}
}

// WithPromptPayID sets the PromptPay mobile number (10 digits starting with
// 0) the THB QR codes pay (default DefaultPromptPayID).
func WithPromptPayID(id string) Option {
	return func(c *config) error {
		if len(id) != 10 || id[0] != '0' || !allDigits(id) {
			return errors.New("sandbox: PromptPay id must be a 10-digit mobile number starting with 0")
		}
		c.promptPayID = id
		return nil
	}
}

// WithMerchantAccount sets the bank account bank_transfer payments are paid
// into (default SANDBOX 0000000001 "paykit sandbox merchant").
func WithMerchantAccount(acct payment.BankAccount) Option {
	return func(c *config) error {
		if acct.BankCode == "" || acct.Number == "" || acct.Name == "" {
			return errors.New("sandbox: merchant account needs bank code, number and name")
		}
		c.account = acct
		return nil
	}
}

// WithLogger sets the logger (default: none). It logs callback delivery
// failures, never secrets or card data.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("sandbox: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithDeliveryRetry sets how many times a callback is attempted in all
// (default 6) and the first retry delay, doubled after each failure
// (default 1 s).
func WithDeliveryRetry(attempts int, backoff time.Duration) Option {
	return func(c *config) error {
		if attempts < 1 || backoff <= 0 {
			return errors.New("sandbox: delivery retry needs at least 1 attempt and a positive backoff")
		}
		c.attempts, c.backoff = attempts, backoff
		return nil
	}
}

// WithOpeningBalance credits amount minor units of currency to the
// merchant's available balance, so payouts can be tried at once.
func WithOpeningBalance(currency string, amount int64) Option {
	return func(c *config) error {
		if _, err := payment.CurrencyExponent(currency); err != nil {
			return fmt.Errorf("sandbox: opening balance: %w", err)
		}
		if amount < 0 {
			return errors.New("sandbox: opening balance must not be negative")
		}
		c.openingByCurr[currency] = amount
		return nil
	}
}

// New returns a sandbox provider.
func New(opts ...Option) (*Provider, error) {
	cfg := config{
		name:        DefaultName,
		currencies:  []string{"THB", "VND", "TRY", "USD", "EUR"},
		clock:       systemClock{},
		secret:      DefaultWebhookSecret,
		tolerance:   DefaultTolerance,
		client:      &http.Client{Timeout: 10 * time.Second},
		qrTTL:       DefaultQRTTL,
		qrImage:     false,
		promptPayID: DefaultPromptPayID,
		account: payment.BankAccount{
			BankCode: "SANDBOX", Number: "0000000001", Name: "paykit sandbox merchant",
		},
		logger:        zap.NewNop(),
		attempts:      6,
		backoff:       time.Second,
		openingByCurr: map[string]int64{},
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	for cur := range cfg.openingByCurr {
		if !slices.Contains(cfg.currencies, cur) {
			return nil, fmt.Errorf("sandbox: opening balance in %s, which is not a configured currency", cur)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{
		cfg:       cfg,
		ctx:       ctx,
		cancel:    cancel,
		charges:   map[string]*charge{},
		byKey:     map[string]*charge{},
		keyCalls:  map[string]int{},
		refunds:   map[string]*refund{},
		refundKey: map[string]*refund{},
		payouts:   map[string]*payout{},
		payoutKey: map[string]*payout{},
		payoutRef: map[string]*payout{},
		available: map[string]int64{},
		held:      map[string]int64{},
	}
	for cur, amt := range cfg.openingByCurr {
		p.available[cur] = amt
	}
	return p, nil
}

// Close stops callback retries still waiting in the background and waits
// for them to return. The provider keeps working otherwise.
func (p *Provider) Close() error {
	p.closeMu.Lock()
	p.closed = true
	p.closeMu.Unlock()
	p.cancel()
	p.wg.Wait()
	return nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.cfg.name }

// Methods returns card, qr and bank_transfer.
func (p *Provider) Methods() []payment.Method {
	return []payment.Method{payment.MethodCard, payment.MethodQR, payment.MethodBankTransfer}
}

// Currencies returns the configured currencies.
func (p *Provider) Currencies() []string { return slices.Clone(p.cfg.currencies) }

// Charges returns how many provider-side charges Start created: a retried
// or concurrent Start with the same idempotency key creates none.
func (p *Provider) Charges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.created
}

// ChargesFor returns how many provider-side charges Start created for the
// payment paymentID: 1 once started, however often Start was called.
func (p *Provider) ChargesFor(paymentID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.charges[paymentID] != nil {
		return 1 // Start finds the payment's charge before it creates one
	}
	return 0
}

// StartCalls returns how many times Start was called with the idempotency
// key.
func (p *Provider) StartCalls(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.keyCalls[key]
	if c := p.charges[key]; c != nil {
		n += c.ownKeyCalls
	}
	return n
}

func (p *Provider) now() time.Time { return p.cfg.clock.Now().UTC() }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// charge is the sandbox's record of a payment.
type charge struct {
	paymentID string
	orderID   string
	ref       string
	method    payment.Method
	amount    int64
	currency  string
	capture   payment.CaptureMethod
	status    payment.Status
	captured  int64
	refunded  int64
	failure   *payment.Failure
	next      *payment.NextAction
	expiresAt *time.Time
	card      *payment.CardSummary
	notifyURL string
	// ownKeyCalls counts the Start calls whose idempotency key was the
	// payment's id.
	ownKeyCalls int
}

func (c *charge) state() *payment.PaymentState {
	st := &payment.PaymentState{
		Status:            c.status,
		ProviderReference: c.ref,
	}
	if c.status == payment.StatusRequiresAction && c.next != nil {
		na := *c.next
		if c.next.BankAccount != nil {
			ba := *c.next.BankAccount
			na.BankAccount = &ba
		}
		na.ExpiresAt = cloneTime(c.next.ExpiresAt)
		st.NextAction = &na
	}
	if c.failure != nil {
		f := *c.failure
		st.Failure = &f
	}
	if c.status == payment.StatusAuthorized || c.status.Paid() {
		st.Amount = &payment.Money{Amount: c.amount, Currency: c.currency}
	}
	if c.status.Paid() && c.captured != c.amount {
		captured := c.captured
		st.AmountCaptured = &captured
	}
	st.ExpiresAt = cloneTime(c.expiresAt)
	if c.card != nil {
		cs := *c.card
		st.Card = &cs
	}
	return st
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// expireLocked moves a charge whose chance to pay has run out to expired.
func (p *Provider) expireLocked(c *charge) {
	if c.expiresAt == nil || c.status != payment.StatusRequiresAction || p.now().Before(*c.expiresAt) {
		return
	}
	c.status = payment.StatusExpired
	c.failure = &payment.Failure{Code: payment.FailureExpired, Message: "the customer did not pay in time"}
	c.next = nil
}

func providerErr(name, op, code, msg string, err error) *payment.ProviderError {
	return &payment.ProviderError{Provider: name, Op: op, Code: code, Message: msg, Err: err}
}

// Start starts a payment. It is idempotent on req.IdempotencyKey (or, when
// that is empty, the payment id): a repeated call returns the charge's
// current state and creates no second charge. See the package comment for
// what each method and test card does.
func (p *Provider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "start", Code: "canceled", Retryable: true, Err: err}
	}
	if err := p.ValidateCheckout(req); err != nil {
		return nil, providerErr(p.cfg.name, "start", "invalid_request", "", err)
	}
	key := req.IdempotencyKey
	if key == "" {
		key = req.Payment.ID
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	ownKey := key == req.Payment.ID
	var c *charge
	if !ownKey {
		p.keyCalls[key]++
		c = p.byKey[key]
	}
	if c == nil {
		c = p.charges[req.Payment.ID]
	}
	if c != nil {
		if ownKey {
			c.ownKeyCalls++
		}
		p.expireLocked(c)
		return c.state(), nil
	}

	c = p.newChargeLocked(req)
	p.created++
	p.charges[c.paymentID] = c
	if ownKey {
		c.ownKeyCalls = 1
	} else {
		p.byKey[key] = c
	}
	if req.Card != nil && req.Card.Number == CardTimeout {
		return nil, &payment.ProviderError{
			Provider: p.cfg.name, Op: "start", Code: "timeout", Retryable: true,
			Message: "the sandbox timed out (test card ending 0119); the charge went through, sync to see it",
		}
	}
	return c.state(), nil
}

func (p *Provider) newChargeLocked(req *payment.StartRequest) *charge {
	pay := req.Payment
	capture := pay.CaptureMethod
	if capture == "" {
		capture = payment.CaptureAutomatic
	}
	c := &charge{
		paymentID: pay.ID,
		orderID:   pay.OrderID,
		ref:       chargeRef(pay.ID),
		method:    pay.Method,
		amount:    pay.Amount,
		currency:  pay.Currency,
		capture:   capture,
		notifyURL: req.NotifyURL,
	}
	switch pay.Method {
	case payment.MethodCard:
		if req.Card != nil {
			c.card = req.Card.Summary()
		}
		number := ""
		if req.Card != nil {
			number = req.Card.Number
		}
		switch {
		case req.PaymentToken == TokenOTP:
			c.status = payment.StatusRequiresAction
			c.next = &payment.NextAction{Type: payment.NextActionOTP}
		case number == CardDeclined:
			c.status = payment.StatusFailed
			c.failure = &payment.Failure{Code: payment.FailureCardDeclined, Message: "the card was declined"}
		case number == CardInsufficientFunds:
			c.status = payment.StatusFailed
			c.failure = &payment.Failure{Code: payment.FailureInsufficientFunds, Message: "the card has insufficient funds"}
		default: // the succeeding cards, tok_visa and the timeout card
			p.succeedLocked(c)
		}
	case payment.MethodQR, payment.MethodBankTransfer:
		exp := p.now().Add(p.cfg.qrTTL)
		c.expiresAt = &exp
		c.status = payment.StatusRequiresAction
		c.next = p.qrAction(c, exp)
	case payment.MethodWeChat, payment.MethodEWallet:
		// Rejected by ValidateCheckout; never reached.
	}
	return c
}

// succeedLocked authorizes or captures c, per its capture method, and
// books the money.
func (p *Provider) succeedLocked(c *charge) {
	c.next = nil
	c.failure = nil
	if c.capture == payment.CaptureManual {
		c.status = payment.StatusAuthorized
		p.held[c.currency] += c.amount
		return
	}
	c.status = payment.StatusSucceeded
	c.captured = c.amount
	p.available[c.currency] += c.amount
}

// lookupLocked finds the charge for a payment by its id or reference.
func (p *Provider) lookupLocked(pay *payment.Payment) *charge {
	if pay == nil {
		return nil
	}
	if c := p.charges[pay.ID]; c != nil {
		return c
	}
	if id, ok := strings.CutPrefix(pay.ProviderReference, chargeRefPrefix); ok {
		// The charge's payment id is the reference's tail with or without
		// the payment prefix (chargeRef trims it only when present).
		for _, pid := range [...]string{payment.PrefixPayment + id, id} {
			if c := p.charges[pid]; c != nil && c.ref == pay.ProviderReference {
				return c
			}
		}
	}
	return nil
}

// chargeRefPrefix starts every sandbox charge's reference.
const chargeRefPrefix = "sbx_ch_"

// chargeRef is the reference of the charge for the payment paymentID: the
// id's random part under the sandbox's prefix, so that the charge is found
// by its reference without an index of its own.
func chargeRef(paymentID string) string {
	return chargeRefPrefix + strings.TrimPrefix(paymentID, payment.PrefixPayment)
}

func (p *Provider) notFound(op, id string) error {
	return providerErr(p.cfg.name, op, "not_found", "no sandbox charge for "+id, payment.ErrNotFound)
}

func (p *Provider) invalidState(op string, st payment.Status) error {
	return providerErr(p.cfg.name, op, "invalid_state", "the charge is "+string(st), payment.ErrInvalidState)
}

// Sync returns the charge's current state. A payment Start never reached
// is an error wrapping payment.ErrNotFound: it was not paid.
func (p *Provider) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "sync", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.lookupLocked(pay)
	if c == nil {
		return nil, p.notFound("sync", pay.ID)
	}
	p.expireLocked(c)
	return c.state(), nil
}

// Cancel cancels a payment that has not succeeded: a pending, waiting or
// processing one, or an authorization (voided, releasing the hold).
// Canceling a canceled payment returns its state again.
func (p *Provider) Cancel(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "cancel", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.lookupLocked(pay)
	if c == nil {
		return nil, p.notFound("cancel", pay.ID)
	}
	p.expireLocked(c)
	switch c.status {
	case payment.StatusCanceled:
		return c.state(), nil
	case payment.StatusAuthorized:
		p.held[c.currency] -= c.amount
	case payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing:
	case payment.StatusSucceeded, payment.StatusPartiallyRefunded, payment.StatusRefunded,
		payment.StatusFailed, payment.StatusExpired:
		return nil, p.invalidState("cancel", c.status)
	}
	c.status = payment.StatusCanceled
	c.next = nil
	c.failure = &payment.Failure{Code: payment.FailureCanceled, Message: "canceled by the merchant"}
	return c.state(), nil
}

// Capture captures an authorized payment: all of it when amount is zero
// or negative, otherwise amount minor units (at most the authorized
// amount; the rest is released). Repeating a capture that succeeded
// returns its state again.
func (p *Provider) Capture(ctx context.Context, pay *payment.Payment, amount int64) (*payment.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "capture", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.lookupLocked(pay)
	if c == nil {
		return nil, p.notFound("capture", pay.ID)
	}
	if amount <= 0 {
		amount = c.amount
	}
	if c.status == payment.StatusSucceeded && c.capture == payment.CaptureManual && c.captured == amount {
		return c.state(), nil
	}
	if c.status != payment.StatusAuthorized {
		return nil, p.invalidState("capture", c.status)
	}
	if amount > c.amount {
		return nil, providerErr(p.cfg.name, "capture", "amount_too_large", "",
			payment.InvalidField("amount", "must not exceed the authorized amount"))
	}
	p.held[c.currency] -= c.amount
	p.available[c.currency] += amount
	c.captured = amount
	c.status = payment.StatusSucceeded
	return c.state(), nil
}

// Confirm finishes a payment waiting for an OTP (PaymentToken "tok_otp").
// OTPCode succeeds (or authorizes, for manual capture); any other code is
// an error wrapping payment.ErrInvalidInput and leaves the payment waiting.
func (p *Provider) Confirm(ctx context.Context, pay *payment.Payment, conf *payment.Confirmation) (*payment.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "confirm", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.lookupLocked(pay)
	if c == nil {
		return nil, p.notFound("confirm", pay.ID)
	}
	if c.status != payment.StatusRequiresAction || c.next == nil || c.next.Type != payment.NextActionOTP {
		return nil, p.invalidState("confirm", c.status)
	}
	if conf == nil || conf.OTP != OTPCode {
		return nil, fmt.Errorf("sandbox: confirm %s: %w", pay.ID,
			payment.InvalidField("otp", "is not the code the customer was sent"))
	}
	p.succeedLocked(c)
	return c.state(), nil
}
