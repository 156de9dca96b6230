package httpx_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

type listBody[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func TestCheckoutQRAndPaymentRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)

	r := e.do(req{method: "POST", path: "/checkout", body: qrCheckout("482500007436", 100000)})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	require.Empty(t, r.Header.Get("Idempotent-Replayed"))
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))
	var raw map[string]any
	r.decode(t, &raw)
	require.Equal(t, "payment", raw["object"])
	require.Contains(t, raw, "failure", "failure is always present (null)")
	p := r.payment(t)
	require.True(t, strings.HasPrefix(p.ID, "pay_"))
	require.Equal(t, payment.StatusRequiresAction, p.Status)
	require.Equal(t, "sandbox", p.Provider)
	require.Equal(t, payment.MethodQR, p.Method)
	require.Equal(t, int64(100000), p.Amount)
	require.Equal(t, "THB", p.Currency)
	require.Equal(t, map[string]string{"cart": "c_991"}, p.Metadata)
	require.NotNil(t, p.NextAction)
	require.Equal(t, payment.NextActionDisplayQR, p.NextAction.Type)
	require.NotEmpty(t, p.NextAction.QRCode)

	// GET /payments/{id}, plain and synced.
	r = e.do(req{method: "GET", path: "/payments/" + p.ID})
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, p.ID, r.payment(t).ID)
	r = e.do(req{method: "GET", path: "/payments/" + p.ID + "?sync=true"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, payment.StatusRequiresAction, r.payment(t).Status)
	e.do(req{method: "GET", path: "/payments/" + p.ID + "?sync=maybe"}).requireError(t, 400, "INVALID_INPUT", "sync")

	// The customer pays; the sandbox calls back through POST /webhooks/sandbox.
	require.NoError(t, e.sbx.Pay(context.Background(), p.ID))
	r = e.do(req{method: "GET", path: "/payments/" + p.ID})
	require.Equal(t, payment.StatusSucceeded, r.payment(t).Status)

	// GET /payments?order_id=&provider=
	r = e.do(req{method: "GET", path: "/payments?order_id=482500007436&provider=sandbox"})
	require.Equal(t, http.StatusOK, r.Status)
	var ps listBody[payment.Payment]
	r.decode(t, &ps)
	require.Equal(t, "list", ps.Object)
	require.False(t, ps.HasMore)
	require.Len(t, ps.Data, 1)
	require.Equal(t, p.ID, ps.Data[0].ID)
	r = e.do(req{method: "GET", path: "/payments?order_id=nothing-here"})
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `{"object":"list","data":[],"has_more":false}`, string(r.Body))
	e.do(req{method: "GET", path: "/payments"}).requireError(t, 400, "MISSING_FIELD", "order_id")

	// GET /payments/{id}/events
	r = e.do(req{method: "GET", path: "/payments/" + p.ID + "/events"})
	require.Equal(t, http.StatusOK, r.Status)
	var evs listBody[payment.Event]
	r.decode(t, &evs)
	require.Equal(t, "list", evs.Object)
	var types []payment.EventType
	for _, ev := range evs.Data {
		types = append(types, ev.Type)
	}
	require.Contains(t, types, payment.EventPaymentCreated)
	require.Contains(t, types, payment.EventPaymentSucceeded)

	// POST /payments/{id}/refunds, partial then the rest (no body).
	r = e.do(req{method: "POST", path: "/payments/" + p.ID + "/refunds", body: map[string]any{"amount": 5000, "reason": "customer request"}})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var re payment.Refund
	r.decode(t, &re)
	require.Equal(t, "refund", re.Object)
	require.True(t, strings.HasPrefix(re.ID, "re_"))
	require.Equal(t, p.ID, re.PaymentID)
	require.Equal(t, int64(5000), re.Amount)
	require.Equal(t, "THB", re.Currency)
	require.Equal(t, payment.RefundSucceeded, re.Status)
	require.Equal(t, "customer request", re.Reason)
	r = e.do(req{method: "GET", path: "/payments/" + p.ID})
	require.Equal(t, payment.StatusPartiallyRefunded, r.payment(t).Status)
	require.Equal(t, int64(5000), r.payment(t).AmountRefunded)

	r = e.do(req{method: "POST", path: "/payments/" + p.ID + "/refunds"})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	r.decode(t, &re)
	require.Equal(t, int64(95000), re.Amount, "no amount refunds what is left")
	r = e.do(req{method: "GET", path: "/payments/" + p.ID})
	require.Equal(t, payment.StatusRefunded, r.payment(t).Status)
}

func TestCancelRoute(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.checkout(qrCheckout("cancel-1", 2000))
	r := e.do(req{method: "POST", path: "/payments/" + p.ID + "/cancel"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, payment.StatusCanceled, r.payment(t).Status)

	paid := e.paidPayment("cancel-2", 2000)
	e.do(req{method: "POST", path: "/payments/" + paid.ID + "/cancel"}).requireError(t, 409, "INVALID_STATE", "")
	e.do(req{method: "POST", path: "/payments/pay_nope/cancel"}).requireError(t, 404, "NOT_FOUND", "")
}

func TestCaptureRoute(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := cardCheckout("cap-1", sandbox.CardVisa)
	body["capture_method"] = "manual"
	p := e.checkout(body)
	require.Equal(t, payment.StatusAuthorized, p.Status)

	e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture", body: `{"amount": 0}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture", body: `{"amount": 1.5}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture", body: `{"amount": 999999999}`}).requireError(t, 400, "INVALID_INPUT", "amount")
	e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture", body: `{"amount": 5, "tip": 1}`}).requireError(t, 400, "INVALID_INPUT", "tip")

	r := e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture", body: map[string]any{"amount": 60000}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	got := r.payment(t)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.Equal(t, int64(60000), got.AmountCaptured)

	e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture"}).requireError(t, 409, "INVALID_STATE", "")

	// Without a body everything is captured.
	body = cardCheckout("cap-2", sandbox.CardVisa)
	body["capture_method"] = "manual"
	p = e.checkout(body)
	r = e.do(req{method: "POST", path: "/payments/" + p.ID + "/capture"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, int64(100000), r.payment(t).AmountCaptured)
}

func TestConfirmRoute(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := cardCheckout("otp-1", "")
	delete(body, "card")
	body["payment_token"] = sandbox.TokenOTP
	p := e.checkout(body)
	require.Equal(t, payment.StatusRequiresAction, p.Status)
	require.Equal(t, payment.NextActionOTP, p.NextAction.Type)

	e.do(req{method: "POST", path: "/payments/" + p.ID + "/confirm"}).requireError(t, 400, "INVALID_INPUT", "body")
	e.do(req{method: "POST", path: "/payments/" + p.ID + "/confirm", body: `{}`}).requireError(t, 400, "MISSING_FIELD", "otp")
	e.do(req{method: "POST", path: "/payments/" + p.ID + "/confirm", body: `{"otp": 123456}`}).requireError(t, 400, "INVALID_INPUT", "otp")

	r := e.do(req{method: "POST", path: "/payments/" + p.ID + "/confirm", body: map[string]string{"otp": sandbox.OTPCode}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.Equal(t, payment.StatusSucceeded, r.payment(t).Status)

	e.do(req{method: "POST", path: "/payments/" + p.ID + "/confirm", body: map[string]string{"otp": sandbox.OTPCode}}).
		requireError(t, 409, "INVALID_STATE", "")
}

func TestPayoutRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := map[string]any{
		"provider": "sandbox", "order_id": "wd-1001", "amount": 100000, "currency": "THB",
		"bank_account": map[string]string{"bank_code": "KBANK", "number": "1234567890", "name": "John Doe"},
	}
	r := e.do(req{method: "POST", path: "/payouts", body: body, header: hdr("Idempotency-Key", "po-key-1")})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var po payment.Payout
	r.decode(t, &po)
	require.Equal(t, "payout", po.Object)
	require.True(t, strings.HasPrefix(po.ID, "po_"))
	require.Equal(t, int64(100000), po.Amount)
	require.Equal(t, "KBANK", po.BankAccount.BankCode)
	require.Equal(t, int64(1000), po.Fee, "the sandbox charges 1%")

	replay := e.do(req{method: "POST", path: "/payouts", body: body, header: hdr("Idempotency-Key", "po-key-1")})
	require.Equal(t, http.StatusOK, replay.Status)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(r.Body), string(replay.Body))

	r = e.do(req{method: "GET", path: "/payouts/" + po.ID})
	require.Equal(t, http.StatusOK, r.Status)
	require.NoError(t, e.sbx.CompletePayout(context.Background(), po.ID))
	r = e.do(req{method: "GET", path: "/payouts/" + po.ID + "?sync=true"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r.decode(t, &po)
	require.Equal(t, payment.PayoutSucceeded, po.Status)

	e.do(req{method: "GET", path: "/payouts/po_nope"}).requireError(t, 404, "NOT_FOUND", "")
	delete(body, "bank_account")
	body["order_id"] = "wd-1002"
	e.do(req{method: "POST", path: "/payouts", body: body}).requireError(t, 400, "MISSING_FIELD", "bank_account")
	delete(body, "amount")
	body["bank_account"] = map[string]string{"bank_code": "KBANK", "number": "1", "name": "J"}
	e.do(req{method: "POST", path: "/payouts", body: body}).requireError(t, 400, "MISSING_FIELD", "amount")
}

func TestProviderRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)

	r := e.do(req{method: "GET", path: "/providers"})
	require.Equal(t, http.StatusOK, r.Status)
	var ps listBody[payment.ProviderInfo]
	r.decode(t, &ps)
	require.Equal(t, "list", ps.Object)
	require.Len(t, ps.Data, 1)
	require.Equal(t, "sandbox", ps.Data[0].Name)
	require.Equal(t, "provider", ps.Data[0].Object)
	require.Contains(t, ps.Data[0].Capabilities, "refund")

	r = e.do(req{method: "GET", path: "/providers/sandbox/balance"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var bal httpx.BalanceResponse
	r.decode(t, &bal)
	require.Equal(t, "balance", bal.Object)
	require.Equal(t, "sandbox", bal.Provider)
	require.Contains(t, bal.Available, payment.Money{Amount: 10_000_000, Currency: "THB"})
	require.Len(t, bal.Pending, len(bal.Available))
	e.do(req{method: "GET", path: "/providers/nope/balance"}).requireError(t, 404, "NOT_FOUND", "")

	r = e.do(req{method: "GET", path: "/providers/sandbox/quote?amount=100000&currency=THB&method=card"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var q struct {
		Object       string `json:"object"`
		Provider     string `json:"provider"`
		Method       string `json:"method"`
		Amount       int64  `json:"amount"`
		Currency     string `json:"currency"`
		Fee          int64  `json:"fee"`
		CustomerPays int64  `json:"customer_pays"`
	}
	r.decode(t, &q)
	require.Equal(t, "quote", q.Object)
	require.Equal(t, "sandbox", q.Provider)
	require.Equal(t, "card", q.Method)
	require.Equal(t, int64(100000), q.Amount)
	require.Equal(t, int64(2950), q.Fee, "2.95%% of 1,000.00")

	for _, bad := range []string{"1.5", "1e3", "-5", "+5", "abc", "0", "99999999999999999999"} {
		e.do(req{method: "GET", path: "/providers/sandbox/quote?currency=THB&amount=" + bad}).requireError(t, 400, "INVALID_INPUT", "amount")
	}
	e.do(req{method: "GET", path: "/providers/sandbox/quote?currency=THB"}).requireError(t, 400, "MISSING_FIELD", "amount")
	e.do(req{method: "GET", path: "/providers/sandbox/quote?amount=5"}).requireError(t, 400, "MISSING_FIELD", "currency")
	e.do(req{method: "GET", path: "/providers/sandbox/quote?amount=5&currency=THB&method=cash"}).requireError(t, 400, "INVALID_INPUT", "method")
	e.do(req{method: "GET", path: "/providers/nope/quote?amount=5&currency=THB"}).requireError(t, 404, "NOT_FOUND", "")
}

func TestWebhookRoute(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.checkout(qrCheckout("wh-1", 1500))

	// A valid callback, posted by hand: no API key, the provider's ack.
	wr, err := e.sbx.WebhookFor(p.ID, payment.StatusSucceeded)
	require.NoError(t, err)
	h := wr.Header.Clone()
	r := e.do(req{method: "POST", path: "/webhooks/sandbox", body: wr.Body, header: h, noKey: true})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))
	got := e.do(req{method: "GET", path: "/payments/" + p.ID}).payment(t)
	require.Equal(t, payment.StatusSucceeded, got.Status)

	// The duplicate is acknowledged the same way and changes nothing.
	evsBefore := e.do(req{method: "GET", path: "/payments/" + p.ID + "/events"})
	r = e.do(req{method: "POST", path: "/webhooks/sandbox", body: wr.Body, header: h, noKey: true})
	require.Equal(t, http.StatusOK, r.Status)
	evsAfter := e.do(req{method: "GET", path: "/payments/" + p.ID + "/events"})
	require.JSONEq(t, string(evsBefore.Body), string(evsAfter.Body))

	e.do(req{method: "POST", path: "/webhooks/nope", body: wr.Body, header: h, noKey: true}).requireError(t, 404, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/webhooks/sandbox", noKey: true}).requireError(t, 405, "INVALID_INPUT", "")
}

func TestWebhookAckWrittenExactly(t *testing.T) {
	t.Parallel()
	ackProv := &ackProvider{fakeProvider: fakeProvider{name: "acker"}}
	e := setup(t, withPayment(payment.WithProvider(ackProv)))
	r := e.do(req{
		method: "POST", path: "/webhooks/acker?sig=abc", body: "a=1&b=2", noKey: true,
		header: hdr("Content-Type", "application/x-www-form-urlencoded", "X-Vendor-Sig", "s1"),
	})
	require.Equal(t, http.StatusAccepted, r.Status)
	require.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
	require.Equal(t, "SUCCESS", string(r.Body))

	got := ackProv.last.Load()
	require.NotNil(t, got)
	require.Equal(t, "a=1&b=2", string(got.Body))
	require.Equal(t, "s1", got.Header.Get("X-Vendor-Sig"))
	require.Equal(t, "abc", got.Query.Get("sig"))
	require.NotEmpty(t, got.RemoteAddr)
}

// ackProvider acknowledges every callback with a 202 "SUCCESS" in plain
// text, and keeps the last request.
type ackProvider struct {
	fakeProvider
	last atomic.Pointer[payment.WebhookRequest]
}

func (a *ackProvider) ParseWebhook(_ context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	a.last.Store(req)
	return &payment.WebhookResult{Ack: &payment.WebhookAck{
		StatusCode: http.StatusAccepted, ContentType: "text/plain; charset=utf-8", Body: []byte("SUCCESS"),
	}}, nil
}

func TestDeclinedCardIsNotAnError(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do(req{method: "POST", path: "/checkout", body: cardCheckout("decl-1", sandbox.CardDeclined)})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	p := r.payment(t)
	require.Equal(t, payment.StatusFailed, p.Status)
	require.NotNil(t, p.Failure)
	require.Equal(t, payment.FailureCardDeclined, p.Failure.Code)
	require.NotNil(t, p.Card)
	require.Equal(t, "0002", p.Card.Last4)
	require.NotContains(t, string(r.Body), sandbox.CardDeclined)
	require.NotContains(t, string(r.Body), `"cvv"`)

	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	require.JSONEq(t, `{"brand":"visa","last4":"0002"}`, string(raw["card"]))
}
