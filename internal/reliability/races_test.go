package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
)

// countingRefunds is the sandbox with its Refund calls counted.
type countingRefunds struct {
	*sandbox.Provider
	calls atomic.Int64
}

// Refund implements payment.Refunder.
func (p *countingRefunds) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	p.calls.Add(1)
	return p.Provider.Refund(ctx, req)
}

// 50 concurrent refunds of 30.00 on a 100.00 payment, through httpx: at
// most 3 succeed, the sum never exceeds 100.00, and the provider is called
// exactly once per successful refund.
func TestConcurrentRefunds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		var counting *countingRefunds
		s := newStack(t, stackOptions{store: b.open(t), wrap: func(sb *sandbox.Provider) payment.Provider {
			counting = &countingRefunds{Provider: sb}
			return counting
		}})
		rounds := 6
		if b.pg {
			rounds = 3
		}
		outcomes := map[int]int{}
		var ids []string
		for round := range rounds {
			r, err := s.call(ctx, http.MethodPost, "/checkout", cardBody(fmt.Sprintf("refunds-%d", round), sandbox.CardVisa, 10000), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			p := r.payment(t)
			require.Equal(t, payment.StatusSucceeded, p.Status)
			ids = append(ids, p.ID)
			before := counting.calls.Load()
			const n = 50
			codes := make([]int, n)
			var wg sync.WaitGroup
			wg.Add(n)
			gate := make(chan struct{})
			for i := range n {
				go func() {
					defer wg.Done()
					<-gate
					var h http.Header
					if i%2 == 0 {
						h = keyHeader(fmt.Sprintf("refund-%d-%d", round, i))
					}
					r, err := s.call(ctx, http.MethodPost, "/payments/"+p.ID+"/refunds", map[string]any{"amount": 3000}, h)
					if err == nil {
						codes[i] = r.status
					}
				}()
			}
			close(gate)
			wg.Wait()
			created := 0
			for _, c := range codes {
				outcomes[c]++
				require.Contains(t, []int{http.StatusCreated, http.StatusUnprocessableEntity, http.StatusConflict}, c)
				if c == http.StatusCreated {
					created++
				}
			}
			require.LessOrEqual(t, created, 3, "at most 3 x 30.00 fit in 100.00")
			require.Equal(t, int64(created), counting.calls.Load()-before, "one provider call per successful refund")
			got := checkPayment(ctx, t, s.raw, nil, p.ID)
			require.Equal(t, int64(created)*3000, got.AmountRefunded)
			require.LessOrEqual(t, got.AmountRefunded, got.AmountCaptured)
		}
		s.drain(ctx, ids)
		for _, id := range ids {
			checkPayment(ctx, t, s.raw, s.notes, id)
		}
		t.Logf("%d rounds of 50 concurrent refunds of 30.00 on 100.00: %v; refunded at most 90.00 each, "+
			"provider refund calls = successful refunds (%d)", rounds, outcomes, counting.calls.Load())
	})
}

// Capture and cancel racing on an authorized payment: exactly one wins,
// every time, through one instance (httpx) and through two Services on one
// store; the loser gets 409 INVALID_STATE (or ErrInvalidState), and the
// store and the provider agree on the winner.
func TestCaptureCancelRace(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := newStack(t, stackOptions{store: b.open(t)})
		other, err := payment.New(s.store, payment.WithProvider(s.sb), payment.WithInstanceID("other"))
		require.NoError(t, err)
		rounds := 40
		if b.pg {
			rounds = 15
		}
		wins := map[payment.Status]int{}
		for round := range rounds {
			body := cardBody(fmt.Sprintf("race-%d", round), sandbox.CardVisa, 10000)
			body["capture_method"] = "manual"
			r, err := s.call(ctx, http.MethodPost, "/checkout", body, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			p := r.payment(t)
			require.Equal(t, payment.StatusAuthorized, p.Status)

			var capErr, cancelErr error
			var capStatus, cancelStatus int
			var wg sync.WaitGroup
			wg.Add(2)
			twoInstances := round%2 == 1
			go func() {
				defer wg.Done()
				if twoInstances {
					_, capErr = s.svc.Capture(ctx, p.ID, 0)
					return
				}
				r, err := s.call(ctx, http.MethodPost, "/payments/"+p.ID+"/capture", nil, nil)
				if capErr = err; err == nil {
					capStatus = r.status
				}
			}()
			go func() {
				defer wg.Done()
				if twoInstances {
					_, cancelErr = other.Cancel(ctx, p.ID)
					return
				}
				r, err := s.call(ctx, http.MethodPost, "/payments/"+p.ID+"/cancel", nil, nil)
				if cancelErr = err; err == nil {
					cancelStatus = r.status
				}
			}()
			wg.Wait()
			captured, canceled := capErr == nil, cancelErr == nil
			if !twoInstances {
				require.NoError(t, capErr)
				require.NoError(t, cancelErr)
				require.Contains(t, []int{http.StatusOK, http.StatusConflict}, capStatus)
				require.Contains(t, []int{http.StatusOK, http.StatusConflict}, cancelStatus)
				captured, canceled = capStatus == http.StatusOK, cancelStatus == http.StatusOK
			} else {
				for _, err := range []error{capErr, cancelErr} {
					if err != nil {
						require.ErrorIs(t, err, payment.ErrInvalidState)
					}
				}
			}
			require.NotEqual(t, captured, canceled, "round %d: exactly one wins", round)
			got, err := s.raw.GetPayment(ctx, p.ID)
			require.NoError(t, err)
			want := payment.StatusCanceled
			if captured {
				want = payment.StatusSucceeded
			}
			require.Equal(t, want, got.Status)
			st, err := s.sb.Sync(ctx, got)
			require.NoError(t, err)
			require.Equal(t, want, st.Status, "the provider agrees")
			wins[want]++
			checkPayment(ctx, t, s.raw, nil, p.ID)
		}
		t.Logf("%d capture/cancel races (half through one instance over httpx, half through two Services): "+
			"wins %v; both won 0, neither won 0, store and provider disagreed 0", rounds, wins)
	})
}

// timeoutRefunds is the sandbox with a Refund that, once armed, refunds and
// then times out: the money went back, the answer was lost.
type timeoutRefunds struct {
	*sandbox.Provider
	armed atomic.Bool
}

// Refund implements payment.Refunder.
func (p *timeoutRefunds) Refund(ctx context.Context, req *payment.RefundRequest) (*payment.RefundState, error) {
	st, err := p.Provider.Refund(ctx, req)
	if err == nil && p.armed.CompareAndSwap(true, false) {
		return nil, &payment.ProviderError{
			Provider: p.Name(), Op: "refund", Code: "timeout", Retryable: true,
			Err: context.DeadlineExceeded,
		}
	}
	return st, err
}

// A refund whose provider call timed out after the provider refunded is
// left pending; nothing lost means the sweeper (or something) must find
// out that it succeeded, as it does for payments. The sandbox sends no
// refund callbacks, so only a sync can tell.
func TestPendingRefundIsReconciled(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		var prov *timeoutRefunds
		s := newStack(t, stackOptions{
			store: b.open(t), clock: paymenttest.NewClock(start),
			wrap: func(sb *sandbox.Provider) payment.Provider {
				prov = &timeoutRefunds{Provider: sb}
				return prov
			},
		})
		r, err := s.call(ctx, http.MethodPost, "/checkout", cardBody("pending-refund", sandbox.CardVisa, 10000), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		p := r.payment(t)
		prov.armed.Store(true)
		r, err = s.call(ctx, http.MethodPost, "/payments/"+p.ID+"/refunds", map[string]any{"amount": 4000}, keyHeader("key-pending-refund"))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var re payment.Refund
		require.NoError(t, json.Unmarshal(r.body, &re))
		require.Equal(t, payment.RefundPending, re.Status, "the outcome is unknown: pending")

		for range 50 { // two days of sweeps
			s.clock.Advance(time.Hour)
			_, err := s.svc.Sweep(ctx)
			require.NoError(t, err)
		}
		got, err := s.raw.GetRefund(ctx, re.ID)
		require.NoError(t, err)
		require.Equal(t, payment.RefundSucceeded, got.Status, "the provider refunded it two days ago")
		gp := checkPayment(ctx, t, s.raw, nil, p.ID)
		require.Equal(t, payment.StatusPartiallyRefunded, gp.Status)
		require.Equal(t, int64(4000), gp.AmountRefunded)
	})
}

// paysDuringCancel is the sandbox whose customer pays just before the
// sweeper's cancel of an abandoned payment arrives (the cancel then fails:
// the payment succeeded), and whose success callback is lost.
type paysDuringCancel struct {
	*sandbox.Provider
	paid atomic.Bool
}

// Cancel implements payment.Canceler.
func (p *paysDuringCancel) Cancel(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	if p.paid.CompareAndSwap(false, true) {
		if err := p.Pay(ctx, pay.ID); err != nil {
			return nil, err
		}
	}
	return p.Provider.Cancel(ctx, pay)
}

// The sweeper expires an abandoned payment after the provider said it was
// not paid, and cancels it there; when that cancel fails because the
// customer paid in between (and the callback is lost), the payment must
// not end expired while the money moved: nothing looks at an expired
// payment again.
func TestAbandonedPaymentPaidDuringCancel(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		var prov *paysDuringCancel
		// The Service's clock moves; the sandbox keeps real time, so it
		// still waits for the customer when the Service gives up.
		s := newStack(t, stackOptions{
			store: b.open(t), noWebhookBase: true, sandbox: []sandbox.Option{sandbox.WithQRTTL(time.Hour)},
			wrap: func(sb *sandbox.Provider) payment.Provider {
				prov = &paysDuringCancel{Provider: sb}
				return prov
			},
		})
		clock := paymenttest.NewClock(time.Now())
		svc, err := payment.New(s.store, payment.WithProvider(prov), payment.WithClock(clock))
		require.NoError(t, err)
		p, err := svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "abandoned-paid", 10000, "THB"))
		require.NoError(t, err)
		require.Equal(t, payment.StatusRequiresAction, p.Status)
		for range 30 {
			clock.Advance(time.Hour)
			_, err := svc.Sweep(ctx)
			require.NoError(t, err)
		}
		st, err := s.sb.Sync(ctx, p)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, st.Status, "the customer paid")
		got, err := s.raw.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, got.Status, "the money moved; paykit must not say expired")
	})
}
