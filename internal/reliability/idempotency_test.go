package reliability

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
)

// slowStart is the sandbox with a Start that takes a while, so that
// concurrent retries meet the first request in flight.
type slowStart struct {
	*sandbox.Provider
	delay time.Duration
}

// Start implements payment.Provider.
func (p *slowStart) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	time.Sleep(p.delay)
	return p.Provider.Start(ctx, req)
}

// The idempotency scenarios of reliability.md, through httpx:
// sequential and concurrent retries, a key reused for another request,
// rejections that leave the key free, a crash between the provider's
// answer and the commit, and a provider that times out after charging.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		t.Run("100 sequential retries", func(t *testing.T) {
			ctx := t.Context()
			s := newStack(t, stackOptions{store: b.open(t)})
			body := qrBody("idem-seq", 25000)
			var first *response
			var replays [][]byte
			for i := range 100 {
				r, err := s.call(ctx, http.MethodPost, "/checkout", body, keyHeader("key-idem-seq"))
				require.NoError(t, err)
				if i == 0 {
					require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
					first = r
					continue
				}
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
				replays = append(replays, r.body)
			}
			for _, rb := range replays {
				require.Equal(t, replays[0], rb, "every replay is the same bytes")
				require.JSONEq(t, string(first.body), string(rb), "the replay is the first answer")
			}
			p := first.payment(t)
			require.Equal(t, 1, s.sb.StartCalls(p.ID), "one provider call")
			require.Equal(t, 1, s.sb.ChargesFor(p.ID))
			ps, err := s.raw.FindPayments(ctx, "sandbox", "idem-seq")
			require.NoError(t, err)
			require.Len(t, ps, 1, "one payment")
			t.Logf("100 sequential requests with one key: 1 x 201, 99 x 200 replayed with identical bodies, 1 payment, 1 provider call")

			// The key reused for another request: 422, nothing done.
			for _, other := range []struct {
				name, method, path string
				body               map[string]any
			}{
				{"another amount", http.MethodPost, "/checkout", qrBody("idem-seq", 25001)},
				{"another currency", http.MethodPost, "/checkout", func() map[string]any {
					b := qrBody("idem-seq", 25000)
					b["currency"] = "USD"
					return b
				}()},
				{"another route", http.MethodPost, "/payments/" + p.ID + "/refunds", map[string]any{"amount": 100}},
			} {
				r, err := s.call(ctx, other.method, other.path, other.body, keyHeader("key-idem-seq"))
				require.NoError(t, err)
				require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", other.name, r.body)
				require.Equal(t, "IDEMPOTENCY_MISMATCH", r.code(), other.name)
			}
			require.Equal(t, 1, s.sb.StartCalls(p.ID), "a mismatch calls no provider")
			require.Equal(t, 1, s.sb.Charges())
			rs, err := s.raw.ListRefunds(ctx, p.ID)
			require.NoError(t, err)
			require.Empty(t, rs)
		})

		t.Run("200 concurrent requests with one key", func(t *testing.T) {
			ctx := t.Context()
			var slow *slowStart
			s := newStack(t, stackOptions{store: b.open(t), wrap: func(sb *sandbox.Provider) payment.Provider {
				slow = &slowStart{Provider: sb, delay: 200 * time.Millisecond}
				return slow
			}})
			const n = 200
			codes := make([]int, n)
			ids := make([]string, n)
			var wg sync.WaitGroup
			wg.Add(n)
			gate := make(chan struct{})
			for i := range n {
				go func() {
					defer wg.Done()
					<-gate
					r, err := s.call(ctx, http.MethodPost, "/checkout", qrBody("idem-conc", 30000), keyHeader("key-idem-conc"))
					if err != nil {
						return
					}
					codes[i] = r.status
					if r.status == http.StatusCreated || r.status == http.StatusOK {
						if p, err := r.decodePayment(); err == nil {
							ids[i] = p.ID
						}
					} else if r.code() != "IDEMPOTENCY_IN_PROGRESS" {
						codes[i] = -r.status
					}
				}()
			}
			close(gate)
			wg.Wait()
			counts := map[int]int{}
			var id string
			for i, c := range codes {
				counts[c]++
				if ids[i] != "" {
					if id == "" {
						id = ids[i]
					}
					require.Equal(t, id, ids[i], "every answer is the one payment")
				}
			}
			require.Equal(t, 1, counts[http.StatusCreated], "%v", counts)
			require.Equal(t, n, counts[http.StatusCreated]+counts[http.StatusOK]+counts[http.StatusConflict],
				"the others replay or get 409 IDEMPOTENCY_IN_PROGRESS: %v", counts)
			require.Equal(t, 1, s.sb.StartCalls(id), "exactly one provider call")
			require.Equal(t, 1, s.sb.Charges())
			t.Logf("%d concurrent requests with one key (Start takes 200 ms): %v; 1 provider call, 1 charge", n, counts)
		})

		t.Run("rejections leave the key free", func(t *testing.T) {
			ctx := t.Context()
			chaos := newChaos(b.open(t), 1)
			s := newStack(t, stackOptions{store: chaos})
			acquires := func() int { return chaos.count("AcquireIdempotencyKey") }
			post := func(order string, body map[string]any, h http.Header) *response {
				h = h.Clone()
				if h == nil {
					h = http.Header{}
				}
				h.Set("Idempotency-Key", "key-"+order)
				r, err := s.call(ctx, http.MethodPost, "/checkout", body, h)
				require.NoError(t, err)
				return r
			}
			a := acquires()
			bad := qrBody("idem-bad", 25000)
			bad["amount"] = 1.5
			require.Equal(t, http.StatusBadRequest, post("idem-bad", bad, nil).status, "a malformed amount")
			require.Equal(t, http.StatusUnauthorized, post("idem-auth", qrBody("idem-auth", 25000),
				http.Header{"X-Api-Key": {"sk_wrong"}}).status, "a wrong API key")
			require.Equal(t, a, acquires(), "rejected before the key is touched")
			core := qrBody("idem-core", 25000)
			core["currency"] = "JPY" // a currency the provider lacks: the core says so
			require.Equal(t, http.StatusBadRequest, post("idem-core", core, nil).status)
			for _, order := range []string{"idem-bad", "idem-auth", "idem-core"} {
				r := post(order, qrBody(order, 25000), nil)
				require.Equal(t, http.StatusCreated, r.status, "%s, corrected: %s", order, r.body)
			}

			// A rate-limited request, then the same key from a caller with
			// budget left.
			const second = "sk_test_second_caller_0123456789"
			rl := newStack(t, stackOptions{store: b.open(t), httpx: []httpx.Option{
				httpx.WithAPIKeys(second), httpx.WithRateLimit(httpx.RateLimit{Requests: 1, Per: time.Hour, Burst: 1}),
			}})
			r, err := rl.call(ctx, http.MethodGet, "/providers", nil, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.status)
			r, err = rl.call(ctx, http.MethodPost, "/checkout", qrBody("idem-rl", 25000), keyHeader("key-idem-rl"))
			require.NoError(t, err)
			require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
			r, err = rl.call(ctx, http.MethodPost, "/checkout", qrBody("idem-rl", 25000),
				http.Header{"Idempotency-Key": {"key-idem-rl"}, "X-Api-Key": {second}})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			t.Logf("a malformed body (400), a wrong API key (401), a core validation error (400) and a rate-limited "+
				"request (429) left their keys free: %d corrected retries created their payments", 4)
		})

		t.Run("crash between the provider's answer and the commit", func(t *testing.T) {
			ctx := t.Context()
			chaos := newChaos(b.open(t), 1)
			s := newStack(t, stackOptions{store: chaos, clock: paymenttest.NewClock(start)})
			for _, mode := range []faultMode{faultBefore, faultAfter} {
				order := "idem-crash-" + mode.String()
				key := "key-" + order
				chaos.armOp("UpdatePayment", mode) // the write of the provider's answer
				r, err := s.call(ctx, http.MethodPost, "/checkout", qrBody(order, 25000), keyHeader(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
				ps, err := s.raw.FindPayments(ctx, "sandbox", order)
				require.NoError(t, err)
				require.Len(t, ps, 1)
				id := ps[0].ID
				require.Equal(t, 1, s.sb.ChargesFor(id), "the provider took it")
				r, err = s.call(ctx, http.MethodPost, "/checkout", qrBody(order, 25000), keyHeader(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusConflict, r.status, "the first request's lock: %s", r.body)
				s.clock.Advance(2 * time.Minute)
				r, err = s.call(ctx, http.MethodPost, "/checkout", qrBody(order, 25000), keyHeader(key))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
				p := r.payment(t)
				require.Equal(t, id, p.ID, "the retry resumes the same payment")
				require.Equal(t, payment.StatusRequiresAction, p.Status)
				require.Equal(t, 1, s.sb.ChargesFor(id), "one charge")
				calls := map[faultMode]int{faultBefore: 2, faultAfter: 1}[mode]
				require.Equal(t, calls, s.sb.StartCalls(id), "the same provider key again only when the answer was not recorded")
				s.drain(ctx, []string{id})
				checkPayment(ctx, t, s.raw, s.notes, id)
				t.Logf("store failed %s the write of the provider's answer: 503, then 409 while locked, then the retry "+
					"resumed %s: %d provider calls with one key, 1 charge", mode, id, calls)
			}
		})

		t.Run("provider times out after charging", func(t *testing.T) {
			ctx := t.Context()
			s := newStack(t, stackOptions{store: b.open(t), clock: paymenttest.NewClock(start)})
			var ids []string
			for _, via := range []string{"webhook", "sweeper"} {
				r, err := s.call(ctx, http.MethodPost, "/checkout", cardBody("idem-timeout-"+via, sandbox.CardTimeout, 25000),
					keyHeader("key-idem-timeout-"+via))
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
				p := r.payment(t)
				require.Equal(t, payment.StatusProcessing, p.Status, "unknown is processing, never failed")
				if via == "webhook" {
					require.NoError(t, s.sb.Resend(ctx, p.ID))
				} else {
					s.clock.Advance(2 * time.Minute)
					_, err := s.svc.Sweep(ctx)
					require.NoError(t, err)
				}
				ids = append(ids, p.ID)
			}
			s.drain(ctx, ids)
			for _, id := range ids {
				p := checkPayment(ctx, t, s.raw, s.notes, id)
				require.Equal(t, payment.StatusSucceeded, p.Status)
				require.Equal(t, 1, s.sb.ChargesFor(id))
				require.Equal(t, []payment.EventType{
					payment.EventPaymentCreated, payment.EventPaymentProcessing,
					payment.EventPaymentSucceeded,
				}, notifiedTypes(s.notes, id), "one notification per transition")
			}
		})
	})
}

// notifiedTypes returns the types of the events notified for a payment, in
// order.
func notifiedTypes(n *notes, id string) []payment.EventType {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []payment.EventType
	for _, eid := range n.streams[id] {
		out = append(out, n.events[eid].Type)
	}
	return out
}
