package payplus_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
)

const testKey = "test_api_key"

// seedTime is the documentation's callback timestamp.
var seedTime = time.Unix(1640995380, 0).UTC()

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func seedProvider(t testing.TB, opts ...payplus.Option) *payplus.Provider {
	t.Helper()
	p, err := payplus.New(payplus.Config{BaseURL: "https://pay.example/api/v1", MerchantID: "your_merchant_id", APIKey: testKey},
		append([]payplus.Option{payplus.WithClock(fixedClock{seedTime})}, opts...)...)
	require.NoError(t, err)
	return p
}

// seedFields are the documentation's callback fields, without the
// signature.
func seedFields() payplus.Params {
	return payplus.Params{
		"order_no":        "DP1640995200ABC123",
		"agent_order_no":  "unique_transaction_id",
		"type":            "deposit",
		"amount":          json.Number("1000"),
		"fee":             json.Number("5"),
		"transfer_amount": json.Number("995"),
		"actual_amount":   json.Number("995"),
		"status":          "completed",
		"timestamp":       "1640995380",
	}
}

// signedBody signs fields with key and returns the JSON body.
func signedBody(t testing.TB, fields payplus.Params, key string) []byte {
	t.Helper()
	sig, err := payplus.Sign(fields, key)
	require.NoError(t, err)
	return bodyWith(t, fields, sig)
}

func bodyWith(t testing.TB, fields payplus.Params, sig string) []byte {
	t.Helper()
	m := map[string]any{}
	for k, v := range fields {
		m[k] = v
	}
	m["signature"] = sig
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func webhook(body []byte) *payment.WebhookRequest {
	return &payment.WebhookRequest{
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   body,
	}
}

func TestParseWebhookSeedSample(t *testing.T) {
	t.Parallel()
	p := seedProvider(t)
	res, err := p.ParseWebhook(t.Context(), webhook(signedBody(t, seedFields(), testKey)))
	require.NoError(t, err)
	require.Equal(t, &payment.WebhookAck{StatusCode: 200, ContentType: "application/json", Body: []byte(`{"code":200,"message":"Success"}`)}, res.Ack)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, "DP1640995200ABC123", ev.ProviderReference)
	require.Equal(t, "unique_transaction_id", ev.OrderID, "an agent order number that is not a paykit id is the order id")
	require.Empty(t, ev.PaymentID)
	require.Equal(t, seedTime, ev.OccurredAt)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, ev.Payment.Amount,
		"actual_amount equal to transfer_amount is paid in full")
	require.Empty(t, ev.Payment.Flags)
}

func TestParseWebhookUnderpaid(t *testing.T) {
	t.Parallel()
	p := seedProvider(t)
	tests := []struct {
		name   string
		edit   func(payplus.Params)
		amount int64
		flags  []string
	}{
		{"actual below transfer amount", func(f payplus.Params) { f["actual_amount"] = json.Number("990.5") }, 100000 - 450, []string{payment.FlagUnderpaid}},
		{"actual zero", func(f payplus.Params) { f["actual_amount"] = json.Number("0") }, 100000 - 99500, []string{payment.FlagUnderpaid}},
		{"no transfer amount: due is amount minus fee", func(f payplus.Params) {
			delete(f, "transfer_amount")
			f["actual_amount"] = json.Number("994.99")
		}, 99999, []string{payment.FlagUnderpaid}},
		{"no transfer amount nor fee: due is amount", func(f payplus.Params) {
			delete(f, "transfer_amount")
			delete(f, "fee")
			f["actual_amount"] = json.Number("995")
		}, 99500, []string{payment.FlagUnderpaid}},
		{"amounts as strings", func(f payplus.Params) {
			f["amount"], f["fee"], f["transfer_amount"], f["actual_amount"] = "1000.00", "5.00", "995.00", "995.00"
		}, 100000, nil},
		{"overpaid is paid", func(f payplus.Params) { f["actual_amount"] = json.Number("1000") }, 100000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := seedFields()
			tt.edit(f)
			res, err := p.ParseWebhook(t.Context(), webhook(signedBody(t, f, testKey)))
			require.NoError(t, err)
			st := res.Events[0].Payment
			require.Equal(t, payment.StatusSucceeded, st.Status)
			require.Equal(t, &payment.Money{Amount: tt.amount, Currency: "THB"}, st.Amount)
			require.Equal(t, tt.flags, st.Flags)
		})
	}
}

func TestParseWebhookStatuses(t *testing.T) {
	t.Parallel()
	p := seedProvider(t)
	tests := []struct {
		typ, status string
		payment     payment.Status
		payout      payment.PayoutStatus
		none        bool
	}{
		{typ: "deposit", status: "pending", none: true},
		{typ: "deposit", status: "completed", payment: payment.StatusSucceeded},
		{typ: "deposit", status: "failed", payment: payment.StatusFailed},
		{typ: "deposit", status: "expired", payment: payment.StatusExpired},
		{typ: "deposit", status: "cancelled", payment: payment.StatusCanceled},
		{typ: "withdrawal", status: "pending", payout: payment.PayoutProcessing},
		{typ: "withdrawal", status: "processing", payout: payment.PayoutProcessing},
		{typ: "withdrawal", status: "completed", payout: payment.PayoutSucceeded},
		{typ: "withdrawal", status: "failed", payout: payment.PayoutFailed},
		{typ: "withdrawal", status: "expired", payout: payment.PayoutFailed},
		{typ: "withdraw", status: "completed", payout: payment.PayoutSucceeded},
	}
	for _, tt := range tests {
		f := seedFields()
		f["type"], f["status"] = tt.typ, tt.status
		f["agent_order_no"] = "pay_01JD3ABCDEFGHJKMNPQRSTVWXY"
		if tt.typ != "deposit" {
			f["agent_order_no"] = "po_01JD3ABCDEFGHJKMNPQRSTVWXY"
		}
		res, err := p.ParseWebhook(t.Context(), webhook(signedBody(t, f, testKey)))
		require.NoError(t, err, "%s %s", tt.typ, tt.status)
		requireExactly(t, payplus.AckBody, string(res.Ack.Body))
		if tt.none {
			require.Empty(t, res.Events, "a pending deposit callback reports nothing new")
			continue
		}
		require.Len(t, res.Events, 1)
		ev := res.Events[0]
		if tt.typ == "deposit" {
			require.Equal(t, "pay_01JD3ABCDEFGHJKMNPQRSTVWXY", ev.PaymentID)
			require.Nil(t, ev.Payout)
			require.Equal(t, tt.payment, ev.Payment.Status, tt.status)
			continue
		}
		require.Equal(t, "po_01JD3ABCDEFGHJKMNPQRSTVWXY", ev.PayoutID)
		require.Nil(t, ev.Payment)
		require.Equal(t, tt.payout, ev.Payout.Status, tt.status)
		require.Equal(t, int64(500), *ev.Payout.Fee)
		require.Equal(t, int64(99500), *ev.Payout.TransferAmount)
	}

	for _, f := range []payplus.Params{
		{"order_no": "DP1", "agent_order_no": "x", "type": "refund", "status": "completed", "timestamp": "1640995380"},
		{"order_no": "DP1", "agent_order_no": "x", "type": "deposit", "status": "weird", "timestamp": "1640995380"},
		{"order_no": "DP1", "agent_order_no": "x", "type": "deposit", "timestamp": "1640995380"},
		{"type": "deposit", "status": "failed", "timestamp": "1640995380"},
		{"order_no": "DP1", "type": "deposit", "status": "completed", "timestamp": "1640995380"}, // no amount
	} {
		_, err := p.ParseWebhook(t.Context(), webhook(signedBody(t, f, testKey)))
		require.ErrorIs(t, err, payment.ErrInvalidInput, "%v", f)
		require.NotErrorIs(t, err, payment.ErrInvalidSignature, "it verified; it is just not usable")
	}
}

func TestParseWebhookRejects(t *testing.T) {
	t.Parallel()
	p := seedProvider(t)
	good := signedBody(t, seedFields(), testKey)
	_, err := p.ParseWebhook(t.Context(), webhook(good))
	require.NoError(t, err)

	withExtra := seedFields()
	withExtra["note"] = "unsigned"
	sig, err := payplus.Sign(seedFields(), testKey)
	require.NoError(t, err)

	changed := seedFields()
	changed["actual_amount"] = json.Number("1")

	asString := seedFields()
	asString["amount"] = "1000"

	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(seedFields())).SignedString([]byte(testKey))
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(seedFields())).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	stale := seedFields()
	stale["timestamp"] = strconv.FormatInt(seedTime.Add(-6*time.Minute).Unix(), 10)
	future := seedFields()
	future["timestamp"] = strconv.FormatInt(seedTime.Add(6*time.Minute).Unix(), 10)
	noTS := seedFields()
	delete(noTS, "timestamp")

	tests := map[string][]byte{
		"empty":                     nil,
		"not JSON":                  []byte("order_no=DP1&signature=x"),
		"array":                     []byte(`[1,2]`),
		"trailing data":             append(append([]byte{}, good...), []byte(`{}`)...),
		"no signature":              bodyWith(t, seedFields(), ""),
		"signature not a string":    []byte(strings.Replace(string(good), `"signature":"`, `"signature":1,"x":"`, 1)),
		"wrong key":                 signedBody(t, seedFields(), "other_key"),
		"body differs from claims":  bodyWith(t, changed, sig),
		"unsigned extra field":      bodyWith(t, withExtra, sig),
		"number signed as string":   bodyWith(t, asString, sig),
		"HS512":                     bodyWith(t, seedFields(), hs512),
		"alg none":                  bodyWith(t, seedFields(), none),
		"stale timestamp":           signedBody(t, stale, testKey),
		"timestamp from the future": signedBody(t, future, testKey),
		"no timestamp":              signedBody(t, noTS, testKey),
	}
	for name, body := range tests {
		_, err := p.ParseWebhook(t.Context(), webhook(body))
		require.ErrorIs(t, err, payment.ErrInvalidSignature, name)
		require.NotContains(t, err.Error(), testKey, name)
	}
	_, err = p.ParseWebhook(t.Context(), nil)
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
}

func TestParseWebhookToleranceAndLenientClaims(t *testing.T) {
	t.Parallel()
	stale := seedFields()
	stale["timestamp"] = "1640000000"
	_, err := seedProvider(t, payplus.WithCallbackTolerance(0)).ParseWebhook(t.Context(), webhook(signedBody(t, stale, testKey)))
	require.NoError(t, err, "tolerance 0 turns the timestamp check off")

	ms := seedFields()
	ms["timestamp"] = strconv.FormatInt(seedTime.UnixMilli(), 10)
	res, err := seedProvider(t).ParseWebhook(t.Context(), webhook(signedBody(t, ms, testKey)))
	require.NoError(t, err, "millisecond timestamps")
	require.Equal(t, seedTime, res.Events[0].OccurredAt)

	lenient := seedProvider(t, payplus.WithLenientCallbackClaims())
	sig, err := payplus.Sign(seedFields(), testKey)
	require.NoError(t, err)
	extra := seedFields()
	extra["note"] = "not acted on"
	_, err = lenient.ParseWebhook(t.Context(), webhook(bodyWith(t, extra, sig)))
	require.NoError(t, err, "lenient: an unsigned field paykit does not act on is ignored")

	partial := seedFields()
	delete(partial, "actual_amount")
	sig, err = payplus.Sign(partial, testKey)
	require.NoError(t, err)
	_, err = lenient.ParseWebhook(t.Context(), webhook(bodyWith(t, seedFields(), sig)))
	require.ErrorIs(t, err, payment.ErrInvalidSignature, "lenient: every field paykit acts on must be signed")
}

// A duplicate (even re-signed later with a new timestamp) has the same
// event key; another status or amount has another.
func TestParseWebhookEventKeys(t *testing.T) {
	t.Parallel()
	p := seedProvider(t)
	key := func(f payplus.Params) string {
		res, err := p.ParseWebhook(t.Context(), webhook(signedBody(t, f, testKey)))
		require.NoError(t, err)
		return res.Events[0].Key
	}
	base := key(seedFields())
	later := seedFields()
	later["timestamp"] = "1640995400"
	require.Equal(t, base, key(later))
	failed := seedFields()
	failed["status"] = "failed"
	require.NotEqual(t, base, key(failed))
	less := seedFields()
	less["actual_amount"] = json.Number("900")
	require.NotEqual(t, base, key(less))
}

func TestCallbackFaults(t *testing.T) {
	t.Parallel()

	t.Run("duplicates and stale pending", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		e := newEnv(t)
		e.sim.SetCallbackFaults(payplussim.CallbackFaults{Duplicates: 2, StalePending: true})
		pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
		require.NoError(t, e.sim.Pay(ctx, pay.ID))
		_, first := e.callback(t, ctx, pay.ID)
		for range 2 {
			_, dup := e.callback(t, ctx, pay.ID)
			require.Equal(t, first.Events[0].Key, dup.Events[0].Key)
		}
		_, stale := e.callback(t, ctx, pay.ID)
		require.Empty(t, stale.Events, "the stale pending callback changes nothing")
	})

	t.Run("bad signature", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		e := newEnv(t)
		e.sim.SetCallbackFaults(payplussim.CallbackFaults{BadSignature: true})
		pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
		require.NoError(t, e.sim.Pay(ctx, pay.ID))
		wr, err := e.rec.Next(ctx, pay.ID)
		require.NoError(t, err)
		_, err = e.p.ParseWebhook(ctx, wr)
		require.ErrorIs(t, err, payment.ErrInvalidSignature)
	})

	t.Run("dropped, then recovered by sync", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		e := newEnv(t)
		e.sim.SetCallbackFaults(payplussim.CallbackFaults{Drop: true})
		pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
		require.NoError(t, e.sim.Pay(ctx, pay.ID))
		cbs := e.sim.Callbacks(pay.ID)
		require.Len(t, cbs, 1)
		require.True(t, cbs[0].Dropped)
		require.Equal(t, 0, e.rec.Count(pay.ID))
		st, err := e.p.Sync(ctx, pay)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, st.Status)
	})
}

// The simulator retries a callback the merchant did not acknowledge as
// Pay-Plus expects, re-signing each attempt.
func TestCallbackRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	e.rec.SetResponse(http.StatusOK, "text/plain", []byte("OK")) // not the expected acknowledgement
	pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
	require.NoError(t, e.sim.Pay(ctx, pay.ID))
	_, err := e.rec.Next(ctx, pay.ID)
	require.NoError(t, err)
	e.rec.SetResponse(http.StatusOK, "application/json", []byte(payplus.AckBody))
	_, res := e.callback(t, ctx, pay.ID) // the retry
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
	require.Eventually(t, func() bool {
		cbs := e.sim.Callbacks(pay.ID)
		return len(cbs) == 1 && cbs[0].Delivered && cbs[0].Attempts >= 2
	}, 5*time.Second, 10*time.Millisecond)

	// A merchant that never acknowledges gets the configured number of
	// attempts, and no more.
	e.rec.SetResponse(http.StatusInternalServerError, "text/plain", nil)
	pay2, _ := e.start(t, ctx, payment.MethodQR, 100000)
	require.NoError(t, e.sim.Decline(ctx, pay2.ID))
	require.Eventually(t, func() bool { return e.rec.Count(pay2.ID) == 4 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	cbs := e.sim.Callbacks(pay2.ID)
	require.Len(t, cbs, 1)
	require.Equal(t, 4, cbs[0].Attempts)
	require.False(t, cbs[0].Delivered)
	require.Contains(t, cbs[0].LastError, "500")
}

// FuzzParseWebhook checks that the callback parser and verifier never
// panic, that whatever passes verification carries exactly the expected
// acknowledgement and well-formed events, and that everything else is
// refused with ErrInvalidSignature or ErrInvalidInput.
func FuzzParseWebhook(f *testing.F) {
	p, err := payplus.New(payplus.Config{BaseURL: "https://pay.example/api/v1", MerchantID: "your_merchant_id", APIKey: testKey},
		payplus.WithClock(fixedClock{seedTime}))
	if err != nil {
		f.Fatal(err)
	}
	seed := func(fields payplus.Params) []byte {
		sig, err := payplus.Sign(fields, testKey)
		if err != nil {
			f.Fatal(err)
		}
		m := map[string]any{"signature": sig}
		for k, v := range fields {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(seed(seedFields()))
	for _, edit := range []func(payplus.Params){
		func(x payplus.Params) { x["status"] = "failed" },
		func(x payplus.Params) { x["status"] = "pending" },
		func(x payplus.Params) { x["type"], x["agent_order_no"] = "withdrawal", "po_01JD3ABCDEFGHJKMNPQRSTVWXY" },
		func(x payplus.Params) { x["actual_amount"] = json.Number("900.5") },
		func(x payplus.Params) { x["amount"] = "1000.00" },
	} {
		x := seedFields()
		edit(x)
		f.Add(seed(x))
	}
	f.Add([]byte(`{"signature":"eyJhbGciOiJub25lIn0.e30."}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.ParseWebhook(t.Context(), webhook(body))
		if err != nil {
			if !errorsIsAny(err, payment.ErrInvalidSignature, payment.ErrInvalidInput) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatal("the error carries the key")
			}
			return
		}
		if res == nil || res.Ack == nil || string(res.Ack.Body) != payplus.AckBody || res.Ack.StatusCode != http.StatusOK {
			t.Fatalf("a verified callback must be acknowledged exactly: %+v", res)
		}
		if len(res.Events) > 1 {
			t.Fatalf("one callback, at most one event: %d", len(res.Events))
		}
		for _, ev := range res.Events {
			if ev.Key == "" || (ev.Payment == nil) == (ev.Payout == nil) {
				t.Fatalf("malformed event: %+v", ev)
			}
			if ev.Payment != nil && !ev.Payment.Status.Valid() {
				t.Fatalf("invalid status %q", ev.Payment.Status)
			}
			if ev.Payment != nil && ev.Payment.Status == payment.StatusSucceeded && ev.Payment.Amount == nil {
				t.Fatal("a success always reports its amount")
			}
			if ev.Payout != nil && !ev.Payout.Status.Valid() {
				t.Fatalf("invalid payout status %q", ev.Payout.Status)
			}
		}
	})
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
