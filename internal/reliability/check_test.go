package reliability

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// isStatusEvent reports whether e records a move of the payment's own
// status (not a refund's, not a flag).
func isStatusEvent(p *payment.Payment, e payment.Event) bool {
	return e.ObjectID == p.ID && strings.HasPrefix(string(e.Type), "payment.") && e.Type != payment.EventPaymentFlagged
}

// checkPayment checks one payment's invariants and returns it:
//
//   - its status events form one chain: created (to pending), then each
//     event moves from the status the previous one reached, along the
//     state machine, and the last reaches the stored status; so no
//     transition is doubled or missing, and nothing leaves a terminal
//     status except a provider-confirmed late success;
//   - refunds that did not fail never add up to more than was captured,
//     and the payment's refunded and pending amounts are their sums;
//   - when n is set, every notifying event was delivered, nothing else was
//     delivered for the payment, and the first deliveries came in the
//     order the events were written.
func checkPayment(ctx context.Context, t testing.TB, store payment.Store, n *notes, id string) *payment.Payment {
	t.Helper()
	p, err := store.GetPayment(ctx, id)
	require.NoError(t, err)
	evs, err := store.ListEvents(ctx, id)
	require.NoError(t, err)

	var chain []payment.Event
	for _, e := range evs {
		if isStatusEvent(p, e) {
			chain = append(chain, e)
		}
	}
	require.NotEmpty(t, chain, "payment %s has no events", id)
	require.Equal(t, payment.EventPaymentCreated, chain[0].Type, "payment %s: first event", id)
	require.Equal(t, string(payment.StatusPending), chain[0].To, "payment %s: created pending", id)
	for i := 1; i < len(chain); i++ {
		prev, e := chain[i-1], chain[i]
		from, to := payment.Status(e.From), payment.Status(e.To)
		require.Equal(t, prev.To, e.From, "payment %s: event %d (%s) does not continue the chain: %s", id, i, e.Type, describe(chain))
		require.True(t, payment.CanTransition(from, to), "payment %s: %s -> %s is not a transition: %s", id, from, to, describe(chain))
		if from.Terminal() {
			require.True(t, payment.IsLateSuccess(from, to), "payment %s left terminal %s for %s", id, from, to)
		}
	}
	require.Equal(t, string(p.Status), chain[len(chain)-1].To, "payment %s: stored status vs its last event: %s", id, describe(chain))

	rs, err := store.ListRefunds(ctx, id)
	require.NoError(t, err)
	var refunded, pending int64
	for _, r := range rs {
		switch r.Status {
		case payment.RefundSucceeded:
			refunded += r.Amount
		case payment.RefundPending:
			pending += r.Amount
		case payment.RefundFailed:
		}
		var settled int
		for _, e := range evs {
			if e.ObjectID == r.ID && (e.Type == payment.EventRefundSucceeded || e.Type == payment.EventRefundFailed) {
				settled++
			}
		}
		require.LessOrEqual(t, settled, 1, "refund %s settled more than once", r.ID)
	}
	require.LessOrEqual(t, refunded+pending, p.AmountCaptured, "payment %s: refunds above the captured amount", id)
	require.Equal(t, refunded, p.AmountRefunded, "payment %s: amount_refunded vs its refunds", id)
	require.Equal(t, pending, p.AmountRefundPending, "payment %s: amount_refund_pending vs its refunds", id)
	if p.Status == payment.StatusRefunded {
		require.Equal(t, p.AmountCaptured, p.AmountRefunded, "payment %s refunded in full", id)
	}

	if n != nil {
		var want []string
		for _, e := range evs {
			if e.Notifies() {
				want = append(want, e.ID)
				require.Positive(t, n.count(e.ID), "payment %s: event %s (%s) never notified", id, e.ID, e.Type)
			} else {
				require.Zero(t, n.count(e.ID), "payment %s: audit-only event %s was notified", id, e.ID)
			}
		}
		require.Equal(t, want, n.stream(id), "payment %s: notifications, in order, once each", id)
	}
	return p
}

func describe(chain []payment.Event) string {
	parts := make([]string, 0, len(chain))
	for _, e := range chain {
		parts = append(parts, e.From+">"+e.To)
	}
	return strings.Join(parts, " ")
}

// histogram counts statuses.
type histogram map[payment.Status]int

func (h histogram) String() string {
	var parts []string
	for _, st := range payment.Statuses() {
		if h[st] > 0 {
			parts = append(parts, string(st)+"="+strconv.Itoa(h[st]))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
