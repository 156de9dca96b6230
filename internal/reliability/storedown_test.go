package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykit/paykit/internal/pgtest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/store/bunstore"
)

// statusCounts counts HTTP answers, safely from many goroutines.
type statusCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *statusCounts) add(what string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[fmt.Sprintf("%s %d", what, status)]++
}

func (c *statusCounts) get(what string, status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[fmt.Sprintf("%s %d", what, status)]
}

func (c *statusCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, c.m[k])
	}
	return strings.Join(parts, ", ")
}

// settleCheckout retries a checkout with its key until it is answered with
// the payment, waiting out the first request's lock as a client would, and
// returns the payment.
func settleCheckout(ctx context.Context, t testing.TB, s *stack, body map[string]any, key string) *payment.Payment {
	t.Helper()
	for range 20 {
		r, err := s.call(ctx, http.MethodPost, "/checkout", body, keyHeader(key))
		require.NoError(t, err)
		switch r.status {
		case http.StatusCreated, http.StatusOK:
			return r.payment(t)
		case http.StatusServiceUnavailable:
		case http.StatusConflict:
			require.Equal(t, "IDEMPOTENCY_IN_PROGRESS", r.code(), "%s", r.body)
			s.clock.Advance(2 * time.Minute)
		default:
			require.Failf(t, "checkout", "%d %s", r.status, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.FailNow(t, "checkout never settled", "key %s", key)
	return nil
}

// settleWebhook delivers a payment's success callback until it is
// acknowledged.
func settleWebhook(ctx context.Context, t testing.TB, s *stack, id string) {
	t.Helper()
	for range 20 {
		wr, err := s.sb.WebhookFor(id, payment.StatusSucceeded)
		require.NoError(t, err)
		r, err := s.postWebhook(ctx, "sandbox", wr)
		require.NoError(t, err)
		if r.status == http.StatusOK {
			return
		}
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
		time.Sleep(5 * time.Millisecond)
	}
	require.FailNow(t, "webhook never acknowledged", "payment %s", id)
}

// requireSucceededOnce checks that a paid payment went through: its
// invariants hold, it succeeded with exactly one success event, and the
// sandbox charged it once.
func requireSucceededOnce(ctx context.Context, t testing.TB, s *stack, id string) {
	t.Helper()
	p := checkPayment(ctx, t, s.raw, s.notes, id)
	require.Equal(t, payment.StatusSucceeded, p.Status, "payment %s", id)
	evs, err := s.raw.ListEvents(ctx, id)
	require.NoError(t, err)
	n := 0
	for _, e := range evs {
		if e.Type == payment.EventPaymentSucceeded {
			n++
		}
	}
	require.Equal(t, 1, n, "payment %s succeeded once", id)
	require.Equal(t, 1, s.sb.ChargesFor(id), "payment %s charged once", id)
}

func countRows(ctx context.Context, t testing.TB, db bun.IDB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n))
	return n
}

// The store going away, on PostgreSQL: the store's connections are
// terminated (pg_terminate_backend) again and again during a stream of
// checkouts and webhooks through httpx, and the database is unreachable
// (a TCP proxy taken down) then back. While it is away requests get 503
// (never a 500) and nothing is half written; once it is back every
// retried checkout and every redelivered webhook is applied exactly once,
// and every event is notified once.
func TestStoreGoesAway(t *testing.T) {
	requirePG(t)
	t.Parallel()

	t.Run("pg_terminate_backend", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		dbURL := freshPG(t)
		store := openPGStore(t, dbURL, 8, bunstore.WithRetryBackoff(time.Millisecond))
		s := newStack(t, stackOptions{store: store, clock: paymenttest.NewClock(time.Now()), noWebhookBase: true})
		admin := adminDB(t)

		var kills, killed atomic.Int64
		stopKiller := make(chan struct{})
		killerDone := make(chan struct{})
		go func() {
			defer close(killerDone)
			for {
				select {
				case <-stopKiller:
					return
				case <-time.After(15 * time.Millisecond):
				}
				n, err := terminateBackends(context.Background(), admin, store.app)
				if err == nil {
					kills.Add(1)
					killed.Add(int64(n))
				}
			}
		}()

		const workers, each = 8, 20
		var answers statusCounts
		type work struct {
			key, order string
			id         string
			paid       bool
		}
		works := make([][]*work, workers)
		var wg sync.WaitGroup
		wg.Add(workers)
		for w := range workers {
			go func() {
				defer wg.Done()
				for i := range each {
					order := fmt.Sprintf("kill-%d-%d", w, i)
					wk := &work{key: "key-" + order, order: order}
					works[w] = append(works[w], wk)
					r, err := s.call(ctx, http.MethodPost, "/checkout", qrBody(order, 10000), keyHeader(wk.key))
					if err != nil {
						answers.add("checkout error", 0)
						continue
					}
					answers.add("checkout", r.status)
					if r.status != http.StatusCreated {
						continue
					}
					p, err := r.decodePayment()
					if err != nil {
						answers.add("checkout undecodable", r.status)
						continue
					}
					wk.id = p.ID
					if s.sb.Pay(ctx, p.ID) != nil {
						continue
					}
					wr, err := s.sb.WebhookFor(p.ID, payment.StatusSucceeded)
					if err != nil {
						continue
					}
					r, err = s.postWebhook(ctx, "sandbox", wr)
					if err != nil {
						answers.add("webhook error", 0)
						continue
					}
					answers.add("webhook", r.status)
					wk.paid = r.status == http.StatusOK
				}
			}()
		}
		wg.Wait()
		close(stopKiller)
		<-killerDone

		// Only 201, 200 (webhooks), 503 and 409 (a retry meeting its own
		// lock); never a 500.
		answers.mu.Lock()
		for k := range answers.m {
			require.Regexp(t, `^(checkout (201|503)|webhook (200|503))$`, k, "answers: %v", answers.m)
		}
		answers.mu.Unlock()

		// Back to normal: the clients retry and the provider redelivers.
		var retried, redelivered int
		var ids []string
		for _, ws := range works {
			for _, wk := range ws {
				if wk.id == "" {
					retried++
					p := settleCheckout(ctx, t, s, qrBody(wk.order, 10000), wk.key)
					wk.id = p.ID
					if p.Status == payment.StatusRequiresAction || p.Status == payment.StatusPending {
						if err := s.sb.Pay(ctx, p.ID); err != nil {
							require.ErrorIs(t, err, payment.ErrInvalidState)
						}
					}
				}
				if !wk.paid {
					redelivered++
					if s.sb.ChargesFor(wk.id) == 0 {
						// A retried checkout whose Start was cut off:
						// the client's retry starts it.
						p := settleCheckout(ctx, t, s, qrBody(wk.order, 10000), wk.key)
						require.Equal(t, wk.id, p.ID)
					}
					if err := s.sb.Pay(ctx, wk.id); err != nil {
						require.ErrorIs(t, err, payment.ErrInvalidState)
					}
					settleWebhook(ctx, t, s, wk.id)
				}
				ids = append(ids, wk.id)
			}
		}
		s.drain(ctx, ids)
		for _, id := range ids {
			requireSucceededOnce(ctx, t, s, id)
		}
		for _, ws := range works {
			for _, wk := range ws {
				ps, err := s.raw.FindPayments(ctx, "sandbox", wk.order)
				require.NoError(t, err)
				require.Len(t, ps, 1, "order %s: one payment", wk.order)
			}
		}
		require.Positive(t, killed.Load(), "connections were killed")
		t.Logf("%d checkouts and their webhooks from %d workers while the store's backends were terminated every 15 ms "+
			"(%d rounds, %d backends killed): %v; then %d checkouts retried with their keys and %d webhooks redelivered: "+
			"%d payments, each succeeded once, charged once, notified once per event; 500s 0, lost 0, doubled 0",
			workers*each, workers, kills.Load(), killed.Load(), &answers, retried, redelivered, len(ids))
	})

	t.Run("unreachable then back", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		dbURL := freshPG(t)
		px, proxied := pgtest.Proxied(t, dbURL)
		store := openPGStore(t, proxied, 8, bunstore.WithRetryBackoff(time.Millisecond))
		direct := openPGStore(t, dbURL, 2)
		s := newStack(t, stackOptions{store: store, clock: paymenttest.NewClock(time.Now()), noWebhookBase: true})

		const n = 20
		ids := make([]string, n)
		for i := range n {
			p := settleCheckout(ctx, t, s, qrBody(fmt.Sprintf("away-%d", i), 10000), fmt.Sprintf("key-away-%d", i))
			require.Equal(t, payment.StatusRequiresAction, p.Status)
			ids[i] = p.ID
			require.NoError(t, s.sb.Pay(ctx, p.ID))
		}
		tables := []string{"paykit_payments", "paykit_events", "paykit_outbox", "paykit_inbox", "paykit_idempotency_keys"}
		rows := map[string]int{}
		for _, tb := range tables {
			rows[tb] = countRows(ctx, t, direct.db, tb)
		}

		px.Down()
		var answers statusCounts
		began := time.Now()
		for i, id := range ids {
			wr, err := s.sb.WebhookFor(id, payment.StatusSucceeded)
			require.NoError(t, err)
			r, err := s.postWebhook(ctx, "sandbox", wr)
			require.NoError(t, err)
			answers.add("webhook", r.status)
			r, err = s.call(ctx, http.MethodPost, "/checkout", qrBody(fmt.Sprintf("away-new-%d", i), 10000),
				keyHeader(fmt.Sprintf("key-away-new-%d", i)))
			require.NoError(t, err)
			answers.add("checkout", r.status)
			r, err = s.call(ctx, http.MethodGet, "/payments/"+id, nil, nil)
			require.NoError(t, err)
			answers.add("get", r.status)
		}
		down := time.Since(began)
		require.Equal(t, n, answers.get("webhook", http.StatusServiceUnavailable), "%v", &answers)
		require.Equal(t, n, answers.get("checkout", http.StatusServiceUnavailable), "%v", &answers)
		require.Equal(t, n, answers.get("get", http.StatusServiceUnavailable), "%v", &answers)
		for _, tb := range tables {
			require.Equal(t, rows[tb], countRows(ctx, t, direct.db, tb), "%s: nothing written while the database is away", tb)
		}

		px.Up(t)
		for i, id := range ids {
			settleWebhook(ctx, t, s, id)
			p := settleCheckout(ctx, t, s, qrBody(fmt.Sprintf("away-new-%d", i), 10000), fmt.Sprintf("key-away-new-%d", i))
			require.Equal(t, payment.StatusRequiresAction, p.Status)
			// The provider redelivers once more: a duplicate.
			settleWebhook(ctx, t, s, id)
			ids = append(ids, p.ID)
		}
		s.drain(ctx, ids)
		for _, id := range ids[:n] {
			requireSucceededOnce(ctx, t, s, id)
		}
		for _, id := range ids[n:] {
			p := checkPayment(ctx, t, s.raw, s.notes, id)
			require.Equal(t, payment.StatusRequiresAction, p.Status)
			require.Equal(t, 1, s.sb.ChargesFor(id))
		}
		t.Logf("database away (TCP proxy down): %v in %s, 0 rows written in %d tables; back: %d webhooks redelivered "+
			"(twice each) applied once each, %d checkouts retried with their keys created once each; lost 0, doubled 0",
			&answers, down.Round(time.Millisecond), len(tables), n, n)
	})
}
