package appotapay_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/appotapay"
)

// vendorIPNData is the data of the vendor's IPN example (docs
// /payment/result), verbatim: PHP json_encode output with a tokenResult
// JSON string. The vendor's signature uses a key we do not have, so tests
// sign it with theirs.
const vendorIPNData = "eyJ0cmFuc2FjdGlvbiI6eyJ0cmFuc2FjdGlvbklkIjoiQVAyNDE0NTMyMTM3NDAiLCJyZWNvbmNpbGlhdGlvbklkIjoiQVAyNDE0NTMyMTM3NDAiLCJwYXJ0bmVyQ29kZSI6IkNQTSIsInN0YXR1cyI6InN1Y2Nlc3MiLCJlcnJvckNvZGUiOjAsImVycm9yTWVzc2FnZSI6IlRoXHUwMGUwbmggY1x1MDBmNG5nIiwib3JkZXJBbW91bnQiOjEwMDAwLCJhbW91bnQiOjEwMDAwLCJkaXNjb3VudEFtb3VudCI6MCwiY3VycmVuY3kiOiJWTkQiLCJiYW5rQ29kZSI6IlNBSUdPTkJBTksiLCJwYXltZW50TWV0aG9kIjoiQVRNIiwiYWN0aW9uIjoiUEFZX1dJVEhfUkVUVVJOX1RPS0VOIiwiY2xpZW50SXAiOiIxMTguNzAuOS42IiwidmVyc2lvbiI6IjIuMCIsImZlZSI6eyJjdXN0b21lcl9mZWUiOjB9LCJjcmVhdGVkQXQiOiIyMDI0LTA5LTExVDExOjMyOjE2KzA3OjAwIiwidXBkYXRlZEF0IjoiMjAyNC0wOS0xMVQxMTozMjo0MCswNzowMCJ9LCJwYXJ0bmVyUmVmZXJlbmNlIjp7Im9yZGVyIjp7ImlkIjoieVFvTTJjQUpkIiwiaW5mbyI6InRlc3QgdGhhbmggdG9hbiIsImV4dHJhRGF0YSI6IiJ9fSwidG9rZW5SZXN1bHQiOiJ7XCJzdGF0dXNcIjowLFwibWVzc2FnZVwiOlwiVGhcXHUwMGUwbmggY1xcdTAwZjRuZ1wiLFwiY2FyZFwiOntcInN0YXR1c1wiOlwiYWN0aXZlXCIsXCJ0b2tlblwiOlwiMjMzNjEwMDY4NjYyOTkwOVwiLFwiY2FyZF9uYW1lXCI6XCJOR1VZRU4gVkFOIEFcIixcImNhcmRfbnVtYmVyXCI6XCI5NzA0MDB4eHh4eHgwMDE4XCIsXCJjYXJkX2RhdGVcIjpcIlwiLFwiY2FyZF90eXBlXCI6XCJBVE1fQ0FSRFwifX0ifQ=="

// vendorRedirectData is the data of the vendor's redirect example, in the
// older flat shape (appotapayTransId, orderId).
const vendorRedirectData = "eyJ0cmFuc2FjdGlvbiI6eyJlcnJvckNvZGUiOjAsIm1lc3NhZ2UiOiJUaFx1MDBlMG5oIGNcdTAwZjRuZyIsInBhcnRuZXJDb2RlIjoiVEVTVCIsImFwaUtleSI6Im9NaEpwa3o3SzZIRGNSNlMiLCJvcmRlckFtb3VudCI6NTAwMDAsImFtb3VudCI6NTAwMDAsImRpc2NvdW50QW1vdW50IjowLCJmZWVVc2VyIjowLCJzdGF0dXMiOiJzdWNjZXNzIiwiY3VycmVuY3kiOiJWTkQiLCJvcmRlcklkIjoiNWY1YjQ2Y2I3M2ZkMCIsImJhbmtDb2RlIjoiU0hCIiwicGF5bWVudE1ldGhvZCI6IkFUTSIsInBheW1lbnRUeXBlIjoiV0VCIiwiYXBwb3RhcGF5VHJhbnNJZCI6IkFQMjAwOTEwMDE0MTI1QiIsInRyYW5zYWN0aW9uVHMiOjE1OTk4MTc0MzMsImV4dHJhRGF0YSI6InRlc3QgdGVzdCJ9fQ=="

// vectorIPNBody is the notes' worked IPN example as an envelope.
func vectorIPNBody() []byte {
	return []byte(`{"data":"` + vectorIPNData + `","signature":"` + vectorIPNSig + `","time":1726029178}`)
}

func signedBody(secret, data string) []byte {
	env, _ := json.Marshal(map[string]any{"data": data, "signature": appotapay.SignIPN(secret, data), "time": 1726029178})
	return env
}

func dataOf(t testing.TB, payload string) string {
	t.Helper()
	require.True(t, json.Valid([]byte(payload)), payload)
	return base64.StdEncoding.EncodeToString([]byte(payload))
}

func newVectorProvider(t testing.TB, opts ...appotapay.Option) *appotapay.Provider {
	t.Helper()
	p, err := appotapay.New(appotapay.Config{PartnerCode: vectorPartner, APIKey: vectorAPIKey, SecretKey: vectorSecret}, opts...)
	require.NoError(t, err)
	return p
}

func TestIPNAckIsExact(t *testing.T) {
	t.Parallel()
	// Byte for byte: no spaces, no newline.
	require.Equal(t, []string{"{", `"status"`, ":", `"ok"`, "}"},
		[]string{appotapay.IPNAck[:1], appotapay.IPNAck[1:9], appotapay.IPNAck[9:10], appotapay.IPNAck[10:14], appotapay.IPNAck[14:]})
	require.Len(t, appotapay.IPNAck, 15)
}

func TestParseWebhookVector(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: vectorIPNBody()})
	require.NoError(t, err)
	require.NotNil(t, res.Ack)
	require.Equal(t, 200, res.Ack.StatusCode)
	require.Equal(t, `{"status":"ok"}`, string(res.Ack.Body)) //nolint:testifylint // AppotaPay wants these exact bytes; JSONEq would accept any spacing
	require.Equal(t, "application/json", res.Ack.ContentType)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, "AP1:success", ev.Key)
	require.Equal(t, "AP1", ev.ProviderReference)
	require.Empty(t, ev.PaymentID)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 10000, Currency: "VND"}, ev.Payment.Amount)
}

func TestVerifyIPNVendorExample(t *testing.T) {
	t.Parallel()
	ipn, err := appotapay.VerifyIPN(vectorSecret, signedBody(vectorSecret, vendorIPNData), nil)
	require.NoError(t, err)
	require.Equal(t, "AP241453213740", ipn.TransactionID())
	require.Equal(t, "yQoM2cAJd", ipn.OrderID())
	require.Equal(t, "success", ipn.Status())
	m, ok := ipn.OrderAmount()
	require.True(t, ok)
	require.Equal(t, payment.Money{Amount: 10000, Currency: "VND"}, m)
	require.Contains(t, string(ipn.Decoded), `Th\u00e0nh c\u00f4ng`)
	require.Equal(t, "1726029178", ipn.Time)

	p := newVectorProvider(t)
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: signedBody(vectorSecret, vendorIPNData)})
	require.NoError(t, err)
	ev := res.Events[0]
	require.Equal(t, "AP241453213740", ev.ProviderReference)
	require.Empty(t, ev.PaymentID, "yQoM2cAJd is not an orderId paykit made")
	require.Equal(t, time.Date(2024, 9, 11, 4, 32, 40, 0, time.UTC), ev.OccurredAt)
}

// The redirect carries the same data, signature and time as a query string.
func TestParseWebhookRedirectQuery(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	q := url.Values{
		"data":      {vendorRedirectData},
		"signature": {appotapay.SignIPN(vectorSecret, vendorRedirectData)},
		"time":      {"53485768945"},
	}
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Query: q})
	require.NoError(t, err)
	ev := res.Events[0]
	require.Equal(t, "AP200910014125B", ev.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, int64(50000), ev.Payment.Amount.Amount)

	q.Set("signature", appotapay.SignIPN("other", vendorRedirectData))
	_, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{Query: q})
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
}

func TestParseWebhookIdentifiesPaykitPayment(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	data := dataOf(t, `{"transaction":{"transactionId":"AP77","status":"success","errorCode":0,"orderAmount":150000,"amount":150000,"currency":"VND","updatedAt":"2026-01-02T10:00:00+07:00"},"partnerReference":{"order":{"id":"pay01JD3ABCDEFGHJKMNPQRSTVWXY","info":"x","extraData":"order-9"}}}`)
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: signedBody(vectorSecret, data)})
	require.NoError(t, err)
	ev := res.Events[0]
	require.Equal(t, "pay_01JD3ABCDEFGHJKMNPQRSTVWXY", ev.PaymentID)
	require.Equal(t, "AP77:success", ev.Key)
	require.Equal(t, payment.Money{Amount: 150000, Currency: "VND"}, *ev.Payment.Amount)
	require.Equal(t, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), ev.OccurredAt)
}

func TestParseWebhookStatuses(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	tests := []struct {
		payload string
		want    payment.Status
		failure string
	}{
		{`{"transaction":{"transactionId":"AP1","status":"error","errorCode":75,"errorMessage":"x","orderAmount":1000}}`, payment.StatusFailed, payment.FailureInsufficientFunds},
		{`{"transaction":{"transactionId":"AP1","status":"error","errorCode":34,"orderAmount":1000}}`, payment.StatusProcessing, ""},
		{`{"transaction":{"transactionId":"AP1","status":"error","errorCode":"99","orderAmount":1000}}`, payment.StatusProcessing, ""},
		{`{"transaction":{"transactionId":"AP1","status":"processing","orderAmount":1000}}`, payment.StatusProcessing, ""},
		{`{"transaction":{"transactionId":"AP1","status":"void","orderAmount":1000}}`, payment.StatusCanceled, payment.FailureCanceled},
	}
	for _, tt := range tests {
		res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: signedBody(vectorSecret, dataOf(t, tt.payload))})
		require.NoError(t, err, tt.payload)
		st := res.Events[0].Payment
		require.Equal(t, tt.want, st.Status, tt.payload)
		if tt.failure != "" {
			require.Equal(t, tt.failure, st.Failure.Code, tt.payload)
		}
	}
}

func TestParseWebhookRejects(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	flipped := []byte(vectorIPNSig)
	flipped[10] ^= 1
	notBase64 := "%%%not-base64%%%"
	notJSON := base64.StdEncoding.EncodeToString([]byte("not json"))
	noIDs := dataOf(t, `{"transaction":{"status":"success"}}`)
	tests := []struct {
		name string
		req  *payment.WebhookRequest
		want error
	}{
		{"nil request", nil, payment.ErrInvalidSignature},
		{"empty", &payment.WebhookRequest{}, payment.ErrInvalidSignature},
		{"not JSON", &payment.WebhookRequest{Body: []byte("data=x")}, payment.ErrInvalidSignature},
		{"missing signature", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `"}`)}, payment.ErrInvalidSignature},
		{"missing data", &payment.WebhookRequest{Body: []byte(`{"signature":"` + vectorIPNSig + `"}`)}, payment.ErrInvalidSignature},
		{"empty signature", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `","signature":""}`)}, payment.ErrInvalidSignature},
		{"data not a string", &payment.WebhookRequest{Body: []byte(`{"data":{"a":1},"signature":"` + vectorIPNSig + `"}`)}, payment.ErrInvalidSignature},
		{"signature one bit off", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `","signature":"` + string(flipped) + `"}`)}, payment.ErrInvalidSignature},
		{"signature not hex", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `","signature":"zz"}`)}, payment.ErrInvalidSignature},
		{"signature truncated", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `","signature":"` + vectorIPNSig[:62] + `"}`)}, payment.ErrInvalidSignature},
		{"other key", &payment.WebhookRequest{Body: signedBody("another secret", vectorIPNData)}, payment.ErrInvalidSignature},
		{"data changed", &payment.WebhookRequest{Body: []byte(`{"data":"` + strings.Replace(vectorIPNData, "MDAwMH19", "MDAwMX19", 1) + `","signature":"` + vectorIPNSig + `"}`)}, payment.ErrInvalidSignature},
		{"data with a byte appended", &payment.WebhookRequest{Body: []byte(`{"data":"` + vectorIPNData + `=","signature":"` + vectorIPNSig + `"}`)}, payment.ErrInvalidSignature},
		{"signed but not base64", &payment.WebhookRequest{Body: signedBody(vectorSecret, notBase64)}, payment.ErrInvalidInput},
		{"signed but not JSON", &payment.WebhookRequest{Body: signedBody(vectorSecret, notJSON)}, payment.ErrInvalidInput},
		{"signed but no ids", &payment.WebhookRequest{Body: signedBody(vectorSecret, noIDs)}, payment.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := p.ParseWebhook(t.Context(), tt.req)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, res)
			require.NotContains(t, err.Error(), vectorSecret)
		})
	}
}

func TestParseWebhookUpperCaseSignature(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	body := []byte(`{"data":"` + vectorIPNData + `","signature":"` + strings.ToUpper(vectorIPNSig) + `"}`)
	_, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: body})
	require.NoError(t, err)
}

// FuzzParseWebhook fuzzes the IPN parser and verifier, seeded with the
// notes' worked example and the vendor's examples. It must never panic,
// and whatever it accepts must carry a signature that verifies over its
// data, one event and the exact acknowledgement.
func FuzzParseWebhook(f *testing.F) {
	p, err := appotapay.New(appotapay.Config{PartnerCode: vectorPartner, APIKey: vectorAPIKey, SecretKey: vectorSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vectorIPNBody())
	f.Add(signedBody(vectorSecret, vendorIPNData))
	f.Add(signedBody(vectorSecret, vendorRedirectData))
	f.Add([]byte(`{"data":"","signature":"","time":""}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: body})
		if err != nil {
			if res != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		var env struct {
			Data      string `json:"data"`
			Signature string `json:"signature"`
		}
		if json.Unmarshal(body, &env) != nil {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		if !strings.EqualFold(appotapay.SignIPN(vectorSecret, env.Data), env.Signature) {
			t.Fatalf("accepted a body whose signature does not verify: %q", body)
		}
		if len(res.Events) != 1 || res.Events[0].Payment == nil || res.Events[0].Key == "" {
			t.Fatalf("want one keyed payment event, got %+v", res.Events)
		}
		if res.Ack == nil || string(res.Ack.Body) != `{"status":"ok"}` {
			t.Fatal("the acknowledgement must be exactly {\"status\":\"ok\"}")
		}
	})
}
