package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
)

// 1,000 concurrent deliveries of one event through httpx: all
// acknowledged, exactly one transition, one event, one inbox row and one
// notification.
func TestWebhookStorm(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		chaos := newChaos(b.open(t), 1) // counts calls; injects nothing
		s := newStack(t, stackOptions{store: chaos, noWebhookBase: true})
		p, err := s.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "storm-1", 50000, "THB"))
		require.NoError(t, err)
		require.NoError(t, s.sb.Pay(ctx, p.ID), "the customer pays; without a notify URL nothing is sent")
		wr, err := s.sb.WebhookFor(p.ID, payment.StatusSucceeded)
		require.NoError(t, err)

		const n = 1000
		statuses := make([]int, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		wg.Add(n)
		for i := range n {
			go func() {
				defer wg.Done()
				<-gate
				r, err := s.postWebhook(ctx, "sandbox", wr)
				if err != nil {
					statuses[i] = -1
					return
				}
				statuses[i] = r.status
			}()
		}
		began := time.Now()
		close(gate)
		wg.Wait()
		took := time.Since(began)
		counts := map[int]int{}
		for _, st := range statuses {
			counts[st]++
		}
		require.Equal(t, map[int]int{http.StatusOK: n}, counts, "every delivery acknowledged")

		s.drain(ctx, []string{p.ID})
		got := checkPayment(ctx, t, s.raw, s.notes, p.ID)
		require.Equal(t, payment.StatusSucceeded, got.Status)
		evs, err := s.raw.ListEvents(ctx, p.ID)
		require.NoError(t, err)
		var succeeded, ignored []payment.Event
		for _, e := range evs {
			switch e.Type { //nolint:exhaustive // only these two matter here
			case payment.EventPaymentSucceeded:
				succeeded = append(succeeded, e)
			case payment.EventIgnored:
				ignored = append(ignored, e)
			}
		}
		require.Len(t, succeeded, 1, "one transition, one event")
		require.Empty(t, ignored, "a duplicate is not even an ignored event")
		require.Equal(t, 1, s.notes.count(succeeded[0].ID), "one notification")
		msgs, err := s.raw.ListInbox(ctx, payment.InboxProcessed, 1000)
		require.NoError(t, err)
		rows := 0
		for _, m := range msgs {
			if m.EventKey == "evt_sbx_"+p.ID+"_succeeded" {
				rows++
			}
		}
		require.Equal(t, 1, rows, "one inbox row")
		t.Logf("%d concurrent deliveries of one event in %s: %d x 200, 1 transition, 1 event, 1 inbox row, "+
			"1 notification; %d RecordInbox calls; doubled 0, lost 0", n, took.Round(time.Millisecond), counts[http.StatusOK],
			chaos.count("RecordInbox"))
	})
}

// conflictingOutcome mirrors the state machine's rule: money that moved
// after a failure, or a failure after money moved.
func conflictingOutcome(from, to payment.Status) bool {
	moved := to.Paid() || to == payment.StatusAuthorized
	if from == payment.StatusFailed && moved {
		return true
	}
	return from.Paid() && (to == payment.StatusFailed || to == payment.StatusCanceled || to == payment.StatusExpired)
}

// machine predicts what a sequence of provider events does to a payment.
type machine struct {
	cur                         payment.Status
	transitions, flags, ignored int
	flagged                     bool
	seen                        map[payment.Status]bool
}

func (m *machine) apply(st payment.Status) {
	if m.seen[st] {
		return // the same event again: the inbox drops it
	}
	m.seen[st] = true
	switch {
	case st == m.cur:
	case payment.CanTransition(m.cur, st):
		m.cur = st
		m.transitions++
	case conflictingOutcome(m.cur, st) && !m.flagged:
		m.flagged = true
		m.flags++
	default:
		m.ignored++
	}
}

// Stale and conflicting events in random orders, with duplicates, through
// httpx: sequentially, the payment ends where the state machine says, with
// one event per forward transition, a flag for a conflicting outcome, an
// ignored audit event for each stale one, and one notification per
// notifying event; with only forward statuses the end is always succeeded,
// the furthest. Concurrently, the same invariants hold and the end is
// still succeeded.
func TestStaleAndConflictingWebhooks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		iterations := 150
		if b.pg {
			iterations = 40
		}
		if testing.Short() {
			iterations /= 5
		}
		seed := seedFor(t)
		t.Logf("seed %d", seed)
		ctx := t.Context()
		s := newStack(t, stackOptions{store: b.open(t), noWebhookBase: true})
		forward := []payment.Status{payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing, payment.StatusSucceeded}
		conflicting := append(append([]payment.Status(nil), forward...), payment.StatusFailed, payment.StatusExpired, payment.StatusCanceled)
		var sent, transitions, flags, ignored, concurrent int
		ends := histogram{}
		var ids []string
		for i := range iterations {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			p, err := s.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", fmt.Sprintf("stale-%d", i), 20000, "THB"))
			require.NoError(t, err)
			require.Equal(t, payment.StatusRequiresAction, p.Status)
			ids = append(ids, p.ID)
			set := forward
			if i%2 == 1 {
				set = conflicting
			}
			var seq []payment.Status
			for _, st := range set {
				for range 1 + rng.IntN(2) { // some twice: duplicates
					seq = append(seq, st)
				}
			}
			rng.Shuffle(len(seq), func(a, b int) { seq[a], seq[b] = seq[b], seq[a] })
			reqs := make([]*payment.WebhookRequest, len(seq))
			for k, st := range seq {
				reqs[k], err = s.sb.WebhookFor(p.ID, st)
				require.NoError(t, err)
			}
			sent += len(seq)

			if i%3 == 2 && i%2 == 1 {
				// Concurrently: the order is the network's.
				concurrent++
				var wg sync.WaitGroup
				codes := make([]int, len(reqs))
				wg.Add(len(reqs))
				for k, wr := range reqs {
					go func() {
						defer wg.Done()
						r, err := s.postWebhook(ctx, "sandbox", wr)
						if err == nil {
							codes[k] = r.status
						}
					}()
				}
				wg.Wait()
				for _, c := range codes {
					require.Equal(t, http.StatusOK, c)
				}
				s.drain(ctx, []string{p.ID})
				got := checkPayment(ctx, t, s.raw, s.notes, p.ID)
				ends[got.Status]++
				require.True(t, got.Status.Final(), "ends final: %s", got.Status)
				continue
			}
			if i%3 == 2 {
				concurrent++
				var wg sync.WaitGroup
				wg.Add(len(reqs))
				for _, wr := range reqs {
					go func() {
						defer wg.Done()
						r, err := s.postWebhook(ctx, "sandbox", wr)
						if err == nil && r.status != http.StatusOK {
							t.Errorf("webhook answered %d: %s", r.status, r.body)
						}
					}()
				}
				wg.Wait()
				s.drain(ctx, []string{p.ID})
				got := checkPayment(ctx, t, s.raw, s.notes, p.ID)
				ends[got.Status]++
				require.Equal(t, payment.StatusSucceeded, got.Status, "forward events only: the furthest wins")
				continue
			}

			m := &machine{cur: payment.StatusRequiresAction, seen: map[payment.Status]bool{}}
			for k, wr := range reqs {
				r, err := s.postWebhook(ctx, "sandbox", wr)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, r.status, "%s: %s", seq[k], r.body)
				m.apply(seq[k])
			}
			s.drain(ctx, []string{p.ID})
			got := checkPayment(ctx, t, s.raw, s.notes, p.ID)
			ends[got.Status]++
			require.Equal(t, m.cur, got.Status, "order %v", seq)
			if i%2 == 0 {
				require.Equal(t, payment.StatusSucceeded, got.Status, "forward events only: the furthest wins")
			}
			require.Equal(t, m.flagged, got.HasFlag(payment.FlagConflictingOutcome), "order %v", seq)
			evs, err := s.raw.ListEvents(ctx, p.ID)
			require.NoError(t, err)
			var moves, flagEvs, ignoredEvs int
			for _, e := range evs {
				switch {
				case e.Type == payment.EventIgnored:
					ignoredEvs++
				case e.Type == payment.EventPaymentFlagged:
					flagEvs++
				case isStatusEvent(got, e) && e.Type != payment.EventPaymentCreated && e.Source == payment.SourceWebhook:
					moves++
				}
			}
			require.Equal(t, m.transitions, moves, "one event per forward transition; order %v", seq)
			require.Equal(t, m.flags, flagEvs, "order %v", seq)
			require.Equal(t, m.ignored, ignoredEvs, "stale events are recorded as ignored; order %v", seq)
			transitions += m.transitions
			flags += m.flags
			ignored += m.ignored
		}
		distinct, repeats := s.notes.totals()
		t.Logf("%d payments, %d webhooks (each status once or twice, shuffled; %d payments delivered concurrently): "+
			"%d forward transitions, %d conflicting outcomes flagged, %d stale events ignored; ends %v; "+
			"%d notifications, %d repeated; backward moves 0, flipped outcomes 0",
			iterations, sent, concurrent, transitions, flags, ignored, ends, distinct, repeats)
		require.Zero(t, repeats)
		require.Len(t, ids, iterations)
	})
}

// rawRequest writes a request's head on a new connection to addr and
// returns the connection.
func rawRequest(t testing.TB, addr, head string) net.Conn {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.Write([]byte(head))
	require.NoError(t, err)
	return conn
}

func readStatus(t testing.TB, conn net.Conn) int {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}

// An oversized webhook (1 MiB against the 256 KiB limit) is 413 at once
// when its length is announced, and 413 after at most the limit was read
// when it is chunked; memory stays flat: what a request allocates is
// bounded by the limit, not by the body, and nothing is retained.
func TestOversizedWebhook(t *testing.T) {
	t.Parallel()
	chaos := newChaos(newMemStore(), 1)
	s := newStack(t, stackOptions{store: chaos})
	addr := s.srv.Listener.Addr().String()
	const mib = 1 << 20

	// Announced: answered before a byte of the body is sent.
	began := time.Now()
	conn := rawRequest(t, addr, fmt.Sprintf("POST /pay/webhooks/sandbox HTTP/1.1\r\nHost: paykit.test\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", mib))
	require.Equal(t, http.StatusRequestEntityTooLarge, readStatus(t, conn))
	announced := time.Since(began)
	require.Less(t, announced, 2*time.Second)

	// Chunked: cut off at the limit.
	chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 32<<10, strings.Repeat("a", 32<<10)))
	chunked := func(size int) time.Duration {
		began := time.Now()
		conn := rawRequest(t, addr, "POST /pay/webhooks/sandbox HTTP/1.1\r\nHost: paykit.test\r\n"+
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for sent := 0; sent < size; sent += 32 << 10 {
				if _, err := conn.Write(chunk); err != nil {
					return // the server answered and closed: expected
				}
			}
			_, _ = conn.Write([]byte("0\r\n\r\n"))
		}()
		require.Equal(t, http.StatusRequestEntityTooLarge, readStatus(t, conn))
		took := time.Since(began)
		_ = conn.Close()
		<-done
		return took
	}
	one := chunked(mib)
	require.Less(t, one, 5*time.Second)

	// Memory: what a request allocates does not grow with its body (1 MiB
	// or 16 MiB: the same), and nothing is retained.
	allocPerRequest := func(size int) uint64 {
		const rounds = 10
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range rounds {
			chunked(size)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / rounds
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	small := allocPerRequest(mib)
	large := allocPerRequest(16 * mib)
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	require.Less(t, large, small+small/4+64<<10,
		"a 16 MiB body costs what a 1 MiB one does: the read stops at the limit")
	require.Less(t, large, uint64(16*httpx.DefaultMaxWebhookBodyBytes), "bounded by the limit")
	require.Less(t, retained, int64(4*mib), "nothing is retained")
	require.Zero(t, chaos.writes(), "an oversized webhook writes nothing")
	t.Logf("1 MiB announced: 413 in %s; 1 MiB chunked: 413 in %s; allocated per request (client and server, "+
		"in this process): %d KiB for 1 MiB bodies, %d KiB for 16 MiB bodies (limit %d KiB); heap %+d KiB after 20 of them; "+
		"0 store writes", announced.Round(time.Microsecond), one.Round(time.Microsecond), small>>10, large>>10,
		httpx.DefaultMaxWebhookBodyBytes>>10, retained>>10)
}

// A webhook whose body trickles in one byte at a time is cut off after the
// body read timeout (408), instead of holding the handler for as long as
// the client likes; nothing is written.
func TestTricklingWebhook(t *testing.T) {
	t.Parallel()
	chaos := newChaos(newMemStore(), 1)
	const timeout = 500 * time.Millisecond
	s := newStack(t, stackOptions{store: chaos, httpx: []httpx.Option{httpx.WithBodyReadTimeout(timeout)}})
	addr := s.srv.Listener.Addr().String()
	const size = 60 // a minute at a byte a second
	began := time.Now()
	conn := rawRequest(t, addr, fmt.Sprintf("POST /pay/webhooks/sandbox HTTP/1.1\r\nHost: paykit.test\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", size))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for range size {
			if _, err := conn.Write([]byte{' '}); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	require.Equal(t, http.StatusRequestTimeout, readStatus(t, conn))
	took := time.Since(began)
	require.Less(t, took, 3*time.Second, "cut off near %s, not after %d s", timeout, size)
	require.Zero(t, chaos.writes(), "nothing written")
	t.Logf("a %d-byte body at 1 byte/s: 408 after %s (read timeout %s), 0 store writes; default timeout %s",
		size, took.Round(time.Millisecond), timeout, httpx.DefaultBodyReadTimeout)
}

// signedSandboxEvent signs a sandbox callback body with the sandbox's
// secret, as the sandbox would send it.
func signedSandboxEvent(t testing.TB, now time.Time, ev sandbox.Event) *payment.WebhookRequest {
	t.Helper()
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	return sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
}

// An event whose amount or currency differs from the record never moves
// the payment to succeeded: it is flagged (one notified flag event), and
// the genuine success still applies after. An event for a payment nobody
// knows is acknowledged and kept as an orphan for the operator.
func TestWebhookAmountMismatchAndOrphan(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := newStack(t, stackOptions{store: b.open(t), noWebhookBase: true})
		p, err := s.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "mismatch-1", 10000, "THB"))
		require.NoError(t, err)
		ref := "sbx_ch_" + strings.TrimPrefix(p.ID, payment.PrefixPayment)
		mismatch := func(key string, amount int64, currency string) *payment.WebhookRequest {
			return signedSandboxEvent(t, time.Now(), sandbox.Event{
				ID: key, Type: "payment.succeeded", Created: time.Now().Unix(),
				Data: sandbox.EventData{
					Object: "payment", ID: p.ID, OrderID: p.OrderID, Reference: ref,
					Status: "succeeded", Amount: amount, Currency: currency,
				},
			})
		}
		for _, wr := range []*payment.WebhookRequest{
			mismatch("evt_forged_amount", 1000, "THB"), mismatch("evt_forged_currency", 10000, "USD"),
		} {
			r, err := s.postWebhook(ctx, "sandbox", wr)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		}
		got, err := s.raw.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusRequiresAction, got.Status, "never succeeded on another amount or currency")
		require.True(t, got.HasFlag(payment.FlagAmountMismatch))

		require.NoError(t, s.sb.Pay(ctx, p.ID))
		wr, err := s.sb.WebhookFor(p.ID, payment.StatusSucceeded)
		require.NoError(t, err)
		r, err := s.postWebhook(ctx, "sandbox", wr)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.status)
		s.drain(ctx, []string{p.ID})
		got = checkPayment(ctx, t, s.raw, s.notes, p.ID)
		require.Equal(t, payment.StatusSucceeded, got.Status, "the genuine amount still succeeds")
		require.Equal(t, []payment.EventType{
			payment.EventPaymentCreated, payment.EventPaymentRequiresAction,
			payment.EventPaymentFlagged, payment.EventPaymentSucceeded,
		}, notifiedTypes(s.notes, p.ID))

		// An event for a payment nobody knows: 200, an orphan, nothing else.
		unknown := "pay_01UNKNOWNUNKNOWNUNKNOWN00"
		r, err = s.postWebhook(ctx, "sandbox", signedSandboxEvent(t, time.Now(), sandbox.Event{
			ID: "evt_sbx_unknown", Type: "payment.succeeded", Created: time.Now().Unix(),
			Data: sandbox.EventData{
				Object: "payment", ID: unknown, OrderID: "nobody", Reference: "sbx_ch_nobody",
				Status: "succeeded", Amount: 5000, Currency: "THB",
			},
		}))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.status, "acknowledged, so the provider stops sending it")
		orphans, err := s.svc.ListInbox(ctx, payment.InboxOrphan, 100)
		require.NoError(t, err)
		require.Len(t, orphans, 1)
		require.Equal(t, "evt_sbx_unknown", orphans[0].EventKey)
		_, err = s.raw.GetPayment(ctx, unknown)
		require.ErrorIs(t, err, payment.ErrNotFound, "no payment is made up")
		t.Logf("2 signed successes reporting another amount and another currency: 200, payment stays requires_action, flagged " +
			"amount_mismatch once; the genuine success then applies; an event for an unknown payment: 200, kept as 1 orphan")
	})
}
