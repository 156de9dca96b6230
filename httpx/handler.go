package httpx

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// Response headers.
const (
	headerRequestID          = "X-Request-Id"
	headerIdempotencyKey     = "Idempotency-Key"
	headerIdempotentReplayed = "Idempotent-Replayed"
	headerRateLimitLimit     = "X-RateLimit-Limit"
	headerRateLimitRemaining = "X-RateLimit-Remaining"
	headerRetryAfter         = "Retry-After"
)

// handler serves the API of http-api.md.
type handler struct {
	svc            *payment.Service
	mux            *http.ServeMux
	log            *zap.Logger
	auth           authenticator
	limit          *limiters
	maxBody        int64
	maxWebhookBody int64
	bodyTimeout    time.Duration
	clientIP       func(*http.Request) string
	idPrefix       string
	seq            atomic.Uint64
	now            func() time.Time // the rate limiter's clock
}

// NewHandler returns the HTTP API of svc (see the package documentation and
// http-api.md). It is mountable under any prefix:
//
//	mux.Handle("/pay/", http.StripPrefix("/pay", h))
//
// An authentication decision is required: WithAPIKeys, WithAuthenticator or
// WithoutAuth.
func NewHandler(svc *payment.Service, opts ...Option) (http.Handler, error) {
	if svc == nil {
		return nil, errors.New("httpx: NewHandler: nil service")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	h := &handler{
		svc:            svc,
		mux:            http.NewServeMux(),
		log:            cfg.logger,
		maxBody:        cfg.maxBody,
		maxWebhookBody: cfg.maxWebhookBody,
		bodyTimeout:    cfg.bodyTimeout,
		clientIP:       cfg.clientIP,
		now:            time.Now,
	}
	var rlKey func(*http.Request) string
	if cfg.rateLimit != nil {
		rlKey = cfg.rateLimit.Key
	}
	switch cfg.auth {
	case authAPIKeys:
		h.auth = newAPIKeyAuth(cfg.apiKeys)
	case authFunc:
		h.auth = &funcAuth{fn: cfg.authenticator, key: rlKey}
	case authNone:
		h.auth = &noAuth{key: rlKey}
	case authUndecided:
		return nil, errors.New("httpx: NewHandler: no authentication decision: use WithAPIKeys, WithAuthenticator or WithoutAuth")
	}
	if cfg.rateLimit != nil {
		h.limit = newLimiters(cfg.rateLimit, len(cfg.apiKeys), cfg.maxRateLimiters)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("httpx: NewHandler: %w", err)
	}
	h.idPrefix = "req_" + hex.EncodeToString(b[:]) + "_"
	h.routes()
	return h, nil
}

// routes registers every route of the table, a 405 for each of their
// paths with another method, and a 404 for everything else.
func (h *handler) routes() {
	methods := map[string][]string{}
	add := func(method, path string, hf http.HandlerFunc) {
		h.mux.HandleFunc(method+" "+path, hf)
		methods[path] = append(methods[path], method)
	}
	add("POST", "/checkout", h.api(scopeObject, h.checkout))
	add("GET", "/payments", h.api(scopeObject, h.listPayments))
	add("GET", "/payments/{id}", h.api(scopeObject, h.getPayment))
	add("GET", "/payments/{id}/events", h.api(scopeObject, h.listEvents))
	add("POST", "/payments/{id}/refunds", h.api(scopeObject, h.refund))
	add("POST", "/payments/{id}/cancel", h.api(scopeObject, h.cancel))
	add("POST", "/payments/{id}/capture", h.api(scopeObject, h.capture))
	add("POST", "/payments/{id}/confirm", h.api(scopeObject, h.confirm))
	add("POST", "/payouts", h.api(scopeObject, h.createPayout))
	add("GET", "/payouts/{id}", h.api(scopeObject, h.getPayout))
	add("GET", "/providers", h.api(scopeProvider, h.listProviders))
	add("GET", "/providers/{name}/balance", h.api(scopeProvider, h.balance))
	add("GET", "/providers/{name}/quote", h.api(scopeProvider, h.quote))
	add("GET", "/events", h.api(scopeObject, h.listDeliveries))
	add("POST", "/events/{id}/redeliver", h.api(scopeObject, h.redeliver))
	add("POST", "/webhooks/{provider}", h.webhook)

	for path, ms := range methods {
		if slices.Contains(ms, http.MethodGet) {
			ms = append(ms, http.MethodHead)
		}
		slices.Sort(ms)
		allow := strings.Join(ms, ", ")
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			h.fail(asRespWriter(w), &apiError{
				status:  http.StatusMethodNotAllowed,
				code:    CodeInvalidInput,
				message: "method " + r.Method + " is not allowed here; allowed: " + allow,
			}, scopeObject)
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		h.fail(asRespWriter(w), &apiError{status: http.StatusNotFound, code: CodeNotFound, message: "no such route"}, scopeObject)
	})
}

// ServeHTTP gives every request an id, recovers panics and logs the
// request once it is done.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &respWriter{ResponseWriter: w, reqID: h.requestID(r)}
	rw.reqIDValue[0] = rw.reqID
	w.Header()[headerRequestID] = rw.reqIDValue[:]
	defer h.finish(rw, r, start)
	h.mux.ServeHTTP(rw, r)
}

// finish recovers a panic into a 500 and writes the request log. It must be
// called by defer.
func (h *handler) finish(rw *respWriter, r *http.Request, start time.Time) {
	abort := false
	if v := recover(); v != nil {
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		h.log.Error("panic serving request",
			zap.String("request_id", rw.reqID), zap.String("route", r.Pattern),
			zap.String("panic", fmt.Sprint(v)), zap.Stack("stack"))
		if rw.status == 0 {
			h.fail(rw, &apiError{status: http.StatusInternalServerError, code: CodeInternalError, message: "internal error"}, scopeObject)
		} else {
			// Too late for an error response: break the connection so the
			// client cannot take a truncated body for a whole one.
			abort = true
		}
	}
	defer func() {
		if abort {
			panic(http.ErrAbortHandler)
		}
	}()
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	level := zap.InfoLevel
	if status >= http.StatusInternalServerError {
		level = zap.ErrorLevel
	}
	ce := h.log.Check(level, "request")
	if ce == nil {
		return
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	fields := make([]zap.Field, 0, 8)
	fields = append(fields,
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
		zap.String("request_id", rw.reqID),
	)
	if e := rw.apiErr; e != nil {
		fields = append(fields, zap.String("code", string(e.code)))
		if e.cause != nil {
			// The core's errors name ids, statuses and amounts, never
			// card data or secrets.
			fields = append(fields, zap.String("error", e.cause.Error()))
		}
	}
	ce.Write(fields...)
}

// requestID returns the request's X-Request-Id when it is sane (1 to 128
// of A-Za-z0-9 and -_.:+=/), otherwise a new one.
func (h *handler) requestID(r *http.Request) string {
	if id := r.Header.Get(headerRequestID); id != "" && saneRequestID(id) {
		return id
	}
	return h.idPrefix + strconv.FormatUint(h.seq.Add(1), 36)
}

func saneRequestID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.:+=/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// endpoint is an API route: it writes its response, or returns an error
// for the encoder.
type endpoint func(rw *respWriter, r *http.Request) error

// api wraps an endpoint with authentication and rate limiting.
func (h *handler) api(sc scope, fn endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rw := asRespWriter(w)
		if err := h.admit(rw, r); err != nil {
			h.fail(rw, err, sc)
			return
		}
		if err := fn(rw, r); err != nil {
			h.fail(rw, err, sc)
		}
	}
}

// admit authenticates the request and takes a rate-limit token.
func (h *handler) admit(rw *respWriter, r *http.Request) error {
	identity, index, err := h.auth.authenticate(r)
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			return &apiError{status: http.StatusForbidden, code: CodeForbidden, message: "this caller may not do this", cause: err}
		}
		return &apiError{status: http.StatusUnauthorized, code: CodeUnauthorized, message: "missing or invalid API key"}
	}
	if h.limit == nil {
		return nil
	}
	now := h.now()
	lim := h.limit.get(identity, index, now)
	remaining, wait, ok := h.limit.take(lim, now)
	hd := rw.Header()
	hd.Set(headerRateLimitLimit, h.limit.requests)
	hd.Set(headerRateLimitRemaining, itoa(remaining))
	if !ok {
		return &apiError{
			status: http.StatusTooManyRequests, code: CodeRateLimited,
			message: "too many requests; retry after the time in Retry-After", retryAfter: retryAfterSeconds(wait),
		}
	}
	return nil
}

// fail writes err as an error response, through errorFor.
func (h *handler) fail(rw *respWriter, err error, sc scope) {
	e := errorFor(err, sc)
	rw.apiErr = e
	if rw.status != 0 {
		return // too late to answer with an error
	}
	if e.retryAfter != "" {
		rw.Header().Set(headerRetryAfter, e.retryAfter)
	}
	h.writeJSON(rw, e.status, e.body())
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // let rare huge buffers go
	}
	b.Reset()
	bufPool.Put(b)
}

// jsonBuffer is a response buffer with its encoder, pooled together.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonPool = sync.Pool{New: func() any {
	j := &jsonBuffer{}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	return j
}}

// writeJSON writes v as the JSON response.
func (h *handler) writeJSON(rw *respWriter, status int, v any) {
	j := jsonPool.Get().(*jsonBuffer)
	defer func() {
		if j.buf.Cap() <= 1<<20 {
			j.buf.Reset()
			jsonPool.Put(j)
		}
	}()
	if err := encode(j, v); err != nil {
		j.buf.Reset()
		rw.apiErr = &apiError{status: http.StatusInternalServerError, code: CodeInternalError, message: "internal error", cause: err}
		status = http.StatusInternalServerError
		_ = j.enc.Encode(rw.apiErr.body())
	}
	hd := rw.Header()
	hd["Content-Type"] = contentTypeJSON
	hd["Cache-Control"] = noStore
	hd["X-Content-Type-Options"] = noSniff
	hd["Content-Length"] = []string{itoa(j.buf.Len())}
	rw.WriteHeader(status)
	_, _ = rw.Write(j.buf.Bytes())
}

// encode writes v and a newline to j's buffer, as j.enc.Encode does: a
// payment, the most common response, with Payment.AppendJSON.
func encode(j *jsonBuffer, v any) error {
	p, ok := v.(*payment.Payment)
	if !ok {
		return j.enc.Encode(v)
	}
	b, err := p.AppendJSON(j.buf.AvailableBuffer(), false)
	if err != nil {
		return err
	}
	_, _ = j.buf.Write(append(b, '\n'))
	return nil
}

// Shared header values; net/http never modifies them.
var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
	trueValue       = []string{"true"}
)

// list is the envelope of every list response.
type list[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func newList[T any](data []T) *list[T] {
	if data == nil {
		data = []T{}
	}
	return &list[T]{Object: "list", Data: data}
}

// respWriter records what a handler wrote, for the log and for fail.
type respWriter struct {
	http.ResponseWriter
	status     int
	reqID      string
	reqIDValue [1]string // the X-Request-Id header value, without another allocation
	apiErr     *apiError
}

// WriteHeader implements http.ResponseWriter.
func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b) //nolint:gosec // JSON or a provider's ack, never HTML; sent with nosniff
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// asRespWriter returns the respWriter ServeHTTP made; a handler is only
// reached through ServeHTTP, but stay safe if not.
func asRespWriter(w http.ResponseWriter) *respWriter {
	if rw, ok := w.(*respWriter); ok {
		return rw
	}
	return &respWriter{ResponseWriter: w}
}

func itoa(n int) string { return strconv.Itoa(n) }
