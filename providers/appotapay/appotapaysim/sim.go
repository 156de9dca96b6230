// Package appotapaysim is a stateful simulator of AppotaPay's HTTP APIs for
// tests and demos: the linked e-wallet payment and its OTP confirmation, the
// gateway v2 payment, the transaction status, refunds, the e-wallet OAuth
// endpoints, and signed IPNs.
//
// It checks what AppotaPay checks: the X-APPOTAPAY-AUTH JWT (HS256 with the
// secret key, the cty header "appotapay-api;v=1", iss, api_key, jti and a
// short exp; "Bearer " prefix or not), every HMAC-SHA256 request signature,
// the field rules (orderId at most 50 alphanumerics, orderInfo at most 150,
// integer VND amounts from 1,000 to 500,000,000), duplicate orderIds (30)
// and partnerRefIds (31), and answers with the vendor's codes and error body
// {"errorCode":..,"message":..,"errors":[{"field","reason"}]}.
//
// A test plays the customer with Pay, Decline and Expire (by paykit payment
// id), reads the OTP a wallet was sent with OTP, and injects faults with
// InjectFault and SetLatency. A gateway payment that succeeds is announced
// by an IPN {data, signature, time} to its notifyUrl, retried 3 times when
// not acknowledged with {"status":"ok"}; Callbacks lists every delivery.
//
// Wallets: WalletToken pays at once, WalletTokenOTP asks for an OTP
// (DefaultOTP unless WithOTP), WalletTokenEmpty has no money (75),
// WalletTokenProcessing leaves payments processing (34) until Pay or
// Decline. AddWallet adds others; the OAuth endpoints link new ones.
package appotapaysim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Default credentials the simulator accepts (public test values from the
// vendor's documentation, never production keys).
const (
	DefaultPartnerCode = "TEST"
	DefaultAPIKey      = "oMhJpkz7K6HDcR6S" //nolint:gosec // the vendor docs' public example key
	DefaultSecretKey   = "YOUR_SECRET_KEY_EXAMPLE"
)

// Built-in wallet access tokens, for checkouts' payment_token.
const (
	// WalletToken is a linked wallet with plenty of money that pays at once.
	WalletToken = "simwallet_ok"
	// WalletTokenOTP is a linked wallet that asks for an OTP on every payment.
	WalletTokenOTP = "simwallet_otp" //nolint:gosec // a simulator test token
	// WalletTokenEmpty is a linked wallet without money: payments fail (75).
	WalletTokenEmpty = "simwallet_empty"
	// WalletTokenProcessing is a linked wallet whose payments stay
	// processing (34) until Pay or Decline.
	WalletTokenProcessing = "simwallet_processing" //nolint:gosec // a simulator test token
	// DefaultOTP is the OTP wallets are "sent".
	DefaultOTP = "123456"
	// DefaultPaymentPageURL is the base of the hosted payment page URLs.
	DefaultPaymentPageURL = "https://payment.dev.appotapay.com"
	// JWTContentType is the cty the JWT header must carry.
	JWTContentType = "appotapay-api;v=1"
)

// Errors of the customer-side methods.
var (
	// ErrUnknownPayment: no transaction for that payment id.
	ErrUnknownPayment = errors.New("appotapaysim: no transaction for that payment")
	// ErrNotPending: the transaction is final already.
	ErrNotPending = errors.New("appotapaysim: transaction is not pending")
)

var ict = time.FixedZone("ICT", 7*60*60)

// Option configures a Server.
type Option func(*settings)

type settings struct {
	partnerCode, apiKey, secretKey string
	clock                          func() time.Time
	ipnClient                      *http.Client
	ipnRetries                     int
	ipnInterval                    time.Duration
	ipnOnFailure                   bool
	duplicateIPN                   bool
	pageURL                        string
	otp                            string
	otpTTL                         time.Duration
	latency                        time.Duration
	allowedMethods                 map[string]bool
	maxTokenLifetime               time.Duration
}

// WithCredentials sets the partner code, API key and secret key the
// simulator accepts and signs with.
func WithCredentials(partnerCode, apiKey, secretKey string) Option {
	return func(s *settings) { s.partnerCode, s.apiKey, s.secretKey = partnerCode, apiKey, secretKey }
}

// WithClock sets the simulator's clock (JWT expiry, OTP expiry, timestamps).
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.clock = now
		}
	}
}

// WithHTTPClient sets the client IPNs are sent with.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) {
		if c != nil {
			s.ipnClient = c
		}
	}
}

// WithIPNRetries sets how many times an unacknowledged IPN is sent again
// (3, like AppotaPay) and how long apart (AppotaPay: 5 minutes; default
// here 5 minutes too, shorten it in tests).
func WithIPNRetries(n int, interval time.Duration) Option {
	return func(s *settings) { s.ipnRetries, s.ipnInterval = n, interval }
}

// WithIPNOnFailure sends IPNs for declined and expired gateway payments too
// (the POS product does; the payment gateway only announces success).
func WithIPNOnFailure() Option { return func(s *settings) { s.ipnOnFailure = true } }

// WithDuplicateIPNs sends every IPN twice, to test deduplication.
func WithDuplicateIPNs() Option { return func(s *settings) { s.duplicateIPN = true } }

// WithPaymentPageURL sets the base of the hosted payment page URLs the
// gateway answers with.
func WithPaymentPageURL(u string) Option {
	return func(s *settings) { s.pageURL = strings.TrimRight(u, "/") }
}

// WithOTP sets the OTP wallets are sent, and how long it is valid (default
// 5 minutes).
func WithOTP(code string, ttl time.Duration) Option {
	return func(s *settings) { s.otp, s.otpTTL = code, ttl }
}

// WithLatency delays every API answer by d.
func WithLatency(d time.Duration) Option { return func(s *settings) { s.latency = d } }

// WithAllowedMethods limits the gateway paymentMethods the partner may use;
// others get error 140.
func WithAllowedMethods(methods ...string) Option {
	return func(s *settings) {
		s.allowedMethods = map[string]bool{}
		for _, m := range methods {
			s.allowedMethods[m] = true
		}
	}
}

// WithMaxTokenLifetime sets the longest exp-now a JWT may have (default 1
// hour): AppotaPay wants short-lived tokens.
func WithMaxTokenLifetime(d time.Duration) Option {
	return func(s *settings) { s.maxTokenLifetime = d }
}

// Wallet is a linked wallet behind an access token.
type Wallet struct {
	// Balance is the money in the wallet, in đồng.
	Balance int64
	// RequireOTP makes every payment wait for the OTP.
	RequireOTP bool
	// Processing leaves payments processing (34) until Pay or Decline.
	Processing bool
	// ExpiresAt is when the access token stops working; zero is never.
	ExpiresAt time.Time
}

// Server is the simulator: an http.Handler speaking AppotaPay's protocol.
// Serve it with httptest.NewServer(s) or mount it in a mux. Call Close to
// stop IPN retries.
type Server struct {
	set settings
	mux *http.ServeMux

	mu         sync.Mutex
	seq        int64
	txns       map[string]*txn // by orderId
	byTxID     map[string]*txn
	refunds    map[string]*refund // by partnerRefId
	refundByID map[string]*refund
	wallets    map[string]*Wallet // by access token
	codes      map[string]string  // OAuth code -> access token
	refreshes  map[string]string  // refresh token -> access token
	charges    map[string]int     // accepted payment requests by orderId
	faults     []faultRule
	latency    time.Duration
	callbacks  []Callback

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ http.Handler = (*Server)(nil)

type txn struct {
	kind          string // "ewallet" or "gateway"
	orderID       string
	transactionID string
	reconID       string
	info          string
	extraData     string
	amount        int64
	currency      string
	status        string
	errorCode     int
	errorMessage  string
	method        string
	bankCode      string
	action        string
	notifyURL     string
	redirectURL   string
	accessToken   string
	verification  string
	otp           string
	otpExpires    time.Time
	otpAttempts   int
	refunded      int64
	refundCount   int
	createdAt     time.Time
	updatedAt     time.Time
}

type refund struct {
	refundID      string
	transactionID string
	partnerRefID  string
	amount        int64
	currency      string
	reason        string
	status        string
	createdAt     time.Time
	refundedAt    time.Time
}

// New returns a simulator with the default credentials unless
// WithCredentials says otherwise.
func New(opts ...Option) *Server {
	set := settings{
		partnerCode:      DefaultPartnerCode,
		apiKey:           DefaultAPIKey,
		secretKey:        DefaultSecretKey,
		clock:            time.Now,
		ipnClient:        &http.Client{Timeout: 10 * time.Second},
		ipnRetries:       3,
		ipnInterval:      5 * time.Minute,
		pageURL:          DefaultPaymentPageURL,
		otp:              DefaultOTP,
		otpTTL:           5 * time.Minute,
		maxTokenLifetime: time.Hour,
	}
	for _, o := range opts {
		if o != nil {
			o(&set)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		set:        set,
		txns:       map[string]*txn{},
		byTxID:     map[string]*txn{},
		refunds:    map[string]*refund{},
		refundByID: map[string]*refund{},
		wallets: map[string]*Wallet{
			WalletToken:           {Balance: 1_000_000_000_000},
			WalletTokenOTP:        {Balance: 1_000_000_000_000, RequireOTP: true},
			WalletTokenEmpty:      {Balance: 0},
			WalletTokenProcessing: {Balance: 1_000_000_000_000, Processing: true},
		},
		codes:     map[string]string{},
		refreshes: map[string]string{},
		charges:   map[string]int{},
		latency:   set.latency,
		ctx:       ctx,
		cancel:    cancel,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/ewallet/payment", s.api(s.handleEWalletPayment))
	mux.HandleFunc("POST /api/v2/ewallet/payment/confirm", s.api(s.handleEWalletConfirm))
	mux.HandleFunc("POST /api/v2/orders/payment", s.api(s.handleGatewayPayment))
	mux.HandleFunc("GET /api/v2/orders/transaction", s.api(s.handleStatus))
	mux.HandleFunc("POST /api/v2/transaction/refund", s.api(s.handleRefund))
	mux.HandleFunc("GET /api/v2/transaction/refund/{ref}", s.api(s.handleRefundDetail))
	mux.HandleFunc("GET /oauth/login", s.handleOAuthLogin)
	mux.HandleFunc("POST /api/v1/oauth/access_token", s.handleOAuthToken)
	mux.HandleFunc("POST /api/v1/oauth/refresh_token", s.handleOAuthRefresh)
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Credentials returns the partner code, API key and secret key the
// simulator accepts, to configure the provider with.
func (s *Server) Credentials() (partnerCode, apiKey, secretKey string) {
	return s.set.partnerCode, s.set.apiKey, s.set.secretKey
}

// Close stops pending IPN retries and waits for them.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// AddWallet links a wallet under accessToken (replacing any).
func (s *Server) AddWallet(accessToken string, w Wallet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wallets[accessToken] = &w
}

// WalletBalance returns the balance behind accessToken.
func (s *Server) WalletBalance(accessToken string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.wallets[accessToken]
	if !ok {
		return 0, false
	}
	return w.Balance, true
}

// SetLatency delays every API answer by d from now on.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) now() time.Time { return s.set.clock().In(ict) }

// nextSeq returns a new sequence number; s.mu must be held.
func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}

func orderIDOf(paymentID string) string { return strings.Replace(paymentID, "_", "", 1) }

// Transaction is a snapshot of a simulated transaction.
type Transaction struct {
	Kind               string // "ewallet" or "gateway"
	OrderID            string
	TransactionID      string
	Status             string // pending, processing, success, error
	ErrorCode          int
	Amount             int64
	Refunded           int64
	PaymentMethod      string
	VerificationMethod string
	NotifyURL          string
	RedirectURL        string
	OrderInfo          string
	ExtraData          string
}

// Transaction returns the transaction of a paykit payment id.
func (s *Server) Transaction(paymentID string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txns[orderIDOf(paymentID)]
	if !ok {
		return Transaction{}, false
	}
	return Transaction{
		Kind: t.kind, OrderID: t.orderID, TransactionID: t.transactionID, Status: t.status,
		ErrorCode: t.errorCode, Amount: t.amount, Refunded: t.refunded, PaymentMethod: t.method,
		VerificationMethod: t.verification, NotifyURL: t.notifyURL, RedirectURL: t.redirectURL,
		OrderInfo: t.info, ExtraData: t.extraData,
	}, true
}

// Charges returns how many payment requests the simulator accepted for a
// paykit payment id (a duplicate orderId is refused, so at most one).
func (s *Server) Charges(paymentID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charges[orderIDOf(paymentID)]
}

// Fault is an injected failure.
type Fault int

// Faults.
const (
	// Fault5xx answers HTTP 500 with errorCode 500 without processing.
	Fault5xx Fault = iota + 1
	// Fault5xxAfterProcessing processes the request, then answers HTTP 500
	// with errorCode 500: the outcome is unknown to the caller.
	Fault5xxAfterProcessing
	// FaultProcessing processes the request, then answers errorCode 34
	// ("being processed, check again later"): a status query later shows
	// the real outcome (error 34 then success).
	FaultProcessing
	// FaultBadGateway answers HTTP 502 with an HTML body, as a proxy would.
	FaultBadGateway
	// FaultTimeout processes the request, then never answers until the
	// caller gives up (or 30 s pass).
	FaultTimeout
)

type faultRule struct {
	path  string
	fault Fault
	times int
}

// InjectFault makes the next times requests to path ("" for any API path,
// e.g. "/api/v2/ewallet/payment") fail with f.
func (s *Server) InjectFault(path string, f Fault, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faultRule{path: path, fault: f, times: times})
}

func (s *Server) takeFault(path string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		r := &s.faults[i]
		if r.times > 0 && (r.path == "" || r.path == path) {
			r.times--
			return r.fault
		}
	}
	return 0
}

// api wraps an API handler with latency, faults, body limits, JWT auth and
// header checks.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		lat := s.latency
		s.mu.Unlock()
		if lat > 0 {
			select {
			case <-time.After(lat):
			case <-r.Context().Done():
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		f := s.takeFault(r.URL.Path)
		switch f {
		case Fault5xx:
			writeError(w, http.StatusInternalServerError, 500, "Hệ thống gặp lỗi, vui lòng thử lại sau")
			return
		case FaultBadGateway:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
			return
		case Fault5xxAfterProcessing, FaultProcessing, FaultTimeout:
		}
		if status, code, msg := s.checkAuth(r); code != 0 {
			writeError(w, status, code, msg)
			return
		}
		if len(r.Header.Get("X-Request-ID")) > 42 {
			writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"X-Request-ID", "max:42"})
			return
		}
		if ref := r.Header.Get("X-Account-Ref-ID"); ref != "" && !isUUID(ref) {
			writeError(w, http.StatusBadRequest, 90, "X-Account-Ref-ID không hợp lệ")
			return
		}
		if l := r.Header.Get("X-Language"); l != "" && l != "vi" && l != "en" {
			writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"X-Language", "in:vi,en"})
			return
		}
		switch f {
		case Fault5xxAfterProcessing:
			h(&discardWriter{}, r)
			writeError(w, http.StatusInternalServerError, 500, "Hệ thống gặp lỗi, vui lòng thử lại sau")
		case FaultProcessing:
			h(&discardWriter{}, r)
			writeError(w, http.StatusBadRequest, 34, "Giao dịch đang được xử lý, vui lòng kiểm tra lại sau")
		case FaultTimeout:
			h(&discardWriter{}, r)
			select {
			case <-r.Context().Done():
			case <-s.ctx.Done():
			case <-time.After(30 * time.Second):
			}
			writeError(w, http.StatusGatewayTimeout, 500, "timeout")
		case Fault5xx, FaultBadGateway:
		default:
			h(w, r)
		}
	}
}

// checkAuth verifies X-APPOTAPAY-AUTH like the vendor: HS256 with the
// secret key, cty, iss, api_key, jti and a present, short exp.
func (s *Server) checkAuth(r *http.Request) (status, code int, msg string) {
	raw := strings.TrimSpace(r.Header.Get("X-APPOTAPAY-AUTH"))
	raw = strings.TrimSpace(strings.TrimPrefix(raw, "Bearer "))
	if raw == "" {
		return http.StatusUnauthorized, 401, "Unauthorized: X-APPOTAPAY-AUTH missing"
	}
	now := s.set.clock()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if cty, _ := t.Header["cty"].(string); cty != JWTContentType {
			return nil, errors.New("cty is not " + JWTContentType)
		}
		return []byte(s.set.secretKey), nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil || !tok.Valid {
		return http.StatusUnauthorized, 401, "Unauthorized: invalid token"
	}
	iss, _ := claims["iss"].(string)
	apiKey, _ := claims["api_key"].(string)
	jti, _ := claims["jti"].(string)
	if iss != s.set.partnerCode || apiKey != s.set.apiKey || !strings.HasPrefix(jti, s.set.apiKey+"-") {
		return http.StatusUnauthorized, 401, "Unauthorized: unknown partner"
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil || exp.Sub(now) > s.set.maxTokenLifetime {
		return http.StatusUnauthorized, 401, "Unauthorized: token lifetime too long"
	}
	return 0, 0, ""
}

type fieldErr struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// writeError writes the vendor's error body.
func writeError(w http.ResponseWriter, status, code int, msg string, fields ...fieldErr) {
	body := struct {
		ErrorCode int        `json:"errorCode"`
		Message   string     `json:"message"`
		Errors    []fieldErr `json:"errors,omitempty"`
	}{code, msg, fields}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// statusFor is the HTTP status the simulator answers a code with.
func statusFor(code int) int {
	switch code {
	case 401:
		return http.StatusUnauthorized
	case 500:
		return http.StatusInternalServerError
	case 36:
		return http.StatusNotFound
	default:
		return http.StatusBadRequest
	}
}

// discardWriter swallows the answer of a request whose fault replaces it.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// sign returns hex(HMAC-SHA256(secret, msg)).
func (s *Server) sign(msg string) string {
	m := hmac.New(sha256.New, []byte(s.set.secretKey))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// verify compares a hex signature in constant time.
func (s *Server) verify(msg, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(s.set.secretKey))
	m.Write([]byte(msg))
	return hmac.Equal(m.Sum(nil), got)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// isUUID reports whether s looks like a UUID (8-4-4-4-12 hex digits).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}

func newUUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(ict).Format(time.RFC3339)
}

func (s *Server) newTransactionID(now time.Time) string {
	return fmt.Sprintf("AP%s%06d", now.Format("060102"), s.nextSeq())
}
