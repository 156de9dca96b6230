package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/paykit/paykit/internal/pgtest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/paykit/paykit/payment"
)

// The database goes away: every call fails fast with an error wrapping
// ErrUnavailable, nothing is half written, and once it is back the same
// Store works again, without a restart.
func TestUnavailableAndBack(t *testing.T) {
	dbURL := requirePG(t)
	t.Parallel()
	px, proxied := pgtest.Proxied(t, dbURL)
	db, err := OpenPostgres(proxied)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s := newStore(t, db, WithRetryBackoff(time.Millisecond))
	ctx := t.Context()

	at := now()
	p := testPayment(at)
	require.NoError(t, s.CreatePayment(ctx, p, nil))

	px.Down()
	_, err = s.GetPayment(ctx, p.ID)
	require.ErrorIs(t, err, payment.ErrUnavailable, "a read while the database is away")
	next := *p
	next.Status = payment.StatusFailed
	err = s.UpdatePayment(ctx, &next, []payment.Event{testEvent(payment.EventPaymentFailed, &next, at)})
	require.ErrorIs(t, err, payment.ErrUnavailable, "a write while the database is away")
	require.Equal(t, int64(1), next.Version, "a failed write does not bump the caller's Version")
	other := testPayment(at)
	require.ErrorIs(t, s.CreatePayment(ctx, other, nil), payment.ErrUnavailable)
	_, err = s.ClaimOutbox(ctx, "o", at, time.Minute, 10)
	require.ErrorIs(t, err, payment.ErrUnavailable)
	_, _, err = s.RecordInbox(ctx, &payment.InboxMessage{Provider: "x", EventKey: uniq("k"), ReceivedAt: at})
	require.ErrorIs(t, err, payment.ErrUnavailable)

	px.Up(t)
	got, err := s.GetPayment(ctx, p.ID)
	require.NoError(t, err, "the same Store works once the database is back")
	require.Equal(t, payment.StatusPending, got.Status, "nothing was written while it was away")
	require.NoError(t, s.UpdatePayment(ctx, &next, []payment.Event{testEvent(payment.EventPaymentFailed, &next, at)}))
	require.NoError(t, s.CreatePayment(ctx, other, nil))
}

// A Store pointed at a port where nothing listens fails with ErrUnavailable.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	db, err := OpenPostgres("postgres://postgres:secret-pw@" + addr + "/paykit?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s := newStore(t, db, WithRetryBackoff(time.Millisecond))
	ctx := t.Context()
	_, err = s.GetPayment(ctx, "pay_1")
	require.ErrorIs(t, err, payment.ErrUnavailable)
	require.NotContains(t, err.Error(), "secret-pw", "errors never carry the password")
	p := testPayment(now())
	require.ErrorIs(t, s.CreatePayment(ctx, p, nil), payment.ErrUnavailable)
	require.ErrorIs(t, Migrate(ctx, db), payment.ErrUnavailable)

	// A deadline that runs out while waiting for the database is
	// unavailability too; a caller that gives up is not.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err = s.GetPayment(expired, "pay_1")
	require.ErrorIs(t, err, payment.ErrUnavailable)
	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, err = s.GetPayment(canceled, "pay_1")
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, payment.ErrUnavailable)
}

// terminateBackends kills every backend of application app and waits until
// they are gone.
func terminateBackends(t testing.TB, app string) {
	t.Helper()
	admin, _ := openPG(t)
	ctx := t.Context()
	n, err := queryInt(ctx, admin, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = ?) AS k`, app)
	require.NoError(t, err)
	require.Positive(t, n, "the pool has connections to kill")
	require.Eventually(t, func() bool {
		left, err := queryInt(ctx, admin, `SELECT count(*) FROM pg_stat_activity WHERE application_name = ?`, app)
		return err == nil && left == 0
	}, 10*time.Second, 5*time.Millisecond)
}

// warmPool opens n live connections in db's pool and returns them to it
// idle. Dead ones met on the way are dropped.
func warmPool(t testing.TB, db *bun.DB, n int) {
	t.Helper()
	var conns []bun.Conn
	for range 5 * n {
		if len(conns) == n {
			break
		}
		c, err := db.Conn(t.Context())
		require.NoError(t, err)
		if _, err := queryInt(t.Context(), c, `SELECT 1`); err != nil {
			_ = c.Close()
			continue
		}
		conns = append(conns, c)
	}
	require.Len(t, conns, n)
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

// Every backend of the Store's pool is terminated (a server restart, a
// failover, an administrator): the next calls succeed, without a restart.
func TestTerminatedBackends(t *testing.T) {
	requirePG(t)
	t.Parallel()
	ctx := t.Context()

	// Without retries, a write and then a read each meet a pool whose
	// every connection the server ended: each must find a live one.
	requireNoDeadConnection := func(t *testing.T, db *bun.DB, app string) {
		t.Helper()
		s := newStore(t, db, WithMaxAttempts(1)) // no retry needed
		at := now()
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		warmPool(t, db, 4)
		terminateBackends(t, app)
		p.Status = payment.StatusProcessing
		require.NoError(t, s.UpdatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentProcessing, p, at)}))
		warmPool(t, db, 4)
		terminateBackends(t, app)
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusProcessing, got.Status)
	}

	t.Run("OpenPostgres drops dead connections before use", func(t *testing.T) {
		db, app := openPG(t)
		requireNoDeadConnection(t, db, app)
	})

	t.Run("a host's pgdriver pool with DropDeadConnections runs prepared statements past dead connections", func(t *testing.T) {
		connector, app := plainConnector(t)
		DropDeadConnections(connector)
		db := bun.NewDB(sql.OpenDB(connector), pgdialect.New())
		t.Cleanup(func() { _ = db.Close() })
		db.SetMaxIdleConns(4)
		requireNoDeadConnection(t, db, app)
	})

	t.Run("a plain pgdriver pool recovers through bounded retries", func(t *testing.T) {
		connector, app := plainConnector(t)
		db := bun.NewDB(sql.OpenDB(connector), pgdialect.New())
		t.Cleanup(func() { _ = db.Close() })
		db.SetMaxIdleConns(2)

		// Plain text: a prepared statement meeting a dead connection fails
		// while preparing it there, which database/sql does not report as
		// a connection that was dead before the write (see
		// WithoutPreparedStatements); OpenPostgres's pools drop such
		// connections before use (the subtest above).
		noRetry := newStore(t, db, WithMaxAttempts(1), WithoutPreparedStatements())
		s := newStore(t, db, WithRetryBackoff(time.Millisecond), WithoutPreparedStatements())
		at := now()
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, nil))

		// Without retries the first call meets a dead connection.
		warmPool(t, db, 2)
		terminateBackends(t, app)
		_, err := noRetry.GetPayment(ctx, p.ID)
		require.ErrorIs(t, err, payment.ErrUnavailable, "a dead pooled connection is ErrUnavailable")

		// With retries, reads and writes go through.
		warmPool(t, db, 2)
		terminateBackends(t, app)
		p.Status = payment.StatusProcessing
		require.NoError(t, s.UpdatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentProcessing, p, at)}),
			"a write whose connection was dead before it was sent is retried")
		warmPool(t, db, 2)
		terminateBackends(t, app)
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})
}

// plainConnector returns a pgdriver connector to the test server, as a host
// would open one, and the application name its connections carry.
func plainConnector(t *testing.T) (*pgdriver.Connector, string) {
	t.Helper()
	app := "paykit_test_plain_" + uniq("")[:8]
	u, err := url.Parse(requirePG(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return pgdriver.NewConnector(pgdriver.WithDSN(u.String())), app
}

// The error classification used for retries and ErrUnavailable.
func TestErrorClassification(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	for _, tc := range []struct {
		name         string
		err          error
		conn         bool // wraps ErrUnavailable
		notCommitted bool // a write may be retried
	}{
		{"dial", dial, true, true},
		{"read", read, true, false},
		{"EOF", io.EOF, true, false},
		{"unexpected EOF", io.ErrUnexpectedEOF, true, false},
		{"bad conn", sql.ErrConnDone, true, false},
		{"deadline", context.DeadlineExceeded, true, false},
		{"canceled", context.Canceled, false, false},
		{"other", errors.New("syntax error"), false, false},
		{"not found", payment.ErrNotFound, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.conn, isConnError(tc.err))
			require.Equal(t, tc.notCommitted, isNotCommitted(tc.err))
			mapped := mapError(tc.err)
			require.Equal(t, tc.conn, errors.Is(mapped, payment.ErrUnavailable))
			require.ErrorIs(t, mapped, tc.err, "the cause stays in the chain")
		})
	}
}

// sqlStateError is an error of a driver other than pgdriver (pgx, lib/pq)
// that carries a SQLSTATE.
type sqlStateError string

func (e sqlStateError) Error() string    { return "driver error " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// Errors of other PostgreSQL drivers map by their SQLSTATE.
func TestSQLStateMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   string
		target error
	}{
		{"23505", payment.ErrAlreadyExists},
		{"23503", payment.ErrNotFound},
		{"23514", payment.ErrInvalidInput},
		{"22003", payment.ErrInvalidInput},
		{"57P01", payment.ErrUnavailable},
		{"08006", payment.ErrUnavailable},
	} {
		err := mapError(fmt.Errorf("wrapped: %w", sqlStateError(tc.code)))
		require.ErrorIs(t, err, tc.target, tc.code)
	}
	require.True(t, isSerializationFailure(sqlStateError("40001")))
	require.True(t, isSerializationFailure(sqlStateError("40P01")))
	require.True(t, isNotCommitted(sqlStateError("57P01")))
	require.False(t, isNotCommitted(sqlStateError("23505")))
	plain := errors.New("plain")
	require.Equal(t, plain, mapError(plain), "other errors pass through")
}

// timeoutError is a network timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Which failures a Store tries again, by what it runs on.
func TestRetryable(t *testing.T) {
	t.Parallel()
	pool := &Store{mode: modeDB}
	conn := &Store{mode: modeConn}
	tx := &Store{mode: modeTx}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}
	for _, tc := range []struct {
		name        string
		err         error
		read, write bool // retried on a pool
	}{
		{"deadlock", sqlStateError("40P01"), true, true},
		{"serialization failure", sqlStateError("40001"), true, true},
		{"admin shutdown", sqlStateError("57P01"), true, true},
		{"refused dial", dial, true, true},
		{"dial timeout", dialTimeout, false, false},
		{"connection reset in flight", io.ErrUnexpectedEOF, true, false},
		{"unique violation", sqlStateError("23505"), false, false},
		{"conflict", payment.ErrConflict, false, false},
		{"not found", payment.ErrNotFound, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.read, pool.retryable(tc.err, false), "read on a pool")
			require.Equal(t, tc.write, pool.retryable(tc.err, true), "write on a pool")
			require.False(t, tx.retryable(tc.err, true), "never inside the host's transaction")
			require.Equal(t, isSerializationFailure(tc.err), conn.retryable(tc.err, true),
				"on one connection only serialization failures")
		})
	}
}
