package appotapay_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/appotapay"
	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
	"github.com/paykit/paykit/providers/providertest"
)

const returnURL = "https://shop.example/return?x=1&y=2"

type bundle struct {
	sim   *appotapaysim.Server
	srv   *httptest.Server
	p     *appotapay.Provider
	rec   *providertest.Recorder
	clock *paymenttest.Clock
	logs  *observer.ObservedLogs
}

type setupOpts struct {
	sim      []appotapaysim.Option
	provider []appotapay.Option
}

func setup(t testing.TB, o setupOpts) *bundle {
	t.Helper()
	clock := paymenttest.NewClock(time.Now())
	simOpts := append([]appotapaysim.Option{
		appotapaysim.WithClock(clock.Now),
		appotapaysim.WithIPNRetries(3, 10*time.Millisecond),
	}, o.sim...)
	sim := appotapaysim.New(simOpts...)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rec := providertest.NewRecorder(t)
	rec.SetResponse(http.StatusOK, "application/json", []byte(`{"status":"ok"}`))
	core, logs := observer.New(zap.DebugLevel)
	partner, key, secret := sim.Credentials()
	opts := append([]appotapay.Option{
		appotapay.WithBaseURL(srv.URL),
		appotapay.WithEWalletBaseURL(srv.URL),
		appotapay.WithClock(clock),
		appotapay.WithLogger(zap.New(core)),
		appotapay.WithHTTPClient(srv.Client()),
	}, o.provider...)
	p, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: secret}, opts...)
	require.NoError(t, err)
	return &bundle{sim: sim, srv: srv, p: p, rec: rec, clock: clock, logs: logs}
}

func walletCheckout(token string, amount int64) *payment.StartRequest {
	req := providertest.NewStartRequest(appotapay.Name, payment.MethodEWallet, amount, "VND")
	req.PaymentToken = token
	return req
}

func (b *bundle) gatewayCheckout(method payment.Method, amount int64) *payment.StartRequest {
	req := providertest.NewStartRequest(appotapay.Name, method, amount, "VND")
	req.NotifyURL = b.rec.URLFor(req.Payment.ID)
	req.Payment.ReturnURL = returnURL
	return req
}

func applyState(p *payment.Payment, st *payment.PaymentState) {
	p.Status = st.Status
	if st.ProviderReference != "" {
		p.ProviderReference = st.ProviderReference
	}
	p.NextAction = st.NextAction
	if st.Status.Paid() {
		p.AmountCaptured = p.Amount
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := appotapay.Config{PartnerCode: "P", APIKey: "K", SecretKey: "S"}
	tests := []struct {
		name string
		cfg  appotapay.Config
		opts []appotapay.Option
	}{
		{"no partner code", appotapay.Config{APIKey: "K", SecretKey: "S"}, nil},
		{"no api key", appotapay.Config{PartnerCode: "P", SecretKey: "S"}, nil},
		{"no secret key", appotapay.Config{PartnerCode: "P", APIKey: "K"}, nil},
		{"long JWT", good, []appotapay.Option{appotapay.WithTokenTTL(2 * time.Hour)}},
		{"zero JWT", good, []appotapay.Option{appotapay.WithTokenTTL(0)}},
		{"bad language", good, []appotapay.Option{appotapay.WithLanguage("fr")}},
		{"bad base URL", good, []appotapay.Option{appotapay.WithBaseURL("ftp://x")}},
		{"bad method map", good, []appotapay.Option{appotapay.WithPaymentMethod(payment.MethodCard, "VISA")}},
		{"bad pending TTL", good, []appotapay.Option{appotapay.WithPendingTTL(-time.Second)}},
	}
	for _, tt := range tests {
		_, err := appotapay.New(tt.cfg, tt.opts...)
		require.Error(t, err, tt.name)
		require.NotContains(t, err.Error(), "S\"", tt.name)
	}
	p, err := appotapay.New(good, nil, appotapay.WithProduction(), appotapay.WithLanguage("en"))
	require.NoError(t, err)
	require.Equal(t, "appotapay", p.Name())
	require.Equal(t, []string{"VND"}, p.Currencies())
	require.ElementsMatch(t, []payment.Method{payment.MethodEWallet, payment.MethodCard, payment.MethodQR, payment.MethodBankTransfer}, p.Methods())
	require.ElementsMatch(t, []string{"sync", "refund", "confirm"}, payment.Capabilities(p))
}

func TestSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	cfg := appotapay.Config{PartnerCode: "PARTNER", APIKey: "apikey-123", SecretKey: "supersecret-456"}
	tok := appotapay.WalletToken{AccessToken: "access-789", RefreshToken: "refresh-000"}
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg, cfg),
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), fmt.Sprint(&tok),
	} {
		for _, secret := range []string{"apikey-123", "supersecret-456", "access-789", "refresh-000"} {
			require.NotContains(t, s, secret)
		}
	}
	require.Contains(t, fmt.Sprint(cfg), "PARTNER")
}

func TestValidateCheckout(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t)
	type mod func(r *payment.StartRequest)
	tests := []struct {
		name   string
		wallet bool
		mod    mod
		field  string // "" means valid
	}{
		{"gateway ok", false, nil, ""},
		{"wallet ok", true, func(r *payment.StartRequest) { r.Payment.ReturnURL = "" }, ""},
		{"min amount", false, func(r *payment.StartRequest) { r.Payment.Amount = 1000 }, ""},
		{"max amount", false, func(r *payment.StartRequest) { r.Payment.Amount = 500_000_000 }, ""},
		{"below min", false, func(r *payment.StartRequest) { r.Payment.Amount = 999 }, "amount"},
		{"above max", false, func(r *payment.StartRequest) { r.Payment.Amount = 500_000_001 }, "amount"},
		{"negative", true, func(r *payment.StartRequest) { r.Payment.Amount = -5000 }, "amount"},
		{"not VND", false, func(r *payment.StartRequest) { r.Payment.Currency = "USD" }, "currency"},
		{"wechat", false, func(r *payment.StartRequest) { r.Payment.Method = payment.MethodWeChat }, "method"},
		{"unknown method", false, func(r *payment.StartRequest) { r.Payment.Method = "cash" }, "method"},
		{"orderInfo 150", false, func(r *payment.StartRequest) { r.Payment.Description = strings.Repeat("đ", 150) }, ""},
		{"orderInfo 151", false, func(r *payment.StartRequest) { r.Payment.Description = strings.Repeat("a", 151) }, "description"},
		{"orderInfo control char", true, func(r *payment.StartRequest) { r.Payment.Description = "a\nb" }, "description"},
		{"orderId not alphanumeric", false, func(r *payment.StartRequest) { r.Payment.ID = "pay_01-x" }, "id"},
		{"orderId 51", false, func(r *payment.StartRequest) { r.Payment.ID = "pay_" + strings.Repeat("A", 48) }, "id"},
		{"orderId 50", false, func(r *payment.StartRequest) { r.Payment.ID = "pay_" + strings.Repeat("A", 47) }, ""},
		{"no id yet", false, func(r *payment.StartRequest) { r.Payment.ID = "" }, ""},
		{"card data", false, func(r *payment.StartRequest) { r.Card = &payment.Card{Number: "4111111111111111"} }, "card"},
		{"manual capture", true, func(r *payment.StartRequest) { r.Payment.CaptureMethod = payment.CaptureManual }, "capture_method"},
		{"token for card", false, func(r *payment.StartRequest) { r.PaymentToken = "tok" }, "payment_token"},
		{"token with spaces", true, func(r *payment.StartRequest) { r.PaymentToken = "a b" }, "payment_token"},
		{"method override", false, func(r *payment.StartRequest) {
			r.Payment.Metadata = map[string]string{appotapay.MetadataPaymentMethod: "ATM", appotapay.MetadataBankCode: "VCB"}
		}, ""},
		{"bad method override", false, func(r *payment.StartRequest) {
			r.Payment.Metadata = map[string]string{appotapay.MetadataPaymentMethod: "CASH"}
		}, "metadata.appotapay_payment_method"},
		{"bad bank code", false, func(r *payment.StartRequest) {
			r.Payment.Metadata = map[string]string{appotapay.MetadataBankCode: "V C B"}
		}, "metadata.appotapay_bank_code"},
		{"gateway without return_url", false, func(r *payment.StartRequest) { r.Payment.ReturnURL = "" }, "return_url"},
		{"return_url too long", false, func(r *payment.StartRequest) { r.Payment.ReturnURL = "https://x/" + strings.Repeat("a", 500) }, "return_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := providertest.NewStartRequest(appotapay.Name, payment.MethodCard, 100_000, "VND")
			req.Payment.ReturnURL = returnURL
			if tt.wallet {
				req.Payment.Method = payment.MethodEWallet
				req.PaymentToken = appotapaysim.WalletToken
			}
			if tt.mod != nil {
				tt.mod(req)
			}
			err := p.ValidateCheckout(req)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			require.ErrorIs(t, err, payment.ErrInvalidInput)
		})
	}
}

func TestDefaultReturnURL(t *testing.T) {
	t.Parallel()
	p := newVectorProvider(t, appotapay.WithDefaultReturnURL("https://shop.example/back"))
	req := providertest.NewStartRequest(appotapay.Name, payment.MethodQR, 100_000, "VND")
	require.NoError(t, p.ValidateCheckout(req))
}

// Invalid checkouts never reach AppotaPay.
func TestStartValidatesBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletToken, 999)
	_, err := b.p.Start(t.Context(), req)
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "amount", ve.Field)
	require.False(t, payment.IsRetryable(err))
	_, found := b.sim.Transaction(req.Payment.ID)
	require.False(t, found)
}

func TestEWalletPaymentSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	before, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	req := walletCheckout(appotapaysim.WalletToken, 120_000)
	req.Payment.Description = "Thanh toán đơn hàng #1"
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.NotEmpty(t, st.ProviderReference)
	require.Equal(t, &payment.Money{Amount: 120_000, Currency: "VND"}, st.Amount)

	tx, ok := b.sim.Transaction(req.Payment.ID)
	require.True(t, ok)
	require.Equal(t, strings.Replace(req.Payment.ID, "_", "", 1), tx.OrderID)
	require.Equal(t, appotapay.OrderID(req.Payment.ID), tx.OrderID)
	require.Equal(t, st.ProviderReference, tx.TransactionID)
	require.Equal(t, "Thanh toán đơn hàng #1", tx.OrderInfo)
	require.Equal(t, req.Payment.OrderID, tx.ExtraData)
	after, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	require.Equal(t, before-120_000, after)

	pay := req.Payment.Clone()
	applyState(pay, st)
	got, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.Equal(t, st.ProviderReference, got.ProviderReference)
}

func TestEWalletStartIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	before, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	req := walletCheckout(appotapaysim.WalletToken, 50_000)
	first, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	second, err := b.p.Start(t.Context(), req) // duplicate orderId (30) -> query
	require.NoError(t, err)
	require.Equal(t, first.ProviderReference, second.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, second.Status)
	require.Equal(t, 1, b.sim.Charges(req.Payment.ID))
	after, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	require.Equal(t, before-50_000, after, "charged once")
}

func TestEWalletOTP(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletTokenOTP, 200_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, payment.NextActionOTP, st.NextAction.Type)
	pay := req.Payment.Clone()
	applyState(pay, st)

	// A retried Start still asks for the OTP.
	again, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, again.Status)
	require.Equal(t, payment.NextActionOTP, again.NextAction.Type)

	// Sync while waiting keeps it waiting.
	synced, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, synced.Status)

	_, err = b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: "000000"})
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "otp", ve.Field)
	require.False(t, payment.IsRetryable(err))
	tx, _ := b.sim.Transaction(req.Payment.ID)
	require.Equal(t, "pending", tx.Status)

	otp, err := b.sim.OTP(req.Payment.ID)
	require.NoError(t, err)
	require.Equal(t, appotapaysim.DefaultOTP, otp)
	done, err := b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: otp})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, done.Status)
	require.Equal(t, st.ProviderReference, done.ProviderReference)

	// The token is forgotten once the payment is final.
	applyState(pay, done)
	_, err = b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: otp})
	require.ErrorIs(t, err, appotapay.ErrNoAccessToken)
}

func TestEWalletOTPTooManyWrong(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletTokenOTP, 10_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)
	for range 2 {
		_, err := b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: "111111"})
		require.ErrorIs(t, err, payment.ErrInvalidInput)
	}
	final, err := b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: "111111"})
	require.NoError(t, err)
	require.Equal(t, payment.StatusFailed, final.Status)
	require.Equal(t, "appotapay_39", final.Failure.Code)
}

func TestEWalletOTPExpired(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithPendingTTL(time.Hour)}})
	req := walletCheckout(appotapaysim.WalletTokenOTP, 10_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)
	b.clock.Advance(6 * time.Minute)
	final, err := b.p.Confirm(t.Context(), pay, &payment.Confirmation{OTP: appotapaysim.DefaultOTP})
	require.NoError(t, err)
	require.Equal(t, payment.StatusExpired, final.Status)
	require.Equal(t, payment.FailureExpired, final.Failure.Code)
}

func TestConfirmNeedsTheAccessToken(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletTokenOTP, 10_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)

	// Another instance (or after a restart) does not know the token...
	partner, key, secret := b.sim.Credentials()
	cfg := appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: secret}
	other, err := appotapay.New(cfg, appotapay.WithBaseURL(b.srv.URL), appotapay.WithClock(b.clock))
	require.NoError(t, err)
	_, err = other.Confirm(t.Context(), pay, &payment.Confirmation{OTP: appotapaysim.DefaultOTP})
	require.ErrorIs(t, err, appotapay.ErrNoAccessToken)
	require.ErrorIs(t, err, payment.ErrInvalidState)

	// ...unless the host supplies it.
	withFunc, err := appotapay.New(cfg, appotapay.WithBaseURL(b.srv.URL), appotapay.WithClock(b.clock),
		appotapay.WithAccessTokenFunc(func(_ context.Context, p *payment.Payment) (string, error) {
			require.Equal(t, pay.ID, p.ID)
			return appotapaysim.WalletTokenOTP, nil
		}))
	require.NoError(t, err)
	done, err := withFunc.Confirm(t.Context(), pay, &payment.Confirmation{OTP: appotapaysim.DefaultOTP})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, done.Status)

	_, err = withFunc.Confirm(t.Context(), pay, nil)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	_, err = withFunc.Confirm(t.Context(), pay, &payment.Confirmation{OTP: "12345678901"})
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

func TestEWalletDeclines(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	tests := []struct {
		token string
		code  string
	}{
		{appotapaysim.WalletTokenEmpty, payment.FailureInsufficientFunds},
		{"unknown-wallet-token", "appotapay_65"},
	}
	for _, tt := range tests {
		req := walletCheckout(tt.token, 10_000)
		st, err := b.p.Start(t.Context(), req)
		require.NoError(t, err, "a decline is a state, not an error")
		require.Equal(t, payment.StatusFailed, st.Status)
		require.Equal(t, tt.code, st.Failure.Code)
	}
}

func TestWalletProcessingThenPaid(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletTokenProcessing, 10_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusProcessing, st.Status, "34 is processing, never failed")
	pay := req.Payment.Clone()
	applyState(pay, st)
	require.NoError(t, b.sim.Pay(t.Context(), req.Payment.ID))
	got, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
}

// Faults: unknown outcomes are retryable (processing), and a sync finds
// what really happened.
func TestFaultsAreRetryableAndResolvedBySync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     appotapaysim.Fault
		code      string
		processed bool
	}{
		{"error 34 then success", appotapaysim.FaultProcessing, "34", true},
		{"500 after processing", appotapaysim.Fault5xxAfterProcessing, "500", true},
		{"500 before processing", appotapaysim.Fault5xx, "500", false},
		{"502 from a proxy", appotapaysim.FaultBadGateway, "http_502", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			b.sim.InjectFault("/api/v2/ewallet/payment", tt.fault, 1)
			req := walletCheckout(appotapaysim.WalletToken, 10_000)
			_, err := b.p.Start(t.Context(), req)
			require.Error(t, err)
			require.True(t, payment.IsRetryable(err), "unknown outcome must be retryable")
			var pe *payment.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tt.code, pe.Code)

			got, err := b.p.Sync(t.Context(), req.Payment.Clone())
			if tt.processed {
				require.NoError(t, err)
				require.Equal(t, payment.StatusSucceeded, got.Status)
			} else {
				require.ErrorIs(t, err, payment.ErrNotFound)
				require.False(t, payment.IsRetryable(err))
			}
			// A retried Start never charges twice.
			st, err := b.p.Start(t.Context(), req)
			require.NoError(t, err)
			require.Equal(t, payment.StatusSucceeded, st.Status)
			require.Equal(t, 1, b.sim.Charges(req.Payment.ID))
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond})}})
	b.sim.InjectFault("/api/v2/orders/payment", appotapaysim.FaultTimeout, 1)
	req := b.gatewayCheckout(payment.MethodCard, 10_000)
	_, err := b.p.Start(t.Context(), req)
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	// The request reached AppotaPay: the retry finds the order.
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Contains(t, []payment.Status{payment.StatusProcessing, payment.StatusRequiresAction}, st.Status)
	require.NotEmpty(t, st.ProviderReference)
}

func TestGatewayQR(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := b.gatewayCheckout(payment.MethodQR, 150_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, payment.NextActionDisplayQR, st.NextAction.Type)
	require.True(t, strings.HasPrefix(st.NextAction.QRCode, "000201"), st.NextAction.QRCode)
	require.NotNil(t, st.NextAction.ExpiresAt)
	require.NotNil(t, st.ExpiresAt)
	require.True(t, strings.HasPrefix(st.NextAction.URL, appotapaysim.DefaultPaymentPageURL))

	tx, _ := b.sim.Transaction(req.Payment.ID)
	require.Equal(t, "VA", tx.PaymentMethod)
	require.Equal(t, req.NotifyURL, tx.NotifyURL)
	require.Equal(t, returnURL, tx.RedirectURL, "URLs reach the vendor unescaped")

	pay := req.Payment.Clone()
	applyState(pay, st)
	synced, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, synced.Status)

	require.NoError(t, b.sim.Pay(t.Context(), req.Payment.ID))
	wr, err := b.rec.Next(t.Context(), req.Payment.ID)
	require.NoError(t, err)
	res, err := b.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, `{"status":"ok"}`, string(res.Ack.Body)) //nolint:testifylint // AppotaPay wants these exact bytes; JSONEq would accept any spacing
	ev := res.Events[0]
	require.Equal(t, req.Payment.ID, ev.PaymentID)
	require.Equal(t, st.ProviderReference, ev.ProviderReference)
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
	require.Equal(t, payment.Money{Amount: 150_000, Currency: "VND"}, *ev.Payment.Amount)
	cb, ok := b.sim.LastCallback(req.Payment.ID)
	require.True(t, ok)
	require.True(t, cb.Acked, "the sim accepts exactly {\"status\":\"ok\"}")
	require.Equal(t, 1, cb.Attempt)

	got, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
}

func TestGatewayMethodMapping(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	tests := []struct {
		method   payment.Method
		meta     map[string]string
		want     string
		bankCode string
	}{
		{payment.MethodCard, nil, "CC", ""},
		{payment.MethodBankTransfer, nil, "VA", ""},
		{payment.MethodEWallet, nil, "EWALLET", ""},
		{payment.MethodQR, nil, "VA", ""},
		{payment.MethodCard, map[string]string{appotapay.MetadataPaymentMethod: "ATM", appotapay.MetadataBankCode: "VCB"}, "ATM", "VCB"},
	}
	for _, tt := range tests {
		req := b.gatewayCheckout(tt.method, 20_000)
		req.Payment.Metadata = tt.meta
		st, err := b.p.Start(t.Context(), req)
		require.NoError(t, err, tt.method)
		require.Equal(t, payment.StatusRequiresAction, st.Status)
		if tt.method != payment.MethodQR {
			require.Equal(t, payment.NextActionRedirect, st.NextAction.Type, tt.method)
			u, err := url.Parse(st.NextAction.URL)
			require.NoError(t, err)
			require.True(t, u.IsAbs())
		}
		tx, _ := b.sim.Transaction(req.Payment.ID)
		require.Equal(t, tt.want, tx.PaymentMethod, tt.method)
	}

	custom := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithPaymentMethod(payment.MethodBankTransfer, "ATM")}})
	req := custom.gatewayCheckout(payment.MethodBankTransfer, 20_000)
	_, err := custom.p.Start(t.Context(), req)
	require.NoError(t, err)
	tx, _ := custom.sim.Transaction(req.Payment.ID)
	require.Equal(t, "ATM", tx.PaymentMethod)
}

func TestGatewayErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{sim: []appotapaysim.Option{appotapaysim.WithAllowedMethods("ATM", "VA")}})

	req := b.gatewayCheckout(payment.MethodCard, 20_000)
	_, err := b.p.Start(t.Context(), req)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "140", pe.Code)
	require.False(t, pe.Retryable)
	require.ErrorIs(t, err, payment.ErrInvalidInput)

	req = b.gatewayCheckout(payment.MethodQR, 20_000)
	req.NotifyURL = ""
	_, err = b.p.Start(t.Context(), req)
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "notify_url", ve.Field)
	_, found := b.sim.Transaction(req.Payment.ID)
	require.False(t, found)

	withDefault := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithDefaultNotifyURL("https://shop.example/ipn")}})
	req = withDefault.gatewayCheckout(payment.MethodQR, 20_000)
	req.NotifyURL = ""
	_, err = withDefault.p.Start(t.Context(), req)
	require.NoError(t, err)
	tx, _ := withDefault.sim.Transaction(req.Payment.ID)
	require.Equal(t, "https://shop.example/ipn", tx.NotifyURL)
}

func TestDeclineAndExpire(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, tt := range []struct {
		act    func(context.Context, string) error
		status payment.Status
	}{
		{b.sim.Decline, payment.StatusFailed},
		{b.sim.Expire, payment.StatusExpired},
	} {
		req := b.gatewayCheckout(payment.MethodCard, 20_000)
		st, err := b.p.Start(t.Context(), req)
		require.NoError(t, err)
		pay := req.Payment.Clone()
		applyState(pay, st)
		require.NoError(t, tt.act(t.Context(), req.Payment.ID))
		got, err := b.p.Sync(t.Context(), pay)
		require.NoError(t, err)
		require.Equal(t, tt.status, got.Status)
		require.NotNil(t, got.Failure)
		require.ErrorIs(t, b.sim.Pay(t.Context(), req.Payment.ID), appotapaysim.ErrNotPending)
	}
	require.Zero(t, b.rec.Count(""), "the gateway sends IPNs only on success")
	require.ErrorIs(t, b.sim.Pay(t.Context(), "pay_unknown"), appotapaysim.ErrUnknownPayment)
}

func TestIPNRetriedUntilAcknowledged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		attempts int
	}{
		{"500", http.StatusInternalServerError, `{"status":"ok"}`, 4},
		{"200 without the ack body", http.StatusOK, `OK`, 4},
		{"200 with another status", http.StatusOK, `{"status":"error"}`, 4},
		{"exact ack", http.StatusOK, `{"status":"ok"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			b.rec.SetResponse(tt.status, "application/json", []byte(tt.body))
			req := b.gatewayCheckout(payment.MethodCard, 20_000)
			_, err := b.p.Start(t.Context(), req)
			require.NoError(t, err)
			require.NoError(t, b.sim.Pay(t.Context(), req.Payment.ID))
			require.Eventually(t, func() bool { return b.rec.Count(req.Payment.ID) >= tt.attempts }, 5*time.Second, 5*time.Millisecond)
			b.sim.Close() // waits for retries to end
			require.Equal(t, tt.attempts, b.rec.Count(req.Payment.ID))
			cbs := b.sim.Callbacks()
			require.Len(t, cbs, tt.attempts)
			for i, cb := range cbs {
				require.Equal(t, i+1, cb.Attempt)
				require.Equal(t, tt.attempts == 1, cb.Acked)
				require.Equal(t, cbs[0].Body, cb.Body, "a retry resends the same IPN")
			}
		})
	}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := b.gatewayCheckout(payment.MethodCard, 100_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)
	require.NoError(t, b.sim.Pay(t.Context(), pay.ID))
	got, err := b.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	applyState(pay, got)

	r1 := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), PaymentID: pay.ID, Amount: 30_000, Currency: "VND", Reason: "customer request"}
	rs, err := b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: r1, IdempotencyKey: r1.ID})
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rs.Status)
	require.NotEmpty(t, rs.ProviderReference)

	again, err := b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: r1, IdempotencyKey: r1.ID})
	require.NoError(t, err, "a duplicate partnerRefId (31) is answered by the refund's status")
	require.Equal(t, rs.ProviderReference, again.ProviderReference)

	synced, err := b.p.SyncRefund(t.Context(), pay, r1)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, synced.Status)

	tx, _ := b.sim.Transaction(pay.ID)
	require.Equal(t, int64(30_000), tx.Refunded, "refunded once")

	small := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 999, Currency: "VND"}
	_, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: small})
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "amount", ve.Field)

	long := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 1000, Currency: "VND", Reason: strings.Repeat("r", 101)}
	_, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: long})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "reason", ve.Field)

	over := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 70_001, Currency: "VND"}
	_, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: over})
	require.Error(t, err)
	require.False(t, payment.IsRetryable(err))

	// Without the provider reference (the start answer was lost), the
	// transaction id is looked up first.
	noRef := pay.Clone()
	noRef.ProviderReference = ""
	rest := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 70_000, Currency: "VND"}
	rs, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: noRef, Refund: rest})
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rs.Status)

	more := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 1000, Currency: "VND"}
	_, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: more})
	require.ErrorIs(t, err, payment.ErrInvalidState, "40: already refunded")
}

func TestEWalletRefundOnlyInFull(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletToken, 100_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)

	part := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 10_000, Currency: "VND"}
	_, err = b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: part})
	require.ErrorIs(t, err, payment.ErrUnsupported)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "106", pe.Code)

	before, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	full := &payment.Refund{ID: providertest.NewID(payment.PrefixRefund), Amount: 100_000, Currency: "VND"}
	rs, err := b.p.Refund(t.Context(), &payment.RefundRequest{Payment: pay, Refund: full})
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rs.Status)
	after, _ := b.sim.WalletBalance(appotapaysim.WalletToken)
	require.Equal(t, before+100_000, after)
}

func TestAuthVariants(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithBearerAuthHeader(), appotapay.WithLanguage("en")}})
	st, err := b.p.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	require.NoError(t, err, "the sim accepts \"Bearer <jwt>\" too")
	require.Equal(t, payment.StatusSucceeded, st.Status)

	partner, key, _ := b.sim.Credentials()
	bad, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: "not the secret"},
		appotapay.WithBaseURL(b.srv.URL))
	require.NoError(t, err)
	_, err = bad.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "401", pe.Code)
	require.False(t, pe.Retryable)
	require.NotContains(t, err.Error(), "not the secret")

	long := setup(t, setupOpts{
		sim:      []appotapaysim.Option{appotapaysim.WithMaxTokenLifetime(10 * time.Minute)},
		provider: []appotapay.Option{appotapay.WithTokenTTL(time.Hour)},
	})
	_, err = long.p.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "401", pe.Code, "a long-lived JWT is refused")
}

func TestWalletLinking(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	login, err := b.p.LoginURL("https://shop.example/linked", "state-42")
	require.NoError(t, err)
	u, err := url.Parse(login)
	require.NoError(t, err)
	require.Equal(t, "/oauth/login", u.Path)
	require.Equal(t, "user.info,user.apoint_payment,user.wallet_payment", u.Query().Get("scope"))
	require.Equal(t, "code", u.Query().Get("response_type"))
	_, err = b.p.LoginURL("not a url", "s")
	require.ErrorIs(t, err, payment.ErrInvalidInput)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, login, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "state-42", back.Query().Get("state"))

	tok, err := b.p.ExchangeCode(t.Context(), back.Query().Get("code"))
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.Equal(t, "Bearer", tok.TokenType)
	require.True(t, tok.ExpiresAt.After(b.clock.Now()))
	_, err = b.p.ExchangeCode(t.Context(), back.Query().Get("code"))
	require.Error(t, err, "a code works once")

	st, err := b.p.Start(t.Context(), walletCheckout(tok.AccessToken, 10_000))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)

	renewed, err := b.p.RefreshToken(t.Context(), tok.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, renewed.AccessToken)
	st, err = b.p.Start(t.Context(), walletCheckout(renewed.AccessToken, 10_000))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	_, err = b.p.RefreshToken(t.Context(), tok.RefreshToken)
	require.Error(t, err, "the old refresh token stops working")
	_, err = b.p.RefreshToken(t.Context(), "")
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithRateLimit(rate.Every(50*time.Millisecond), 1)}})
	pay := walletCheckout(appotapaysim.WalletToken, 10_000).Payment
	start := time.Now()
	for range 3 {
		_, err := b.p.Sync(t.Context(), pay)
		require.ErrorIs(t, err, payment.ErrNotFound)
	}
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.p.Sync(ctx, pay)
	require.True(t, payment.IsRetryable(err))
}

// Keys, signatures and wallet tokens never reach errors or logs.
func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	_, key, secret := b.sim.Credentials()
	b.sim.InjectFault("", appotapaysim.Fault5xx, 1)
	var errs []error
	_, err := b.p.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	errs = append(errs, err)
	_, err = b.p.Start(t.Context(), walletCheckout("leaky-token-value", 10_000))
	errs = append(errs, err)
	partner, _, _ := b.sim.Credentials()
	bad, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: "wrong-secret-value"},
		appotapay.WithBaseURL(b.srv.URL))
	require.NoError(t, err)
	_, err = bad.Start(t.Context(), walletCheckout(appotapaysim.WalletTokenOTP, 10_000))
	errs = append(errs, err)
	_, err = b.p.ExchangeCode(t.Context(), "bad-code")
	errs = append(errs, err)

	var text strings.Builder
	for _, e := range errs {
		if e != nil {
			text.WriteString(e.Error())
		}
	}
	for _, entry := range b.logs.All() {
		text.WriteString(entry.Message)
		for k, v := range entry.ContextMap() {
			fmt.Fprintf(&text, " %s=%v", k, v)
		}
	}
	require.NotEmpty(t, b.logs.All(), "failures are logged")
	for _, s := range []string{secret, key, "wrong-secret-value", appotapaysim.WalletToken, appotapaysim.WalletTokenOTP, "leaky-token-value"} {
		require.NotContains(t, text.String(), s)
	}
}

func TestWebhookConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithWebhookConfirmation()}})
	req := b.gatewayCheckout(payment.MethodCard, 30_000)
	_, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, b.sim.Pay(t.Context(), req.Payment.ID))
	wr, err := b.rec.Next(t.Context(), req.Payment.ID)
	require.NoError(t, err)
	res, err := b.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)

	b.sim.InjectFault("/api/v2/orders/transaction", appotapaysim.Fault5xx, 1)
	_, err = b.p.ParseWebhook(t.Context(), wr)
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	require.NotErrorIs(t, err, payment.ErrInvalidSignature)
}

func TestAccountRefID(t *testing.T) {
	t.Parallel()
	good := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithAccountRefID("9723f73b-9295-4acb-884b-ab6310c2e653")}})
	st, err := good.p.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)

	bad := setup(t, setupOpts{provider: []appotapay.Option{appotapay.WithAccountRefID("not-a-sub-account")}})
	_, err = bad.p.Start(t.Context(), walletCheckout(appotapaysim.WalletToken, 10_000))
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "90", pe.Code)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

// With WithIPNOnFailure a decline is announced too; WithDuplicateIPNs sends
// each IPN twice, and both parse to the same event key.
func TestIPNOnFailureAndDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{sim: []appotapaysim.Option{appotapaysim.WithIPNOnFailure(), appotapaysim.WithDuplicateIPNs()}})
	req := b.gatewayCheckout(payment.MethodCard, 20_000)
	_, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.NoError(t, b.sim.Decline(t.Context(), req.Payment.ID))
	var keys []string
	for range 2 {
		wr, err := b.rec.Next(t.Context(), req.Payment.ID)
		require.NoError(t, err)
		res, err := b.p.ParseWebhook(t.Context(), wr)
		require.NoError(t, err)
		ev := res.Events[0]
		require.Equal(t, payment.StatusFailed, ev.Payment.Status)
		require.Equal(t, "appotapay_33", ev.Payment.Failure.Code)
		keys = append(keys, ev.Key)
	}
	require.Equal(t, keys[0], keys[1])
	require.Len(t, b.sim.Callbacks(), 2)
}

// TestEWalletOTPConfirmWithTokenAfterRestart: a provider that never saw the
// checkout (a restarted process) confirms with the token the host passes in
// the Confirmation.
func TestEWalletOTPConfirmWithTokenAfterRestart(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req := walletCheckout(appotapaysim.WalletTokenOTP, 10_000)
	st, err := b.p.Start(t.Context(), req)
	require.NoError(t, err)
	pay := req.Payment.Clone()
	applyState(pay, st)

	partner, key, secret := b.sim.Credentials()
	restarted, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: secret},
		appotapay.WithBaseURL(b.srv.URL), appotapay.WithEWalletBaseURL(b.srv.URL), appotapay.WithClock(b.clock))
	require.NoError(t, err)
	otp, err := b.sim.OTP(req.Payment.ID)
	require.NoError(t, err)
	_, err = restarted.Confirm(t.Context(), pay, &payment.Confirmation{OTP: otp})
	require.ErrorIs(t, err, appotapay.ErrNoAccessToken, "without the token a restarted provider cannot confirm")
	done, err := restarted.Confirm(t.Context(), pay, &payment.Confirmation{OTP: otp, PaymentToken: appotapaysim.WalletTokenOTP})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, done.Status)
}
