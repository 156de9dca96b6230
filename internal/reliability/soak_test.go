package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

// soakSize returns the number of workers and of operations per worker:
// PAYKIT_SOAK_WORKERS and PAYKIT_SOAK_OPS when set, else the defaults,
// divided by 5 under -short.
func soakSize(t testing.TB, workers, ops int) (int, int) {
	t.Helper()
	if v := os.Getenv("PAYKIT_SOAK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "PAYKIT_SOAK_WORKERS")
		workers = n
	}
	if v := os.Getenv("PAYKIT_SOAK_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "PAYKIT_SOAK_OPS")
		ops = n
	}
	if testing.Short() {
		ops = max(1, ops/5)
	}
	return workers, ops
}

// registry holds the payments the soak created, for every worker to act
// on (concurrent refunds, payments and cancels of one payment).
type registry struct {
	mu  sync.Mutex
	ids []string
}

func (r *registry) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
}

func (r *registry) pick(rng *rand.Rand) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) == 0 {
		return ""
	}
	// Mostly recent payments, so that operations meet.
	n := len(r.ids)
	return r.ids[n-1-rng.IntN(min(n, 64))]
}

func (r *registry) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// soakOp is one kind of operation, with its weight and the answers it may
// get: anything else fails the soak.
type soakOp struct {
	name   string
	weight int
	ok     []int
}

var soakOps = []soakOp{
	{"checkout qr with key", 16, []int{http.StatusCreated, http.StatusOK}},
	{"checkout qr, no key", 4, []int{http.StatusCreated}},
	{"checkout card", 8, []int{http.StatusCreated, http.StatusOK}},
	{"pay", 14, nil},
	{"decline", 4, nil},
	{"duplicate webhook", 8, []int{http.StatusOK}},
	{"stale webhook", 4, []int{http.StatusOK}},
	{"refund partial", 10, []int{http.StatusCreated, http.StatusOK, http.StatusConflict, http.StatusUnprocessableEntity}},
	{"refund full", 4, []int{http.StatusCreated, http.StatusOK, http.StatusConflict, http.StatusUnprocessableEntity}},
	{"get", 10, []int{http.StatusOK}},
	{"sync", 6, []int{http.StatusOK}},
	{"cancel", 6, []int{http.StatusOK, http.StatusConflict}},
	{"events", 6, []int{http.StatusOK}},
}

// A soak through httpx: many goroutines of mixed operations (checkouts with
// and without keys and with retries, the customer paying and declining,
// duplicate and stale webhooks, partial and full refunds racing each
// other, reads, syncs, cancels) while the sweeper and the dispatcher run;
// then invariants over every payment: no exit from a terminal status (the
// event chain), refunds never above the captured amount and equal to what
// the sandbox refunded, one notification per event, at most one charge.
// -race reports any data race.
func TestSoak(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		workers, ops := soakSize(t, 100, 250)
		if b.pg {
			workers, ops = soakSize(t, 20, 60)
		}
		seed := seedFor(t)
		t.Logf("seed %d, %d workers x %d operations", seed, workers, ops)
		runSoak(t, b.open(t), workers, ops, seed)
	})
}

func runSoak(t *testing.T, store payment.Store, workers, ops int, seed uint64) {
	ctx := t.Context()
	s := newStack(t, stackOptions{
		store: store,
		payment: []payment.Option{
			payment.WithSweepInterval(50 * time.Millisecond),
			payment.WithDispatchInterval(20 * time.Millisecond),
			payment.WithSyncAfter(100 * time.Millisecond),
		},
	})
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = s.svc.Run(runCtx)
	}()
	t.Cleanup(func() { stopRun(); <-runDone })

	total := 0
	for _, op := range soakOps {
		total += op.weight
	}
	var (
		reg       registry
		counts    statusCounts
		done      atomic.Int64
		replays   atomic.Int64
		refunded  atomic.Int64
		failures  = make(chan string, 100)
		wg        sync.WaitGroup
		refundKey atomic.Int64
	)
	fail := func(format string, args ...any) {
		select {
		case failures <- fmt.Sprintf(format, args...):
		default:
		}
	}
	check := func(op soakOp, r *response, err error) bool {
		if err != nil {
			fail("%s: %v", op.name, err)
			return false
		}
		counts.add(op.name, r.status)
		for _, st := range op.ok {
			if r.status == st {
				return true
			}
		}
		fail("%s: unexpected %d %s", op.name, r.status, r.body)
		return false
	}
	began := time.Now()
	wg.Add(workers)
	for w := range workers {
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := range ops {
				if ctx.Err() != nil {
					return
				}
				k := rng.IntN(total)
				var op soakOp
				for _, o := range soakOps {
					if k < o.weight {
						op = o
						break
					}
					k -= o.weight
				}
				done.Add(1)
				order := fmt.Sprintf("soak-%d-%d", w, i)
				switch op.name {
				case "checkout qr with key", "checkout card":
					body := qrBody(order, int64(1000+rng.IntN(99000)))
					if op.name == "checkout card" {
						body = cardBody(order, []string{
							sandbox.CardVisa, sandbox.CardMastercard, sandbox.CardDeclined,
							sandbox.CardTimeout,
						}[rng.IntN(4)], int64(1000+rng.IntN(99000)))
					}
					key := "key-" + order
					r, err := s.call(ctx, http.MethodPost, "/checkout", body, keyHeader(key))
					if !check(op, r, err) || r.status != http.StatusCreated {
						continue
					}
					p, err := r.decodePayment()
					if err != nil {
						fail("%s: %v", op.name, err)
						continue
					}
					reg.add(p.ID)
					if rng.IntN(3) == 0 { // the client retries: the same payment
						r2, err := s.call(ctx, http.MethodPost, "/checkout", body, keyHeader(key))
						if check(op, r2, err) && r2.status == http.StatusOK {
							replays.Add(1)
							if got, err := r2.decodePayment(); err != nil || got.ID != p.ID {
								fail("replay of %s answered %s", p.ID, r2.body)
							}
						}
					}
				case "checkout qr, no key":
					r, err := s.call(ctx, http.MethodPost, "/checkout", qrBody(order, int64(1000+rng.IntN(99000))), nil)
					if check(op, r, err) {
						if p, err := r.decodePayment(); err == nil {
							reg.add(p.ID)
						}
					}
				case "pay", "decline":
					id := reg.pick(rng)
					if id == "" {
						continue
					}
					act := s.sb.Pay
					if op.name == "decline" {
						act = s.sb.Decline
					}
					err := act(ctx, id)
					counts.add(op.name, map[bool]int{true: 0, false: 1}[err == nil])
				case "duplicate webhook":
					id := reg.pick(rng)
					if id == "" {
						continue
					}
					_ = s.sb.Resend(ctx, id) // the callback of the current status, again
					counts.add(op.name, http.StatusOK)
				case "stale webhook":
					id := reg.pick(rng)
					if id == "" {
						continue
					}
					stale := []payment.Status{payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing}[rng.IntN(3)]
					wr, err := s.sb.WebhookFor(id, stale)
					if err != nil {
						continue // never started at the sandbox
					}
					r, err := s.postWebhook(ctx, "sandbox", wr)
					check(op, r, err)
				case "refund partial", "refund full":
					id := reg.pick(rng)
					if id == "" {
						continue
					}
					var body any
					if op.name == "refund partial" {
						body = map[string]any{"amount": 100 + rng.IntN(20000), "reason": "soak"}
					}
					var hdr http.Header
					if rng.IntN(2) == 0 {
						hdr = keyHeader(fmt.Sprintf("refund-%d", refundKey.Add(1)))
					}
					r, err := s.call(ctx, http.MethodPost, "/payments/"+id+"/refunds", body, hdr)
					if check(op, r, err) && r.status == http.StatusCreated {
						refunded.Add(1)
					}
				case "get", "sync", "events", "cancel":
					id := reg.pick(rng)
					if id == "" {
						continue
					}
					method, path := http.MethodGet, "/payments/"+id
					switch op.name {
					case "sync":
						path += "?sync=true"
					case "events":
						path += "/events"
					case "cancel":
						method, path = http.MethodPost, path+"/cancel"
					}
					r, err := s.call(ctx, method, path, nil, nil)
					check(op, r, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)
	close(failures)
	for f := range failures {
		require.Fail(t, "soak", f)
	}

	// The dispatcher delivers what is left; then everything stops and every
	// payment is checked. (Stopping Run first would leave the messages it
	// was delivering leased for a minute.) Until it stops, events still
	// come: the sweeper's syncs, and the sandbox's callbacks that failed
	// once and are retried in the background. So the sandbox's retries
	// stop, then Run, and what they wrote meanwhile is delivered by hand.
	ids := reg.all()
	delivered := func() bool {
		missing, err := s.undelivered(ctx, ids)
		return err == nil && missing == 0
	}
	waitFor(t, "the dispatcher delivers every notification", delivered)
	require.NoError(t, s.sb.Close())
	stopRun()
	<-runDone
	waitFor(t, "the notifications of events written as Run stopped are delivered", func() bool {
		_, err := s.svc.Dispatch(ctx)
		return err == nil && delivered()
	})
	actions := s.sb.ActionsHandler()
	statuses := histogram{}
	var refundSum, capturedSum int64
	for _, id := range ids {
		p := checkPayment(ctx, t, s.raw, s.notes, id)
		statuses[p.Status]++
		require.LessOrEqual(t, s.sb.ChargesFor(id), 1, "payment %s charged twice", id)
		refundSum += p.AmountRefunded
		capturedSum += p.AmountCaptured
		rec := httptest.NewRecorder()
		actions.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/payments/"+id, nil))
		if rec.Code == http.StatusOK {
			var v sandbox.ChargeView
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
			require.Equal(t, v.AmountRefunded, p.AmountRefunded+p.AmountRefundPending,
				"payment %s: refunded at the sandbox vs in the store", id)
		}
	}
	distinct, repeats := s.notes.totals()
	t.Logf("%d operations in %s (%.0f/s) by %d workers: %v; %d replays answered with the same payment; "+
		"%d payments (%v), %d refunds created, %d of %d captured refunded; %d notifications (%d redelivered); "+
		"broken invariants 0 (no exit from a terminal status, refunds <= captured and equal to the sandbox's, "+
		"one notification per event, at most one charge per payment)",
		done.Load(), took.Round(time.Millisecond), float64(done.Load())/took.Seconds(), workers, &counts, replays.Load(),
		len(ids), statuses, refunded.Load(), refundSum, capturedSum, distinct, repeats)
}
