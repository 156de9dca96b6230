package vepara

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// SaleWebhook is a sale webhook whose hash_key decrypted and whose fields
// agree with it. It is not yet confirmed: the platform's AES-CBC hash_key
// has no MAC, so ParseWebhook also asks checkstatus.
type SaleWebhook struct {
	// Success is the hash_key's status: 1 (or Completed) true, 0 false.
	Success bool
	// Total is the decrypted total in minor units of Currency.
	Total    int64
	Currency string
	// InvoiceID is the invoice id (paykit's payment id).
	InvoiceID string
	// OrderID is the platform's order id.
	OrderID string
	// TransactionType is the form's transaction_type ("Auth",
	// "Pre-Authorization"), unauthenticated.
	TransactionType string
}

// webhookFields reads the callback's fields: a form body (the platform's
// format), a JSON object, or, for an empty body, the query string.
func webhookFields(req *payment.WebhookRequest) (url.Values, error) {
	body := bytes.TrimSpace(req.Body)
	switch {
	case len(body) == 0:
		if len(req.Query) == 0 {
			return nil, errors.New("empty callback")
		}
		return req.Query, nil
	case body[0] == '{':
		var m map[string]flexString
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("malformed JSON callback")
		}
		v := url.Values{}
		for k, s := range m {
			v.Set(k, string(s))
		}
		return v, nil
	default:
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("malformed form callback")
		}
		return v, nil
	}
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidHashKey, reason) }

func sameString(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// VerifySaleWebhook decrypts a sale webhook's hash_key with appSecret
// (status|total|invoice_id|order_id|currency_code) and checks it against the
// form: the invoice id must match, the order id (order_no or order_id) must
// match, payment_status and vepara_status/sipay_status, when present, must
// be the status (1 or 0), and the total and currency must parse. Errors wrap
// ErrInvalidHashKey (and so payment.ErrInvalidSignature).
func VerifySaleWebhook(appSecret string, req *payment.WebhookRequest) (*SaleWebhook, error) {
	f, err := webhookFields(req)
	if err != nil {
		return nil, invalid(err.Error())
	}
	hk := f.Get("hash_key")
	if hk == "" {
		return nil, invalid("no hash_key")
	}
	parts, err := ParseHashKey(appSecret, hk)
	if err != nil {
		return nil, err
	}
	if len(parts) != 5 {
		return nil, invalid("hash_key does not hold 5 fields")
	}
	w := &SaleWebhook{
		InvoiceID: parts[2], OrderID: parts[3], Currency: strings.ToUpper(strings.TrimSpace(parts[4])),
		TransactionType: f.Get("transaction_type"),
	}
	switch strings.ToLower(strings.TrimSpace(parts[0])) {
	case "1", "completed", "success":
		w.Success = true
	case "0", "fail", "failed":
	default:
		return nil, invalid("unknown status")
	}
	if w.InvoiceID == "" || !sameString(w.InvoiceID, f.Get("invoice_id")) {
		return nil, invalid("invoice_id does not match")
	}
	orderID := firstOf(f.Get("order_no"), f.Get("order_id"))
	if w.OrderID == "" || !sameString(w.OrderID, orderID) {
		return nil, invalid("order id does not match")
	}
	want := "0"
	if w.Success {
		want = "1"
	}
	for _, k := range []string{"payment_status", "vepara_status", "sipay_status"} {
		if _, ok := f[k]; ok && strings.TrimSpace(f.Get(k)) != want {
			return nil, invalid(k + " does not match")
		}
	}
	exp, err := payment.CurrencyExponent(w.Currency)
	if err != nil {
		return nil, invalid("unknown currency")
	}
	if w.Total, err = payment.ParseDecimal(strings.TrimSpace(parts[1]), exp); err != nil || w.Total < 0 {
		return nil, invalid("malformed total")
	}
	return w, nil
}

// ParseWebhook verifies the sale webhook (form fields posted to the URL
// registered under the sale webhook key) and confirms it with checkstatus
// before returning its single event: the hash_key must decrypt with the app
// secret and agree with the form (VerifySaleWebhook), the currency must be
// one of the provider's, and checkstatus must know the invoice with the
// same order id and total. Anything else is an error wrapping
// payment.ErrInvalidSignature. When checkstatus cannot be reached the error
// is retryable, so the platform's redelivery is not lost.
//
// The event's state is checkstatus's (the platform's current truth), with
// the decrypted total and currency as the amount.
func (p *Provider) ParseWebhook(ctx context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	const op = "webhook"
	w, err := VerifySaleWebhook(p.cred.AppSecret, req)
	if err != nil {
		p.log.Info("webhook rejected", zap.Error(err))
		return nil, err
	}
	if !containsString(p.cfg.currencies, w.Currency) {
		return nil, invalid("currency not accepted")
	}
	t, _, err := p.checkStatus(ctx, op, w.InvoiceID, false)
	if err != nil {
		return nil, err
	}
	pay := &payment.Payment{ID: w.InvoiceID, Currency: w.Currency}
	switch classify(t.code) {
	case classNotFound:
		return nil, invalid("checkstatus does not know the invoice")
	case classSuccess, classDeclined, classPending:
	case classDuplicate, classInput, classError:
		return nil, codeError(op, &t.baseResponse)
	}
	if t.orderID != "" && t.orderID != w.OrderID {
		return nil, invalid("checkstatus reports another order id")
	}
	if t.invoiceID != "" && t.invoiceID != w.InvoiceID {
		return nil, invalid("checkstatus reports another invoice id")
	}
	if t.productPrice != "" {
		if price, err := t.productPrice.amount(w.Currency); err != nil || price != w.Total {
			return nil, invalid("checkstatus reports another total")
		}
	}
	st, err := p.statusState(op, t, pay)
	if err != nil {
		return nil, err
	}
	if st.ProviderReference == "" {
		st.ProviderReference = w.OrderID
	}
	if st.Status == payment.StatusSucceeded || st.Status == payment.StatusAuthorized {
		st.Amount = &payment.Money{Amount: w.Total, Currency: w.Currency}
	}
	hashStatus := "0"
	if w.Success {
		hashStatus = "1"
	}
	p.log.Info("webhook confirmed", zapInvoice(w.InvoiceID), zap.String("status", string(st.Status)))
	return &payment.WebhookResult{Events: []payment.WebhookEvent{{
		Key:               "sale:" + w.InvoiceID + ":" + w.OrderID + ":" + hashStatus + ":" + string(st.Status),
		PaymentID:         w.InvoiceID,
		ProviderReference: st.ProviderReference,
		Payment:           st,
	}}}, nil
}
