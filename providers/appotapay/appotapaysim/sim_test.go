package appotapaysim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
)

type env struct {
	sim *appotapaysim.Server
	srv *httptest.Server
	now time.Time
}

func newEnv(t testing.TB, opts ...appotapaysim.Option) *env {
	t.Helper()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sim := appotapaysim.New(append([]appotapaysim.Option{appotapaysim.WithClock(func() time.Time { return now })}, opts...)...)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, now: now}
}

// jwtFor builds an X-APPOTAPAY-AUTH token by hand, so the simulator's
// checks are tested independently of the provider.
func jwtFor(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func (e *env) goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": appotapaysim.DefaultPartnerCode, "jti": appotapaysim.DefaultAPIKey + "-" + strconv.FormatInt(e.now.Unix(), 10),
		"api_key": appotapaysim.DefaultAPIKey, "exp": e.now.Add(300 * time.Second).Unix(),
	}
}

func (e *env) goodJWT(t testing.TB) string {
	return jwtFor(t, jwt.SigningMethodHS256, []byte(appotapaysim.DefaultSecretKey),
		map[string]any{"cty": appotapaysim.JWTContentType}, e.goodClaims())
}

func hmacHex(msg string) string {
	m := hmac.New(sha256.New, []byte(appotapaysim.DefaultSecretKey))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

type answer struct {
	status int
	body   map[string]any
	raw    []byte
}

func (a answer) code() int {
	n, _ := a.body["errorCode"].(json.Number).Int64()
	return int(n)
}

func (e *env) do(t testing.TB, method, path, auth, bearer string, body any) answer {
	t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rdr = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rdr)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("X-APPOTAPAY-AUTH", auth)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&a.body)
	return a
}

func ewalletBody(orderID string, amount any, extra, info string) map[string]any {
	amt := ""
	switch v := amount.(type) {
	case int:
		amt = strconv.Itoa(v)
	case string:
		amt = v
	}
	return map[string]any{
		"orderId": orderID, "orderInfo": info, "extraData": extra, "amount": amount, "currency": "VND",
		"signature": hmacHex("amount=" + amt + "&currency=VND&extraData=" + extra + "&orderId=" + orderID + "&orderInfo=" + info),
	}
}

func TestJWTChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret := []byte(appotapaysim.DefaultSecretKey)
	cty := map[string]any{"cty": appotapaysim.JWTContentType}
	with := func(k string, v any) jwt.MapClaims {
		c := e.goodClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name string
		auth string
		ok   bool
	}{
		{"bare JWT", e.goodJWT(t), true},
		{"Bearer JWT", "Bearer " + e.goodJWT(t), true},
		{"missing", "", false},
		{"no cty", jwtFor(t, jwt.SigningMethodHS256, secret, nil, e.goodClaims()), false},
		{"wrong cty", jwtFor(t, jwt.SigningMethodHS256, secret, map[string]any{"cty": "appotapay-api;v=2"}, e.goodClaims()), false},
		{"HS512", jwtFor(t, jwt.SigningMethodHS512, secret, cty, e.goodClaims()), false},
		{"alg none", jwtFor(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, cty, e.goodClaims()), false},
		{"wrong secret", jwtFor(t, jwt.SigningMethodHS256, []byte("nope"), cty, e.goodClaims()), false},
		{"expired", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("exp", e.now.Add(-time.Second).Unix())), false},
		{"no exp", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("exp", nil)), false},
		{"exp too far", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("exp", e.now.Add(2*time.Hour).Unix())), false},
		{"wrong iss", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("iss", "OTHER")), false},
		{"wrong api_key", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("api_key", "x")), false},
		{"wrong jti", jwtFor(t, jwt.SigningMethodHS256, secret, cty, with("jti", "x-1")), false},
		{"garbage", "not.a.jwt", false},
	}
	for _, tt := range tests {
		a := e.do(t, http.MethodGet, "/api/v2/orders/transaction?referenceId=X1&type=PARTNER_ORDER_ID", tt.auth, "", nil)
		if tt.ok {
			require.Equal(t, http.StatusNotFound, a.status, tt.name)
			require.Equal(t, 36, a.code(), tt.name)
		} else {
			require.Equal(t, http.StatusUnauthorized, a.status, tt.name)
			require.Equal(t, 401, a.code(), tt.name)
		}
	}
}

func TestEWalletPaymentRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := e.goodJWT(t)
	badSig := ewalletBody("o1", 120000, "", "info")
	badSig["signature"] = strings.Repeat("0", 64)
	changed := ewalletBody("o2", 120000, "", "info")
	changed["amount"] = 120001
	tests := []struct {
		name   string
		body   any
		bearer string
		code   int
	}{
		{"not JSON", "{", appotapaysim.WalletToken, 1},
		{"amount as string", ewalletBody("o3", "120000", "", "info"), appotapaysim.WalletToken, 1},
		{"amount with fraction", func() map[string]any {
			b := ewalletBody("o4", 1000, "", "i")
			b["amount"] = json.Number("1000.5")
			return b
		}(), appotapaysim.WalletToken, 1},
		{"amount 999", ewalletBody("o5", 999, "", "info"), appotapaysim.WalletToken, 32},
		{"amount 500000001", ewalletBody("o6", 500000001, "", "info"), appotapaysim.WalletToken, 32},
		{"orderId not alphanumeric", ewalletBody("pay_1", 1000, "", "info"), appotapaysim.WalletToken, 1},
		{"orderId 51", ewalletBody(strings.Repeat("a", 51), 1000, "", "info"), appotapaysim.WalletToken, 1},
		{"orderInfo 151", ewalletBody("o7", 1000, "", strings.Repeat("i", 151)), appotapaysim.WalletToken, 1},
		{"orderInfo missing", ewalletBody("o8", 1000, "", ""), appotapaysim.WalletToken, 1},
		{"extraData 1001", ewalletBody("o9", 1000, strings.Repeat("e", 1001), "i"), appotapaysim.WalletToken, 1},
		{"bad signature", badSig, appotapaysim.WalletToken, 2},
		{"signed amount changed", changed, appotapaysim.WalletToken, 2},
		{"no access token", ewalletBody("o10", 1000, "", "i"), "", 401},
		{"unknown wallet", ewalletBody("o11", 1000, "", "i"), "who", 65},
	}
	for _, tt := range tests {
		a := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, tt.bearer, tt.body)
		require.NotEqual(t, http.StatusOK, a.status, tt.name)
		require.Equal(t, tt.code, a.code(), tt.name)
		require.NotEmpty(t, a.body["message"], tt.name)
	}

	ok := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, appotapaysim.WalletToken, ewalletBody("good1", 120000, "", "Thanh toán"))
	require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
	tx := ok.body["transaction"].(map[string]any)
	require.Equal(t, "success", tx["status"])
	require.Equal(t, "NONE", tx["verificationMethod"])
	require.Equal(t, "1.0", tx["orderVersion"])
	require.Equal(t, "2026-03-01T17:00:00+07:00", tx["createdAt"], "RFC 3339 in +07:00")
	require.NotContains(t, tx, "errorCode", "only when status != success")

	dup := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, appotapaysim.WalletToken, ewalletBody("good1", 120000, "", "Thanh toán"))
	require.Equal(t, 30, dup.code())
	require.Equal(t, 1, e.sim.Charges("good_1"))
}

func TestConfirmRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := e.goodJWT(t)
	a := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, appotapaysim.WalletTokenOTP, ewalletBody("otp1", 5000, "", "i"))
	require.Equal(t, http.StatusOK, a.status)
	tx := a.body["transaction"].(map[string]any)
	require.Equal(t, "pending", tx["status"])
	require.Equal(t, "OTP", tx["verificationMethod"])
	otp, err := e.sim.OTP("otp_1")
	require.NoError(t, err)

	confirm := func(order, code, sig, bearer string) answer {
		return e.do(t, http.MethodPost, "/api/v2/ewallet/payment/confirm", auth, bearer,
			map[string]any{"orderId": order, "verificationMethod": "OTP", "verificationCode": code, "signature": sig})
	}
	sig := hmacHex("orderId=otp1&verificationCode=" + otp)
	require.Equal(t, 2, confirm("otp1", otp, hmacHex("orderId=otp1&verificationCode=000000"), appotapaysim.WalletTokenOTP).code())
	require.Equal(t, 401, confirm("otp1", otp, sig, appotapaysim.WalletToken).code(), "another wallet's token")
	require.Equal(t, 36, confirm("nope", "1", hmacHex("orderId=nope&verificationCode=1"), appotapaysim.WalletTokenOTP).code())
	require.Equal(t, 21, confirm("otp1", "999999", hmacHex("orderId=otp1&verificationCode=999999"), appotapaysim.WalletTokenOTP).code())
	ok := confirm("otp1", otp, sig, appotapaysim.WalletTokenOTP)
	require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
	require.Equal(t, "success", ok.body["transaction"].(map[string]any)["status"])
	require.Equal(t, 41, confirm("otp1", otp, sig, appotapaysim.WalletTokenOTP).code())
}

func TestGatewayRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := e.goodJWT(t)
	body := func(mod func(tx, ord, nc map[string]any)) map[string]any {
		tx := map[string]any{"amount": 10000, "currency": "VND", "bankCode": "", "paymentMethod": "ATM", "action": "PAY", "token": nil}
		ord := map[string]any{"id": "g" + strconv.Itoa(int(time.Now().UnixNano()%1e9)), "info": "test thanh toan", "extraData": ""}
		nc := map[string]any{"notifyUrl": "https://shop.example/ipn", "redirectUrl": "https://shop.example/back"}
		if mod != nil {
			mod(tx, ord, nc)
		}
		return map[string]any{"transaction": tx, "partnerReference": map[string]any{"order": ord, "notificationConfig": nc}}
	}
	tests := []struct {
		name  string
		mod   func(tx, ord, nc map[string]any)
		code  int
		field string
	}{
		{"missing amount", func(tx, _, _ map[string]any) { delete(tx, "amount") }, 1, "transaction.amount"},
		{"small amount", func(tx, _, _ map[string]any) { tx["amount"] = 500 }, 32, "transaction.amount"},
		{"bad method", func(tx, _, _ map[string]any) { tx["paymentMethod"] = "QR" }, 1, "transaction.paymentMethod"},
		{"bad action", func(tx, _, _ map[string]any) { tx["action"] = "STEAL" }, 1, "transaction.action"},
		{"token action without token", func(tx, _, _ map[string]any) { tx["action"] = "PAY_WITH_TOKEN" }, 1, "transaction.token"},
		{"no notifyUrl", func(_, _, nc map[string]any) { delete(nc, "notifyUrl") }, 1, "partnerReference.notificationConfig.notifyUrl"},
		{"relative redirectUrl", func(_, _, nc map[string]any) { nc["redirectUrl"] = "/back" }, 1, "partnerReference.notificationConfig.redirectUrl"},
		{"order id with dash", func(_, ord, _ map[string]any) { ord["id"] = "a-b" }, 1, "partnerReference.order.id"},
		{"extraData 201", func(_, ord, _ map[string]any) { ord["extraData"] = strings.Repeat("x", 201) }, 1, "partnerReference.order.extraData"},
		{"currency", func(tx, _, _ map[string]any) { tx["currency"] = "THB" }, 1, "transaction.currency"},
	}
	for _, tt := range tests {
		a := e.do(t, http.MethodPost, "/api/v2/orders/payment", auth, "", body(tt.mod))
		require.Equal(t, tt.code, a.code(), tt.name)
		errs, _ := a.body["errors"].([]any)
		fields := []string{}
		for _, x := range errs {
			fields = append(fields, x.(map[string]any)["field"].(string))
		}
		if tt.code == 1 {
			require.Contains(t, fields, tt.field, tt.name)
		}
	}

	ok := e.do(t, http.MethodPost, "/api/v2/orders/payment", auth, "", body(func(tx, ord, _ map[string]any) {
		tx["paymentMethod"] = "VA"
		ord["id"] = "gva1"
	}))
	require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
	tx := ok.body["transaction"].(map[string]any)
	require.Equal(t, "pending", tx["status"])
	pay := ok.body["payment"].(map[string]any)
	require.True(t, strings.HasPrefix(pay["url"].(string), appotapaysim.DefaultPaymentPageURL+"/v2/bank/payment/process?tran="))
	qr := pay["qrCode"].(map[string]any)
	require.True(t, strings.HasPrefix(qr["content"].(string), "000201010212"))
	require.Equal(t, 30, e.do(t, http.MethodPost, "/api/v2/orders/payment", auth, "", body(func(_, ord, _ map[string]any) { ord["id"] = "gva1" })).code())
}

func TestIPNIsSignedPHPJSON(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 1)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(merchant.Close)
	e := newEnv(t)
	auth := e.goodJWT(t)
	a := e.do(t, http.MethodPost, "/api/v2/orders/payment", auth, "", map[string]any{
		"transaction": map[string]any{"amount": 25000, "currency": "VND", "paymentMethod": "CC", "action": "PAY"},
		"partnerReference": map[string]any{
			"order":              map[string]any{"id": "pay01ABC", "info": "Thanh toán/đơn 1", "extraData": "ord-1"},
			"notificationConfig": map[string]any{"notifyUrl": merchant.URL + "/ipn", "redirectUrl": "https://shop.example/r"},
		},
	})
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.NoError(t, e.sim.Pay(t.Context(), "pay_01ABC"))
	body := <-got

	var envl struct {
		Data      string `json:"data"`
		Signature string `json:"signature"`
		Time      int64  `json:"time"`
	}
	require.NoError(t, json.Unmarshal(body, &envl))
	require.Equal(t, hmacHex(envl.Data), envl.Signature, "HMAC-SHA256 over the raw base64 data")
	require.Equal(t, e.now.Unix(), envl.Time)
	decoded, err := base64.StdEncoding.DecodeString(envl.Data)
	require.NoError(t, err)
	require.Contains(t, string(decoded), `"info":"Thanh to\u00e1n\/\u0111\u01a1n 1"`, "PHP json_encode escaping")
	require.Contains(t, string(decoded), `"orderAmount":25000`)
	require.Contains(t, string(decoded), `"status":"success"`)
	require.Contains(t, string(decoded), `"id":"pay01ABC"`)

	cb, ok := e.sim.LastCallback("pay_01ABC")
	require.True(t, ok)
	require.True(t, cb.Acked)
}

func TestRefundRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := e.goodJWT(t)
	a := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, appotapaysim.WalletToken, ewalletBody("ref1", 10000, "", "i"))
	txID := a.body["transaction"].(map[string]any)["transactionId"].(string)
	refund := func(ref string, amount int) answer {
		return e.do(t, http.MethodPost, "/api/v2/transaction/refund", auth, "",
			map[string]any{"partnerRefId": ref, "transactionId": txID, "amount": amount, "currency": "VND", "reason": "test refund"})
	}
	require.Equal(t, 1, refund("r_1", 10000).code(), "partnerRefId must be alphanumeric")
	require.Equal(t, 1, refund("r1", 999).code())
	require.Equal(t, 106, refund("r2", 5000).code(), "a wallet refunds only in full")
	ok := refund("r3", 10000)
	require.Equal(t, http.StatusOK, ok.status, string(ok.raw))
	require.Equal(t, "success", ok.body["status"])
	require.Equal(t, 31, refund("r3", 10000).code())
	require.Equal(t, 40, refund("r4", 10000).code())
	detail := e.do(t, http.MethodGet, "/api/v2/transaction/refund/r3?type=PARTNER_ORDER_ID", auth, "", nil)
	require.Equal(t, http.StatusOK, detail.status)
	require.Equal(t, ok.body["refundId"], detail.body["refundId"])
	byID := e.do(t, http.MethodGet, "/api/v2/transaction/refund/"+ok.body["refundId"].(string), auth, "", nil)
	require.Equal(t, http.StatusOK, byID.status)
	require.Equal(t, 36, e.do(t, http.MethodGet, "/api/v2/transaction/refund/none?type=PARTNER_ORDER_ID", auth, "", nil).code())
}

func TestFaultsAndLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := e.goodJWT(t)
	path := "/api/v2/orders/transaction?referenceId=X&type=PARTNER_ORDER_ID"
	e.sim.InjectFault("/api/v2/orders/transaction", appotapaysim.Fault5xx, 2)
	require.Equal(t, http.StatusInternalServerError, e.do(t, http.MethodGet, path, auth, "", nil).status)
	require.Equal(t, 500, e.do(t, http.MethodGet, path, auth, "", nil).code())
	require.Equal(t, 36, e.do(t, http.MethodGet, path, auth, "", nil).code(), "the fault is used up")
	e.sim.InjectFault("", appotapaysim.FaultBadGateway, 1)
	require.Equal(t, http.StatusBadGateway, e.do(t, http.MethodGet, path, auth, "", nil).status)

	e.sim.InjectFault("/api/v2/ewallet/payment", appotapaysim.FaultProcessing, 1)
	a := e.do(t, http.MethodPost, "/api/v2/ewallet/payment", auth, appotapaysim.WalletToken, ewalletBody("f1", 1000, "", "i"))
	require.Equal(t, 34, a.code())
	st := e.do(t, http.MethodGet, "/api/v2/orders/transaction?referenceId=f1&type=PARTNER_ORDER_ID", auth, "", nil)
	require.Equal(t, "success", st.body["transaction"].(map[string]any)["status"], "error 34, then success")

	e.sim.SetLatency(60 * time.Millisecond)
	start := time.Now()
	e.do(t, http.MethodGet, path, auth, "", nil)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
}
