package vepara

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// confirm statuses of /api/confirmPayment.
const (
	confirmCapture = 1
	confirmVoid    = 2
)

type confirmRequest struct {
	MerchantKey string      `json:"merchant_key"`
	InvoiceID   string      `json:"invoice_id"`
	Status      int         `json:"status"`
	Total       json.Number `json:"total,omitempty"`
	HashKey     string      `json:"hash_key"`
}

// Capture confirms a pre-authorization (confirmPayment status 1): all of it
// when amount is 0 or the payment's amount, otherwise amount minor units.
// A repeated capture of an already captured payment returns its state.
func (p *Provider) Capture(ctx context.Context, pay *payment.Payment, amount int64) (*payment.PaymentState, error) {
	const op = "capture"
	if amount < 0 || amount > pay.Amount {
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("amount", "must be between 0 and the authorized amount"))
	}
	if amount == pay.Amount {
		amount = 0
	}
	st, err := p.confirm(ctx, op, pay, confirmCapture, amount)
	if err != nil {
		return nil, err
	}
	st.Status = payment.StatusSucceeded
	captured := pay.Amount
	if amount > 0 {
		captured = amount
		st.AmountCaptured = &captured
	}
	return st, nil
}

// Cancel voids a pre-authorization (confirmPayment status 2). A captured
// sale cannot be canceled (refund it): that is an error wrapping
// payment.ErrInvalidState.
func (p *Provider) Cancel(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	st, err := p.confirm(ctx, "cancel", pay, confirmVoid, 0)
	if err != nil {
		return nil, err
	}
	st.Status = payment.StatusCanceled
	st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "the authorization was voided"}
	return st, nil
}

func (p *Provider) confirm(ctx context.Context, op string, pay *payment.Payment, status int, amount int64) (*payment.PaymentState, error) {
	st := strconv.Itoa(status)
	hash, err := HashKey(p.cred.AppSecret, p.cred.MerchantKey, pay.ID, st)
	if err != nil {
		return nil, providerError(op, "", "hash_key", false, err)
	}
	body := &confirmRequest{MerchantKey: p.cred.MerchantKey, InvoiceID: pay.ID, Status: status, HashKey: hash}
	if amount > 0 {
		total, err := p.formatAmount(amount, pay.Currency)
		if err != nil {
			return nil, providerError(op, "", "amount", false, err)
		}
		body.Total = json.Number(total)
	}
	var out txnResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/confirmPayment", body, &out); err != nil {
		return nil, err
	}
	t := out.normalize()
	p.log.Info("confirmPayment", zapInvoice(pay.ID), zapCode(t.code), zap.Int("status", status))
	if t.code == CodeSuccess {
		return &payment.PaymentState{ProviderReference: firstOf(t.orderID, pay.ProviderReference)}, nil
	}
	if t.code == CodeNoPreAuth {
		// Perhaps a retry after a lost answer: the platform may have done it.
		now, err := p.syncPayment(ctx, op, pay)
		if err == nil && ((status == confirmCapture && now.Status == payment.StatusSucceeded) ||
			(status == confirmVoid && now.Status == payment.StatusCanceled)) {
			return now, nil
		}
		return nil, providerError(op, strconv.Itoa(t.code), t.describe(), false, payment.ErrInvalidState)
	}
	return nil, codeError(op, &t.baseResponse)
}

type refundRequest struct {
	InvoiceID           string      `json:"invoice_id"`
	Amount              json.Number `json:"amount"`
	AppID               string      `json:"app_id"`
	AppSecret           string      `json:"app_secret"`
	MerchantKey         string      `json:"merchant_key"`
	HashKey             string      `json:"hash_key"`
	RefundTransactionID string      `json:"refund_transaction_id"`
	RefundWebHookKey    string      `json:"refund_web_hook_key,omitempty"`
}

type refundResponse struct {
	baseResponse
	RefNo     flexString `json:"ref_no"`
	RefNumber flexString `json:"ref_number"`
}

// RefundTransactionID is the unique refund_transaction_id sent for a refund:
// the refund's id, so a retry of the same refund is recognised (status 104)
// and never refunds twice.
func RefundTransactionID(refundID string) string { return refundID }

// Refund refunds all or part of a captured payment (the exact amount is
// always sent). 100 is succeeded, 101 (a refund request the platform
// settles by hand) pending, 49 failed; 104 (the refund transaction id was
// used: a retry) is resolved from checkstatus's refund information, and 110
// (partial refunds not allowed for this payment) is an error wrapping
// payment.ErrUnsupported.
func (p *Provider) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	const op = "refund"
	pay, r := req.Payment, req.Refund
	if r.Amount <= 0 {
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("amount", "must be positive"))
	}
	amount, err := p.formatAmount(r.Amount, pay.Currency)
	if err != nil {
		return nil, providerError(op, "", "amount", false, err)
	}
	hash, err := HashKey(p.cred.AppSecret, amount, pay.ID, p.cred.MerchantKey)
	if err != nil {
		return nil, providerError(op, "", "hash_key", false, err)
	}
	txID := RefundTransactionID(r.ID)
	body := &refundRequest{
		InvoiceID:           pay.ID,
		Amount:              json.Number(amount),
		AppID:               p.cred.AppID,
		AppSecret:           p.cred.AppSecret,
		MerchantKey:         p.cred.MerchantKey,
		HashKey:             hash,
		RefundTransactionID: txID,
		RefundWebHookKey:    p.cfg.refundHookKey,
	}
	var out refundResponse
	err = p.call(ctx, op, http.MethodPost, "/api/refund", body, &out)
	body.AppSecret = ""
	if err != nil {
		return nil, err
	}
	code := out.code()
	p.log.Info("refund answered", zapInvoice(pay.ID), zap.String("refund_id", r.ID), zapCode(code))
	ref := firstOf(string(out.RefNo), string(out.RefNumber), txID)
	switch code {
	case CodeSuccess:
		return &payment.RefundState{Status: payment.RefundSucceeded, ProviderReference: ref}, nil
	case CodeRefundRequestCreated:
		return &payment.RefundState{Status: payment.RefundPending, ProviderReference: ref}, nil
	case CodeRefundIDNotUnique:
		return p.syncRefund(ctx, op, pay, r)
	case CodeRefundFailed:
		return &payment.RefundState{
			Status: payment.RefundFailed, ProviderReference: ref,
			Failure: &payment.Failure{Code: "refund_failed", Message: out.describe()},
		}, nil
	case CodePartialRefundDenied:
		return nil, providerError(op, strconv.Itoa(code), out.describe(), false, payment.ErrUnsupported)
	}
	return nil, codeError(op, &out.baseResponse)
}

// refundInfo is one entry of checkstatus's refund_info (show_refund_info
// "Y"). Its shape is not documented; these are the names the simulator and
// the platform's other answers use.
type refundInfo struct {
	RefundTransactionID flexString `json:"refund_transaction_id"`
	Amount              flexString `json:"amount"`
	Status              string     `json:"status"`
	RefNo               flexString `json:"ref_no"`
}

// SyncRefund asks checkstatus (with show_refund_info) about the refund. A
// refund the platform does not list yet is pending, never failed.
func (p *Provider) SyncRefund(ctx context.Context, pay *payment.Payment, r *payment.Refund) (*payment.RefundState, error) {
	return p.syncRefund(ctx, "sync_refund", pay, r)
}

func (p *Provider) syncRefund(ctx context.Context, op string, pay *payment.Payment, r *payment.Refund) (*payment.RefundState, error) {
	t, raw, err := p.checkStatus(ctx, op, pay.ID, true)
	if err != nil {
		return nil, err
	}
	if t.code != CodeSuccess && classify(t.code) != classDeclined {
		return nil, codeError(op, &t.baseResponse)
	}
	txID := RefundTransactionID(r.ID)
	pending := &payment.RefundState{Status: payment.RefundPending, ProviderReference: txID}
	var infos []refundInfo
	if len(raw.RefundInfo) == 0 || json.Unmarshal(raw.RefundInfo, &infos) != nil {
		return pending, nil
	}
	for _, in := range infos {
		if string(in.RefundTransactionID) != txID {
			continue
		}
		st := &payment.RefundState{ProviderReference: firstOf(string(in.RefNo), txID)}
		switch squash(in.Status) {
		case "completed", "complete", "success", "successful", "refunded", "approved":
			st.Status = payment.RefundSucceeded
		case "failed", "fail", "rejected", "declined", "cancelled", "canceled":
			st.Status = payment.RefundFailed
			st.Failure = &payment.Failure{Code: "refund_failed", Message: "the platform refused the refund"}
		default:
			st.Status = payment.RefundPending
		}
		return st, nil
	}
	return pending, nil
}
