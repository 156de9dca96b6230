package bunstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paykit/paykit/payment"
)

// Store is a payment.Store on a bun database: PostgreSQL or SQLite. It is
// safe for concurrent use. Create it with New.
type Store struct {
	db bun.IDB
	// run is what reads and writes run on outside a host's transaction:
	// db, or on a PostgreSQL pool db running prepared statements.
	run bun.IDB
	pg  bool // PostgreSQL; otherwise SQLite
	// mode says what db is: it decides how transactions are made and
	// whether a failed call may be retried.
	mode dbMode
	// wmu serializes this Store's writes on SQLite, which allows one
	// writer at a time: waiting here is cheaper and fairer than SQLite's
	// busy loop.
	wmu *sync.Mutex
	// creates and updates batch concurrent CreatePayment and
	// UpdatePayment calls on a PostgreSQL pool; nil otherwise.
	creates, updates *batcher

	maxAttempts int
	backoff     time.Duration
	hook        func(step string) error
}

var _ payment.Store = (*Store)(nil)

type dbMode int

const (
	// modeDB: a *bun.DB, a pool. Calls may be retried on a fresh connection.
	modeDB dbMode = iota
	// modeConn: a bun.Conn, one connection. Transactions are real; a
	// dead connection cannot be retried.
	modeConn
	// modeTx: the host's bun.Tx. Each method runs in a savepoint and is
	// never retried: the host's transaction decides.
	modeTx
)

// Option configures a Store.
type Option func(*config)

type config struct {
	maxAttempts int
	backoff     time.Duration
	unprepared  bool
	unbatched   bool
	hook        func(step string) error
}

// WithMaxAttempts sets how many times a call is tried when it fails in a way
// that is safe to retry: a serialization failure or deadlock (SQLSTATE 40001,
// 40P01), or a connection that broke before the statement could commit.
// The default is 4; 1 turns retries off. Calls inside a host's transaction
// are never retried.
func WithMaxAttempts(n int) Option {
	return func(c *config) { c.maxAttempts = n }
}

// WithRetryBackoff sets the base delay between attempts; each attempt
// doubles it, with jitter. The default is 10ms.
func WithRetryBackoff(d time.Duration) Option {
	return func(c *config) { c.backoff = d }
}

// WithoutPreparedStatements runs every statement as plain SQL text. By
// default a Store on a PostgreSQL pool (a *bun.DB) runs its statements as
// prepared statements on the pool's connections, which halves the server's
// work for a checkout. Turn it off behind a pooler that cannot keep a
// session's prepared statements (PgBouncer in transaction mode before
// 1.21), or to have bun's query hooks see every statement: prepared
// statements run on database/sql directly, past bun's hooks.
// A pool OpenPostgres did not open can hand out a connection a restarted
// server left dead, and preparing a statement on it fails in a way that is
// not retried (ErrUnavailable): on pgdriver, call DropDeadConnections on
// the pool's connector before sql.OpenDB; on a driver with no such check,
// use this option.
func WithoutPreparedStatements() Option {
	return func(c *config) { c.unprepared = true }
}

// WithoutBatching writes every CreatePayment and UpdatePayment call with a
// statement of its own. By default a Store on a PostgreSQL pool writes the
// calls that arrive while its earlier writes are in flight together, one
// statement and one commit for them all (group commit): each call still
// returns only once its own write has committed, and gets its own error.
// One batch of each kind runs at a time, more only while a full batch
// waits, so a write that waits on a row lock (a host's transaction holding
// a payment it created or updated) holds up the calls queued behind it for
// up to 50 ms; they then start a batch beside it, four at most. Turn
// batching off if the host keeps such transactions open for long and
// writes are many.
func WithoutBatching() Option {
	return func(c *config) { c.unbatched = true }
}

// withTestHook calls fn at named steps inside write transactions ("update",
// "events", "outbox", ...); an error from fn aborts the transaction. Tests
// use it to fail or kill a write half-way.
func withTestHook(fn func(step string) error) Option {
	return func(c *config) { c.hook = fn }
}

// New returns a Store on db: a *bun.DB (the usual case), a bun.Conn, or a
// bun.Tx, so that a host can create a payment inside its own transaction.
// The dialect must be PostgreSQL (pgdialect) or SQLite (sqlitedialect), and
// the schema must be migrated (see Migrate).
func New(db bun.IDB, opts ...Option) (*Store, error) {
	cfg := config{maxAttempts: 4, backoff: 10 * time.Millisecond}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.maxAttempts < 1 {
		return nil, fmt.Errorf("bunstore: max attempts %d: %w", cfg.maxAttempts, payment.ErrInvalidInput)
	}
	if cfg.backoff < 0 {
		return nil, fmt.Errorf("bunstore: negative retry backoff: %w", payment.ErrInvalidInput)
	}
	mode, err := modeOf(db)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:          db,
		mode:        mode,
		wmu:         new(sync.Mutex),
		maxAttempts: cfg.maxAttempts,
		backoff:     cfg.backoff,
		hook:        cfg.hook,
	}
	switch name := db.Dialect().Name(); name {
	case dialect.PG:
		s.pg = true
	case dialect.SQLite:
	default:
		return nil, fmt.Errorf("bunstore: dialect %s is not supported (use pgdialect or sqlitedialect): %w",
			name, payment.ErrInvalidInput)
	}
	s.run = db
	if pool, ok := db.(*bun.DB); ok && s.pg && !cfg.unprepared {
		s.run = newPreparedDB(pool)
	}
	if s.pg && mode == modeDB && !cfg.unbatched {
		s.creates = &batcher{write: s.createBatch, stall: stallAfter}
		s.updates = &batcher{write: s.updateBatch, stall: stallAfter}
	}
	return s, nil
}

func modeOf(db bun.IDB) (dbMode, error) {
	switch v := db.(type) {
	case nil:
		return 0, fmt.Errorf("bunstore: nil database: %w", payment.ErrInvalidInput)
	case *bun.DB:
		if v == nil {
			return 0, fmt.Errorf("bunstore: nil database: %w", payment.ErrInvalidInput)
		}
		return modeDB, nil
	case bun.Tx, *bun.Tx:
		return modeTx, nil
	default:
		// bun.Conn, or another IDB: transactions through RunInTx, no retry.
		return modeConn, nil
	}
}

// step runs the test hook, if any.
func (s *Store) step(name string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(name)
}

// read runs a read-only operation, retrying connection failures.
func (s *Store) read(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	return s.retry(ctx, false, func() error { return fn(ctx, s.run) })
}

// write runs a write operation atomically. On PostgreSQL every operation
// is a single statement (data-modifying CTEs), atomic by itself, so it runs
// without BEGIN/COMMIT; in a host's transaction it runs in a savepoint so a
// failure leaves the host's transaction usable. On SQLite it runs in a
// transaction, serialized by the Store's write mutex.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	return s.retry(ctx, true, func() error {
		if s.pg && s.mode != modeTx {
			return fn(ctx, s.run)
		}
		if !s.pg && s.mode == modeDB {
			s.wmu.Lock()
			defer s.wmu.Unlock()
		}
		return s.db.RunInTx(ctx, nil, func(_ context.Context, tx bun.Tx) error {
			// bun hands a savepoint the context of the outer transaction;
			// use the caller's.
			return fn(ctx, tx)
		})
	})
}

// retry runs fn until it succeeds, fails in a way that is not safe to
// retry, or runs out of attempts, and maps the error to paykit's sentinels.
func (s *Store) retry(ctx context.Context, write bool, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if attempt >= s.maxAttempts || !s.retryable(err, write) || ctx.Err() != nil {
			return mapError(err)
		}
		if werr := s.sleep(ctx, attempt); werr != nil {
			return mapError(err)
		}
		_ = s.step("retry")
	}
}

func (s *Store) retryable(err error, write bool) bool {
	if s.mode == modeTx {
		return false
	}
	if isKnownOutcome(err) {
		return false
	}
	if isSerializationFailure(err) {
		return true
	}
	if s.mode != modeDB {
		// One connection: if it broke, trying again cannot help.
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// The database did not answer in time (a dial or read timeout):
		// trying again would only multiply the wait.
		return false
	}
	if write {
		return isNotCommitted(err)
	}
	return isConnError(err)
}

// maxBackoff caps the delay between two attempts.
const maxBackoff = time.Second

// sleep waits before attempt+1: backoff * 2^(attempt-1), at most
// maxBackoff, with jitter (between half and one and a half of it).
func (s *Store) sleep(ctx context.Context, attempt int) error {
	d := s.backoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	if d > 0 {
		d = d/2 + rand.N(d) //nolint:gosec // jitter, not a secret
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isKnownOutcome reports whether err is an answer of the store's own
// contract, never worth retrying.
func isKnownOutcome(err error) bool {
	return errors.Is(err, payment.ErrNotFound) || errors.Is(err, payment.ErrConflict) ||
		errors.Is(err, payment.ErrAlreadyExists) || errors.Is(err, payment.ErrInvalidInput)
}
