package bunstore

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// gateLock is the advisory lock the outbox gate waits for.
const gateLock = 4242

// installOutboxGate makes every outbox insert in the database wait until no
// session holds advisory lock gateLock exclusively. A test holds the lock
// to stop a write after the payment update and the event insert, just
// before its outbox insert, in the middle of the one statement the Store
// sends.
func installOutboxGate(t testing.TB, db bun.IDB) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), `CREATE FUNCTION paykit_test_gate() RETURNS trigger
		LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$;
		CREATE TRIGGER paykit_test_gate BEFORE INSERT ON paykit_outbox
		FOR EACH ROW EXECUTE FUNCTION paykit_test_gate()`)
	require.NoError(t, err)
}

// gate is a connection that holds the gate lock.
type gate struct {
	conn bun.Conn
}

func closeGate(t testing.TB, db *bun.DB) *gate {
	t.Helper()
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = queryInt(t.Context(), conn, `SELECT 1 FROM (SELECT pg_advisory_lock(?)) AS l`, gateLock)
	require.NoError(t, err)
	return &gate{conn: conn}
}

func (g *gate) open(t testing.TB) {
	t.Helper()
	_, err := queryInt(t.Context(), g.conn, `SELECT 1 FROM (SELECT pg_advisory_unlock(?)) AS l`, gateLock)
	require.NoError(t, err)
}

// waiter waits until a backend of application app other than those in
// skip waits at the gate, and returns its pid.
func (g *gate) waiter(t testing.TB, app string, skip ...int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var pids []int64
		err := queryRows(t.Context(), g.conn, func(r scanner) error {
			var pid int64
			if err := r.Scan(&pid); err != nil {
				return err
			}
			pids = append(pids, pid)
			return nil
		}, `SELECT pid FROM pg_stat_activity WHERE application_name = ?
			AND wait_event_type = 'Lock' AND wait_event = 'advisory'`, app)
		require.NoError(t, err)
	next:
		for _, pid := range pids {
			for _, s := range skip {
				if pid == s {
					continue next
				}
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no backend reached the outbox gate")
	return 0
}

// requireRowLocked proves that the in-flight statement already updated the
// row: it holds the row's lock.
func (g *gate) requireRowLocked(t testing.TB, table, id string) {
	t.Helper()
	_, err := queryInt(t.Context(), g.conn, `SELECT count(*) FROM (SELECT 1 FROM `+table+`
		WHERE id = ? FOR UPDATE NOWAIT) AS l`, id)
	require.Error(t, err, "the payment update has run before the outbox insert")
	require.Equal(t, "55P03", pgCode(err), "lock_not_available: %v", err)
}

func (g *gate) terminate(t testing.TB, pid int64) {
	t.Helper()
	_, err := queryInt(t.Context(), g.conn, `SELECT 1 FROM (SELECT pg_terminate_backend(?)) AS k`, pid)
	require.NoError(t, err)
}

// The connection is killed (pg_terminate_backend) while the Store's
// statement has updated the payment and inserted the event but not yet the
// outbox row: both or neither. Without retries nothing is written and the
// error wraps ErrUnavailable; with retries the write is done again, exactly
// once.
func TestKillBetweenUpdateAndOutbox(t *testing.T) {
	requirePG(t)
	t.Parallel()
	dbURL := freshPG(t)
	db, app := openPGAt(t, dbURL)
	installOutboxGate(t, db)
	ctx := t.Context()

	t.Run("UpdatePayment without retry: neither", func(t *testing.T) {
		s := newStore(t, db, WithMaxAttempts(1))
		at := now()
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		g := closeGate(t, db)

		next := *p
		next.Status = payment.StatusSucceeded
		next.AmountCaptured = next.Amount
		ev := testEvent(payment.EventPaymentSucceeded, &next, at)
		done := make(chan error, 1)
		go func() { done <- s.UpdatePayment(context.WithoutCancel(ctx), &next, []payment.Event{ev}) }()

		pid := g.waiter(t, app)
		g.requireRowLocked(t, "paykit_payments", p.ID)
		g.terminate(t, pid)
		err := <-done
		require.ErrorIs(t, err, payment.ErrUnavailable, "a killed connection is ErrUnavailable")
		g.open(t)

		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err, "the store works again after the kill")
		require.Equal(t, payment.StatusPending, got.Status, "the status update was rolled back")
		require.Equal(t, int64(1), got.Version)
		require.Zero(t, countRows(t, db, "paykit_events", "id = ?", ev.ID), "the event was rolled back")
		require.Zero(t, countRows(t, db, "paykit_outbox", "event_id = ?", ev.ID), "no outbox row")
	})

	t.Run("UpdatePayment with retry: both, once", func(t *testing.T) {
		s := newStore(t, db)
		at := now()
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		g := closeGate(t, db)

		p.Status = payment.StatusSucceeded
		p.AmountCaptured = p.Amount
		ev := testEvent(payment.EventPaymentSucceeded, p, at)
		done := make(chan error, 1)
		go func() { done <- s.UpdatePayment(context.WithoutCancel(ctx), p, []payment.Event{ev}) }()

		pid := g.waiter(t, app)
		g.requireRowLocked(t, "paykit_payments", p.ID)
		g.terminate(t, pid)
		g.waiter(t, app, pid) // the retry, on a new connection, waits at the gate too
		g.open(t)
		require.NoError(t, <-done, "the write was retried after the kill")

		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, got.Status)
		require.Equal(t, int64(2), got.Version, "applied exactly once")
		require.Equal(t, int64(2), p.Version)
		require.Equal(t, int64(1), countRows(t, db, "paykit_events", "id = ?", ev.ID))
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "event_id = ?", ev.ID))
	})

	t.Run("CreatePayment without retry: neither", func(t *testing.T) {
		s := newStore(t, db, WithMaxAttempts(1))
		at := now()
		p := testPayment(at)
		ev := testEvent(payment.EventPaymentCreated, p, at)
		g := closeGate(t, db)
		done := make(chan error, 1)
		go func() { done <- s.CreatePayment(context.WithoutCancel(ctx), p, []payment.Event{ev}) }()
		g.terminate(t, g.waiter(t, app))
		require.ErrorIs(t, <-done, payment.ErrUnavailable)
		g.open(t)

		_, err := s.GetPayment(ctx, p.ID)
		require.ErrorIs(t, err, payment.ErrNotFound, "the insert was rolled back")
		require.Zero(t, countRows(t, db, "paykit_events", "id = ?", ev.ID))
		// The order is free: the killed insert held nothing.
		again := testPayment(at)
		again.Provider, again.OrderID = p.Provider, p.OrderID
		require.NoError(t, s.CreatePayment(ctx, again, nil))
	})

	t.Run("UpdateRefund without retry: neither", func(t *testing.T) {
		s := newStore(t, db, WithMaxAttempts(1))
		at := now()
		p := testPayment(at)
		p.Status, p.AmountCaptured = payment.StatusSucceeded, p.Amount
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		r := &payment.Refund{
			ID: uniq(payment.PrefixRefund), PaymentID: p.ID, Amount: 500, Currency: p.Currency,
			Status: payment.RefundPending, CreatedAt: at, UpdatedAt: at,
		}
		p.AmountRefundPending = 500
		require.NoError(t, s.CreateRefund(ctx, r, p, nil))
		g := closeGate(t, db)

		nr, np := *r, *p
		nr.Status = payment.RefundSucceeded
		np.AmountRefundPending, np.AmountRefunded, np.Status = 0, 500, payment.StatusPartiallyRefunded
		ev := testEvent(payment.EventRefundSucceeded, &np, at)
		done := make(chan error, 1)
		go func() { done <- s.UpdateRefund(context.WithoutCancel(ctx), &nr, &np, []payment.Event{ev}) }()
		pid := g.waiter(t, app)
		g.requireRowLocked(t, "paykit_refunds", r.ID)
		g.terminate(t, pid)
		require.ErrorIs(t, <-done, payment.ErrUnavailable)
		g.open(t)

		gotR, err := s.GetRefund(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, payment.RefundPending, gotR.Status, "the refund update was rolled back")
		gotP, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(500), gotP.AmountRefundPending, "the payment update was rolled back")
		require.Equal(t, p.Version, gotP.Version)
		require.Zero(t, countRows(t, db, "paykit_events", "id = ?", ev.ID))
	})
}

// A deadlock (SQLSTATE 40P01) aborts the Store's statement; the Store runs
// it again and it applies once.
func TestDeadlockIsRetried(t *testing.T) {
	dbURL := requirePG(t)
	t.Parallel()
	ctx := t.Context()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("deadlock_timeout", "50ms") // the Store's sessions find the deadlock first
	u.RawQuery = q.Encode()
	db, app := openPGAt(t, u.String())
	var retries atomic.Int64
	s := newStore(t, db, withTestHook(func(step string) error {
		if step == "retry" {
			retries.Add(1)
		}
		return nil
	}))

	at := now()
	p := testPayment(at)
	p.Status, p.AmountCaptured = payment.StatusSucceeded, p.Amount
	require.NoError(t, s.CreatePayment(ctx, p, nil))
	r := &payment.Refund{
		ID: uniq(payment.PrefixRefund), PaymentID: p.ID, Amount: 500, Currency: p.Currency,
		Status: payment.RefundPending, CreatedAt: at, UpdatedAt: at,
	}
	p.AmountRefundPending = 500
	require.NoError(t, s.CreateRefund(ctx, r, p, nil))

	// Another transaction locks the refund; the Store's UpdateRefund locks
	// the payment and waits for the refund; the other transaction then
	// asks for the payment: a deadlock.
	other, _ := openPG(t)
	tx, err := other.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = queryInt(ctx, tx, `SELECT count(*) FROM (SELECT 1 FROM paykit_refunds WHERE id = ? FOR UPDATE) AS l`, r.ID)
	require.NoError(t, err)

	r.Status = payment.RefundSucceeded
	p.AmountRefundPending, p.AmountRefunded, p.Status = 0, 500, payment.StatusPartiallyRefunded
	ev := testEvent(payment.EventRefundSucceeded, p, at)
	done := make(chan error, 1)
	go func() { done <- s.UpdateRefund(context.WithoutCancel(ctx), r, p, []payment.Event{ev}) }()
	require.Eventually(t, func() bool {
		n, err := queryInt(ctx, other, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = ? AND wait_event_type = 'Lock'`, app)
		return err == nil && n > 0
	}, 10*time.Second, 2*time.Millisecond, "UpdateRefund waits for the refund lock")
	// Blocks until the deadlock is found and the Store's statement aborted.
	_, err = queryInt(ctx, tx, `SELECT count(*) FROM (SELECT 1 FROM paykit_payments WHERE id = ? FOR UPDATE) AS l`, p.ID)
	require.NoError(t, err, "the Store's statement, not this one, was chosen as the deadlock victim")
	require.NoError(t, tx.Rollback())

	require.NoError(t, <-done, "the deadlocked write was retried")
	require.Positive(t, retries.Load())
	got, err := s.GetRefund(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, got.Status)
	gp, err := s.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), gp.Version, "applied once")
	require.Equal(t, int64(1), countRows(t, db, "paykit_events", "id = ?", ev.ID))
	require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "event_id = ?", ev.ID))
}
