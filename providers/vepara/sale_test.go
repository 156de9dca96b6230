package vepara_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

func TestNewRequiresCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  vepara.Config
	}{
		{"no app id", vepara.Config{AppSecret: "s", MerchantKey: "m"}},
		{"no app secret", vepara.Config{AppID: "a", MerchantKey: "m"}},
		{"no merchant key", vepara.Config{AppID: "a", AppSecret: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := vepara.New(tt.cfg)
			require.Error(t, err)
			require.Nil(t, p)
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cfg := vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"}
	tests := []struct {
		name string
		opt  vepara.Option
	}{
		{"relative base URL", vepara.WithBaseURL("/ccpayment")},
		{"ftp base URL", vepara.WithBaseURL("ftp://example.com")},
		{"nil HTTP client", vepara.WithHTTPClient(nil)},
		{"nil logger", vepara.WithLogger(nil)},
		{"nil clock", vepara.WithClock(nil)},
		{"nil clock func", vepara.WithClockFunc(nil)},
		{"zero rate", vepara.WithRateLimit(0, 1)},
		{"no currency", vepara.WithCurrencies()},
		{"unknown currency", vepara.WithCurrencies("XYZ")},
		{"short BIN", vepara.WithQuoteBIN("4508")},
		{"letters in BIN", vepara.WithQuoteBIN("4508ab")},
		{"negative token margin", vepara.WithTokenRefreshMargin(-time.Second)},
		{"unknown amount format", vepara.WithAmountFormat(vepara.AmountFormat(9))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := vepara.New(cfg, tt.opt)
			require.Error(t, err)
		})
	}
	p, err := vepara.New(cfg, nil, vepara.WithBaseURL(vepara.LiveBaseURL+"/"), vepara.WithCurrencies("TRY", "USD", "EUR"))
	require.NoError(t, err, "nil options are skipped")
	require.Equal(t, []string{"TRY", "USD", "EUR"}, p.Currencies())
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"})
	require.NoError(t, err)
	require.Equal(t, "vepara", p.Name())
	require.Equal(t, []payment.Method{payment.MethodCard}, p.Methods())
	require.Equal(t, []string{"TRY"}, p.Currencies())
	require.Equal(t, []string{"sync", "refund", "cancel", "capture", "quote"}, payment.Capabilities(p))
	cur := p.Currencies()
	cur[0] = "USD"
	require.Equal(t, []string{"TRY"}, p.Currencies(), "Currencies must return a copy")
}

func TestMarketplaceSaleSample(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := marketplaceCheckout()
	pay, st := start(t, e.p, req)

	tx, ok := e.sim.Transaction(pay.ID)
	require.True(t, ok)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, tx.OrderID, st.ProviderReference)
	require.Equal(t, &payment.Money{Amount: 21000, Currency: "TRY"}, st.Amount)
	require.Equal(t, &payment.CardSummary{Brand: "visa", Last4: "4509"}, st.Card)
	require.Nil(t, st.Failure)

	body := e.last(t, "/api/marketplace/sale/pay/smart/non-secure")
	require.Equal(t, json.Number("210"), body["total"], "total must be written exactly")
	require.Equal(t, pay.ID, body["invoice_id"], "the invoice id is paykit's payment id")
	require.Equal(t, json.Number("949"), body["currency_id"])
	require.Equal(t, "TRY", body["currency_code"])
	require.Equal(t, json.Number("1"), body["installments_number"])
	require.Equal(t, veparasim.CardApprove, body["cc_no"], "cc_no is sent as a string")
	require.Equal(t, json.Number("2035"), body["expiry_year"])
	require.Equal(t, "paykit", body["sale_webhook_key"], "the marketplace page spells it sale_webhook_key")
	require.NotContains(t, body, "sale_web_hook_key")
	require.NotContains(t, body, "transaction_type", "an automatic capture is a plain Auth")
	require.Equal(t, "John Ronald", body["name"])
	require.Equal(t, "Doe", body["surname"])
	require.Equal(t, "203.0.113.7", body["ip"])
	require.Equal(t, "john@example.com", body["bill_email"])

	items, ok := body["items"].([]any)
	require.True(t, ok)
	want := []map[string]any{
		{"item_id": "1", "sub_merchant_id": "98950-90-7111155889", "name": "Item1", "price": json.Number("10"), "sub_merchant_share": json.Number("8"), "quantity": json.Number("1"), "description": "Item1"},
		{"item_id": "2", "sub_merchant_id": "98950-89-7111157028", "name": "Item2", "price": json.Number("20"), "sub_merchant_share": json.Number("16"), "quantity": json.Number("1"), "description": "Item2"},
		{"item_id": "3", "sub_merchant_id": "98950-88-7111133015", "name": "Item3", "price": json.Number("30"), "sub_merchant_share": json.Number("24"), "quantity": json.Number("3"), "description": "Item3"},
		{"item_id": "4", "sub_merchant_id": "98950-90-7111155889", "name": "Item4", "price": json.Number("30"), "sub_merchant_share": json.Number("24"), "quantity": json.Number("3"), "description": "Item4"},
	}
	require.Len(t, items, len(want))
	for i, it := range items {
		require.Equal(t, want[i], it, "item %d", i)
	}

	parts, err := veparasim.OpenHashKey(e.sim.AppSecret(), body["hash_key"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{"210", "1", "TRY", e.sim.MerchantKey(), pay.ID}, parts,
		"the sale's hash_key is total|installments_number|currency_code|merchant_key|invoice_id")

	require.True(t, tx.Marketplace)
	require.Equal(t, veparasim.StatusCompleted, tx.Status)
	require.Equal(t, "210", tx.HashTotal)
	require.Equal(t, int64(21000), tx.Total)
	require.Equal(t, int64(523), tx.MerchantCommission, "2.49% of 210.00, rounded")
	require.Equal(t, "450803******4509", tx.MaskedCard)
	require.Equal(t, []veparasim.Item{
		{ItemID: "1", SubMerchantID: "98950-90-7111155889", Name: "Item1", Price: 1000, Share: 800, Quantity: 1},
		{ItemID: "2", SubMerchantID: "98950-89-7111157028", Name: "Item2", Price: 2000, Share: 1600, Quantity: 1},
		{ItemID: "3", SubMerchantID: "98950-88-7111133015", Name: "Item3", Price: 3000, Share: 2400, Quantity: 3},
		{ItemID: "4", SubMerchantID: "98950-90-7111155889", Name: "Item4", Price: 3000, Share: 2400, Quantity: 3},
	}, tx.Items)
}

func TestMarketplaceItemIDsDefaultToPosition(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := marketplaceCheckout()
	for i := range req.Payment.Items {
		req.Payment.Items[i].ID = ""
	}
	start(t, e.p, req)
	items := e.last(t, "/api/marketplace/sale/pay/smart/non-secure")["items"].([]any)
	for i, it := range items {
		require.Equal(t, []string{"1", "2", "3", "4"}[i], it.(map[string]any)["item_id"])
	}
}

func TestPlain2DSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApproveMastercard, 10050)
	req.Payment.Description = "Order 42"
	pay, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, &payment.Money{Amount: 10050, Currency: "TRY"}, st.Amount)
	require.Equal(t, &payment.CardSummary{Brand: "mastercard", Last4: "5403"}, st.Card)

	raw := e.lastRaw(t, "/api/paySmart2D")
	require.Contains(t, string(raw), `"total":100.5,`, "the total is the shortest exact decimal")
	body := e.last(t, "/api/paySmart2D")
	require.Equal(t, "paykit", body["sale_web_hook_key"], "the 2D sale spells it sale_web_hook_key")
	require.NotContains(t, body, "currency_id")
	require.Equal(t, "Order 42", body["invoice_description"])
	require.Equal(t, []any{map[string]any{
		"name": "Order 42", "price": json.Number("100.5"), "quantity": json.Number("1"), "description": "Order 42",
	}}, body["items"], "a sale without items sends one line for the whole amount")

	tx, ok := e.sim.Transaction(pay.ID)
	require.True(t, ok)
	require.False(t, tx.Marketplace)
	require.Equal(t, "100.5", tx.HashTotal)
	require.Equal(t, int64(10050), tx.Total)
}

func Test2DSaleWithItemsAndNoSubMerchants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 12345)
	req.Payment.Items = []payment.Item{
		{Name: "Book", Price: 1000, Quantity: 2},
		{Name: "Pen", Price: 10345, Quantity: 1},
	}
	_, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	body := e.last(t, "/api/paySmart2D")
	require.Equal(t, json.Number("123.45"), body["total"])
	require.Equal(t, []any{
		map[string]any{"name": "Book", "price": json.Number("10"), "quantity": json.Number("2"), "description": "Book"},
		map[string]any{"name": "Pen", "price": json.Number("103.45"), "quantity": json.Number("1"), "description": "Pen"},
	}, body["items"])
}

func TestAmountFormatTwoDecimals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, vepara.WithAmountFormat(vepara.AmountTwoDecimals))
	req := marketplaceCheckout()
	pay, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status, "the platform compares totals numerically")
	raw := string(e.lastRaw(t, "/api/marketplace/sale/pay/smart/non-secure"))
	require.Contains(t, raw, `"total":210.00,`)
	require.Contains(t, raw, `"price":10.00,`)
	require.Contains(t, raw, `"sub_merchant_share":8.00,`)
	tx, _ := e.sim.Transaction(pay.ID)
	require.Equal(t, "210.00", tx.HashTotal, "the hash_key's total is written as the JSON total")
}

func TestInstallments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 100000)
	req.Payment.Metadata = map[string]string{vepara.MetadataInstallments: "3"}
	pay, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, json.Number("3"), e.last(t, "/api/paySmart2D")["installments_number"])
	tx, _ := e.sim.Transaction(pay.ID)
	require.Equal(t, 3, tx.Installments)
	require.Equal(t, int64(2500), tx.UserCommission, "two instalments beyond the first at 1.25% of 1000.00")
	require.Equal(t, int64(102500), tx.Payable)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "TRY"}, st.Amount,
		"the amount is the product price, not what the customer pays with instalments")
}

func TestDisabledInstallmentCountIsInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []veparasim.Option{veparasim.WithInstallments(1, 2)})
	req := cardCheckout(veparasim.CardApprove, 10000)
	req.Payment.Metadata = map[string]string{vepara.MetadataInstallments: "6"}
	_, err := e.p.Start(t.Context(), req)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	pe := providerErr(t, err)
	require.Equal(t, "40", pe.Code)
	require.False(t, pe.Retryable)
	require.Equal(t, 0, e.sim.Charges(req.Payment.ID))
}

func TestDeclinedCards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, number string
		year         int
		code         string
	}{
		{"do not honour", veparasim.CardDecline, 2035, payment.FailureCardDeclined},
		{"insufficient funds", veparasim.CardInsufficientFunds, 2035, payment.FailureInsufficientFunds},
		{"card blocked", veparasim.CardBlocked, 2035, payment.FailureCardDeclined},
		{"fails the Luhn check", "4000000000000001", 2035, "invalid_card_number"},
		{"expired", veparasim.CardApprove, 2020, "expired_card"},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := cardCheckout(tt.number, 5000)
			req.Card.ExpiryYear = tt.year
			pay, st := start(t, e.p, req)
			require.Equal(t, payment.StatusFailed, st.Status, "a decline is a state, not an error")
			require.NotEmpty(t, st.ProviderReference)
			require.NotNil(t, st.Failure)
			require.Equal(t, tt.code, st.Failure.Code)
			require.NotEmpty(t, st.Failure.Message)
			require.Nil(t, st.Amount)

			synced, err := e.p.Sync(t.Context(), pay)
			require.NoError(t, err)
			require.Equal(t, payment.StatusFailed, synced.Status)
			require.Equal(t, tt.code, synced.Failure.Code)
			require.Equal(t, st.ProviderReference, synced.ProviderReference)
		})
	}
}

func TestStartIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := marketplaceCheckout()
	_, first := start(t, e.p, req)
	statusCalls := e.sim.Calls("/api/checkstatus")
	second, err := e.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, first.ProviderReference, second.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, second.Status)
	require.Equal(t, first.Amount, second.Amount)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))
	require.Equal(t, statusCalls+1, e.sim.Calls("/api/checkstatus"), "a duplicate invoice (3) is resolved by checkstatus")
}

func TestStartAfterALostAnswerChargesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 7500)
	e.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultLostResponse})
	_, err := e.p.Start(t.Context(), req)
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err), "a lost answer leaves the outcome unknown")
	require.ErrorIs(t, err, payment.ErrUnavailable)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID), "the platform charged")

	st, err := e.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID), "the retry must not charge again")
	tx, _ := e.sim.Transaction(req.Payment.ID)
	require.Equal(t, tx.OrderID, st.ProviderReference)
}

func TestStartAfterAServerErrorCharges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 7500)
	e.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultServerError})
	_, err := e.p.Start(t.Context(), req)
	require.True(t, payment.IsRetryable(err))
	require.Equal(t, "http_500", providerErr(t, err).Code)
	require.Equal(t, 0, e.sim.Charges(req.Payment.ID))

	_, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))
}

func TestStartWithAGarbledAnswerIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 7500)
	e.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultMalformed})
	_, err := e.p.Start(t.Context(), req)
	require.True(t, payment.IsRetryable(err), "a 2xx that cannot be read may hide a charge")
	_, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))
}

func TestStartTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 7500)
	_, err := e.p.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 100, Currency: "TRY"}})
	require.NoError(t, err, "fetch the token first")
	e.sim.InjectFault(veparasim.Fault{Path: "/api/paySmart2D", Kind: veparasim.FaultDelay, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = e.p.Start(ctx, req)
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestPendingSaleIsDecidedLater(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		act    func(context.Context, string) error
		status payment.Status
	}{
		{"pay", e.sim.Pay, payment.StatusSucceeded},
		{"decline", e.sim.Decline, payment.StatusFailed},
		{"expire", e.sim.Expire, payment.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pay, st := start(t, e.p, cardCheckout(veparasim.CardPending, 4200))
			require.Equal(t, payment.StatusProcessing, st.Status)
			require.NotEmpty(t, st.ProviderReference)
			synced, err := e.p.Sync(t.Context(), pay)
			require.NoError(t, err)
			require.Equal(t, payment.StatusProcessing, synced.Status)

			require.NoError(t, tc.act(t.Context(), pay.ID))
			wr, err := e.rec.Next(t.Context(), pay.ID)
			require.NoError(t, err)
			res, err := e.p.ParseWebhook(t.Context(), wr)
			require.NoError(t, err)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			require.Equal(t, pay.ID, ev.PaymentID)
			require.Equal(t, st.ProviderReference, ev.ProviderReference)
			require.Equal(t, tc.status, ev.Payment.Status)

			synced, err = e.p.Sync(t.Context(), pay)
			require.NoError(t, err)
			require.Equal(t, tc.status, synced.Status)
			if tc.status == payment.StatusFailed {
				require.Equal(t, payment.FailureCardDeclined, synced.Failure.Code)
			} else {
				require.Equal(t, &payment.Money{Amount: 4200, Currency: "TRY"}, synced.Amount)
			}
		})
	}
}

func TestCustomerActionsOnDecidedSales(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	paid, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	require.NoError(t, e.sim.Pay(t.Context(), paid.ID), "Pay on an approved sale sends its webhook again")
	require.ErrorIs(t, e.sim.Decline(t.Context(), paid.ID), veparasim.ErrNotPending)
	require.ErrorIs(t, e.sim.Expire(t.Context(), paid.ID), veparasim.ErrNotPending)
	declined, _ := start(t, e.p, cardCheckout(veparasim.CardDecline, 100))
	require.ErrorIs(t, e.sim.Pay(t.Context(), declined.ID), veparasim.ErrNotPending)
	require.NoError(t, e.sim.Decline(t.Context(), declined.ID))
	require.ErrorIs(t, e.sim.Pay(t.Context(), "pay_unknown"), veparasim.ErrUnknownInvoice)
}

func TestUnknownMerchantKeyIsAnError(t *testing.T) {
	t.Parallel()
	sim := veparasim.New()
	e := newEnv(t, []veparasim.Option{veparasim.WithCredentials(sim.AppID(), sim.AppSecret(), "another-merchant")})
	p, err := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(), MerchantKey: sim.MerchantKey()},
		vepara.WithBaseURL(e.srv.URL))
	require.NoError(t, err)
	_, err = p.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
	pe := providerErr(t, err)
	require.Equal(t, "14", pe.Code)
	require.False(t, pe.Retryable)
	require.NotContains(t, err.Error(), sim.MerchantKey())
}

func TestUnknownSubMerchantIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := marketplaceCheckout()
	req.Payment.Items[1].SubMerchantID = "98950-00-0000000000"
	_, err := e.p.Start(t.Context(), req)
	pe := providerErr(t, err)
	require.Equal(t, "80", pe.Code)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Equal(t, 0, e.sim.Charges(req.Payment.ID))
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, vepara.WithRateLimit(rate.Limit(50), 1))
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	began := time.Now()
	for range 5 {
		_, err := e.p.Sync(t.Context(), pay)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, time.Since(began), 80*time.Millisecond, "5 calls at 50/s with no burst take at least 80 ms")
}

func TestSyncOfAnUnknownInvoiceIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := cardCheckout(veparasim.CardApprove, 100)
	_, err := e.p.Sync(t.Context(), req.Payment)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Equal(t, "31", providerErr(t, err).Code)
	require.False(t, payment.IsRetryable(err))
}

func TestSyncSendsTheStatusHashKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	_, err := e.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	body := e.last(t, "/api/checkstatus")
	parts, err := veparasim.OpenHashKey(e.sim.AppSecret(), body["hash_key"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{pay.ID, e.sim.MerchantKey()}, parts, "checkstatus's hash_key is invoice_id|merchant_key")
	pending, ok := body["include_pending_status"].(bool)
	require.True(t, ok && pending, "checkstatus asks for pending states")
}

func TestServesUnderTheCcpaymentPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p, err := vepara.New(vepara.Config{AppID: e.sim.AppID(), AppSecret: e.sim.AppSecret(), MerchantKey: e.sim.MerchantKey()},
		vepara.WithBaseURL(e.srv.URL+"/ccpayment"))
	require.NoError(t, err)
	_, st := start(t, p, cardCheckout(veparasim.CardApprove, 100))
	require.Equal(t, payment.StatusSucceeded, st.Status)
}

func TestRequestsCarryTheBearerToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	auths := e.authHeaders()
	require.NotEmpty(t, auths)
	for _, a := range auths {
		require.Regexp(t, `^Bearer [0-9a-f]{40}$`, a)
	}
}
