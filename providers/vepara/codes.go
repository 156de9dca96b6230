package vepara

import (
	"regexp"
	"strconv"
)

// Platform status codes (status_code) that the provider acts on. The full
// table is in StatusText.
const (
	CodeValidation            = 1
	CodeInvoiceProcessed      = 3
	CodeInvalidItems          = 12
	CodeItemsTotalMismatch    = 13
	CodeInvalidMerchantKey    = 14
	CodeInvalidCredentials    = 30
	CodeTransactionNotFound   = 31
	CodeOrderNotCompleted     = 32
	CodeInstallmentNotFound   = 40
	CodeOrderFailed           = 41
	CodeCardBlocked           = 44
	CodeRefundFailed          = 49
	CodeInvalidSaleWebhookKey = 56
	CodeHashMismatch          = 68
	CodeNotProcessedYet       = 69
	CodeSubMerchantNotFound   = 80
	CodeInvalidHashKey        = 90
	CodeUnknownError          = 99
	CodeSuccess               = 100
	CodeRefundRequestCreated  = 101
	CodeRefundIDNotUnique     = 104
	CodeNotApproved           = 105
	CodeInvalidCardNumber     = 108
	CodePartialRefundDenied   = 110
	CodePartiallySuccessful   = 112
	CodeNoPreAuth             = 113
	CodeInvoiceAlreadyDone    = 117
)

// statusTexts is the platform's status_code table (Sipay PHP SDK
// ResponseStatusCode, Turkish descriptions translated).
var statusTexts = map[int]string{
	1:   "basic validation failed",
	3:   "invoice id already processed",
	12:  "items must be an array, or invalid currency or item format",
	13:  "items total does not equal the invoice total",
	14:  "merchant not found (invalid merchant key) or not active",
	30:  "invalid credentials",
	31:  "transaction not found",
	32:  "invalid invoice id, order not completed",
	33:  "amount must be an integer",
	34:  "payment integration method not allowed",
	35:  "credit card option not defined",
	36:  "POS not found",
	37:  "merchant POS commission not set",
	38:  "merchant commission not set for this currency or method",
	39:  "commission not found",
	40:  "installment not found",
	41:  "order failed",
	42:  "product price below commission or cost",
	43:  "payment due not set",
	44:  "card blocked",
	45:  "daily amount limit reached",
	46:  "monthly count limit reached",
	47:  "monthly amount limit reached",
	48:  "below the minimum amount per transaction",
	49:  "refund failed",
	55:  "recurring payments cannot be in installments",
	56:  "invalid sale webhook key",
	60:  "merchant not allowed with this card",
	68:  "hash key and total mismatch",
	69:  "order not processed yet",
	70:  "card program mismatch",
	71:  "recurring plan update failed",
	72:  "delete failed",
	73:  "recurring plan card add failed",
	76:  "foreign cards not allowed",
	77:  "foreign card commission not set",
	79:  "card token payment not allowed",
	80:  "sub-merchant not found",
	81:  "currency conversion failed",
	85:  "invalid character",
	86:  "card token save failed",
	87:  "invalid token or customer number",
	88:  "card token delete failed",
	89:  "card token update failed",
	90:  "invalid hash key",
	91:  "hash key and merchant key mismatch",
	92:  "customer number mismatch",
	93:  "card holder mismatch",
	94:  "card number mismatch",
	95:  "expiry month mismatch",
	96:  "expiry year mismatch",
	97:  "card token mismatch",
	99:  "unknown error",
	100: "success",
	101: "refund request created",
	102: "POS not defined",
	103: "pay-by-token commission not set",
	104: "refund transaction id not unique",
	105: "transaction not approved",
	106: "invalid merchant type",
	107: "API OTP validation failed",
	108: "invalid card number",
	109: "file processing error",
	110: "partial refund not allowed",
	112: "partially successful",
	113: "no pre-authorization found",
	117: "invoice already processed",
	404: "cancel_url required",
}

// StatusText returns the meaning of a platform status_code, or "" for an
// unknown code.
func StatusText(code int) string { return statusTexts[code] }

// codeClass is what a status_code means for the payment.
type codeClass int

const (
	classError     codeClass = iota // the request was refused; nothing happened
	classSuccess                    // 100
	classDeclined                   // the card or the limits refused the payment
	classDuplicate                  // the invoice exists: ask checkstatus
	classPending                    // the outcome is not known yet
	classInput                      // the request was malformed
	classNotFound                   // no such invoice / sub-merchant
)

func classify(code int) codeClass {
	switch code {
	case CodeSuccess:
		return classSuccess
	case CodeOrderFailed, CodeCardBlocked, 45, 46, 47, 48, 60, 70, 76, CodeNotApproved, CodeInvalidCardNumber:
		return classDeclined
	case CodeInvoiceProcessed, CodeInvoiceAlreadyDone:
		return classDuplicate
	case CodeNotProcessedYet, CodeUnknownError, CodePartiallySuccessful:
		return classPending
	case CodeValidation, CodeInvalidItems, CodeItemsTotalMismatch, 33, CodeInstallmentNotFound, 55, 85, 93, 94, 95, 96, 404:
		return classInput
	case CodeTransactionNotFound, CodeOrderNotCompleted, CodeSubMerchantNotFound:
		return classNotFound
	default:
		return classError
	}
}

// panLike matches digit runs long enough to be a card number.
var panLike = regexp.MustCompile(`\d{13,}`)

// vendorMessage returns the platform's description for an error message:
// bounded, with anything that looks like a card number masked, falling
// back to the status table.
func vendorMessage(code int, msgs ...string) string {
	for _, m := range msgs {
		if m == "" {
			continue
		}
		if len(m) > 200 {
			m = m[:200]
		}
		return panLike.ReplaceAllString(m, "[redacted]")
	}
	if t := StatusText(code); t != "" {
		return t
	}
	return "status " + strconv.Itoa(code)
}
