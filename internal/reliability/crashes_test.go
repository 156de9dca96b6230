package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
)

// seedFor returns the seed of a randomized test: PAYKIT_RELIABILITY_SEED,
// or a new one. Tests log it so that a failure can be replayed.
func seedFor(t testing.TB) uint64 {
	t.Helper()
	if v := os.Getenv("PAYKIT_RELIABILITY_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "PAYKIT_RELIABILITY_SEED")
		return s
	}
	return rand.Uint64()
}

// checkoutKind is what one iteration's customer does.
type checkoutKind int

const (
	qrPaid checkoutKind = iota
	qrDeclined
	qrAbandoned
	cardVisa
	cardDeclined
	cardTimeout // the sandbox's own timeout card: charged, answer lost
	numKinds
)

func (k checkoutKind) String() string {
	return [...]string{"qr-paid", "qr-declined", "qr-abandoned", "card-visa", "card-declined", "card-timeout"}[k]
}

func (k checkoutKind) body(order string, amount int64) map[string]any {
	switch k {
	case cardVisa:
		return cardBody(order, sandbox.CardVisa, amount)
	case cardDeclined:
		return cardBody(order, sandbox.CardDeclined, amount)
	case cardTimeout:
		return cardBody(order, sandbox.CardTimeout, amount)
	case qrPaid, qrDeclined, qrAbandoned, numKinds:
	}
	return qrBody(order, amount)
}

// wantStatus is where a payment of kind k must end, given whether the
// sandbox ever got it (a Start that timed out before arriving charges
// nothing, and such a payment can only expire).
func (k checkoutKind) wantStatus(charged bool) payment.Status {
	if !charged {
		return payment.StatusExpired
	}
	switch k {
	case qrPaid, cardVisa, cardTimeout:
		return payment.StatusSucceeded
	case qrDeclined, cardDeclined:
		return payment.StatusFailed
	case qrAbandoned, numKinds:
	}
	return payment.StatusExpired
}

// crashFigures is what one run injected and what it found.
type crashFigures struct {
	iterations, payments, noPayment                int
	providerBefore, providerAfter                  int
	clientRetries, inProgress, unavailable, gaveUp int
	resends, rounds                                int
	statuses                                       histogram
	kinds                                          map[checkoutKind]int
}

// Crashes and timeouts around the provider call. Each iteration is one
// checkout whose store fails at a random call (a crash point: before or
// after the call, the latter being a commit whose answer was lost), whose
// provider may time out before or after charging, whose client retries
// with its idempotency key after the lock timeout (or gives up), whose
// customer pays, declines or walks away, whose webhooks may be lost
// (random store failures) or resent, and which the sweeper must finish.
// The bar: at most one charge per payment and per order, every payment
// final and consistent with the provider, a gap-free chain of status
// events, and every event notified once (redeliveries aside), in order.
func TestCrashesAroundTheProviderCall(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		iterations := 300
		if b.pg {
			iterations = 100
		}
		if testing.Short() {
			iterations /= 5
		}
		seed := seedFor(t)
		t.Logf("seed %d (PAYKIT_RELIABILITY_SEED replays it)", seed)
		runCrashes(t, b.open(t), iterations, seed)
	})
}

func runCrashes(t *testing.T, base payment.Store, iterations int, seed uint64) {
	ctx := t.Context()
	clock := paymenttest.NewClock(start)
	chaos := newChaos(base, seed)
	var flaky *flakyProvider
	subRng := rand.New(rand.NewPCG(seed, 7))
	var subMu sync.Mutex
	s := newStack(t, stackOptions{
		store: chaos,
		clock: clock,
		wrap: func(sb *sandbox.Provider) payment.Provider {
			flaky = &flakyProvider{Provider: sb}
			return flaky
		},
		subscriberFault: func(payment.Event) error {
			subMu.Lock()
			defer subMu.Unlock()
			if subRng.IntN(20) == 0 {
				return errors.New("host down for a moment")
			}
			return nil
		},
	})
	f := crashFigures{statuses: histogram{}, kinds: map[checkoutKind]int{}}
	var paymentIDs []string
	for i := range iterations {
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		kind := checkoutKind(rng.IntN(int(numKinds)))
		order := fmt.Sprintf("crash-%d", i)
		key := fmt.Sprintf("key-crash-%d-%d", seed, i)
		amount := int64(1000 + rng.IntN(100000))
		f.iterations++
		f.kinds[kind]++

		// The checkout, with one crash point in the store and maybe a
		// provider timeout.
		switch rng.IntN(4) {
		case 2:
			flaky.armStart(faultBefore)
		case 3:
			flaky.armStart(faultAfter)
		default:
			flaky.armStart(faultNone)
		}
		mode := faultBefore
		if rng.IntN(2) == 0 {
			mode = faultAfter
		}
		chaos.arm(rng.IntN(12), mode)
		giveUp := rng.IntN(5) == 0
		var got *payment.Payment
		for attempt := 0; attempt < 10; attempt++ {
			r, err := s.call(ctx, http.MethodPost, "/checkout", kind.body(order, amount), keyHeader(key))
			require.NoError(t, err)
			if attempt > 0 {
				f.clientRetries++
			}
			switch {
			case r.status == http.StatusCreated || r.status == http.StatusOK:
				got = r.payment(t)
			case r.status == http.StatusServiceUnavailable:
				f.unavailable++
			case r.status == http.StatusConflict && r.code() == "IDEMPOTENCY_IN_PROGRESS":
				f.inProgress++
			default:
				require.Failf(t, "unexpected checkout answer", "iteration %d (%s): %d %s", i, kind, r.status, r.body)
			}
			if got != nil {
				break
			}
			if giveUp {
				f.gaveUp++
				break
			}
			// Some clients retry at once (and may meet the first
			// request's lock: 409 in progress); the others later, past
			// the lock.
			if attempt%2 == 1 || rng.IntN(2) == 0 {
				clock.Advance(2 * time.Minute)
			}
		}
		chaos.arm(-1, faultNone)
		if got != nil && got.Status == payment.StatusFailed {
			require.Equal(t, cardDeclined, kind, "iteration %d: only a declined card fails at checkout; an unknown outcome is never failed", i)
		}

		// The customer, with webhooks that may be lost.
		chaos.setRate(0.1)
		ps, err := base.FindPayments(ctx, "sandbox", order)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ps), 1, "iteration %d: one order, one payment", i)
		if len(ps) == 0 {
			f.noPayment++
			chaos.setRate(0)
			continue
		}
		id := ps[0].ID
		if got != nil {
			require.Equal(t, id, got.ID, "iteration %d: the answer is the stored payment", i)
		}
		paymentIDs = append(paymentIDs, id)
		charged := s.sb.ChargesFor(id) == 1
		if charged {
			var act func(context.Context, string) error
			switch kind {
			case qrPaid:
				act = s.sb.Pay
			case qrDeclined:
				act = s.sb.Decline
			case qrAbandoned, cardVisa, cardDeclined, cardTimeout, numKinds:
			}
			if act != nil {
				require.NoError(t, act(ctx, id), "iteration %d", i)
				for range rng.IntN(3) {
					f.resends++
					require.NoError(t, s.sb.Resend(ctx, id))
				}
			}
		}

		// The sweeper and the dispatcher finish the work, through more
		// store failures at first.
		done := false
		for round := 0; round < 80 && !done; round++ {
			if round == 6 {
				chaos.setRate(0)
			}
			clock.Advance(10 * time.Minute)
			f.rounds++
			_, _ = s.svc.Sweep(ctx)
			s.dispatchAll(ctx)
			p, err := base.GetPayment(ctx, id)
			require.NoError(t, err)
			missing, err := s.undelivered(ctx, []string{id})
			require.NoError(t, err)
			done = p.Status.Final() && missing == 0
		}
		chaos.setRate(0)
		require.True(t, done, "iteration %d (%s): payment %s not finished", i, kind, id)

		p := checkPayment(ctx, t, base, s.notes, id)
		f.payments++
		f.statuses[p.Status]++
		charges := s.sb.ChargesFor(id)
		require.LessOrEqual(t, charges, 1, "iteration %d: double charge", i)
		require.Equal(t, charged, charges == 1, "iteration %d: a charge after the customer's turn", i)
		require.Equal(t, kind.wantStatus(charged), p.Status, "iteration %d (%s, charged %v): final status", i, kind, charged)
		requireConsistent(ctx, t, s.sb, p)
	}
	// Every charge at the sandbox belongs to a payment in the store.
	total := 0
	for _, id := range paymentIDs {
		total += s.sb.ChargesFor(id)
	}
	require.Equal(t, s.sb.Charges(), total, "charges for payments the store does not know")
	f.providerBefore, f.providerAfter = flaky.faults()
	before, after := chaos.injectedTotal()
	distinct, repeats := s.notes.totals()
	t.Logf("%d iterations %v: %d payments (%v), %d checkouts that never created one; "+
		"injected: %d store failures before the call and %d after (%s); provider timeouts %d before and %d after charging; "+
		"client: %d retries, %d x 503, %d x 409 in progress, %d gave up; %d webhooks resent; %d sweeper rounds; "+
		"notifications: %d delivered once each, %d redelivered (at least once), %d subscriber failures; "+
		"double charges 0, lost outcomes 0, doubled transitions 0, charges %d",
		f.iterations, f.kinds, f.payments, f.statuses, f.noPayment,
		before, after, chaos.injectedSummary(), f.providerBefore, f.providerAfter,
		f.clientRetries, f.unavailable, f.inProgress, f.gaveUp, f.resends, f.rounds,
		distinct, repeats, s.notes.failed, s.sb.Charges())
}

// requireConsistent checks that the store and the provider agree: the same
// status, or a payment the store gave up on (expired, canceled) that the
// provider never charged or also gave up on.
func requireConsistent(ctx context.Context, t testing.TB, sb *sandbox.Provider, p *payment.Payment) {
	t.Helper()
	st, err := sb.Sync(ctx, p)
	if errors.Is(err, payment.ErrNotFound) {
		require.Contains(t, []payment.Status{payment.StatusExpired, payment.StatusCanceled}, p.Status,
			"payment %s was never charged but is %s", p.ID, p.Status)
		return
	}
	require.NoError(t, err)
	if p.Status == st.Status {
		return
	}
	gaveUp := []payment.Status{payment.StatusExpired, payment.StatusCanceled}
	require.Contains(t, gaveUp, p.Status, "payment %s is %s, the provider says %s", p.ID, p.Status, st.Status)
	require.Contains(t, gaveUp, st.Status, "payment %s is %s, the provider says %s", p.ID, p.Status, st.Status)
}
