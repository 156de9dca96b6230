package villasim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

func newSim(t testing.TB, opts ...villasim.Option) (*villasim.Server, *httptest.Server) {
	t.Helper()
	sim := villasim.New(opts...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	return sim, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]json.RawMessage
	raw    string
}

// do sends a request; header values "" are left out.
func do(t testing.TB, srv *httptest.Server, method, path, contentType, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if len(b) > 0 && b[0] == '{' {
		require.NoError(t, json.Unmarshal(b, &a.body), string(b))
	}
	return a
}

var key = map[string]string{"X-API-Key": villasim.DefaultAPIKey}

const form = "application/x-www-form-urlencoded"

// envelope checks the main API envelope and returns its body.
func envelope(t testing.TB, a answer, status int) map[string]json.RawMessage {
	t.Helper()
	require.Equal(t, status, a.status, a.raw)
	require.JSONEq(t, strconv.Itoa(status), string(a.body["statusCode"]), a.raw)
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(a.body["body"], &body), a.raw)
	return body
}

func requireError(t testing.TB, a answer, status int, code string) map[string]json.RawMessage {
	t.Helper()
	body := envelope(t, a, status)
	require.JSONEq(t, strconv.Quote(code), string(body["code"]), a.raw)
	require.NotEmpty(t, body["error"])
	var details map[string]string
	require.NoError(t, json.Unmarshal(body["details"], &details))
	return body
}

func TestMainQRPayment(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	a := do(t, srv, "POST", "/qrpayment", "application/json",
		`{"orderId":"482500007436","userId":"user-123","amount":1000.00,"customerId":"customer-123"}`, key)
	body := envelope(t, a, 200)
	// Every field of the documented KBank order object, plus the QR.
	want := []string{
		"id", "object", "created", "livemode", "amount", "currency", "customer", "description",
		"metadata", "status", "reference_order", "source_type", "additional_data", "failure_code",
		"failure_message", "expire_time_seconds", "qr_code",
	}
	got := make([]string, 0, len(body))
	for k := range body {
		got = append(got, k)
	}
	require.ElementsMatch(t, want, got)
	require.Equal(t, `"order"`, field(body, "object"))
	require.Equal(t, `1000.0`, field(body, "amount"), "KBank prints amounts like 300.0")
	require.Equal(t, `"success"`, field(body, "status"))
	require.Equal(t, `"qr"`, field(body, "source_type"))
	require.Equal(t, `3600`, field(body, "expire_time_seconds"))
	require.Equal(t, `null`, field(body, "failure_code"))
	require.Equal(t, `false`, field(body, "livemode"))
	var created, ref string
	require.NoError(t, json.Unmarshal(body["created"], &created))
	require.Len(t, created, 17)
	ct, err := villa.ParseKBankTime(created)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ct, 5*time.Second, "created is Bangkok local time")
	require.NoError(t, json.Unmarshal(body["reference_order"], &ref))
	require.Regexp(t, `^482500007436\d{10}\.\d{6}$`, ref)
	var ad map[string]*string
	require.NoError(t, json.Unmarshal(body["additional_data"], &ad))
	require.Len(t, ad, 5)

	// The same order id again is a duplicate.
	a = do(t, srv, "POST", "/qrpayment", "application/json",
		`{"orderId":"482500007436","userId":"user-123","amount":1000.00,"customerId":"customer-123"}`, key)
	b := requireError(t, a, 400, "INVALID_INPUT")
	require.JSONEq(t, `{"field":"orderId","reason":"duplicate_order"}`, string(b["details"]))
}

func TestValidation(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	cases := []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"card without orderId", "/cardpayment", form, "userId=u&amount=1.00&token=tokn_test_1", 400, "MISSING_FIELD"},
		{"card without userId", "/cardpayment", form, "orderId=o1&amount=1.00&token=tokn_test_1", 400, "MISSING_FIELD"},
		{"card without amount", "/cardpayment", form, "orderId=o1&userId=u&token=tokn_test_1", 400, "MISSING_FIELD"},
		{"card without token", "/cardpayment", form, "orderId=o1&userId=u&amount=1.00", 400, "MISSING_FIELD"},
		{"card as JSON", "/cardpayment", "application/json", `{"orderId":"o1"}`, 400, "INVALID_INPUT"},
		{"card with three decimals", "/cardpayment", form, "orderId=o1&userId=u&amount=1.001&token=tokn_test_1", 400, "INVALID_INPUT"},
		{"card with zero amount", "/cardpayment", form, "orderId=o1&userId=u&amount=0.00&token=tokn_test_1", 400, "INVALID_INPUT"},
		{"card with a float exponent", "/cardpayment", form, "orderId=o1&userId=u&amount=1e3&token=tokn_test_1", 400, "INVALID_INPUT"},
		{"card with a huge amount", "/cardpayment", form, "orderId=o1&userId=u&amount=10000000000.00&token=tokn_test_1", 400, "INVALID_INPUT"},
		{"card with a bad token", "/cardpayment", form, "orderId=o1&userId=u&amount=1.00&token=4111111111111111", 400, "INVALID_INPUT"},
		{"card with a bad order id", "/cardpayment", form, "orderId=a%2Fb&userId=u&amount=1.00&token=tokn_test_1", 400, "INVALID_INPUT"},
		{"card with a relative callback", "/cardpayment", form, "orderId=o1&userId=u&amount=1.00&token=tokn_test_1&callback=/x", 400, "INVALID_INPUT"},
		{"qr as a form", "/qrpayment", form, "orderId=o1", 400, "INVALID_INPUT"},
		{"qr not an object", "/qrpayment", "application/json", `[1]`, 400, "INVALID_INPUT"},
		{"qr without amount", "/qrpayment", "application/json", `{"orderId":"o1","userId":"u"}`, 400, "MISSING_FIELD"},
		{"qr with a bad source", "/qrpayment", "application/json", `{"orderId":"o1","userId":"u","amount":1,"source":"alipay"}`, 400, "INVALID_INPUT"},
		{"qr for an unknown order", "/qrpayment", "application/json", `{"orderid":"nobody","source":"qr"}`, 404, "NOT_FOUND"},
		{"qr order shape without source", "/qrpayment", "application/json", `{"orderid":"nobody"}`, 400, "MISSING_FIELD"},
		{"createorder in USD", "/kbank/createorder", "application/json", `{"orderId":"o2","amount":1,"currency":"USD"}`, 400, "INVALID_INPUT"},
		{"createorder without orderId", "/kbank/createorder", "application/json", `{"amount":1}`, 400, "MISSING_FIELD"},
		{"cost for an unknown method", "/calculate-cost", "application/json", `{"amount":1,"paymentMethod":"cash"}`, 400, "INVALID_INPUT"},
		{"user without email", "/kbank/createuser", "application/json", `{"phone":"1"}`, 400, "MISSING_FIELD"},
		{"unknown status", "/checkstatus/nobody", "", "", 404, "NOT_FOUND"},
		{"unknown user", "/kbank/user/usr_nobody", "", "", 404, "NOT_FOUND"},
		{"unknown route", "/refunds", "application/json", `{}`, 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		method := "POST"
		if tc.body == "" {
			method = "GET"
		}
		a := do(t, srv, method, tc.path, tc.ctype, tc.body, key)
		requireError(t, a, tc.status, tc.code)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	clock := time.Now()
	sim, srv := newSim(t, villasim.WithClock(func() time.Time { return clock }))
	body := `{"amount":100}`
	requireError(t, do(t, srv, "POST", "/calculate-cost", "application/json", body, nil), 401, "UNAUTHORIZED")
	requireError(t, do(t, srv, "POST", "/calculate-cost", "application/json", body, map[string]string{"X-API-Key": "wrong"}), 401, "UNAUTHORIZED")
	envelope(t, do(t, srv, "POST", "/calculate-cost", "application/json", body, key), 200)

	// The card endpoint is public.
	a := do(t, srv, "POST", "/cardpayment", form, "orderId=o1&userId=u&amount=1.00&token="+villasim.CardToken(villasim.Card3DS), nil)
	envelope(t, a, 200)

	// payment3: an ID token, with or without "Bearer"; raw objects; guide
	// error shape with lower-case codes.
	tok := sim.IDToken(time.Minute)
	for _, auth := range []string{tok, "Bearer " + tok} {
		a := do(t, srv, "POST", "/calculate-cost", "application/json", body, map[string]string{"Authorization": auth})
		require.Equal(t, 200, a.status)
		require.Equal(t, `100.00`, field(a.body, "amount"), "no envelope")
	}
	bad := []string{"garbage", sim.IDToken(-time.Second), villasim.New().IDToken(time.Hour)}
	for _, auth := range bad {
		a := do(t, srv, "POST", "/calculate-cost", "application/json", body, map[string]string{"Authorization": auth})
		require.Equal(t, 401, a.status)
		require.JSONEq(t, `{"error":{"code":"unauthorized","message":"Invalid or expired ID token"}}`, a.raw)
	}
	clock = clock.Add(2 * time.Minute)
	a = do(t, srv, "POST", "/calculate-cost", "application/json", body, map[string]string{"Authorization": tok})
	require.Equal(t, 401, a.status, "the token expired")

	a = do(t, srv, "POST", "/qrpayment", "application/json", `{"orderid":"nobody","source":"qr"}`,
		map[string]string{"Authorization": sim.IDToken(time.Hour)})
	require.Equal(t, 404, a.status)
	require.JSONEq(t, `{"error":{"code":"not_found","message":"order not found"}}`, a.raw)
}

func TestHTTP200Errors(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, villasim.WithHTTP200Errors())
	a := do(t, srv, "GET", "/checkstatus/nobody", "", "", key)
	require.Equal(t, 200, a.status)
	require.JSONEq(t, `404`, string(a.body["statusCode"]))
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, villasim.WithRateLimit(60, 2))
	for range 2 {
		requireError(t, do(t, srv, "GET", "/checkstatus/x", "", "", key), 404, "NOT_FOUND")
	}
	a := do(t, srv, "GET", "/checkstatus/x", "", "", key)
	requireError(t, a, 429, "RATE_LIMITED")
	require.Equal(t, "1", a.header.Get("Retry-After"))
	// Limits are per credential.
	requireError(t, do(t, srv, "GET", "/checkstatus/x", "", "", map[string]string{"X-API-Key": "other"}), 401, "UNAUTHORIZED")
}

func TestCardPaymentAndTokens(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t)
	tok := villasim.CardToken(villasim.Card3DS)
	a := do(t, srv, "POST", "/cardpayment", form, "orderId=o1&userId=u&amount=1234.50&token="+tok, nil)
	body := envelope(t, a, 200)
	require.Equal(t, `"charge"`, field(body, "object"))
	require.Equal(t, `"Pre-Authorized"`, field(body, "transaction_state"))
	require.Equal(t, `1234.5`, field(body, "amount"))
	var redirect string
	require.NoError(t, json.Unmarshal(body["redirect_url"], &redirect))
	require.True(t, strings.HasPrefix(redirect, srv.URL+"/kbank/3ds/chrg_test_"))
	require.NotContains(t, a.raw, tok, "the token is never echoed")

	// Tokens are single use.
	a = do(t, srv, "POST", "/cardpayment", form, "orderId=o2&userId=u&amount=1.00&token="+tok, nil)
	b := requireError(t, a, 400, "INVALID_INPUT")
	require.JSONEq(t, `{"field":"token"}`, string(b["details"]))

	reuse, rsrv := newSim(t, villasim.WithReusableTokens())
	for _, id := range []string{"o1", "o2"} {
		envelope(t, do(t, rsrv, "POST", "/cardpayment", form, "orderId="+id+"&userId=u&amount=1.00&token="+tok, nil), 200)
	}
	require.Equal(t, 1, reuse.Charges("o2"))

	info, ok := sim.Order("o1")
	require.True(t, ok)
	require.Equal(t, villasim.OrderInfo{
		OrderID: "o1", UserID: "u", Method: "card", Status: villasim.StatusPending, TransactionState: "Pre-Authorized",
		KBankID: info.KBankID, Amount: 123450, Currency: "THB", Charges: 1, CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt,
	}, info)

	status := envelope(t, do(t, srv, "GET", "/checkstatus/o1", "", "", key), 200)
	require.Equal(t, `"pending"`, field(status, "status"))
	require.Equal(t, `1234.50`, field(status, "amount"), "Villa prints amounts with two decimals")
	require.Equal(t, strconv.Quote(redirect), field(status, "redirect_url"))
	require.Equal(t, strconv.Quote(info.KBankID), field(status, "chargeId"))
}

func TestPayment3OrderFlow(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t)
	auth := map[string]string{"Authorization": sim.IDToken(time.Hour)}
	a := do(t, srv, "POST", "/kbank/createorder", "application/json", `{"orderId":"o1","amount":"300.00","source_type":"qr"}`, auth)
	require.Equal(t, 200, a.status)
	require.Equal(t, `"order"`, field(a.body, "object"))
	first := field(a.body, "id")

	a = do(t, srv, "POST", "/qrpayment", "application/json", `{"orderid":"o1","source":"qr"}`, auth)
	require.Equal(t, first, field(a.body, "id"), "the current KBank order is reused")
	a = do(t, srv, "POST", "/kbank/order", "application/json", `{"orderid":"o1","source":"wechat"}`, auth)
	require.NotEqual(t, first, field(a.body, "id"), "another source is another attempt")
	require.Equal(t, `"wechat"`, field(a.body, "source_type"))
	require.Equal(t, 2, sim.Charges("o1"))

	require.NoError(t, sim.Pay(t.Context(), "o1"))
	a = do(t, srv, "POST", "/qrpayment", "application/json", `{"orderid":"o1","source":"wechat"}`, auth)
	require.JSONEq(t, `{"error":{"code":"order_not_payable","message":"order o1 already exists"}}`, a.raw)
	a = do(t, srv, "POST", "/kbank/createorder", "application/json", `{"orderId":"o1","amount":"300.00"}`, auth)
	require.JSONEq(t, `{"error":{"code":"duplicate_order","message":"order o1 already exists"}}`, a.raw)
}

func TestCalculateCostAndUsers(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	body := envelope(t, do(t, srv, "POST", "/calculate-cost", "application/json", `{"amount":3000.00,"paymentMethod":"card"}`, key), 200)
	require.Equal(t, `75.00`, field(body, "fee"))
	require.Equal(t, `3000.00`, field(body, "total"))
	require.JSONEq(t, `[{"term":3,"total":3000.00,"amountPerTerm":1000.00},{"term":6,"total":3000.00,"amountPerTerm":500.00},{"term":10,"total":3000.00,"amountPerTerm":300.00}]`, string(body["installments"]))

	for _, path := range []string{"/kbank/createuser", "/kbank/user"} {
		body = envelope(t, do(t, srv, "POST", path, "application/json", `{"email":"a@example.com","firstName":"A"}`, key), 200)
		require.JSONEq(t, `"User created successfully"`, string(body["message"]))
		var id string
		require.NoError(t, json.Unmarshal(body["user_id"], &id))
		require.Regexp(t, `^usr_\d{10}$`, id)
		u := envelope(t, do(t, srv, "GET", "/kbank/user/"+id, "", "", key), 200)
		require.JSONEq(t, `"A"`, string(u["first_name"]))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t)
	sim.InjectFault(villasim.Fault{Route: villasim.RouteCheckStatus, Status: 503, Times: 2})
	sim.InjectFault(villasim.Fault{Status: 429, RetryAfter: 3 * time.Second})
	a := do(t, srv, "POST", "/calculate-cost", "application/json", `{"amount":1}`, key)
	requireError(t, a, 429, "RATE_LIMITED")
	require.Equal(t, "3", a.header.Get("Retry-After"))
	for range 2 {
		requireError(t, do(t, srv, "GET", "/checkstatus/x", "", "", key), 503, "SERVICE_UNAVAILABLE")
	}
	requireError(t, do(t, srv, "GET", "/checkstatus/x", "", "", key), 404, "NOT_FOUND")
	require.Equal(t, 3, sim.Requests(villasim.RouteCheckStatus))

	// After commit: the work is done although the client sees a 500.
	sim.InjectFault(villasim.Fault{Route: villasim.RouteQRPayment, Status: 500, AfterCommit: true})
	requireError(t, do(t, srv, "POST", "/qrpayment", "application/json", `{"orderId":"o1","userId":"u","amount":1}`, key), 500, "INTERNAL_ERROR")
	_, ok := sim.Order("o1")
	require.True(t, ok)

	// Latency and hangs.
	sim.SetLatency(50 * time.Millisecond)
	start := time.Now()
	requireError(t, do(t, srv, "GET", "/checkstatus/x", "", "", key), 404, "NOT_FOUND")
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	sim.ClearFaults()
	sim.InjectFault(villasim.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/qrpayment", strings.NewReader(`{"orderId":"o2","userId":"u","amount":1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", villasim.DefaultAPIKey)
	resp, err := srv.Client().Do(req)
	if resp != nil {
		require.NoError(t, resp.Body.Close())
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, ok = sim.Order("o2")
	require.False(t, ok, "a hang before the work does no work")
}

func TestCustomerAndCallbacks(t *testing.T) {
	t.Parallel()
	const secret = "whsec_sim"
	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	t.Cleanup(hook.Close)
	now := time.Date(2025, 5, 30, 13, 56, 58, 0, time.UTC)
	sim, srv := newSim(t, villasim.WithWebhookSecret(secret), villasim.WithClock(func() time.Time { return now }),
		villasim.WithCardFormCallbacks(false))

	cb := hook.URL + "/hook?orderId=pay_1"
	envelope(t, do(t, srv, "POST", "/cardpayment", form,
		"orderId=pay_1&userId=u&amount=10.00&token=tokn_test_x&callback="+url.QueryEscape(cb), nil), 200)
	require.NoError(t, sim.Decline(t.Context(), "pay_1"))
	r, body := <-got, <-bodies
	require.Equal(t, "/hook", r.URL.Path)
	require.Equal(t, "pay_1", r.URL.Query().Get("orderId"))
	require.JSONEq(t, `{"event":"payment.status.updated","data":{"orderId":"pay_1","status":"failed","amount":10.00,"timestamp":"2025-05-30T13:56:58Z"}}`, string(body))
	require.Equal(t, strconv.FormatInt(now.Unix(), 10), r.Header.Get(villasim.HeaderTimestamp))
	require.Equal(t, villa.SignWebhook(secret, now, body), r.Header.Get(villasim.HeaderSignature), "signed as the provider verifies")

	cbs := sim.Callbacks()
	require.Len(t, cbs, 1)
	require.Equal(t, http.StatusOK, cbs[0].StatusCode)
	require.Equal(t, 1, cbs[0].Attempts)
	require.Empty(t, cbs[0].Err)

	err := sim.Decline(t.Context(), "pay_1")
	require.ErrorIs(t, err, payment.ErrInvalidState)
	status := envelope(t, do(t, srv, "GET", "/checkstatus/pay_1", "", "", key), 200)
	require.Equal(t, `"failed"`, field(status, "status"))
	require.Equal(t, `"card_declined"`, field(status, "failure_code"))
	require.Equal(t, `"Declined"`, field(status, "transaction_state"))
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, villasim.WithPublicURL("https://sim.example/villa/"))
	body := envelope(t, do(t, srv, "POST", "/cardpayment", form, "orderId=o1&userId=u&amount=1.00&token=tokn_test_a", nil), 200)
	var redirect string
	require.NoError(t, json.Unmarshal(body["redirect_url"], &redirect))
	require.True(t, strings.HasPrefix(redirect, "https://sim.example/villa/kbank/3ds/chrg_test_"), redirect)
}

// field returns a JSON value's raw text, for checks of its exact spelling.
func field(body map[string]json.RawMessage, key string) string { return string(body[key]) }
