package payment

import "slices"

// Status is where a payment is in its life. See the package documentation's
// "State machine" section for the diagram.
type Status string

// Payment statuses.
const (
	// StatusPending: recorded locally; the provider has not answered yet.
	StatusPending Status = "pending"
	// StatusRequiresAction: the customer must act (scan a QR code, enter an
	// OTP, finish 3-D Secure); Payment.NextAction says how.
	StatusRequiresAction Status = "requires_action"
	// StatusProcessing: the provider is working on it, or the outcome is
	// unknown (a timeout). Unknown is never failure: a sync, a webhook or the
	// sweeper resolves it.
	StatusProcessing Status = "processing"
	// StatusAuthorized: funds are held; capture or cancel comes next.
	StatusAuthorized Status = "authorized"
	// StatusSucceeded: the money was captured.
	StatusSucceeded Status = "succeeded"
	// StatusPartiallyRefunded: part of the captured amount was refunded.
	StatusPartiallyRefunded Status = "partially_refunded"
	// StatusRefunded: the whole captured amount was refunded. Terminal.
	StatusRefunded Status = "refunded"
	// StatusFailed: the payment did not go through. Terminal.
	StatusFailed Status = "failed"
	// StatusCanceled: canceled before success (an authorization voided). Terminal,
	// except for a provider-confirmed late success.
	StatusCanceled Status = "canceled"
	// StatusExpired: abandoned, and the provider confirmed it was not paid.
	// Terminal, except for a provider-confirmed late success.
	StatusExpired Status = "expired"
)

// Statuses returns every payment status in the order of the state machine.
func Statuses() []Status {
	return []Status{
		StatusPending, StatusRequiresAction, StatusProcessing, StatusAuthorized,
		StatusSucceeded, StatusPartiallyRefunded, StatusRefunded,
		StatusFailed, StatusCanceled, StatusExpired,
	}
}

// transitions is the payment state machine: from -> the statuses it may move
// to. It is the only place the rules live. Moving to the same status is not a
// transition. canceled/expired -> succeeded is the late-success rule: money
// that really moved after we gave up on it.
var transitions = map[Status][]Status{
	StatusPending: {
		StatusRequiresAction, StatusProcessing, StatusAuthorized, StatusSucceeded,
		StatusFailed, StatusCanceled, StatusExpired,
	},
	StatusRequiresAction: {
		StatusProcessing, StatusAuthorized, StatusSucceeded,
		StatusFailed, StatusCanceled, StatusExpired,
	},
	StatusProcessing: {
		StatusAuthorized, StatusSucceeded, StatusFailed, StatusCanceled, StatusExpired,
	},
	StatusAuthorized: {
		StatusSucceeded, StatusFailed, StatusCanceled, StatusExpired,
	},
	StatusSucceeded:         {StatusPartiallyRefunded, StatusRefunded},
	StatusPartiallyRefunded: {StatusRefunded},
	StatusRefunded:          nil,
	StatusFailed:            nil,
	StatusCanceled:          {StatusSucceeded},
	StatusExpired:           {StatusSucceeded},
}

// Valid reports whether s is one of the statuses of [Statuses].
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no ordinary event moves a payment out of s.
// canceled and expired are terminal although a provider-confirmed late
// success may still move them to succeeded.
func (s Status) Terminal() bool {
	switch s {
	case StatusRefunded, StatusFailed, StatusCanceled, StatusExpired:
		return true
	default:
		return false
	}
}

// Final reports whether the payment's outcome is known: succeeded (or
// refunded), failed, canceled or expired. The sweeper stops looking at a
// payment once its status is final.
func (s Status) Final() bool {
	switch s {
	case StatusPending, StatusRequiresAction, StatusProcessing, StatusAuthorized:
		return false
	default:
		return true
	}
}

// Paid reports whether money was captured: succeeded or (partially) refunded.
func (s Status) Paid() bool {
	return s == StatusSucceeded || s == StatusPartiallyRefunded || s == StatusRefunded
}

// CanTransition reports whether the state machine allows from -> to.
func CanTransition(from, to Status) bool {
	return slices.Contains(transitions[from], to)
}

// CheckTransition returns nil when the state machine allows from -> to,
// and a *TransitionError (wrapping ErrInvalidTransition) otherwise.
func CheckTransition(from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// IsLateSuccess reports whether from -> to is the late-success exception:
// a provider-confirmed success after the payment was canceled or expired
// locally.
func IsLateSuccess(from, to Status) bool {
	return to == StatusSucceeded && (from == StatusCanceled || from == StatusExpired)
}

// RefundStatus is where a refund is.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Final reports whether the refund's outcome is known.
func (s RefundStatus) Final() bool { return s == RefundSucceeded || s == RefundFailed }

// Valid reports whether s is a known refund status.
func (s RefundStatus) Valid() bool {
	return s == RefundPending || s == RefundSucceeded || s == RefundFailed
}

// PayoutStatus is where a payout is.
type PayoutStatus string

// Payout statuses. pending -> processing -> succeeded | failed | canceled.
const (
	PayoutPending    PayoutStatus = "pending"
	PayoutProcessing PayoutStatus = "processing"
	PayoutSucceeded  PayoutStatus = "succeeded"
	PayoutFailed     PayoutStatus = "failed"
	PayoutCanceled   PayoutStatus = "canceled"
)

// Valid reports whether s is a known payout status.
func (s PayoutStatus) Valid() bool {
	switch s {
	case PayoutPending, PayoutProcessing, PayoutSucceeded, PayoutFailed, PayoutCanceled:
		return true
	default:
		return false
	}
}

// Final reports whether the payout's outcome is known.
func (s PayoutStatus) Final() bool {
	return s == PayoutSucceeded || s == PayoutFailed || s == PayoutCanceled
}

// CanPayoutTransition reports whether a payout may move from -> to.
func CanPayoutTransition(from, to PayoutStatus) bool {
	switch from {
	case PayoutPending:
		return to == PayoutProcessing || to.Final()
	case PayoutProcessing:
		return to.Final()
	default:
		return false
	}
}

// Method is how the customer pays.
type Method string

// Payment methods.
const (
	MethodCard         Method = "card"
	MethodQR           Method = "qr"
	MethodWeChat       Method = "wechat"
	MethodEWallet      Method = "ewallet"
	MethodBankTransfer Method = "bank_transfer"
)

// CaptureMethod says whether a card payment is captured at once or only
// authorized.
type CaptureMethod string

// Capture methods.
const (
	CaptureAutomatic CaptureMethod = "automatic"
	CaptureManual    CaptureMethod = "manual"
)

// Source says what caused an event.
type Source string

// Event sources.
const (
	SourceAPI       Source = "api"
	SourceWebhook   Source = "webhook"
	SourceSync      Source = "sync"
	SourceReconcile Source = "reconcile"
)
