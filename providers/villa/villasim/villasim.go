// Package villasim is a stateful simulator of the Villa Payment API (with
// KBank's order and charge objects underneath), for tests and demos. It
// serves both documented flavors on one handler: requests with X-API-Key
// get the main API's {statusCode, body} envelope and upper-case error codes;
// requests with an Authorization header (a Cognito-style ID token from
// Server.IDToken) get raw KBank objects and {"error":{"code","message"}}
// errors with lower-case codes.
//
// Start it with httptest.NewServer(villasim.New()) and point the villa
// provider at it with villa.WithBaseURL. Play the customer with Pay,
// Decline and Expire; the simulator then sends signed callbacks to the
// callback URL the payment was created with (and to WithWebhookURL). Faults
// (latency, error statuses before or after the work is done, hung
// requests, duplicated, held and reordered callbacks) are injected from Go.
package villasim

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
)

// DefaultAPIKey is the test API key of Villa's documentation, which the
// simulator accepts unless WithAPIKey says otherwise.
const DefaultAPIKey = "test-api-key-123"

// Routes, as Fault.Route and Requests name them.
const (
	RouteCardPayment   = "POST /cardpayment"
	RouteQRPayment     = "POST /qrpayment"
	RouteCalculateCost = "POST /calculate-cost"
	RouteCheckStatus   = "GET /checkstatus/{orderId}"
	RouteCreateOrder   = "POST /kbank/createorder"
	RouteOrder         = "POST /kbank/order"
	RouteCreateUser    = "POST /kbank/createuser"
	RouteUser          = "POST /kbank/user"
	RouteGetUser       = "GET /kbank/user/{userId}"
)

// Signature headers of the simulator's callbacks: X-Villa-Signature is
// "v1=" and the hex HMAC-SHA256 of X-Villa-Timestamp, ".", and the body.
const (
	HeaderSignature = "X-Villa-Signature"
	HeaderTimestamp = "X-Villa-Timestamp"
)

// Server is the simulator. Its zero value is not usable; call New.
type Server struct {
	apiKey           string
	webhookSecret    []byte
	jwtKey           []byte
	webhookURL       string
	clock            func() time.Time
	hc               *http.Client
	publicURL        string
	limit            rate.Limit
	burst            int
	http200Errors    bool
	reusableTokens   bool
	expiry           time.Duration
	callbackAttempts int
	cardForm         bool

	mux *http.ServeMux
	// closed is closed by Close, releasing hung requests.
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	orders     map[string]*order
	byKBankID  map[string]*order
	users      map[string]*user
	usedTokens map[string]string
	limiters   map[string]*rate.Limiter
	faults     []*Fault
	latency    time.Duration
	cbFaults   CallbackFaults
	hold       bool
	held       []outgoing
	callbacks  []Callback
	requests   map[string]int
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the X-API-Key the simulator accepts (default
// DefaultAPIKey).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithWebhookSecret makes the simulator sign its callbacks with secret (by
// default they are unsigned, as Villa documents no scheme).
func WithWebhookSecret(secret string) Option {
	return func(s *Server) { s.webhookSecret = []byte(secret) }
}

// WithWebhookURL sets the merchant-wide webhook URL (Villa's dashboard
// setting) that receives a payment.status.updated callback for every
// status change, in addition to each payment's own callback URL.
func WithWebhookURL(u string) Option { return func(s *Server) { s.webhookURL = u } }

// WithClock sets the simulator's clock.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// WithHTTPClient sets the client callbacks are sent with.
func WithHTTPClient(c *http.Client) Option { return func(s *Server) { s.hc = c } }

// WithPublicURL sets the simulator's own base URL, used in 3-D Secure
// redirect URLs (by default it is derived from each request's Host).
func WithPublicURL(u string) Option {
	return func(s *Server) { s.publicURL = strings.TrimRight(u, "/") }
}

// WithRateLimit sets the per-credential rate limit (default Villa's 1000 a
// minute with bursts of 100).
func WithRateLimit(perMinute, burst int) Option {
	return func(s *Server) { s.limit, s.burst = rate.Limit(float64(perMinute)/60), burst }
}

// WithHTTP200Errors makes the main flavor answer errors with HTTP 200 and
// the error status only in the envelope's statusCode (as API Gateway
// proxies sometimes do).
func WithHTTP200Errors() Option { return func(s *Server) { s.http200Errors = true } }

// WithReusableTokens lets a card token pay more than one order (KBank
// tokens are single use; this eases demos).
func WithReusableTokens() Option { return func(s *Server) { s.reusableTokens = true } }

// WithExpiry sets how long a customer has to pay (default 3600 s, KBank's
// expire_time_seconds).
func WithExpiry(d time.Duration) Option { return func(s *Server) { s.expiry = d } }

// WithCallbackAttempts sets how often a callback is tried before the
// simulator gives up (default 3).
func WithCallbackAttempts(n int) Option { return func(s *Server) { s.callbackAttempts = n } }

// WithCardFormCallbacks sets whether a card payment's 3-D Secure outcome
// reaches its callback URL as KBank's form (objectId, token, status; the
// default) or as Villa's payment.status.updated JSON.
func WithCardFormCallbacks(on bool) Option { return func(s *Server) { s.cardForm = on } }

// New returns a simulator.
func New(opts ...Option) *Server {
	s := &Server{
		apiKey:           DefaultAPIKey,
		clock:            time.Now,
		hc:               &http.Client{Timeout: 10 * time.Second},
		limit:            rate.Limit(1000.0 / 60),
		burst:            100,
		expiry:           time.Hour,
		callbackAttempts: 3,
		cardForm:         true,
		orders:           map[string]*order{},
		byKBankID:        map[string]*order{},
		users:            map[string]*user{},
		usedTokens:       map[string]string{},
		limiters:         map[string]*rate.Limiter{},
		requests:         map[string]int{},
		closed:           make(chan struct{}),
	}
	s.jwtKey = make([]byte, 32)
	_, _ = rand.Read(s.jwtKey)
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if s.callbackAttempts < 1 {
		s.callbackAttempts = 1
	}
	if s.burst < 1 {
		s.burst = 1
	}
	s.routes()
	return s
}

// maxHang bounds how long a Hang fault holds a request.
const maxHang = time.Minute

// Close releases requests held by Hang faults, so the HTTP server serving
// the simulator can shut down. The simulator keeps its state.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// ServeHTTP serves the Villa API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) now() time.Time { return s.clock().UTC() }

// IDToken returns a Cognito-style ID token (an HS256 JWT signed with the
// simulator's own key) that the payment3 flavor accepts until ttl passes.
func (s *Server) IDToken(ttl time.Duration) string {
	now := s.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss":       "villasim",
		"sub":       "villasim-merchant",
		"token_use": "id",
		"iat":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
	})
	signed, err := tok.SignedString(s.jwtKey)
	if err != nil {
		return ""
	}
	return signed
}

// Fault is a misbehaviour applied to the next matching API requests.
type Fault struct {
	// Route is the route it applies to (RouteCardPayment, ...); empty
	// matches every API request.
	Route string
	// Times is how many requests it applies to; zero means once.
	Times int
	// Status, when set, is the HTTP status answered (with Villa's error
	// body: 429 RATE_LIMITED, 500 INTERNAL_ERROR, 503 SERVICE_UNAVAILABLE).
	Status int
	// RetryAfter is the Retry-After of a 429, in whole seconds.
	RetryAfter time.Duration
	// AfterCommit does the request's work first, then answers with the
	// fault: the client cannot know the outcome.
	AfterCommit bool
	// Hang holds the answer until the client gives up (a timeout).
	Hang bool
	// Delay is added before answering.
	Delay time.Duration
}

// InjectFault queues f. Faults apply in the order they were injected.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops queued faults and latency.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.latency = nil, 0
}

// SetLatency adds d to every API answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// CallbackFaults are misbehaviours of callback delivery.
type CallbackFaults struct {
	// Duplicates is how many extra copies of each callback are sent.
	Duplicates int
	// Reorder makes each order created from now on also send a stale
	// "pending" payment.status.updated callback, delivered after the
	// callback of its next status change.
	Reorder bool
}

// SetCallbackFaults sets callback misbehaviours.
func (s *Server) SetCallbackFaults(f CallbackFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cbFaults = f
}

// HoldCallbacks queues callbacks instead of sending them, until
// FlushCallbacks.
func (s *Server) HoldCallbacks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = true
}

// FlushCallbacks sends the held callbacks, newest first when reverse is
// set, and stops holding.
func (s *Server) FlushCallbacks(ctx context.Context, reverse bool) {
	s.mu.Lock()
	list := s.held
	s.held, s.hold = nil, false
	s.mu.Unlock()
	if reverse {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	for _, o := range list {
		s.deliver(ctx, o)
	}
}

// Requests returns how many requests a route received ("" counts all).
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route != "" {
		return s.requests[route]
	}
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// takeFault pops the first fault matching route.
func (s *Server) takeFault(route string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Route != "" && f.Route != route {
			continue
		}
		c := *f
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &c
	}
	return nil
}

// apiError is an error answer.
type apiError struct {
	status int
	code   string
	msg    string
	reason string
	field  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errInvalid(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "INVALID_INPUT", msg: msg, field: field}
}

func errMissing(field string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "MISSING_FIELD", msg: field + " is required", field: field}
}

func errDuplicate(orderID, reason string) *apiError {
	return &apiError{
		status: http.StatusBadRequest, code: "INVALID_INPUT", field: "orderId", reason: reason,
		msg: "order " + orderID + " already exists",
	}
}

func errNotFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "NOT_FOUND", msg: what + " not found"}
}

// request is what a handler sees.
type request struct {
	r        *http.Request
	payment3 bool
	base     string
}

type handler func(rq *request) (any, *apiError)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(RouteCardPayment, s.api(RouteCardPayment, true, s.cardPayment))
	s.mux.HandleFunc(RouteQRPayment, s.api(RouteQRPayment, false, s.qrPayment))
	s.mux.HandleFunc(RouteOrder, s.api(RouteOrder, false, s.qrPayment))
	s.mux.HandleFunc(RouteCalculateCost, s.api(RouteCalculateCost, false, s.calculateCost))
	s.mux.HandleFunc(RouteCheckStatus, s.api(RouteCheckStatus, false, s.checkStatus))
	s.mux.HandleFunc(RouteCreateOrder, s.api(RouteCreateOrder, false, s.createOrder))
	s.mux.HandleFunc(RouteCreateUser, s.api(RouteCreateUser, false, s.createUser))
	s.mux.HandleFunc(RouteUser, s.api(RouteUser, false, s.createUser))
	s.mux.HandleFunc(RouteGetUser, s.api(RouteGetUser, false, s.getUser))
	s.mux.HandleFunc("GET /kbank/3ds/{chargeId}", s.threeDSPage)
	s.mux.HandleFunc("POST /kbank/3ds/{chargeId}", s.threeDSSubmit)
	s.mux.HandleFunc("/", s.api("", true, func(*request) (any, *apiError) {
		return nil, errNotFound("resource")
	}))
}

// api wraps a handler with the vendor's behaviour: latency, rate limits,
// faults, authentication and the response format.
func (s *Server) api(route string, public bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[route]++
		latency := s.latency
		s.mu.Unlock()
		rq := &request{
			r:        r,
			payment3: r.Header.Get("X-API-Key") == "" && r.Header.Get("Authorization") != "",
			base:     s.baseFor(r),
		}
		if !sleep(r.Context(), latency) {
			return
		}
		if lim := s.limiterFor(s.principal(r)); !lim.Allow() {
			w.Header().Set("Retry-After", "1")
			s.writeError(w, rq, &apiError{status: http.StatusTooManyRequests, code: "RATE_LIMITED", msg: "Rate limit exceeded"})
			return
		}
		f := s.takeFault(route)
		if f != nil && !f.AfterCommit && !s.applyFault(w, rq, f) {
			return
		}
		if !public {
			if err := s.authenticate(r); err != nil {
				s.writeError(w, rq, err)
				return
			}
		}
		payload, aerr := h(rq)
		if f != nil && f.AfterCommit && !s.applyFault(w, rq, f) {
			return
		}
		if aerr != nil {
			s.writeError(w, rq, aerr)
			return
		}
		s.writeOK(w, rq, payload)
	}
}

// applyFault plays f and reports whether the request goes on normally.
func (s *Server) applyFault(w http.ResponseWriter, rq *request, f *Fault) bool {
	if !sleep(rq.r.Context(), f.Delay) {
		return false
	}
	if f.Hang {
		// Drain the body first: net/http notices a client that gave up
		// only once the body was read.
		_, _ = io.Copy(io.Discard, io.LimitReader(rq.r.Body, 1<<20))
		t := time.NewTimer(maxHang)
		defer t.Stop()
		select {
		case <-rq.r.Context().Done():
		case <-s.closed:
		case <-t.C:
		}
		return false
	}
	if f.Status == 0 {
		return true
	}
	e := &apiError{status: f.Status, code: "INTERNAL_ERROR", msg: "Internal server error"}
	switch {
	case f.Status == http.StatusTooManyRequests:
		e.code, e.msg = "RATE_LIMITED", "Rate limit exceeded"
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
	case f.Status == http.StatusServiceUnavailable:
		e.code, e.msg = "SERVICE_UNAVAILABLE", "External service unavailable"
	case f.Status == http.StatusUnauthorized:
		e.code, e.msg = "UNAUTHORIZED", "Invalid API key"
	case f.Status == http.StatusForbidden:
		e.code, e.msg = "FORBIDDEN", "Insufficient permissions"
	case f.Status < 500:
		e.code, e.msg = "INVALID_INPUT", "Invalid input parameters"
	}
	s.writeError(w, rq, e)
	return false
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) baseFor(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) principal(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return "key:" + k
	}
	if a := r.Header.Get("Authorization"); a != "" {
		return "token:" + a
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

func (s *Server) limiterFor(key string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[key]
	if !ok {
		l = rate.NewLimiter(s.limit, s.burst)
		s.limiters[key] = l
	}
	return l
}

// authenticate checks X-API-Key (main) or the ID token (payment3).
func (s *Server) authenticate(r *http.Request) *apiError {
	unauthorized := &apiError{status: http.StatusUnauthorized, code: "UNAUTHORIZED", msg: "Invalid API key"}
	if k := r.Header.Get("X-API-Key"); k != "" {
		if subtle.ConstantTimeCompare([]byte(k), []byte(s.apiKey)) == 1 {
			return nil
		}
		return unauthorized
	}
	a := strings.TrimSpace(r.Header.Get("Authorization"))
	if a == "" {
		return unauthorized
	}
	a = strings.TrimSpace(strings.TrimPrefix(a, "Bearer "))
	_, err := jwt.Parse(a, func(*jwt.Token) (any, error) { return s.jwtKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	if err != nil {
		unauthorized.msg = "Invalid or expired ID token"
		return unauthorized
	}
	return nil
}

func (s *Server) writeOK(w http.ResponseWriter, rq *request, payload any) {
	if rq.payment3 {
		writeJSON(w, http.StatusOK, payload)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		StatusCode int `json:"statusCode"`
		Body       any `json:"body"`
	}{http.StatusOK, payload})
}

func (s *Server) writeError(w http.ResponseWriter, rq *request, e *apiError) {
	if rq.payment3 {
		code := strings.ToLower(e.code)
		if e.reason == "duplicate_order" || e.reason == "order_not_payable" {
			code = e.reason
		}
		writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": code, "message": e.msg}})
		return
	}
	details := map[string]string{}
	if e.field != "" {
		details["field"] = e.field
	}
	if e.reason != "" {
		details["reason"] = e.reason
	}
	status := e.status
	if s.http200Errors {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{
		"statusCode": e.status,
		"body":       map[string]any{"error": e.msg, "code": e.code, "details": details},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"statusCode":500,"body":{"error":"encode","code":"INTERNAL_ERROR"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// randomHex returns n random hex characters.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// ErrUnknownPayment is wrapped by customer-side calls for a payment the
// simulator does not know. It wraps payment.ErrNotFound.
var ErrUnknownPayment = fmt.Errorf("villasim: unknown payment: %w", payment.ErrNotFound)

// ErrNotPayable is wrapped by customer-side calls on a payment that is not
// waiting for the customer. It wraps payment.ErrInvalidState.
var ErrNotPayable = fmt.Errorf("villasim: payment is not waiting for the customer: %w", payment.ErrInvalidState)

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
