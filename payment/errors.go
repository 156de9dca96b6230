package payment

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error paykit returns wraps at most one of them;
// check with errors.Is.
var (
	// ErrNotFound: no such payment, refund, payout, event or key.
	ErrNotFound = errors.New("payment: not found")
	// ErrAlreadyExists: a record with that id, or a live payment for that
	// provider and order id, exists already.
	ErrAlreadyExists = errors.New("payment: already exists")
	// ErrConflict: a compare-and-set lost to a concurrent writer.
	ErrConflict = errors.New("payment: conflict")
	// ErrInvalidTransition: the state machine does not allow the change.
	ErrInvalidTransition = errors.New("payment: invalid transition")
	// ErrInvalidState: the object's status does not allow the operation
	// (a refund before success, a cancel after success).
	ErrInvalidState = errors.New("payment: invalid state")
	// ErrInvalidSignature: a webhook or callback did not verify.
	ErrInvalidSignature = errors.New("payment: invalid signature")
	// ErrUnknownProvider: no provider of that name is configured.
	ErrUnknownProvider = errors.New("payment: unknown provider")
	// ErrInvalidInput: the input is malformed, out of range or unsupported.
	// A *ValidationError names the field.
	ErrInvalidInput = errors.New("payment: invalid input")
	// ErrUnsupported: the provider does not offer this capability.
	ErrUnsupported = fmt.Errorf("payment: %w", errors.ErrUnsupported)
	// ErrUnavailable: the store (or a dependency) cannot be reached; the
	// operation may be retried later.
	ErrUnavailable = errors.New("payment: unavailable")
	// ErrIdempotencyMismatch: an idempotency key was reused with a
	// different request.
	ErrIdempotencyMismatch = errors.New("payment: idempotency key reused with a different request")
	// ErrIdempotencyInProgress: the first request with this idempotency key
	// is still running.
	ErrIdempotencyInProgress = errors.New("payment: idempotency key in use by a request in progress")
	// ErrRefundExceedsCaptured: a refund larger than what is left to refund.
	ErrRefundExceedsCaptured = errors.New("payment: refund exceeds the refundable amount")
	// ErrProvider: the provider answered with an error that is not a
	// decline. A *ProviderError carries the detail.
	ErrProvider = errors.New("payment: provider error")
)

// ValidationError names the field that is wrong. It wraps ErrInvalidInput.
type ValidationError struct {
	// Field is the JSON name of the field, dotted for nested fields
	// ("customer.email", "items[1].price").
	Field string
	// Missing is true when the field is required and absent.
	Missing bool
	// Reason says what is wrong, for people. It never contains the value of
	// a secret field.
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Missing {
		return e.Field + " is required"
	}
	if e.Reason == "" {
		return e.Field + " is invalid"
	}
	return e.Field + " " + e.Reason
}

// Unwrap returns ErrInvalidInput.
func (e *ValidationError) Unwrap() error { return ErrInvalidInput }

// InvalidField returns a *ValidationError for field.
func InvalidField(field, reason string) error {
	return &ValidationError{Field: field, Reason: reason}
}

// MissingField returns a *ValidationError for a required field that is absent.
func MissingField(field string) error {
	return &ValidationError{Field: field, Missing: true}
}

// TransitionError is returned when the state machine refuses a change. It
// wraps ErrInvalidTransition.
type TransitionError struct {
	From, To Status
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("payment: cannot move from %s to %s", e.From, e.To)
}

// Unwrap returns ErrInvalidTransition.
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// ProviderError is an error from a provider's API. It wraps ErrProvider and,
// when set, Err (which may be ErrInvalidInput, ErrUnavailable, ...).
type ProviderError struct {
	// Provider is the provider's name.
	Provider string
	// Op is the operation: "start", "sync", "refund", "payout", ...
	Op string
	// Code is the vendor's error code, as the vendor spells it.
	Code string
	// Message is the vendor's message. Providers must not put request
	// secrets or card data in it.
	Message string
	// Retryable is true when the outcome is unknown or the failure is
	// transient (a timeout, a 5xx, a "processing, check later" code): the
	// operation may have taken effect, and repeating it with the same
	// idempotency key is safe. The Service treats a retryable error from
	// Start as processing, never as failed.
	Retryable bool
	// Err is the underlying cause, if any.
	Err error
}

// Error implements error.
func (e *ProviderError) Error() string {
	msg := "payment: provider " + e.Provider + " " + e.Op
	if e.Code != "" {
		msg += ": code " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrProvider and the cause.
func (e *ProviderError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrProvider}
	}
	return []error{ErrProvider, e.Err}
}

// IsRetryable reports whether err says the outcome of a provider call is
// unknown or transient: a *ProviderError with Retryable set, ErrUnavailable,
// or any error that is not a *ProviderError and not invalid input (a network
// error, a context deadline). Unknown is never treated as failure.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Retryable
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	return !errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrUnsupported) &&
		!errors.Is(err, ErrInvalidSignature)
}
