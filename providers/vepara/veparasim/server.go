package veparasim

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
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials of the simulated merchant, used unless WithCredentials says
// otherwise. The secret is the Sipay SDK's public test secret and the
// merchant key the one of the protocol notes' worked example.
const (
	DefaultAppID       = "veparasim-app-id"
	DefaultAppSecret   = "b46a67571aa1e7ef5641dc3fa6f1712a"
	DefaultMerchantKey = "$2y$10$HmRgYosneqcwHj.UH7upGuyCZqpQ1ITgSMj9Vvxn.t6f.Vdf2SQFO"
)

// DefaultSubMerchants returns the sub-merchants every simulator knows from
// the start: the ones of the marketplace sale sample.
func DefaultSubMerchants() []string {
	return []string{"98950-90-7111155889", "98950-89-7111157028", "98950-88-7111133015"}
}

// Test cards. Every other number that passes the Luhn check is approved; a
// number that fails it is refused with status 108.
const (
	// CardApprove is approved (the sample card of the platform's docs).
	CardApprove = "4508034508034509"
	// CardApproveMastercard is approved.
	CardApproveMastercard = "5406675406675403"
	// CardDecline is declined by the bank (41, bank code 05 "Do not honour").
	CardDecline = "4000000000000002"
	// CardInsufficientFunds is declined (41, bank code 51).
	CardInsufficientFunds = "4000000000009953"
	// CardBlocked is refused by the platform (44, card blocked).
	CardBlocked = "4000000000000069"
	// CardPending leaves the sale pending, as when the bank does not answer
	// in time (69, "order not processed yet"), until Pay, Decline or Expire.
	CardPending = "4000000000000119"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	appID, appSecret, merchantKey string
	now                           func() time.Time
	tokenTTL                      time.Duration
	installments                  []int
	currencies                    []string
	subMerchants                  []string
	hooks                         map[string]string
	client                        *http.Client
	is3D                          int
	partialRefunds                bool
	manualRefunds                 bool
	webhookAttempts               int
	webhookBackoff                time.Duration
}

// WithCredentials sets the merchant's app id, app secret and merchant key.
func WithCredentials(appID, appSecret, merchantKey string) Option {
	return func(c *config) { c.appID, c.appSecret, c.merchantKey = appID, appSecret, merchantKey }
}

// WithClock sets the simulator's clock (tokens expire by it).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithTokenTTL sets how long a token lives (2 hours like the platform).
func WithTokenTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.tokenTTL = d
		}
	}
}

// WithInstallments sets the merchant's enabled instalment counts (default
// 1, 2, 3, 6, 9 and 12).
func WithInstallments(counts ...int) Option {
	return func(c *config) { c.installments = slices.Clone(counts) }
}

// WithCurrencies sets the currencies the merchant's POS accepts (default
// TRY, USD and EUR).
func WithCurrencies(codes ...string) Option {
	return func(c *config) { c.currencies = slices.Clone(codes) }
}

// WithSubMerchants replaces the sub-merchants known at start
// (DefaultSubMerchants).
func WithSubMerchants(ids ...string) Option {
	return func(c *config) { c.subMerchants = slices.Clone(ids) }
}

// WithWebhookURL registers a sale webhook URL under key, as the merchant
// panel's API settings do; see Server.SetWebhookURL.
func WithWebhookURL(key, u string) Option {
	return func(c *config) { c.hooks[key] = u }
}

// WithHTTPClient sets the client that delivers webhooks.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.client = hc
		}
	}
}

// WithIs3D sets the is_3d the token answer reports (default 1: 2D and 3D).
func WithIs3D(n int) Option { return func(c *config) { c.is3D = n } }

// WithPartialRefunds allows or refuses (status 110) partial refunds
// (allowed by default).
func WithPartialRefunds(ok bool) Option { return func(c *config) { c.partialRefunds = ok } }

// WithManualRefunds makes every refund a refund request (status 101) that
// stays pending until CompleteRefund or FailRefund.
func WithManualRefunds(on bool) Option { return func(c *config) { c.manualRefunds = on } }

// WithWebhookRetries sets how many times a webhook is attempted (default 3)
// and the pause between attempts (default 50 ms, doubling).
func WithWebhookRetries(attempts int, backoff time.Duration) Option {
	return func(c *config) {
		if attempts > 0 {
			c.webhookAttempts = attempts
		}
		if backoff > 0 {
			c.webhookBackoff = backoff
		}
	}
}

// Server simulates the ccpayment platform's API for one merchant: tokens,
// hash_key checks, Laravel-style validation, sales (2D and marketplace)
// with a card network played by test cards, pre-authorization, status,
// refunds, instalments, sub-merchants and sale webhooks, with fault
// injection. It is an http.Handler; serve it with httptest.NewServer or
// mount it in a mux. It serves paths with and without the "/ccpayment"
// prefix.
type Server struct {
	cfg config
	mux *http.ServeMux

	mu            sync.Mutex
	tokens        map[string]time.Time
	tokenRequests int
	invoices      map[string]*invoice
	refundIDs     map[string]*refund
	subs          map[string]*SubMerchant
	hooks         map[string]string
	faults        []*Fault
	webhookFaults WebhookFaults
	calls         map[string]int
	deliveries    []Delivery
	nextOrder     int64
	nextRef       int64
	nextSub       int64
	manualRefunds bool

	wg sync.WaitGroup
}

// New returns a simulator.
func New(opts ...Option) *Server {
	cfg := config{
		appID: DefaultAppID, appSecret: DefaultAppSecret, merchantKey: DefaultMerchantKey,
		now:             time.Now,
		tokenTTL:        2 * time.Hour,
		installments:    []int{1, 2, 3, 6, 9, 12},
		currencies:      []string{"TRY", "USD", "EUR"},
		subMerchants:    DefaultSubMerchants(),
		hooks:           map[string]string{},
		client:          &http.Client{Timeout: 10 * time.Second},
		is3D:            1,
		partialRefunds:  true,
		webhookAttempts: 3,
		webhookBackoff:  50 * time.Millisecond,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s := &Server{
		cfg:           cfg,
		mux:           http.NewServeMux(),
		tokens:        map[string]time.Time{},
		invoices:      map[string]*invoice{},
		refundIDs:     map[string]*refund{},
		subs:          map[string]*SubMerchant{},
		hooks:         map[string]string{},
		calls:         map[string]int{},
		nextOrder:     162435932934307,
		nextRef:       83000001,
		nextSub:       7111160000,
		manualRefunds: cfg.manualRefunds,
	}
	for k, v := range cfg.hooks {
		s.hooks[k] = v
	}
	for _, id := range cfg.subMerchants {
		s.subs[id] = &SubMerchant{ID: id, Name: "Sub-merchant " + id}
	}
	s.mux.HandleFunc("POST /api/token", s.handleToken)
	s.mux.HandleFunc("POST /api/paySmart2D", s.handleSale(false))
	s.mux.HandleFunc("POST /api/marketplace/sale/pay/smart/non-secure", s.handleSale(true))
	s.mux.HandleFunc("POST /api/checkstatus", s.handleCheckStatus)
	s.mux.HandleFunc("POST /api/confirmPayment", s.handleConfirm)
	s.mux.HandleFunc("POST /api/refund", s.handleRefund)
	s.mux.HandleFunc("POST /api/getpos", s.handleGetPos)
	s.mux.HandleFunc("POST /api/installments", s.handleInstallments)
	s.mux.HandleFunc("POST /api/sub-merchant/add", s.handleSubMerchantAdd)
	s.mux.HandleFunc("POST /api/sub-merchant/edit", s.handleSubMerchantEdit)
	s.mux.HandleFunc("POST /api/sub-merchant/delete", s.handleSubMerchantDelete)
	s.mux.HandleFunc("DELETE /api/sub-merchant/delete", s.handleSubMerchantDelete)
	s.mux.HandleFunc("GET /api/sub-merchant/list", s.handleSubMerchantList)
	s.mux.HandleFunc("POST /api/sub-merchant/list", s.handleSubMerchantList)
	return s
}

// AppID returns the simulated merchant's app id, for configuring the
// provider.
func (s *Server) AppID() string { return s.cfg.appID }

// AppSecret returns the simulated merchant's app secret.
func (s *Server) AppSecret() string { return s.cfg.appSecret }

// MerchantKey returns the simulated merchant's merchant key.
func (s *Server) MerchantKey() string { return s.cfg.merchantKey }

// SetWebhookURL registers the sale webhook URL under key (the
// sale_web_hook_key a sale names), as the merchant panel does. The URL may
// contain "{invoice_id}", replaced by the sale's invoice id (a simulator
// convenience for tests that give each payment its own URL).
func (s *Server) SetWebhookURL(key, u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[key] = u
}

// SetManualRefunds turns manual refund requests (status 101) on or off.
func (s *Server) SetManualRefunds(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualRefunds = on
}

// FaultKind is a kind of injected failure.
type FaultKind int

// Fault kinds.
const (
	// FaultServerError answers 500 without acting on the request.
	FaultServerError FaultKind = iota + 1
	// FaultLostResponse acts on the request, then answers 502: the caller
	// cannot know that it happened.
	FaultLostResponse
	// FaultDelay waits Fault.Delay (or until the request is canceled),
	// then acts normally.
	FaultDelay
	// FaultUnauthorized answers 401 as if the token had expired.
	FaultUnauthorized
	// FaultMalformed acts on the request, then answers 200 with a body
	// that is not JSON.
	FaultMalformed
)

// Fault is a failure injected into the next Times requests (default 1) to
// Path ("/api/paySmart2D"; empty matches every path).
type Fault struct {
	Path  string
	Kind  FaultKind
	Delay time.Duration
	Times int
}

// InjectFault queues a fault.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops the queued faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.webhookFaults = WebhookFaults{}
}

// WebhookFaults disturb webhook delivery.
type WebhookFaults struct {
	// Drop sends nothing.
	Drop bool
	// Duplicates sends every webhook that many extra times.
	Duplicates int
	// Delay waits before sending.
	Delay time.Duration
}

// SetWebhookFaults sets how webhooks are disturbed from now on.
func (s *Server) SetWebhookFaults(f WebhookFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookFaults = f
}

// RevokeTokens invalidates every issued token: the next authenticated
// request gets a 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// TokenRequests returns how many tokens were requested.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Calls returns how many requests reached path ("/api/paySmart2D").
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Close waits for webhook deliveries in flight.
func (s *Server) Close() { s.wg.Wait() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/ccpayment"); ok && strings.HasPrefix(rest, "/") {
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r = r2
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	s.mu.Lock()
	s.calls[r.URL.Path]++
	f := s.takeFault(r.URL.Path)
	s.mu.Unlock()
	if f == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	switch f.Kind {
	case FaultServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "Server Error"})
	case FaultUnauthorized:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthenticated."})
	case FaultDelay:
		// Read the body first: only then does net/http notice a client
		// that gives up, and cancel the request's context.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			s.mux.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	case FaultLostResponse:
		s.mux.ServeHTTP(&discardWriter{h: http.Header{}}, r)
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": "Bad Gateway"})
	case FaultMalformed:
		s.mux.ServeHTTP(&discardWriter{h: http.Header{}}, r)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<html>upstream garbage</html>")
	default:
		s.mux.ServeHTTP(w, r)
	}
}

func (s *Server) takeFault(path string) *Fault {
	for i, f := range s.faults {
		if f.Path == "" || f.Path == path {
			f.Times--
			if f.Times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			return f
		}
	}
	return nil
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// writeJSON writes v without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeCode writes a platform answer with a status_code: 200 for the codes
// that carry a transaction (success, refund request, declines, pending),
// 400 for the rest, as the platform's samples show.
func writeCode(w http.ResponseWriter, code int, desc string, extra map[string]any) {
	body := map[string]any{"status_code": code, "status_description": desc}
	for k, v := range extra {
		body[k] = v
	}
	status := http.StatusBadRequest
	switch code {
	case 100, 101, 41, 44, 69, 108:
		status = http.StatusOK
	}
	writeJSON(w, status, body)
}

// validation collects Laravel-style field errors.
type validation map[string][]string

func (v validation) add(field, msg string) {
	v[field] = append(v[field], msg)
}

// write answers 422 {"message": ..., "errors": {...}} when there are errors.
func (v validation) write(w http.ResponseWriter) bool {
	if len(v) == 0 {
		return false
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	msg := v[keys[0]][0]
	if n := len(keys) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more error%s)", n, map[bool]string{true: "s", false: ""}[n > 1])
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": msg, "errors": v})
	return true
}

// input is a decoded request: JSON (numbers kept as json.Number), a JSON
// array holding one object (the marketplace docs' sample), or a form.
type input map[string]any

func readInput(r *http.Request) (input, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		in := input{}
		for k, v := range vals {
			in[k] = v[0]
		}
		return in, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return input{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case []any:
		if len(x) == 1 {
			if m, ok := x[0].(map[string]any); ok {
				return m, nil
			}
		}
	}
	return nil, errors.New("the body must be a JSON object")
}

// str returns a field as text: strings as they are, numbers as written,
// booleans as 1 or 0.
func (in input) str(k string) string {
	return scalar(in[k])
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	default:
		return ""
	}
}

func (in input) present(k string) bool { return strings.TrimSpace(in.str(k)) != "" }

// integer returns a field as an integer.
func (in input) integer(k string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(in.str(k)))
	return n, err == nil
}

// parseAmount reads a decimal in minor units with exp places, rounding
// half up beyond them, never through float64.
func parseAmount(s string, exp int) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "-") {
		return 0, false
	}
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" || !digits(ip) || (fp != "" && !digits(fp)) || len(ip) > 15 {
		return 0, false
	}
	roundUp := len(fp) > exp && fp[exp] >= '5'
	if len(fp) > exp {
		fp = fp[:exp]
	}
	fp += strings.Repeat("0", exp-len(fp))
	n, err := strconv.ParseInt(ip+fp, 10, 64)
	if err != nil {
		return 0, false
	}
	if roundUp {
		n++
	}
	return n, true
}

// formatAmount writes minor units as the shortest decimal ("210", "22.1").
func formatAmount(minor int64, exp int) string {
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	for len(s) <= exp {
		s = "0" + s
	}
	ip, fp := s[:len(s)-exp], strings.TrimRight(s[len(s)-exp:], "0")
	if fp == "" {
		return ip
	}
	return ip + "." + fp
}

// format2 writes minor units with exactly exp decimals ("2.63").
func format2(minor int64, exp int) string {
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	for len(s) <= exp {
		s = "0" + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// number is a JSON number literal.
func number(minor int64, exp int) json.Number { return json.Number(formatAmount(minor, exp)) }

func digits(s string) bool {
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

// exponent returns the decimals of the currencies the simulator knows.
func exponent(currency string) int {
	if currency == "JPY" || currency == "KRW" {
		return 0
	}
	return 2
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// authorized checks the bearer token ("Bearer <token>" or the bare token,
// as the PHP SDK sends it).
func (s *Server) authorized(r *http.Request) bool {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	tok := strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	if tok == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.cfg.now().Before(exp)
}

func unauthenticated(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthenticated."})
}

// guard checks the token and decodes the body; it answers and returns nil
// when either fails.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) input {
	if !s.authorized(r) {
		unauthenticated(w)
		return nil
	}
	in, err := readInput(r)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "The given data was invalid.",
			"errors":  map[string][]string{"body": {"The body must be a JSON object."}},
		})
		return nil
	}
	return in
}

// merchantOK answers 14 unless the merchant key is the merchant's.
func (s *Server) merchantOK(w http.ResponseWriter, in input) bool {
	if in.str("merchant_key") != s.cfg.merchantKey {
		writeCode(w, 14, "Invalid merchant key or merchant is not active.", nil)
		return false
	}
	return true
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	in, err := readInput(r)
	if err != nil {
		in = input{}
	}
	v := validation{}
	if !in.present("app_id") {
		v.add("app_id", "The app id field is required.")
	}
	if !in.present("app_secret") {
		v.add("app_secret", "The app secret field is required.")
	}
	if v.write(w) {
		return
	}
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if in.str("app_id") != s.cfg.appID || in.str("app_secret") != s.cfg.appSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"status_code": 30, "status_description": "Invalid credentials",
		})
		return
	}
	tok := randomHex(40)
	s.mu.Lock()
	exp := s.cfg.now().Add(s.cfg.tokenTTL)
	s.tokens[tok] = exp
	// Forget expired tokens so the map stays small.
	now := s.cfg.now()
	for k, e := range s.tokens {
		if !now.Before(e) {
			delete(s.tokens, k)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":  "success",
		"message": "Token başarıyla alındı.",
		"data": map[string]any{
			"token":      tok,
			"is_3d":      s.cfg.is3D,
			"expired_at": exp.In(istanbul).Format(time.DateTime),
		},
	})
}

// istanbul is the platform's local time.
var istanbul = time.FixedZone("TRT", 3*60*60)

// deliveryContext bounds a background webhook delivery.
func deliveryContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
