package villa

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// seedOrder is the KBank order object of the qr-payments/kbank-order guide,
// verbatim.
const seedOrder = `{
"id": "order_test_222110adff3affb5844c497fa9c22366b5bc6",
"object": "order",
"created": "20250530205658833",
"livemode": false,
"amount": 300.0,
"currency": "THB",
"customer": null,
"description": "Order 492500004632",
"metadata": null,
"status": "success",
"reference_order": "4925000046321748613417.737979",
"source_type": "qr",
"additional_data": {
"term": null,
"mid": null,
"tid": null,
"smartpay_id": null,
"campaign_id": null
},
"failure_code": null,
"failure_message": null,
"expire_time_seconds": 3600
}`

func TestParseSeedOrder(t *testing.T) {
	t.Parallel()
	var o KBankOrder
	require.NoError(t, json.Unmarshal([]byte(seedOrder), &o))
	require.Equal(t, "order_test_222110adff3affb5844c497fa9c22366b5bc6", o.ID)
	require.Equal(t, "order", o.Object)
	// 2025-05-30 20:56:58.833 in Bangkok is 13:56:58.833 UTC.
	require.Equal(t, time.Date(2025, 5, 30, 13, 56, 58, 833_000_000, time.UTC), o.Created)
	require.False(t, o.Livemode)
	require.Equal(t, payment.Money{Amount: 30000, Currency: "THB"}, o.Amount)
	require.Equal(t, "Order 492500004632", o.Description)
	require.Equal(t, "success", o.Status)
	require.Equal(t, "4925000046321748613417.737979", o.ReferenceOrder)
	require.Equal(t, "qr", o.SourceType)
	require.Equal(t, KBankAdditionalData{}, o.AdditionalData)
	require.Empty(t, o.FailureCode)
	require.Empty(t, o.FailureMessage)
	require.Equal(t, int64(3600), o.ExpireTimeSeconds)
	require.False(t, o.Failed(), "status success means created")
	require.Equal(t, time.Date(2025, 5, 30, 14, 56, 58, 833_000_000, time.UTC), *o.ExpiresAt())
	require.Equal(t, "492500004632", orderFromReference(o.ReferenceOrder))

	// Created, not paid: as a fresh order it asks the customer to act.
	st := orderState("pay_1", payment.MethodQR, &o)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, &payment.Money{Amount: 30000, Currency: "THB"}, st.Amount)

	// As a checkstatus answer it is not paid either.
	os, err := parseOrderStatus([]byte(seedOrder))
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, os.PaymentStatus())
}

func TestKBankOrderQuirks(t *testing.T) {
	t.Parallel()
	var o KBankOrder
	require.NoError(t, json.Unmarshal([]byte(`{"id":"order_prod_1","object":"order","livemode":"true",
		"amount":"1000.50","currency":"thb","created":"20250101000000","status":"success",
		"additional_data":{"term":10,"mid":"401","tid":"7001","smartpay_id":"0001","campaign_id":null},
		"expire_time_seconds":"600","qr_code":"000201"}`), &o))
	require.True(t, o.Livemode, "livemode may be the string \"true\"")
	require.Equal(t, payment.Money{Amount: 100050, Currency: "THB"}, o.Amount)
	require.Equal(t, time.Date(2024, 12, 31, 17, 0, 0, 0, time.UTC), o.Created)
	require.Equal(t, KBankAdditionalData{Term: "10", MID: "401", TID: "7001", SmartpayID: "0001"}, o.AdditionalData)
	require.Equal(t, int64(600), o.ExpireTimeSeconds)
	require.Equal(t, "000201", o.QRCode)

	for _, bad := range []string{
		`{"amount":300.001}`, `{"amount":3e2}`, `{"amount":"abc"}`, `{"created":"2025053020565883"}`,
		`{"created":"2025133020565883x"}`, `[1]`, `{"id":1}{}`,
	} {
		require.Error(t, json.Unmarshal([]byte(bad), &o), bad)
	}
}

func TestKBankTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20250530205658833", time.Date(2025, 5, 30, 13, 56, 58, 833e6, time.UTC), true},
		{"20250530205658", time.Date(2025, 5, 30, 13, 56, 58, 0, time.UTC), true},
		{"20250101030000000", time.Date(2024, 12, 31, 20, 0, 0, 0, time.UTC), true},
		{"2025053020565883", time.Time{}, false},
		{"20251330205658833", time.Time{}, false},
		{"2025-05-30T20:56:58", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range cases {
		got, err := ParseKBankTime(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		if len(tc.in) == 17 {
			require.Equal(t, tc.in, FormatKBankTime(got), "round trip")
		}
	}
}

func TestAmounts(t *testing.T) {
	t.Parallel()
	format := []struct {
		minor int64
		want  string
	}{
		{100000, "1000.00"}, {1, "0.01"}, {30000, "300.00"}, {999_999_999_999, "9999999999.99"}, {12345, "123.45"},
	}
	for _, tc := range format {
		got, err := FormatAmount(payment.Money{Amount: tc.minor, Currency: "THB"})
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	_, err := FormatAmount(payment.Money{Amount: 1, Currency: "thb"})
	require.Error(t, err)

	parse := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`1000.00`, 100000, true},
		{`300.0`, 30000, true},
		{`300`, 30000, true},
		{`"1000.5"`, 100050, true},
		{`0.1`, 10, true},
		{`1000.001`, 0, false},
		{`1e3`, 0, false},
		{`-1`, -100, true},
		{`null`, 0, false},
		{`"x"`, 0, false},
		{`true`, 0, false},
		{`99999999999999999999`, 0, false},
		{`1000.000`, 100000, true},
	}
	for _, tc := range parse {
		m, err := ParseAmount(json.RawMessage(tc.raw), "THB")
		if !tc.ok {
			require.Error(t, err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		require.Equal(t, payment.Money{Amount: tc.want, Currency: "THB"}, m, tc.raw)
	}
}

// TestKBankChecksumVector is the worked example of the protocol notes.
func TestKBankChecksumVector(t *testing.T) {
	t.Parallel()
	got, err := KBankChecksum("chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
		payment.Money{Amount: 10000, Currency: "THB"}, "success", "Authorized", "skey_test_21234abcdEXAMPLE")
	require.NoError(t, err)
	require.Equal(t, "9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703", got)

	body := []byte(`{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100,
		"currency":"THB","status":"success","transaction_state":"Authorized",
		"checksum":"9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703"}`)
	ch, err := VerifyKBankNotify(body, "skey_test_21234abcdEXAMPLE")
	require.NoError(t, err)
	require.Equal(t, payment.Money{Amount: 10000, Currency: "THB"}, ch.Amount)

	_, err = VerifyKBankNotify(body, "skey_test_other")
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	for _, tampered := range []string{
		`{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100.01,"currency":"THB","status":"success","transaction_state":"Authorized","checksum":"9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703"}`,
		`{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100,"currency":"THB","status":"success","transaction_state":"Declined","checksum":"9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703"}`,
		`{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100,"currency":"THB","status":"error","transaction_state":"Authorized","checksum":"9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703"}`,
		`{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100,"currency":"THB","status":"success","transaction_state":"Authorized"}`,
	} {
		_, err := VerifyKBankNotify([]byte(tampered), "skey_test_21234abcdEXAMPLE")
		require.ErrorIs(t, err, payment.ErrInvalidSignature, tampered)
	}
}

func TestDecodeResponse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		status     int
		body       string
		payload    string
		errStatus  int
		errCode    string
		errMessage string
		duplicate  bool
		malformed  bool
	}{
		{name: "envelope", status: 200, body: `{"statusCode":200,"body":{"id":"x"}}`, payload: `{"id":"x"}`},
		{name: "raw", status: 200, body: `{"id":"x","object":"order"}`, payload: `{"id":"x","object":"order"}`},
		{name: "envelope error", status: 400, body: `{"statusCode":400,"body":{"error":"Invalid input parameters","code":"INVALID_INPUT","details":{"field":"amount"}}}`, errStatus: 400, errCode: "INVALID_INPUT", errMessage: "Invalid input parameters"},
		{name: "envelope error under HTTP 200", status: 200, body: `{"statusCode":404,"body":{"error":"order not found","code":"NOT_FOUND"}}`, errStatus: 404, errCode: "NOT_FOUND", errMessage: "order not found"},
		{name: "envelope duplicate", status: 400, body: `{"statusCode":400,"body":{"error":"exists","code":"INVALID_INPUT","details":{"reason":"duplicate_order"}}}`, errStatus: 400, errCode: "INVALID_INPUT", errMessage: "exists", duplicate: true},
		{name: "guide error", status: 400, body: `{"error":{"code":"missing_field","message":"orderid is required"}}`, errStatus: 400, errCode: "missing_field", errMessage: "orderid is required"},
		{name: "guide duplicate", status: 400, body: `{"error":{"code":"duplicate_order","message":"exists"}}`, errStatus: 400, errCode: "duplicate_order", errMessage: "exists", duplicate: true},
		{name: "kbank error", status: 400, body: `{"object":"error","code":"invalid_amount","message":"Invalid payment amount."}`, errStatus: 400, errCode: "invalid_amount", errMessage: "Invalid payment amount."},
		{name: "conflict", status: 409, body: ``, errStatus: 409, duplicate: true},
		{name: "html 502", status: 502, body: `<html>bad gateway</html>`, errStatus: 502},
		{name: "string body", status: 200, body: `{"statusCode":200,"body":"{\"id\":\"y\"}"}`, payload: `{"id":"y"}`},
		{name: "malformed 200", status: 200, body: `{"id":`, malformed: true},
		{name: "empty 200", status: 200, body: ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload, ae, err := decodeResponse(tc.status, []byte(tc.body))
			if tc.malformed {
				require.ErrorIs(t, err, errMalformed)
				return
			}
			require.NoError(t, err)
			if tc.errStatus == 0 {
				require.Nil(t, ae)
				if tc.payload != "" {
					require.JSONEq(t, tc.payload, string(payload))
				}
				return
			}
			require.NotNil(t, ae)
			require.Equal(t, tc.errStatus, ae.status)
			require.Equal(t, tc.errCode, ae.code)
			require.Equal(t, tc.errMessage, ae.message)
			require.Equal(t, tc.duplicate, ae.duplicate())
		})
	}
}

// TestErrorCodes maps every documented error code.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code      string
		status    int
		retryable bool
		is        error
	}{
		{CodeInvalidInput, 400, false, payment.ErrInvalidInput},
		{"invalid_input", 400, false, payment.ErrInvalidInput},
		{CodeMissingField, 400, false, payment.ErrInvalidInput},
		{"missing_field", 400, false, payment.ErrInvalidInput},
		{"invalid_amount", 400, false, payment.ErrInvalidInput},
		{CodeUnauthorized, 401, false, nil},
		{CodeForbidden, 403, false, nil},
		{CodeNotFound, 404, false, payment.ErrNotFound},
		{CodeRateLimited, 429, true, nil},
		{CodeInternalError, 500, true, payment.ErrUnavailable},
		{CodeServiceUnavailable, 503, true, payment.ErrUnavailable},
		{"", 502, true, payment.ErrUnavailable},
		{"", 504, true, payment.ErrUnavailable},
		{"", 404, false, payment.ErrNotFound},
		{"", 400, false, payment.ErrInvalidInput},
		{"", 429, true, nil},
		{"SOMETHING_NEW", 418, false, nil},
	}
	for _, tc := range cases {
		ae := &apiError{status: tc.status, code: tc.code, message: "msg with tokn_secret_value inside"}
		pe := ae.providerError("start", "tokn_secret_value")
		require.Equal(t, Name, pe.Provider)
		require.Equal(t, "start", pe.Op)
		require.Equal(t, tc.retryable, pe.Retryable, "%s %d", tc.code, tc.status)
		require.Equal(t, tc.retryable, payment.IsRetryable(pe), "%s %d", tc.code, tc.status)
		require.ErrorIs(t, pe, payment.ErrProvider)
		if tc.is != nil {
			require.ErrorIs(t, pe, tc.is, "%s %d", tc.code, tc.status)
		}
		require.NotContains(t, pe.Error(), "tokn_secret_value", "secrets are redacted")
		require.NotEmpty(t, pe.Code)
		require.Equal(t, tc.retryable, ae.retryable())
	}
	require.Equal(t, "HTTP_BAD_GATEWAY", (&apiError{status: http.StatusBadGateway}).providerError("sync").Code)
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	villa := []struct {
		in   string
		want payment.Status
	}{
		{"paid", payment.StatusSucceeded},
		{"PAID", payment.StatusSucceeded},
		{"completed", payment.StatusSucceeded},
		{"pending", payment.StatusRequiresAction},
		{"processing", payment.StatusProcessing},
		{"failed", payment.StatusFailed},
		{"declined", payment.StatusFailed},
		{"expired", payment.StatusExpired},
		{"cancelled", payment.StatusCanceled},
		{"canceled", payment.StatusCanceled},
		{"refunded", payment.StatusRefunded},
		{"partially_refunded", payment.StatusPartiallyRefunded},
	}
	for _, tc := range villa {
		got, ok := villaState(tc.in)
		require.True(t, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, unknown := range []string{"", "success", "whatever"} {
		_, ok := villaState(unknown)
		require.False(t, ok, "%q is not a Villa status the provider trusts", unknown)
	}
	kbank := []struct {
		in   string
		want payment.Status
	}{
		{"Authorized", payment.StatusSucceeded},
		{"Auhtorized", payment.StatusSucceeded},
		{"Settled", payment.StatusSucceeded},
		{"Pre-Authorized", payment.StatusRequiresAction},
		{"Reversed - Pre-Authorized", payment.StatusRequiresAction},
		{"Declined", payment.StatusFailed},
		{"Voided", payment.StatusCanceled},
		{"Expired", payment.StatusExpired},
	}
	for _, tc := range kbank {
		got, ok := kbankState(tc.in)
		require.True(t, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}

	// Precedence: Villa's status, then KBank's state, then processing.
	cases := []struct {
		os   OrderStatus
		want payment.Status
	}{
		{OrderStatus{Status: "paid", TransactionState: "Pre-Authorized"}, payment.StatusSucceeded},
		{OrderStatus{Status: "success", TransactionState: "Authorized"}, payment.StatusSucceeded},
		{OrderStatus{Status: "success"}, payment.StatusProcessing},
		{OrderStatus{Status: "success", kbankObject: true}, payment.StatusRequiresAction},
		{OrderStatus{Status: "error", kbankObject: true}, payment.StatusFailed},
		{OrderStatus{Status: "mystery", TransactionState: "mystery"}, payment.StatusProcessing},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.os.PaymentStatus(), "%+v", tc.os)
	}
}

func TestOrderStatusState(t *testing.T) {
	t.Parallel()
	os, err := parseOrderStatus([]byte(`{"orderId":"pay_1","status":"pending","amount":1000.00,"currency":"THB",
		"source_type":"card","chargeId":"chrg_test_1","transaction_state":"Pre-Authorized",
		"redirect_url":"https://kbank.example/3ds","created":"20250530205658833","expire_time_seconds":60,
		"source":{"brand":"VISA","card_masking":"411111XXXXXX1111"}}`))
	require.NoError(t, err)
	st := os.State(payment.MethodCard)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, &payment.NextAction{Type: payment.NextActionRedirect, URL: "https://kbank.example/3ds"}, st.NextAction)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, st.Amount)
	require.Equal(t, &payment.CardSummary{Brand: "visa", Last4: "1111"}, st.Card)
	require.Equal(t, time.Date(2025, 5, 30, 13, 57, 58, 833e6, time.UTC), *st.ExpiresAt)
	require.Equal(t, "pay_1", st.ProviderReference)

	os, err = parseOrderStatus([]byte(`{"orderId":"pay_2","status":"failed","amount":"10","failure_code":"insufficient_funds","failure_message":"no money"}`))
	require.NoError(t, err)
	st = os.State(payment.MethodCard)
	require.Equal(t, payment.StatusFailed, st.Status)
	require.Equal(t, &payment.Failure{Code: payment.FailureInsufficientFunds, Message: "no money"}, st.Failure)

	os, err = parseOrderStatus([]byte(`{"data":{"orderId":"pay_3","status":"pending","qr_code":"0002"}}`))
	require.NoError(t, err)
	st = os.State(payment.MethodQR)
	require.Equal(t, "pay_3", os.OrderID)
	require.Equal(t, payment.NextActionDisplayQR, st.NextAction.Type)
	require.Equal(t, "0002", st.NextAction.QRCode)

	os, err = parseOrderStatus([]byte(`{"id":"chrg_test_9","object":"charge","amount":10,"currency":"THB","status":"success","transaction_state":"Authorized","reference_order":"pay_91748613417.737979"}`))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, os.PaymentStatus())
	require.Equal(t, "chrg_test_9", os.ChargeID)

	_, err = parseOrderStatus([]byte(`{"orderId":"pay_1","amount":1.001}`))
	require.Error(t, err)
}

func TestChargeState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		body    string
		status  payment.Status
		failure string
	}{
		{"authorized", `{"id":"c","object":"charge","amount":10.00,"currency":"THB","status":"success","transaction_state":"Authorized"}`, payment.StatusSucceeded, ""},
		{"3ds", `{"id":"c","object":"charge","amount":10.00,"status":"success","transaction_state":"Pre-Authorized","redirect_url":"https://x.example/3ds"}`, payment.StatusRequiresAction, ""},
		{"3ds without url", `{"id":"c","object":"charge","amount":10.00,"status":"success","transaction_state":"Pre-Authorized"}`, payment.StatusProcessing, ""},
		{"declined", `{"id":"c","object":"charge","amount":10.00,"status":"error","transaction_state":"Declined","failure_code":"card_declined","failure_message":"Declined"}`, payment.StatusFailed, payment.FailureCardDeclined},
		{"declined no code", `{"id":"c","object":"charge","amount":10.00,"status":"success","transaction_state":"Declined"}`, payment.StatusFailed, payment.FailureCardDeclined},
		{"error object", `{"object":"error","code":"insufficient_fund","message":"Insufficient funds"}`, payment.StatusFailed, payment.FailureInsufficientFunds},
		{"unknown state", `{"id":"c","object":"charge","amount":10.00,"status":"success","transaction_state":"Strange"}`, payment.StatusProcessing, ""},
	}
	for _, tc := range cases {
		var ch KBankCharge
		require.NoError(t, json.Unmarshal([]byte(tc.body), &ch), tc.name)
		st := chargeState("pay_1", &ch)
		require.Equal(t, tc.status, st.Status, tc.name)
		require.Equal(t, "pay_1", st.ProviderReference, tc.name)
		if tc.failure != "" {
			require.Equal(t, tc.failure, st.Failure.Code, tc.name)
		}
	}
}

func TestOrderFromReference(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"4925000046321748613417.737979":      "492500004632",
		"pay_01JD3ABCDEFGH1748613417.737979": "pay_01JD3ABCDEFGH",
		"pay_01JD3ABCDEFGH1748613417.7":      "pay_01JD3ABCDEFGH",
		"1748613417.737979":                  "",
		"pay_1":                              "",
		"pay_1748613417.":                    "",
		"pay_x174861341a.737979":             "",
		"":                                   "",
	}
	for in, want := range cases {
		require.Equal(t, want, orderFromReference(in), in)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"2", 2 * time.Second, true},
		{" 10 ", 10 * time.Second, true},
		{"Wed, 01 Jan 2025 00:00:05 GMT", 5 * time.Second, true},
		{"Tue, 31 Dec 2024 23:00:00 GMT", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"999999999", 24 * time.Hour, true},
	}
	for _, tc := range cases {
		got, ok := retryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestFailureFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method    payment.Method
		code, msg string
		want      string
	}{
		{payment.MethodCard, "", "", payment.FailureCardDeclined},
		{payment.MethodCard, "05", "Do not honour", payment.FailureCardDeclined},
		{payment.MethodCard, "51", "Insufficient funds", payment.FailureInsufficientFunds},
		{payment.MethodQR, "", "", payment.FailureProviderError},
		{payment.MethodQR, "payment_rejected", "rejected", "payment_rejected"},
		{payment.MethodQR, "order_expired", "", payment.FailureExpired},
	}
	for _, tc := range cases {
		f := failureFor(tc.method, tc.code, tc.msg)
		require.Equal(t, tc.want, f.Code, "%+v", tc)
		require.NotEmpty(t, f.Message)
	}
}

func TestValidOrderID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"pay_01JD3ABCDEFGHJKMNPQRSTVWXY": true, "482500007436": true, "a-b.c_d": true,
		"": false, "../x": false, "a/b": false, "a b": false, "é": false,
		"0123456789012345678901234567890123456789012345678901234567890123":  true,
		"01234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		require.Equal(t, want, validOrderID(s), s)
	}
}

func TestParseQuote(t *testing.T) {
	t.Parallel()
	asked := payment.Money{Amount: 100000, Currency: "THB"}
	q, err := parseQuote([]byte(`{"subtotal":"1000","fees":8,"totalAmount":1008.00,
		"installments":[{"months":4,"monthly":252}]}`), asked)
	require.NoError(t, err)
	require.Equal(t, &payment.Quote{
		Amount: 100000, Currency: "THB", Fee: 800, CustomerPays: 100800,
		Installments: []payment.Installment{{Count: 4, Total: 100800, PerInstallment: 25200}},
	}, q)

	q, err = parseQuote([]byte(`{"fee":0.5,"installments":[{"term":3}]}`), asked)
	require.NoError(t, err)
	require.Equal(t, int64(100000), q.CustomerPays, "no total: the customer pays the amount")
	require.Equal(t, []payment.Installment{{Count: 3, Total: 100000, PerInstallment: 33333}}, q.Installments)

	for _, bad := range []string{
		`{"fee":0.001}`, `{"total":"x"}`, `{"amount":1e3}`, `{"installments":{}}`,
		`{"installments":[{"term":0}]}`, `{"installments":[{"term":3,"total":1.001}]}`,
		`{"installments":[{"term":3,"amountPerTerm":"?"}]}`, `{"installments":[1]}`, `[]`,
	} {
		_, err := parseQuote([]byte(bad), asked)
		require.Error(t, err, bad)
	}
}

func TestJWTExpiry(t *testing.T) {
	t.Parallel()
	// {"alg":"none"}.{"exp":1735689600}. (2025-01-01T00:00:00Z)
	tok := "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MzU2ODk2MDB9."
	require.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), jwtExpiry(tok))
	require.True(t, jwtExpiry("not-a-jwt").IsZero())
	require.True(t, jwtExpiry("eyJhbGciOiJub25lIn0.e30.").IsZero(), "no exp claim")
}
