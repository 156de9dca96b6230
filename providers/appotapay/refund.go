package appotapay

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/paykit/paykit/payment"
)

type refundRequest struct {
	PartnerRefID  string `json:"partnerRefId"`
	TransactionID string `json:"transactionId"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason"`
}

type refundResponse struct {
	RefundID      string  `json:"refundId"`
	TransactionID string  `json:"transactionId"`
	PartnerRefID  string  `json:"partnerRefId"`
	Amount        flexInt `json:"amount"`
	Currency      string  `json:"currency"`
	Reason        string  `json:"reason"`
	Status        string  `json:"status"`
	CreatedAt     string  `json:"createdAt"`
	RefundedAt    string  `json:"refundedAt"`
}

func refundState(r *refundResponse) *payment.RefundState {
	st := &payment.RefundState{ProviderReference: r.RefundID}
	switch strings.ToLower(strings.TrimSpace(r.Status)) {
	case "success":
		st.Status = payment.RefundSucceeded
	case "error":
		st.Status = payment.RefundFailed
		st.Failure = &payment.Failure{Code: payment.FailureProviderError, Message: "AppotaPay refused the refund"}
	default:
		// pending (manual, within a day) and processing (automatic).
		st.Status = payment.RefundPending
	}
	return st
}

// Refund refunds all or part of a succeeded payment through
// /api/v2/transaction/refund, with partnerRefId RefundRefID(Refund.ID). A
// duplicate partnerRefId (31) is answered by the refund's status. Refunds
// the transaction cannot take (106 no partial refund, 135 not refundable,
// 93/125 window passed) are errors wrapping payment.ErrUnsupported.
func (p *Provider) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	pay, ref := req.Payment, req.Refund
	if pay == nil || ref == nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "refund", Code: "invalid_input", Err: payment.MissingField("refund")}
	}
	if ref.Currency != "" && ref.Currency != Currency {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "refund", Code: "invalid_input",
			Err: payment.InvalidField("currency", "must be VND"),
		}
	}
	if ref.Amount < MinRefundAmount {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "refund", Code: "invalid_input",
			Err: payment.InvalidField("amount", "must be at least 1000 VND (AppotaPay's smallest refund)"),
		}
	}
	reason := strings.TrimSpace(ref.Reason)
	if reason == "" {
		reason = "Refund " + pay.OrderID
	}
	if why, ok := validText(reason, MaxRefundReasonLength); !ok {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "refund", Code: "invalid_input",
			Err: payment.InvalidField("reason", why),
		}
	}
	txID := pay.ProviderReference
	if txID == "" {
		resp, ve, err := p.queryOrder(ctx, OrderID(pay.ID))
		if err != nil {
			return nil, transportError("refund", err)
		}
		if ve != nil {
			return nil, ve.providerError("refund", nil)
		}
		txID = resp.Transaction.id()
	}
	body := refundRequest{
		PartnerRefID:  RefundRefID(ref.ID),
		TransactionID: txID,
		Amount:        ref.Amount,
		Currency:      Currency,
		Reason:        reason,
	}
	var resp refundResponse
	ve, err := p.call(ctx, http.MethodPost, p.c.gatewayURL+"/api/v2/transaction/refund", body, "", &resp)
	if err != nil {
		p.logFailure("refund", ref.ID, nil, err)
		return nil, transportError("refund", err)
	}
	if ve != nil {
		p.logFailure("refund", ref.ID, ve, nil)
		if ve.HasCode && classify(ve.Code) == kindDuplicate {
			return p.SyncRefund(ctx, pay, ref)
		}
		return nil, ve.providerError("refund", nil)
	}
	return refundState(&resp), nil
}

// SyncRefund asks GET /api/v2/transaction/refund/{partnerRefId} for the
// refund's status.
func (p *Provider) SyncRefund(ctx context.Context, _ *payment.Payment, r *payment.Refund) (*payment.RefundState, error) {
	q := url.Values{"type": {"PARTNER_ORDER_ID"}}
	u := p.c.gatewayURL + "/api/v2/transaction/refund/" + url.PathEscape(RefundRefID(r.ID)) + "?" + q.Encode()
	var resp refundResponse
	ve, err := p.call(ctx, http.MethodGet, u, nil, "", &resp)
	if err != nil {
		p.logFailure("sync_refund", r.ID, nil, err)
		return nil, transportError("sync_refund", err)
	}
	if ve != nil {
		p.logFailure("sync_refund", r.ID, ve, nil)
		return nil, ve.providerError("sync_refund", nil)
	}
	return refundState(&resp), nil
}
