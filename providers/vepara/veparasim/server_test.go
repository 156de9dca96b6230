package veparasim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// The protocol notes' worked example.
const (
	vectorSecret  = "b46a67571aa1e7ef5641dc3fa6f1712a"
	vectorData    = "100.00|1|TRY|$2y$10$HmRgYosneqcwHj.UH7upGuyCZqpQ1ITgSMj9Vvxn.t6f.Vdf2SQFO|INV-1001"
	vectorHashKey = "d9c0ed2d4b2f7e1a:5e3b:hbUmRRoOTmPo2503RcxuOth+78oQ__fy1E4Yr__6tUjqXleJ6TcdBeR4cnLaYeCbSM6NtB6I7n0kI3x5qPEKIpiYYSAZyoigkY7qXlCp9YA8hczRuWY4G4JiA17JgHV4YR"
)

func TestHashKeyVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, vectorHashKey, veparasim.SealHashKey(vectorSecret, "d9c0ed2d4b2f7e1a", "5e3b", vectorData))
	parts, err := veparasim.OpenHashKey(vectorSecret, vectorHashKey)
	require.NoError(t, err)
	require.Equal(t, strings.Split(vectorData, "|"), parts)
	require.Empty(t, veparasim.SealHashKey(vectorSecret, "short", "5e3b", vectorData))
	_, err = veparasim.OpenHashKey("other", vectorHashKey)
	require.Error(t, err)
	_, err = veparasim.OpenHashKey(vectorSecret, "nope")
	require.Error(t, err)
}

// fixedNow is a date at which the sample card (12/2026) is valid.
var fixedNow = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

type client struct {
	t   *testing.T
	sim *veparasim.Server
	url string
	tok string
}

func newClient(t *testing.T, opts ...veparasim.Option) *client {
	t.Helper()
	sim := veparasim.New(append([]veparasim.Option{veparasim.WithClock(func() time.Time { return fixedNow })}, opts...)...)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := &client{t: t, sim: sim, url: srv.URL}
	code, body := c.do(http.MethodPost, "/api/token", map[string]any{"app_id": sim.AppID(), "app_secret": sim.AppSecret()}, "")
	require.Equal(t, http.StatusOK, code)
	c.tok = body["data"].(map[string]any)["token"].(string)
	return c
}

// do sends body (JSON, or raw bytes) with the given Authorization header
// and returns the status and the decoded answer (numbers as json.Number).
func (c *client) do(method, path string, body any, auth string) (int, map[string]any) {
	c.t.Helper()
	var raw []byte
	ctype := "application/json"
	switch b := body.(type) {
	case []byte:
		raw = b
	case url.Values:
		raw, ctype = []byte(b.Encode()), "application/x-www-form-urlencoded"
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(c.t, err)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, bytes.NewReader(raw))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		m = map[string]any{"raw": string(out)}
	}
	return res.StatusCode, m
}

func (c *client) post(path string, body any) (int, map[string]any) {
	c.t.Helper()
	return c.do(http.MethodPost, path, body, "Bearer "+c.tok)
}

func (c *client) hash(fields ...string) string {
	return veparasim.SealHashKey(c.sim.AppSecret(), "0123456789abcdef", "c0de", strings.Join(fields, "|"))
}

// sale is a valid 2D sale body for total TRY with one item.
func (c *client) sale(invoice, total string) map[string]any {
	return map[string]any{
		"cc_holder_name": "John Doe", "cc_no": veparasim.CardApprove, "expiry_month": 12, "expiry_year": 2030, "cvv": "000",
		"currency_code": "TRY", "installments_number": 1, "invoice_id": invoice, "invoice_description": "d",
		"name": "John", "surname": "Doe", "total": json.Number(total), "merchant_key": c.sim.MerchantKey(),
		"items":    []any{map[string]any{"name": "x", "price": json.Number(total), "quantity": 1, "description": "x"}},
		"hash_key": c.hash(total, "1", "TRY", c.sim.MerchantKey(), invoice),
	}
}

func code(body map[string]any) string {
	return string(body["status_code"].(json.Number))
}

func TestToken(t *testing.T) {
	t.Parallel()
	c := newClient(t, veparasim.WithTokenTTL(time.Hour))
	status, body := c.do(http.MethodPost, "/api/token", map[string]any{}, "")
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body["errors"], "app_id")
	require.Contains(t, body["errors"], "app_secret")

	status, body = c.do(http.MethodPost, "/api/token", map[string]any{"app_id": c.sim.AppID(), "app_secret": "x"}, "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "30", code(body))

	status, body = c.do(http.MethodPost, "/api/token", map[string]any{"app_id": c.sim.AppID(), "app_secret": c.sim.AppSecret()}, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "success", body["status"])
	data := body["data"].(map[string]any)
	require.Regexp(t, `^[0-9a-f]{40}$`, data["token"])
	require.Equal(t, json.Number("1"), data["is_3d"])
	require.Equal(t, "2025-06-01 13:00:00", data["expired_at"], "an hour later, in Istanbul time")
	require.Equal(t, 3, c.sim.TokenRequests(), "the wrong secret counts, the missing fields do not")

	status, _ = c.do(http.MethodPost, "/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()}, c.tok)
	require.Equal(t, http.StatusOK, status, "the bare token of the PHP SDK is accepted")
	for _, auth := range []string{"", "Bearer", "Bearer nope"} {
		status, body = c.do(http.MethodPost, "/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()}, auth)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "Unauthenticated.", body["message"])
	}
}

func TestTokensExpire(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(fixedNow.Unix())
	sim := veparasim.New(veparasim.WithClock(func() time.Time { return time.Unix(now.Load(), 0) }))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := &client{t: t, sim: sim, url: srv.URL}
	_, body := c.do(http.MethodPost, "/api/token", map[string]any{"app_id": sim.AppID(), "app_secret": sim.AppSecret()}, "")
	c.tok = body["data"].(map[string]any)["token"].(string)
	status, _ := c.post("/api/installments", map[string]any{"merchant_key": sim.MerchantKey()})
	require.Equal(t, http.StatusOK, status)
	now.Add(int64((2 * time.Hour).Seconds()))
	status, _ = c.post("/api/installments", map[string]any{"merchant_key": sim.MerchantKey()})
	require.Equal(t, http.StatusUnauthorized, status, "a token lives 2 hours")
}

// TestMarketplaceSeedSample posts the sample of the marketplace non-secure
// page as written (wrapped in an array, the card number as a JSON number),
// with a real hash_key.
func TestMarketplaceSeedSample(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	t.Cleanup(hook.Close)
	c := newClient(t, veparasim.WithWebhookURL("string", hook.URL))
	body := `[{
        "cc_holder_name": "John Doe", "cc_no": 4508034508034509, "cvv": "000", "expiry_month": 12, "expiry_year": 2026,
        "currency_id": 949, "currency_code": "TRY", "installments_number": 1, "invoice_id": "1564887Test",
        "invoice_description": "INVOICE TEST DESCRIPTION", "name": "John", "surname": "Dao", "total": 210,
        "merchant_key": "` + c.sim.MerchantKey() + `",
        "items": [
            {"item_id": 1, "sub_merchant_id": "98950-90-7111155889", "name": "Item1", "price": 10, "sub_merchant_share": 8, "quantity": 1, "description": "Item1 Description"},
            {"item_id": 2, "sub_merchant_id": "98950-89-7111157028", "name": "Item2", "price": 20, "sub_merchant_share": 16, "quantity": 1, "description": "Item2 Description"},
            {"item_id": 3, "sub_merchant_id": "98950-88-7111133015", "name": "Item3", "price": 30, "sub_merchant_share": 24, "quantity": 3, "description": "Item3 Description"},
            {"item_id": 4, "sub_merchant_id": "98950-90-7111155889", "name": "Item4", "price": 30, "sub_merchant_share": 24, "quantity": 3, "description": "Item4 Description"}],
        "hash_key": "` + c.hash("210", "1", "TRY", c.sim.MerchantKey(), "1564887Test") + `",
        "bill_address1": "string", "bill_address2": "string", "bill_city": "string", "bill_postcode": "string",
        "bill_state": "string", "bill_country": "string", "bill_email": "string", "bill_phone": "string",
        "sale_webhook_key": "string", "card_program": "string", "ip": "string"
    }]`
	status, ans := c.post("/api/marketplace/sale/pay/smart/non-secure", []byte(body))
	require.Equal(t, http.StatusOK, status, "%v", ans)
	require.Equal(t, "100", code(ans))
	require.Equal(t, "Completed", ans["transaction_status"])
	require.Equal(t, "Auth", ans["transaction_type"])
	require.Equal(t, "1564887Test", ans["invoice_id"])
	require.Equal(t, json.Number("210"), ans["product_price"])
	require.Equal(t, json.Number("210"), ans["transaction_amount"])
	require.Equal(t, "5.23", ans["merchant_commission"], "2.49% of 210")
	require.Equal(t, "0.00", ans["user_commission"])
	require.Equal(t, "2025-06-02", ans["settlement_date"])
	require.Regexp(t, `^\d{15}$`, string(ans["order_id"].(json.Number)))

	tx, ok := c.sim.Transaction("1564887Test")
	require.True(t, ok)
	require.Equal(t, int64(2400), tx.Items[3].Share)
	require.Equal(t, "450803******4509", tx.MaskedCard)

	c.sim.Close()
	form, err := url.ParseQuery(got.Load().(string))
	require.NoError(t, err)
	require.Equal(t, "1564887Test", form.Get("invoice_id"))
	require.Equal(t, "1", form.Get("payment_status"))
	parts, err := veparasim.OpenHashKey(c.sim.AppSecret(), form.Get("hash_key"))
	require.NoError(t, err)
	require.Equal(t, []string{"1", "210", "1564887Test", tx.OrderID, "TRY"}, parts,
		"the webhook's hash_key is status|total|invoice_id|order_id|currency_code")
}

func TestSaleValidation(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	tests := []struct {
		name, field string
		change      func(map[string]any)
	}{
		{"short card number", "cc_no", func(b map[string]any) { b["cc_no"] = "450803450803450" }},
		{"card number with letters", "cc_no", func(b map[string]any) { b["cc_no"] = "45080345080345ab" }},
		{"cvv of 5", "cvv", func(b map[string]any) { b["cvv"] = "12345" }},
		{"holder with digits", "cc_holder_name", func(b map[string]any) { b["cc_holder_name"] = "John 2" }},
		{"holder over 50", "cc_holder_name", func(b map[string]any) { b["cc_holder_name"] = strings.Repeat("a", 51) }},
		{"month 13", "expiry_month", func(b map[string]any) { b["expiry_month"] = 13 }},
		{"3-digit year", "expiry_year", func(b map[string]any) { b["expiry_year"] = 203 }},
		{"invoice over 50", "invoice_id", func(b map[string]any) { b["invoice_id"] = strings.Repeat("i", 51) }},
		{"no total", "total", func(b map[string]any) { delete(b, "total") }},
		{"total not a number", "total", func(b map[string]any) { b["total"] = "ten" }},
		{"no name", "name", func(b map[string]any) { delete(b, "name") }},
		{"no items", "items", func(b map[string]any) { delete(b, "items") }},
		{"hash over 256", "hash_key", func(b map[string]any) { b["hash_key"] = strings.Repeat("h", 257) }},
		{"merchant key over 128", "merchant_key", func(b map[string]any) { b["merchant_key"] = strings.Repeat("m", 129) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := c.sale("inv-"+tt.name, "10")
			tt.change(b)
			status, ans := c.post("/api/paySmart2D", b)
			require.Equal(t, http.StatusUnprocessableEntity, status)
			require.Contains(t, ans["errors"], tt.field)
			require.NotEmpty(t, ans["message"])
		})
	}
	b := c.sale("inv-market", "10")
	status, ans := c.post("/api/marketplace/sale/pay/smart/non-secure", b)
	require.Equal(t, http.StatusUnprocessableEntity, status, "marketplace items need item_id, sub_merchant_id and a share")
	require.Contains(t, ans["errors"], "items.0.item_id")
	require.Contains(t, ans["errors"], "items.0.sub_merchant_id")
	require.Contains(t, ans["errors"], "items.0.sub_merchant_share")
	require.Equal(t, 0, c.sim.Charges("inv-market"))
}

func TestSaleStatusCodes(t *testing.T) {
	t.Parallel()
	c := newClient(t, veparasim.WithInstallments(1, 3))
	mk := c.sim.MerchantKey()
	tests := []struct {
		name, code string
		change     func(map[string]any)
	}{
		{"wrong merchant key", "14", func(b map[string]any) { b["merchant_key"] = "other" }},
		{"hash does not decrypt", "90", func(b map[string]any) { b["hash_key"] = "0123456789abcdef:c0de:AAAA" }},
		{"hash of another invoice", "90", func(b map[string]any) { b["hash_key"] = c.hash("10", "1", "TRY", mk, "other") }},
		{"hash of another merchant", "91", func(b map[string]any) { b["hash_key"] = c.hash("10", "1", "TRY", "other", b["invoice_id"].(string)) }},
		{"hash of another total", "68", func(b map[string]any) { b["hash_key"] = c.hash("10.01", "1", "TRY", mk, b["invoice_id"].(string)) }},
		{"unknown currency", "12", func(b map[string]any) { b["currency_code"] = "GBP" }},
		{"items not adding up", "13", func(b map[string]any) {
			b["items"] = []any{map[string]any{"name": "x", "price": 3, "quantity": 3}}
		}},
		{"malformed item", "12", func(b map[string]any) { b["items"] = []any{map[string]any{"name": "x", "price": "y", "quantity": 1}} }},
		{"disabled instalment count", "40", func(b map[string]any) {
			b["installments_number"] = 2
			b["hash_key"] = c.hash("10", "2", "TRY", mk, b["invoice_id"].(string))
		}},
		{"unregistered webhook key", "56", func(b map[string]any) { b["sale_web_hook_key"] = "nobody" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := "inv-" + strings.ReplaceAll(tt.name, " ", "-")
			b := c.sale(inv, "10")
			tt.change(b)
			status, ans := c.post("/api/paySmart2D", b)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tt.code, code(ans), "%v", ans)
			require.Equal(t, 0, c.sim.Charges(inv))
		})
	}
}

func TestSaleAcceptsThePlatformsVariants(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	b := c.sale("v1", "10")
	b["hash_key"] = c.hash("10.00", "1", "TRY", mk, "v1")
	b["expiry_year"] = 30
	b["items"] = `[{"name":"x","price":"10.00","qty":1}]`
	status, ans := c.post("/api/paySmart2D", b)
	require.Equal(t, http.StatusOK, status, "%v", ans)
	tx, _ := c.sim.Transaction("v1")
	require.Equal(t, "10.00", tx.HashTotal, "the total is compared numerically and kept as written")

	form := url.Values{}
	for k, v := range c.sale("v2", "25.5") {
		switch x := v.(type) {
		case []any:
			raw, err := json.Marshal(x)
			require.NoError(t, err)
			form.Set(k, string(raw))
		default:
			form.Set(k, strings.Trim(string(mustJSON(t, x)), `"`))
		}
	}
	status, ans = c.post("/api/paySmart2D", form)
	require.Equal(t, http.StatusOK, status, "a form post with items as a JSON string: %v", ans)
	data := ans["data"].(map[string]any)
	require.Equal(t, json.Number("1"), data["payment_status"])
	require.Equal(t, "v2", data["invoice_id"])
	parts, err := veparasim.OpenHashKey(c.sim.AppSecret(), data["hash_key"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{"1", "25.5", "v2", data["order_id"].(string), "TRY"}, parts)

	status, ans = c.post("/api/paySmart2D", c.sale("v2", "25.5"))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "3", code(ans), "a reused invoice id")
	require.Equal(t, 1, c.sim.Charges("v2"))

	status, _ = c.do(http.MethodPost, "/ccpayment/api/installments", map[string]any{"merchant_key": mk}, "Bearer "+c.tok)
	require.Equal(t, http.StatusOK, status, "the /ccpayment prefix is served too")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestCardNetwork(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	tests := []struct {
		number, code, status, bank string
		year                       int
	}{
		{veparasim.CardApprove, "100", "Completed", "", 2030},
		{veparasim.CardApproveMastercard, "100", "Completed", "", 2030},
		{"4111111111111111", "100", "Completed", "", 2030},
		{veparasim.CardDecline, "41", "Failed", "05", 2030},
		{veparasim.CardInsufficientFunds, "41", "Failed", "51", 2030},
		{veparasim.CardBlocked, "44", "Failed", "", 2030},
		{veparasim.CardPending, "69", "Pending", "", 2030},
		{"4000000000000001", "108", "Failed", "", 2030},
		{veparasim.CardApprove, "41", "Failed", "54", 2024},
	}
	for i, tt := range tests {
		inv := "card-" + string(rune('a'+i))
		b := c.sale(inv, "10")
		b["cc_no"] = tt.number
		b["expiry_year"] = tt.year
		status, ans := c.post("/api/marketplace/sale/pay/smart/non-secure", withMarketItems(b))
		require.Equal(t, http.StatusOK, status, "%s: %v", tt.number, ans)
		require.Equal(t, tt.code, code(ans), tt.number)
		require.Equal(t, tt.status, ans["transaction_status"], tt.number)
		require.Equal(t, tt.bank, ans["bank_status_code"], tt.number)
	}
}

func withMarketItems(b map[string]any) map[string]any {
	b["items"] = []any{map[string]any{
		"item_id": "1", "sub_merchant_id": veparasim.DefaultSubMerchants()[0], "name": "x",
		"price": b["total"], "sub_merchant_share": 1, "quantity": 1,
	}}
	return b
}

func TestCheckStatus(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	b := c.sale("cs-1", "10")
	b["installments_number"] = 3
	b["hash_key"] = c.hash("10", "3", "TRY", mk, "cs-1")
	status, _ := c.post("/api/paySmart2D", b)
	require.Equal(t, http.StatusOK, status)

	status, ans := c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "cs-1"})
	require.Equal(t, http.StatusOK, status, "the Vepara doc sends no hash_key")
	require.Equal(t, "100", code(ans))
	require.Equal(t, "Completed", ans["transaction_status"])
	require.Equal(t, "10", ans["product_price"], "a string, as in the sample")
	require.Equal(t, json.Number("10.25"), ans["transaction_amount"], "a number, with the customer's instalment cost")
	require.Equal(t, "0.25", ans["user_commission"])
	require.Equal(t, "0.25", ans["merchant_commission"])
	require.Equal(t, json.Number("0"), ans["total_refunded_amount"])
	require.NotContains(t, ans, "refund_info")

	status, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "cs-1", "hash_key": c.hash("cs-1", mk), "show_refund_info": "Y"})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []any{}, ans["refund_info"])

	status, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "cs-1", "hash_key": c.hash(mk, "cs-1")})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "90", code(ans), "the fields in the wrong order")
	_, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "nope"})
	require.Equal(t, "31", code(ans))
	_, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": "x", "invoice_id": "cs-1"})
	require.Equal(t, "14", code(ans))
	status, _ = c.post("/api/checkstatus", map[string]any{"merchant_key": mk})
	require.Equal(t, http.StatusUnprocessableEntity, status)

	p := c.sale("cs-2", "10")
	p["cc_no"] = veparasim.CardPending
	c.post("/api/paySmart2D", p)
	_, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "cs-2"})
	require.Equal(t, "69", code(ans))
	_, ans = c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "cs-2", "include_pending_status": true})
	require.Equal(t, "100", code(ans))
	require.Equal(t, "Pending", ans["transaction_status"])
}

func TestConfirmPayment(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	for _, inv := range []string{"pa-1", "pa-2", "auth"} {
		b := c.sale(inv, "100")
		if inv != "auth" {
			b["transaction_type"] = "PreAuth"
		}
		_, ans := c.post("/api/paySmart2D", b)
		require.Equal(t, "100", code(ans))
	}
	confirm := func(inv string, status int, total any) (int, map[string]any) {
		body := map[string]any{"merchant_key": mk, "invoice_id": inv, "status": status, "hash_key": c.hash(mk, inv, string(rune('0'+status)))}
		if total != nil {
			body["total"] = total
		}
		return c.post("/api/confirmPayment", body)
	}
	_, ans := confirm("auth", 1, nil)
	require.Equal(t, "113", code(ans))
	require.Equal(t, "Unknown", ans["transaction_status"])
	status, ans := confirm("pa-1", 3, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", ans)
	status, _ = confirm("pa-1", 1, 150)
	require.Equal(t, http.StatusUnprocessableEntity, status, "more than authorized")
	_, ans = c.post("/api/confirmPayment", map[string]any{"merchant_key": mk, "invoice_id": "pa-1", "status": 1, "hash_key": c.hash(mk, "pa-1", "2")})
	require.Equal(t, "90", code(ans))

	_, ans = confirm("pa-1", 1, 40)
	require.Equal(t, "100", code(ans))
	require.Equal(t, "Completed", ans["transaction_status"])
	tx, _ := c.sim.Transaction("pa-1")
	require.Equal(t, int64(4000), tx.Captured)
	require.Equal(t, veparasim.TypePostAuth, tx.TransactionType)
	_, ans = confirm("pa-1", 2, nil)
	require.Equal(t, "113", code(ans), "a captured sale is no pre-authorization any more")

	_, ans = confirm("pa-2", 2, nil)
	require.Equal(t, "100", code(ans))
	tx, _ = c.sim.Transaction("pa-2")
	require.Equal(t, veparasim.StatusCancelled, tx.Status)
}

func TestRefundStatusCodes(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	c.post("/api/paySmart2D", c.sale("rf", "100"))
	refund := func(amount, txID string, change func(map[string]any)) map[string]any {
		body := map[string]any{
			"invoice_id": "rf", "amount": amount, "app_id": c.sim.AppID(), "app_secret": c.sim.AppSecret(),
			"merchant_key": mk, "hash_key": c.hash(amount, "rf", mk), "refund_transaction_id": txID,
		}
		if change != nil {
			change(body)
		}
		_, ans := c.post("/api/refund", body)
		return ans
	}
	require.Equal(t, "30", code(refund("1", "a", func(b map[string]any) { b["app_secret"] = "x" })))
	require.Equal(t, "90", code(refund("1", "a", func(b map[string]any) { b["hash_key"] = c.hash("1", "other", mk) })))
	require.Equal(t, "68", code(refund("1", "a", func(b map[string]any) { b["hash_key"] = c.hash("2", "rf", mk) })))
	require.Equal(t, "31", code(refund("1", "a", func(b map[string]any) {
		b["invoice_id"] = "nope"
		b["hash_key"] = c.hash("1", "nope", mk)
	})))
	require.Equal(t, "49", code(refund("100.01", "a", nil)), "more than captured")

	ans := refund("10.5", "r1", nil)
	require.Equal(t, "100", code(ans))
	require.NotEmpty(t, ans["ref_no"])
	require.Equal(t, "104", code(refund("10.5", "r1", nil)), "a reused refund transaction id")
	require.Equal(t, "100", code(refund("", "r2", nil)), "an empty amount refunds the rest")
	tx, _ := c.sim.Transaction("rf")
	require.Equal(t, int64(10000), tx.Refunded)
	require.Equal(t, veparasim.StatusRefunded, tx.Status)
	require.Equal(t, []veparasim.RefundRecord{
		{ID: "r1", Amount: 1050, Status: "Completed", RefNo: tx.Refunds[0].RefNo},
		{ID: "r2", Amount: 8950, Status: "Completed", RefNo: tx.Refunds[1].RefNo},
	}, tx.Refunds)
	require.Equal(t, "49", code(refund("1", "r3", nil)), "nothing left")

	_, st := c.post("/api/checkstatus", map[string]any{"merchant_key": mk, "invoice_id": "rf", "show_refund_info": "Y"})
	require.Equal(t, "Refunded", st["transaction_status"])
	info := st["refund_info"].([]any)
	require.Len(t, info, 2)
	require.Equal(t, "r1", info[0].(map[string]any)["refund_transaction_id"])
	require.Equal(t, "10.50", info[0].(map[string]any)["amount"])

	p := newClient(t, veparasim.WithPartialRefunds(false), veparasim.WithManualRefunds(true))
	p.post("/api/paySmart2D", p.sale("rf", "100"))
	body := map[string]any{
		"invoice_id": "rf", "amount": "1", "app_id": p.sim.AppID(), "app_secret": p.sim.AppSecret(),
		"merchant_key": p.sim.MerchantKey(), "hash_key": p.hash("1", "rf", p.sim.MerchantKey()),
	}
	_, ans = p.post("/api/refund", body)
	require.Equal(t, "110", code(ans))
	body["amount"] = "100"
	body["hash_key"] = p.hash("100", "rf", p.sim.MerchantKey())
	_, ans = p.post("/api/refund", body)
	require.Equal(t, "101", code(ans), "a refund request")
	tx, _ = p.sim.Transaction("rf")
	require.Equal(t, "Pending", tx.Refunds[0].Status)
	require.Regexp(t, `^R[0-9a-f]{12}$`, tx.Refunds[0].ID, "a refund without an id gets one")
	require.NoError(t, p.sim.CompleteRefund(t.Context(), tx.Refunds[0].ID))
	tx, _ = p.sim.Transaction("rf")
	require.Equal(t, veparasim.StatusRefunded, tx.Status)
}

func TestGetPosAndInstallments(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	_, ans := c.post("/api/installments", map[string]any{"merchant_key": mk})
	require.Equal(t, []any{json.Number("1"), json.Number("2"), json.Number("3"), json.Number("6"), json.Number("9"), json.Number("12")}, ans["installments"])
	require.Equal(t, "Merchant Active Installment", ans["message"])

	_, ans = c.post("/api/getpos", map[string]any{"credit_card": "979204", "amount": 200, "currency_code": "TRY", "merchant_key": mk})
	require.Equal(t, "100", code(ans))
	data := ans["data"].([]any)
	require.Len(t, data, 6)
	six := data[3].(map[string]any)
	require.Equal(t, json.Number("6"), six["installments_number"])
	require.Equal(t, json.Number("212.5"), six["payable_amount"], "5 extra instalments at 1.25% of 200")
	require.Equal(t, "TROY", six["card_scheme"])
	require.Equal(t, "6 Taksit", six["title"])

	status, ans := c.post("/api/getpos", map[string]any{"credit_card": "45", "amount": 200, "currency_code": "TRY", "merchant_key": mk})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, ans["errors"], "credit_card")
}

func TestSubMerchantEndpoints(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	mk := c.sim.MerchantKey()
	status, ans := c.post("/api/sub-merchant/add", map[string]any{
		"merchant_key": mk, "sub_merchant_name": "x",
		"sub_merchant_email": "bad", "iban_no": "TR000", "zip_code": "1",
	})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, ans["errors"], "sub_merchant_email")
	require.Contains(t, ans["errors"], "iban_no")
	require.Contains(t, ans["errors"], "zip_code")

	_, ans = c.post("/api/sub-merchant/add", map[string]any{
		"merchant_key": mk, "sub_merchant_name": "Shop",
		"sub_merchant_email": "s@example.com", "iban_no": "TR330006100519786457841326", "terminal_no": "T1",
	})
	require.Equal(t, "100", code(ans))
	id := ans["data"].(map[string]any)["sub_merchant_id"].(string)
	require.Regexp(t, `^98950-\d{2}-\d{10}$`, id)

	status, ans = c.do(http.MethodGet, "/api/sub-merchant/list", map[string]any{"merchant_key": mk}, "Bearer "+c.tok)
	require.Equal(t, http.StatusOK, status, "a GET with a JSON body")
	require.Len(t, ans["data"], 4)

	_, ans = c.post("/api/sub-merchant/edit", map[string]any{"merchant_key": mk, "sub_merchant_id": "nope", "change_data": map[string]any{}})
	require.Equal(t, "80", code(ans))
	status, ans = c.post("/api/sub-merchant/edit", map[string]any{"merchant_key": mk, "sub_merchant_id": id, "change_data": map[string]any{"zip_code": "12"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, ans["errors"], "change_data.zip_code")
	status, _ = c.do(http.MethodDelete, "/api/sub-merchant/delete", map[string]any{"merchant_key": mk, "sub_merchant_id": id}, "Bearer "+c.tok)
	require.Equal(t, http.StatusOK, status)
	_, ans = c.post("/api/sub-merchant/delete", map[string]any{"merchant_key": mk, "sub_merchant_id": id})
	require.Equal(t, "80", code(ans))
}

func TestFaults(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	c.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultServerError})
	status, _ := c.post("/api/paySmart2D", c.sale("f1", "1"))
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, 0, c.sim.Charges("f1"), "a 500 acts on nothing")

	c.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultLostResponse})
	status, _ = c.post("/api/paySmart2D", c.sale("f2", "1"))
	require.Equal(t, http.StatusBadGateway, status)
	require.Equal(t, 1, c.sim.Charges("f2"), "a lost answer hides a charge")

	c.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultMalformed})
	status, ans := c.post("/api/paySmart2D", c.sale("f3", "1"))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ans["raw"], "<html>")
	require.Equal(t, 1, c.sim.Charges("f3"))

	c.sim.InjectFault(veparasim.Fault{Kind: veparasim.FaultUnauthorized, Times: 2})
	for range 2 {
		status, _ = c.post("/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()})
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = c.post("/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()})
	require.Equal(t, http.StatusOK, status, "a fault lasts Times requests")

	c.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultDelay, Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api/paySmart2D", bytes.NewReader(mustJSON(t, c.sale("f4", "1"))))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	res, err := http.DefaultClient.Do(req)
	if res != nil {
		_ = res.Body.Close()
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool { return c.sim.Calls("/api/paySmart2D") == 4 }, time.Second, 5*time.Millisecond)
	require.Equal(t, 0, c.sim.Charges("f4"), "a request given up during the delay acts on nothing")

	c.sim.InjectFault(veparasim.Fault{Kind: veparasim.FaultServerError})
	c.sim.ClearFaults()
	status, _ = c.post("/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()})
	require.Equal(t, http.StatusOK, status)

	c.sim.RevokeTokens()
	status, _ = c.post("/api/installments", map[string]any{"merchant_key": c.sim.MerchantKey()})
	require.Equal(t, http.StatusUnauthorized, status)
}

// hookServer answers 500 to the first failures posts, then 200, and keeps
// every body by path.
type hookServer struct {
	mu       sync.Mutex
	failures int
	bodies   map[string][]url.Values
}

func newHookServer(t *testing.T, failures int) (*hookServer, string) {
	t.Helper()
	h := &hookServer{failures: failures, bodies: map[string][]url.Values{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(b))
		h.mu.Lock()
		defer h.mu.Unlock()
		h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], v)
		if h.failures > 0 {
			h.failures--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hookServer) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies[path])
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	h, base := newHookServer(t, 2)
	c := newClient(t, veparasim.WithWebhookURL("k", base+"/hook/{invoice_id}"), veparasim.WithWebhookRetries(3, time.Millisecond))
	p := c.sale("wh-1", "12.5")
	p["cc_no"] = veparasim.CardPending
	p["sale_web_hook_key"] = "k"
	c.post("/api/paySmart2D", p)
	require.Empty(t, c.sim.Deliveries(), "a pending sale sends nothing yet")
	require.NoError(t, c.sim.Pay(t.Context(), "wh-1"))
	require.Equal(t, 3, h.count("/hook/wh-1"), "two failures, then delivered")
	d := c.sim.Deliveries()
	require.Len(t, d, 3)
	require.Equal(t, http.StatusInternalServerError, d[0].StatusCode)
	require.Equal(t, http.StatusOK, d[2].StatusCode)
	f := d[2].Form
	require.Equal(t, "1", f.Get("vepara_status"))
	require.Equal(t, "Auth", f.Get("transaction_type"))
	tx, _ := c.sim.Transaction("wh-1")
	parts, err := veparasim.OpenHashKey(c.sim.AppSecret(), f.Get("hash_key"))
	require.NoError(t, err)
	require.Equal(t, []string{"1", "12.5", "wh-1", tx.OrderID, "TRY"}, parts)

	c.sim.SetWebhookFaults(veparasim.WebhookFaults{Duplicates: 1})
	require.NoError(t, c.sim.Resend(t.Context(), "wh-1"))
	require.Equal(t, 5, h.count("/hook/wh-1"), "a duplicate")
	c.sim.SetWebhookFaults(veparasim.WebhookFaults{Drop: true})
	require.NoError(t, c.sim.Resend(t.Context(), "wh-1"))
	require.Equal(t, 5, h.count("/hook/wh-1"), "dropped")
	require.True(t, c.sim.Deliveries()[5].Dropped)

	c.sim.SetWebhookFaults(veparasim.WebhookFaults{})
	d2 := c.sale("wh-2", "3")
	d2["cc_no"] = veparasim.CardDecline
	d2["sale_web_hook_key"] = "k"
	c.post("/api/paySmart2D", d2)
	c.sim.Close()
	require.Equal(t, 1, h.count("/hook/wh-2"), "a decided sale sends its webhook at once")
	last := h.bodies["/hook/wh-2"][0]
	require.Equal(t, "0", last.Get("payment_status"))
	require.Equal(t, "05", last.Get("error_code"))
}
