package appotapay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// txnBody is AppotaPay's transaction object, as the e-wallet, gateway and
// status APIs and the IPN write it. v1-style names (appotapayTransId) are
// read too.
type txnBody struct {
	TransactionID      string  `json:"transactionId"`
	AppotapayTransID   string  `json:"appotapayTransId"`
	ReconciliationID   string  `json:"reconciliationId"`
	PartnerCode        string  `json:"partnerCode"`
	OrderID            string  `json:"orderId"`
	Status             string  `json:"status"`
	ErrorCode          flexInt `json:"errorCode"`
	ErrorMessage       string  `json:"errorMessage"`
	Message            string  `json:"message"`
	Amount             flexInt `json:"amount"`
	OrderAmount        flexInt `json:"orderAmount"`
	Currency           string  `json:"currency"`
	VerificationMethod string  `json:"verificationMethod"`
	PaymentMethod      string  `json:"paymentMethod"`
	BankCode           string  `json:"bankCode"`
	Action             string  `json:"action"`
	CreatedAt          string  `json:"createdAt"`
	UpdatedAt          string  `json:"updatedAt"`
}

func (t *txnBody) id() string {
	if t.TransactionID != "" {
		return t.TransactionID
	}
	return t.AppotapayTransID
}

// paid returns what the vendor says the order was for: orderAmount, or
// amount when that is all it sends.
func (t *txnBody) paid() *payment.Money {
	amt := t.OrderAmount
	if !amt.Set {
		amt = t.Amount
	}
	if !amt.Set {
		return nil
	}
	cur := t.Currency
	if cur == "" {
		cur = Currency
	}
	return &payment.Money{Amount: amt.Value, Currency: cur}
}

// state maps a vendor transaction to a PaymentState. pay (may be nil) is
// the payment as recorded, whose next action is kept while the vendor still
// waits for the customer.
func (p *Provider) state(t *txnBody, pay *payment.Payment) *payment.PaymentState {
	st := &payment.PaymentState{ProviderReference: t.id()}
	switch strings.ToLower(strings.TrimSpace(t.Status)) {
	case "success":
		st.Status = payment.StatusSucceeded
		st.Amount = t.paid()
	case "error":
		msg := t.ErrorMessage
		if msg == "" {
			msg = t.Message
		}
		if !t.ErrorCode.Set {
			st.Status = payment.StatusFailed
			st.Failure = &payment.Failure{Code: payment.FailureProviderError, Message: truncate(msg, 200)}
			break
		}
		code := int(t.ErrorCode.Value)
		switch classify(code) {
		case kindPending:
			// 34, 94, 99, 500: unknown, never failed.
			st.Status = payment.StatusProcessing
		case kindExpired:
			st.Status = payment.StatusExpired
			st.Failure = failureFor(code, msg)
		case kindUnknown, kindDecline, kindInvalid, kindAuth, kindDuplicate, kindNotFound, kindWrongOTP,
			kindAlreadySucceeded, kindAlreadyRefunded, kindNotRefundable, kindTryLater:
			st.Status = payment.StatusFailed
			st.Failure = failureFor(code, msg)
		}
	case "void", "cancel", "canceled", "cancelled":
		st.Status = payment.StatusCanceled
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "the transaction was voided"}
	case "pending", "processing":
		st.Status = payment.StatusProcessing
		if strings.EqualFold(t.VerificationMethod, "OTP") {
			st.Status = payment.StatusRequiresAction
			st.NextAction = &payment.NextAction{Type: payment.NextActionOTP}
			break
		}
		if pay == nil {
			break
		}
		if pay.Status == payment.StatusRequiresAction && pay.NextAction != nil {
			na := *pay.NextAction
			st.Status, st.NextAction = payment.StatusRequiresAction, &na
		} else if na, ok := p.actions.get(pay.ID, p.now()); ok {
			st.Status, st.NextAction = payment.StatusRequiresAction, &na
		}
	default:
		// An undocumented status: unknown, resolved by a later sync.
		st.Status = payment.StatusProcessing
	}
	return st
}

// forget drops what is remembered about a payment once it is final.
func (p *Provider) forget(paymentID string, st *payment.PaymentState) {
	if st != nil && st.Status.Final() {
		p.tokens.del(paymentID)
		p.actions.del(paymentID)
	}
}

// Start starts the payment. With a payment token (a linked wallet's access
// token) it charges the wallet through /api/v2/ewallet/payment: succeeded,
// or requires_action with an otp next action when the wallet asks for an
// OTP (finish it with Confirm). Without one it creates a gateway v2 payment
// (/api/v2/orders/payment) and returns requires_action with a redirect (the
// hosted page) or display_qr (QR/VA) next action.
//
// The orderId is OrderID(Payment.ID), so a retried Start hits AppotaPay's
// duplicate-order check (30) and is answered by querying the order.
func (p *Provider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	if err := p.ValidateCheckout(req); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "start", Code: "invalid_input", Err: err}
	}
	if req.PaymentToken != "" {
		return p.startEWallet(ctx, req)
	}
	return p.startGateway(ctx, req)
}

type ewalletPaymentRequest struct {
	OrderID   string `json:"orderId"`
	OrderInfo string `json:"orderInfo"`
	ExtraData string `json:"extraData"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Signature string `json:"signature"`
}

type transactionResponse struct {
	Transaction txnBody `json:"transaction"`
}

func (p *Provider) startEWallet(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	pay := req.Payment
	body := ewalletPaymentRequest{
		OrderID:   OrderID(pay.ID),
		OrderInfo: orderInfo(pay),
		ExtraData: pay.OrderID,
		Amount:    pay.Amount,
		Currency:  Currency,
	}
	body.Signature = SignEWalletPayment(p.cred.SecretKey, body.Amount, body.Currency, body.ExtraData, body.OrderID, body.OrderInfo)
	var resp transactionResponse
	ve, err := p.call(ctx, http.MethodPost, p.c.gatewayURL+"/api/v2/ewallet/payment", body, req.PaymentToken, &resp)
	if err != nil {
		p.logFailure("start", pay.ID, nil, err)
		return nil, transportError("start", err)
	}
	var st *payment.PaymentState
	if ve != nil {
		p.logFailure("start", pay.ID, ve, nil)
		st, err = p.startVendorError(ctx, pay, ve)
		if err != nil {
			return nil, err
		}
	} else {
		st = p.state(&resp.Transaction, pay)
	}
	if st.Status == payment.StatusRequiresAction {
		p.tokens.put(pay.ID, req.PaymentToken, p.now(), p.c.pendingTTL)
	}
	return st, nil
}

// startVendorError resolves a non-200 answer to a start: a duplicate is
// answered by the order's status, a decline is a failed state, the rest are
// errors (retryable for 34, 94, 99, 500 and undocumented codes).
func (p *Provider) startVendorError(ctx context.Context, pay *payment.Payment, ve *vendorError) (*payment.PaymentState, error) {
	if !ve.HasCode {
		return nil, ve.providerError("start", nil)
	}
	switch k := classify(ve.Code); k {
	case kindDuplicate, kindAlreadySucceeded:
		return p.Sync(ctx, pay)
	case kindDecline:
		return &payment.PaymentState{Status: payment.StatusFailed, Failure: failureFor(ve.Code, ve.Message)}, nil
	case kindExpired:
		return &payment.PaymentState{Status: payment.StatusExpired, Failure: failureFor(ve.Code, ve.Message)}, nil
	case kindUnknown, kindPending, kindInvalid, kindAuth, kindNotFound, kindWrongOTP, kindAlreadyRefunded,
		kindNotRefundable, kindTryLater:
		return nil, ve.providerError("start", nil)
	default:
		return nil, ve.providerError("start", nil)
	}
}

type gatewayRequest struct {
	Transaction      gatewayTxn        `json:"transaction"`
	PartnerReference gatewayPartnerRef `json:"partnerReference"`
}

type gatewayTxn struct {
	Amount        int64   `json:"amount"`
	Currency      string  `json:"currency"`
	BankCode      string  `json:"bankCode"`
	PaymentMethod string  `json:"paymentMethod"`
	Action        string  `json:"action"`
	Token         *string `json:"token"`
}

type gatewayPartnerRef struct {
	Order              gatewayOrder       `json:"order"`
	NotificationConfig notificationConfig `json:"notificationConfig"`
}

type gatewayOrder struct {
	ID        string `json:"id"`
	Info      string `json:"info"`
	ExtraData string `json:"extraData"`
}

type notificationConfig struct {
	NotifyURL            string `json:"notifyUrl"`
	RedirectURL          string `json:"redirectUrl"`
	DeeplinkURL          string `json:"deeplinkUrl"`
	InstallmentNotifyURL string `json:"installmentNotifyUrl"`
}

type gatewayResponse struct {
	Transaction txnBody `json:"transaction"`
	Payment     struct {
		URL         string  `json:"url"`
		QRCode      *qrCode `json:"qrCode"`
		DeepLinkURL string  `json:"deepLinkUrl"`
	} `json:"payment"`
}

type qrCode struct {
	URL     string     `json:"url"`
	Content string     `json:"content"`
	Expiry  flexString `json:"expiry"`
}

func (p *Provider) startGateway(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	pay := req.Payment
	notifyURL := req.NotifyURL
	if notifyURL == "" {
		notifyURL = p.c.defaultNotifyURL
	}
	if notifyURL == "" {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "start", Code: "invalid_input",
			Message: "AppotaPay needs a notifyUrl: configure the webhook base URL or WithDefaultNotifyURL",
			Err:     payment.MissingField("notify_url"),
		}
	}
	returnURL := pay.ReturnURL
	if returnURL == "" {
		returnURL = p.c.defaultReturnURL
	}
	method := p.gatewayMethod(pay)
	body := gatewayRequest{
		Transaction: gatewayTxn{
			Amount:        pay.Amount,
			Currency:      Currency,
			BankCode:      pay.Metadata[MetadataBankCode],
			PaymentMethod: method,
			Action:        "PAY",
		},
		PartnerReference: gatewayPartnerRef{
			Order: gatewayOrder{ID: OrderID(pay.ID), Info: orderInfo(pay), ExtraData: pay.OrderID},
			NotificationConfig: notificationConfig{
				NotifyURL:   notifyURL,
				RedirectURL: returnURL,
			},
		},
	}
	var resp gatewayResponse
	ve, err := p.call(ctx, http.MethodPost, p.c.gatewayURL+"/api/v2/orders/payment", body, "", &resp)
	if err != nil {
		p.logFailure("start", pay.ID, nil, err)
		return nil, transportError("start", err)
	}
	if ve != nil {
		p.logFailure("start", pay.ID, ve, nil)
		return p.startVendorError(ctx, pay, ve)
	}
	st := p.state(&resp.Transaction, nil)
	if st.Status != payment.StatusProcessing {
		return st, nil
	}
	// pending: the customer pays on the hosted page or by QR.
	na := payment.NextAction{Type: payment.NextActionRedirect, URL: safeURL(resp.Payment.URL)}
	if qr := resp.Payment.QRCode; qr != nil && qr.Content != "" && pay.Method == payment.MethodQR {
		na = payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: qr.Content, URL: na.URL}
		if exp, ok := parseExpiry(string(qr.Expiry)); ok {
			na.ExpiresAt = &exp
			st.ExpiresAt = &exp
		}
	}
	if na.URL == "" && na.QRCode == "" {
		// Nothing the customer can act on: leave it to sync.
		return st, nil
	}
	st.Status = payment.StatusRequiresAction
	st.NextAction = &na
	p.actions.put(pay.ID, na, p.now(), p.c.pendingTTL)
	return st, nil
}

// safeURL keeps only absolute http(s) URLs from the vendor.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return s
}

// parseExpiry reads a QR expiry: RFC 3339 or unix seconds.
func parseExpiry(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if t := parseTime(s); !t.IsZero() {
		return t, true
	}
	if n, err := payment.ParseDecimal(s, 0); err == nil && n > 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

type statusResponse struct {
	Transaction      txnBody `json:"transaction"`
	PartnerReference struct {
		Order gatewayOrder `json:"order"`
	} `json:"partnerReference"`
}

// queryOrder asks GET /api/v2/orders/transaction for an orderId.
func (p *Provider) queryOrder(ctx context.Context, orderID string) (*statusResponse, *vendorError, error) {
	q := url.Values{"referenceId": {orderID}, "type": {"PARTNER_ORDER_ID"}}
	var resp statusResponse
	ve, err := p.call(ctx, http.MethodGet, p.c.gatewayURL+"/api/v2/orders/transaction?"+q.Encode(), nil, "", &resp)
	if err != nil || ve != nil {
		return nil, ve, err
	}
	return &resp, nil, nil
}

// Sync asks AppotaPay for the payment's transaction, by its orderId (so it
// works even when the start answer was lost). Not found (36) is an error
// wrapping payment.ErrNotFound; 34, 94, 99 and 500 are retryable errors.
func (p *Provider) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	resp, ve, err := p.queryOrder(ctx, OrderID(pay.ID))
	if err != nil {
		p.logFailure("sync", pay.ID, nil, err)
		return nil, transportError("sync", err)
	}
	if ve != nil {
		p.logFailure("sync", pay.ID, ve, nil)
		return nil, ve.providerError("sync", nil)
	}
	st := p.state(&resp.Transaction, pay)
	p.forget(pay.ID, st)
	return st, nil
}

type confirmRequest struct {
	OrderID            string `json:"orderId"`
	VerificationMethod string `json:"verificationMethod"`
	VerificationCode   string `json:"verificationCode"`
	Signature          string `json:"signature"`
}

// ErrNoAccessToken is wrapped by Confirm when the wallet access token of the
// payment is no longer known (see WithAccessTokenFunc).
var ErrNoAccessToken = errors.New("appotapay: wallet access token not available")

// Confirm sends the customer's OTP for an e-wallet payment that asked for
// one (/api/v2/ewallet/payment/confirm). A wrong OTP (21) is an error
// wrapping a *payment.ValidationError for "otp" and leaves the payment
// waiting; too many wrong OTPs (39) fail it, an expired OTP (22) expires it.
func (p *Provider) Confirm(ctx context.Context, pay *payment.Payment, c *payment.Confirmation) (*payment.PaymentState, error) {
	if c == nil || c.OTP == "" {
		return nil, &payment.ProviderError{Provider: Name, Op: "confirm", Code: "invalid_input", Err: payment.MissingField("otp")}
	}
	if len(c.OTP) > 10 || !isAlphanumeric(c.OTP) {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "confirm", Code: "invalid_input",
			Err: payment.InvalidField("otp", "must be 1 to 10 letters or digits"),
		}
	}
	token := c.PaymentToken
	if token == "" {
		var err error
		if token, err = p.accessToken(ctx, pay); err != nil {
			return nil, &payment.ProviderError{Provider: Name, Op: "confirm", Code: "no_access_token", Err: err}
		}
	}
	body := confirmRequest{
		OrderID:            OrderID(pay.ID),
		VerificationMethod: "OTP",
		VerificationCode:   c.OTP,
		Signature:          SignEWalletConfirm(p.cred.SecretKey, OrderID(pay.ID), c.OTP),
	}
	var resp transactionResponse
	ve, err := p.call(ctx, http.MethodPost, p.c.gatewayURL+"/api/v2/ewallet/payment/confirm", body, token, &resp)
	if err != nil {
		p.logFailure("confirm", pay.ID, nil, err)
		return nil, transportError("confirm", err)
	}
	if ve != nil {
		p.logFailure("confirm", pay.ID, ve, nil)
		return p.confirmVendorError(ctx, pay, ve)
	}
	st := p.state(&resp.Transaction, pay)
	p.forget(pay.ID, st)
	return st, nil
}

func (p *Provider) confirmVendorError(ctx context.Context, pay *payment.Payment, ve *vendorError) (*payment.PaymentState, error) {
	if !ve.HasCode {
		return nil, ve.providerError("confirm", nil)
	}
	var st *payment.PaymentState
	switch k := classify(ve.Code); k {
	case kindWrongOTP:
		return nil, ve.providerError("confirm", payment.InvalidField("otp", codeMessage(ve.Code)))
	case kindAlreadySucceeded, kindDuplicate:
		return p.Sync(ctx, pay)
	case kindDecline:
		st = &payment.PaymentState{Status: payment.StatusFailed, Failure: failureFor(ve.Code, ve.Message)}
	case kindExpired:
		st = &payment.PaymentState{Status: payment.StatusExpired, Failure: failureFor(ve.Code, ve.Message)}
	case kindUnknown, kindPending, kindInvalid, kindAuth, kindNotFound, kindAlreadyRefunded, kindNotRefundable, kindTryLater:
		return nil, ve.providerError("confirm", nil)
	default:
		return nil, ve.providerError("confirm", nil)
	}
	p.forget(pay.ID, st)
	return st, nil
}

func (p *Provider) accessToken(ctx context.Context, pay *payment.Payment) (string, error) {
	if p.c.accessTokenFunc != nil {
		tok, err := p.c.accessTokenFunc(ctx, pay)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoAccessToken, err)
		}
		if tok != "" {
			return tok, nil
		}
	}
	if tok, ok := p.tokens.get(pay.ID, p.now()); ok {
		return tok, nil
	}
	return "", fmt.Errorf("%w: %w", ErrNoAccessToken, payment.ErrInvalidState)
}

// logFailure logs a failed call without secrets: op, payment id, the
// vendor code or the transport error.
func (p *Provider) logFailure(op, id string, ve *vendorError, err error) {
	fields := []zap.Field{zap.String("provider", Name), zap.String("op", op), zap.String("id", id)}
	if ve != nil {
		fields = append(fields, zap.Int("http_status", ve.HTTPStatus), zap.Int("code", ve.Code),
			zap.Bool("retryable", ve.retryable()))
	}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	p.c.logger.Warn("appotapay call failed", fields...)
}
