package veparasim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of the customer-side methods.
var (
	// ErrUnknownInvoice: the simulator has no sale with that invoice id.
	ErrUnknownInvoice = errors.New("veparasim: unknown invoice")
	// ErrNotPending: the sale's outcome is already decided otherwise.
	ErrNotPending = errors.New("veparasim: the sale is not pending")
	// ErrUnknownRefund: no refund with that refund transaction id.
	ErrUnknownRefund = errors.New("veparasim: unknown refund")
)

// Pay plays the bank approving the sale whose invoice id is paymentID
// (paykit's payment id): a pending sale (CardPending) is completed, or
// becomes a pre-authorization, and its sale webhook is sent. A non-secure
// sale is usually decided at once; for one already approved Pay only sends
// the sale webhook again. A declined sale is ErrNotPending.
func (s *Server) Pay(ctx context.Context, paymentID string) error {
	return s.decide(ctx, paymentID, func(inv *invoice) error {
		switch inv.status {
		case StatusPending:
			if inv.preAuthStatus != "" {
				inv.status = inv.preAuthStatus
			} else {
				inv.status = StatusCompleted
				inv.captured = inv.total
			}
			inv.failCode, inv.bankCode, inv.bankMessage = 100, "", ""
			return nil
		case StatusCompleted, StatusPreAuth, StatusRefunded, StatusPartialRefunded:
			return nil
		default:
			return fmt.Errorf("%w: %s is %s", ErrNotPending, inv.id, inv.status)
		}
	})
}

// Decline plays the bank refusing a pending sale (41, "Do not honour") and
// sends the sale webhook. For a sale already declined it sends the webhook
// again; an approved sale is ErrNotPending.
func (s *Server) Decline(ctx context.Context, paymentID string) error {
	return s.fail(ctx, paymentID, "05", "Do not honour")
}

// Expire plays the bank never answering a pending sale: it fails (41, bank
// code 91 "Issuer unavailable") and the sale webhook is sent.
func (s *Server) Expire(ctx context.Context, paymentID string) error {
	return s.fail(ctx, paymentID, "91", "Issuer or switch inoperative: timed out")
}

func (s *Server) fail(ctx context.Context, paymentID, bankCode, msg string) error {
	return s.decide(ctx, paymentID, func(inv *invoice) error {
		switch inv.status {
		case StatusPending:
			inv.status = StatusFailed
			inv.failCode, inv.bankCode, inv.bankMessage = 41, bankCode, msg
			return nil
		case StatusFailed:
			return nil
		default:
			return fmt.Errorf("%w: %s is %s", ErrNotPending, inv.id, inv.status)
		}
	})
}

// decide applies change to the invoice and then delivers its sale webhook
// (when the sale named a registered webhook key).
func (s *Server) decide(ctx context.Context, paymentID string, change func(*invoice) error) error {
	s.mu.Lock()
	inv, ok := s.invoices[paymentID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownInvoice, paymentID)
	}
	if err := change(inv); err != nil {
		s.mu.Unlock()
		return err
	}
	hook, form := s.webhookFor(inv)
	s.mu.Unlock()
	if hook == "" {
		return nil
	}
	s.deliver(ctx, paymentID, hook, form)
	return nil
}

// Resend sends the sale's webhook again (a redelivery, or an out-of-order
// one after a later change).
func (s *Server) Resend(ctx context.Context, paymentID string) error {
	return s.decide(ctx, paymentID, func(*invoice) error { return nil })
}

// CompleteRefund settles a manual refund request (status 101) as refunded.
func (s *Server) CompleteRefund(_ context.Context, refundTransactionID string) error {
	return s.settleRefund(refundTransactionID, StatusCompleted)
}

// FailRefund settles a manual refund request as refused.
func (s *Server) FailRefund(_ context.Context, refundTransactionID string) error {
	return s.settleRefund(refundTransactionID, StatusFailed)
}

func (s *Server) settleRefund(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refundIDs[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownRefund, id)
	}
	if rf.status != StatusPending {
		return fmt.Errorf("veparasim: refund %s is already %s", id, rf.status)
	}
	rf.status = status
	s.updateRefundStatus(s.invoices[rf.invoiceID])
	return nil
}

// webhookFor returns the sale webhook's URL and form for inv, under s.mu;
// the URL is empty when the sale named no registered key.
func (s *Server) webhookFor(inv *invoice) (string, url.Values) {
	if inv.hookKey == "" {
		return "", nil
	}
	u, ok := s.hooks[inv.hookKey]
	if !ok || u == "" {
		return "", nil
	}
	u = strings.ReplaceAll(u, "{invoice_id}", url.PathEscape(inv.id))
	paid := "0"
	code := strconv.Itoa(inv.failCode)
	desc := "Payment failed"
	if inv.status == StatusCompleted || inv.status == StatusPreAuth || inv.status == StatusRefunded || inv.status == StatusPartialRefunded {
		paid, code, desc = "1", "100", "Payment process successful"
	}
	txType := inv.txType
	if txType == TypePostAuth {
		txType = TypePreAuth // the sale itself was a pre-authorization
	}
	f := url.Values{}
	f.Set("vepara_status", paid)
	f.Set("order_no", strconv.FormatInt(inv.orderID, 10))
	f.Set("invoice_id", inv.id)
	f.Set("status_code", code)
	f.Set("status_description", desc)
	f.Set("vepara_payment_method", "1")
	f.Set("credit_card_no", inv.maskedCard)
	f.Set("transaction_type", txType)
	f.Set("payment_status", paid)
	f.Set("payment_method", "1")
	f.Set("error_code", firstNonEmpty(inv.bankCode, code))
	f.Set("error", inv.bankMessage)
	f.Set("status", map[string]string{"1": "Completed", "0": "Failed"}[paid])
	f.Set("hash_key", makeHashKey(s.cfg.appSecret, paid, formatAmount(inv.total, exponent(inv.currency)),
		inv.id, strconv.FormatInt(inv.orderID, 10), inv.currency))
	return u, f
}

// Delivery is one attempt to deliver a webhook.
type Delivery struct {
	InvoiceID string
	URL       string
	Form      url.Values
	// StatusCode is the receiver's answer; 0 when it could not be reached
	// (Err says why) or the webhook was dropped by a fault.
	StatusCode int
	Err        string
	Dropped    bool
	At         time.Time
}

// Deliveries returns every webhook attempt so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Form = cloneValues(d.Form)
		out[i] = d
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		out[k] = slices.Clone(vals)
	}
	return out
}

func (s *Server) deliverAsync(invoiceID, u string, form url.Values) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := deliveryContext()
		defer cancel()
		s.deliver(ctx, invoiceID, u, form)
	}()
}

// deliver posts the form to u, with the injected webhook faults, retrying
// an unanswered or non-2xx delivery with backoff.
func (s *Server) deliver(ctx context.Context, invoiceID, u string, form url.Values) {
	s.mu.Lock()
	faults := s.webhookFaults
	s.mu.Unlock()
	if faults.Drop {
		s.record(Delivery{InvoiceID: invoiceID, URL: u, Form: form, Dropped: true, At: s.cfg.now()})
		return
	}
	if faults.Delay > 0 {
		t := time.NewTimer(faults.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	for range 1 + max(faults.Duplicates, 0) {
		backoff := s.cfg.webhookBackoff
		for attempt := 0; attempt < s.cfg.webhookAttempts; attempt++ {
			if attempt > 0 {
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
				backoff *= 2
			}
			if s.post(ctx, invoiceID, u, form) {
				break
			}
		}
	}
}

func (s *Server) post(ctx context.Context, invoiceID, u string, form url.Values) bool {
	d := Delivery{InvoiceID: invoiceID, URL: u, Form: form, At: s.cfg.now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		d.Err = err.Error()
		s.record(d)
		return true // a bad URL does not get better
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.cfg.client.Do(req)
	if err != nil {
		d.Err = err.Error()
		s.record(d)
		return false
	}
	_ = res.Body.Close()
	d.StatusCode = res.StatusCode
	s.record(d)
	return res.StatusCode >= 200 && res.StatusCode < 300
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
}

// Transaction is what the simulator recorded about a sale.
type Transaction struct {
	InvoiceID       string
	OrderID         string
	Status          string
	TransactionType string
	Marketplace     bool
	Currency        string
	// Amounts are in minor units.
	Total              int64
	Payable            int64
	Captured           int64
	Refunded           int64
	MerchantCommission int64
	UserCommission     int64
	Installments       int
	Items              []Item
	MaskedCard         string
	// HashTotal is the total as written inside the sale's hash_key.
	HashTotal string
	Refunds   []RefundRecord
}

// RefundRecord is a refund the simulator recorded.
type RefundRecord struct {
	ID     string
	Amount int64
	Status string
	RefNo  string
}

// Transaction returns the sale recorded for an invoice id.
func (s *Server) Transaction(invoiceID string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[invoiceID]
	if !ok {
		return Transaction{}, false
	}
	t := Transaction{
		InvoiceID: inv.id, OrderID: strconv.FormatInt(inv.orderID, 10), Status: inv.status,
		TransactionType: inv.txType, Marketplace: inv.marketplace, Currency: inv.currency,
		Total: inv.total, Payable: inv.payable, Captured: inv.captured, Refunded: inv.refunded(),
		MerchantCommission: inv.merchantComm, UserCommission: inv.userComm, Installments: inv.installments,
		Items: slices.Clone(inv.items), MaskedCard: inv.maskedCard, HashTotal: inv.hashTotal,
	}
	for _, r := range inv.refunds {
		t.Refunds = append(t.Refunds, RefundRecord{ID: r.id, Amount: r.amount, Status: r.status, RefNo: r.refNo})
	}
	return t, true
}

// Charges returns how many sales the simulator accepted for an invoice id
// (at most 1: a reused invoice id is refused with status 3).
func (s *Server) Charges(invoiceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv, ok := s.invoices[invoiceID]; ok {
		return inv.charges
	}
	return 0
}
