package reliability

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/appotapay"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/villa"
)

// capture records the webhooks a stack received, by provider.
type capture struct {
	mu   sync.Mutex
	reqs map[string][]*payment.WebhookRequest
}

func newCapture() *capture { return &capture{reqs: map[string][]*payment.WebhookRequest{}} }

func (c *capture) tap(r *http.Request, body []byte) {
	name := strings.TrimPrefix(r.URL.Path, "/pay/webhooks/")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs[name] = append(c.reqs[name], &payment.WebhookRequest{
		Header: r.Header.Clone(), Query: r.URL.Query(), Body: bytes.Clone(body),
	})
}

func (c *capture) count(provider string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs[provider])
}

// first waits for the first webhook of provider and returns it.
func (c *capture) first(t testing.TB, provider string) *payment.WebhookRequest {
	t.Helper()
	require.Eventually(t, func() bool { return c.count(provider) > 0 }, 10*time.Second, 5*time.Millisecond,
		"no %s webhook arrived", provider)
	c.mu.Lock()
	defer c.mu.Unlock()
	return clone(c.reqs[provider][0])
}

// quiet waits until no webhook of provider arrived for a while, so that
// nothing the simulator sends counts as a write of the test's requests.
func (c *capture) quiet(provider string) {
	last := -1
	for c.count(provider) != last {
		last = c.count(provider)
		time.Sleep(150 * time.Millisecond)
	}
}

func clone(wr *payment.WebhookRequest) *payment.WebhookRequest {
	return &payment.WebhookRequest{Header: wr.Header.Clone(), Query: url.Values(http.Header(wr.Query).Clone()), Body: bytes.Clone(wr.Body)}
}

// flip changes one bit of b, keeping it a character of the same kind (a
// digit stays a digit, a letter a letter of the same case), so that the
// change is caught by the signature and not by a parser.
func flip(b byte) byte {
	kind := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return 0
		case c >= 'a' && c <= 'z':
			return 1
		case c >= 'A' && c <= 'Z':
			return 2
		default:
			return 3
		}
	}
	for bit := 0; bit < 7; bit++ {
		if c := b ^ (1 << bit); kind(c) == kind(b) && c >= 0x21 && c <= 0x7e {
			return c
		}
	}
	return b ^ 1
}

// flipAfter flips one bit of the first alphanumeric character at or after
// the end of marker in s (the first digit, when digits is set).
func flipAfter(t testing.TB, s, marker string, digits bool) string {
	t.Helper()
	i := strings.Index(s, marker)
	require.GreaterOrEqual(t, i, 0, "%q not found in %q", marker, s)
	for j := i + len(marker); j < len(s); j++ {
		c := s[j]
		isDigit := c >= '0' && c <= '9'
		if (digits && isDigit) || (!digits && (isDigit || (c|0x20 >= 'a' && c|0x20 <= 'z'))) {
			b := []byte(s)
			b[j] = flip(c)
			return string(b)
		}
	}
	require.FailNow(t, "nothing to flip", "after %q in %q", marker, s)
	return s
}

// tamperCase is a changed copy of a genuine webhook.
type tamperCase struct {
	name string
	req  *payment.WebhookRequest
}

func withBody(wr *payment.WebhookRequest, body string) *payment.WebhookRequest {
	c := clone(wr)
	c.Body = []byte(body)
	return c
}

func withHeader(wr *payment.WebhookRequest, key, value string) *payment.WebhookRequest {
	c := clone(wr)
	if value == "" {
		c.Header.Del(key)
	} else {
		c.Header.Set(key, value)
	}
	return c
}

// headerScheme makes the cases of an HMAC-over-timestamp-and-body scheme
// with the signature and the timestamp in headers (sandbox, villa).
func headerScheme(t testing.TB, g *payment.WebhookRequest, sigHeader, tsHeader, statusMarker string,
	sign func(secret string, ts time.Time, body []byte) string,
) []tamperCase {
	t.Helper()
	body := string(g.Body)
	ts := g.Header.Get(tsHeader)
	unix, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	at := time.Unix(unix, 0)
	last := []byte(ts)
	last[len(last)-1] = flip(last[len(last)-1])
	return []tamperCase{
		{"body: 1 bit of the status", withBody(g, flipAfter(t, body, statusMarker, false))},
		{"body: 1 bit of the payment id", withBody(g, flipAfter(t, body, "pay_", false))},
		{"signature: 1 bit", withHeader(g, sigHeader, flipAfter(t, g.Header.Get(sigHeader), "", true))},
		{"signed field: 1 bit of the timestamp (a second off)", withHeader(g, tsHeader, string(last))},
		{"missing signature header", withHeader(g, sigHeader, "")},
		{"missing timestamp header", withHeader(g, tsHeader, "")},
		{"wrong key", withHeader(g, sigHeader, sign("whsec_not_the_key", at, g.Body))},
	}
}

// jsonField returns the raw JSON of a top-level member of body.
func jsonField(t testing.TB, body []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	raw, ok := m[name]
	require.True(t, ok, "no %q in %s", name, body)
	return string(raw)
}

// replaceField returns body with the raw JSON of member name replaced
// (removed when value is empty), the rest byte for byte.
func replaceField(t testing.TB, body []byte, name, value string) string {
	t.Helper()
	old := `"` + name + `":` + jsonField(t, body, name)
	s := string(body)
	require.Contains(t, s, old)
	if value != "" {
		return strings.Replace(s, old, `"`+name+`":`+value, 1)
	}
	s = strings.Replace(s, old+",", "", 1)
	return strings.Replace(s, ","+old, "", 1)
}

// appotaPayCases: the IPN body {data, signature, time}, signature =
// hex(HMAC-SHA256(secret, data)).
func appotaPayCases(t testing.TB, g *payment.WebhookRequest) []tamperCase {
	t.Helper()
	var data string
	require.NoError(t, json.Unmarshal([]byte(jsonField(t, g.Body, "data")), &data))
	decoded, err := base64.StdEncoding.DecodeString(data)
	require.NoError(t, err)
	moreMoney := base64.StdEncoding.EncodeToString([]byte(flipAfter(t, string(decoded), `"amount":`, true)))
	sig := jsonField(t, g.Body, "signature")
	return []tamperCase{
		{"body: 1 bit of data", withBody(g, replaceField(t, g.Body, "data", flipAfter(t, jsonField(t, g.Body, "data"), `"`, false)))},
		{"signature: 1 bit", withBody(g, replaceField(t, g.Body, "signature", flipAfter(t, sig, `"`, true)))},
		{"signed field: 1 bit of the amount inside data", withBody(g, replaceField(t, g.Body, "data", `"`+moreMoney+`"`))},
		{"missing signature", withBody(g, replaceField(t, g.Body, "signature", ""))},
		{"wrong key", withBody(g, replaceField(t, g.Body, "signature", `"`+appotapay.SignIPN("not-the-secret", data)+`"`))},
	}
}

// payPlusCases: a JSON body whose "signature" is an HS256 JWT over the
// other fields.
func payPlusCases(t testing.TB, g *payment.WebhookRequest, apiKey string) []tamperCase {
	t.Helper()
	var token string
	require.NoError(t, json.Unmarshal([]byte(jsonField(t, g.Body, payplus.SignatureField)), &token))
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	var fields payplus.Params
	dec := json.NewDecoder(bytes.NewReader(g.Body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&fields))
	delete(fields, payplus.SignatureField)
	wrong, err := payplus.Sign(fields, "not-the-api-key")
	require.NoError(t, err)
	b64 := base64.RawURLEncoding
	none := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	h512 := b64.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + parts[1]
	mac := hmac.New(sha512.New, []byte(apiKey))
	mac.Write([]byte(h512))
	h512 += "." + b64.EncodeToString(mac.Sum(nil))
	quoted := func(s string) string { return `"` + s + `"` }
	return []tamperCase{
		{"body: 1 bit of the status", withBody(g, replaceField(t, g.Body, "status", flipAfter(t, jsonField(t, g.Body, "status"), `"`, false)))},
		{"signature: 1 bit", withBody(g, replaceField(t, g.Body, payplus.SignatureField,
			quoted(parts[0]+"."+parts[1]+"."+flipAfter(t, parts[2], "", false))))},
		{"signed field: 1 bit of the amount", withBody(g, replaceField(t, g.Body, "amount", flipAfter(t, jsonField(t, g.Body, "amount"), "", true)))},
		{"missing signature", withBody(g, replaceField(t, g.Body, payplus.SignatureField, ""))},
		{"wrong key", withBody(g, replaceField(t, g.Body, payplus.SignatureField, quoted(wrong)))},
		{"alg none", withBody(g, replaceField(t, g.Body, payplus.SignatureField, quoted(none)))},
		{"HS512 with the right key", withBody(g, replaceField(t, g.Body, payplus.SignatureField, quoted(h512)))},
	}
}

// veparaCases: a form whose hash_key is AES-CBC over
// status|total|invoice_id|order_id|currency with a key derived from the
// app secret (no MAC: the fields are compared and checkstatus confirms).
func veparaCases(t testing.TB, g *payment.WebhookRequest, appSecret string) []tamperCase {
	t.Helper()
	form, err := url.ParseQuery(string(g.Body))
	require.NoError(t, err)
	hk := form.Get("hash_key")
	parts, err := vepara.ParseHashKey(appSecret, hk)
	require.NoError(t, err)
	wrong, err := vepara.HashKey("not-the-app-secret", parts...)
	require.NoError(t, err)
	withForm := func(key, value string) *payment.WebhookRequest {
		f, err := url.ParseQuery(string(g.Body))
		require.NoError(t, err)
		if value == "" {
			f.Del(key)
		} else {
			f.Set(key, value)
		}
		return withBody(g, f.Encode())
	}
	iv, rest, _ := strings.Cut(hk, ":")
	salt, ct, _ := strings.Cut(rest, ":")
	return []tamperCase{
		{"body: 1 bit of payment_status", withBody(g, flipAfter(t, string(g.Body), "payment_status=", true))},
		{"body: 1 bit of invoice_id", withBody(g, flipAfter(t, string(g.Body), "invoice_id=pay", false))},
		{"signature: 1 bit of the hash_key's ciphertext", withForm("hash_key", iv+":"+salt+":"+flipAfter(t, ct, "", false))},
		{"signature: 1 bit of the hash_key's IV (CBC malleability)", withForm("hash_key", flipAfter(t, iv, "", true)+":"+salt+":"+ct)},
		{"signed field: 1 bit of order_no", withBody(g, flipAfter(t, string(g.Body), "order_no=", true))},
		{"missing hash_key", withForm("hash_key", "")},
		{"wrong key", withForm("hash_key", wrong)},
	}
}

// A webhook changed by one bit in its body, its signature or a signed
// field, without its signature, or signed with the wrong key is refused
// with 401 and not one Store write, for every provider's scheme; the
// genuine webhook, sent again, is accepted (so the refusals are the
// tampering's doing).
func TestTamperedWebhooks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		t.Run("sandbox", func(t *testing.T) {
			ctx := t.Context()
			chaos, cp := newChaos(b.open(t), 1), newCapture()
			s := newStack(t, stackOptions{store: chaos, tap: cp.tap})
			p, err := s.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "tamper-sandbox", 10000, "THB"))
			require.NoError(t, err)
			require.NoError(t, s.sb.Pay(ctx, p.ID))
			g := cp.first(t, "sandbox")
			cases := headerScheme(t, g, sandbox.HeaderSignature, sandbox.HeaderTimestamp, `"status":"`,
				func(secret string, ts time.Time, body []byte) string {
					return sandbox.SignWebhook(secret, ts, body).Header.Get(sandbox.HeaderSignature)
				})
			runTampered(t, s, chaos, cp, "sandbox", cases, g)
		})
		for _, vm := range vendorMakers {
			t.Run(vm.name, func(t *testing.T) {
				ctx := t.Context()
				chaos, cp := newChaos(b.open(t), 1), newCapture()
				s, v := vendorStack(t, chaos, vm.make, vendorConfig{}, stackOptions{tap: cp.tap})
				r, err := s.call(ctx, http.MethodPost, "/checkout", v.checkout("tamper-"+v.name), nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
				p := r.payment(t)
				if v.pay != nil {
					require.NoError(t, v.pay(ctx, p.ID))
				}
				g := cp.first(t, v.name)
				var cases []tamperCase
				switch v.name {
				case "villa":
					cases = headerScheme(t, g, villa.HeaderSignature, villa.HeaderTimestamp, `"status":"`, villa.SignWebhook)
				case "appotapay":
					cases = appotaPayCases(t, g)
				case "payplus":
					cases = payPlusCases(t, g, v.secret)
				case "vepara":
					cases = veparaCases(t, g, v.secret)
				}
				runTampered(t, s, chaos, cp, v.name, cases, g)
			})
		}
	})
}

func runTampered(t *testing.T, s *stack, chaos *chaosStore, cp *capture, name string, cases []tamperCase, genuine *payment.WebhookRequest) {
	ctx := t.Context()
	cp.quiet(name)
	require.NotEmpty(t, cases)
	for _, tc := range cases {
		before := chaos.writes()
		r, err := s.postWebhook(ctx, name, tc.req)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, before, chaos.writes(), "%s: a refused webhook writes nothing", tc.name)
	}
	before, lookups := chaos.writes(), chaos.count("GetInbox")
	r, err := s.postWebhook(ctx, name, genuine)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.status, "the genuine webhook again: %s", r.body)
	require.Greater(t, chaos.count("GetInbox"), lookups, "the genuine webhook reaches the inbox")
	require.Equal(t, before, chaos.writes(), "as a duplicate, it writes nothing")
	names := make([]string, len(cases))
	for i, tc := range cases {
		names[i] = tc.name
	}
	t.Logf("%s: %d tampered webhooks, each 401 with 0 store writes (%s); the genuine one again: 200",
		name, len(cases), strings.Join(names, "; "))
}

// Replays outside the time window, for the schemes that sign a timestamp
// (sandbox, villa, Pay-Plus): the genuine webhook is refused (401, no
// write) once the provider's clock is past the tolerance either way, and
// accepted inside it.
func TestReplayedWebhooks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		type replay struct {
			name      string
			tolerance time.Duration
			clock     *paymenttest.Clock
			s         *stack
			chaos     *chaosStore
			genuine   *payment.WebhookRequest
		}
		var replays []replay
		{
			clock := paymenttest.NewClock(time.Now().Truncate(time.Second))
			chaos, cp := newChaos(b.open(t), 1), newCapture()
			s := newStack(t, stackOptions{store: chaos, clock: clock, tap: cp.tap})
			p, err := s.svc.Checkout(t.Context(), paymenttest.QRCheckout("sandbox", "replay-sandbox", 10000, "THB"))
			require.NoError(t, err)
			require.NoError(t, s.sb.Pay(t.Context(), p.ID))
			replays = append(replays, replay{"sandbox", sandbox.DefaultTolerance, clock, s, chaos, cp.first(t, "sandbox")})
		}
		for _, mk := range []vendorMaker{newVilla, newPayPlus} {
			clock := paymenttest.NewClock(time.Now().Truncate(time.Second))
			chaos, cp := newChaos(b.open(t), 1), newCapture()
			s, v := vendorStack(t, chaos, mk, vendorConfig{clock: clock}, stackOptions{tap: cp.tap})
			r, err := s.call(t.Context(), http.MethodPost, "/checkout", v.checkout("replay-"+v.name), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			require.NoError(t, v.pay(t.Context(), r.payment(t).ID))
			g := cp.first(t, v.name)
			cp.quiet(v.name)
			replays = append(replays, replay{v.name, 5 * time.Minute, clock, s, chaos, g})
		}
		for _, rp := range replays {
			t.Run(rp.name, func(t *testing.T) {
				ctx := t.Context()
				sent := rp.clock.Now()
				for _, tc := range []struct {
					name   string
					offset time.Duration
					want   int
				}{
					{"tolerance+2s late", rp.tolerance + 2*time.Second, http.StatusUnauthorized},
					{"an hour late", time.Hour, http.StatusUnauthorized},
					{"tolerance+2s early (from the future)", -rp.tolerance - 2*time.Second, http.StatusUnauthorized},
					{"tolerance-5s late", rp.tolerance - 5*time.Second, http.StatusOK},
				} {
					rp.clock.Set(sent.Add(tc.offset))
					before := rp.chaos.writes()
					r, err := rp.s.postWebhook(ctx, rp.name, rp.genuine)
					require.NoError(t, err)
					require.Equal(t, tc.want, r.status, "%s: %s", tc.name, r.body)
					if tc.want != http.StatusOK {
						require.Equal(t, before, rp.chaos.writes(), "%s: a refused replay writes nothing", tc.name)
					}
				}
				rp.clock.Set(sent)
				t.Logf("%s: replays %s late, an hour late and %s early refused (401, 0 writes); %s late accepted",
					rp.name, rp.tolerance+2*time.Second, rp.tolerance+2*time.Second, rp.tolerance-5*time.Second)
			})
		}
	})
}
