package villa

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// Callback samples from the seed and the protocol notes.
const (
	seedWebhook = `{
"event": "payment.status.updated",
"data": {
"orderId": "482500007436",
"status": "paid",
"amount": 1000.00,
"timestamp": "2024-01-01T12:00:00Z"
}
}`
	seedCardForm    = `objectId=chrg_xxx&token=tokn_xxx&status=true&message=&saveCard=false`
	seedKBankNotify = `{"id":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d","object":"charge","amount":100,` +
		`"currency":"THB","status":"success","transaction_state":"Authorized","reference_order":"4825000074361748613417.737979",` +
		`"checksum":"9d5e666d15a3b82341bfd7427b624363d1073dcd135faefcd462cd1537fe7703"}`
	seedKBankSecret = "skey_test_21234abcdEXAMPLE"
)

// fakeVilla answers GET /checkstatus/{orderId} from a table, in the main
// API's envelope. Orders missing from the table answer 404, and an order
// mapped to "" answers 500.
type fakeVilla struct {
	mu     sync.Mutex
	orders map[string]string
	calls  int
}

func (f *fakeVilla) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	resp := func(status int, body string) *http.Response {
		return &http.Response{
			StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r,
		}
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/checkstatus/")
	if !ok || r.Method != http.MethodGet || r.Header.Get("X-API-Key") != "k" {
		return resp(401, `{"statusCode":401,"body":{"error":"Invalid API key","code":"UNAUTHORIZED"}}`), nil
	}
	body, known := f.orders[id]
	switch {
	case !known:
		return resp(404, `{"statusCode":404,"body":{"error":"order not found","code":"NOT_FOUND"}}`), nil
	case body == "":
		return resp(500, `{"statusCode":500,"body":{"error":"boom","code":"INTERNAL_ERROR"}}`), nil
	}
	return resp(200, `{"statusCode":200,"body":`+body+`}`), nil
}

func (f *fakeVilla) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var webhookNow = time.Date(2024, 1, 1, 12, 0, 30, 0, time.UTC)

func newWebhookProvider(t testing.TB, fake *fakeVilla, cfg Config) *Provider {
	t.Helper()
	cfg.APIKey = "k"
	p, err := New(cfg, WithBaseURL("https://villa.test"), WithHTTPClient(&http.Client{Transport: fake}),
		WithRetry(1, 0), WithClock(fixedClock{webhookNow}))
	require.NoError(t, err)
	return p
}

func paidOrder(id, extra string) string {
	return fmt.Sprintf(`{"orderId":%q,"status":"paid","amount":1000.00,"currency":"THB","source_type":"qr"%s}`, id, extra)
}

func TestParseWebhookSeedJSON(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{"482500007436": paidOrder("482500007436", "")}}
	p := newWebhookProvider(t, fake, Config{})
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(seedWebhook)})
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, "villa:482500007436:succeeded", ev.Key)
	require.Empty(t, ev.PaymentID, "an order id that is not a paykit id names no payment")
	require.Equal(t, "482500007436", ev.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, ev.Payment.Amount)
	require.Equal(t, webhookNow, ev.OccurredAt, "an unsigned timestamp is not believed")
	require.Equal(t, 1, fake.count(), "the callback was confirmed with checkstatus")
	require.Nil(t, res.Ack)
}

func TestParseWebhookNeverTrustsTheBody(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{
		"pay_pending": `{"orderId":"pay_pending","status":"pending","amount":1000.00,"currency":"THB","source_type":"qr","qr_code":"0002"}`,
		"pay_cheap":   paidOrder("pay_cheap", ""),
	}}
	p := newWebhookProvider(t, fake, Config{})

	// A callback claiming "paid" for an order Villa says is pending.
	body := strings.ReplaceAll(seedWebhook, "482500007436", "pay_pending")
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(body)})
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, res.Events[0].Payment.Status)
	require.Equal(t, "pay_pending", res.Events[0].PaymentID)
	require.Equal(t, "villa:pay_pending:requires_action", res.Events[0].Key)

	// A callback with a forged amount: the amount is Villa's.
	body = strings.ReplaceAll(strings.ReplaceAll(seedWebhook, "482500007436", "pay_cheap"), "1000.00", "1.00")
	res, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(body)})
	require.NoError(t, err)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, res.Events[0].Payment.Amount)

	// A stale "pending" callback after payment parses to the paid event
	// key, so the inbox deduplicates it.
	body = strings.ReplaceAll(strings.ReplaceAll(seedWebhook, "482500007436", "pay_cheap"), `"paid"`, `"pending"`)
	res, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(body)})
	require.NoError(t, err)
	require.Equal(t, "villa:pay_cheap:succeeded", res.Events[0].Key)
}

func TestParseWebhookCardForm(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{
		"pay_card": `{"orderId":"pay_card","status":"paid","amount":10.00,"currency":"THB","source_type":"card","chargeId":"chrg_xxx"}`,
	}}
	p := newWebhookProvider(t, fake, Config{})
	q := url.Values{"orderId": {"pay_card"}}
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(seedCardForm), Query: q})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
	require.Equal(t, "pay_card", res.Events[0].PaymentID)
	require.NotNil(t, res.Payload, "the inbox keeps a redacted copy of the card form")
	require.NotContains(t, string(res.Payload), "tokn_", "the card token never reaches the inbox")
	require.Contains(t, string(res.Payload), "objectId=chrg_xxx")

	// The form only says "status=false"; Villa's word wins either way.
	res, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{
		Body: []byte(strings.Replace(seedCardForm, "status=true", "status=false", 1)), Query: q,
	})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)

	bad := []struct {
		name  string
		body  string
		query url.Values
	}{
		{"charge of another order", strings.Replace(seedCardForm, "chrg_xxx", "chrg_yyy", 1), q},
		{"no order id", seedCardForm, nil},
		{"unknown order", seedCardForm, url.Values{"orderId": {"pay_nobody"}}},
		{"order id with a path", seedCardForm, url.Values{"orderId": {"../admin"}}},
		{"no objectId", "token=tokn_xxx&status=true", q},
		{"status not a boolean", strings.Replace(seedCardForm, "status=true", "status=yes", 1), q},
		{"bad form", "objectId=%zz&status=true", q},
	}
	for _, tc := range bad {
		_, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(tc.body), Query: tc.query})
		require.ErrorIs(t, err, payment.ErrInvalidSignature, tc.name)
	}
}

func TestParseWebhookKBankNotify(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{
		"482500007436": `{"orderId":"482500007436","status":"paid","amount":100,"source_type":"card","chargeId":"chrg_test_20742a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}`,
	}}
	p := newWebhookProvider(t, fake, Config{KBankSecretKey: seedKBankSecret})
	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(seedKBankNotify)})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
	require.Equal(t, "482500007436", res.Events[0].ProviderReference)

	calls := fake.count()
	_, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(strings.Replace(seedKBankNotify, `"amount":100`, `"amount":101`, 1))})
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	require.Equal(t, calls, fake.count(), "a bad checksum is refused before any call to Villa")
}

func TestParseWebhookHMAC(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test"
	fake := &fakeVilla{orders: map[string]string{"482500007436": paidOrder("482500007436", "")}}
	p := newWebhookProvider(t, fake, Config{WebhookSecret: secret})
	body := []byte(seedWebhook)
	sent := webhookNow.Add(-10 * time.Second)
	signed := func(ts time.Time, sig string) http.Header {
		return http.Header{
			HeaderTimestamp: {fmt.Sprint(ts.Unix())},
			HeaderSignature: {sig},
		}
	}
	good := SignWebhook(secret, sent, body)
	require.True(t, strings.HasPrefix(good, "v1="))

	res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Header: signed(sent, good), Body: body})
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), res.Events[0].OccurredAt, "a signed timestamp is used")

	ok := []string{
		strings.TrimPrefix(good, "v1="),
		"v1=" + strings.Repeat("0", 64) + ", " + good,
		strings.ToUpper(strings.TrimPrefix(good, "v1=")),
	}
	for _, sig := range ok {
		_, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Header: signed(sent, sig), Body: body})
		require.NoError(t, err, sig)
	}

	calls := fake.count()
	bad := []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"no headers", nil, body},
		{"no signature", http.Header{HeaderTimestamp: {fmt.Sprint(sent.Unix())}}, body},
		{"no timestamp", http.Header{HeaderSignature: {good}}, body},
		{"other body", signed(sent, good), bytes.Replace(body, []byte("paid"), []byte("pair"), 1)},
		{"other timestamp", signed(sent.Add(time.Second), good), body},
		{"wrong key", signed(sent, SignWebhook("other", sent, body)), body},
		{"too old", signed(webhookNow.Add(-6*time.Minute), SignWebhook(secret, webhookNow.Add(-6*time.Minute), body)), body},
		{"too new", signed(webhookNow.Add(6*time.Minute), SignWebhook(secret, webhookNow.Add(6*time.Minute), body)), body},
		{"other scheme", signed(sent, "v0="+strings.TrimPrefix(good, "v1=")), body},
		{"malformed timestamp", http.Header{HeaderTimestamp: {"soon"}, HeaderSignature: {good}}, body},
	}
	for _, tc := range bad {
		_, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Header: tc.header, Body: tc.body})
		require.ErrorIs(t, err, payment.ErrInvalidSignature, tc.name)
	}
	require.Equal(t, calls, fake.count(), "an unsigned callback is refused before any call to Villa")
}

func TestParseWebhookConfirmFails(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{"482500007436": ""}}
	p := newWebhookProvider(t, fake, Config{})
	_, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(seedWebhook)})
	require.Error(t, err)
	require.NotErrorIs(t, err, payment.ErrInvalidSignature, "Villa being down is not a forgery")
	require.True(t, payment.IsRetryable(err), "the sender must try again later")

	fake = &fakeVilla{orders: map[string]string{"482500007436": paidOrder("999", "")}}
	p = newWebhookProvider(t, fake, Config{})
	_, err = p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(seedWebhook)})
	require.ErrorIs(t, err, payment.ErrInvalidSignature, "an answer about another order confirms nothing")
}

func TestParseWebhookGarbage(t *testing.T) {
	t.Parallel()
	fake := &fakeVilla{orders: map[string]string{"482500007436": paidOrder("482500007436", "")}}
	p := newWebhookProvider(t, fake, Config{})
	for _, body := range []string{
		"", " ", "{}", "[]", "null", `{"event":"payment.refunded","data":{"orderId":"482500007436","status":"paid"}}`,
		`{"event":"payment.status.updated"}`, `{"event":"payment.status.updated","data":{"orderId":"482500007436"}}`,
		`{"event":"payment.status.updated","data":{"orderId":"482500007436","status":"paid","amount":"lots"}}`,
		`{"event":"payment.status.updated","data":{"orderId":"482500007436","status":"paid","timestamp":"noon"}}`,
		`{"event":"payment.status.updated","data":{"orderId":"","status":"paid"}}`,
		`{"object":"charge"}`, seedWebhook + "{}", "\x00\x01",
	} {
		res, err := p.ParseWebhook(t.Context(), &payment.WebhookRequest{Body: []byte(body)})
		require.ErrorIs(t, err, payment.ErrInvalidSignature, "%q", body)
		require.Nil(t, res)
	}
	_, err := p.ParseWebhook(t.Context(), nil)
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
}

// FuzzParseWebhook feeds ParseWebhook mutations of the seed's callbacks.
// It must never panic, and an event must only ever carry the state Villa's
// checkstatus reported; with a webhook secret, only the genuine signed body
// may pass.
func FuzzParseWebhook(f *testing.F) {
	const secret = "whsec_fuzz"
	f.Add([]byte(seedWebhook), "pay_01JD3ABCDEFGHJKMNPQRSTVWXY")
	f.Add([]byte(seedCardForm), "pay_01JD3ABCDEFGHJKMNPQRSTVWXY")
	f.Add([]byte(seedKBankNotify), "")
	f.Add([]byte(strings.ReplaceAll(seedWebhook, "482500007436", "pay_01JD3ABCDEFGHJKMNPQRSTVWXY")), "")
	f.Add([]byte("objectId=chrg_xxx&status=false&orderId=482500007436"), "")
	f.Add([]byte{}, "")
	signedBody := []byte(seedWebhook)
	sig := SignWebhook(secret, webhookNow, signedBody)
	f.Fuzz(func(t *testing.T, body []byte, orderID string) {
		fake := &fakeVilla{orders: map[string]string{}}
		for _, id := range []string{"482500007436", "pay_01JD3ABCDEFGHJKMNPQRSTVWXY", orderID} {
			if validOrderID(id) {
				fake.orders[id] = fmt.Sprintf(`{"orderId":%q,"status":"paid","amount":1000.00,"currency":"THB","source_type":"card","chargeId":"chrg_xxx"}`, id)
			}
		}
		req := &payment.WebhookRequest{Body: body, Query: url.Values{"orderId": {orderID}}}

		plain := newWebhookProvider(t, fake, Config{})
		res, err := plain.ParseWebhook(t.Context(), req)
		if err != nil {
			require.ErrorIs(t, err, payment.ErrInvalidSignature)
			require.Nil(t, res)
		} else {
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			require.NotEmpty(t, ev.Key)
			require.Equal(t, payment.StatusSucceeded, ev.Payment.Status, "the state is checkstatus's")
			require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, ev.Payment.Amount)
			require.Positive(t, fake.count(), "every event was confirmed with checkstatus")
		}

		signed := newWebhookProvider(t, fake, Config{WebhookSecret: secret})
		req.Header = http.Header{HeaderTimestamp: {fmt.Sprint(webhookNow.Unix())}, HeaderSignature: {sig}}
		if _, err := signed.ParseWebhook(t.Context(), req); err == nil {
			require.Equal(t, signedBody, body, "only the signed body verifies")
		}
	})
}
