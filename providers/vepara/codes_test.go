package vepara_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// scripted is a platform that answers the sale and checkstatus with fixed
// bodies.
func scripted(t *testing.T, saleStatus int, sale, status string) *vepara.Provider {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/token":
			_, _ = w.Write([]byte(`{"status":"success","data":{"token":"t","is_3d":1,"expired_at":""}}`))
		case "/api/paySmart2D":
			w.WriteHeader(saleStatus)
			_, _ = w.Write([]byte(sale))
		case "/api/checkstatus":
			_, _ = w.Write([]byte(status))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"}, vepara.WithBaseURL(srv.URL))
	require.NoError(t, err)
	return p
}

const completedStatus = `{"status_code":100,"transaction_status":"Completed","order_id":162435932934307,"product_price":"1","transaction_type":"Auth"}`

func TestSaleStatusCodeTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		httpStatus int
		sale       string
		status     string
		want       payment.Status // empty: an error is expected
		failure    string
		code       string
		retryable  bool
		cause      error
	}{
		{"100 in data", 200, `{"status_code":100,"data":{"order_no":"77","order_id":"77","payment_status":1,"transaction_type":"Auth","amount":1}}`, "", payment.StatusSucceeded, "", "", false, nil},
		{"100 pre-authorization", 200, `{"status_code":100,"data":{"order_id":77,"payment_status":"1","transaction_type":"Pre-Authorization"}}`, "", payment.StatusAuthorized, "", "", false, nil},
		{"100 but payment_status 0", 200, `{"status_code":100,"data":{"order_id":77,"payment_status":0,"error":"Do not honour"}}`, "", payment.StatusFailed, payment.FailureCardDeclined, "", false, nil},
		{"100 without an order id asks checkstatus", 200, `{"status_code":100}`, completedStatus, payment.StatusSucceeded, "", "", false, nil},
		{"41 with bank code 51", 200, `{"status_code":41,"status_description":"Payment failed","data":{"order_id":9,"payment_status":0,"original_bank_error_code":"51","original_bank_error_description":"Insufficient funds"}}`, "", payment.StatusFailed, payment.FailureInsufficientFunds, "", false, nil},
		{"45 daily limit", 400, `{"status_code":45,"status_description":"Daily limit"}`, "", payment.StatusFailed, "limit_exceeded", "", false, nil},
		{"76 foreign card", 400, `{"status_code":76}`, "", payment.StatusFailed, payment.FailureCardDeclined, "", false, nil},
		{"69 not processed yet", 200, `{"status_code":69,"order_id":5}`, "", payment.StatusProcessing, "", "", false, nil},
		{"99 unknown error", 400, `{"status_code":99}`, "", payment.StatusProcessing, "", "", false, nil},
		{"117 already processed asks checkstatus", 400, `{"status_code":117}`, completedStatus, payment.StatusSucceeded, "", "", false, nil},
		{"3 and checkstatus down", 400, `{"status_code":3}`, `not json`, "", "", "http_200", true, nil},
		{"14 invalid merchant key", 400, `{"status_code":14,"status_description":"Invalid merchant key or merchant is not active."}`, "", "", "", "14", false, nil},
		{"68 hash total mismatch", 400, `{"status_code":68}`, "", "", "", "68", false, nil},
		{"90 invalid hash", 400, `{"status_code":"90","status_description":"Invalid hash key"}`, "", "", "", "90", false, nil},
		{"13 items total", 400, `{"status_code":13}`, "", "", "", "13", false, payment.ErrInvalidInput},
		{"34 2D not allowed", 400, `{"status_code":34}`, "", "", "", "34", false, nil},
		{"no status code on a 2xx asks checkstatus", 200, `{"message":"ok"}`, completedStatus, payment.StatusSucceeded, "", "", false, nil},
		{"no status code on a 400", 400, `{"message":"Bad request"}`, "", "", "", "http_400", false, nil},
		{"HTML on a 404", 404, `<html>not found</html>`, "", "", "", "http_404", false, nil},
		{"503", 503, `{}`, "", "", "", "http_503", true, payment.ErrUnavailable},
		{"429", 429, `{}`, "", "", "", "429", true, payment.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := scripted(t, tt.httpStatus, tt.sale, tt.status)
			st, err := p.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
			if tt.want == "" {
				require.Error(t, err)
				pe := providerErr(t, err)
				require.Equal(t, tt.code, pe.Code)
				require.Equal(t, tt.retryable, pe.Retryable)
				if tt.cause != nil {
					require.ErrorIs(t, err, tt.cause)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, st.Status)
			require.NotEmpty(t, st.ProviderReference)
			if tt.failure != "" {
				require.Equal(t, tt.failure, st.Failure.Code)
			}
		})
	}
}

func TestSyncStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want payment.Status
	}{
		{`{"status_code":100,"transaction_status":"Completed","order_id":1,"transaction_type":"Auth"}`, payment.StatusSucceeded},
		{`{"status_code":100,"transaction_status":"Completed","order_id":1,"transaction_type":"Pre-Authorization"}`, payment.StatusAuthorized},
		{`{"status_code":100,"transaction_status":"Pre-Authorization","order_id":1}`, payment.StatusAuthorized},
		{`{"status_code":100,"transaction_status":"Completed","order_id":1,"transaction_type":"Post-Authorization"}`, payment.StatusSucceeded},
		{`{"status_code":100,"transaction_status":"Partial Refunded","order_id":1}`, payment.StatusSucceeded},
		{`{"status_code":100,"transaction_status":"Refunded","order_id":1}`, payment.StatusSucceeded},
		{`{"status_code":100,"transaction_status":"Pending","order_id":1}`, payment.StatusProcessing},
		{`{"status_code":100,"transaction_status":"Unknown","order_id":1}`, payment.StatusProcessing},
		{`{"status_code":100,"transaction_status":"Something new","order_id":1}`, payment.StatusProcessing},
		{`{"status_code":100,"transaction_status":"Voided","order_id":1}`, payment.StatusCanceled},
		{`{"status_code":100,"transaction_status":"Failed","order_id":1}`, payment.StatusFailed},
		{`{"status_code":41,"transaction_status":"Failed","order_id":1}`, payment.StatusFailed},
		{`{"status_code":69,"order_id":1}`, payment.StatusProcessing},
	}
	for _, tt := range tests {
		p := scripted(t, 200, "", tt.body)
		st, err := p.Sync(t.Context(), cardCheckout(veparasim.CardApprove, 100).Payment)
		require.NoError(t, err, tt.body)
		require.Equal(t, tt.want, st.Status, tt.body)
		require.Equal(t, "1", st.ProviderReference)
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "order failed", vepara.StatusText(41))
	require.Equal(t, "invalid hash key", vepara.StatusText(90))
	require.Equal(t, "hash key and total mismatch", vepara.StatusText(68))
	require.Equal(t, "merchant not found (invalid merchant key) or not active", vepara.StatusText(14))
	require.Empty(t, vepara.StatusText(12345))
}
