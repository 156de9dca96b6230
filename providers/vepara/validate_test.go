package vepara_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

func TestValidateCheckout(t *testing.T) {
	t.Parallel()
	p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		change  func(*payment.StartRequest)
		field   string
		missing bool
	}{
		{"no card", func(r *payment.StartRequest) { r.Card = nil }, "card", true},
		{"wrong method", func(r *payment.StartRequest) { r.Payment.Method = payment.MethodQR }, "method", false},
		{"currency not taken", func(r *payment.StartRequest) { r.Payment.Currency = "USD" }, "currency", false},
		{"zero amount", func(r *payment.StartRequest) { r.Payment.Amount = 0 }, "amount", false},
		{"invoice id over 50", func(r *payment.StartRequest) { r.Payment.ID = "pay_" + strings.Repeat("A", 47) }, "id", false},
		{"unknown capture method", func(r *payment.StartRequest) { r.Payment.CaptureMethod = "later" }, "capture_method", false},
		{"no card number", func(r *payment.StartRequest) { r.Card.Number = "" }, "card.number", true},
		{"card number of 15 digits", func(r *payment.StartRequest) { r.Card.Number = "450803450803450" }, "card.number", false},
		{"card number of 21 digits", func(r *payment.StartRequest) { r.Card.Number = "450803450803450945080" }, "card.number", false},
		{"card number with spaces", func(r *payment.StartRequest) { r.Card.Number = "4508 0345 0803 4509" }, "card.number", false},
		{"no cvv", func(r *payment.StartRequest) { r.Card.CVV = "" }, "card.cvv", true},
		{"cvv of 2 digits", func(r *payment.StartRequest) { r.Card.CVV = "12" }, "card.cvv", false},
		{"cvv of 5 digits", func(r *payment.StartRequest) { r.Card.CVV = "12345" }, "card.cvv", false},
		{"cvv with a letter", func(r *payment.StartRequest) { r.Card.CVV = "12a" }, "card.cvv", false},
		{"no holder", func(r *payment.StartRequest) { r.Card.HolderName = "  " }, "card.holder_name", true},
		{"holder with digits", func(r *payment.StartRequest) { r.Card.HolderName = "John Doe 2" }, "card.holder_name", false},
		{"holder over 50", func(r *payment.StartRequest) { r.Card.HolderName = strings.Repeat("Ş", 51) }, "card.holder_name", false},
		{"month 0", func(r *payment.StartRequest) { r.Card.ExpiryMonth = 0 }, "card.expiry_month", false},
		{"month 13", func(r *payment.StartRequest) { r.Card.ExpiryMonth = 13 }, "card.expiry_month", false},
		{"2-digit year", func(r *payment.StartRequest) { r.Card.ExpiryYear = 35 }, "card.expiry_year", false},
		{"5-digit year", func(r *payment.StartRequest) { r.Card.ExpiryYear = 20350 }, "card.expiry_year", false},
		{"installments 0", func(r *payment.StartRequest) { r.Payment.Metadata = map[string]string{"installments": "0"} }, "metadata.installments", false},
		{"installments 13", func(r *payment.StartRequest) { r.Payment.Metadata = map[string]string{"installments": "13"} }, "metadata.installments", false},
		{"installments not a number", func(r *payment.StartRequest) { r.Payment.Metadata = map[string]string{"installments": "three"} }, "metadata.installments", false},
		{"items not adding up", func(r *payment.StartRequest) { r.Payment.Items[0].Price = 999 }, "items", false},
		{"item without name", func(r *payment.StartRequest) { r.Payment.Items[2].Name = "" }, "items[2].name", true},
		{"item price 0", func(r *payment.StartRequest) { r.Payment.Items[1].Price = 0 }, "items[1].price", false},
		{"item quantity 0", func(r *payment.StartRequest) { r.Payment.Items[3].Quantity = 0 }, "items[3].quantity", false},
		{"item id over 255", func(r *payment.StartRequest) { r.Payment.Items[0].ID = strings.Repeat("1", 256) }, "items[0].id", false},
		{"one item without sub-merchant", func(r *payment.StartRequest) { r.Payment.Items[1].SubMerchantID = "" }, "items[1].sub_merchant_id", false},
		{"share larger than the line", func(r *payment.StartRequest) { r.Payment.Items[0].SubMerchantShare = 1001 }, "items[0].sub_merchant_share", false},
		{"negative share", func(r *payment.StartRequest) { r.Payment.Items[0].SubMerchantShare = -1 }, "items[0].sub_merchant_share", false},
		{"share without sub-merchant", func(r *payment.StartRequest) {
			for i := range r.Payment.Items {
				r.Payment.Items[i].SubMerchantID = ""
			}
		}, "items[0].sub_merchant_share", false},
		{"overflowing line", func(r *payment.StartRequest) { r.Payment.Items[0].Price, r.Payment.Items[0].Quantity = 1<<62, 4 }, "items[0].price", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := marketplaceCheckout()
			tt.change(req)
			err := p.ValidateCheckout(req)
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.ErrorIs(t, err, payment.ErrInvalidInput)
			require.Equal(t, tt.field, ve.Field)
			require.Equal(t, tt.missing, ve.Missing)
			if req.Card != nil {
				for _, secret := range []string{req.Card.Number, req.Card.CVV} {
					if len(secret) >= 3 {
						require.NotContains(t, err.Error(), secret, "a validation error never echoes card data")
					}
				}
			}

			_, err = p.Start(t.Context(), req)
			require.ErrorAs(t, err, &ve, "Start validates too, before sending anything")
			require.False(t, payment.IsRetryable(err))
		})
	}
	require.NoError(t, p.ValidateCheckout(marketplaceCheckout()))
	valid := cardCheckout(veparasim.CardApprove, 100)
	valid.Card.Number = "45080345080345090001"
	valid.Card.CVV = "123"
	valid.Payment.Metadata = map[string]string{"installments": "12"}
	require.NoError(t, p.ValidateCheckout(valid), "20 digits, a 3-digit CVV and 12 instalments are fine")
	require.ErrorIs(t, p.ValidateCheckout(nil), payment.ErrInvalidInput)
}

func TestNoCardDataOrSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	e := newEnv(t, nil, vepara.WithLogger(zap.New(core)))
	const cvv = "7319"
	var errs []error
	for _, number := range []string{veparasim.CardApprove, veparasim.CardDecline, veparasim.CardPending, "4000000000000001"} {
		req := cardCheckout(number, 21000)
		req.Card.CVV = cvv
		st, err := e.p.Start(t.Context(), req)
		require.NoError(t, err)
		if st.Failure != nil {
			require.NotContains(t, st.Failure.Message, number)
		}
	}
	req := marketplaceCheckout()
	req.Card.CVV = cvv
	req.Card.HolderName = "Jane Roe"
	e.sim.InjectFault(veparasim.Fault{Path: "/api/marketplace/sale/pay/smart/non-secure", Kind: veparasim.FaultLostResponse})
	_, err := e.p.Start(t.Context(), req)
	errs = append(errs, err)
	pay, _ := start(t, e.p, req)
	_, err = e.p.Refund(t.Context(), newRefund(pay, 100))
	errs = append(errs, err)
	e.sim.RevokeTokens()
	_, err = e.p.Sync(t.Context(), pay)
	errs = append(errs, err)
	bad, err := vepara.New(vepara.Config{AppID: e.sim.AppID(), AppSecret: "wrong-secret-123", MerchantKey: e.sim.MerchantKey()},
		vepara.WithBaseURL(e.srv.URL), vepara.WithLogger(zap.New(core)))
	require.NoError(t, err)
	_, err = bad.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
	errs = append(errs, err)

	// The CVV is checked as a word of its own: its four digits turn up
	// inside random ids (pay_01M80YR7TE0Q0Y47319E1M18N9 did, in a CI run).
	secrets := []string{
		veparasim.CardApprove, veparasim.CardDecline, veparasim.CardPending, "4000000000000001",
		e.sim.AppSecret(), "wrong-secret-123", e.sim.MerchantKey(),
	}
	cvvWord := regexp.MustCompile(`(^|[^0-9A-Za-z])` + cvv + `([^0-9A-Za-z]|$)`)
	for _, a := range e.authHeaders() {
		secrets = append(secrets, strings.TrimPrefix(a, "Bearer "))
	}
	require.NotZero(t, logs.Len(), "the provider logs its calls")
	for _, entry := range logs.All() {
		text := entry.Message
		for k, v := range entry.ContextMap() {
			text += " " + k + "=" + toString(v)
		}
		for _, s := range secrets {
			require.NotContains(t, text, s, "a log line must never carry card data, tokens or secrets")
		}
		require.False(t, cvvWord.MatchString(text), "a log line must never carry the CVV: %s", text)
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, s := range secrets {
			require.NotContains(t, err.Error(), s, "an error must never carry card data, tokens or secrets")
		}
		require.False(t, cvvWord.MatchString(err.Error()), "an error must never carry the CVV: %s", err)
	}
}

func toString(v any) string { return fmt.Sprint(v) }
