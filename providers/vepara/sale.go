package vepara

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paykit/paykit/payment"
)

// MetadataInstallments is the Payment.Metadata key that chooses the number
// of instalments ("1" to "12", default "1"): payment.StartRequest has no
// field for it.
const MetadataInstallments = "installments"

// Sale endpoints.
const (
	path2D          = "/api/paySmart2D"
	pathMarketplace = "/api/marketplace/sale/pay/smart/non-secure"
)

// currencyIDs are the ISO 4217 numeric codes the marketplace endpoint's
// currency_id takes.
var currencyIDs = map[string]int{"TRY": 949, "USD": 840, "EUR": 978, "GBP": 826}

// ValidateCheckout checks a checkout against the platform's field rules
// before anything is recorded or sent: method card, a supported currency,
// card number 16 to 20 digits, CVV 3 or 4 digits, a holder name without
// digits (at most 50 characters), expiry month 1 to 12 and a 4-digit expiry
// year, an invoice id (the payment id) of at most 50 characters, 1 to 12
// instalments, and items that add up to the amount, either all with a
// sub-merchant (a marketplace sale) or none. Errors are
// *payment.ValidationError naming the field; they never contain card data.
func (p *Provider) ValidateCheckout(req *payment.StartRequest) error {
	if req == nil || req.Payment == nil {
		return payment.MissingField("payment")
	}
	pay := req.Payment
	if pay.Method != payment.MethodCard {
		return payment.InvalidField("method", "must be card for vepara")
	}
	if !containsString(p.cfg.currencies, pay.Currency) {
		return payment.InvalidField("currency", "is not accepted by this vepara account")
	}
	if pay.Amount <= 0 {
		return payment.InvalidField("amount", "must be positive")
	}
	if len(pay.ID) > 50 {
		return payment.InvalidField("id", "must be at most 50 characters (it is the vepara invoice id)")
	}
	if pay.CaptureMethod != "" && pay.CaptureMethod != payment.CaptureAutomatic && pay.CaptureMethod != payment.CaptureManual {
		return payment.InvalidField("capture_method", "must be automatic or manual")
	}
	if err := validateCard(req.Card); err != nil {
		return err
	}
	if _, err := installmentsOf(pay); err != nil {
		return err
	}
	return validateItems(pay)
}

func validateCard(c *payment.Card) error {
	if c == nil {
		return payment.MissingField("card")
	}
	switch {
	case c.Number == "":
		return payment.MissingField("card.number")
	case !allDigits(c.Number) || len(c.Number) < 16 || len(c.Number) > 20:
		return payment.InvalidField("card.number", "must be 16 to 20 digits")
	case c.CVV == "":
		return payment.MissingField("card.cvv")
	case !allDigits(c.CVV) || len(c.CVV) < 3 || len(c.CVV) > 4:
		return payment.InvalidField("card.cvv", "must be 3 or 4 digits")
	case strings.TrimSpace(c.HolderName) == "":
		return payment.MissingField("card.holder_name")
	case strings.ContainsFunc(c.HolderName, unicode.IsDigit):
		return payment.InvalidField("card.holder_name", "must not contain digits")
	case !utf8.ValidString(c.HolderName) || utf8.RuneCountInString(c.HolderName) > 50:
		return payment.InvalidField("card.holder_name", "must be at most 50 characters")
	case c.ExpiryMonth < 1 || c.ExpiryMonth > 12:
		return payment.InvalidField("card.expiry_month", "must be 1 to 12")
	case c.ExpiryYear < 1000 || c.ExpiryYear > 9999:
		return payment.InvalidField("card.expiry_year", "must have 4 digits")
	}
	return nil
}

func installmentsOf(pay *payment.Payment) (int, error) {
	s, ok := pay.Metadata[MetadataInstallments]
	if !ok || s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 12 {
		return 0, payment.InvalidField("metadata."+MetadataInstallments, "must be 1 to 12")
	}
	return n, nil
}

func validateItems(pay *payment.Payment) error {
	if len(pay.Items) == 0 {
		return nil
	}
	var sum int64
	market := pay.Items[0].SubMerchantID != ""
	for i, it := range pay.Items {
		f := "items[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(it.Name) == "":
			return payment.MissingField(f + ".name")
		case len(it.ID) > 255:
			return payment.InvalidField(f+".id", "must be at most 255 characters")
		case it.Price <= 0:
			return payment.InvalidField(f+".price", "must be positive")
		case it.Quantity <= 0:
			return payment.InvalidField(f+".quantity", "must be positive")
		case (it.SubMerchantID != "") != market:
			return payment.InvalidField(f+".sub_merchant_id", "must be set on every item or on none")
		case !market && it.SubMerchantShare != 0:
			return payment.InvalidField(f+".sub_merchant_share", "needs a sub_merchant_id")
		case it.SubMerchantShare < 0:
			return payment.InvalidField(f+".sub_merchant_share", "must not be negative")
		}
		line, ok := payment.MulInt64(it.Price, it.Quantity)
		if !ok {
			return payment.InvalidField(f+".price", "is too large")
		}
		if it.SubMerchantShare > line {
			return payment.InvalidField(f+".sub_merchant_share", "must not exceed price times quantity")
		}
		if sum, ok = payment.AddInt64(sum, line); !ok {
			return payment.InvalidField("items", "add up to too much")
		}
	}
	if sum != pay.Amount {
		return payment.InvalidField("items", "must add up to amount")
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// saleRequest is the body of paySmart2D and of the marketplace non-secure
// sale. It holds card data: it lives only for the call.
type saleRequest struct {
	CCHolderName       string      `json:"cc_holder_name"`
	CCNo               string      `json:"cc_no"`
	ExpiryMonth        int         `json:"expiry_month"`
	ExpiryYear         int         `json:"expiry_year"`
	CVV                string      `json:"cvv"`
	CurrencyID         int         `json:"currency_id,omitempty"`
	CurrencyCode       string      `json:"currency_code"`
	InstallmentsNumber int         `json:"installments_number"`
	InvoiceID          string      `json:"invoice_id"`
	InvoiceDescription string      `json:"invoice_description"`
	Name               string      `json:"name"`
	Surname            string      `json:"surname"`
	Total              json.Number `json:"total"`
	MerchantKey        string      `json:"merchant_key"`
	Items              []saleItem  `json:"items"`
	HashKey            string      `json:"hash_key"`
	BillEmail          string      `json:"bill_email,omitempty"`
	BillPhone          string      `json:"bill_phone,omitempty"`
	SaleWebHookKey     string      `json:"sale_web_hook_key,omitempty"`
	SaleWebhookKey     string      `json:"sale_webhook_key,omitempty"`
	IP                 string      `json:"ip,omitempty"`
	TransactionType    string      `json:"transaction_type,omitempty"`
}

type saleItem struct {
	ItemID           string      `json:"item_id,omitempty"`
	SubMerchantID    string      `json:"sub_merchant_id,omitempty"`
	Name             string      `json:"name"`
	Price            json.Number `json:"price"`
	SubMerchantShare json.Number `json:"sub_merchant_share,omitempty"`
	Quantity         int64       `json:"quantity"`
	Description      string      `json:"description"`
}

// Start makes the sale: the marketplace non-secure sale when the items name
// sub-merchants, otherwise paySmart2D. capture_method manual sends a
// pre-authorization (transaction_type PreAuth), captured or voided later
// with Capture or Cancel. The invoice id is the payment id, so a repeated
// Start finds the first sale (status 3, "invoice already processed") and
// answers with its state from checkstatus instead of charging again.
//
// The outcome of a non-secure sale is known at once: succeeded (or
// authorized), or failed with a Failure for a declined card.
func (p *Provider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	const op = "start"
	if err := p.ValidateCheckout(req); err != nil {
		return nil, providerError(op, "invalid_input", "", false, err)
	}
	pay := req.Payment
	path, body, err := p.saleBody(req)
	if err != nil {
		return nil, providerError(op, "", "build request", false, err)
	}
	var out txnResponse
	httpStatus, err := p.callStatus(ctx, op, http.MethodPost, path, body, &out)
	body.CCNo, body.CVV = "", ""
	if err != nil {
		return nil, err
	}
	t := out.normalize()
	p.log.Info("sale answered", zapInvoice(pay.ID), zapCode(t.code))
	if !t.hasCode {
		if httpStatus >= 300 {
			return nil, providerError(op, "http_"+strconv.Itoa(httpStatus), "unexpected answer", false, nil)
		}
		return p.resolveByStatus(ctx, op, pay)
	}
	switch classify(t.code) {
	case classSuccess, classDeclined:
		if t.orderID == "" && t.code == CodeSuccess {
			return p.resolveByStatus(ctx, op, pay)
		}
		st := p.stateOf(t, pay)
		st.Card = req.Card.Summary()
		return st, nil
	case classDuplicate:
		st, err := p.resolveByStatus(ctx, op, pay)
		if err == nil && st.Card == nil {
			st.Card = req.Card.Summary()
		}
		return st, err
	case classPending:
		return &payment.PaymentState{Status: payment.StatusProcessing, ProviderReference: firstOf(t.orderID, pay.ID)}, nil
	case classInput, classNotFound, classError:
	}
	return nil, codeError(op, &t.baseResponse)
}

// resolveByStatus asks checkstatus when the sale's answer does not settle
// the outcome (a duplicate invoice, an answer without an order id).
// Anything but a definite answer is a retryable error: the sale may have
// happened.
func (p *Provider) resolveByStatus(ctx context.Context, op string, pay *payment.Payment) (*payment.PaymentState, error) {
	st, err := p.syncPayment(ctx, op, pay)
	if err != nil {
		return nil, asRetryable(err)
	}
	return st, nil
}

func asRetryable(err error) error {
	var pe *payment.ProviderError
	if errors.As(err, &pe) {
		c := *pe
		c.Retryable = true
		return &c
	}
	return err
}

func (p *Provider) saleBody(req *payment.StartRequest) (string, *saleRequest, error) {
	pay, card := req.Payment, req.Card
	total, err := p.formatAmount(pay.Amount, pay.Currency)
	if err != nil {
		return "", nil, err
	}
	inst, err := installmentsOf(pay)
	if err != nil {
		return "", nil, err
	}
	hash, err := HashKey(p.cred.AppSecret, total, strconv.Itoa(inst), pay.Currency, p.cred.MerchantKey, pay.ID)
	if err != nil {
		return "", nil, err
	}
	name, surname := splitName(customerName(pay, card))
	desc := pay.Description
	if desc == "" {
		desc = "Order " + pay.OrderID
	}
	body := &saleRequest{
		CCHolderName:       strings.TrimSpace(card.HolderName),
		CCNo:               card.Number,
		ExpiryMonth:        card.ExpiryMonth,
		ExpiryYear:         card.ExpiryYear,
		CVV:                card.CVV,
		CurrencyCode:       pay.Currency,
		InstallmentsNumber: inst,
		InvoiceID:          pay.ID,
		InvoiceDescription: desc,
		Name:               name,
		Surname:            surname,
		Total:              json.Number(total),
		MerchantKey:        p.cred.MerchantKey,
		HashKey:            hash,
		IP:                 req.ClientIP,
	}
	if pay.Customer != nil {
		body.BillEmail, body.BillPhone = pay.Customer.Email, pay.Customer.Phone
	}
	if pay.CaptureMethod == payment.CaptureManual {
		body.TransactionType = "PreAuth"
	}
	market := len(pay.Items) > 0 && pay.Items[0].SubMerchantID != ""
	if len(pay.Items) == 0 {
		body.Items = []saleItem{{Name: desc, Price: json.Number(total), Quantity: 1, Description: desc}}
	}
	for i, it := range pay.Items {
		price, err := p.formatAmount(it.Price, pay.Currency)
		if err != nil {
			return "", nil, err
		}
		si := saleItem{Name: it.Name, Price: json.Number(price), Quantity: it.Quantity, Description: it.Name}
		if market {
			share, err := p.formatAmount(it.SubMerchantShare, pay.Currency)
			if err != nil {
				return "", nil, err
			}
			si.ItemID = it.ID
			if si.ItemID == "" {
				si.ItemID = strconv.Itoa(i + 1)
			}
			si.SubMerchantID = it.SubMerchantID
			si.SubMerchantShare = json.Number(share)
		}
		body.Items = append(body.Items, si)
	}
	if market {
		body.CurrencyID = currencyIDs[pay.Currency]
		body.SaleWebhookKey = p.cfg.saleWebhookKey
		return pathMarketplace, body, nil
	}
	body.SaleWebHookKey = p.cfg.saleWebhookKey
	return path2D, body, nil
}

// customerName is the payer's name: the customer's, else the card holder's.
func customerName(pay *payment.Payment, card *payment.Card) string {
	if pay.Customer != nil && strings.TrimSpace(pay.Customer.Name) != "" {
		return pay.Customer.Name
	}
	return card.HolderName
}

// splitName splits "John Ronald Doe" into "John Ronald" and "Doe". A single
// word is both name and surname (both are required).
func splitName(full string) (string, string) {
	full = strings.Join(strings.Fields(full), " ")
	i := strings.LastIndexByte(full, ' ')
	if i < 0 {
		return full, full
	}
	return full[:i], full[i+1:]
}
