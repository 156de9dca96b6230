package payplussim

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
)

// Defaults of a simulator built without options.
const (
	// DefaultMerchantID is the merchant of the default account.
	DefaultMerchantID = "sim_merchant"
	// DefaultAPIKey is the API key of the default account.
	DefaultAPIKey = "sim_api_key" //nolint:gosec // G101: the simulator's public test credential
	// DefaultPrefix is where the API lives: the provider's base URL is the
	// server's URL followed by it.
	DefaultPrefix = "/api/v1"
	// DefaultPromptPayNumber is the PromptPay number deposits are paid to.
	DefaultPromptPayNumber = "0812345678"
	// DefaultBalance is the default account's opening balance: THB 50,000.00.
	DefaultBalance int64 = 5_000_000
	// DefaultDepositFeeBPS is the deposit fee in basis points (0.5%: a
	// THB 1,000 deposit asks the payer for 995, as in the documentation).
	DefaultDepositFeeBPS int64 = 50
	// DefaultWithdrawalFeeBPS is the withdrawal fee in basis points (1.5%:
	// a THB 1,000 withdrawal transfers 985, as in the documentation).
	DefaultWithdrawalFeeBPS int64 = 150
)

// Errors of the customer-side methods.
var (
	// ErrNotFound: no order for that id. It wraps payment.ErrNotFound.
	ErrNotFound = fmt.Errorf("payplussim: no such order: %w", payment.ErrNotFound)
	// ErrNotPending: the order's outcome is already decided. It wraps
	// payment.ErrInvalidState.
	ErrNotPending = fmt.Errorf("payplussim: order is not pending: %w", payment.ErrInvalidState)
)

type merchant struct {
	id      string
	apiKey  string
	balance int64
}

// Option configures a Server.
type Option func(*config)

type config struct {
	merchants      []merchant
	clock          func() time.Time
	prefix         string
	extraPaths     []payplus.Paths
	depositFee     int64
	withdrawalFee  int64
	promptpay      string
	platform       payment.BankAccount
	depositTTL     time.Duration
	ips            []string
	tolerance      time.Duration
	lenientSig     bool
	cbClient       *http.Client
	cbAttempts     int
	cbBackoff      time.Duration
	cbMillis       bool
	qrSize         int
	initialBalance int64
}

// WithMerchant adds a merchant account (id bound to apiKey) with the
// default opening balance. Without it the server has one account,
// DefaultMerchantID with DefaultAPIKey.
func WithMerchant(id, apiKey string) Option {
	return func(c *config) { c.merchants = append(c.merchants, merchant{id: id, apiKey: apiKey, balance: -1}) }
}

// WithBalance sets the opening balance of every account, in satang.
func WithBalance(minor int64) Option { return func(c *config) { c.initialBalance = minor } }

// WithClock sets the simulator's clock (timestamps, expiry).
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithPrefix sets the path prefix of the API (default "/api/v1").
func WithPrefix(p string) Option { return func(c *config) { c.prefix = strings.TrimRight(p, "/") } }

// WithPaths serves the API also under these paths (relative to the
// prefix), for providers configured with payplus.WithPaths.
func WithPaths(p payplus.Paths) Option {
	return func(c *config) { c.extraPaths = append(c.extraPaths, p) }
}

// WithDepositFee sets the deposit fee in basis points: the payer is asked
// to transfer the amount less the fee (depositAmount).
func WithDepositFee(bps int64) Option { return func(c *config) { c.depositFee = bps } }

// WithWithdrawalFee sets the withdrawal fee in basis points, taken from
// the amount (transfer_amount = amount - fee).
func WithWithdrawalFee(bps int64) Option { return func(c *config) { c.withdrawalFee = bps } }

// WithPromptPayNumber sets the PromptPay number deposits are paid to.
func WithPromptPayNumber(n string) Option { return func(c *config) { c.promptpay = n } }

// WithPlatformAccount sets the bank account deposit answers name.
func WithPlatformAccount(a payment.BankAccount) Option { return func(c *config) { c.platform = a } }

// WithDepositTTL sets how long a deposit waits for the transfer (default
// 5 minutes, as in the documentation's example).
func WithDepositTTL(d time.Duration) Option { return func(c *config) { c.depositTTL = d } }

// WithIPWhitelist accepts API requests only from these IP addresses.
func WithIPWhitelist(ips ...string) Option { return func(c *config) { c.ips = append(c.ips, ips...) } }

// WithTimestampTolerance sets how far a request's timestamp may be from
// the simulator's clock (default 5 minutes).
func WithTimestampTolerance(d time.Duration) Option { return func(c *config) { c.tolerance = d } }

// WithLenientSignatures also accepts a request whose signature is any valid
// HS256 JWT of the API key whose claims equal the parameters, instead of
// only the exact bytes jsonwebtoken would produce.
func WithLenientSignatures() Option { return func(c *config) { c.lenientSig = true } }

// WithCallbackClient sets the HTTP client callbacks are sent with.
func WithCallbackClient(h *http.Client) Option { return func(c *config) { c.cbClient = h } }

// WithCallbackRetry sets how many times a callback is attempted in all
// (default 5) and the wait before the first retry (default 1 s), which
// doubles after each failure.
func WithCallbackRetry(attempts int, backoff time.Duration) Option {
	return func(c *config) { c.cbAttempts, c.cbBackoff = attempts, backoff }
}

// WithMillisecondCallbackTimestamps sends callback timestamps in Unix
// milliseconds instead of seconds.
func WithMillisecondCallbackTimestamps() Option { return func(c *config) { c.cbMillis = true } }

// WithQRSize sets the size in pixels of the QR PNG (default 256).
func WithQRSize(px int) Option { return func(c *config) { c.qrSize = px } }

// Server is a stateful Pay-Plus simulator: an http.Handler speaking the
// vendor's API under the prefix, plus Go methods that play the payer and
// the bank. It is safe for concurrent use. Close it to stop callback
// retries.
type Server struct {
	cfg     config
	mux     *http.ServeMux
	started time.Time

	closeCtx context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	merchants map[string]*merchant // by API key
	orders    map[string]*order    // by order_no
	byAgent   map[string]*order    // by merchant id + "\x00" + agent order no
	created   map[string]int       // orders created per agent order no
	faults    []*Fault
	cbFaults  CallbackFaults
	callbacks []*Callback
}

// New returns a simulator. It never fails: options with invalid values
// fall back to the defaults.
func New(opts ...Option) *Server {
	c := config{
		prefix:         DefaultPrefix,
		depositFee:     DefaultDepositFeeBPS,
		withdrawalFee:  DefaultWithdrawalFeeBPS,
		promptpay:      DefaultPromptPayNumber,
		platform:       payment.BankAccount{BankCode: "KBANK", Number: "0987654321", Name: "Platform Bank Account"},
		depositTTL:     5 * time.Minute,
		tolerance:      5 * time.Minute,
		cbAttempts:     5,
		cbBackoff:      time.Second,
		qrSize:         256,
		initialBalance: DefaultBalance,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.cbClient == nil {
		c.cbClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.cbAttempts < 1 {
		c.cbAttempts = 1
	}
	if c.qrSize < 64 {
		c.qrSize = 256
	}
	if c.depositFee < 0 || c.depositFee >= 10000 {
		c.depositFee = DefaultDepositFeeBPS
	}
	if c.withdrawalFee < 0 || c.withdrawalFee >= 10000 {
		c.withdrawalFee = DefaultWithdrawalFeeBPS
	}
	if len(c.merchants) == 0 {
		c.merchants = []merchant{{id: DefaultMerchantID, apiKey: DefaultAPIKey, balance: -1}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       c,
		started:   c.clock(),
		closeCtx:  ctx,
		cancel:    cancel,
		merchants: map[string]*merchant{},
		orders:    map[string]*order{},
		byAgent:   map[string]*order{},
		created:   map[string]int{},
	}
	for _, m := range c.merchants {
		if m.balance < 0 {
			m.balance = c.initialBalance
		}
		s.merchants[m.apiKey] = &m
	}
	s.routes()
	return s
}

// ServeHTTP serves the Pay-Plus API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops callback retries and waits for callbacks in flight.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Client returns an HTTP client that calls the simulator in process,
// without a network: give it to payplus.WithHTTPClient with any base URL
// whose path is the prefix ("http://payplus.sim/api/v1").
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: inProcess{h: s}, Timeout: 30 * time.Second}
}

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = "127.0.0.1:0"
	r2.RequestURI = r.URL.RequestURI()
	if r2.Body == nil {
		r2.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r2)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

func (s *Server) now() time.Time { return s.cfg.clock().UTC() }

// routes registers every path: the defaults, the documented variants, and
// any WithPaths.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	seen := map[string]bool{}
	add := func(method, path, op string, h func(http.ResponseWriter, *http.Request, *call)) {
		if path == "" {
			return
		}
		pattern := method + " " + s.cfg.prefix + "/" + strings.TrimLeft(path, "/")
		if seen[pattern] {
			return
		}
		seen[pattern] = true
		s.mux.HandleFunc(pattern, s.handle(op, h))
	}
	all := append([]payplus.Paths{payplus.DefaultPaths(), {Withdraw: "/withdrawal", Query: "/query"}}, s.cfg.extraPaths...)
	for _, p := range all {
		add(http.MethodPost, p.Deposit, opDeposit, s.deposit)
		add(http.MethodPost, p.Withdraw, opWithdraw, s.withdraw)
		add(http.MethodPost, p.Balance, opBalance, s.balance)
		add(http.MethodGet, p.Balance, opBalance, s.balance)
		add(http.MethodPost, p.Query, opQuery, s.query)
		add(http.MethodGet, p.Banks, opBanks, s.banks)
		add(http.MethodGet, p.Health, opHealth, s.health)
		add(http.MethodPost, p.Sign, opSign, s.sign)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
}

// Operations, as Fault.Op names them.
const (
	opDeposit  = "deposit"
	opWithdraw = "withdraw"
	opBalance  = "balance"
	opQuery    = "query"
	opBanks    = "banks"
	opHealth   = "health"
	opSign     = "sign"
)

// call is an authenticated request.
type call struct {
	merchant *merchant
	params   map[string]any
	header   http.Header
}

const maxBody = 64 << 10

// handle wraps an operation with faults, the IP whitelist, the API key,
// the signature and the timestamp checks.
func (s *Server) handle(op string, h func(http.ResponseWriter, *http.Request, *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.takeFault(op)
		if f != nil {
			if !f.wait(r.Context(), s.closeCtx) {
				return
			}
			if f.Status != 0 && !f.AfterProcessing {
				writeError(w, f.Status, f.message())
				return
			}
			if f.AfterProcessing {
				s.serve(discard{header: http.Header{}}, r, op, h)
				writeError(w, f.status(), f.message())
				return
			}
		}
		s.serve(w, r, op, h)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, op string, h func(http.ResponseWriter, *http.Request, *call)) {
	if !s.ipAllowed(r.RemoteAddr) {
		writeError(w, http.StatusForbidden, "IP not in whitelist")
		return
	}
	c := &call{header: r.Header}
	if op == opHealth {
		h(w, r, c)
		return
	}
	s.mu.Lock()
	m := s.merchants[r.Header.Get("x-api-key")]
	s.mu.Unlock()
	if op != opSign {
		if m == nil {
			writeError(w, http.StatusUnauthorized, "Invalid API key")
			return
		}
		c.merchant = m
	}
	if op == opBanks {
		h(w, r, c)
		return
	}
	params, ok := readParams(w, r)
	if !ok {
		return
	}
	c.params = params
	if op == opSign {
		h(w, r, c)
		return
	}
	if !s.signatureValid(params, m.apiKey, r.Method == http.MethodGet) {
		writeError(w, http.StatusBadRequest, "Invalid signature")
		return
	}
	if !s.timestampValid(params["timestamp"]) {
		writeError(w, http.StatusBadRequest, "Invalid timestamp")
		return
	}
	if id, present := params["merchantId"]; present {
		if sid, _ := id.(string); sid != m.id {
			writeError(w, http.StatusForbidden, "merchantId does not match API key")
			return
		}
	}
	h(w, r, c)
}

// readParams reads a JSON body, or the query string of a GET.
func readParams(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if r.Method == http.MethodGet {
		params := map[string]any{}
		for k, vs := range r.URL.Query() {
			if len(vs) > 0 {
				params[k] = vs[0]
			}
		}
		return params, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, http.StatusBadRequest, "Invalid request body")
		return nil, false
	}
	params, err := decodeObject(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON")
		return nil, false
	}
	return params, true
}

// signatureValid re-signs the sorted parameters with the API key, as the
// vendor does, and compares in constant time. Query-string parameters
// arrive as strings; they are tried as numbers too.
func (s *Server) signatureValid(params map[string]any, apiKey string, fromQuery bool) bool {
	sig, _ := params[payplus.SignatureField].(string)
	if sig == "" {
		return false
	}
	candidates := []payplus.Params{copyParams(params)}
	if fromQuery {
		numeric := copyParams(params)
		for k, v := range numeric {
			if str, ok := v.(string); ok && str != "" && isDigits(str) {
				numeric[k] = json.Number(strings.TrimLeft(str, "0"))
				if str == strings.Repeat("0", len(str)) {
					numeric[k] = json.Number("0")
				}
			}
		}
		candidates = append(candidates, numeric)
	}
	for _, p := range candidates {
		want, err := payplus.Sign(p, apiKey)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
			return true
		}
		if s.cfg.lenientSig {
			claims, err := payplus.VerifyToken(sig, apiKey)
			if err == nil && sameParams(claims, p) {
				return true
			}
		}
	}
	return false
}

func copyParams(m map[string]any) payplus.Params {
	p := make(payplus.Params, len(m))
	for k, v := range m {
		if k != payplus.SignatureField {
			p[k] = v
		}
	}
	return p
}

// sameParams compares claims and parameters by their canonical JSON.
func sameParams(a, b payplus.Params) bool {
	ja, err1 := payplus.CanonicalJSON(a)
	jb, err2 := payplus.CanonicalJSON(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// timestampValid accepts Unix seconds or milliseconds, as a number or a
// string, within the tolerance of the simulator's clock.
func (s *Server) timestampValid(v any) bool {
	var str string
	switch x := v.(type) {
	case json.Number:
		str = string(x)
	case string:
		str = x
	default:
		return false
	}
	if str == "" || !isDigits(str) || len(str) > 16 {
		return false
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return false
	}
	t := time.Unix(n, 0)
	if n >= 1e12 {
		t = time.UnixMilli(n)
	}
	d := s.now().Sub(t)
	return d <= s.cfg.tolerance && d >= -s.cfg.tolerance
}

func (s *Server) ipAllowed(remote string) bool {
	if len(s.cfg.ips) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	for _, allowed := range s.cfg.ips {
		if a := net.ParseIP(allowed); a != nil && ip != nil && a.Equal(ip) {
			return true
		}
	}
	return false
}

// decodeObject decodes one JSON object with exact numbers.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

// writeJSON writes v without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// errorBody is the vendor's error answer.
type errorBody struct {
	Status  string `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Status: "error", Code: status, Message: message})
}

// discard is a ResponseWriter that drops the answer, for faults that do
// the work and then fail.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// randomRef returns n characters of [A-Z0-9].
func randomRef(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// isoTime formats t as JavaScript's toISOString does.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func validCallbackURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
