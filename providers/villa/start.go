package villa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/paykit/paykit/payment"
)

// maxAmount is KBank's Decimal(12,2) ceiling: 9,999,999,999.99 THB.
const maxAmount = 999_999_999_999

// orderIDFor is Villa's orderId for a payment: paykit's payment id as is.
// It makes Start idempotent (Villa refuses a second order with the id) and
// lets callbacks name the payment directly.
func orderIDFor(p *payment.Payment) string { return p.ID }

// validOrderID reports whether s is safe as Villa's orderId and in a URL
// path: 1 to 64 of A-Za-z0-9_-.
func validOrderID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !strings.ContainsRune(orderIDChars, rune(c)) {
			return false
		}
	}
	return true
}

// ValidateCheckout checks a checkout against Villa's rules before anything
// is recorded or sent: THB only, card, qr or wechat, a positive amount
// within KBank's limit, automatic capture, and for cards a KBank token in
// PaymentToken (raw card data is refused: it must never reach this server).
func (p *Provider) ValidateCheckout(req *payment.StartRequest) error {
	if req == nil || req.Payment == nil {
		return payment.MissingField("payment")
	}
	pay := req.Payment
	if pay.Currency != "THB" {
		return payment.InvalidField("currency", "must be THB for villa")
	}
	if pay.Amount <= 0 {
		return payment.InvalidField("amount", "must be greater than zero")
	}
	if pay.Amount > maxAmount {
		return payment.InvalidField("amount", "exceeds KBank's limit of 9999999999.99 THB")
	}
	if pay.CaptureMethod == payment.CaptureManual {
		return payment.InvalidField("capture_method", "manual capture is not supported by villa")
	}
	if !validOrderID(orderIDFor(pay)) {
		return payment.InvalidField("id", "is not usable as a Villa order id")
	}
	switch pay.Method {
	case payment.MethodCard:
		if req.Card != nil {
			return payment.InvalidField("card", "is not accepted by villa: send the KBank card token in payment_token")
		}
		if req.PaymentToken == "" {
			return payment.MissingField("payment_token")
		}
		if len(req.PaymentToken) > 256 || strings.ContainsFunc(req.PaymentToken, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return payment.InvalidField("payment_token", "is not a KBank card token")
		}
	case payment.MethodQR, payment.MethodWeChat:
	case payment.MethodEWallet, payment.MethodBankTransfer:
		return payment.InvalidField("method", "must be card, qr or wechat for villa")
	default:
		return payment.InvalidField("method", "must be card, qr or wechat for villa")
	}
	if u := userIDFor(req.Payment, p.defaultUserID); len(u) > 255 {
		return payment.InvalidField("customer.id", "is too long for villa")
	}
	return nil
}

func userIDFor(p *payment.Payment, def string) string {
	if p.Customer != nil && p.Customer.ID != "" {
		return p.Customer.ID
	}
	return def
}

// callbackURL is where Villa sends this payment's callbacks: the notify URL
// with the order id in the query (the KBank card callback form carries only
// the charge id).
func callbackURL(notify, orderID string) string {
	if notify == "" {
		return ""
	}
	u, err := url.Parse(notify)
	if err != nil || !u.IsAbs() {
		return ""
	}
	q := u.Query()
	q.Set("orderId", orderID)
	u.RawQuery = q.Encode()
	return u.String()
}

// Start starts a card, QR or WeChat payment. The Villa orderId is the
// payment id, so a retry reaches the same order; when Villa says the order
// exists already, Start answers with the order's current state from GET
// /checkstatus instead of failing.
func (p *Provider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	if err := p.ValidateCheckout(req); err != nil {
		return nil, fmt.Errorf("villa: start: %w", err)
	}
	pay := req.Payment
	switch pay.Method {
	case payment.MethodCard:
		return p.startCard(ctx, req)
	case payment.MethodQR, payment.MethodWeChat:
		return p.startQR(ctx, req)
	case payment.MethodEWallet, payment.MethodBankTransfer:
	}
	return nil, fmt.Errorf("villa: start: %w", payment.InvalidField("method", "must be card, qr or wechat for villa"))
}

func (p *Provider) startCard(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	pay := req.Payment
	orderID := orderIDFor(pay)
	amount, err := FormatAmount(pay.Money())
	if err != nil {
		return nil, fmt.Errorf("villa: start %s: %w", orderID, err)
	}
	form := url.Values{
		"orderId": {orderID},
		"userId":  {userIDFor(pay, p.defaultUserID)},
		"amount":  {amount},
		"token":   {req.PaymentToken},
	}
	if cb := callbackURL(req.NotifyURL, orderID); cb != "" {
		form.Set("callback", cb)
	}
	res, err := p.send(ctx, &call{
		op: "start", method: "POST", path: "/cardpayment", form: form,
		retrySafe: true, secrets: []string{req.PaymentToken, p.apiKey},
	})
	if err != nil {
		return nil, err
	}
	if res.apiErr != nil {
		if res.apiErr.duplicate() {
			return p.resolveDuplicate(ctx, pay)
		}
		return nil, res.apiErr.providerError("start", req.PaymentToken, p.apiKey)
	}
	var ch KBankCharge
	obj, err := decodeObject(res.payload)
	if err == nil {
		err = ch.fromObject(obj)
	}
	if err != nil {
		return nil, transportError("start", fmt.Errorf("villa: start %s: card payment answer: %w", orderID, err))
	}
	return chargeState(orderID, &ch), nil
}

// chargeState turns a card charge into a payment state.
func chargeState(orderID string, ch *KBankCharge) *payment.PaymentState {
	st := &payment.PaymentState{ProviderReference: orderID, Card: cardSummary(ch.Source)}
	if ch.Amount.Amount != 0 {
		m := ch.Amount
		st.Amount = &m
	}
	status, known := kbankState(ch.TransactionState)
	switch {
	case ch.Failed():
		st.Status = payment.StatusFailed
		code := ch.FailureCode
		if code == "" {
			code = ch.Code
		}
		msg := ch.FailureMessage
		if msg == "" {
			msg = ch.Message
		}
		st.Failure = failureFor(payment.MethodCard, code, msg)
		st.Amount = nil
	case known:
		st.Status = status
	default:
		st.Status = payment.StatusProcessing
	}
	switch st.Status {
	case payment.StatusRequiresAction:
		if ch.RedirectURL == "" {
			st.Status = payment.StatusProcessing
			break
		}
		st.NextAction = &payment.NextAction{Type: payment.NextActionRedirect, URL: ch.RedirectURL}
	case payment.StatusFailed:
		if st.Failure == nil {
			st.Failure = failureFor(payment.MethodCard, ch.FailureCode, ch.FailureMessage)
		}
	case payment.StatusExpired:
		st.Failure = &payment.Failure{Code: payment.FailureExpired, Message: "the payment expired"}
	case payment.StatusCanceled:
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "the payment was canceled"}
	case payment.StatusPending, payment.StatusProcessing, payment.StatusAuthorized,
		payment.StatusSucceeded, payment.StatusPartiallyRefunded, payment.StatusRefunded:
	}
	return st
}

func cardSummary(src KBankCardSource) *payment.CardSummary {
	if src.Brand == "" && src.CardMasking == "" {
		return nil
	}
	cs := &payment.CardSummary{Brand: strings.ToLower(src.Brand)}
	m := src.CardMasking
	if len(m) >= 4 && allDigits(m[len(m)-4:]) {
		cs.Last4 = m[len(m)-4:]
	}
	return cs
}

// qrRequestMain is the main API's QR request. Amount is the exact decimal.
type qrRequestMain struct {
	OrderID    string      `json:"orderId"`
	UserID     string      `json:"userId"`
	Amount     json.Number `json:"amount"`
	CustomerID string      `json:"customerId"`
	Source     string      `json:"source"`
	Callback   string      `json:"callback,omitempty"`
}

// qrRequestOrder is payment3api's QR request for an order Villa knows.
type qrRequestOrder struct {
	OrderID string `json:"orderid"`
	Source  string `json:"source"`
}

func (p *Provider) startQR(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	pay := req.Payment
	orderID := orderIDFor(pay)
	source := "qr"
	if pay.Method == payment.MethodWeChat {
		source = "wechat"
	}
	amount, err := FormatAmount(pay.Money())
	if err != nil {
		return nil, fmt.Errorf("villa: start %s: %w", orderID, err)
	}
	userID := userIDFor(pay, p.defaultUserID)
	var body any
	switch p.qrShape {
	case QRShapeOrder:
		// Register the order and its amount; an order that exists already
		// (a retry) is fine: /qrpayment then answers for it.
		res, err := p.sendCreateOrder(ctx, "start", &OrderRequest{
			OrderID: orderID, UserID: userID, Amount: pay.Money(), Description: description(pay),
			SourceType: source, Callback: callbackURL(req.NotifyURL, orderID),
		})
		if err != nil {
			return nil, err
		}
		if res.apiErr != nil && !res.apiErr.duplicate() {
			return nil, res.apiErr.providerError("start", p.apiKey)
		}
		body = qrRequestOrder{OrderID: orderID, Source: source}
	case QRShapeMain, QRShapeDefault:
		body = qrRequestMain{
			OrderID: orderID, UserID: userID, Amount: json.Number(amount),
			CustomerID: userID, Source: source, Callback: callbackURL(req.NotifyURL, orderID),
		}
	}
	res, err := p.send(ctx, &call{
		op: "start", method: "POST", path: "/qrpayment", body: body, retrySafe: true,
		secrets: []string{p.apiKey},
	})
	if err != nil {
		return nil, err
	}
	if res.apiErr != nil {
		if res.apiErr.duplicate() {
			return p.resolveDuplicate(ctx, pay)
		}
		return nil, res.apiErr.providerError("start", p.apiKey)
	}
	var o KBankOrder
	obj, err := decodeObject(res.payload)
	if err == nil {
		err = o.fromObject(obj)
	}
	if err != nil {
		return nil, transportError("start", fmt.Errorf("villa: start %s: QR payment answer: %w", orderID, err))
	}
	return orderState(orderID, pay.Method, &o), nil
}

// orderState turns a freshly created KBank order into a payment state:
// requires_action with the QR code, or failed when creation failed. The
// order's status "success" only says it was created.
func orderState(orderID string, method payment.Method, o *KBankOrder) *payment.PaymentState {
	st := &payment.PaymentState{ProviderReference: orderID}
	if o.Failed() {
		st.Status = payment.StatusFailed
		st.Failure = failureFor(method, o.FailureCode, o.FailureMessage)
		return st
	}
	if o.Amount.Amount != 0 {
		m := o.Amount
		st.Amount = &m
	}
	st.Status = payment.StatusRequiresAction
	st.ExpiresAt = o.ExpiresAt()
	if o.QRCode != "" || o.QRImage != "" {
		st.NextAction = &payment.NextAction{
			Type: payment.NextActionDisplayQR, QRCode: o.QRCode, QRImage: o.QRImage, ExpiresAt: o.ExpiresAt(),
		}
	}
	return st
}

func description(p *payment.Payment) string {
	if p.Description != "" {
		return p.Description
	}
	return "Order " + p.OrderID
}

// failureFor maps a KBank or Villa failure code to paykit's.
func failureFor(method payment.Method, code, msg string) *payment.Failure {
	lc := strings.ToLower(code + " " + msg)
	f := &payment.Failure{Code: code, Message: msg}
	switch {
	case strings.Contains(lc, "insufficient"):
		f.Code = payment.FailureInsufficientFunds
	case strings.Contains(lc, "expire"):
		f.Code = payment.FailureExpired
	case strings.Contains(lc, "cancel"):
		f.Code = payment.FailureCanceled
	case method == payment.MethodCard:
		f.Code = payment.FailureCardDeclined
	case code == "":
		f.Code = payment.FailureProviderError
	}
	if f.Message == "" {
		f.Message = "the payment was declined"
	}
	return f
}

// resolveDuplicate answers a Start that Villa refused because the order
// exists (a retry): the order's current state. Since the order exists, a
// failure to read it leaves the outcome unknown, never failed.
func (p *Provider) resolveDuplicate(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	st, err := p.Sync(ctx, pay)
	if err != nil {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "start", Code: "DUPLICATE_UNRESOLVED", Retryable: true,
			Message: "the order exists but its state could not be read", Err: err,
		}
	}
	return st, nil
}

// orderIDChars are the characters an order id may have.
const orderIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
