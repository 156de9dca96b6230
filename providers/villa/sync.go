package villa

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// OrderStatus is what GET /checkstatus/{orderId} says about an order. Villa
// does not document the body; the provider reads the fields below under
// the names listed in the package documentation, and also accepts a raw
// KBank order or charge object.
type OrderStatus struct {
	// OrderID is Villa's order id (paykit's payment id).
	OrderID string
	// Status is Villa's status as sent ("pending", "paid", ...).
	Status string
	// TransactionState is KBank's transaction state, when sent.
	TransactionState string
	// Amount is the order's amount, when sent, parsed exactly.
	Amount *payment.Money
	// SourceType is card, qr or wechat.
	SourceType string
	// ChargeID is KBank's card charge id; KBankOrderID KBank's order id.
	ChargeID     string
	KBankOrderID string
	// FailureCode and FailureMessage say why the payment failed.
	FailureCode    string
	FailureMessage string
	// Created is when the order was created; ExpiresAt when it expires.
	Created   time.Time
	ExpiresAt *time.Time
	// RedirectURL is the 3-D Secure page of a card payment waiting for it.
	RedirectURL string
	// QRCode and QRImage are the QR of a QR payment waiting to be paid.
	QRCode  string
	QRImage string
	// Card describes the card of a card payment.
	Card *payment.CardSummary
	// kbankObject is set when the answer was a raw KBank object.
	kbankObject bool
}

// CheckStatus asks Villa about an order: GET /checkstatus/{orderId}. An
// unknown order is an error wrapping payment.ErrNotFound.
func (p *Provider) CheckStatus(ctx context.Context, orderID string) (*OrderStatus, error) {
	if !validOrderID(orderID) {
		return nil, fmt.Errorf("villa: checkstatus: %w", payment.InvalidField("orderId", "is not a Villa order id"))
	}
	payload, err := p.do(ctx, &call{
		op: "sync", method: "GET", path: "/checkstatus/" + url.PathEscape(orderID), retrySafe: true,
		secrets: []string{p.apiKey},
	})
	if err != nil {
		return nil, err
	}
	st, err := parseOrderStatus(payload)
	if err != nil {
		return nil, transportError("sync", fmt.Errorf("villa: checkstatus %s: %w", orderID, err))
	}
	if st.OrderID == "" || st.kbankObject {
		// A raw KBank object names the order only through its
		// reference_order, which is not reliable enough to compare.
		st.OrderID = orderID
	}
	if st.OrderID != orderID {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "sync", Code: "ORDER_MISMATCH",
			Message: "checkstatus answered about another order",
		}
	}
	return st, nil
}

// parseOrderStatus reads a checkstatus answer.
func parseOrderStatus(b []byte) (*OrderStatus, error) {
	obj, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	// Some answers nest the order: {"order": {...}} or {"data": {...}}.
	for _, k := range []string{"order", "data", "payment"} {
		if inner := obj.obj(k); inner != nil && obj.str("status") == "" {
			obj = inner
			break
		}
	}
	st := &OrderStatus{}
	switch obj.str("object") {
	case "order":
		var o KBankOrder
		if err := o.fromObject(obj); err != nil {
			return nil, err
		}
		st.kbankObject = true
		st.KBankOrderID = o.ID
		st.OrderID = orderFromReference(o.ReferenceOrder)
		st.Status = o.Status
		st.TransactionState = obj.str("transaction_state")
		st.FailureCode, st.FailureMessage = o.FailureCode, o.FailureMessage
		st.Created, st.ExpiresAt = o.Created, o.ExpiresAt()
		st.SourceType = o.SourceType
		st.QRCode, st.QRImage = o.QRCode, o.QRImage
		if o.Amount.Amount != 0 {
			m := o.Amount
			st.Amount = &m
		}
		return st, nil
	case "charge", "error":
		var c KBankCharge
		if err := c.fromObject(obj); err != nil {
			return nil, err
		}
		st.kbankObject = true
		st.ChargeID = c.ID
		st.OrderID = orderFromReference(c.ReferenceOrder)
		st.Status = c.Status
		st.TransactionState = c.TransactionState
		st.FailureCode, st.FailureMessage = c.FailureCode, c.FailureMessage
		if c.Object == "error" && st.FailureCode == "" {
			st.FailureCode, st.FailureMessage = c.Code, c.Message
		}
		st.Created = c.Created
		st.SourceType = "card"
		st.RedirectURL = c.RedirectURL
		st.Card = cardSummary(c.Source)
		if c.Amount.Amount != 0 {
			m := c.Amount
			st.Amount = &m
		}
		return st, nil
	}
	st.OrderID = obj.str("orderId", "order_id", "orderid")
	st.Status = obj.str("status", "paymentStatus", "payment_status")
	st.TransactionState = obj.str("transaction_state", "transactionState")
	st.SourceType = obj.str("source_type", "sourceType", "source", "paymentMethod")
	st.ChargeID = obj.str("chargeId", "charge_id")
	st.KBankOrderID = obj.str("kbankOrderId", "kbank_order_id")
	st.FailureCode = obj.str("failure_code", "failureCode")
	st.FailureMessage = obj.str("failure_message", "failureMessage")
	st.RedirectURL = obj.str("redirect_url", "redirectUrl")
	st.QRCode = obj.str("qr_code", "qrCode")
	st.QRImage = obj.str("qr_image", "qrImage")
	if src := obj.obj("source"); src != nil {
		st.Card = cardSummary(KBankCardSource{Brand: src.str("brand"), CardMasking: src.str("card_masking")})
	}
	cur := strings.ToUpper(obj.str("currency"))
	if cur == "" {
		cur = "THB"
	}
	if raw := obj.raw("amount"); raw != nil {
		m, err := ParseAmount(raw, cur)
		if err != nil {
			return nil, err
		}
		st.Amount = &m
	}
	if s := obj.str("created"); s != "" {
		if t, err := ParseKBankTime(s); err == nil {
			st.Created = t
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			st.Created = t.UTC()
		}
	}
	if n, ok := rawInt(obj["expire_time_seconds"]); ok && n > 0 && !st.Created.IsZero() {
		t := st.Created.Add(time.Duration(n) * time.Second)
		st.ExpiresAt = &t
	}
	if s := obj.str("expires_at", "expiresAt"); s != "" && st.ExpiresAt == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			t = t.UTC()
			st.ExpiresAt = &t
		}
	}
	return st, nil
}

// orderFromReference recovers Villa's order id from a KBank reference_order,
// which is the order id followed by a Unix timestamp with a fraction
// ("4925000046321748613417.737979" is order 492500004632 at 1748613417.737979).
func orderFromReference(ref string) string {
	dot := strings.LastIndexByte(ref, '.')
	if dot < 0 || dot == len(ref)-1 || !allDigits(ref[dot+1:]) {
		return ""
	}
	const secs = 10
	start := dot - secs
	if start <= 0 || !allDigits(ref[start:dot]) {
		return ""
	}
	return ref[:start]
}

// PaymentStatus maps the order's status to paykit's. Villa's own status
// wins when it is one the provider knows; otherwise KBank's transaction
// state decides; otherwise the payment is processing (unknown is never
// failure). "success" alone is not paid: KBank says it for an order that
// was merely created.
func (s *OrderStatus) PaymentStatus() payment.Status {
	if st, ok := villaState(s.Status); ok {
		return st
	}
	if st, ok := kbankState(s.TransactionState); ok {
		return st
	}
	if s.kbankObject && strings.EqualFold(s.Status, "success") && s.TransactionState == "" {
		return payment.StatusRequiresAction
	}
	if s.kbankObject && strings.EqualFold(s.Status, "error") {
		return payment.StatusFailed
	}
	return payment.StatusProcessing
}

// villaState maps Villa's order status.
func villaState(s string) (payment.Status, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "paid", "succeeded", "completed", "complete", "settled", "authorized", "captured":
		return payment.StatusSucceeded, true
	case "pending", "created", "waiting", "unpaid", "awaiting_payment", "requires_action", "pre-authorized":
		return payment.StatusRequiresAction, true
	case "processing", "in_progress":
		return payment.StatusProcessing, true
	case "failed", "declined", "rejected":
		return payment.StatusFailed, true
	case "expired", "timeout":
		return payment.StatusExpired, true
	case "cancelled", "canceled", "voided", "void", "reversed":
		return payment.StatusCanceled, true
	case "refunded":
		return payment.StatusRefunded, true
	case "partially_refunded":
		return payment.StatusPartiallyRefunded, true
	}
	return "", false
}

// kbankState maps KBank's transaction_state. "Auhtorized" is a misspelling
// in KBank's own documentation.
func kbankState(s string) (payment.Status, bool) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.NewReplacer("-", "", "_", "", " ", "").Replace(n)
	switch n {
	case "authorized", "auhtorized", "settled", "captured", "paid":
		return payment.StatusSucceeded, true
	case "preauthorized", "reversedpreauthorized", "pending", "initialized", "created":
		return payment.StatusRequiresAction, true
	case "declined", "failed", "rejected":
		return payment.StatusFailed, true
	case "voided", "void", "reversed", "cancelled", "canceled":
		return payment.StatusCanceled, true
	case "expired":
		return payment.StatusExpired, true
	case "refunded":
		return payment.StatusRefunded, true
	}
	return "", false
}

// State turns the order status into a payment state for method.
func (s *OrderStatus) State(method payment.Method) *payment.PaymentState {
	st := &payment.PaymentState{
		Status:            s.PaymentStatus(),
		ProviderReference: s.OrderID,
		ExpiresAt:         s.ExpiresAt,
		Card:              s.Card,
	}
	if s.Amount != nil {
		m := *s.Amount
		st.Amount = &m
	}
	switch st.Status {
	case payment.StatusRequiresAction:
		switch {
		case s.RedirectURL != "":
			st.NextAction = &payment.NextAction{Type: payment.NextActionRedirect, URL: s.RedirectURL}
		case s.QRCode != "" || s.QRImage != "":
			st.NextAction = &payment.NextAction{
				Type: payment.NextActionDisplayQR, QRCode: s.QRCode, QRImage: s.QRImage, ExpiresAt: s.ExpiresAt,
			}
		}
	case payment.StatusFailed:
		st.Failure = failureFor(method, s.FailureCode, s.FailureMessage)
	case payment.StatusExpired:
		st.Failure = &payment.Failure{Code: payment.FailureExpired, Message: "the customer did not pay in time"}
	case payment.StatusCanceled:
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "the payment was canceled"}
	case payment.StatusPending, payment.StatusProcessing, payment.StatusAuthorized,
		payment.StatusSucceeded, payment.StatusPartiallyRefunded, payment.StatusRefunded:
	}
	return st
}

// Sync asks Villa for the payment's current state (GET /checkstatus).
func (p *Provider) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	orderID := orderIDFor(pay)
	os, err := p.CheckStatus(ctx, orderID)
	if err != nil {
		return nil, err
	}
	method := pay.Method
	if method == "" {
		method = methodFromSource(os.SourceType)
	}
	p.warnUnknown(os)
	return os.State(method), nil
}

// warnUnknown logs a status the provider does not know (it reports
// processing, so the sweeper asks again).
func (p *Provider) warnUnknown(os *OrderStatus) {
	if _, ok := villaState(os.Status); ok {
		return
	}
	if _, ok := kbankState(os.TransactionState); ok {
		return
	}
	p.log.Warn("villa: unknown order status, reported as processing",
		zap.String("order_id", os.OrderID), zap.String("status", truncate(os.Status, 40)),
		zap.String("transaction_state", truncate(os.TransactionState, 40)))
}

func methodFromSource(src string) payment.Method {
	switch strings.ToLower(src) {
	case "card":
		return payment.MethodCard
	case "wechat":
		return payment.MethodWeChat
	default:
		return payment.MethodQR
	}
}
