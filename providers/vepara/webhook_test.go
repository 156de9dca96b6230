package vepara_test

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// paidWebhook makes a sale and returns its payment and the sale webhook the
// simulator sent.
func paidWebhook(t *testing.T, e *env, req *payment.StartRequest) (*payment.Payment, *payment.WebhookRequest) {
	t.Helper()
	pay, _ := start(t, e.p, req)
	wr, err := e.rec.Next(t.Context(), pay.ID)
	require.NoError(t, err)
	return pay, wr
}

func form(t *testing.T, wr *payment.WebhookRequest) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(wr.Body))
	require.NoError(t, err)
	return v
}

func withForm(wr *payment.WebhookRequest, f url.Values) *payment.WebhookRequest {
	return &payment.WebhookRequest{Header: wr.Header.Clone(), Body: []byte(f.Encode())}
}

func TestWebhookOfAPaidSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, wr := paidWebhook(t, e, marketplaceCheckout())
	f := form(t, wr)
	require.Equal(t, pay.ID, f.Get("invoice_id"))
	require.Equal(t, "1", f.Get("payment_status"))
	require.Equal(t, "450803******4509", f.Get("credit_card_no"), "the webhook carries the card only masked")

	before := e.sim.Calls("/api/checkstatus")
	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, before+1, e.sim.Calls("/api/checkstatus"), "every webhook is confirmed with checkstatus")
	require.Nil(t, res.Ack, "the platform gets an empty 200")
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, pay.ID, ev.PaymentID)
	require.Equal(t, pay.ProviderReference, ev.ProviderReference)
	require.NotEmpty(t, ev.Key)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 21000, Currency: "TRY"}, ev.Payment.Amount)

	again, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, ev.Key, again.Events[0].Key, "a redelivery has the same key")
}

func TestWebhookOfADeclinedSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, wr := paidWebhook(t, e, cardCheckout(veparasim.CardInsufficientFunds, 5000))
	require.Equal(t, "0", form(t, wr).Get("payment_status"))
	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	ev := res.Events[0]
	require.Equal(t, pay.ID, ev.PaymentID)
	require.Equal(t, payment.StatusFailed, ev.Payment.Status)
	require.Equal(t, payment.FailureInsufficientFunds, ev.Payment.Failure.Code)
	require.Nil(t, ev.Payment.Amount)
}

func TestWebhookReportsTheCurrentStateAfterACapture(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := preAuthCheckout(3000)
	pay, wr := paidWebhook(t, e, req)
	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusAuthorized, res.Events[0].Payment.Status)
	_, err = e.p.Capture(t.Context(), pay, 0)
	require.NoError(t, err)
	late, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err, "a late redelivery still verifies")
	require.Equal(t, payment.StatusSucceeded, late.Events[0].Payment.Status, "the state is checkstatus's, not the old callback's")
	require.NotEqual(t, res.Events[0].Key, late.Events[0].Key, "a different state is a different event")
}

func TestWebhookTampering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, wr := paidWebhook(t, e, marketplaceCheckout())
	other, otherWR := paidWebhook(t, e, cardCheckout(veparasim.CardApprove, 500))
	orig := form(t, wr)
	secret := e.sim.AppSecret()
	orderID := orig.Get("order_no")

	forged := func(status, total, invoice, order, currency string) string {
		return veparasim.SealHashKey(secret, "0123456789abcdef", "f00d", strings.Join([]string{status, total, invoice, order, currency}, "|"))
	}
	tests := []struct {
		name   string
		change func(url.Values)
	}{
		{"no hash_key", func(f url.Values) { f.Del("hash_key") }},
		{"hash_key of another secret", func(f url.Values) {
			f.Set("hash_key", veparasim.SealHashKey("another-secret", "0123456789abcdef", "f00d", "1|210|"+pay.ID+"|"+orderID+"|TRY"))
		}},
		{"hash_key of another payment", func(f url.Values) { f.Set("hash_key", form(t, otherWR).Get("hash_key")) }},
		{"invoice id changed", func(f url.Values) { f.Set("invoice_id", other.ID) }},
		{"order number changed", func(f url.Values) { f.Set("order_no", "1") }},
		{"payment_status flipped", func(f url.Values) { f.Set("payment_status", "0") }},
		{"vepara_status emptied", func(f url.Values) { f.Set("vepara_status", "") }},
		{"hash_key with four fields", func(f url.Values) {
			f.Set("hash_key", veparasim.SealHashKey(secret, "0123456789abcdef", "f00d", "1|210|"+pay.ID+"|"+orderID))
		}},
		{"hash_key with an unknown status", func(f url.Values) { f.Set("hash_key", forged("2", "210", pay.ID, orderID, "TRY")) }},
		{"hash_key with a malformed total", func(f url.Values) { f.Set("hash_key", forged("1", "2,10", pay.ID, orderID, "TRY")) }},
		{"currency the provider does not take", func(f url.Values) { f.Set("hash_key", forged("1", "210", pay.ID, orderID, "USD")) }},
		{"unknown currency", func(f url.Values) { f.Set("hash_key", forged("1", "210", pay.ID, orderID, "XXZ")) }},
		// Genuine-looking hash_keys (the secret leaked, or garbage that
		// decrypted) that checkstatus does not confirm.
		{"forged total", func(f url.Values) { f.Set("hash_key", forged("1", "1", pay.ID, orderID, "TRY")) }},
		{"forged order id", func(f url.Values) {
			f.Set("order_no", "999")
			f.Set("hash_key", forged("1", "210", pay.ID, "999", "TRY"))
		}},
		{"forged unknown invoice", func(f url.Values) {
			f.Set("invoice_id", "pay_UNKNOWN")
			f.Set("hash_key", forged("1", "210", "pay_UNKNOWN", orderID, "TRY"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := form(t, wr)
			tt.change(f)
			res, err := e.p.ParseWebhook(t.Context(), withForm(wr, f))
			require.ErrorIs(t, err, payment.ErrInvalidSignature)
			require.ErrorIs(t, err, vepara.ErrInvalidHashKey)
			require.Nil(t, res)
		})
	}
}

func TestWebhookFieldsOutsideTheHashChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, wr := paidWebhook(t, e, marketplaceCheckout())
	want, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	f := form(t, wr)
	f.Set("status_description", "anything")
	f.Set("credit_card_no", "000000******0000")
	f.Set("error", "made up")
	got, err := e.p.ParseWebhook(t.Context(), withForm(wr, f))
	require.NoError(t, err)
	require.Equal(t, want, got, "what the hash and checkstatus do not cover never reaches the events")
}

func TestWebhookAsJSONAndWithSipayFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, wr := paidWebhook(t, e, cardCheckout(veparasim.CardApprove, 100))
	f := form(t, wr)
	m := map[string]any{}
	for k := range f {
		m[k] = f.Get(k)
	}
	m["payment_status"] = 1 // a number in JSON
	m["sipay_status"] = "1"
	delete(m, "vepara_status")
	m["order_id"] = m["order_no"]
	delete(m, "order_no")
	body, err := json.Marshal(m)
	require.NoError(t, err)
	res, err := e.p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: body})
	require.NoError(t, err)
	require.Equal(t, pay.ID, res.Events[0].PaymentID)

	// Some senders do not encode "+": it arrives as a space.
	raw := strings.ReplaceAll(f.Encode(), "%2B", "+")
	res, err = e.p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(raw)})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)

	// A query string instead of a body.
	q, err := url.ParseQuery(f.Encode())
	require.NoError(t, err)
	res, err = e.p.ParseWebhook(t.Context(), &payment.WebhookRequest{Query: q})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
}

func TestWebhookWhenCheckstatusIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, wr := paidWebhook(t, e, cardCheckout(veparasim.CardApprove, 100))
	e.sim.InjectFault(veparasim.Fault{Path: "/api/checkstatus", Kind: veparasim.FaultServerError})
	_, err := e.p.ParseWebhook(t.Context(), wr)
	require.Error(t, err)
	require.NotErrorIs(t, err, payment.ErrInvalidSignature, "a genuine webhook is not refused because checkstatus is down")
	require.True(t, payment.IsRetryable(err))
	_, err = e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err, "the redelivery goes through")
}

func TestVerifySaleWebhookWithoutTheNetwork(t *testing.T) {
	t.Parallel()
	secret := veparasim.DefaultAppSecret
	hk := veparasim.SealHashKey(secret, "0123456789abcdef", "1a2b", "1|22.1|INV-7|162435932934307|TRY")
	f := url.Values{
		"invoice_id": {"INV-7"}, "order_no": {"162435932934307"}, "payment_status": {"1"}, "hash_key": {hk},
		"transaction_type": {"Auth"},
	}
	w, err := vepara.VerifySaleWebhook(secret, &payment.WebhookRequest{Body: []byte(f.Encode())})
	require.NoError(t, err)
	require.Equal(t, &vepara.SaleWebhook{
		Success: true, Total: 2210, Currency: "TRY", InvoiceID: "INV-7",
		OrderID: "162435932934307", TransactionType: "Auth",
	}, w)

	hk = veparasim.SealHashKey(secret, "0123456789abcdef", "1a2b", "Completed|10|INV-7|5|TRY")
	f.Set("hash_key", hk)
	f.Set("order_no", "5")
	w, err = vepara.VerifySaleWebhook(secret, &payment.WebhookRequest{Body: []byte(f.Encode())})
	require.NoError(t, err, "the recurring webhook's Completed reads as success")
	require.True(t, w.Success)
}

// FuzzParseWebhook feeds ParseWebhook (and its network-free verifier)
// mutations of genuine sale webhooks: a paid and a declined one from the
// simulator, the notes' field list with Sipay's names, and a JSON body.
func FuzzParseWebhook(f *testing.F) {
	sim := veparasim.New()
	srv := httptest.NewServer(sim)
	f.Cleanup(srv.Close)
	f.Cleanup(sim.Close)
	p, err := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(), MerchantKey: sim.MerchantKey()},
		vepara.WithBaseURL(srv.URL))
	require.NoError(f, err)
	for i, card := range []string{veparasim.CardApprove, veparasim.CardDecline} {
		req := cardCheckout(card, int64(21000+i))
		st, err := p.Start(f.Context(), req)
		require.NoError(f, err)
		status := "1"
		if st.Status == payment.StatusFailed {
			status = "0"
		}
		total := payment.FormatShortest(req.Payment.Amount, 2)
		hk := veparasim.SealHashKey(sim.AppSecret(), "0123456789abcdef", "beef",
			strings.Join([]string{status, total, req.Payment.ID, st.ProviderReference, "TRY"}, "|"))
		fields := url.Values{
			"vepara_status": {status}, "order_no": {st.ProviderReference}, "invoice_id": {req.Payment.ID},
			"status_code": {"100"}, "status_description": {"Payment process successful"}, "vepara_payment_method": {"1"},
			"credit_card_no": {"450803******4509"}, "transaction_type": {"Auth"}, "payment_status": {status},
			"payment_method": {"1"}, "error_code": {"100"}, "error": {""}, "status": {"Completed"}, "hash_key": {hk},
		}
		f.Add(fields.Encode())
		sipay := url.Values{
			"sipay_status": {status}, "order_id": {st.ProviderReference}, "invoice_id": {req.Payment.ID},
			"sipay_payment_method": {"1"}, "payment_status": {status}, "hash_key": {hk},
		}
		f.Add(sipay.Encode())
		js, err := json.Marshal(map[string]string{
			"invoice_id": req.Payment.ID, "order_no": st.ProviderReference,
			"payment_status": status, "hash_key": hk,
		})
		require.NoError(f, err)
		f.Add(string(js))
	}
	f.Add("")
	f.Add("hash_key=%3A%3A&invoice_id=x&order_no=y")
	f.Fuzz(func(t *testing.T, body string) {
		req := &payment.WebhookRequest{Body: []byte(body)}
		if w, err := vepara.VerifySaleWebhook(sim.AppSecret(), req); err == nil {
			require.NotNil(t, w)
			require.NotEmpty(t, w.InvoiceID)
		} else {
			require.ErrorIs(t, err, payment.ErrInvalidSignature)
		}
		res, err := p.ParseWebhook(t.Context(), req)
		if err == nil {
			require.NotNil(t, res)
			require.Len(t, res.Events, 1)
			require.NotEmpty(t, res.Events[0].Key)
		}
	})
}
