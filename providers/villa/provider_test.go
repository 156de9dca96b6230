package villa_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/time/rate"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	key := villa.Config{APIKey: "k"}
	cases := []struct {
		name string
		cfg  villa.Config
		opts []villa.Option
		base string
	}{
		{"main default is development", key, nil, villa.MainDevelopmentURL},
		{"main sandbox", villa.Config{APIKey: "k", Environment: villa.Sandbox}, nil, villa.MainSandboxURL},
		{"main production", villa.Config{APIKey: "k", Environment: villa.Production}, nil, villa.MainProductionURL},
		{"payment3 development", villa.Config{Flavor: villa.FlavorPayment3, TokenSource: staticToken("t")}, nil, villa.Payment3DevelopmentURL},
		{"payment3 production", villa.Config{Flavor: villa.FlavorPayment3, TokenSource: staticToken("t"), Environment: villa.Production}, nil, villa.Payment3ProductionURL},
		{"base URL override", key, []villa.Option{villa.WithBaseURL("http://127.0.0.1:9/x/")}, "http://127.0.0.1:9/x"},
	}
	for _, tc := range cases {
		p, err := villa.New(tc.cfg, tc.opts...)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.base, p.BaseURL(), tc.name)
		require.Equal(t, "villa", p.Name())
		require.Equal(t, []payment.Method{payment.MethodCard, payment.MethodQR, payment.MethodWeChat}, p.Methods())
		require.Equal(t, []string{"THB"}, p.Currencies())
		require.ElementsMatch(t, []string{"sync", "quote"}, payment.Capabilities(p))
	}
	bad := []struct {
		name string
		cfg  villa.Config
		opts []villa.Option
	}{
		{"no credentials", villa.Config{}, nil},
		{"payment3 without token source", villa.Config{Flavor: villa.FlavorPayment3}, nil},
		{"unknown flavor", villa.Config{APIKey: "k", Flavor: "v9"}, nil},
		{"unknown environment", villa.Config{APIKey: "k", Environment: "staging"}, nil},
		{"relative base URL", key, []villa.Option{villa.WithBaseURL("/villa")}},
		{"ftp base URL", key, []villa.Option{villa.WithBaseURL("ftp://villa.example")}},
		{"zero rate", key, []villa.Option{villa.WithRateLimit(0, 1)}},
		{"zero burst", key, []villa.Option{villa.WithRateLimit(1, 0)}},
		{"zero timeout", key, []villa.Option{villa.WithTimeout(0)}},
		{"zero attempts", key, []villa.Option{villa.WithRetry(0, time.Millisecond)}},
		{"unknown QR shape", key, []villa.Option{villa.WithQRShape("square")}},
	}
	for _, tc := range bad {
		_, err := villa.New(tc.cfg, tc.opts...)
		require.Error(t, err, tc.name)
	}
	_, err := villa.New(key, nil)
	require.NoError(t, err, "nil options are skipped")
}

func staticToken(v string) villa.TokenSource {
	return villa.TokenSourceFunc(func(context.Context) (villa.Token, error) { return villa.Token{Value: v}, nil })
}

func TestValidateCheckout(t *testing.T) {
	t.Parallel()
	p, err := villa.New(villa.Config{APIKey: "k"})
	require.NoError(t, err)
	valid := func(m payment.Method) *payment.StartRequest {
		req := providertest.NewStartRequest("villa", m, 100000, "THB")
		if m == payment.MethodCard {
			req.PaymentToken = "tokn_test_abc"
		}
		return req
	}
	for _, m := range p.Methods() {
		require.NoError(t, p.ValidateCheckout(valid(m)), m)
	}
	cases := []struct {
		field  string
		change func(*payment.StartRequest)
	}{
		{"currency", func(r *payment.StartRequest) { r.Payment.Currency = "USD" }},
		{"amount", func(r *payment.StartRequest) { r.Payment.Amount = 0 }},
		{"amount", func(r *payment.StartRequest) { r.Payment.Amount = 1_000_000_000_000 }},
		{"capture_method", func(r *payment.StartRequest) { r.Payment.CaptureMethod = payment.CaptureManual }},
		{"method", func(r *payment.StartRequest) { r.Payment.Method = payment.MethodEWallet }},
		{"method", func(r *payment.StartRequest) { r.Payment.Method = payment.MethodBankTransfer }},
		{"payment_token", func(r *payment.StartRequest) { r.PaymentToken = "" }},
		{"payment_token", func(r *payment.StartRequest) { r.PaymentToken = "tokn with space" }},
		{"card", func(r *payment.StartRequest) {
			r.Card = &payment.Card{Number: "4111111111111111", ExpiryMonth: 12, ExpiryYear: 2030, CVV: "123"}
		}},
		{"id", func(r *payment.StartRequest) { r.Payment.ID = "pay/../../admin" }},
	}
	for _, tc := range cases {
		req := valid(payment.MethodCard)
		tc.change(req)
		err := p.ValidateCheckout(req)
		require.ErrorIs(t, err, payment.ErrInvalidInput, tc.field)
		var ve *payment.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, tc.field, ve.Field)
		require.NotContains(t, err.Error(), "4111111111111111")

		_, err = p.Start(t.Context(), req)
		require.ErrorIs(t, err, payment.ErrInvalidInput, "Start validates too, before any call: %s", tc.field)
	}
}

func TestStartQRMain(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	before := time.Now().UTC()
	req, st := e.start(t, payment.MethodQR, 123456)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, req.Payment.ID, st.ProviderReference)
	require.Equal(t, &payment.Money{Amount: 123456, Currency: "THB"}, st.Amount)
	require.NotNil(t, st.NextAction)
	require.Equal(t, payment.NextActionDisplayQR, st.NextAction.Type)
	require.Contains(t, st.NextAction.QRCode, "54071234.56", "the QR carries the exact amount")
	require.NotNil(t, st.ExpiresAt)
	require.WithinRange(t, *st.ExpiresAt, before.Add(time.Hour-time.Second), time.Now().Add(time.Hour+time.Second))

	o, ok := e.sim.Order(req.Payment.ID)
	require.True(t, ok)
	require.Equal(t, "qr", o.Method)
	require.Equal(t, int64(123456), o.Amount)
	require.Equal(t, "guest", o.UserID)
	require.Equal(t, villasim.StatusPending, o.Status)
	cb, err := url.Parse(o.CallbackURL)
	require.NoError(t, err)
	require.Equal(t, req.Payment.ID, cb.Query().Get("orderId"), "the callback URL names the order")
	require.Equal(t, 1, e.sim.Requests(villasim.RouteQRPayment))
	require.Equal(t, 0, e.sim.Requests(villasim.RouteCreateOrder), "the main shape creates the order in one call")

	sync, err := e.p.Sync(t.Context(), req.Payment)
	require.NoError(t, err)
	require.Equal(t, st.Status, sync.Status)
	require.Equal(t, st.NextAction.QRCode, sync.NextAction.QRCode)
}

func TestStartCustomerID(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{cfg: villa.Config{DefaultUserID: "shop-user"}})
	req := e.checkout(payment.MethodQR, 100)
	_, err := e.p.Start(t.Context(), req)
	require.NoError(t, err)
	o, _ := e.sim.Order(req.Payment.ID)
	require.Equal(t, "shop-user", o.UserID)

	req = e.checkout(payment.MethodWeChat, 100)
	req.Payment.Customer = &payment.Customer{ID: "customer-123"}
	_, err = e.p.Start(t.Context(), req)
	require.NoError(t, err)
	o, _ = e.sim.Order(req.Payment.ID)
	require.Equal(t, "customer-123", o.UserID)
	require.Equal(t, "wechat", o.Method)
}

func TestStartPayment3OrderShape(t *testing.T) {
	t.Parallel()
	var sim *villasim.Server
	var fetched atomic.Int32
	e := setup(t, setupOpts{cfg: villa.Config{
		Flavor: villa.FlavorPayment3,
		TokenSource: villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
			fetched.Add(1)
			return villa.Token{Value: sim.IDToken(time.Hour)}, nil
		}),
	}})
	sim = e.sim
	req, st := e.start(t, payment.MethodWeChat, 30000)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, payment.NextActionDisplayQR, st.NextAction.Type)
	require.Equal(t, 1, e.sim.Requests(villasim.RouteCreateOrder), "the order shape registers the order first")
	require.Equal(t, 1, e.sim.Requests(villasim.RouteQRPayment))

	// A retry reuses the order and its KBank order.
	again, err := e.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, st.ProviderReference, again.ProviderReference)
	require.Equal(t, st.NextAction.QRCode, again.NextAction.QRCode)
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))
	require.Equal(t, int32(1), fetched.Load(), "the ID token is cached")

	// Once paid, a retry answers with the paid state.
	require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
	again, err = e.p.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, again.Status)
}

func TestMainFlavorWithOrderShape(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{opt: []villa.Option{villa.WithQRShape(villa.QRShapeOrder)}})
	_, st := e.start(t, payment.MethodQR, 500)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, 1, e.sim.Requests(villasim.RouteCreateOrder))
}

func TestCardFlows(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	cases := []struct {
		outcome villasim.CardOutcome
		status  payment.Status
		failure string
	}{
		{villasim.CardFrictionless, payment.StatusSucceeded, ""},
		{villasim.CardDeclined, payment.StatusFailed, payment.FailureCardDeclined},
		{villasim.CardInsufficientFunds, payment.StatusFailed, payment.FailureInsufficientFunds},
		{villasim.Card3DS, payment.StatusRequiresAction, ""},
	}
	for _, tc := range cases {
		req := e.checkout(payment.MethodCard, 250050)
		req.PaymentToken = villasim.CardToken(tc.outcome)
		st, err := e.p.Start(t.Context(), req)
		require.NoError(t, err, tc.outcome)
		require.Equal(t, tc.status, st.Status, tc.outcome)
		require.Equal(t, &payment.CardSummary{Brand: "visa", Last4: "1111"}, st.Card)
		if tc.failure != "" {
			require.Equal(t, tc.failure, st.Failure.Code)
			require.Nil(t, st.Amount)
			continue
		}
		require.Equal(t, &payment.Money{Amount: 250050, Currency: "THB"}, st.Amount)
		if tc.status == payment.StatusRequiresAction {
			require.Equal(t, payment.NextActionRedirect, st.NextAction.Type)
			require.True(t, strings.HasPrefix(st.NextAction.URL, e.srv.URL+"/kbank/3ds/chrg_test_"), st.NextAction.URL)
		}
	}
}

// TestCardThreeDSPage plays the customer through the simulator's 3-D
// Secure page, as a browser would.
func TestCardThreeDSPage(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	req, st := e.start(t, payment.MethodCard, 9900)
	browse := func(method, body string) {
		req, err := http.NewRequestWithContext(t.Context(), method, st.NextAction.URL, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	browse(http.MethodGet, "")
	_, ok := e.sim.Order(req.Payment.ID)
	require.True(t, ok)
	browse(http.MethodPost, "action=pay")

	wr := e.next(t, req.Payment.ID)
	require.Equal(t, "application/x-www-form-urlencoded", wr.Header.Get("Content-Type"))
	form, err := url.ParseQuery(string(wr.Body))
	require.NoError(t, err)
	require.Equal(t, "true", form.Get("status"))
	require.True(t, strings.HasPrefix(form.Get("objectId"), "chrg_test_"))
	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
	require.Equal(t, req.Payment.ID, res.Events[0].PaymentID)
}

func TestExpire(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	for _, m := range []payment.Method{payment.MethodQR, payment.MethodCard} {
		req, _ := e.start(t, m, 1000)
		require.NoError(t, e.sim.Expire(t.Context(), req.Payment.ID))
		res, err := e.p.ParseWebhook(t.Context(), e.next(t, req.Payment.ID))
		require.NoError(t, err)
		ev := res.Events[0]
		require.Equal(t, payment.StatusExpired, ev.Payment.Status, m)
		require.Equal(t, payment.FailureExpired, ev.Payment.Failure.Code)

		err = e.sim.Pay(t.Context(), req.Payment.ID)
		require.ErrorIs(t, err, villasim.ErrNotPayable)
		require.ErrorIs(t, err, payment.ErrInvalidState)
	}
	err := e.sim.Pay(t.Context(), "pay_unknown")
	require.ErrorIs(t, err, villasim.ErrUnknownPayment)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestExpiryByClock(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2025, 5, 30, 13, 0, 0, 0, time.UTC).UnixNano())
	e := setup(t, setupOpts{sim: []villasim.Option{
		villasim.WithClock(func() time.Time { return time.Unix(0, now.Load()) }),
		villasim.WithExpiry(10 * time.Minute),
	}})
	req, st := e.start(t, payment.MethodQR, 1000)
	require.Equal(t, time.Date(2025, 5, 30, 13, 10, 0, 0, time.UTC), *st.ExpiresAt)
	now.Add(int64(10 * time.Minute))
	sync, err := e.p.Sync(t.Context(), req.Payment)
	require.NoError(t, err)
	require.Equal(t, payment.StatusExpired, sync.Status)
}

func TestStartRetries(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, e *env, req *payment.StartRequest, st *payment.PaymentState, err error)
	ok := func(requests int) check {
		return func(t *testing.T, e *env, req *payment.StartRequest, st *payment.PaymentState, err error) {
			require.NoError(t, err)
			require.Equal(t, payment.StatusRequiresAction, st.Status)
			require.Equal(t, req.Payment.ID, st.ProviderReference)
			require.NotNil(t, st.NextAction, "the state resolved by checkstatus still tells the customer what to do")
			require.Equal(t, requests, e.sim.Requests(villasim.RouteCardPayment))
			require.Equal(t, 1, e.sim.Charges(req.Payment.ID), "never two charges")
		}
	}
	cases := []struct {
		name  string
		fault villasim.Fault
		opts  []villa.Option
		check check
	}{
		{"500 before the work is retried", villasim.Fault{Route: villasim.RouteCardPayment, Status: 500}, nil, ok(2)},
		{"503 twice then success", villasim.Fault{Route: villasim.RouteCardPayment, Status: 503, Times: 2}, nil, ok(3)},
		{"500 after the work resolves through checkstatus", villasim.Fault{Route: villasim.RouteCardPayment, Status: 500, AfterCommit: true}, nil, ok(2)},
		{
			"a hang after the work resolves through checkstatus",
			villasim.Fault{Route: villasim.RouteCardPayment, Hang: true, AfterCommit: true},
			[]villa.Option{villa.WithTimeout(200 * time.Millisecond)},
			ok(2),
		},
		{"429 honours Retry-After", villasim.Fault{Route: villasim.RouteCardPayment, Status: 429}, nil, ok(2)},
		{"a slow answer within the timeout", villasim.Fault{Route: villasim.RouteCardPayment, Delay: 50 * time.Millisecond}, nil, ok(1)},
		{
			"500 on every attempt is retryable",
			villasim.Fault{Route: villasim.RouteCardPayment, Status: 500, Times: 3},
			nil,
			func(t *testing.T, e *env, _ *payment.StartRequest, _ *payment.PaymentState, err error) {
				require.Error(t, err)
				require.True(t, payment.IsRetryable(err), "unknown outcome: the Service records processing")
				require.ErrorIs(t, err, payment.ErrUnavailable)
				require.Equal(t, 3, e.sim.Requests(villasim.RouteCardPayment))
			},
		},
		{
			"429 beyond the Retry-After cap",
			villasim.Fault{Route: villasim.RouteCardPayment, Status: 429, RetryAfter: time.Hour},
			[]villa.Option{villa.WithMaxRetryAfter(time.Second)},
			func(t *testing.T, e *env, _ *payment.StartRequest, _ *payment.PaymentState, err error) {
				var pe *payment.ProviderError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, villa.CodeRateLimited, pe.Code)
				require.True(t, pe.Retryable)
				require.Equal(t, 1, e.sim.Requests(villasim.RouteCardPayment))
			},
		},
		{
			"400 is final",
			villasim.Fault{Route: villasim.RouteCardPayment, Status: 400},
			nil,
			func(t *testing.T, e *env, _ *payment.StartRequest, _ *payment.PaymentState, err error) {
				require.ErrorIs(t, err, payment.ErrInvalidInput)
				require.False(t, payment.IsRetryable(err), "the payment was refused: the Service records failed")
				require.Equal(t, 1, e.sim.Requests(villasim.RouteCardPayment))
			},
		},
		{
			"401 is final",
			villasim.Fault{Route: villasim.RouteCardPayment, Status: 401},
			nil,
			func(t *testing.T, e *env, _ *payment.StartRequest, _ *payment.PaymentState, err error) {
				var pe *payment.ProviderError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, villa.CodeUnauthorized, pe.Code)
				require.False(t, pe.Retryable)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, setupOpts{opt: tc.opts})
			e.sim.InjectFault(tc.fault)
			req := e.checkout(payment.MethodCard, 77700)
			st, err := e.p.Start(t.Context(), req)
			tc.check(t, e, req, st, err)
			if err != nil {
				require.NotContains(t, err.Error(), req.PaymentToken, "the card token never reaches an error")
				require.NotContains(t, err.Error(), villasim.DefaultAPIKey, "the API key never reaches an error")
			}
		})
	}
}

func TestRetryOnlyWhatIsSafe(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteCreateUser, Status: 500})
	_, err := e.p.CreateUser(t.Context(), &villa.UserRequest{Email: "a@example.com"})
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	require.Equal(t, 1, e.sim.Requests(villasim.RouteCreateUser), "a write without an order id is not repeated")

	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteCreateUser, Status: 429})
	u, err := e.p.CreateUser(t.Context(), &villa.UserRequest{Email: "a@example.com"})
	require.NoError(t, err, "a 429 was refused before any work: always safe to repeat")
	require.NotEmpty(t, u.ID)
	require.Equal(t, 3, e.sim.Requests(villasim.RouteCreateUser))

	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteCheckStatus, Status: 502, Times: 2})
	_, err = e.p.CheckStatus(t.Context(), "pay_missing")
	require.ErrorIs(t, err, payment.ErrNotFound, "reads are retried")
	require.Equal(t, 3, e.sim.Requests(villasim.RouteCheckStatus))
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.sim.InjectFault(villasim.Fault{Hang: true, Times: 10})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.p.Start(ctx, e.checkout(payment.MethodQR, 100))
	require.Error(t, err)
	require.True(t, payment.IsRetryable(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestClientRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{opt: []villa.Option{villa.WithRateLimit(rate.Limit(20), 1)}})
	start := time.Now()
	for range 5 {
		_, err := e.p.CheckStatus(t.Context(), "pay_x")
		require.ErrorIs(t, err, payment.ErrNotFound)
	}
	require.GreaterOrEqual(t, time.Since(start), 190*time.Millisecond, "5 calls at 20/s with no burst take 200 ms")
}

func TestServerRateLimit(t *testing.T) {
	t.Parallel()
	// 60 a minute with a burst of 2: the third quick call gets 429 with
	// Retry-After: 1, which the provider honours.
	e := setup(t, setupOpts{sim: []villasim.Option{villasim.WithRateLimit(60, 2)}})
	start := time.Now()
	for range 3 {
		_, err := e.p.CheckStatus(t.Context(), "pay_x")
		require.ErrorIs(t, err, payment.ErrNotFound)
	}
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond)
	require.Equal(t, 4, e.sim.Requests(villasim.RouteCheckStatus))

	strict := setup(t, setupOpts{
		sim: []villasim.Option{villasim.WithRateLimit(60, 1)},
		opt: []villa.Option{villa.WithMaxRetryAfter(0)},
	})
	_, err := strict.p.CheckStatus(t.Context(), "pay_x")
	require.ErrorIs(t, err, payment.ErrNotFound)
	_, err = strict.p.CheckStatus(t.Context(), "pay_x")
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, villa.CodeRateLimited, pe.Code)
	require.True(t, pe.Retryable)
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTokenRefresh(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: time.Now().UTC()}
	var sim *villasim.Server
	var fetched atomic.Int32
	e := setup(t, setupOpts{
		cfg: villa.Config{Flavor: villa.FlavorPayment3, TokenSource: villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
			fetched.Add(1)
			return villa.Token{Value: sim.IDToken(10 * time.Minute)}, nil
		})},
		opt: []villa.Option{villa.WithClock(clock)},
	})
	sim = e.sim
	for range 3 {
		_, err := e.p.CheckStatus(t.Context(), "pay_x")
		require.ErrorIs(t, err, payment.ErrNotFound)
	}
	require.Equal(t, int32(1), fetched.Load(), "the token's exp claim keeps it cached")
	clock.add(10 * time.Minute)
	_, err := e.p.CheckStatus(t.Context(), "pay_x")
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Equal(t, int32(2), fetched.Load(), "an expired token is replaced before use")

	// A token Villa refuses is replaced once, on the 401.
	var calls atomic.Int32
	e2 := setup(t, setupOpts{cfg: villa.Config{Flavor: villa.FlavorPayment3, TokenSource: villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
		if calls.Add(1) == 1 {
			return villa.Token{Value: "revoked-token"}, nil
		}
		return villa.Token{Value: sim.IDToken(time.Hour)}, nil
	})}})
	sim = e2.sim
	_, err = e2.p.CheckStatus(t.Context(), "pay_x")
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Equal(t, int32(2), calls.Load())

	// A token that stays refused is an error, not a loop.
	e3 := setup(t, setupOpts{cfg: villa.Config{Flavor: villa.FlavorPayment3, TokenSource: staticToken("bad")}})
	_, err = e3.p.CheckStatus(t.Context(), "pay_x")
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "unauthorized", pe.Code, "payment3 spells codes in lower case")
	require.False(t, pe.Retryable)
	require.Equal(t, 2, e3.sim.Requests(villasim.RouteCheckStatus))

	e4 := setup(t, setupOpts{cfg: villa.Config{Flavor: villa.FlavorPayment3, TokenSource: villa.TokenSourceFunc(
		func(context.Context) (villa.Token, error) { return villa.Token{}, errors.New("cognito down") })}})
	_, err = e4.p.CheckStatus(t.Context(), "pay_x")
	require.ErrorContains(t, err, "cognito down")
	require.True(t, payment.IsRetryable(err))
}

func TestWrongAPIKey(t *testing.T) {
	t.Parallel()
	for _, http200 := range []bool{false, true} {
		so := setupOpts{cfg: villa.Config{APIKey: "sk_wrong_key_value"}}
		if http200 {
			so.sim = append(so.sim, villasim.WithHTTP200Errors())
		}
		e := setup(t, so)
		_, err := e.p.Start(t.Context(), e.checkout(payment.MethodQR, 100))
		var pe *payment.ProviderError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, villa.CodeUnauthorized, pe.Code)
		require.False(t, pe.Retryable)
		require.NotContains(t, err.Error(), "sk_wrong_key_value")
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, flavor := range []villa.Flavor{villa.FlavorMain, villa.FlavorPayment3} {
		so := setupOpts{cfg: villa.Config{Flavor: flavor}}
		var sim *villasim.Server
		if flavor == villa.FlavorPayment3 {
			so.cfg.TokenSource = villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
				return villa.Token{Value: sim.IDToken(time.Hour)}, nil
			})
		}
		e := setup(t, so)
		sim = e.sim
		q, err := e.p.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 100000, Currency: "THB"}, Method: payment.MethodQR})
		require.NoError(t, err)
		require.Equal(t, &payment.Quote{Amount: 100000, Currency: "THB", Fee: 800, CustomerPays: 100000}, q)

		q, err = e.p.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 500001, Currency: "THB"}, Method: payment.MethodCard})
		require.NoError(t, err)
		require.Equal(t, int64(12500), q.Fee, "2.5% of 5000.01 rounds half up to 125.00")
		require.Equal(t, []payment.Installment{
			{Count: 3, Total: 500001, PerInstallment: 166667},
			{Count: 6, Total: 500001, PerInstallment: 83333},
			{Count: 10, Total: 500001, PerInstallment: 50000},
		}, q.Installments)

		q, err = e.p.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 1, Currency: "THB"}, Method: payment.MethodWeChat})
		require.NoError(t, err)
		require.Equal(t, int64(0), q.Fee)

		requests := e.sim.Requests("")
		for _, bad := range []*payment.QuoteRequest{
			nil,
			{Amount: payment.Money{Amount: 100, Currency: "USD"}},
			{Amount: payment.Money{Amount: 0, Currency: "THB"}},
			{Amount: payment.Money{Amount: 100, Currency: "THB"}, Method: payment.MethodEWallet},
		} {
			_, err := e.p.Quote(t.Context(), bad)
			require.ErrorIs(t, err, payment.ErrInvalidInput)
		}
		require.Equal(t, requests, e.sim.Requests(""), "invalid quotes never leave the process")
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	for _, flavor := range []villa.Flavor{villa.FlavorMain, villa.FlavorPayment3} {
		so := setupOpts{cfg: villa.Config{Flavor: flavor}}
		var sim *villasim.Server
		if flavor == villa.FlavorPayment3 {
			so.cfg.TokenSource = villa.TokenSourceFunc(func(context.Context) (villa.Token, error) {
				return villa.Token{Value: sim.IDToken(time.Hour)}, nil
			})
		}
		e := setup(t, so)
		sim = e.sim
		in := &villa.UserRequest{Email: "somchai@example.com", Phone: "+66812345678", FirstName: "Somchai", LastName: "Jaidee"}
		u, err := e.p.CreateUser(t.Context(), in)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u.ID, "usr_"), u.ID)
		if flavor == villa.FlavorMain {
			require.Equal(t, 1, e.sim.Requests(villasim.RouteCreateUser))
		} else {
			require.Equal(t, 1, e.sim.Requests(villasim.RouteUser))
		}
		got, err := e.p.GetUser(t.Context(), u.ID)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, in.Email, got.Email)
		require.Equal(t, in.Phone, got.Phone)
		require.Equal(t, in.FirstName, got.FirstName)
		require.Equal(t, in.LastName, got.LastName)
		require.False(t, got.CreatedAt.IsZero())

		_, err = e.p.GetUser(t.Context(), "usr_nobody")
		require.ErrorIs(t, err, payment.ErrNotFound)
		_, err = e.p.CreateUser(t.Context(), &villa.UserRequest{})
		require.ErrorIs(t, err, payment.ErrInvalidInput)
		_, err = e.p.CreateUser(t.Context(), &villa.UserRequest{Email: "not-an-email"})
		require.ErrorIs(t, err, payment.ErrInvalidInput, "Villa's INVALID_INPUT maps to invalid input")
	}
}

func TestCreateKBankOrder(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	before := time.Now().UTC().Truncate(time.Millisecond)
	o, err := e.p.CreateKBankOrder(t.Context(), &villa.OrderRequest{
		OrderID: "492500004632", UserID: "user-123", Amount: payment.Money{Amount: 30050, Currency: "THB"},
		Description: "Order 492500004632", SourceType: "qr",
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(o.ID, "order_test_"))
	require.Equal(t, "order", o.Object)
	require.Equal(t, "success", o.Status, "created, not paid")
	require.Equal(t, payment.Money{Amount: 30050, Currency: "THB"}, o.Amount)
	require.Equal(t, "Order 492500004632", o.Description)
	require.Equal(t, int64(3600), o.ExpireTimeSeconds)
	require.Equal(t, "qr", o.SourceType)
	require.WithinRange(t, o.Created, before, time.Now().UTC())
	require.True(t, strings.HasPrefix(o.ReferenceOrder, "492500004632"), o.ReferenceOrder)

	st, err := e.p.CheckStatus(t.Context(), "492500004632")
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.PaymentStatus())
	require.Equal(t, o.ID, st.KBankOrderID)

	_, err = e.p.CreateKBankOrder(t.Context(), &villa.OrderRequest{OrderID: "492500004632", Amount: payment.Money{Amount: 30050, Currency: "THB"}})
	require.ErrorIs(t, err, payment.ErrInvalidInput, "an order id is used once")
	_, err = e.p.CreateKBankOrder(t.Context(), &villa.OrderRequest{OrderID: "a/b", Amount: payment.Money{Amount: 1, Currency: "THB"}})
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

func TestCheckStatusValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	_, err := e.p.CheckStatus(t.Context(), "../kbank/user/usr_1")
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	require.Equal(t, 0, e.sim.Requests(""))
}

func TestCallbackFaults(t *testing.T) {
	t.Parallel()
	t.Run("duplicated", func(t *testing.T) {
		t.Parallel()
		e := setup(t, setupOpts{})
		e.sim.SetCallbackFaults(villasim.CallbackFaults{Duplicates: 2})
		req, _ := e.start(t, payment.MethodQR, 1000)
		require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
		keys := map[string]int{}
		for range 3 {
			res, err := e.p.ParseWebhook(t.Context(), e.next(t, req.Payment.ID))
			require.NoError(t, err)
			keys[res.Events[0].Key]++
		}
		require.Equal(t, map[string]int{"villa:" + req.Payment.ID + ":succeeded": 3}, keys)
	})
	t.Run("reordered", func(t *testing.T) {
		t.Parallel()
		e := setup(t, setupOpts{})
		e.sim.SetCallbackFaults(villasim.CallbackFaults{Reorder: true})
		req, _ := e.start(t, payment.MethodQR, 1000)
		require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
		first, second := e.next(t, req.Payment.ID), e.next(t, req.Payment.ID)
		require.Contains(t, string(first.Body), `"status":"paid"`)
		require.Contains(t, string(second.Body), `"status":"pending"`, "the stale callback arrives last")
		a, err := e.p.ParseWebhook(t.Context(), first)
		require.NoError(t, err)
		b, err := e.p.ParseWebhook(t.Context(), second)
		require.NoError(t, err)
		require.Equal(t, a.Events[0].Key, b.Events[0].Key, "the stale callback confirms the current state")
		require.Equal(t, payment.StatusSucceeded, b.Events[0].Payment.Status)
	})
	t.Run("held and flushed in reverse", func(t *testing.T) {
		t.Parallel()
		e := setup(t, setupOpts{sim: []villasim.Option{villasim.WithWebhookURL("")}})
		e.sim.HoldCallbacks()
		r1, _ := e.start(t, payment.MethodQR, 1000)
		r2, _ := e.start(t, payment.MethodWeChat, 2000)
		require.NoError(t, e.sim.Pay(t.Context(), r1.Payment.ID))
		require.NoError(t, e.sim.Decline(t.Context(), r2.Payment.ID))
		require.Equal(t, 0, e.rec.Count(""))
		e.sim.FlushCallbacks(t.Context(), true)
		require.Equal(t, 2, e.rec.Count(""))
		wr := e.next(t, "")
		res, err := e.p.ParseWebhook(t.Context(), wr)
		require.NoError(t, err)
		require.Equal(t, r2.Payment.ID, res.Events[0].PaymentID, "newest first")
		require.Equal(t, payment.StatusFailed, res.Events[0].Payment.Status)
		require.Equal(t, "payment_rejected", res.Events[0].Payment.Failure.Code)
	})
	t.Run("merchant-wide webhook URL", func(t *testing.T) {
		t.Parallel()
		hook := providertest.NewRecorder(t)
		e := setup(t, setupOpts{sim: []villasim.Option{villasim.WithWebhookURL(hook.URL())}})
		req, _ := e.start(t, payment.MethodCard, 1000)
		require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		wr, err := hook.Next(ctx, "")
		require.NoError(t, err)
		require.Equal(t, "application/json", wr.Header.Get("Content-Type"))
		res, err := e.p.ParseWebhook(t.Context(), wr)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)
		require.Equal(t, 1, e.rec.Count(req.Payment.ID), "the payment's own callback URL got the card form")
	})
	t.Run("receiver down", func(t *testing.T) {
		t.Parallel()
		e := setup(t, setupOpts{sim: []villasim.Option{villasim.WithCallbackAttempts(2)}})
		e.rec.SetResponse(http.StatusServiceUnavailable, "text/plain", nil)
		req, _ := e.start(t, payment.MethodQR, 1000)
		require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID), "delivery failures are recorded, not returned")
		cbs := e.sim.Callbacks()
		require.Len(t, cbs, 1)
		require.Equal(t, 2, cbs[0].Attempts)
		require.Equal(t, http.StatusServiceUnavailable, cbs[0].StatusCode)
		require.Equal(t, "HTTP 503", cbs[0].Err)
		// The sweeper's Sync still finds the outcome.
		st, err := e.p.Sync(t.Context(), req.Payment)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, st.Status)
	})
}

func TestSignedCallbacks(t *testing.T) {
	t.Parallel()
	const secret = "whsec_signed"
	e := setup(t, setupOpts{sim: []villasim.Option{villasim.WithWebhookSecret(secret)}, cfg: villa.Config{WebhookSecret: secret}})
	req, _ := e.start(t, payment.MethodQR, 4200)
	require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
	wr := e.next(t, req.Payment.ID)
	ts := wr.Header.Get(villa.HeaderTimestamp)
	require.NotEmpty(t, ts)
	require.Equal(t, villasim.HeaderSignature, villa.HeaderSignature)

	// The simulator's signature matches the provider's scheme computed
	// independently.
	unix, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)
	require.Equal(t, villa.SignWebhook(secret, time.Unix(unix, 0), wr.Body), wr.Header.Get(villa.HeaderSignature))

	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, res.Events[0].Payment.Status)

	// A provider with another secret refuses it; one without a secret
	// still confirms it through checkstatus.
	other, err := villa.New(villa.Config{APIKey: villasim.DefaultAPIKey, WebhookSecret: "other"}, villa.WithBaseURL(e.srv.URL))
	require.NoError(t, err)
	_, err = other.ParseWebhook(t.Context(), wr)
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	plain, err := villa.New(villa.Config{APIKey: villasim.DefaultAPIKey}, villa.WithBaseURL(e.srv.URL))
	require.NoError(t, err)
	_, err = plain.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
}

// TestSecretsNeverLogged runs failing and succeeding calls with a debug
// logger and checks that no credential or card token reaches the log.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	e := setup(t, setupOpts{opt: []villa.Option{villa.WithLogger(zap.New(core))}})
	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteCardPayment, Status: 500, AfterCommit: true})
	req, _ := e.start(t, payment.MethodCard, 1000)
	require.NoError(t, e.sim.Pay(t.Context(), req.Payment.ID))
	_, err := e.p.ParseWebhook(t.Context(), e.next(t, req.Payment.ID))
	require.NoError(t, err)
	require.Positive(t, logs.Len())
	for _, entry := range logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(toString(v))
		}
		require.NotContains(t, line, req.PaymentToken)
		require.NotContains(t, line, villasim.DefaultAPIKey)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	default:
		return ""
	}
}

func TestConcurrentStarts(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var wg sync.WaitGroup
	reqs := make([]*payment.StartRequest, 20)
	for i := range reqs {
		reqs[i] = e.checkout([]payment.Method{payment.MethodQR, payment.MethodWeChat, payment.MethodCard}[i%3], int64(100+i))
	}
	errs := make(chan error, len(reqs)*3)
	for _, req := range reqs {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.p.Start(t.Context(), req)
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			require.True(t, payment.IsRetryable(err), "a losing concurrent Start may only fail retryably: %v", err)
		}
	}
	for _, req := range reqs {
		require.Equal(t, 1, e.sim.Charges(req.Payment.ID), req.Payment.ID)
		o, _ := e.sim.Order(req.Payment.ID)
		require.Equal(t, req.Payment.Amount, o.Amount)
	}
}

func TestDuplicateUnresolved(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteQRPayment, Status: 500, AfterCommit: true})
	e.sim.InjectFault(villasim.Fault{Route: villasim.RouteCheckStatus, Status: 503, Times: 3})
	req := e.checkout(payment.MethodQR, 100)
	_, err := e.p.Start(t.Context(), req)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "DUPLICATE_UNRESOLVED", pe.Code)
	require.True(t, pe.Retryable, "the order exists: its outcome is unknown, not failed")
	require.Equal(t, 1, e.sim.Charges(req.Payment.ID))

	st, err := e.p.Start(t.Context(), req)
	require.NoError(t, err, "the next retry resolves it")
	require.Equal(t, payment.StatusRequiresAction, st.Status)
}
