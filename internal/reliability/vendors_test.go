package reliability

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/appotapay"
	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
	"github.com/paykit/paykit/providers/villa"
	"github.com/paykit/paykit/providers/villa/villasim"
)

// vendorTimeout bounds one request of a vendor provider to its simulator
// in these tests, so that a hung request costs little.
const vendorTimeout = 400 * time.Millisecond

// vendor is a vendor provider wired to its simulator, with what the tests
// need to drive it.
type vendor struct {
	name     string
	provider payment.Provider
	// checkout returns a checkout body for the vendor.
	checkout func(order string) map[string]any
	// pay plays the customer paying; nil when the checkout charges at once
	// (a card sale).
	pay func(ctx context.Context, paymentID string) error
	// charges returns how many charges the simulator made for a payment.
	charges func(paymentID string) int
	// timeoutAfter makes the next Start reach the vendor and do its work,
	// then never answer (or answer an error): the outcome is unknown.
	timeoutAfter func()
	// timeoutBefore makes the next Start time out before the vendor did
	// anything.
	timeoutBefore func()
	// afterFault and beforeFault name the faults, for the figures.
	afterFault, beforeFault string
	// secret is the key the vendor's callbacks are authenticated with.
	secret string
}

// vendorConfig is what a test sets on a vendor provider.
type vendorConfig struct {
	// clock, when set, is the provider's clock (the one webhook timestamps
	// are checked against); simulators keep real time.
	clock payment.Clock
}

// Credentials of the simulators in these tests.
const villaSecret = "whsec_villa_reliability"

func newVilla(t testing.TB, _ string, vc vendorConfig) *vendor {
	t.Helper()
	sim := villasim.New(villasim.WithWebhookSecret(villaSecret))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	opts := []villa.Option{villa.WithBaseURL(srv.URL), villa.WithTimeout(vendorTimeout), villa.WithRetry(2, 10*time.Millisecond)}
	if vc.clock != nil {
		opts = append(opts, villa.WithClock(vc.clock))
	}
	p, err := villa.New(villa.Config{APIKey: villasim.DefaultAPIKey, WebhookSecret: villaSecret}, opts...)
	require.NoError(t, err)
	return &vendor{
		name: "villa", provider: p, pay: sim.Pay, charges: sim.Charges, secret: villaSecret,
		checkout: func(order string) map[string]any {
			return map[string]any{"provider": "villa", "method": "qr", "order_id": order, "amount": 30000, "currency": "THB"}
		},
		// Both attempts of the provider: the first creates the order and
		// hangs, the retry meets the duplicate and hangs too.
		timeoutAfter: func() {
			sim.InjectFault(villasim.Fault{Route: villasim.RouteQRPayment, AfterCommit: true, Hang: true, Times: 2})
		},
		timeoutBefore: func() {
			sim.InjectFault(villasim.Fault{Route: villasim.RouteQRPayment, Hang: true, Times: 2})
		},
		afterFault:  "villasim Fault{AfterCommit, Hang} on POST /qrpayment (both attempts)",
		beforeFault: "villasim Fault{Hang} on POST /qrpayment (both attempts)",
	}
}

func newAppotaPay(t testing.TB, base string, _ vendorConfig) *vendor {
	t.Helper()
	sim := appotapaysim.New(appotapaysim.WithIPNRetries(1, 10*time.Millisecond))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	partner, key, secret := sim.Credentials()
	p, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: secret},
		appotapay.WithBaseURL(srv.URL), appotapay.WithEWalletBaseURL(srv.URL),
		appotapay.WithHTTPClient(&http.Client{Timeout: vendorTimeout}),
		appotapay.WithDefaultReturnURL(base+"/return"))
	require.NoError(t, err)
	const path = "/api/v2/orders/payment"
	return &vendor{
		name: "appotapay", provider: p, pay: sim.Pay, charges: sim.Charges, secret: secret,
		checkout: func(order string) map[string]any {
			return map[string]any{"provider": "appotapay", "method": "qr", "order_id": order, "amount": 200000, "currency": "VND"}
		},
		timeoutAfter:  func() { sim.InjectFault(path, appotapaysim.FaultTimeout, 1) },
		timeoutBefore: func() { sim.InjectFault(path, appotapaysim.Fault5xx, 1) },
		afterFault:    "appotapaysim FaultTimeout on " + path,
		beforeFault:   "appotapaysim Fault5xx on " + path,
	}
}

func newPayPlus(t testing.TB, _ string, vc vendorConfig) *vendor {
	t.Helper()
	sim := payplussim.New(payplussim.WithCallbackRetry(1, 10*time.Millisecond))
	t.Cleanup(sim.Close)
	client := sim.Client()
	client.Timeout = vendorTimeout
	opts := []payplus.Option{payplus.WithHTTPClient(client)}
	if vc.clock != nil {
		opts = append(opts, payplus.WithClock(vc.clock))
	}
	p, err := payplus.New(payplus.Config{
		BaseURL: "http://payplus.sim" + payplussim.DefaultPrefix, MerchantID: payplussim.DefaultMerchantID,
		APIKey: payplussim.DefaultAPIKey,
	}, opts...)
	require.NoError(t, err)
	return &vendor{
		name: "payplus", provider: p, pay: sim.Pay, charges: sim.Charges, secret: payplussim.DefaultAPIKey,
		checkout: func(order string) map[string]any {
			return map[string]any{
				"provider": "payplus", "method": "qr", "order_id": order, "amount": 100000, "currency": "THB",
				"customer": map[string]any{
					"name":         "John Doe",
					"bank_account": map[string]any{"bank_code": "KBANK", "number": "1234567890", "name": "John Doe"},
				},
			}
		},
		timeoutAfter:  func() { sim.InjectFault(payplussim.Fault{Op: "deposit", AfterProcessing: true}) },
		timeoutBefore: func() { sim.InjectFault(payplussim.Fault{Op: "deposit", Hang: true}) },
		afterFault:    "payplussim Fault{AfterProcessing} (500 after the deposit was made) on deposit",
		beforeFault:   "payplussim Fault{Hang} on deposit",
	}
}

const veparaWebhookKey = "paykit"

func newVepara(t testing.TB, base string, _ vendorConfig) *vendor {
	t.Helper()
	sim := veparasim.New()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.SetWebhookURL(veparaWebhookKey, base+"/webhooks/vepara")
	p, err := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(), MerchantKey: sim.MerchantKey()},
		vepara.WithBaseURL(srv.URL), vepara.WithSaleWebhookKey(veparaWebhookKey),
		vepara.WithHTTPClient(&http.Client{Timeout: vendorTimeout}))
	require.NoError(t, err)
	const path = "/api/paySmart2D"
	return &vendor{
		name: "vepara", provider: p, charges: sim.Charges, secret: sim.AppSecret(),
		checkout: func(order string) map[string]any {
			return map[string]any{
				"provider": "vepara", "method": "card", "order_id": order, "amount": 10050, "currency": "TRY",
				"card": map[string]any{
					"number": veparasim.CardApprove, "expiry_month": 12, "expiry_year": 2030, "cvv": "000", "holder_name": "John Doe",
				},
			}
		},
		timeoutAfter: func() { sim.InjectFault(veparasim.Fault{Path: path, Kind: veparasim.FaultLostResponse}) },
		timeoutBefore: func() {
			sim.InjectFault(veparasim.Fault{Path: path, Kind: veparasim.FaultDelay, Delay: 5 * time.Second})
		},
		afterFault:  "veparasim FaultLostResponse (502 after the sale) on " + path,
		beforeFault: "veparasim FaultDelay beyond the client's timeout on " + path,
	}
}

// vendorMaker builds a vendor provider against its simulator, whose
// callbacks go to base + "/webhooks/" + name.
type vendorMaker func(t testing.TB, base string, vc vendorConfig) *vendor

// vendorMakers builds each vendor, by name.
var vendorMakers = []struct {
	name string
	make vendorMaker
}{{"villa", newVilla}, {"appotapay", newAppotaPay}, {"payplus", newPayPlus}, {"vepara", newVepara}}

// vendorStack is a stack with one vendor provider registered.
func vendorStack(t testing.TB, store payment.Store, mk vendorMaker, vc vendorConfig, o stackOptions) (*stack, *vendor) {
	t.Helper()
	var v *vendor
	o.store = store
	o.providers = func(base string) []payment.Provider {
		v = mk(t, base, vc)
		return []payment.Provider{v.provider}
	}
	o.payment = append(o.payment, payment.WithProviderTimeout(10*time.Second))
	s := newStack(t, o)
	return s, v
}

// The vendor simulators' own timeout faults, through each vendor provider:
// the request reaches the vendor and does its work but the answer never
// comes (or is an error), or the request times out before the vendor did
// anything. The payment is processing, never failed; a retry with the same
// key replays it and charges nothing more; the customer's payment (or the
// sweeper) finishes it: succeeded with exactly one charge, or, when the
// vendor never got it, expired once the sweeper confirms that, with none.
func TestVendorTimeouts(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		for _, vm := range vendorMakers {
			t.Run(vm.name, func(t *testing.T) {
				s, v := vendorStack(t, b.open(t), vm.make, vendorConfig{}, stackOptions{clock: newClock()})
				for _, after := range []bool{true, false} {
					runVendorTimeout(t, s, v, after)
				}
			})
		}
	})
}

func runVendorTimeout(t *testing.T, s *stack, v *vendor, after bool) {
	ctx := t.Context()
	fault := v.beforeFault
	order := "vt-" + v.name + "-before"
	if after {
		fault = v.afterFault
		order = "vt-" + v.name + "-after"
		v.timeoutAfter()
	} else {
		v.timeoutBefore()
	}
	key := "key-" + order
	began := time.Now()
	r, err := s.call(ctx, http.MethodPost, "/checkout", v.checkout(order), keyHeader(key))
	require.NoError(t, err)
	took := time.Since(began)
	require.Contains(t, []int{http.StatusCreated, http.StatusServiceUnavailable}, r.status, "%s: %s", fault, r.body)
	ps, err := s.raw.FindPayments(ctx, v.name, order)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	p := ps[0]
	// Unknown is processing, never failed (a vendor's callback may already
	// have told the truth).
	require.Contains(t, []payment.Status{payment.StatusProcessing, payment.StatusSucceeded}, p.Status, "%s", fault)
	if !after {
		require.Equal(t, payment.StatusProcessing, p.Status, "%s: an unknown outcome is processing", fault)
	}
	charged := 0
	if after {
		charged = 1
	}
	require.Equal(t, charged, v.charges(p.ID), "%s: charges at the vendor", fault)

	// The client retries with its key: the stored result, nothing new.
	r2, err := s.call(ctx, http.MethodPost, "/checkout", v.checkout(order), keyHeader(key))
	require.NoError(t, err)
	if r.status == http.StatusCreated {
		require.Equal(t, http.StatusOK, r2.status, "%s: replay: %s", fault, r2.body)
		require.Equal(t, p.ID, r2.payment(t).ID)
	}
	require.Equal(t, charged, v.charges(p.ID), "%s: a retry charges nothing more", fault)

	want := payment.StatusExpired
	if after {
		want = payment.StatusSucceeded
		if v.pay != nil {
			require.NoError(t, v.pay(ctx, p.ID), "%s: the customer pays", fault)
		}
	}
	rounds := 0
	for ; rounds < 40; rounds++ {
		got, err := s.raw.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		if got.Status.Final() {
			break
		}
		s.clock.Advance(10 * time.Minute)
		_, _ = s.svc.Sweep(ctx)
	}
	s.drain(ctx, []string{p.ID})
	got := checkPayment(ctx, t, s.raw, s.notes, p.ID)
	require.Equal(t, want, got.Status, "%s", fault)
	require.Equal(t, charged, v.charges(p.ID), "%s: charges at the vendor in the end", fault)
	t.Logf("%s: checkout answered %d after %s, payment %s with %d charge(s); the retry replayed it; "+
		"ended %s after %d sweeper rounds; charges %d, double charges 0, lost 0",
		fault, r.status, took.Round(time.Millisecond), p.Status, charged, got.Status, rounds, v.charges(p.ID))
}

// newClock returns a fake clock at the real time: vendor simulators keep
// real time, and expiries they report must make sense to the Service.
func newClock() *paymenttest.Clock { return paymenttest.NewClock(time.Now()) }
