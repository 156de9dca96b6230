package payplus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// Balance reads the merchant's balance. Pay-Plus reports one available
// amount; Pending is zero.
func (p *Provider) Balance(ctx context.Context) ([]payment.Balance, error) {
	params := Params{"timestamp": json.Number(strconv.FormatInt(p.timestamp(), 10))}
	data, err := p.call(ctx, "balance", p.paths.BalanceMethod, p.paths.Balance, params)
	if err != nil {
		return nil, fmt.Errorf("payplus: balance: %w", err)
	}
	var b struct {
		Balance  decimal `json:"balance"`
		Currency string  `json:"currency"`
	}
	if err := decodeData(data, &b); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "balance", Message: "unreadable balance answer", Err: err}
	}
	cur := strings.ToUpper(strings.TrimSpace(b.Currency))
	if cur == "" {
		cur = Currency
	}
	exp, err := payment.CurrencyExponent(cur)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "balance", Message: "unknown balance currency", Err: err}
	}
	amount, err := b.Balance.minor(exp)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "balance", Message: "unreadable balance", Err: err}
	}
	return []payment.Balance{{Currency: cur, Available: amount}}, nil
}

// Bank is a bank Pay-Plus can pay from or to.
type Bank struct {
	// Code is what requests carry as bankName / bank_code: "KBANK".
	Code string `json:"code"`
	// Name is the English name.
	Name string `json:"name"`
	// NameTH is the Thai name.
	NameTH string `json:"name_th"`
	// Active says whether the bank can be used now.
	Active bool `json:"active"`
}

// Banks lists the banks Pay-Plus supports (GET /banks).
func (p *Provider) Banks(ctx context.Context) ([]Bank, error) {
	data, err := p.send(ctx, "banks", http.MethodGet, p.paths.Banks, nil, nil, true)
	if err != nil {
		return nil, fmt.Errorf("payplus: banks: %w", err)
	}
	var b struct {
		Banks []Bank `json:"banks"`
	}
	if err := decodeData(data, &b); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "banks", Message: "unreadable banks answer", Err: err}
	}
	return b.Banks, nil
}

// Health is what the health endpoint reports.
type Health struct {
	// Status is "healthy" when the gateway is up.
	Status string
	// Timestamp is the gateway's clock.
	Timestamp time.Time
	// Uptime is how long the gateway has been running, to the millisecond.
	Uptime time.Duration
}

// Health asks whether the gateway is up (GET /health, no authentication).
func (p *Provider) Health(ctx context.Context) (*Health, error) {
	data, err := p.send(ctx, "health", http.MethodGet, p.paths.Health, nil, nil, false)
	if err != nil {
		return nil, fmt.Errorf("payplus: health: %w", err)
	}
	var h struct {
		Status    string  `json:"status"`
		Timestamp string  `json:"timestamp"`
		Uptime    decimal `json:"uptime"`
	}
	if err := decodeData(data, &h); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "health", Message: "unreadable health answer", Err: err}
	}
	out := &Health{Status: h.Status}
	if t, err := time.Parse(time.RFC3339Nano, h.Timestamp); err == nil {
		out.Timestamp = t.UTC()
	}
	if h.Uptime.set {
		// Uptime is in seconds with a fraction; keep milliseconds exactly.
		if ms, err := h.Uptime.minor(3); err == nil {
			out.Uptime = time.Duration(ms) * time.Millisecond
		}
	}
	return out, nil
}
