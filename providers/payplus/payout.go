package payplus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/paykit/paykit/payment"
)

// withdrawData is the data of a withdrawal answer.
type withdrawData struct {
	OrderNo        flexString `json:"order_no"`
	AgentOrderNo   flexString `json:"agent_order_no"`
	Amount         decimal    `json:"amount"`
	Fee            decimal    `json:"fee"`
	TransferAmount decimal    `json:"transfer_amount"`
	ActualAmount   decimal    `json:"actual_amount"`
	Status         string     `json:"status"`
}

// ValidatePayout checks a withdrawal before anything is recorded: THB, a
// positive amount, and the destination account (bank code, number, holder
// name).
func (p *Provider) ValidatePayout(req *payment.PayoutRequest) error {
	if req == nil || req.Payout == nil {
		return payment.MissingField("payout")
	}
	po := req.Payout
	if po.Currency != Currency {
		return payment.InvalidField("currency", "must be THB for payplus")
	}
	if err := p.checkAmount("amount", po.Amount); err != nil {
		return err
	}
	if err := checkReference("id", po.ID); err != nil {
		return err
	}
	ba := po.BankAccount
	if err := checkBankAccount("bank_account", &ba); err != nil {
		return err
	}
	if req.NotifyURL != "" {
		if err := checkCallbackURL(req.NotifyURL); err != nil {
			return payment.InvalidField("notify_url", "must be an absolute http(s) URL")
		}
	}
	return nil
}

// StartPayout creates a withdrawal with the payout id as agent_order_no.
// Pay-Plus answers pending with its order_no, fee and transfer_amount, which
// the state carries (status processing: the bank has not paid yet). A
// duplicate agent_order_no is resolved by querying the order.
func (p *Provider) StartPayout(ctx context.Context, req *payment.PayoutRequest) (*payment.PayoutState, error) {
	if err := p.ValidatePayout(req); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "payout", Err: err}
	}
	cb, err := p.notifyURL(req.NotifyURL)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "payout", Err: err}
	}
	po := req.Payout
	params := Params{
		"agent_order_no": po.ID,
		"amount":         p.amount(po.Amount),
		"bank_code":      normBankCode(po.BankAccount.BankCode),
		"account_no":     accountDigits(po.BankAccount.Number),
		"account_name":   trimName(po.BankAccount.Name),
		"callback_url":   cb,
		// The withdrawal table documents timestamp as a string.
		"timestamp": strconv.FormatInt(p.timestamp(), 10),
	}
	data, err := p.call(ctx, "payout", http.MethodPost, p.paths.Withdraw, params)
	if err != nil {
		if errors.Is(err, ErrDuplicate) {
			return p.recoverPayout(ctx, po, err)
		}
		return nil, fmt.Errorf("payplus: payout %s: %w", po.ID, err)
	}
	var w withdrawData
	if err := decodeData(data, &w); err != nil {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "payout", Retryable: true,
			Message: "unreadable withdrawal answer", Err: err,
		}
	}
	if w.AgentOrderNo != "" && string(w.AgentOrderNo) != po.ID {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "payout", Retryable: true,
			Message: "withdrawal answer is for another order",
		}
	}
	st, err := p.payoutState(string(w.OrderNo), w.Status, amounts{
		amount: w.Amount, fee: w.Fee, transfer: w.TransferAmount, actual: w.ActualAmount,
	})
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "payout", Retryable: true, Err: err}
	}
	return st, nil
}

func (p *Provider) recoverPayout(ctx context.Context, po *payment.Payout, dup error) (*payment.PayoutState, error) {
	od, err := p.query(ctx, "payout", "", po.ID)
	if err != nil {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "payout", Retryable: true,
			Message: "duplicate agent order number; querying the order failed", Err: errors.Join(dup, err),
		}
	}
	st, err := p.payoutState(string(od.OrderNo), od.Status, amounts{
		amount: od.Amount, fee: od.Fee, transfer: od.TransferAmount, actual: od.ActualAmount,
	})
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "payout", Retryable: true, Err: err}
	}
	return st, nil
}

// SyncPayout queries the withdrawal (by order_no when known, else by the
// payout id as agent_order_no).
func (p *Provider) SyncPayout(ctx context.Context, po *payment.Payout) (*payment.PayoutState, error) {
	if po == nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "sync_payout", Err: payment.MissingField("payout")}
	}
	od, err := p.query(ctx, "sync_payout", po.ProviderReference, po.ID)
	if err != nil {
		return nil, fmt.Errorf("payplus: sync payout %s: %w", po.ID, err)
	}
	ref := string(od.OrderNo)
	if ref == "" {
		ref = po.ProviderReference
	}
	st, err := p.payoutState(ref, od.Status, amounts{
		amount: od.Amount, fee: od.Fee, transfer: od.TransferAmount, actual: od.ActualAmount,
	})
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "sync_payout", Err: err}
	}
	return st, nil
}

// payoutState maps a withdrawal status: pending and processing are
// processing (the vendor has the order), completed is succeeded, failed and
// expired are failed, cancelled is canceled. Fee is recorded when reported;
// the transfer amount is transfer_amount, or actual_amount without it.
func (p *Provider) payoutState(ref, status string, a amounts) (*payment.PayoutState, error) {
	st := &payment.PayoutState{ProviderReference: ref}
	switch normStatus(status) {
	case StatusPending, StatusProcessing:
		st.Status = payment.PayoutProcessing
	case StatusCompleted:
		st.Status = payment.PayoutSucceeded
	case StatusFailed:
		st.Status = payment.PayoutFailed
		st.Failure = &payment.Failure{Code: FailureFailed, Message: "Pay-Plus reported the withdrawal failed"}
	case StatusExpired:
		st.Status = payment.PayoutFailed
		st.Failure = &payment.Failure{Code: payment.FailureExpired, Message: "the withdrawal expired"}
	case StatusCancelled:
		st.Status = payment.PayoutCanceled
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "Pay-Plus canceled the withdrawal"}
	default:
		return nil, fmt.Errorf("payplus: unknown withdrawal status %q", truncate(status, 32))
	}
	if a.fee.set {
		fee, err := a.fee.minor(p.exponent)
		if err != nil {
			return nil, fmt.Errorf("payplus: fee: %w", err)
		}
		st.Fee = &fee
	}
	transfer := a.transfer
	if !transfer.set && st.Status == payment.PayoutSucceeded {
		transfer = a.actual
	}
	if transfer.set {
		t, err := transfer.minor(p.exponent)
		if err != nil {
			return nil, fmt.Errorf("payplus: transfer_amount: %w", err)
		}
		st.TransferAmount = &t
	}
	return st, nil
}
