package memstore

import (
	"container/heap"
	"time"
)

// dueRow is a row the sweeper may claim: a payment or a payout.
type dueRow interface {
	// dueAt is the row's NextSyncAt; it is only called while that is set.
	dueAt() time.Time
	order() uint64
	// slot is where the row keeps 1 + its index in a dueQueue; 0 when it
	// is not queued.
	slot() *int
}

func (r *paymentRow) dueAt() time.Time { return *r.p.NextSyncAt }
func (r *paymentRow) order() uint64    { return r.seq }
func (r *paymentRow) slot() *int       { return &r.due }

func (r *payoutRow) dueAt() time.Time { return *r.p.NextSyncAt }
func (r *payoutRow) order() uint64    { return r.seq }
func (r *payoutRow) slot() *int       { return &r.due }

// dueQueue holds the rows whose NextSyncAt is set, soonest first (then in
// insertion order), so that a sweep takes the due rows without looking at
// the others: a store with many pending payments would otherwise be locked
// for a scan of all of them on every sweep.
type dueQueue[R dueRow] struct{ rows []R }

// set queues r when due, or takes it out of the queue, after its
// NextSyncAt changed. The caller holds the write lock.
func (q *dueQueue[R]) set(r R, due bool) {
	i := *r.slot() - 1
	switch {
	case due && i < 0:
		heap.Push(q, r)
	case due:
		heap.Fix(q, i)
	case i >= 0:
		heap.Remove(q, i)
	}
}

// take removes and returns, soonest first, up to limit rows due at now.
// The caller holds the write lock and queues them again once it has set
// their new NextSyncAt.
func (q *dueQueue[R]) take(now time.Time, limit int) []R {
	var out []R
	for len(out) < limit && len(q.rows) > 0 && !q.rows[0].dueAt().After(now) {
		out = append(out, heap.Pop(q).(R))
	}
	return out
}

// Len, Less, Swap, Push and Pop implement heap.Interface.

func (q *dueQueue[R]) Len() int { return len(q.rows) }

func (q *dueQueue[R]) Less(i, j int) bool {
	a, b := q.rows[i], q.rows[j]
	if c := a.dueAt().Compare(b.dueAt()); c != 0 {
		return c < 0
	}
	return a.order() < b.order()
}

func (q *dueQueue[R]) Swap(i, j int) {
	q.rows[i], q.rows[j] = q.rows[j], q.rows[i]
	*q.rows[i].slot() = i + 1
	*q.rows[j].slot() = j + 1
}

func (q *dueQueue[R]) Push(x any) {
	r := x.(R)
	q.rows = append(q.rows, r)
	*r.slot() = len(q.rows)
}

func (q *dueQueue[R]) Pop() any {
	n := len(q.rows) - 1
	r := q.rows[n]
	var zero R
	q.rows[n] = zero
	q.rows = q.rows[:n]
	*r.slot() = 0
	return r
}
