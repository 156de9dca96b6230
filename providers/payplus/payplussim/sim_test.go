package payplussim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
)

// The protocol notes' worked example.
const vectorJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhbW91bnQiOjEwMDAsImJhbmtBY2NvdW50TnVtYmVyIjoiMTIzNDU2Nzg5MCIsImJhbmtOYW1lIjoiS0JBTksiLCJjYWxsYmFja1VybCI6Imh0dHBzOi8veW91ci1kb21haW4uY29tL2NhbGxiYWNrIiwibWVyY2hhbnRJZCI6InlvdXJfbWVyY2hhbnRfaWQiLCJuYW1lIjoiSm9obiBEb2UiLCJ0aW1lc3RhbXAiOjE2NDA5OTUyMDAsInRyYW5zYWN0aW9uSWQiOiJ1bmlxdWVfdHJhbnNhY3Rpb25faWQiLCJ0eXBlIjoiUVIifQ._zGnik9POdAxH3dsztSEefmlyzpyVwMELG4r2zyz9QQ"

type harness struct {
	sim *payplussim.Server
	srv *httptest.Server
	// callbacks receives the bodies of the callbacks the simulator sends.
	mu        sync.Mutex
	callbacks [][]byte
	cbSrv     *httptest.Server
}

func newHarness(t testing.TB, opts ...payplussim.Option) *harness {
	t.Helper()
	h := &harness{}
	h.cbSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.callbacks = append(h.callbacks, b)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(payplus.AckBody))
	}))
	t.Cleanup(h.cbSrv.Close)
	h.sim = payplussim.New(append([]payplussim.Option{payplussim.WithCallbackRetry(3, 10*time.Millisecond)}, opts...)...)
	h.srv = httptest.NewServer(h.sim)
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.sim.Close)
	return h
}

func (h *harness) received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.callbacks...)
}

type answer struct {
	Status  string          `json:"status"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// do sends raw JSON with the API key.
func (h *harness) do(t testing.TB, method, path, key string, body []byte) (int, answer) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+payplussim.DefaultPrefix+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a answer
	require.NoError(t, json.Unmarshal(raw, &a), "%s", raw)
	return resp.StatusCode, a
}

// signed sends params signed with key.
func (h *harness) signed(t testing.TB, path, key string, params payplus.Params) (int, answer) {
	t.Helper()
	sig, err := payplus.Sign(params, key)
	require.NoError(t, err)
	return h.do(t, http.MethodPost, path, key, body(t, params, sig))
}

func body(t testing.TB, params payplus.Params, sig string) []byte {
	t.Helper()
	m := map[string]any{"signature": sig}
	for k, v := range params {
		m[k] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(m))
	return buf.Bytes()
}

// decodeData decodes an answer's data with exact numbers.
func decodeData(t testing.TB, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func now() json.Number { return json.Number(strconv.FormatInt(time.Now().Unix(), 10)) }

func depositParams(h *harness, txID string) payplus.Params {
	return payplus.Params{
		"merchantId":        payplussim.DefaultMerchantID,
		"transactionId":     txID,
		"bankAccountNumber": "1234567890",
		"bankName":          "KBANK",
		"name":              "John Doe",
		"amount":            json.Number("1000"),
		"callbackUrl":       h.cbSrv.URL + "/cb?shop=1&order=2",
		"type":              "QR",
		"timestamp":         now(),
	}
}

func TestSignHelperMatchesTheVector(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	params := map[string]any{
		"merchantId": "your_merchant_id", "transactionId": "unique_transaction_id",
		"bankAccountNumber": "1234567890", "bankName": "KBANK", "name": "John Doe", "amount": 1000,
		"callbackUrl": "https://your-domain.com/callback", "type": "QR", "timestamp": 1640995200,
	}
	b, err := json.Marshal(map[string]any{"params": params, "api_key": "test_api_key"})
	require.NoError(t, err)
	status, a := h.do(t, http.MethodPost, "/jwt/create", "", b)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 200, a.Code)
	var data struct {
		Signature string          `json:"signature"`
		Algorithm string          `json:"algorithm"`
		Payload   json.RawMessage `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(a.Data, &data))
	require.Equal(t, vectorJWT, data.Signature)
	require.Equal(t, "HS256", data.Algorithm)
	require.True(t, strings.HasPrefix(string(data.Payload), `{"amount":1000,"bankAccountNumber"`), "%s", data.Payload)

	// Without api_key the x-api-key header is the key.
	b, err = json.Marshal(map[string]any{"params": params})
	require.NoError(t, err)
	status, a = h.do(t, http.MethodPost, "/jwt/create", "test_api_key", b)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(a.Data, &data))
	require.Equal(t, vectorJWT, data.Signature)

	status, _ = h.do(t, http.MethodPost, "/jwt/create", "", b)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = h.do(t, http.MethodPost, "/jwt/create", "k", []byte(`{"params":{"a":{"nested":1}}}`))
	require.Equal(t, http.StatusBadRequest, status)
}

func TestDepositAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, a := h.signed(t, "/deposit", payplussim.DefaultAPIKey, depositParams(h, "pay_answer"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "success", a.Status)
	require.Equal(t, "Create Success", a.Message)

	d := decodeData(t, a.Data)
	require.Equal(t, payplussim.DefaultMerchantID, d["merchantId"])
	require.Equal(t, "pay_answer", d["transactionId"])
	require.Equal(t, "pending", d["status"])
	require.Equal(t, json.Number("1000"), d["amount"])
	require.Equal(t, json.Number("995"), d["depositAmount"], "the documented example: 995 to transfer for 1000")
	require.Equal(t, "Platform Bank Account", d["bankAccountName"])
	require.Equal(t, payplussim.DefaultPromptPayNumber, d["promptpayNumber"])
	require.Regexp(t, `^DP\d{10}[A-Z0-9]{6}$`, d["referenceId"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, d["expireDate"])
	require.Equal(t, map[string]any{"bankAccountNumber": "1234567890", "bankName": "KBANK", "name": "John Doe"}, d["customerData"])

	qr, ok := d["qrcode"].(string)
	require.True(t, ok)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)

	ord, ok := h.sim.Order("pay_answer")
	require.True(t, ok)
	fields, err := payplus.ParseEMV(ord.QRPayload)
	require.NoError(t, err, "a real EMVCo payload with a valid CRC")
	require.Equal(t, "995.00", fields["54"])
	require.Equal(t, int64(500), ord.Fee)
	require.Equal(t, h.cbSrv.URL+"/cb?shop=1&order=2", ord.CallbackURL)
}

func TestRequestChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, payplussim.WithMerchant("other_merchant", "other_key"), payplussim.WithMerchant(payplussim.DefaultMerchantID, payplussim.DefaultAPIKey))
	good := depositParams(h, "pay_checks")
	sig, err := payplus.Sign(good, payplussim.DefaultAPIKey)
	require.NoError(t, err)

	changed := depositParams(h, "pay_checks")
	changed["amount"] = json.Number("1")

	stale := depositParams(h, "pay_checks")
	stale["timestamp"] = json.Number(strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))

	otherMerchant := depositParams(h, "pay_checks")
	otherMerchant["merchantId"] = "other_merchant"

	// golang-jwt HTML-escapes "&" in the callback URL: a valid JWT, but not
	// the bytes jsonwebtoken would produce.
	claims := jwt.MapClaims{}
	for k, v := range good {
		claims[k] = v
	}
	escaped, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(payplussim.DefaultAPIKey))
	require.NoError(t, err)
	require.NotEqual(t, sig, escaped)

	tests := []struct {
		name    string
		key     string
		body    []byte
		status  int
		message string
	}{
		{"no API key", "", body(t, good, sig), 401, "Invalid API key"},
		{"unknown API key", "nope", body(t, good, sig), 401, "Invalid API key"},
		{"no signature", payplussim.DefaultAPIKey, body(t, good, ""), 400, "Invalid signature"},
		{"signed by another key", "other_key", body(t, good, sig), 400, "Invalid signature"},
		{"parameters changed", payplussim.DefaultAPIKey, body(t, changed, sig), 400, "Invalid signature"},
		{"HTML-escaped payload", payplussim.DefaultAPIKey, body(t, good, escaped), 400, "Invalid signature"},
		{"stale timestamp", payplussim.DefaultAPIKey, body(t, stale, mustSign(t, stale, payplussim.DefaultAPIKey)), 400, "Invalid timestamp"},
		{"merchant of another key", payplussim.DefaultAPIKey, body(t, otherMerchant, mustSign(t, otherMerchant, payplussim.DefaultAPIKey)), 403, "merchantId does not match API key"},
		{"not JSON", payplussim.DefaultAPIKey, []byte("amount=1000"), 400, "Invalid JSON"},
	}
	for _, tt := range tests {
		status, a := h.do(t, http.MethodPost, "/deposit", tt.key, tt.body)
		require.Equal(t, tt.status, status, tt.name)
		require.Equal(t, tt.message, a.Message, tt.name)
		require.Equal(t, tt.status, a.Code, tt.name)
	}
	require.Equal(t, 0, h.sim.Charges("pay_checks"), "nothing was created")

	status, _ := h.do(t, http.MethodPost, "/deposit", payplussim.DefaultAPIKey, body(t, good, sig))
	require.Equal(t, http.StatusOK, status)
	status, a := h.do(t, http.MethodPost, "/deposit", payplussim.DefaultAPIKey, body(t, good, sig))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "transactionId already exists", a.Message)
	require.Equal(t, 1, h.sim.Charges("pay_checks"))

	// The same transaction id at another merchant is another order.
	other := depositParams(h, "pay_checks")
	other["merchantId"] = "other_merchant"
	status, _ = h.signed(t, "/deposit", "other_key", other)
	require.Equal(t, http.StatusOK, status)
}

func mustSign(t testing.TB, p payplus.Params, key string) string {
	t.Helper()
	sig, err := payplus.Sign(p, key)
	require.NoError(t, err)
	return sig
}

func TestLenientSignatures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, payplussim.WithLenientSignatures())
	good := depositParams(h, "pay_lenient")
	claims := jwt.MapClaims{}
	for k, v := range good {
		claims[k] = v
	}
	claims["amount"] = json.Number("1000.00") // same value, other spelling
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(payplussim.DefaultAPIKey))
	require.NoError(t, err)
	status, a := h.do(t, http.MethodPost, "/deposit", payplussim.DefaultAPIKey, body(t, good, tok))
	require.Equal(t, http.StatusOK, status, a.Message)

	claims["amount"] = json.Number("1")
	tok, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(payplussim.DefaultAPIKey))
	require.NoError(t, err)
	bad := depositParams(h, "pay_lenient2")
	status, _ = h.do(t, http.MethodPost, "/deposit", payplussim.DefaultAPIKey, body(t, bad, tok))
	require.Equal(t, http.StatusBadRequest, status)
}

func TestDepositFieldRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		edit    func(payplus.Params)
		message string
	}{
		{func(p payplus.Params) { delete(p, "transactionId") }, "transactionId is required"},
		{func(p payplus.Params) { delete(p, "merchantId") }, "merchantId is required"},
		{func(p payplus.Params) { p["name"] = "" }, "name is required"},
		{func(p payplus.Params) { p["type"] = "CARD" }, "Invalid type"},
		{func(p payplus.Params) { p["bankName"] = "NOBANK" }, "Invalid bankName"},
		{func(p payplus.Params) { p["bankName"] = "UOB" }, "Invalid bankName"}, // listed, inactive
		{func(p payplus.Params) { p["amount"] = json.Number("10.001") }, "Invalid amount"},
		{func(p payplus.Params) { p["amount"] = json.Number("0") }, "Invalid amount"},
		{func(p payplus.Params) { p["amount"] = "1000" }, "Invalid amount"},
		{func(p payplus.Params) { p["callbackUrl"] = "not a url" }, "Invalid callbackUrl"},
	}
	for i, tt := range tests {
		p := depositParams(h, "pay_rule_"+strconv.Itoa(i))
		tt.edit(p)
		status, a := h.signed(t, "/deposit", payplussim.DefaultAPIKey, p)
		require.Equal(t, http.StatusBadRequest, status, tt.message)
		require.Equal(t, tt.message, a.Message)
	}
}

func TestWithdrawAndQueryAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	params := payplus.Params{
		"agent_order_no": "po_answer", "amount": json.Number("1000"), "bank_code": "SCB",
		"account_no": "9876543210", "account_name": "Jane Roe", "callback_url": h.cbSrv.URL,
		"timestamp": strconv.FormatInt(time.Now().Unix(), 10),
	}
	status, a := h.signed(t, "/withdraw", payplussim.DefaultAPIKey, params)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 200, a.Code)
	require.Equal(t, "Success", a.Message)
	w := decodeData(t, a.Data)
	require.Regexp(t, `^WD\d{10}[A-Z0-9]{6}$`, w["order_no"])
	delete(w, "order_no")
	require.Equal(t, map[string]any{
		"agent_order_no": "po_answer", "amount": json.Number("1000"), "fee": json.Number("15"),
		"transfer_amount": json.Number("985"), "status": "pending",
	}, w, "the documented example: fee 15, transfer 985")

	status, a = h.signed(t, "/order/query", payplussim.DefaultAPIKey, payplus.Params{"agent_order_no": "po_answer", "timestamp": now()})
	require.Equal(t, http.StatusOK, status)
	q := decodeData(t, a.Data)
	require.Equal(t, "pending", q["status"])
	require.Nil(t, q["completed_at"])
	require.Contains(t, q, "created_at")
	require.Equal(t, json.Number("15"), q["fee"])

	require.NoError(t, h.sim.CompletePayout(t.Context(), "po_answer"))
	status, a = h.signed(t, "/query", payplussim.DefaultAPIKey, payplus.Params{"order_no": q["order_no"], "timestamp": now()})
	require.Equal(t, http.StatusOK, status, "the /query variant is served too")
	q = decodeData(t, a.Data)
	require.Equal(t, "completed", q["status"])
	require.Equal(t, json.Number("985"), q["actual_amount"])
	require.NotNil(t, q["completed_at"])

	status, a = h.signed(t, "/order/query", payplussim.DefaultAPIKey, payplus.Params{"agent_order_no": "nope", "timestamp": now()})
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "Order not found", a.Message)
	status, _ = h.signed(t, "/order/query", payplussim.DefaultAPIKey, payplus.Params{"timestamp": now()})
	require.Equal(t, http.StatusBadRequest, status)
}

// Callbacks carry the documented fields, timestamp as a string, and a JWT
// whose claims are exactly the other fields.
func TestCallbackFormat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, _ := h.signed(t, "/deposit", payplussim.DefaultAPIKey, depositParams(h, "pay_cb"))
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, h.sim.PayLess(t.Context(), "pay_cb", 9500))
	got := h.received()
	require.Len(t, got, 1)

	f := decodeData(t, got[0])
	sig, ok := f["signature"].(string)
	require.True(t, ok)
	delete(f, "signature")
	ord, _ := h.sim.Order("pay_cb")
	require.Equal(t, map[string]any{
		"order_no": ord.OrderNo, "agent_order_no": "pay_cb", "type": "deposit",
		"amount": json.Number("1000"), "fee": json.Number("5"), "transfer_amount": json.Number("995"),
		"actual_amount": json.Number("900"), "status": "completed", "timestamp": f["timestamp"],
	}, f)
	_, isString := f["timestamp"].(string)
	require.True(t, isString, "the callback timestamp is a string, as documented")
	claims, err := payplus.VerifyToken(sig, payplussim.DefaultAPIKey)
	require.NoError(t, err)
	want, err := payplus.CanonicalJSON(payplus.Params(f))
	require.NoError(t, err)
	have, err := payplus.CanonicalJSON(claims)
	require.NoError(t, err)
	require.Equal(t, string(want), string(have))

	cbs := h.sim.Callbacks("pay_cb")
	require.Len(t, cbs, 1)
	require.True(t, cbs[0].Delivered)
	require.Equal(t, 1, cbs[0].Attempts)
	require.Equal(t, got[0], cbs[0].Body)

	again, err := h.sim.CallbackBody("pay_cb")
	require.NoError(t, err)
	require.Contains(t, string(again), `"status":"completed"`)

	bal, ok := h.sim.Balance(payplussim.DefaultMerchantID)
	require.True(t, ok)
	require.Equal(t, payplussim.DefaultBalance+90000, bal, "the actual amount is credited")
}

func TestExpireDue(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now()
	h := newHarness(t, payplussim.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }),
		payplussim.WithDepositTTL(time.Minute))
	status, _ := h.signed(t, "/deposit", payplussim.DefaultAPIKey, depositParams(h, "pay_exp"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 0, h.sim.ExpireDue(t.Context()))
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	require.Equal(t, 1, h.sim.ExpireDue(t.Context()))
	ord, _ := h.sim.Order("pay_exp")
	require.Equal(t, "expired", ord.Status)
	require.Len(t, h.received(), 1)
	require.Equal(t, 0, h.sim.ExpireDue(t.Context()))
}

func TestFaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	key := payplussim.DefaultAPIKey
	balance := func() int {
		status, _ := h.signed(t, "/balance", key, payplus.Params{"timestamp": now()})
		return status
	}
	h.sim.InjectFault(payplussim.Fault{Op: "balance", Status: 503, Times: 2})
	h.sim.InjectFault(payplussim.Fault{Op: "deposit", Status: 500}) // another op: untouched
	require.Equal(t, 503, balance())
	require.Equal(t, 503, balance())
	require.Equal(t, 200, balance())
	h.sim.ClearFaults()

	h.sim.InjectFault(payplussim.Fault{Op: "balance", Delay: 150 * time.Millisecond})
	start := time.Now()
	require.Equal(t, 200, balance())
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	h.sim.InjectFault(payplussim.Fault{Op: "deposit", AfterProcessing: true})
	status, a := h.signed(t, "/deposit", key, depositParams(h, "pay_fault"))
	require.Equal(t, 500, status)
	require.Equal(t, "Internal server error", a.Message)
	require.Equal(t, 1, h.sim.Charges("pay_fault"), "the work was done before the error")

	h.sim.InjectFault(payplussim.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+payplussim.DefaultPrefix+"/health", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorIs(t, err, context.DeadlineExceeded, "a hanging request never answers")
}

func TestIPWhitelistAndHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, payplussim.WithIPWhitelist("127.0.0.1"))
	status, _ := h.signed(t, "/balance", payplussim.DefaultAPIKey, payplus.Params{"timestamp": now()})
	require.Equal(t, http.StatusOK, status, "the test client connects from 127.0.0.1")

	h2 := newHarness(t, payplussim.WithIPWhitelist("203.0.113.7"))
	status, a := h2.signed(t, "/balance", payplussim.DefaultAPIKey, payplus.Params{"timestamp": now()})
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "IP not in whitelist", a.Message)

	status, a = h.do(t, http.MethodGet, "/health", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "OK", a.Message)
	status, _ = h.do(t, http.MethodGet, "/banks", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = h.do(t, http.MethodGet, "/nothing-here", "", nil)
	require.Equal(t, http.StatusNotFound, status)
}

// Close stops retrying callbacks nobody acknowledges.
func TestCloseStopsRetries(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(dead.Close)
	sim := payplussim.New(payplussim.WithCallbackRetry(10, time.Hour))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	h := &harness{sim: sim, srv: srv}
	p := depositParams(&harness{cbSrv: dead}, "pay_close")
	status, _ := h.signed(t, "/deposit", payplussim.DefaultAPIKey, p)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, sim.Decline(t.Context(), "pay_close"))
	done := make(chan struct{})
	go func() { sim.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close must stop callback retries")
	}
	cbs := sim.Callbacks("pay_close")
	require.Len(t, cbs, 1)
	require.Equal(t, 1, cbs[0].Attempts)
	require.False(t, cbs[0].Delivered)
	require.Contains(t, cbs[0].LastError, "502")
}

func TestSetBalanceAndOrderLookup(t *testing.T) {
	t.Parallel()
	sim := payplussim.New()
	t.Cleanup(sim.Close)
	require.True(t, sim.SetBalance(payplussim.DefaultMerchantID, 123))
	bal, ok := sim.Balance(payplussim.DefaultMerchantID)
	require.True(t, ok)
	require.Equal(t, int64(123), bal)
	require.False(t, sim.SetBalance("nobody", 1))
	_, ok = sim.Order("pay_nothing")
	require.False(t, ok)
	_, err := sim.CallbackBody("pay_nothing")
	require.ErrorIs(t, err, payment.ErrNotFound)
}
