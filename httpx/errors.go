package httpx

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/paykit/paykit/payment"
)

// Code is an error code of the API's error envelope.
type Code string

// The error codes of the API, with their HTTP status (see http-api.md).
const (
	CodeInvalidInput          Code = "INVALID_INPUT"           // 400 (405 for a method the route does not serve)
	CodeMissingField          Code = "MISSING_FIELD"           // 400
	CodeUnauthorized          Code = "UNAUTHORIZED"            // 401
	CodeForbidden             Code = "FORBIDDEN"               // 403
	CodeNotFound              Code = "NOT_FOUND"               // 404
	CodeConflict              Code = "CONFLICT"                // 409
	CodeInvalidState          Code = "INVALID_STATE"           // 409
	CodeIdempotencyInProgress Code = "IDEMPOTENCY_IN_PROGRESS" // 409
	CodePayloadTooLarge       Code = "PAYLOAD_TOO_LARGE"       // 413
	CodeUnsupportedMediaType  Code = "UNSUPPORTED_MEDIA_TYPE"  // 415
	CodeIdempotencyMismatch   Code = "IDEMPOTENCY_MISMATCH"    // 422
	CodeRefundExceedsCaptured Code = "REFUND_EXCEEDS_CAPTURED" // 422
	CodeRateLimited           Code = "RATE_LIMITED"            // 429
	CodeInternalError         Code = "INTERNAL_ERROR"          // 500
	CodeProviderError         Code = "PROVIDER_ERROR"          // 502
	CodeServiceUnavailable    Code = "SERVICE_UNAVAILABLE"     // 503
)

// ErrorBody is the JSON body of every error response:
//
//	{"error": {"code": "INVALID_INPUT", "message": "amount must be a positive integer", "details": {"field": "amount"}}}
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is the "error" member of an ErrorBody.
type ErrorObject struct {
	// Code says what went wrong, for programs.
	Code Code `json:"code"`
	// Message says what went wrong, for people. Server errors say nothing
	// internal; the log has the detail under the response's X-Request-Id.
	Message string `json:"message"`
	// Details adds what the code needs: "field" names the offending JSON
	// field or query parameter; a provider error names the "provider" and
	// its "provider_code".
	Details map[string]string `json:"details,omitempty"`
}

// apiError is an error response: status, envelope, extra headers, and the
// cause for the log.
type apiError struct {
	status     int
	code       Code
	message    string
	field      string
	details    map[string]string
	retryAfter string
	cause      error
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.message }

// errInput is a 400 INVALID_INPUT about field.
func errInput(field, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeInvalidInput, message: message, field: field}
}

// scope tells errorFor what kind of route failed.
type scope int

const (
	// scopeObject routes work on a payment, refund or payout.
	scopeObject scope = iota
	// scopeProvider routes name a provider in their path
	// (/providers/{name}/..., /webhooks/{provider}): an unknown provider
	// is 404 there.
	scopeProvider
)

// errorFor is the one place errors become HTTP statuses and error codes.
// Messages of 4xx errors come from the core and name no secret; 5xx
// messages are fixed and say nothing internal (the cause goes to the log).
func errorFor(err error, sc scope) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	e := &apiError{cause: err}
	var ve *payment.ValidationError
	var pe *payment.ProviderError
	switch {
	case errors.As(err, &ve):
		// Before ErrUnknownProvider: checkout's unknown provider is a
		// field error on "provider".
		e.status, e.code, e.message, e.field = http.StatusBadRequest, CodeInvalidInput, ve.Error(), ve.Field
		if ve.Missing {
			e.code = CodeMissingField
		}
	case errors.Is(err, payment.ErrIdempotencyInProgress):
		e.status, e.code, e.retryAfter = http.StatusConflict, CodeIdempotencyInProgress, "1"
		e.message = "a request with this Idempotency-Key is still being processed; retry later"
	case errors.Is(err, payment.ErrIdempotencyMismatch):
		e.status, e.code = http.StatusUnprocessableEntity, CodeIdempotencyMismatch
		e.message = "this Idempotency-Key was used with a different request"
	case errors.Is(err, payment.ErrUnsupported):
		// Also a provider's "cannot do partial refunds": the caller asked
		// for something this provider does not offer.
		e.status, e.code, e.message = http.StatusBadRequest, CodeInvalidInput, unsupportedMessage(err)
	case errors.Is(err, payment.ErrInvalidState):
		e.status, e.code, e.message = http.StatusConflict, CodeInvalidState, coreMessage(err)
	case errors.Is(err, payment.ErrInvalidTransition):
		e.status, e.code, e.message = http.StatusConflict, CodeInvalidState, "the payment's status does not allow this"
	case errors.As(err, &pe):
		e.details = map[string]string{"provider": pe.Provider}
		if pe.Code != "" {
			e.details["provider_code"] = pe.Code
		}
		if pe.Retryable {
			e.status, e.code, e.message = http.StatusServiceUnavailable, CodeServiceUnavailable, "the provider is unavailable; retry later"
		} else {
			e.status, e.code, e.message = http.StatusBadGateway, CodeProviderError, "the provider answered with an error"
		}
	case errors.Is(err, payment.ErrInvalidSignature):
		e.status, e.code, e.message = http.StatusUnauthorized, CodeUnauthorized, "the signature does not verify"
	case errors.Is(err, payment.ErrRefundExceedsCaptured):
		e.status, e.code, e.message = http.StatusUnprocessableEntity, CodeRefundExceedsCaptured, coreMessage(err)
		e.field = "amount"
	case errors.Is(err, payment.ErrUnknownProvider):
		if sc == scopeProvider {
			e.status, e.code, e.message = http.StatusNotFound, CodeNotFound, "no such provider"
		} else {
			// A stored object whose provider is no longer configured.
			e.status, e.code, e.message = http.StatusServiceUnavailable, CodeServiceUnavailable, "the provider is not available"
		}
	case errors.Is(err, payment.ErrNotFound):
		e.status, e.code, e.message = http.StatusNotFound, CodeNotFound, "no such object"
	case errors.Is(err, payment.ErrAlreadyExists):
		e.status, e.code = http.StatusConflict, CodeConflict
		e.message = "already exists: an order has one live payment (or payout) per provider"
	case errors.Is(err, payment.ErrConflict):
		e.status, e.code, e.message = http.StatusConflict, CodeConflict, "a concurrent change won; retry"
	case errors.Is(err, payment.ErrInvalidInput):
		e.status, e.code, e.message = http.StatusBadRequest, CodeInvalidInput, coreMessage(err)
	case errors.Is(err, payment.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.status, e.code, e.message = http.StatusServiceUnavailable, CodeServiceUnavailable, "temporarily unavailable; retry later"
	default:
		e.status, e.code, e.message = http.StatusInternalServerError, CodeInternalError, "internal error"
	}
	return e
}

// coreMessage turns a core error's text into a message for the caller:
// the package prefixes go, what it says stays. Only used for 4xx errors,
// whose text the core builds from statuses, amounts and names.
func coreMessage(err error) string {
	msg := err.Error()
	for {
		rest, ok := strings.CutPrefix(msg, "payment: ")
		if !ok {
			break
		}
		msg = rest
	}
	return msg
}

// unsupportedMessage says which provider cannot do what, when the core
// said so ("provider sandbox cannot capture").
func unsupportedMessage(err error) string {
	msg := strings.TrimPrefix(coreMessage(err), errors.ErrUnsupported.Error()+": ")
	if strings.HasPrefix(msg, "provider ") {
		return msg
	}
	return "the provider cannot do this"
}

// body returns the envelope of e.
func (e *apiError) body() *ErrorBody {
	b := &ErrorBody{Error: ErrorObject{Code: e.code, Message: e.message, Details: e.details}}
	if e.field != "" {
		if b.Error.Details == nil {
			b.Error.Details = map[string]string{}
		}
		b.Error.Details["field"] = e.field
	}
	return b
}
