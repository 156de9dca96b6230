// Package bunstore is a payment.Store on github.com/uptrace/bun, for
// PostgreSQL (the production target) and SQLite (the persistent embedded
// default). It passes store/storetest on both.
//
// # Getting started
//
//	db, err := bunstore.OpenSQLite("paykit.db") // or "memory"
//	// db, err := bunstore.OpenPostgres("postgres://user:pw@host:5432/app?sslmode=disable")
//	// db, err := bunstore.Open(dbFlag) // either, by the form of the flag
//	if err != nil { ... }
//	defer db.Close()
//	if err := bunstore.Migrate(ctx, db); err != nil { ... }
//	store, err := bunstore.New(db)
//	if err != nil { ... }
//	svc, err := payment.New(store, payment.WithProvider(p))
//
// New takes any bun.IDB: a *bun.DB, a bun.Conn, or a bun.Tx, so a host can
// create its own records and a payment in one transaction:
//
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		// ... insert the host's order with tx ...
//		s, err := bunstore.New(tx)
//		if err != nil {
//			return err
//		}
//		svc, err := payment.New(s, opts...)
//		...
//	})
//
// In a host's transaction each Store method runs in a savepoint: a method
// that fails (a duplicate order, say) writes nothing and leaves the host's
// transaction usable; nothing is visible to others until the host commits,
// and nothing is kept if it rolls back. Such calls are never retried.
//
// # Drivers
//
// PostgreSQL goes through bun's own driver, github.com/uptrace/bun/driver/pgdriver
// (pure Go, part of bun, and it sends each statement in one round trip).
// OpenPostgres sets it up; a *bun.DB the host made with pgdialect and pgx's
// database/sql driver works too (errors are recognized by their SQLSTATE),
// but only OpenPostgres drops connections a restarted server left dead
// before they are used. SQLite goes through modernc.org/sqlite, a pure-Go
// driver (no cgo) registered as "sqlite"; OpenSQLite sets it up.
//
// # Atomicity and round trips
//
// Every Store method is atomic. On PostgreSQL every method is a single SQL
// statement: a compare-and-set update, its events and their outbox rows
// are data-modifying CTEs of one statement
//
//	WITH u AS (UPDATE paykit_payments SET ... WHERE id = ? AND version = ? RETURNING id),
//	     e AS (INSERT INTO paykit_events ... SELECT ... WHERE EXISTS (SELECT 1 FROM u) RETURNING ...),
//	     d (event_id, destination) AS (VALUES ...),
//	     o AS (INSERT INTO paykit_outbox ... SELECT ... FROM d JOIN e ON e.id = d.event_id)
//	SELECT count(*) FROM u
//
// so it needs no BEGIN/COMMIT and costs one round trip: CreatePayment,
// UpdatePayment, CreateRefund, UpdateRefund, the claims and AckOutbox (of a
// whole batch) are one query each (plus one read to tell ErrNotFound from ErrConflict when a
// compare-and-set misses, and one to read the stored record when an
// idempotency key or inbox message exists already). A connection killed in
// the middle of the statement leaves neither the state change nor its
// events and outbox rows. On SQLite a method is a transaction of a few
// statements (BEGIN IMMEDIATE, the update, one multi-row INSERT for the
// events, one for the outbox rows, COMMIT).
//
// On a PostgreSQL pool (a *bun.DB) the statements run as prepared
// statements, prepared once per text and connection: parsing, analysing
// and planning were about half of the server's work for these statements,
// and preparing them doubled the rate pgbench runs a checkout's two at.
// They run on database/sql directly, past bun's query hooks. Behind a
// pooler that cannot keep a session's prepared statements (PgBouncer in
// transaction mode before 1.21), or to have bun's hooks see every
// statement, use WithoutPreparedStatements. In a host's transaction or on
// a bun.Conn the statements run as plain text. A pgdriver pool the host
// opens itself wants DropDeadConnections on its connector, as OpenPostgres
// does: preparing a statement on a connection a restarted server closed
// fails in a way database/sql does not retry.
//
// # Group commit
//
// On a PostgreSQL pool, CreatePayment and UpdatePayment calls that arrive
// while a write of their kind is in flight queue, and the queue is
// written as one statement when a write ends: one round trip, one executor
// start-up over the four tables and one commit for up to 16 payments.
// Another batch starts beside the running one (four at most) only when 16
// calls are queued, or when a call has waited 50 ms, as behind a write
// that waits on a row lock a host's transaction holds. The
// per-statement work is most of the server's cost for these writes, and
// under load a checkout's two writes become about one commit each instead
// of two. Nobody waits for a batch to fill: at low load every call is its
// own statement. Each call returns once its own write has committed, with
// its own error: a compare-and-set that misses fails its call only, and a
// batch PostgreSQL refuses as a whole (a second live payment for an order,
// an inbox message stored already) is written again one call at a time,
// so every call gets the answer it would have had alone. One batch holds
// one call per payment. A batch runs under its callers' latest deadline and
// is not canceled by any one of them; a call whose context ends while it
// is still queued returns, and nothing of it is written. WithoutBatching
// turns it off. The compare-and-set of a batch is
//
//	WITH v (id, ..., holds, old_version) AS (VALUES (...), (...)),
//	     u AS (UPDATE paykit_payments t SET ... FROM v WHERE t.id = v.id AND t.version = v.old_version RETURNING t.id),
//	     e AS (INSERT INTO paykit_events ... SELECT ... FROM (VALUES ...) AS v (owner, ...) WHERE v.owner IN (SELECT id FROM u) RETURNING ...),
//	     ...
//	SELECT id FROM u
//
// # Concurrency
//
// Compare-and-set uses the version column: UPDATE ... WHERE id = ? AND
// version = ?; no row means ErrNotFound when the row is missing and
// ErrConflict otherwise. On PostgreSQL ClaimOutbox, ClaimDuePayments and
// ClaimDuePayouts lock the rows they lease with FOR UPDATE SKIP LOCKED, so
// several instances share one database without waiting for each other and
// without handing one message or payment to two claimers; ClaimOutbox
// only hands out the oldest pending (neither delivered nor failed) message
// of each destination and stream. AckOutbox deletes the messages it
// acknowledges, so the outbox holds the backlog and the failed messages
// only (rows that earlier versions marked delivered_at stay until a host
// deletes them). An event's outbox messages take seqs
// from the events' counter (the identity sequence on PostgreSQL, the
// AUTOINCREMENT counter on SQLite) after their events', in the order of
// the events and of each event's destinations; the events of one payment
// (or payout) are written under its row's compare-and-set, so each
// stream's messages are in the order of its events. A message whose event
// asks for a lease (payment.Event.Lease) is written leased in the same
// INSERT when no pending message of its destination and stream is held by
// anyone else (one probe of the queue index); the statement returns which
// were, and the call reports it in Lease.Granted. On PostgreSQL
// CreatePayment and UpdatePayment grant leases, the other writes write
// their messages unleased; on SQLite every write grants them.
// SQLite allows one writer at a time: a Store serializes its writes with a
// mutex, and OpenSQLite sets WAL (readers do not block the writer), a 10 s
// busy timeout (for writers in other Stores or processes) and immediate
// transactions.
//
// # Errors and retries
//
// Errors wrap payment's sentinels: unique violations (SQLSTATE 23505,
// SQLite UNIQUE and PRIMARY KEY) are ErrAlreadyExists; no row is
// ErrNotFound; check and not-null violations and invalid values are
// ErrInvalidInput; a database that cannot be reached or a connection that
// broke (driver.ErrBadConn, network errors, EOF, SQLSTATE class 08 and
// 57P01-57P03, a deadline that ran out, SQLite BUSY after the busy timeout)
// is ErrUnavailable, which the HTTP layer answers with 503. The original
// error stays in the chain for errors.As.
//
// A call on a *bun.DB is tried up to 4 times (WithMaxAttempts) with
// jittered exponential backoff (WithRetryBackoff) when that is safe:
// serialization failures and deadlocks (40001, 40P01), reads that met a
// broken connection, and writes that certainly did not commit (the
// connection was dead before the statement was sent, the dial failed, or
// the server answered it with a connection error such as 57P01); a
// timeout is not retried, as waiting again would only add to it. A write
// whose connection broke while it was in flight has an unknown outcome: it
// is not retried, its error wraps ErrUnavailable, and the caller's next
// compare-and-set finds out what happened. database/sql reconnects by
// itself, so the Store works again as soon as the database is back.
//
// # Schema
//
// Migrate creates the tables (paykit_payments, paykit_refunds,
// paykit_payouts, paykit_events, paykit_outbox, paykit_inbox,
// paykit_idempotency_keys) and records the applied versions in
// paykit_schema_migrations; it is idempotent and safe to run from several
// instances at once. MigrationsFS exports the same plain SQL files
// (postgres/ and sqlite/, NNNN_name.up.sql and .down.sql) for hosts that
// use their own migration tool.
//
// The schema enforces what the Service relies on: primary keys; one
// payment holding each (provider, order_id) at a time (a partial unique
// index on the holds_order column, cleared the first time a payment becomes
// failed, canceled or expired and never set again); unique (provider,
// event_key) in the inbox; unique idempotency keys; unique (provider,
// order_id) for payouts; amount > 0 and amount_refunded +
// amount_refund_pending <= amount_captured <= amount; and an index for
// every query. Times are UTC (timestamptz on PostgreSQL, fixed-width text
// on SQLite), to the microsecond. Nested values (next_action, customer,
// items, metadata, flags, failure, card) are JSON (jsonb on PostgreSQL);
// event data is kept byte for byte (json on PostgreSQL).
package bunstore
