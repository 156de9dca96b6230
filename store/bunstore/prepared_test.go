package bunstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func TestNumberPlaceholders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		n        int
	}{
		{"SELECT 1", "SELECT 1", 0},
		{"SELECT a FROM t WHERE id = ? AND v = ?", "SELECT a FROM t WHERE id = $1 AND v = $2", 2},
		{"SELECT '?', \"a?\" FROM t WHERE x = ?", "SELECT '?', \"a?\" FROM t WHERE x = $1", 1},
		{"SELECT 'it''s ?' || ?", "SELECT 'it''s ?' || $1", 1},
		{"VALUES (?, ?, CAST(? AS integer)), (?, ?, CAST(? AS integer))", "VALUES ($1, $2, CAST($3 AS integer)), ($4, $5, CAST($6 AS integer))", 6},
	} {
		got, n := numberPlaceholders(tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.n, n, tc.in)
	}
}

// TestPreparedStatements: a Store on a PostgreSQL pool prepares its
// statements, once per text, and gets the same answers as without.
func TestDriverArgs(t *testing.T) {
	t.Parallel()
	a := time.Date(2026, 11, 22, 5, 4, 3, 123456000, time.UTC)
	b := time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("ICT", 7*3600))
	args := []any{"pay_1", ts(a), int64(7), nil, ts(b), []byte("x"), ts(a)}
	got := driverArgs(args)
	require.Equal(t, []any{
		"pay_1", "2026-11-22 05:04:03.123456+00:00", int64(7), nil,
		"1999-01-01 20:04:05.000000+00:00", []byte("x"), "2026-11-22 05:04:03.123456+00:00",
	}, got)
	require.Equal(t, ts(a), args[1], "the Store's arguments are left as they were")
	require.Empty(t, driverArgs(nil))
	require.Equal(t, []any{"only"}, driverArgs([]any{"only"}))
}

func TestPreparedStatements(t *testing.T) {
	t.Parallel()
	db, _ := openPG(t)
	prepared, plain := newStore(t, db), newStore(t, db, WithoutPreparedStatements())
	cache := prepared.run.(preparedDB).stmts
	require.Equal(t, db, plain.run, "WithoutPreparedStatements runs on the pool as it is")
	require.Same(t, cache, newStore(t, db).run.(preparedDB).stmts, "Stores on one pool share its statements")
	other, _ := openPG(t)
	require.NotSame(t, cache, newStore(t, other).run.(preparedDB).stmts, "another pool has its own")
	ctx := t.Context()
	at := now()

	p := testPayment(at)
	ev := testEvent(payment.EventPaymentCreated, p, at)
	// Twelve destinations: their order must survive ord sorting as a
	// number (as text, 10 sorts before 2).
	for i := range 12 {
		ev.Destinations = append(ev.Destinations, fmt.Sprintf("endpoint:d%d", i))
	}
	require.NoError(t, prepared.CreatePayment(ctx, p, []payment.Event{ev}))
	got, err := prepared.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	again, err := plain.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, again, got, "prepared and plain statements read the same payment")
	require.Equal(t, p.ID, got.ID)

	msgs, err := plain.ClaimOutbox(ctx, "test", at.Add(time.Hour), time.Minute, 1000)
	require.NoError(t, err)
	var dests []string
	for _, m := range msgs {
		if m.Event.ID == ev.ID {
			dests = append(dests, m.Destination)
		}
	}
	require.Equal(t, ev.Destinations, dests, "the messages' seqs follow the order of the destinations")

	cache.mu.Lock()
	n := len(cache.m)
	cache.mu.Unlock()
	require.Positive(t, n, "statements were prepared")
	for range 5 {
		_, err := prepared.GetPayment(ctx, p.ID)
		require.NoError(t, err)
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	require.Len(t, cache.m, n, "a text is prepared once")
	for text, ps := range cache.m {
		require.NotNil(t, ps.stmt, "every statement so far can be prepared: %s", text)
	}
}
