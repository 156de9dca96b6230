package vepara

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// txnResponse is the answer of a sale, checkstatus or confirmPayment. The
// platform answers these flat (checkstatus, the marketplace sale) or with
// the details in "data" (paySmart2D); both are read.
type txnResponse struct {
	baseResponse
	TransactionStatus            string          `json:"transaction_status"`
	TransactionType              string          `json:"transaction_type"`
	OrderID                      flexString      `json:"order_id"`
	OrderNo                      flexString      `json:"order_no"`
	InvoiceID                    flexString      `json:"invoice_id"`
	PaymentStatus                flexString      `json:"payment_status"`
	ProductPrice                 flexString      `json:"product_price"`
	TransactionAmount            flexString      `json:"transaction_amount"`
	CurrencyCode                 string          `json:"currency_code"`
	Reason                       string          `json:"reason"`
	BankStatusCode               flexString      `json:"bank_status_code"`
	BankStatusDescription        string          `json:"bank_status_description"`
	OriginalBankErrorCode        flexString      `json:"original_bank_error_code"`
	OriginalBankErrorDescription string          `json:"original_bank_error_description"`
	CCNo                         string          `json:"cc_no"`
	RefundInfo                   json.RawMessage `json:"refund_info"`
	Data                         json.RawMessage `json:"data"`
}

// saleData is paySmart2D's "data".
type saleData struct {
	VeparaStatus                 flexString `json:"vepara_status"`
	SipayStatus                  flexString `json:"sipay_status"`
	OrderNo                      flexString `json:"order_no"`
	OrderID                      flexString `json:"order_id"`
	InvoiceID                    flexString `json:"invoice_id"`
	TransactionType              string     `json:"transaction_type"`
	PaymentStatus                flexString `json:"payment_status"`
	ErrorCode                    flexString `json:"error_code"`
	Error                        string     `json:"error"`
	Amount                       flexString `json:"amount"`
	CreditCardNo                 string     `json:"credit_card_no"`
	OriginalBankErrorCode        flexString `json:"original_bank_error_code"`
	OriginalBankErrorDescription string     `json:"original_bank_error_description"`
}

// txn is a transaction answer, normalised.
type txn struct {
	baseResponse
	code              int
	hasCode           bool
	transactionStatus string
	transactionType   string
	paymentStatus     string
	orderID           string
	invoiceID         string
	productPrice      flexString
	currency          string
	bankCode          string
	bankMessage       string
	cardNo            string
}

func (r *txnResponse) normalize() *txn {
	t := &txn{
		baseResponse:      r.baseResponse,
		transactionStatus: r.TransactionStatus,
		transactionType:   r.TransactionType,
		paymentStatus:     string(r.PaymentStatus),
		orderID:           firstOf(string(r.OrderID), string(r.OrderNo)),
		invoiceID:         string(r.InvoiceID),
		productPrice:      r.ProductPrice,
		currency:          r.CurrencyCode,
		bankCode:          firstOf(string(r.OriginalBankErrorCode), string(r.BankStatusCode)),
		bankMessage:       firstOf(r.OriginalBankErrorDescription, r.BankStatusDescription, r.Reason),
		cardNo:            r.CCNo,
	}
	t.code, t.hasCode = r.StatusCode.Int()
	if len(r.Data) > 0 && r.Data[0] == '{' {
		var d saleData
		if json.Unmarshal(r.Data, &d) == nil {
			t.orderID = firstOf(string(d.OrderID), string(d.OrderNo), t.orderID)
			t.invoiceID = firstOf(string(d.InvoiceID), t.invoiceID)
			t.transactionType = firstOf(d.TransactionType, t.transactionType)
			t.paymentStatus = firstOf(string(d.PaymentStatus), string(d.VeparaStatus), string(d.SipayStatus), t.paymentStatus)
			t.bankCode = firstOf(string(d.OriginalBankErrorCode), string(d.ErrorCode), t.bankCode)
			t.bankMessage = firstOf(d.OriginalBankErrorDescription, d.Error, t.bankMessage)
			t.cardNo = firstOf(d.CreditCardNo, t.cardNo)
			if t.productPrice == "" {
				t.productPrice = d.Amount
			}
		}
	}
	if t.productPrice == "" {
		t.productPrice = r.TransactionAmount
	}
	return t
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// squash lower-cases s and drops everything but letters: "Pre-Authorization"
// becomes "preauthorization".
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isPreAuth(transactionType string) bool {
	switch squash(transactionType) {
	case "preauth", "preauthorization", "preauthorisation":
		return true
	default:
		return false
	}
}

// phase is what a transaction_status says.
type phase int

const (
	phaseUnknown phase = iota
	phaseCompleted
	phaseFailed
	phasePending
	phasePreAuth
	phaseCanceled
)

func phaseOf(transactionStatus string) phase {
	switch squash(transactionStatus) {
	case "completed", "complete", "success", "successful", "approved", "paid",
		"refunded", "partialrefunded", "partiallyrefunded", "chargeback":
		return phaseCompleted
	case "failed", "fail", "declined", "error", "rejected":
		return phaseFailed
	case "pending", "processing", "waiting", "inprogress":
		return phasePending
	case "preauthorization", "preauth", "preauthorisation":
		return phasePreAuth
	case "cancelled", "canceled", "voided", "void", "reversed", "reversal":
		return phaseCanceled
	default:
		return phaseUnknown
	}
}

// stateOf maps a sale or checkstatus answer with code 100 or a decline code
// to the payment's state. What the platform leaves unclear is processing,
// never failed. The provider reference is the platform's order id, or the
// invoice id when the platform answered without an order (a refusal before
// the bank).
func (p *Provider) stateOf(t *txn, pay *payment.Payment) *payment.PaymentState {
	st := &payment.PaymentState{ProviderReference: firstOf(t.orderID, pay.ID)}
	if classify(t.code) == classDeclined {
		st.Status = payment.StatusFailed
		st.Failure = failureOf(t)
		return st
	}
	ps := strings.TrimSpace(t.paymentStatus)
	switch ph := phaseOf(t.transactionStatus); {
	case ph == phaseFailed || (ph == phaseUnknown && ps == "0"):
		st.Status = payment.StatusFailed
		st.Failure = failureOf(t)
	case ph == phaseCanceled:
		st.Status = payment.StatusCanceled
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "the authorization was voided"}
	case ph == phasePending:
		st.Status = payment.StatusProcessing
	case ph == phasePreAuth,
		(ph == phaseCompleted || (ph == phaseUnknown && ps == "1")) && isPreAuth(t.transactionType):
		st.Status = payment.StatusAuthorized
	case ph == phaseCompleted, ph == phaseUnknown && ps == "1":
		st.Status = payment.StatusSucceeded
	default:
		st.Status = payment.StatusProcessing
	}
	if st.Status == payment.StatusAuthorized || st.Status == payment.StatusSucceeded {
		cur := pay.Currency
		if t.currency != "" {
			cur = t.currency
		}
		if amt, err := t.productPrice.amount(cur); err == nil && t.productPrice != "" {
			st.Amount = &payment.Money{Amount: amt, Currency: cur}
		}
	}
	if t.cardNo != "" {
		st.Card = maskedCardSummary(t.cardNo)
	}
	return st
}

// failureOf describes a declined or failed transaction.
func failureOf(t *txn) *payment.Failure {
	code := payment.FailureCardDeclined
	switch t.code {
	case 45, 46, 47, 48:
		code = "limit_exceeded"
	case CodeInvalidCardNumber:
		code = "invalid_card_number"
	}
	switch strings.TrimSpace(t.bankCode) {
	case "51":
		code = payment.FailureInsufficientFunds
	case "54":
		code = "expired_card"
	}
	msg := vendorMessage(t.code, t.bankMessage, t.StatusDescription, t.Message)
	if t.code == CodeSuccess && t.bankMessage == "" {
		msg = "the payment failed"
	}
	return &payment.Failure{Code: code, Message: msg}
}

// maskedCardSummary reads "450803******4509".
func maskedCardSummary(masked string) *payment.CardSummary {
	if len(masked) < 10 || !allDigits(masked[len(masked)-4:]) || !allDigits(masked[:1]) {
		return nil
	}
	c := payment.Card{Number: masked}
	return c.Summary()
}

// checkStatusRequest is the body of /api/checkstatus.
type checkStatusRequest struct {
	MerchantKey          string `json:"merchant_key"`
	InvoiceID            string `json:"invoice_id"`
	IncludePendingStatus bool   `json:"include_pending_status"`
	ShowRefundInfo       string `json:"show_refund_info,omitempty"`
	HashKey              string `json:"hash_key"`
}

// checkStatus asks /api/checkstatus about an invoice.
func (p *Provider) checkStatus(ctx context.Context, op, invoiceID string, refunds bool) (*txn, *txnResponse, error) {
	hash, err := HashKey(p.cred.AppSecret, invoiceID, p.cred.MerchantKey)
	if err != nil {
		return nil, nil, providerError(op, "", "hash_key", false, err)
	}
	body := &checkStatusRequest{
		MerchantKey:          p.cred.MerchantKey,
		InvoiceID:            invoiceID,
		IncludePendingStatus: true,
		HashKey:              hash,
	}
	if refunds {
		body.ShowRefundInfo = "Y"
	}
	var out txnResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/checkstatus", body, &out); err != nil {
		return nil, nil, err
	}
	t := out.normalize()
	p.log.Debug("checkstatus", zapInvoice(invoiceID), zapCode(t.code), zap.String("transaction_status", t.transactionStatus))
	return t, &out, nil
}

// Sync asks checkstatus for the payment's state: 100 with its
// transaction_status (Completed is succeeded, or authorized for a
// pre-authorization not yet confirmed), 41 and the other declines failed,
// 69 (not processed yet) processing. An invoice the platform does not know
// (31, 32) is an error wrapping payment.ErrNotFound.
func (p *Provider) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	return p.syncPayment(ctx, "sync", pay)
}

func (p *Provider) syncPayment(ctx context.Context, op string, pay *payment.Payment) (*payment.PaymentState, error) {
	t, _, err := p.checkStatus(ctx, op, pay.ID, false)
	if err != nil {
		return nil, err
	}
	return p.statusState(op, t, pay)
}

func (p *Provider) statusState(op string, t *txn, pay *payment.Payment) (*payment.PaymentState, error) {
	if !t.hasCode {
		return nil, providerError(op, "", "answer without status_code", true, nil)
	}
	switch classify(t.code) {
	case classSuccess, classDeclined:
		return p.stateOf(t, pay), nil
	case classPending:
		return &payment.PaymentState{Status: payment.StatusProcessing, ProviderReference: firstOf(t.orderID, pay.ID)}, nil
	case classDuplicate, classInput, classNotFound, classError:
	}
	return nil, codeError(op, &t.baseResponse)
}

func zapInvoice(id string) zap.Field { return zap.String("invoice_id", id) }

func zapCode(code int) zap.Field { return zap.String("status_code", strconv.Itoa(code)) }
