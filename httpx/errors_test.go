package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func TestErrorFor(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("payment: op pay_1: %w", err) }
	tests := []struct {
		name       string
		err        error
		scope      scope
		status     int
		code       Code
		field      string
		retryAfter string
	}{
		{"validation", payment.InvalidField("amount", "must be a positive integer"), scopeObject, 400, CodeInvalidInput, "amount", ""},
		{"missing", payment.MissingField("order_id"), scopeObject, 400, CodeMissingField, "order_id", ""},
		{"wrapped validation", wrap(payment.MissingField("currency")), scopeObject, 400, CodeMissingField, "currency", ""},
		{
			"checkout unknown provider is a field error", fmt.Errorf("%w: %w", payment.ErrUnknownProvider, payment.InvalidField("provider", "is not a configured provider")),
			scopeObject, 400, CodeInvalidInput, "provider", "",
		},
		{"unknown provider on provider routes", wrap(payment.ErrUnknownProvider), scopeProvider, 404, CodeNotFound, "", ""},
		{"unknown provider of a stored object", wrap(payment.ErrUnknownProvider), scopeObject, 503, CodeServiceUnavailable, "", ""},
		{"not found", wrap(payment.ErrNotFound), scopeObject, 404, CodeNotFound, "", ""},
		{"already exists", wrap(payment.ErrAlreadyExists), scopeObject, 409, CodeConflict, "", ""},
		{"conflict", wrap(payment.ErrConflict), scopeObject, 409, CodeConflict, "", ""},
		{"invalid state", fmt.Errorf("%w: cannot refund a pending payment", payment.ErrInvalidState), scopeObject, 409, CodeInvalidState, "", ""},
		{"invalid transition", &payment.TransitionError{From: payment.StatusFailed, To: payment.StatusSucceeded}, scopeObject, 409, CodeInvalidState, "", ""},
		{
			"provider says the state does not allow it", wrap(&payment.ProviderError{Provider: "vepara", Op: "capture", Code: "113", Err: payment.ErrInvalidState}),
			scopeObject, 409, CodeInvalidState, "", "",
		},
		{"in progress", payment.ErrIdempotencyInProgress, scopeObject, 409, CodeIdempotencyInProgress, "", "1"},
		{"mismatch", payment.ErrIdempotencyMismatch, scopeObject, 422, CodeIdempotencyMismatch, "", ""},
		{"refund exceeds", fmt.Errorf("%w: 5000 requested, 100 refundable", payment.ErrRefundExceedsCaptured), scopeObject, 422, CodeRefundExceedsCaptured, "amount", ""},
		{"unsupported", fmt.Errorf("%w: provider x cannot capture", payment.ErrUnsupported), scopeObject, 400, CodeInvalidInput, "", ""},
		{
			"provider unsupported partial refund", &payment.ProviderError{Provider: "x", Op: "refund", Err: payment.ErrUnsupported},
			scopeObject, 400, CodeInvalidInput, "", "",
		},
		{"invalid input", fmt.Errorf("%w: sandbox: no", payment.ErrInvalidInput), scopeObject, 400, CodeInvalidInput, "", ""},
		{"provider refused", wrap(&payment.ProviderError{Provider: "x", Op: "start", Code: "E42"}), scopeObject, 502, CodeProviderError, "", ""},
		{
			"provider refused, not found at the vendor", &payment.ProviderError{Provider: "x", Op: "sync", Err: payment.ErrNotFound},
			scopeObject, 502, CodeProviderError, "", "",
		},
		{"provider unknown outcome", &payment.ProviderError{Provider: "x", Op: "sync", Retryable: true}, scopeObject, 503, CodeServiceUnavailable, "", ""},
		{"unavailable", wrap(payment.ErrUnavailable), scopeObject, 503, CodeServiceUnavailable, "", ""},
		{"deadline", wrap(context.DeadlineExceeded), scopeObject, 503, CodeServiceUnavailable, "", ""},
		{"invalid signature", wrap(payment.ErrInvalidSignature), scopeProvider, 401, CodeUnauthorized, "", ""},
		{"anything else", errors.New("boom: secret detail"), scopeObject, 500, CodeInternalError, "", ""},
		{"already an api error", tooLarge(10), scopeObject, 413, CodePayloadTooLarge, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := errorFor(tt.err, tt.scope)
			require.Equal(t, tt.status, e.status)
			require.Equal(t, tt.code, e.code)
			require.Equal(t, tt.field, e.field)
			require.Equal(t, tt.retryAfter, e.retryAfter)
			require.NotEmpty(t, e.message)
			if e.status >= 500 {
				require.NotContains(t, e.message, "secret")
				require.NotContains(t, e.message, "payment:")
				require.NotContains(t, e.message, "pay_1")
			}
			b := e.body()
			require.Equal(t, tt.code, b.Error.Code)
			if tt.field != "" {
				require.Equal(t, tt.field, b.Error.Details["field"])
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	e := errorFor(fmt.Errorf("%w: provider sandbox cannot capture", payment.ErrUnsupported), scopeObject)
	require.Equal(t, "provider sandbox cannot capture", e.message)
	e = errorFor(payment.ErrUnsupported, scopeObject)
	require.Equal(t, "the provider cannot do this", e.message)
	e = errorFor(payment.InvalidField("amount", "must be a positive integer"), scopeObject)
	require.Equal(t, "amount must be a positive integer", e.message)
	e = errorFor(fmt.Errorf("%w: cannot cancel a succeeded payment", payment.ErrInvalidState), scopeObject)
	require.Equal(t, "invalid state: cannot cancel a succeeded payment", e.message)
	e = errorFor(&payment.ProviderError{Provider: "villa", Op: "start", Code: "E42", Message: "internal vendor text"}, scopeObject)
	require.Equal(t, map[string]string{"provider": "villa", "provider_code": "E42"}, e.details)
	require.NotContains(t, e.message, "vendor text")
	require.Equal(t, http.StatusBadGateway, e.status)
}
