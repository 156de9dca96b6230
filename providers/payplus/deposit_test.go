package payplus_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
)

func TestStartQRDeposit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock())
	ctx := testCtx(t)
	pay, st := e.start(t, ctx, payment.MethodQR, 100000) // THB 1,000.00

	require.Equal(t, payment.StatusRequiresAction, st.Status)
	ord, ok := e.sim.Order(pay.ID)
	require.True(t, ok)
	require.Equal(t, ord.OrderNo, st.ProviderReference)
	require.True(t, strings.HasPrefix(st.ProviderReference, "DP"))
	require.Equal(t, "QR", ord.Type)
	require.Equal(t, payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"}, ord.Account,
		"the payer's account is sent from customer.bank_account, separators dropped")
	require.Equal(t, int64(100000), ord.Amount)

	na := st.NextAction
	require.NotNil(t, na)
	require.Equal(t, payment.NextActionDisplayQR, na.Type)
	require.Equal(t, int64(99500), na.AmountToPay, "depositAmount: THB 995 for 1,000 at the default fee")
	require.Equal(t, payplussim.DefaultPromptPayNumber, na.PromptPayID)
	require.Equal(t, ord.QRPayload, na.QRCode, "the QR payload is the PromptPay payload for the amount to pay")
	fields, err := payplus.ParseEMV(na.QRCode)
	require.NoError(t, err)
	require.Equal(t, "995.00", fields["54"])
	require.Contains(t, fields["29"], "0066812345678")

	require.True(t, strings.HasPrefix(na.QRImage, "data:image/png;base64,"))
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(na.QRImage, "data:image/png;base64,"))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())

	require.NotNil(t, na.ExpiresAt)
	require.Equal(t, e.clock.Now().Add(5*time.Minute), *na.ExpiresAt)
	require.Equal(t, na.ExpiresAt, st.ExpiresAt)
	require.Equal(t, &payment.BankAccount{BankCode: "KBANK", Number: "0987654321", Name: "Platform Bank Account"}, na.BankAccount)
}

func TestStartBankTransferDeposit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	pay, st := e.start(t, ctx, payment.MethodBankTransfer, 99550) // THB 995.50
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	ord, ok := e.sim.Order(pay.ID)
	require.True(t, ok)
	require.Equal(t, "BANK_TRANSFER", ord.Type)
	require.Equal(t, int64(99550), ord.Amount, "995.5 reaches the vendor exactly")
	require.Equal(t, int64(99550-498), st.NextAction.AmountToPay, "0.5% of 995.50 is 4.98 rounded half up")
}

func TestStartIdempotentOnDuplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	req := e.checkout(t, payment.MethodQR, 50000)
	first, err := e.p.Start(ctx, req)
	require.NoError(t, err)
	second, err := e.p.Start(ctx, req)
	require.NoError(t, err, "transactionId already exists is resolved by querying the order")
	require.Equal(t, first.ProviderReference, second.ProviderReference)
	require.Equal(t, payment.StatusProcessing, second.Status,
		"the query does not repeat the QR code: the payment waits for the callback or a sync")
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))

	// Once paid, a repeated Start reports the payment as paid.
	require.NoError(t, e.sim.Pay(ctx, req.Payment.ID))
	third, err := e.p.Start(ctx, req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, third.Status)
	require.Equal(t, &payment.Money{Amount: 50000, Currency: "THB"}, third.Amount)
}

// The vendor created the deposit but its answer was lost: Start's error is
// retryable (the outcome is unknown), and the retry finds the order.
func TestStartAnswerLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	e.sim.InjectFault(payplussim.Fault{Op: "deposit", AfterProcessing: true})
	req := e.checkout(t, payment.MethodQR, 100000)
	_, err := e.p.Start(ctx, req)
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "500", pe.Code)

	st, err := e.p.Start(ctx, req)
	require.NoError(t, err)
	ord, _ := e.sim.Order(req.Payment.ID)
	require.Equal(t, ord.OrderNo, st.ProviderReference)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))
}

func TestStartTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withProvider(payplus.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond})))
	ctx := testCtx(t)
	e.sim.InjectFault(payplussim.Fault{Op: "deposit", Hang: true})
	_, err := e.p.Start(ctx, e.checkout(t, payment.MethodQR, 100000))
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err), "a timeout is an unknown outcome: %v", err)
}

// tamper changes the amount of every request body in flight, so the
// signature no longer matches the parameters.
type tamper struct{ next http.RoundTripper }

func (tr tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		b = bytes.Replace(b, []byte(`"amount":1000`), []byte(`"amount":1`), 1)
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return tr.next.RoundTrip(r)
}

func TestStartVendorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       []envOption
		fault     *payplussim.Fault
		wantErr   error
		retryable bool
		code      string
	}{
		{
			name: "invalid API key", env: []envOption{withCredentials(payplussim.DefaultMerchantID, "wrong-key")},
			wantErr: payplus.ErrAuthentication, code: "401",
		},
		{
			name: "merchant does not match the key", env: []envOption{withCredentials("someone_else", payplussim.DefaultAPIKey)},
			wantErr: payplus.ErrAuthentication, code: "403",
		},
		{
			name: "IP not in whitelist", env: []envOption{withSim(payplussim.WithIPWhitelist("203.0.113.9"))},
			wantErr: payplus.ErrAuthentication, code: "403",
		},
		{
			name: "invalid signature", env: []envOption{withProvider(payplus.WithHTTPClient(&http.Client{Transport: tamper{http.DefaultTransport}}))},
			wantErr: payplus.ErrSignatureRejected, code: "400",
		},
		{
			name: "clock far off", env: []envOption{withProvider(payplus.WithClock(skewed(time.Hour)))},
			code: "400",
		},
		{
			name: "internal server error", fault: &payplussim.Fault{Op: "deposit", Status: 500},
			wantErr: payment.ErrUnavailable, retryable: true, code: "500",
		},
		{
			name: "bad gateway", fault: &payplussim.Fault{Op: "deposit", Status: 502},
			wantErr: payment.ErrUnavailable, retryable: true, code: "502",
		},
		{
			name: "rate limited", fault: &payplussim.Fault{Op: "deposit", Status: 429, Message: "Too many requests"},
			retryable: true, code: "429",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.env...)
			if tt.fault != nil {
				e.sim.InjectFault(*tt.fault)
			}
			ctx := testCtx(t)
			req := e.checkout(t, payment.MethodQR, 100000)
			_, err := e.p.Start(ctx, req)
			require.Error(t, err)
			var pe *payment.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tt.code, pe.Code)
			require.Equal(t, tt.retryable, payment.IsRetryable(err), "%v", err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.NotContains(t, err.Error(), payplussim.DefaultAPIKey, "errors never carry the API key")
			require.Equal(t, 0, e.sim.Charges(req.Payment.ID))
		})
	}
}

type skewedClock struct{ d time.Duration }

func (c skewedClock) Now() time.Time { return time.Now().Add(c.d) }

func skewed(d time.Duration) payment.Clock { return skewedClock{d} }

func TestValidateCheckout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		edit  func(*payment.StartRequest)
		field string
	}{
		{"card is not supported", func(r *payment.StartRequest) { r.Payment.Method = payment.MethodCard }, "method"},
		{"only THB", func(r *payment.StartRequest) { r.Payment.Currency = "USD" }, "currency"},
		{"positive amount", func(r *payment.StartRequest) { r.Payment.Amount = 0 }, "amount"},
		{"amount too large to be exact", func(r *payment.StartRequest) { r.Payment.Amount = 1 << 62 }, "amount"},
		{"customer required", func(r *payment.StartRequest) { r.Payment.Customer = nil }, "customer.bank_account"},
		{"bank account required", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount = nil }, "customer.bank_account"},
		{"bank code required", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.BankCode = "" }, "customer.bank_account.bank_code"},
		{"bank code shape", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.BankCode = "K BANK" }, "customer.bank_account.bank_code"},
		{"account number required", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.Number = "" }, "customer.bank_account.number"},
		{"account number digits", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.Number = "12ab5678" }, "customer.bank_account.number"},
		{"holder name required", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.Name = " " }, "customer.bank_account.name"},
		{"holder name printable", func(r *payment.StartRequest) { r.Payment.Customer.BankAccount.Name = "a\x00b" }, "customer.bank_account.name"},
		{"notify URL absolute", func(r *payment.StartRequest) { r.NotifyURL = "/relative" }, "notify_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := e.checkout(t, payment.MethodQR, 100000)
			require.NoError(t, e.p.ValidateCheckout(req))
			tt.edit(req)
			err := e.p.ValidateCheckout(req)
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			require.ErrorIs(t, err, payment.ErrInvalidInput)

			_, err = e.p.Start(testCtx(t), req)
			require.ErrorIs(t, err, payment.ErrInvalidInput, "Start validates too")
			require.False(t, payment.IsRetryable(err))
		})
	}
}

func TestStartWithoutCallbackURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := e.checkout(t, payment.MethodQR, 100000)
	req.NotifyURL = ""
	_, err := e.p.Start(testCtx(t), req)
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "notify_url", ve.Field)

	// WithCallbackURL is the fallback.
	e2 := newEnv(t, withProvider(payplus.WithCallbackURL("https://shop.example/payplus?x=1&y=2")))
	req2 := e2.checkout(t, payment.MethodQR, 100000)
	req2.NotifyURL = ""
	_, err = e2.p.Start(testCtx(t), req2)
	require.NoError(t, err)
	ord, _ := e2.sim.Order(req2.Payment.ID)
	require.Equal(t, "https://shop.example/payplus?x=1&y=2", ord.CallbackURL,
		"a callback URL with & survives signing (no HTML escaping)")
}

func TestSyncDeposit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	pay, _ := e.start(t, ctx, payment.MethodQR, 100000)

	st, err := e.p.Sync(ctx, pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status, "a pending deposit still requires the same action")
	require.Equal(t, pay.NextAction, st.NextAction)
	require.Equal(t, pay.ProviderReference, st.ProviderReference)

	// Without a recorded action (the answer to Start was lost) it is
	// processing, and the query by agent_order_no works.
	lost := pay.Clone()
	lost.ProviderReference, lost.NextAction, lost.Status = "", nil, payment.StatusProcessing
	st, err = e.p.Sync(ctx, lost)
	require.NoError(t, err)
	require.Equal(t, payment.StatusProcessing, st.Status)
	require.Equal(t, pay.ProviderReference, st.ProviderReference)

	require.NoError(t, e.sim.Pay(ctx, pay.ID))
	st, err = e.p.Sync(ctx, pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, &payment.Money{Amount: 100000, Currency: "THB"}, st.Amount)
	require.Empty(t, st.Flags)
}

func TestSyncUnknownOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := e.checkout(t, payment.MethodQR, 100000)
	_, err := e.p.Sync(testCtx(t), req.Payment)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.False(t, payment.IsRetryable(err))
}

func TestDepositOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		play    func(ctx context.Context, sim *payplussim.Server, id string) error
		status  payment.Status
		amount  *payment.Money
		flags   []string
		failure string
	}{
		{
			name:   "paid exactly",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.Pay(ctx, id) },
			status: payment.StatusSucceeded, amount: &payment.Money{Amount: 100000, Currency: "THB"},
		},
		{
			name:   "paid more",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.PayAmount(ctx, id, 120000) },
			status: payment.StatusSucceeded, amount: &payment.Money{Amount: 100000, Currency: "THB"},
		},
		{
			// 995 due, 900 paid: never paid in full, flagged, amount short by 95.
			name:   "paid less",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.PayLess(ctx, id, 9500) },
			status: payment.StatusSucceeded, amount: &payment.Money{Amount: 100000 - 9500, Currency: "THB"},
			flags: []string{payment.FlagUnderpaid},
		},
		{
			name:   "one satang short",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.PayLess(ctx, id, 1) },
			status: payment.StatusSucceeded, amount: &payment.Money{Amount: 99999, Currency: "THB"},
			flags: []string{payment.FlagUnderpaid},
		},
		{
			name:   "declined",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.Decline(ctx, id) },
			status: payment.StatusFailed, failure: payplus.FailureFailed,
		},
		{
			name:   "expired",
			play:   func(ctx context.Context, s *payplussim.Server, id string) error { return s.Expire(ctx, id) },
			status: payment.StatusExpired, failure: payment.FailureExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := testCtx(t)
			pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
			require.NoError(t, tt.play(ctx, e.sim, pay.ID))

			_, res := e.callback(t, ctx, pay.ID)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			require.Equal(t, pay.ID, ev.PaymentID)
			require.Equal(t, pay.ProviderReference, ev.ProviderReference)
			require.NotEmpty(t, ev.Key)
			require.False(t, ev.OccurredAt.IsZero())

			sync, err := e.p.Sync(ctx, pay)
			require.NoError(t, err)
			for _, st := range []*payment.PaymentState{ev.Payment, sync} {
				require.Equal(t, tt.status, st.Status)
				require.Equal(t, tt.amount, st.Amount)
				require.Equal(t, tt.flags, st.Flags)
				if tt.amount != nil && len(tt.flags) > 0 {
					require.NotEqual(t, pay.Money(), *st.Amount, "an underpaid deposit never reports the full amount")
				}
				if tt.failure != "" {
					require.NotNil(t, st.Failure)
					require.Equal(t, tt.failure, st.Failure.Code)
				}
			}
		})
	}
}

// Deposits expire on the vendor's clock: a query after the expiry time
// reports expired and the callback follows.
func TestDepositExpiresOnTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(), withProvider(payplus.WithCallbackTolerance(0)))
	ctx := testCtx(t)
	pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
	e.clock.Add(5*time.Minute + time.Second)
	// The provider's clock moved too: its timestamps stay within tolerance.
	st, err := e.p.Sync(ctx, pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusExpired, st.Status)
	_, res := e.callback(t, ctx, pay.ID)
	require.Equal(t, payment.StatusExpired, res.Events[0].Payment.Status)
	require.ErrorIs(t, e.sim.Pay(ctx, pay.ID), payplussim.ErrNotPending)
	require.ErrorIs(t, e.sim.Pay(ctx, pay.ID), payment.ErrInvalidState)
}

func TestCustomerMethodsUnknownOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	for _, f := range []func(context.Context, string) error{e.sim.Pay, e.sim.Decline, e.sim.Expire, e.sim.CompletePayout, e.sim.FailPayout} {
		require.ErrorIs(t, f(ctx, "pay_unknown"), payment.ErrNotFound)
	}
	pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
	require.NoError(t, e.sim.Pay(ctx, pay.ID))
	require.ErrorIs(t, e.sim.Decline(ctx, pay.ID), payplussim.ErrNotPending, "an outcome is decided once")
	require.ErrorIs(t, e.sim.PayLess(ctx, pay.ID, 1), payplussim.ErrNotPending)
	require.ErrorIs(t, e.sim.CompletePayout(ctx, pay.ID), payment.ErrNotFound, "a deposit is not a payout")
	require.ErrorIs(t, e.sim.PayAmount(ctx, pay.ID, 0), payment.ErrInvalidInput)
}

func TestMillisecondTimestampsAndCustomPaths(t *testing.T) {
	t.Parallel()
	paths := payplus.Paths{Deposit: "/v2/deposits", Query: "/v2/orders/query", Balance: "/v2/balance", BalanceMethod: http.MethodGet}
	e := newEnv(t,
		withSim(payplussim.WithPaths(paths), payplussim.WithMillisecondCallbackTimestamps()),
		withProvider(payplus.WithPaths(paths), payplus.WithMillisecondTimestamps()))
	ctx := testCtx(t)
	pay, st := e.start(t, ctx, payment.MethodQR, 100000)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.NoError(t, e.sim.Pay(ctx, pay.ID))
	_, res := e.callback(t, ctx, pay.ID)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
	sync, err := e.p.Sync(ctx, pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, sync.Status)
	bal, err := e.p.Balance(ctx)
	require.NoError(t, err, "balance by GET with the signature in the query string")
	require.Equal(t, payplussim.DefaultBalance+99500, bal[0].Available)
}

func TestInProcessClient(t *testing.T) {
	t.Parallel()
	sim := payplussim.New()
	t.Cleanup(sim.Close)
	p, err := payplus.New(payplus.Config{
		BaseURL: "http://payplus.sim" + payplussim.DefaultPrefix, MerchantID: payplussim.DefaultMerchantID, APIKey: payplussim.DefaultAPIKey,
	}, payplus.WithHTTPClient(sim.Client()))
	require.NoError(t, err)
	bal, err := p.Balance(testCtx(t))
	require.NoError(t, err)
	require.Equal(t, []payment.Balance{{Currency: "THB", Available: payplussim.DefaultBalance}}, bal)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := payplus.Config{BaseURL: "https://pay.example/api/v1", MerchantID: "m", APIKey: "k"}
	_, err := payplus.New(good)
	require.NoError(t, err)
	for name, cfg := range map[string]payplus.Config{
		"no merchant": {BaseURL: good.BaseURL, APIKey: "k"},
		"no key":      {BaseURL: good.BaseURL, MerchantID: "m"},
		"no base URL": {MerchantID: "m", APIKey: "k"},
		"relative":    {BaseURL: "/api/v1", MerchantID: "m", APIKey: "k"},
	} {
		_, err := payplus.New(cfg)
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), "k\"", name)
	}
	_, err = payplus.New(good, payplus.WithPaths(payplus.Paths{BalanceMethod: "PUT"}))
	require.Error(t, err)
	_, err = payplus.New(good, payplus.WithCallbackURL("ftp://x"))
	require.Error(t, err)
	p, err := payplus.New(payplus.Config{MerchantID: "m", APIKey: "k"}, payplus.WithBaseURL("https://other.example/api/v1"), nil)
	require.NoError(t, err)
	require.Equal(t, "payplus", p.Name())
	require.Equal(t, []payment.Method{payment.MethodQR, payment.MethodBankTransfer}, p.Methods())
	require.Equal(t, []string{"THB"}, p.Currencies())
	require.Equal(t, []string{"sync", "payout", "balance"}, payment.Capabilities(p))
}
