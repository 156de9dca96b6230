package vepara_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

func TestTokenIsFetchedOnceForConcurrentRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	// A slow token answer keeps every request waiting on the one fetch.
	e.sim.InjectFault(veparasim.Fault{Path: "/api/token", Kind: veparasim.FaultDelay, Delay: 150 * time.Millisecond})
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.p.Installments(t.Context())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, e.sim.TokenRequests(), "%d concurrent requests must share one token fetch", n)
	require.Equal(t, n, e.sim.Calls("/api/installments"))

	_, err := e.p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, e.sim.TokenRequests(), "the token is cached for its lifetime")
}

func TestTokenIsRenewedBeforeItExpires(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, []veparasim.Option{veparasim.WithClock(clk.Now)}, vepara.WithClock(clk))
	call := func() {
		t.Helper()
		_, err := e.p.Installments(t.Context())
		require.NoError(t, err)
	}
	call()
	require.Equal(t, 1, e.sim.TokenRequests())
	clk.Advance(time.Hour + 45*time.Minute)
	call()
	require.Equal(t, 1, e.sim.TokenRequests(), "15 minutes left: still the same token")
	clk.Advance(6 * time.Minute)
	call()
	require.Equal(t, 2, e.sim.TokenRequests(), "9 minutes left: renewed early (margin 10 minutes)")
	clk.Advance(time.Hour)
	call()
	require.Equal(t, 2, e.sim.TokenRequests(), "the renewed token lives 2 hours from its fetch")
}

func TestTokenRenewalFailureKeepsTheValidToken(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, []veparasim.Option{veparasim.WithClock(clk.Now)}, vepara.WithClock(clk))
	_, err := e.p.Installments(t.Context())
	require.NoError(t, err)
	clk.Advance(time.Hour + 55*time.Minute)
	e.sim.InjectFault(veparasim.Fault{Path: "/api/token", Kind: veparasim.FaultServerError})
	_, err = e.p.Installments(t.Context())
	require.NoError(t, err, "an early renewal that fails falls back to the token that still works")
	_, err = e.p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, e.sim.TokenRequests(), "the next request tries the renewal again")
}

func TestTokenIsRenewedOn401(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	require.Equal(t, 1, e.sim.TokenRequests())
	before := e.sim.Calls("/api/checkstatus")
	e.sim.RevokeTokens()
	st, err := e.p.Sync(t.Context(), pay)
	require.NoError(t, err, "a 401 drops the token, fetches another and repeats the call")
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.Equal(t, 2, e.sim.TokenRequests())
	require.Equal(t, before+2, e.sim.Calls("/api/checkstatus"))

	e.sim.InjectFault(veparasim.Fault{Path: "/api/checkstatus", Kind: veparasim.FaultUnauthorized, Times: 2})
	_, err = e.p.Sync(t.Context(), pay)
	require.Error(t, err, "a second 401 in a row is an error")
	require.Equal(t, "401", providerErr(t, err).Code)
	require.Equal(t, 3, e.sim.TokenRequests())
}

func TestTokenWithWrongCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const secret = "not-the-secret-at-all"
	p, err := vepara.New(vepara.Config{AppID: e.sim.AppID(), AppSecret: secret, MerchantKey: e.sim.MerchantKey()},
		vepara.WithBaseURL(e.srv.URL))
	require.NoError(t, err)
	_, err = p.Installments(t.Context())
	require.Error(t, err)
	require.False(t, payment.IsRetryable(err))
	require.Equal(t, "30", providerErr(t, err).Code, "invalid credentials")
	require.NotContains(t, err.Error(), secret)
	_, err = p.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
	require.Equal(t, 0, e.sim.Calls("/api/paySmart2D"), "nothing is sent without a token")
}

func TestTokenFetchFailureIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.sim.InjectFault(veparasim.Fault{Path: "/api/token", Kind: veparasim.FaultServerError})
	_, err := e.p.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
	require.True(t, payment.IsRetryable(err))
}

// sipayPlatform answers the token call in Sipay's shape (status_code,
// expires_at) and counts the calls it sees.
func sipayPlatform(t *testing.T, expiresAt string, tokenCalls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/token":
			tokenCalls.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"status_code": 100, "status_description": "Successfully Generated token",
				"data": map[string]any{"token": "tok-sipay", "is_3d": 4, "expires_at": expiresAt},
			})
		case "/api/installments":
			if r.Header.Get("Authorization") != "Bearer tok-sipay" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(`{"status_code":"100","message":"Merchant Active Installment","installments":[1,"3",6]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTokenReadsSipaysAnswerAndItsExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	var calls atomic.Int32
	// 12:30 Istanbul is 09:30 UTC: the platform gives the token 30 minutes.
	srv := sipayPlatform(t, "2026-03-01 12:30:00", &calls)
	p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"},
		vepara.WithBaseURL(srv.URL), vepara.WithClock(clk))
	require.NoError(t, err)
	counts, err := p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, []int{1, 3, 6}, counts, "numbers and numeric strings are read alike")
	clk.Advance(20 * time.Minute)
	_, err = p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, int32(1), calls.Load())
	clk.Advance(5 * time.Minute)
	_, err = p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load(), "renewed before the platform's stated expiry")
}

func TestTokenIgnoresAStatedExpiryInThePast(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	var calls atomic.Int32
	srv := sipayPlatform(t, "2020-01-01 00:00:00", &calls)
	p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"},
		vepara.WithBaseURL(srv.URL), vepara.WithClock(clk))
	require.NoError(t, err)
	for range 3 {
		_, err = p.Installments(t.Context())
		require.NoError(t, err)
		clk.Advance(30 * time.Minute)
	}
	require.Equal(t, int32(1), calls.Load(), "a nonsensical expiry falls back to the documented 2 hours")
}

func TestValidationErrorsOfThePlatform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field string
		leaks             string
	}{
		{"card number", `{"message":"The cc no must be between 16 and 20 digits.","errors":{"cc_no":["The cc no 4508034508034509 is invalid."]}}`, "card.number", "4508034508034509"},
		{"item price", `{"message":"x","errors":{"items.1.price":["The items.1.price must be a number."]}}`, "items[1].price", ""},
		{"item quantity alias", `{"message":"x","errors":{"items.0.qty":["bad"]}}`, "items[0].quantity", ""},
		{"total", `{"message":"x","errors":{"total":["The total must be a number."]}}`, "amount", ""},
		{"first of several, sorted", `{"message":"x","errors":{"surname":["s"],"cvv":["c"]}}`, "card.cvv", ""},
		{"unknown field", `{"message":"x","errors":{"bill_city":["too long"]}}`, "bill_city", ""},
		{"no errors object", `{"message":"The given data was invalid."}`, "body", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/api/token" {
					_, _ = w.Write([]byte(`{"status":"success","data":{"token":"t","is_3d":1,"expired_at":""}}`))
					return
				}
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			p, err := vepara.New(vepara.Config{AppID: "a", AppSecret: "s", MerchantKey: "m"}, vepara.WithBaseURL(srv.URL))
			require.NoError(t, err)
			_, err = p.Start(t.Context(), cardCheckout(veparasim.CardApprove, 100))
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.ErrorIs(t, err, payment.ErrInvalidInput)
			require.Equal(t, tt.field, ve.Field)
			require.False(t, payment.IsRetryable(err))
			if tt.leaks != "" {
				require.NotContains(t, err.Error(), tt.leaks, "card fields never carry the platform's text")
			}
			require.NotContains(t, err.Error(), "9876")
		})
	}
}
