package appotapay

import (
	"strconv"

	"github.com/paykit/paykit/payment"
)

// codeKind is what an AppotaPay error code means for paykit.
type codeKind int

const (
	// kindUnknown: a code the documentation does not list. Its outcome is
	// unknown, so it is treated like kindPending.
	kindUnknown codeKind = iota
	// kindPending: processing or unknown (34, 94, 99, 500): never failure,
	// resolved by sync.
	kindPending
	// kindDecline: the customer's wallet, limits or the issuer refused;
	// the payment definitely failed.
	kindDecline
	// kindExpired: the OTP (and so the transaction) expired.
	kindExpired
	// kindInvalid: our request was wrong (params, signature, method).
	kindInvalid
	// kindAuth: the JWT or the partner was refused.
	kindAuth
	// kindDuplicate: the orderId or partnerRefId exists: query it.
	kindDuplicate
	// kindNotFound: no such transaction.
	kindNotFound
	// kindWrongOTP: the OTP was wrong or requested too often; the customer
	// may try again.
	kindWrongOTP
	// kindAlreadySucceeded: the transaction succeeded already: query it.
	kindAlreadySucceeded
	// kindAlreadyRefunded: the transaction was refunded already.
	kindAlreadyRefunded
	// kindNotRefundable: no (partial) refund possible, or its window passed.
	kindNotRefundable
	// kindTryLater: a refund must wait before the next one (129).
	kindTryLater
)

// classify maps every documented code (e-wallet, gateway v2, refund
// tables) to its kind.
func classify(code int) codeKind {
	switch code {
	case 34, 35, 94, 99, 500:
		return kindPending
	case 33, 39, 65, 70, 75, 84, 162:
		return kindDecline
	case 22:
		return kindExpired
	case 1, 2, 32, 52, 90, 140, 141:
		return kindInvalid
	case 401:
		return kindAuth
	case 30, 31:
		return kindDuplicate
	case 36:
		return kindNotFound
	case 21, 42:
		return kindWrongOTP
	case 41:
		return kindAlreadySucceeded
	case 40:
		return kindAlreadyRefunded
	case 93, 106, 125, 135:
		return kindNotRefundable
	case 129:
		return kindTryLater
	default:
		return kindUnknown
	}
}

// codeMessage is the documented meaning of a code, in English.
func codeMessage(code int) string {
	switch code {
	case 0:
		return "success"
	case 1:
		return "request information missing or invalid"
	case 2:
		return "the signature parameter is incorrect"
	case 21:
		return "wrong OTP"
	case 22:
		return "the OTP expired, please make the transaction again"
	case 30:
		return "duplicate orderId"
	case 31:
		return "duplicate partnerRefId"
	case 32:
		return "invalid amount"
	case 33:
		return "transaction failed"
	case 34:
		return "the transaction is being processed, please check again later"
	case 35:
		return "waiting for the customer to pay"
	case 36:
		return "transaction not found"
	case 39:
		return "too many wrong OTPs"
	case 40:
		return "the transaction was already refunded"
	case 41:
		return "the transaction already succeeded"
	case 42:
		return "too many OTP requests"
	case 52:
		return "invalid payment method"
	case 65:
		return "invalid account"
	case 70:
		return "daily transaction limit exceeded"
	case 75:
		return "insufficient funds"
	case 84:
		return "the amount exceeds the allowed limit"
	case 90:
		return "invalid X-Account-Ref-ID"
	case 93:
		return "the refund window has passed"
	case 94:
		return "the system is under maintenance, please try again later"
	case 99:
		return "unknown error, please check the transaction again later"
	case 106:
		return "partial refund is not supported for this transaction"
	case 125:
		return "the refund period has expired"
	case 129:
		return "please wait before making a new refund request"
	case 135:
		return "the transaction does not support refunds"
	case 140:
		return "the partner may not use this payment method"
	case 141:
		return "the partner may not use this bank code"
	case 162:
		return "monthly transaction limit exceeded"
	case 401:
		return "authentication error"
	case 500:
		return "the system encountered an error, please try again later"
	default:
		return "undocumented error code " + strconv.Itoa(code)
	}
}

// causeFor is the paykit sentinel a vendor error of kind k wraps.
func causeFor(k codeKind) error {
	switch k {
	case kindInvalid, kindWrongOTP:
		return payment.ErrInvalidInput
	case kindNotFound:
		return payment.ErrNotFound
	case kindAlreadyRefunded, kindAlreadySucceeded:
		return payment.ErrInvalidState
	case kindNotRefundable:
		return payment.ErrUnsupported
	case kindUnknown, kindPending, kindDecline, kindExpired, kindAuth, kindDuplicate, kindTryLater:
		return nil
	default:
		return nil
	}
}

// failureFor is the Failure of a payment that ended with code.
func failureFor(code int, vendorMsg string) *payment.Failure {
	msg := codeMessage(code)
	if vendorMsg != "" {
		msg = truncate(vendorMsg, 200)
	}
	switch code {
	case 75:
		return &payment.Failure{Code: payment.FailureInsufficientFunds, Message: msg}
	case 22:
		return &payment.Failure{Code: payment.FailureExpired, Message: msg}
	case 33, 39, 65, 70, 84, 162:
		return &payment.Failure{Code: "appotapay_" + strconv.Itoa(code), Message: msg}
	default:
		return &payment.Failure{Code: payment.FailureProviderError, Message: msg}
	}
}
