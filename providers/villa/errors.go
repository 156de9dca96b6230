package villa

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/paykit/paykit/payment"
)

// Villa's documented error codes (the main API spells them in upper case,
// the payment3api guide pages in lower case; both are matched ignoring
// case).
const (
	CodeInvalidInput       = "INVALID_INPUT"
	CodeMissingField       = "MISSING_FIELD"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeForbidden          = "FORBIDDEN"
	CodeNotFound           = "NOT_FOUND"
	CodeRateLimited        = "RATE_LIMITED"
	CodeInternalError      = "INTERNAL_ERROR"
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	// CodeDuplicateOrder is how the payment3 flavor says an order id is
	// taken; the main API says INVALID_INPUT with details.reason
	// "duplicate_order". Neither is documented; both are recognised.
	CodeDuplicateOrder = "DUPLICATE_ORDER"
)

// apiError is an error answer in any of Villa's shapes:
//
//	{"statusCode":400,"body":{"error":"msg","code":"ERROR_CODE","details":{}}}
//	{"error":{"code":"missing_field","message":"..."}}
//	{"object":"error","code":"...","message":"..."}
type apiError struct {
	status  int
	code    string
	message string
	reason  string
}

// errMalformed is a 2xx answer the provider cannot read: the outcome of the
// call is unknown.
var errMalformed = errors.New("villa: malformed response")

// decodeResponse unwraps the {statusCode, body} envelope when there is one
// and separates success payloads from error answers. It accepts either
// flavor's shapes whatever the configured flavor.
func decodeResponse(httpStatus int, body []byte) (json.RawMessage, *apiError, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		if httpStatus >= 400 {
			return nil, &apiError{status: httpStatus}, nil
		}
		return nil, nil, nil
	}
	obj, err := decodeObject(body)
	if err != nil {
		if httpStatus >= 400 {
			return nil, &apiError{status: httpStatus}, nil
		}
		return nil, nil, errMalformed
	}
	status := httpStatus
	payload := json.RawMessage(body)
	if sc, ok := rawInt(obj["statusCode"]); ok {
		if inner, has := obj["body"]; has {
			// An envelope: its statusCode may say error while HTTP says
			// 200 (API Gateway proxies do that).
			if sc >= 400 {
				status = int(sc)
			}
			payload = inner
			if s := bytes.TrimSpace(inner); len(s) > 0 && s[0] == '"' {
				// Some gateways put the JSON body in a string.
				var text string
				if json.Unmarshal(s, &text) == nil {
					payload = json.RawMessage(text)
				}
			}
		}
	}
	if status < 400 {
		return payload, nil, nil
	}
	ae := &apiError{status: status}
	if eo, err := decodeObject(payload); err == nil {
		ae.fill(eo)
	}
	return nil, ae, nil
}

func (ae *apiError) fill(o object) {
	if inner := o.obj("error"); inner != nil {
		ae.code = inner.str("code")
		ae.message = inner.str("message", "error")
		if d := inner.obj("details"); d != nil {
			ae.reason = d.str("reason")
		}
	} else {
		ae.message = o.str("error", "message")
		ae.code = o.str("code", "errorCode")
	}
	if d := o.obj("details"); d != nil && ae.reason == "" {
		ae.reason = d.str("reason")
	}
}

// duplicate reports whether the answer says the order id already exists
// (or is no longer payable): Start then resolves the payment by querying
// the order instead of failing.
func (ae *apiError) duplicate() bool {
	if ae == nil {
		return false
	}
	if ae.status == http.StatusConflict {
		return true
	}
	for _, s := range []string{ae.code, ae.reason} {
		switch strings.ToUpper(s) {
		case CodeDuplicateOrder, "ORDER_EXISTS", "DUPLICATE", "ORDER_NOT_PAYABLE", "ALREADY_PAID":
			return true
		}
	}
	return false
}

// providerError maps an error answer to a *payment.ProviderError. secrets
// are redacted from the vendor's message.
func (ae *apiError) providerError(op string, secrets ...string) *payment.ProviderError {
	pe := &payment.ProviderError{
		Provider: Name,
		Op:       op,
		Code:     ae.code,
		Message:  redact(truncate(ae.message, 200), secrets...),
	}
	if pe.Code == "" {
		pe.Code = "HTTP_" + http.StatusText(ae.status)
		pe.Code = strings.ToUpper(strings.ReplaceAll(pe.Code, " ", "_"))
	}
	switch strings.ToUpper(ae.code) {
	case CodeInvalidInput, CodeMissingField, "INVALID_AMOUNT", "INVALID_REQUEST", CodeDuplicateOrder:
		pe.Err = payment.ErrInvalidInput
		return pe
	case CodeUnauthorized, CodeForbidden:
		return pe
	case CodeNotFound:
		pe.Err = payment.ErrNotFound
		return pe
	case CodeRateLimited:
		pe.Retryable = true
		return pe
	case CodeInternalError, CodeServiceUnavailable:
		pe.Retryable, pe.Err = true, payment.ErrUnavailable
		return pe
	}
	switch {
	case ae.status == http.StatusTooManyRequests:
		pe.Retryable = true
	case ae.status >= 500:
		pe.Retryable, pe.Err = true, payment.ErrUnavailable
	case ae.status == http.StatusNotFound:
		pe.Err = payment.ErrNotFound
	case ae.status == http.StatusBadRequest || ae.status == http.StatusUnprocessableEntity:
		pe.Err = payment.ErrInvalidInput
	}
	return pe
}

// retryable reports whether the answer is transient.
func (ae *apiError) retryable() bool {
	switch strings.ToUpper(ae.code) {
	case CodeRateLimited, CodeInternalError, CodeServiceUnavailable:
		return true
	}
	return ae.status == http.StatusTooManyRequests || ae.status >= 500
}

func (ae *apiError) rateLimited() bool {
	return ae.status == http.StatusTooManyRequests || strings.EqualFold(ae.code, CodeRateLimited)
}

// redact replaces every secret in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// transportError is a call whose outcome is unknown: a network error or a
// timeout. The wrapped error never carries credentials (they travel in
// headers and bodies, which net/http does not put in errors).
func transportError(op string, err error) *payment.ProviderError {
	return &payment.ProviderError{Provider: Name, Op: op, Code: "NETWORK", Retryable: true, Err: err}
}
