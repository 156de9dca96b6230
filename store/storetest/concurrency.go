package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func concurrencyTests() []test {
	return []test{
		{name: "of 50 concurrent UpdatePayment at one Version exactly one wins, the others get ErrConflict", run: testConcurrentCAS},
		{name: "50 concurrent refunds of 30.00 on 100.00 never exceed the captured amount", run: testConcurrentRefunds},
		{name: "of 100 concurrent RecordInbox of one key exactly one inserts", run: testConcurrentInbox},
		{name: "of 50 concurrent AcquireIdempotencyKey of one new key exactly one acquires", run: testConcurrentIdempotency},
		{name: "20 concurrent outbox claimers never hold one message at once and deliver each once, in stream order", serial: true, run: testConcurrentOutbox},
		{name: "10 concurrent claimers acknowledging in batches never hold one message at once and deliver each once, in order per destination and stream", serial: true, run: testConcurrentDestinations},
		{name: "concurrent ClaimDuePayments and ClaimDuePayouts never hand one object to two claimers", serial: true, run: testConcurrentClaimDue},
	}
}

// together runs f(i) for i in [0, n) on n goroutines released at once, and
// waits for them.
func together(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testConcurrentCAS(t *testing.T, s payment.Store) {
	const c = "UpdatePayment is a compare-and-set: of concurrent writers at one Version exactly one wins, the others get ErrConflict"
	const n = 50
	p := newPayment(newProvider(), newOrderID(), now())
	mustCreatePayment(t, s, p)
	evs := make([]payment.Event, n)
	errs := make([]error, n)
	writes := make([]*payment.Payment, n)
	for i := range n {
		w := p.Clone()
		w.Description = fmt.Sprintf("writer %d", i)
		w.Status = payment.StatusProcessing
		writes[i] = w
		evs[i] = paymentEvent(p, now())
	}
	together(n, func(i int) {
		errs[i] = s.UpdatePayment(t.Context(), writes[i], []payment.Event{evs[i]})
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equalf(t, -1, winner, "%s: writers %d and %d both won", c, winner, i)
			winner = i
			continue
		}
		requireErrorIs(t, err, payment.ErrConflict, c)
	}
	require.NotEqual(t, -1, winner, c+": one writer wins")
	got := mustGetPayment(t, s, p.ID)
	require.Equal(t, int64(2), got.Version, c+": the Version moved once")
	requirePaymentEqual(t, writes[winner], got, c+": the winner's payment is stored")
	requireEvents(t, []payment.Event{evs[winner]}, mustListEvents(t, s, p.ID), c+": only the winner's event is appended")
}

func testConcurrentRefunds(t *testing.T, s payment.Store) {
	const c = "CreateRefund is atomic with the payment's compare-and-set: concurrent refunds never exceed AmountCaptured"
	const n, amount, captured = 50, 3000, 10000
	p := refundable(t, s, captured)
	var won atomic.Int64
	errs := make([]error, n)
	together(n, func(i int) {
		for range 10000 {
			cur, err := s.GetPayment(t.Context(), p.ID)
			if err != nil {
				errs[i] = err
				return
			}
			if cur.Refundable() < amount {
				return
			}
			runtime.Gosched() // let other refunders read the same Version
			r := newRefund(cur, amount, now())
			cur.AmountRefundPending += amount
			cur.Status = payment.StatusPartiallyRefunded
			ev := newEvent(payment.EventRefundCreated, r.ID, cur.ID, now())
			err = s.CreateRefund(t.Context(), r, cur, []payment.Event{ev})
			if err == nil {
				won.Add(1)
				return
			}
			if !errors.Is(err, payment.ErrConflict) {
				errs[i] = err
				return
			}
		}
		errs[i] = errors.New("no progress after 10000 attempts")
	})
	for _, err := range errs {
		require.NoError(t, err, c+": a refund either succeeds or loses with ErrConflict")
	}
	got := mustGetPayment(t, s, p.ID)
	require.LessOrEqual(t, got.AmountRefunded+got.AmountRefundPending, got.AmountCaptured, c+": AmountRefunded+AmountRefundPending never exceeds AmountCaptured")
	refunds, err := s.ListRefunds(t.Context(), p.ID)
	require.NoError(t, err, c)
	require.Len(t, refunds, captured/amount, c+": exactly 3 refunds of 30.00 fit in 100.00, no more")
	require.Equal(t, int64(captured/amount), won.Load(), c+": every stored refund was reported created, and no other")
	var sum int64
	for _, r := range refunds {
		sum += r.Amount
	}
	require.Equal(t, got.AmountRefundPending, sum, c+": the payment's pending amount is the sum of its refunds")
	require.Equal(t, int64(1+captured/amount), got.Version, c+": one Version per refund")
}

func testConcurrentInbox(t *testing.T, s payment.Store) {
	const c = "RecordInbox stores a provider event once per (Provider, EventKey), under concurrency"
	const n = 100
	base := newInbox(newProvider(), now())
	stored := make([]*payment.InboxMessage, n)
	inserted := make([]bool, n)
	errs := make([]error, n)
	together(n, func(i int) {
		m := *base
		m.Payload = fmt.Appendf(nil, `{"delivery":%d}`, i)
		stored[i], inserted[i], errs[i] = s.RecordInbox(t.Context(), &m)
	})
	winner := -1
	for i := range n {
		require.NoError(t, errs[i], c)
		if inserted[i] {
			require.Equalf(t, -1, winner, "%s: deliveries %d and %d were both inserted", c, winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, c+": one delivery is inserted")
	want := fmt.Appendf(nil, `{"delivery":%d}`, winner)
	for i := range n {
		require.Equal(t, want, stored[i].Payload, c+": every delivery gets the inserted message back")
	}
}

func testConcurrentIdempotency(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey claims a key atomically: of concurrent requests exactly one acquires"
	const n = 50
	at := now()
	first := newIdem(at)
	stored := make([]*payment.IdempotencyRecord, n)
	acquired := make([]bool, n)
	errs := make([]error, n)
	together(n, func(i int) {
		rec := otherRequest(first, at)
		stored[i], acquired[i], errs[i] = s.AcquireIdempotencyKey(t.Context(), rec, at)
	})
	winner := -1
	for i := range n {
		require.NoError(t, errs[i], c)
		if acquired[i] {
			require.Equalf(t, -1, winner, "%s: requests %d and %d both acquired", c, winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, c+": one request acquires")
	for i := range n {
		require.Equal(t, stored[winner].ResourceID, stored[i].ResourceID, c+": every request sees the winner's record")
	}
}

func testConcurrentOutbox(t *testing.T, s payment.Store) {
	const c = "ClaimOutbox: two claimers never hold the same message at once; each stream is delivered in order"
	const claimers, streams, perStream = 20, 25, 4
	base := pastWindow()
	drainOutbox(t, s, base)
	want := map[string][]string{}
	total := 0
	for i := range streams {
		at := make([]time.Time, perStream)
		for j := range at {
			at[j] = base.Add(time.Duration(j*streams+i) * time.Microsecond)
		}
		evs := enqueue(t, s, at...)
		want[evs[0].Stream()] = messageIDs(evs...)
		total += perStream
	}
	claimAt := base.Add(time.Hour)

	var (
		mu         sync.Mutex
		holder     = map[string]string{}
		deliveries = map[string]int{}
		order      = map[string][]string{}
		problems   []string
		done       atomic.Int64
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	together(claimers, func(i int) {
		owner := fmt.Sprintf("claimer-%d", i)
		for range 200000 {
			if done.Load() >= int64(total) {
				return
			}
			msgs, err := s.ClaimOutbox(t.Context(), owner, claimAt, time.Hour, 3)
			if err != nil {
				problem("%s: ClaimOutbox: %v", owner, err)
				return
			}
			if len(msgs) == 0 {
				runtime.Gosched()
				continue
			}
			mu.Lock()
			for _, m := range msgs {
				if h, ok := holder[m.ID]; ok {
					problems = append(problems, fmt.Sprintf("%s held by %s and %s at once", m.ID, h, owner))
				}
				holder[m.ID] = owner
				order[m.Stream] = append(order[m.Stream], m.ID)
			}
			mu.Unlock()
			for _, m := range msgs {
				if n, err := s.AckOutbox(t.Context(), owner, []string{m.ID}, claimAt); err != nil || n != 1 {
					problem("%s: AckOutbox %s: marked %d, want 1 (%v)", owner, m.ID, n, err)
					return
				}
				mu.Lock()
				delete(holder, m.ID)
				deliveries[m.ID]++
				mu.Unlock()
				done.Add(1)
			}
		}
		problem("%s: gave up with %d of %d delivered", owner, done.Load(), total)
	})
	require.Empty(t, problems, c)
	require.Len(t, deliveries, total, c+": every message is delivered")
	for id, n := range deliveries {
		require.Equalf(t, 1, n, "%s: message %s is delivered exactly once", c, id)
	}
	require.Equal(t, want, order, c+": each stream is handed out in order")
	require.Empty(t, claim(t, s, "late", windowEnd(base).Add(-time.Minute), time.Minute, 100), c+": delivered messages never come back")
}

func testConcurrentDestinations(t *testing.T, s payment.Store) {
	const c = "ClaimOutbox and AckOutbox: two claimers never hold the same message at once; each stream reaches each destination in order"
	const claimers, streams, perStream = 10, 10, 3
	dests := []string{"subscribers", "endpoint:2", "endpoint:1"}
	base := pastWindow()
	drainOutbox(t, s, base)
	want := map[string][]string{} // queue(destination, stream) -> its message ids, oldest first
	total := 0
	for i := range streams {
		at := make([]time.Time, perStream)
		for j := range at {
			at[j] = base.Add(time.Duration(j*streams+i) * time.Microsecond)
		}
		evs := enqueueTo(t, s, dests, at...)
		stream := evs[0].Stream()
		for _, ev := range evs {
			for _, d := range dests {
				want[queue(d, stream)] = append(want[queue(d, stream)], messageID(ev.ID, d))
			}
		}
		total += perStream * len(dests)
	}
	claimAt := base.Add(time.Hour)

	var (
		mu       sync.Mutex
		holder   = map[string]string{}
		handled  = map[string]int{}
		order    = map[string][]string{}
		problems []string
		done     atomic.Int64
		stop     atomic.Bool // a claimer gave up: the others would wait for its leases in vain
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
		stop.Store(true)
	}
	together(claimers, func(i int) {
		owner := fmt.Sprintf("destinations-claimer-%d", i)
		for range 200000 {
			if done.Load() >= int64(total) || stop.Load() {
				return
			}
			msgs, err := s.ClaimOutbox(t.Context(), owner, claimAt, time.Hour, 4)
			if err != nil {
				problem("%s: ClaimOutbox: %v", owner, err)
				return
			}
			if len(msgs) == 0 {
				runtime.Gosched()
				continue
			}
			mu.Lock()
			for _, m := range msgs {
				if h, ok := holder[m.ID]; ok {
					problems = append(problems, fmt.Sprintf("%s held by %s and %s at once", m.ID, h, owner))
				}
				holder[m.ID] = owner
				order[queue(m.Destination, m.Stream)] = append(order[queue(m.Destination, m.Stream)], m.ID)
			}
			mu.Unlock()
			n, err := s.AckOutbox(t.Context(), owner, outboxIDs(msgs), claimAt)
			if err != nil || n != len(msgs) {
				problem("%s: AckOutbox of %d held messages marked %d (%v)", owner, len(msgs), n, err)
				return
			}
			mu.Lock()
			for _, m := range msgs {
				delete(holder, m.ID)
				handled[m.ID]++
			}
			mu.Unlock()
			done.Add(int64(len(msgs)))
		}
		problem("%s: gave up with %d of %d delivered", owner, done.Load(), total)
	})
	require.Empty(t, problems, c)
	require.Len(t, handled, total, c+": every message of every destination is delivered")
	for id, n := range handled {
		require.Equalf(t, 1, n, "%s: message %s is delivered exactly once", c, id)
	}
	require.Equal(t, want, order, c+": each (destination, stream) is handed out in order")
	require.Empty(t, claim(t, s, "late", windowEnd(base).Add(-time.Minute), time.Minute, 100), c+": delivered messages never come back")
}

func testConcurrentClaimDue(t *testing.T, s payment.Store) {
	const c = "ClaimDuePayments and ClaimDuePayouts: concurrent sweepers never get the same object during the lease"
	const claimers, n = 10, 40
	base := pastWindow()
	drainDue(t, s, base)
	for i := range n {
		duePayment(t, s, base, ptr(base.Add(time.Duration(i)*time.Second)))
		duePayout(t, s, base, ptr(base.Add(time.Duration(i)*time.Second)))
	}
	at := base.Add(time.Hour)
	var (
		mu       sync.Mutex
		got      = map[string]int{}
		problems []string
	)
	together(claimers, func(int) {
		for range 10000 {
			ps, err := s.ClaimDuePayments(t.Context(), at, time.Hour, 3)
			if err != nil {
				mu.Lock()
				problems = append(problems, err.Error())
				mu.Unlock()
				return
			}
			pos, err := s.ClaimDuePayouts(t.Context(), at, time.Hour, 3)
			if err != nil {
				mu.Lock()
				problems = append(problems, err.Error())
				mu.Unlock()
				return
			}
			if len(ps) == 0 && len(pos) == 0 {
				return
			}
			mu.Lock()
			for _, p := range ps {
				got[p.ID]++
			}
			for _, p := range pos {
				got[p.ID]++
			}
			mu.Unlock()
		}
	})
	require.Empty(t, problems, c)
	ps, err := s.ClaimDuePayments(t.Context(), at, time.Hour, 100)
	require.NoError(t, err, c)
	pos, err := s.ClaimDuePayouts(t.Context(), at, time.Hour, 100)
	require.NoError(t, err, c)
	require.Empty(t, ps, c+": every due payment was claimed")
	require.Empty(t, pos, c+": every due payout was claimed")
	require.Len(t, got, 2*n, c+": every due payment and payout is claimed")
	for id, k := range got {
		require.Equalf(t, 1, k, "%s: %s was handed to %d claimers", c, id, k)
	}
}
