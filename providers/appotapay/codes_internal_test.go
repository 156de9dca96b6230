package appotapay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// Every code of the documented tables (e-wallet, gateway v2, refund).
func TestClassifyEveryDocumentedCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		want codeKind
	}{
		{1, kindInvalid},
		{2, kindInvalid},
		{21, kindWrongOTP},
		{22, kindExpired},
		{30, kindDuplicate},
		{31, kindDuplicate},
		{32, kindInvalid},
		{33, kindDecline},
		{34, kindPending},
		{35, kindPending},
		{36, kindNotFound},
		{39, kindDecline},
		{40, kindAlreadyRefunded},
		{41, kindAlreadySucceeded},
		{42, kindWrongOTP},
		{52, kindInvalid},
		{65, kindDecline},
		{70, kindDecline},
		{75, kindDecline},
		{84, kindDecline},
		{90, kindInvalid},
		{93, kindNotRefundable},
		{94, kindPending},
		{99, kindPending},
		{106, kindNotRefundable},
		{125, kindNotRefundable},
		{129, kindTryLater},
		{135, kindNotRefundable},
		{140, kindInvalid},
		{141, kindInvalid},
		{162, kindDecline},
		{401, kindAuth},
		{500, kindPending},
		{12345, kindUnknown},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, classify(tt.code), "code %d", tt.code)
		if tt.want != kindUnknown {
			require.NotContains(t, codeMessage(tt.code), "undocumented", "code %d needs a message", tt.code)
		}
	}
}

// 34, 94, 99 and 500 are unknown outcomes: retryable, never failed.
func TestPendingCodesAreNeverFailed(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	for _, code := range []int{34, 94, 99, 500} {
		ve := &vendorError{HTTPStatus: 400, Code: code, HasCode: true}
		require.True(t, ve.retryable(), "code %d", code)
		pe := ve.providerError("start", nil)
		require.True(t, payment.IsRetryable(pe), "code %d", code)

		st := p.state(&txnBody{TransactionID: "AP1", Status: "error", ErrorCode: flexInt{int64(code), true}}, nil)
		require.Equal(t, payment.StatusProcessing, st.Status, "status error with code %d", code)
		require.Nil(t, st.Failure)
	}
	for _, code := range []int{1, 2, 32, 52, 140, 401} {
		ve := &vendorError{HTTPStatus: 400, Code: code, HasCode: true}
		require.False(t, payment.IsRetryable(ve.providerError("start", nil)), "code %d", code)
	}
}

func TestVendorErrorWithoutCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		retryable bool
	}{
		{500, true},
		{502, true},
		{503, true},
		{504, true},
		{429, true},
		{408, true},
		{400, false},
		{404, false},
		{403, false},
	}
	for _, tt := range tests {
		ve := parseVendorError(tt.status, []byte("<html>oops</html>"))
		require.False(t, ve.HasCode)
		require.Equal(t, tt.retryable, ve.retryable(), "HTTP %d", tt.status)
		pe := ve.providerError("sync", nil)
		require.Equal(t, tt.retryable, pe.Retryable, "HTTP %d", tt.status)
	}
}

func TestParseVendorErrorCodeAsStringOrNumber(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"errorCode":30,"message":"dup"}`,
		`{"errorCode":"30","message":"dup"}`,
	} {
		ve := parseVendorError(400, []byte(body))
		require.True(t, ve.HasCode, body)
		require.Equal(t, 30, ve.Code, body)
		require.Equal(t, "dup", ve.Message)
	}
	ve := parseVendorError(400, []byte(`{"errorCode":1,"message":"Invalid Params","errors":[{"field":"transaction.amount","reason":"Field amount is required"}]}`))
	pe := ve.providerError("start", nil)
	require.Contains(t, pe.Message, "transaction.amount")
	require.ErrorIs(t, pe, payment.ErrInvalidInput)
}

func TestStateMapping(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	code := func(c int64) flexInt { return flexInt{c, true} }
	tests := []struct {
		name    string
		txn     txnBody
		want    payment.Status
		failure string
		action  string
	}{
		{"success", txnBody{Status: "success", Amount: code(120000)}, payment.StatusSucceeded, "", ""},
		{"success upper case", txnBody{Status: "SUCCESS"}, payment.StatusSucceeded, "", ""},
		{"otp", txnBody{Status: "pending", VerificationMethod: "OTP"}, payment.StatusRequiresAction, "", payment.NextActionOTP},
		{"pending no otp", txnBody{Status: "pending", VerificationMethod: "NONE"}, payment.StatusProcessing, "", ""},
		{"processing 34", txnBody{Status: "processing", ErrorCode: code(34)}, payment.StatusProcessing, "", ""},
		{"insufficient", txnBody{Status: "error", ErrorCode: code(75)}, payment.StatusFailed, payment.FailureInsufficientFunds, ""},
		{"failed 33", txnBody{Status: "error", ErrorCode: code(33)}, payment.StatusFailed, "appotapay_33", ""},
		{"otp expired", txnBody{Status: "error", ErrorCode: code(22)}, payment.StatusExpired, payment.FailureExpired, ""},
		{"error no code", txnBody{Status: "error"}, payment.StatusFailed, payment.FailureProviderError, ""},
		{"error undocumented code", txnBody{Status: "error", ErrorCode: code(777)}, payment.StatusFailed, payment.FailureProviderError, ""},
		{"maintenance 94", txnBody{Status: "error", ErrorCode: code(94)}, payment.StatusProcessing, "", ""},
		{"void", txnBody{Status: "void"}, payment.StatusCanceled, payment.FailureCanceled, ""},
		{"undocumented status", txnBody{Status: "weird"}, payment.StatusProcessing, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tx := tt.txn
			tx.TransactionID = "AP9"
			st := p.state(&tx, nil)
			require.Equal(t, tt.want, st.Status)
			require.Equal(t, "AP9", st.ProviderReference)
			if tt.failure == "" {
				require.Nil(t, st.Failure)
			} else {
				require.NotNil(t, st.Failure)
				require.Equal(t, tt.failure, st.Failure.Code)
			}
			if tt.action == "" {
				require.Nil(t, st.NextAction)
			} else {
				require.Equal(t, tt.action, st.NextAction.Type)
			}
		})
	}
}

func TestStateKeepsNextActionWhileWaiting(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	pay := &payment.Payment{
		ID: "pay_1", Status: payment.StatusRequiresAction,
		NextAction: &payment.NextAction{Type: payment.NextActionRedirect, URL: "https://pay.example/x"},
	}
	st := p.state(&txnBody{TransactionID: "AP1", Status: "pending"}, pay)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, "https://pay.example/x", st.NextAction.URL)

	// From the in-memory cache when the record has none yet.
	p.actions.put("pay_2", payment.NextAction{Type: payment.NextActionRedirect, URL: "https://pay.example/y"}, p.now(), time.Minute)
	st = p.state(&txnBody{TransactionID: "AP2", Status: "pending"}, &payment.Payment{ID: "pay_2", Status: payment.StatusPending})
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, "https://pay.example/y", st.NextAction.URL)
}

func TestFlexInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want flexInt
		err  bool
	}{
		{`10000`, flexInt{10000, true}, false},
		{`"10000"`, flexInt{10000, true}, false},
		{`10000.0`, flexInt{10000, true}, false},
		{`null`, flexInt{}, false},
		{`""`, flexInt{}, false},
		{`10000.5`, flexInt{}, true},
		{`1e4`, flexInt{}, true},
		{`"abc"`, flexInt{}, true},
		{`99999999999999999999`, flexInt{}, true},
	}
	for _, tt := range tests {
		var got flexInt
		err := json.Unmarshal([]byte(tt.in), &got)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestTTLCacheExpires(t *testing.T) {
	t.Parallel()
	c := newTTLCache[string]()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.put("a", "x", t0, time.Minute)
	v, ok := c.get("a", t0.Add(59*time.Second))
	require.True(t, ok)
	require.Equal(t, "x", v)
	_, ok = c.get("a", t0.Add(time.Minute))
	require.False(t, ok)
	c.put("b", "y", t0.Add(2*time.Minute), time.Minute) // prunes a
	c.mu.Lock()
	_, still := c.m["a"]
	c.mu.Unlock()
	require.False(t, still)
	c.del("b")
	_, ok = c.get("b", t0.Add(2*time.Minute))
	require.False(t, ok)
}

func newTestProvider(t testing.TB) *Provider {
	t.Helper()
	p, err := New(Config{PartnerCode: "TEST", APIKey: "key", SecretKey: "secret"})
	require.NoError(t, err)
	return p
}
