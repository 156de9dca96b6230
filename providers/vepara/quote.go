package vepara

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

type installmentsResponse struct {
	baseResponse
	Installments []flexString `json:"installments"`
}

// Installments returns the instalment counts enabled for the merchant
// (POST /api/installments), ascending.
func (p *Provider) Installments(ctx context.Context) ([]int, error) {
	const op = "installments"
	var out installmentsResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/installments", map[string]string{"merchant_key": p.cred.MerchantKey}, &out); err != nil {
		return nil, err
	}
	if out.code() != CodeSuccess {
		return nil, codeError(op, &out.baseResponse)
	}
	var counts []int
	for _, s := range out.Installments {
		if n, ok := s.Int(); ok && n >= 1 && n <= 24 && !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	slices.Sort(counts)
	return counts, nil
}

type getPosRequest struct {
	CreditCard   string      `json:"credit_card"`
	Amount       json.Number `json:"amount"`
	CurrencyCode string      `json:"currency_code"`
	MerchantKey  string      `json:"merchant_key"`
	Is2D         int         `json:"is_2d,omitempty"`
}

// PosOption is one entry of getpos: a POS and instalment count with what
// the customer pays.
type PosOption struct {
	PosID              string
	InstallmentsNumber int
	// PayableAmount is what the customer pays in all, in minor units.
	PayableAmount int64
	Currency      string
	CardType      string
	CardProgram   string
	CardScheme    string
	Title         string
}

type getPosEntry struct {
	PosID              flexString `json:"pos_id"`
	InstallmentsNumber flexString `json:"installments_number"`
	PayableAmount      flexString `json:"payable_amount"`
	CurrencyCode       string     `json:"currency_code"`
	CardType           string     `json:"card_type"`
	CardProgram        string     `json:"card_program"`
	CardScheme         string     `json:"card_scheme"`
	Title              string     `json:"title"`
}

type getPosResponse struct {
	baseResponse
	Data []getPosEntry `json:"data"`
}

// Pos asks getpos which POS and instalment plans a card has for an amount.
// Only the first 6 digits of bin are sent. The first entry is the platform's default.
func (p *Provider) Pos(ctx context.Context, bin string, amount payment.Money) ([]PosOption, error) {
	const op = "getpos"
	if len(bin) < 6 || !allDigits(bin) {
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("credit_card", "must be the card's first 6 digits"))
	}
	bin = bin[:6] // never more of a card number than its BIN
	amt, err := p.formatAmount(amount.Amount, amount.Currency)
	if err != nil {
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("currency", "is not supported"))
	}
	body := &getPosRequest{CreditCard: bin, Amount: json.Number(amt), CurrencyCode: amount.Currency, MerchantKey: p.cred.MerchantKey}
	if p.is3D() == "0" {
		body.Is2D = 1
	}
	var out getPosResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/getpos", body, &out); err != nil {
		return nil, err
	}
	if out.code() != CodeSuccess {
		return nil, codeError(op, &out.baseResponse)
	}
	opts := make([]PosOption, 0, len(out.Data))
	for _, e := range out.Data {
		cur := e.CurrencyCode
		if cur == "" {
			cur = amount.Currency
		}
		n, ok := e.InstallmentsNumber.Int()
		payable, err := e.PayableAmount.amount(cur)
		if !ok || n < 1 || err != nil || cur != amount.Currency {
			p.log.Warn("getpos entry skipped", zap.String("installments_number", string(e.InstallmentsNumber)))
			continue
		}
		opts = append(opts, PosOption{
			PosID: string(e.PosID), InstallmentsNumber: n, PayableAmount: payable, Currency: cur,
			CardType: e.CardType, CardProgram: e.CardProgram, CardScheme: e.CardScheme, Title: e.Title,
		})
	}
	return opts, nil
}

// Quote says what a card payment costs the customer, with the instalment
// plans on offer, for a card of the configured quote BIN (WithQuoteBIN;
// payment.QuoteRequest names no card). Fee is what the customer pays on top
// of the amount in one instalment (the user commission): the merchant's
// own commission is settled separately and not reported by getpos.
func (p *Provider) Quote(ctx context.Context, req *payment.QuoteRequest) (*payment.Quote, error) {
	return p.QuoteCard(ctx, p.cfg.quoteBIN, req)
}

// QuoteCard is Quote for a given card BIN.
func (p *Provider) QuoteCard(ctx context.Context, bin string, req *payment.QuoteRequest) (*payment.Quote, error) {
	const op = "quote"
	switch {
	case req == nil:
		return nil, providerError(op, "invalid_input", "", false, payment.MissingField("amount"))
	case req.Method != "" && req.Method != payment.MethodCard:
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("method", "must be card for vepara"))
	case !containsString(p.cfg.currencies, req.Amount.Currency):
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("currency", "is not accepted by this vepara account"))
	case req.Amount.Amount <= 0:
		return nil, providerError(op, "invalid_input", "", false, payment.InvalidField("amount", "must be positive"))
	}
	enabled, err := p.Installments(ctx)
	if err != nil {
		return nil, err
	}
	opts, err := p.Pos(ctx, bin, req.Amount)
	if err != nil {
		return nil, err
	}
	q := &payment.Quote{Amount: req.Amount.Amount, Currency: req.Amount.Currency, CustomerPays: req.Amount.Amount}
	seen := map[int]bool{}
	for _, o := range opts {
		n := o.InstallmentsNumber
		if seen[n] || (len(enabled) > 0 && !slices.Contains(enabled, n)) {
			continue
		}
		seen[n] = true
		if n == 1 {
			q.CustomerPays = o.PayableAmount
		}
		q.Installments = append(q.Installments, payment.Installment{
			Count: n, Total: o.PayableAmount, PerInstallment: o.PayableAmount / int64(n),
		})
	}
	slices.SortFunc(q.Installments, func(a, b payment.Installment) int { return a.Count - b.Count })
	if q.CustomerPays > q.Amount {
		q.Fee = q.CustomerPays - q.Amount
	}
	p.log.Debug("quote", zap.String("amount", strconv.FormatInt(q.Amount, 10)), zap.Int("plans", len(q.Installments)))
	return q, nil
}
