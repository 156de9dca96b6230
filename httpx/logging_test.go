package httpx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

// logText renders every observed entry, message and fields, as JSON lines.
func logText(t testing.TB, logs *observer.ObservedLogs) string {
	t.Helper()
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		MessageKey: "msg", LevelKey: "level", NameKey: "logger", StacktraceKey: "stack",
		EncodeLevel: zapcore.LowercaseLevelEncoder, EncodeDuration: zapcore.StringDurationEncoder,
	})
	var b strings.Builder
	for _, le := range logs.All() {
		buf, err := enc.EncodeEntry(le.Entry, le.Context)
		require.NoError(t, err)
		b.Write(buf.Bytes())
		buf.Free()
	}
	return b.String()
}

// The log of a card checkout, a token checkout, webhooks (good and forged)
// and rejected keys holds no card number, CVV, token, API key, signature
// or body: the whole stack logs to the observer (handler, Service and
// sandbox).
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const (
		cardNumber = sandbox.CardMastercard
		cvv        = "837"
		wrongKey   = "sk_wrong_key_that_must_not_be_logged"
	)
	e := setup(t)

	body := cardCheckout("log-1", cardNumber)
	body["card"].(map[string]any)["cvv"] = cvv
	r := e.do(req{method: "POST", path: "/checkout", body: body})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	require.NotContains(t, string(r.Body), cardNumber)
	require.NotContains(t, string(r.Body), cvv+`"`)
	p := r.payment(t)
	require.Equal(t, payment.StatusSucceeded, p.Status)

	tok := cardCheckout("log-2", "")
	delete(tok, "card")
	tok["payment_token"] = sandbox.TokenVisa
	r = e.do(req{method: "POST", path: "/checkout", body: tok})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	require.NotContains(t, string(r.Body), sandbox.TokenVisa)

	// Rejected: a wrong key; a card number sent as a JSON number; a card
	// the provider refuses at validation; a duplicate order with a card.
	e.do(req{method: "POST", path: "/checkout", body: body, header: hdr("X-API-Key", wrongKey)}).requireError(t, 401, "UNAUTHORIZED", "")
	e.do(req{method: "POST", path: "/checkout", body: `{"card":{"number":` + cardNumber + `}}`}).requireError(t, 400, "INVALID_INPUT", "card.number")
	bad := cardCheckout("log-3", cardNumber)
	bad["card"].(map[string]any)["cvv"] = cvv
	bad["card"].(map[string]any)["expiry_year"] = 2001
	e.do(req{method: "POST", path: "/checkout", body: bad}).requireError(t, 400, "INVALID_INPUT", "card.expiry_year")
	e.do(req{method: "POST", path: "/checkout", body: body}).requireError(t, 409, "CONFLICT", "")

	// Webhooks: a good one (through the sandbox's own callback and by
	// hand) and a forged one.
	qr := e.checkout(qrCheckout("log-4", 700))
	require.NoError(t, e.sbx.Pay(t.Context(), qr.ID))
	wr, err := e.sbx.WebhookFor(qr.ID, payment.StatusSucceeded)
	require.NoError(t, err)
	goodSig := wr.Header.Get(sandbox.HeaderSignature)
	r = e.do(req{method: "POST", path: "/webhooks/sandbox", body: wr.Body, header: wr.Header.Clone(), noKey: true})
	require.Equal(t, http.StatusOK, r.Status)
	forgedSig := strings.Repeat("ab", 32)
	forged := wr.Header.Clone()
	forged.Set(sandbox.HeaderSignature, forgedSig)
	e.do(req{method: "POST", path: "/webhooks/sandbox", body: wr.Body, header: forged, noKey: true}).requireError(t, 401, "UNAUTHORIZED", "")

	text := logText(t, e.logs)
	// The log is not empty: every request was logged with its route and id.
	require.Contains(t, text, `"route":"POST /checkout"`)
	require.Contains(t, text, `"route":"POST /webhooks/{provider}"`)
	require.Contains(t, text, `"request_id":"req_`)
	require.Contains(t, text, `"status":401`)

	for name, secret := range map[string]string{
		"card number":       cardNumber,
		"card number, tail": cardNumber[6:],
		"token":             sandbox.TokenVisa,
		"API key":           testKey,
		"wrong API key":     wrongKey,
		"good signature":    goodSig,
		"forged signature":  forgedSig,
		"webhook secret":    sandbox.DefaultWebhookSecret,
		"webhook body":      string(wr.Body),
		"CVV as a value":    `"` + cvv + `"`,
		"CVV as a field":    "cvv",
		// Not "CVV" alone: random ids (ULIDs) may hold those three letters.
		"CVV, Go syntax": "CVV:",
		"CVV, as JSON":   `"CVV"`,
	} {
		require.NotContains(t, text, secret, "the log holds the %s", name)
	}
}

func TestRequestLogFields(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do(req{method: "GET", path: "/payments/pay_nope?secret_query=1", header: hdr("X-Request-Id", "trace-1")})
	r.requireError(t, 404, "NOT_FOUND", "")
	entries := e.logs.FilterMessage("request").FilterField(zapcoreString("request_id", "trace-1")).All()
	require.Len(t, entries, 1)
	m := entries[0].ContextMap()
	require.Equal(t, "GET", m["method"])
	require.Equal(t, "GET /payments/{id}", m["route"])
	require.Equal(t, int64(404), m["status"])
	require.Equal(t, string(httpx.CodeNotFound), m["code"])
	require.Contains(t, m, "duration")
	require.NotContains(t, logText(t, e.logs), "secret_query")
	require.NotContains(t, logText(t, e.logs), "pay_nope?")
}

func zapcoreString(k, v string) zapcore.Field {
	return zapcore.Field{Key: k, Type: zapcore.StringType, String: v}
}
