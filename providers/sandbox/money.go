package sandbox

import (
	"context"
	"slices"
	"strings"

	"github.com/paykit/paykit/payment"
)

// Fees, in basis points (1/100 of a percent), rounded half up to the minor
// unit with integer math.
const (
	// CardFeeBPS is the fee Quote reports for card payments: 2.95%.
	CardFeeBPS = 295
	// TransferFeeBPS is the fee Quote reports for qr and bank_transfer
	// payments: 1%.
	TransferFeeBPS = 100
	// InstallmentBPSPerMonth is what a card instalment plan adds per month:
	// 0.5% (3 months +1.5%, 6 months +3%, 12 months +6%).
	InstallmentBPSPerMonth = 50
	// PayoutFeeBPS is the fee on a payout, taken from the amount sent: 1%.
	PayoutFeeBPS = 100
)

// InstallmentCounts are the instalment plans Quote offers for cards.
var installmentCounts = []int{3, 6, 12}

// bpsOf returns amount*bps/10000 rounded half up, for amount >= 0 and
// 0 <= bps <= 10000, without overflow.
func bpsOf(amount, bps int64) int64 {
	q, r := amount/10000, amount%10000
	return q*bps + (r*bps+5000)/10000
}

type refund struct {
	id        string
	paymentID string
	ref       string
	amount    int64
	status    payment.RefundStatus
}

func (r *refund) state() *payment.RefundState {
	return &payment.RefundState{Status: r.status, ProviderReference: r.ref}
}

// Refund refunds all or part of a captured payment, at once. It is
// idempotent on req.IdempotencyKey (or the refund id). A refund beyond
// what is left of the captured amount is an error wrapping
// payment.ErrRefundExceedsCaptured; a payment that was not captured is
// payment.ErrInvalidState.
func (p *Provider) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "refund", Code: "canceled", Retryable: true, Err: err}
	}
	if req == nil || req.Payment == nil || req.Refund == nil {
		return nil, providerErr(p.cfg.name, "refund", "invalid_request", "", payment.MissingField("refund"))
	}
	r := req.Refund
	key := req.IdempotencyKey
	if key == "" {
		key = r.ID
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.refundKey[key]; prev != nil {
		return prev.state(), nil
	}
	if prev := p.refunds[r.ID]; prev != nil {
		return prev.state(), nil
	}
	c := p.lookupLocked(req.Payment)
	if c == nil {
		return nil, p.notFound("refund", req.Payment.ID)
	}
	if !c.status.Paid() {
		return nil, p.invalidState("refund", c.status)
	}
	if r.Amount <= 0 {
		return nil, providerErr(p.cfg.name, "refund", "invalid_amount", "", payment.InvalidField("amount", "must be positive"))
	}
	if r.Currency != "" && r.Currency != c.currency {
		return nil, providerErr(p.cfg.name, "refund", "invalid_currency", "", payment.InvalidField("currency", "must be the payment's"))
	}
	if r.Amount > c.captured-c.refunded {
		return nil, providerErr(p.cfg.name, "refund", "refund_exceeds_captured", "", payment.ErrRefundExceedsCaptured)
	}
	rf := &refund{
		id:        r.ID,
		paymentID: c.paymentID,
		ref:       "sbx_re_" + strings.TrimPrefix(r.ID, payment.PrefixRefund),
		amount:    r.Amount,
		status:    payment.RefundSucceeded,
	}
	c.refunded += r.Amount
	p.available[c.currency] -= r.Amount
	p.refunds[r.ID] = rf
	p.refundKey[key] = rf
	return rf.state(), nil
}

// SyncRefund returns a refund's state, or an error wrapping
// payment.ErrNotFound when the sandbox never saw it.
func (p *Provider) SyncRefund(ctx context.Context, _ *payment.Payment, r *payment.Refund) (*payment.RefundState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "sync_refund", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rf := p.refunds[r.ID]
	if rf == nil {
		return nil, providerErr(p.cfg.name, "sync_refund", "not_found", "no sandbox refund for "+r.ID, payment.ErrNotFound)
	}
	return rf.state(), nil
}

type payout struct {
	id        string
	orderID   string
	ref       string
	amount    int64
	currency  string
	fee       int64
	status    payment.PayoutStatus
	failure   *payment.Failure
	notifyURL string
}

func (po *payout) state() *payment.PayoutState {
	fee, transfer := po.fee, po.amount-po.fee
	st := &payment.PayoutState{
		Status: po.status, ProviderReference: po.ref, Fee: &fee, TransferAmount: &transfer,
	}
	if po.failure != nil {
		f := *po.failure
		st.Failure = &f
	}
	return st
}

// StartPayout sends a payout: it debits the available balance by the
// amount and is pending until CompletePayout or FailPayout; the account
// receives the amount less a 1% fee (PayoutFeeBPS). A payout beyond the
// available balance is failed with insufficient_funds. It is idempotent on
// req.IdempotencyKey (or the payout id).
func (p *Provider) StartPayout(ctx context.Context, req *payment.PayoutRequest) (*payment.PayoutState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "payout", Code: "canceled", Retryable: true, Err: err}
	}
	if err := p.ValidatePayout(req); err != nil {
		return nil, providerErr(p.cfg.name, "payout", "invalid_request", "", err)
	}
	po := req.Payout
	key := req.IdempotencyKey
	if key == "" {
		key = po.ID
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.payoutKey[key]; prev != nil {
		return prev.state(), nil
	}
	if prev := p.payouts[po.ID]; prev != nil {
		return prev.state(), nil
	}
	out := &payout{
		id:        po.ID,
		orderID:   po.OrderID,
		ref:       "sbx_po_" + strings.TrimPrefix(po.ID, payment.PrefixPayout),
		amount:    po.Amount,
		currency:  po.Currency,
		fee:       bpsOf(po.Amount, PayoutFeeBPS),
		status:    payment.PayoutPending,
		notifyURL: req.NotifyURL,
	}
	if po.Amount > p.available[po.Currency] {
		out.status = payment.PayoutFailed
		out.failure = &payment.Failure{Code: payment.FailureInsufficientFunds, Message: "the balance is too low for this payout"}
	} else {
		p.available[po.Currency] -= po.Amount
	}
	p.payouts[out.id] = out
	p.payoutKey[key] = out
	p.payoutRef[out.ref] = out
	return out.state(), nil
}

// SyncPayout returns a payout's state, or an error wrapping
// payment.ErrNotFound when the sandbox never saw it.
func (p *Provider) SyncPayout(ctx context.Context, po *payment.Payout) (*payment.PayoutState, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "sync_payout", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.payouts[po.ID]
	if out == nil && po.ProviderReference != "" {
		out = p.payoutRef[po.ProviderReference]
	}
	if out == nil {
		return nil, providerErr(p.cfg.name, "sync_payout", "not_found", "no sandbox payout for "+po.ID, payment.ErrNotFound)
	}
	return out.state(), nil
}

// Balance returns, for every configured currency, the available balance
// (opening balance + captured payments - refunds - payouts not failed) and
// the pending one (authorized, not yet captured).
func (p *Provider) Balance(ctx context.Context) ([]payment.Balance, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "balance", Code: "canceled", Retryable: true, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]payment.Balance, 0, len(p.cfg.currencies))
	for _, cur := range p.cfg.currencies {
		out = append(out, payment.Balance{Currency: cur, Available: p.available[cur], Pending: p.held[cur]})
	}
	slices.SortFunc(out, func(a, b payment.Balance) int { return strings.Compare(a.Currency, b.Currency) })
	return out, nil
}

// Quote says what a payment costs: a fee of 2.95% for card (CardFeeBPS)
// and 1% for qr and bank_transfer (TransferFeeBPS), rounded half up, paid
// by the merchant (CustomerPays is the amount); and, for cards, instalment
// plans of 3, 6 and 12 months that add 0.5% a month (rounded half up),
// split exactly: PerInstallment is Total/Count rounded down and the first
// instalment carries the remainder. An empty method quotes card.
func (p *Provider) Quote(ctx context.Context, req *payment.QuoteRequest) (*payment.Quote, error) {
	if err := ctx.Err(); err != nil {
		return nil, &payment.ProviderError{Provider: p.cfg.name, Op: "quote", Code: "canceled", Retryable: true, Err: err}
	}
	if req == nil {
		return nil, payment.MissingField("amount")
	}
	if !slices.Contains(p.cfg.currencies, req.Amount.Currency) {
		return nil, payment.InvalidField("currency", "is not supported by this sandbox")
	}
	if req.Amount.Amount <= 0 {
		return nil, payment.InvalidField("amount", "must be positive")
	}
	method := req.Method
	if method == "" {
		method = payment.MethodCard
	}
	var bps int64
	switch method {
	case payment.MethodCard:
		bps = CardFeeBPS
	case payment.MethodQR, payment.MethodBankTransfer:
		bps = TransferFeeBPS
	case payment.MethodWeChat, payment.MethodEWallet:
		return nil, payment.InvalidField("method", "is not supported by the sandbox (card, qr, bank_transfer)")
	default:
		return nil, payment.InvalidField("method", "is not supported by the sandbox (card, qr, bank_transfer)")
	}
	amount := req.Amount.Amount
	q := &payment.Quote{
		Amount:       amount,
		Currency:     req.Amount.Currency,
		Fee:          bpsOf(amount, bps),
		CustomerPays: amount,
	}
	if method == payment.MethodCard {
		for _, n := range installmentCounts {
			total, ok := payment.AddInt64(amount, bpsOf(amount, int64(n)*InstallmentBPSPerMonth))
			if !ok {
				return nil, payment.InvalidField("amount", "is too large")
			}
			if total < int64(n) {
				continue
			}
			q.Installments = append(q.Installments, payment.Installment{
				Count: n, Total: total, PerInstallment: total / int64(n),
			})
		}
	}
	return q, nil
}
