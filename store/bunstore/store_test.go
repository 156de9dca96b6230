package bunstore

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// On SQLite a write is a transaction of several statements: a failure
// after any of them (injected by the test hook) leaves nothing behind.
func TestSQLiteWriteIsAllOrNothing(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	for _, step := range []string{"update", "events", "outbox"} {
		t.Run("UpdatePayment fails after "+step, func(t *testing.T) {
			t.Parallel()
			db := openSQLite(t)
			var fail sync.Map
			s := newStore(t, db, withTestHook(func(got string) error {
				if _, ok := fail.Load(got); ok {
					return errBoom
				}
				return nil
			}))
			ctx := t.Context()
			at := now()
			p := testPayment(at)
			require.NoError(t, s.CreatePayment(ctx, p, nil))
			fail.Store(step, true)

			next := *p
			next.Status = payment.StatusSucceeded
			next.AmountCaptured = next.Amount
			ev := testEvent(payment.EventPaymentSucceeded, &next, at)
			require.ErrorIs(t, s.UpdatePayment(ctx, &next, []payment.Event{ev}), errBoom)
			require.Equal(t, int64(1), next.Version)
			got, err := s.GetPayment(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, p, got, "the payment is unchanged")
			require.Zero(t, countRows(t, db, "paykit_events", "id = ?", ev.ID))
			require.Zero(t, countRows(t, db, "paykit_outbox", "event_id = ?", ev.ID))
		})
	}
	for _, step := range []string{"payment", "events", "outbox"} {
		t.Run("CreatePayment fails after "+step, func(t *testing.T) {
			t.Parallel()
			db := openSQLite(t)
			s := newStore(t, db, withTestHook(func(got string) error {
				if got == step {
					return errBoom
				}
				return nil
			}))
			at := now()
			p := testPayment(at)
			ev := testEvent(payment.EventPaymentCreated, p, at)
			require.ErrorIs(t, s.CreatePayment(t.Context(), p, []payment.Event{ev}), errBoom)
			require.Zero(t, countRows(t, db, "paykit_payments", "id = ?", p.ID))
			require.Zero(t, countRows(t, db, "paykit_events", "id = ?", ev.ID))
		})
	}
}

// The schema refuses what the Service must never write, even if a bug
// asked for it: the database is the last line of defence for money.
func TestConstraints(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		ctx := t.Context()
		at := now()

		zero := testPayment(at)
		zero.Amount = 0
		require.ErrorIs(t, s.CreatePayment(ctx, zero, nil), payment.ErrInvalidInput, "amount > 0")

		p := testPayment(at)
		p.Status, p.AmountCaptured = payment.StatusSucceeded, p.Amount
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		for _, tc := range []struct {
			name string
			edit func(q *payment.Payment)
		}{
			{"refunded above captured", func(q *payment.Payment) { q.AmountRefunded = q.AmountCaptured + 1 }},
			{"refunded plus pending above captured", func(q *payment.Payment) {
				q.AmountRefunded, q.AmountRefundPending = q.AmountCaptured/2+1, q.AmountCaptured/2
			}},
			{"pending at the int64 limit", func(q *payment.Payment) {
				q.AmountRefunded, q.AmountRefundPending = 1, 1<<63-1
			}},
			{"captured above amount", func(q *payment.Payment) { q.AmountCaptured = q.Amount + 1 }},
			{"negative refund", func(q *payment.Payment) { q.AmountRefunded = -1 }},
		} {
			q := *p
			tc.edit(&q)
			require.ErrorIs(t, s.UpdatePayment(ctx, &q, nil), payment.ErrInvalidInput, tc.name)
		}
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got, "refused updates change nothing")

		r := &payment.Refund{
			ID: uniq(payment.PrefixRefund), PaymentID: p.ID, Amount: 0, Currency: p.Currency,
			Status: payment.RefundPending, CreatedAt: at, UpdatedAt: at,
		}
		require.ErrorIs(t, s.CreateRefund(ctx, r, p, nil), payment.ErrInvalidInput, "refund amount > 0")
		require.Equal(t, int64(1), p.Version)

		po := &payment.Payout{
			ID: uniq(payment.PrefixPayout), Provider: "x", OrderID: uniq("o"), Amount: 100, Currency: "THB",
			Fee: -1, Status: payment.PayoutPending, CreatedAt: at, UpdatedAt: at,
		}
		require.ErrorIs(t, s.CreatePayout(ctx, po, nil), payment.ErrInvalidInput, "fee >= 0")

		bad := testPayment(at)
		require.ErrorIs(t, s.CreatePayment(ctx, bad, []payment.Event{{
			ID: uniq(payment.PrefixEvent), Type: payment.EventPaymentCreated, ObjectID: bad.ID,
			Data: []byte(`{not json`), CreatedAt: at,
		}}), payment.ErrInvalidInput, "event data must be JSON")
		_, err = s.GetPayment(ctx, bad.ID)
		require.ErrorIs(t, err, payment.ErrNotFound, "nothing of a refused create is kept")
	})
}

// Beyond what storetest asks: nil and empty nested values stay apart, and
// nested times come back in UTC.
func TestRoundTripExact(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		ctx := t.Context()
		at := now()
		ict := time.FixedZone("ICT", 7*3600)
		exp := at.In(ict).Add(time.Minute)
		p := testPayment(at.In(ict))
		p.Items, p.Flags, p.Metadata = []payment.Item{}, []string{}, map[string]string{}
		p.NextAction = &payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: "000201", ExpiresAt: &exp}
		p.Failure = &payment.Failure{}
		require.NoError(t, s.CreatePayment(ctx, p, nil))
		got, err := s.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.NotNil(t, got.Items)
		require.Empty(t, got.Items)
		require.NotNil(t, got.Flags)
		require.NotNil(t, got.Metadata)
		require.Equal(t, &payment.Failure{}, got.Failure)
		require.Equal(t, time.UTC, got.NextAction.ExpiresAt.Location())
		require.True(t, exp.Equal(*got.NextAction.ExpiresAt))
		require.Equal(t, time.UTC, got.CreatedAt.Location())
		require.True(t, at.Equal(got.CreatedAt))

		q := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, q, nil))
		got, err = s.GetPayment(ctx, q.ID)
		require.NoError(t, err)
		require.Nil(t, got.Items)
		require.Nil(t, got.Flags)
		require.Nil(t, got.Metadata)
		require.Nil(t, got.NextAction)
		require.Nil(t, got.ExpiresAt)

		m := &payment.InboxMessage{Provider: "x", EventKey: uniq("k"), Status: payment.InboxReceived, ReceivedAt: at}
		stored, _, err := s.RecordInbox(ctx, m)
		require.NoError(t, err)
		require.Nil(t, stored.Payload)
	})
}

// Migrate is idempotent, records its versions, and the files it applies are
// exported for hosts with their own migration tool.
func TestMigrate(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		require.NoError(t, Migrate(ctx, db), "a second Migrate is a no-op")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = Migrate(ctx, db)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err, "concurrent Migrate calls")
		}
		require.Equal(t, int64(1), countRows(t, db, "paykit_schema_migrations", "version = ?", "0001_init"))
		require.Equal(t, int64(1), countRows(t, db, "paykit_schema_migrations", "version = ?", "0002_outbox_destinations"))
		if db.Dialect().Name().String() == "pg" {
			require.Equal(t, int64(1), countRows(t, db, "paykit_schema_migrations", "version = ?", "0003_outbox_without_event_fkey"))
			require.Zero(t, countRows(t, db, "pg_constraint", "conname = 'paykit_outbox_event_fkey'"))
		}
		// Inside a host's transaction too.
		require.NoError(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return Migrate(ctx, tx)
		}))
	})
}

func TestMigrationsFS(t *testing.T) {
	t.Parallel()
	fsys := MigrationsFS()
	versions := []string{"0001_init", "0002_outbox_destinations"}
	pgOnly := []string{"0003_outbox_without_event_fkey"}
	for _, d := range []string{"postgres", "sqlite"} {
		versions := versions
		if d == "postgres" {
			versions = append(slices.Clone(versions), pgOnly...)
		}
		up, err := fs.Glob(fsys, d+"/*.up.sql")
		require.NoError(t, err)
		down, err := fs.Glob(fsys, d+"/*.down.sql")
		require.NoError(t, err)
		var wantUp, wantDown []string
		for _, v := range versions {
			wantUp = append(wantUp, d+"/"+v+".up.sql")
			wantDown = append(wantDown, d+"/"+v+".down.sql")
		}
		require.Equal(t, wantUp, up)
		require.Equal(t, wantDown, down)
	}

	// A host applying the files itself, in name order, gets a working
	// schema, and the down files, in reverse order, remove it.
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "own-tool.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	for _, v := range versions {
		upSQL, err := fs.ReadFile(fsys, "sqlite/"+v+".up.sql")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(upSQL))
		require.NoError(t, err, v)
	}
	s := newStore(t, db)
	p := testPayment(now())
	ev := testEvent(payment.EventPaymentCreated, p, p.CreatedAt)
	ev.Destinations = []string{"subscribers", "endpoint:e"}
	require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{ev}))
	msgs, err := s.ClaimOutbox(ctx, "o", now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	n, err := s.AckOutbox(ctx, "o", []string{msgs[0].ID}, now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for i := len(versions) - 1; i >= 0; i-- {
		downSQL, err := fs.ReadFile(fsys, "sqlite/"+versions[i]+".down.sql")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(downSQL))
		require.NoError(t, err, versions[i])
	}
	left, err := queryInt(ctx, db, `SELECT count(*) FROM sqlite_master WHERE name LIKE 'paykit_%'`)
	require.NoError(t, err)
	require.Zero(t, left)
}

// Migration 0002's down file gives 0001's outbox back (the subscribers'
// messages become their events', the endpoints' go), and its up file makes
// 0001's pending messages the subscribers' again, in the same state and the
// same order.
func TestMigrateOutboxDestinations(t *testing.T) {
	check := func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := newStore(t, db)
		at := now()
		p := testPayment(at)
		evs := []payment.Event{
			testEvent(payment.EventPaymentCreated, p, at),
			testEvent(payment.EventPaymentProcessing, p, at),
			testEvent(payment.EventPaymentSucceeded, p, at),
		}
		for i := range evs {
			evs[i].Destinations = []string{"subscribers", "endpoint:e"}
		}
		require.NoError(t, s.CreatePayment(ctx, p, evs))
		msgs, err := s.ClaimOutbox(ctx, "o", at, time.Minute, 10)
		require.NoError(t, err)
		require.Equal(t, []string{evs[0].ID + "/subscribers", evs[0].ID + "/endpoint:e"}, []string{msgs[0].ID, msgs[1].ID})
		// A message delivered before acknowledgements deleted them: kept,
		// with delivered_at.
		_, err = db.ExecContext(ctx, `UPDATE paykit_outbox SET delivered_at = ? WHERE id = ?`, ts(at), msgs[0].ID)
		require.NoError(t, err)
		msgs, err = s.ClaimOutbox(ctx, "o", at, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.NoError(t, s.RetryOutbox(ctx, evs[1].ID+"/subscribers", "o", at.Add(time.Second), "later"))

		// Down to 0001: one message per event, the subscribers'.
		dir := "sqlite/"
		if db.Dialect().Name().String() == "pg" {
			dir = "postgres/"
		}
		downSQL, err := fs.ReadFile(MigrationsFS(), dir+"0002_outbox_destinations.down.sql")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(downSQL))
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `DELETE FROM paykit_schema_migrations WHERE version = ?`, "0002_outbox_destinations")
		require.NoError(t, err)
		require.Equal(t, int64(3), countRows(t, db, "paykit_outbox", "stream = ?", p.ID), "0001's outbox: one row per event")
		require.Equal(t, int64(1), countRows(t, db, "paykit_outbox", "stream = ? AND delivered_at IS NOT NULL", p.ID),
			"the delivered message stays delivered")

		// And up again.
		require.NoError(t, Migrate(ctx, db))
		require.Equal(t, int64(2), countRows(t, db, "paykit_outbox", "destination = 'subscribers' AND id = event_id || '/subscribers'"),
			"the pending messages are the subscribers'")
		require.Zero(t, countRows(t, db, "paykit_outbox", "failed_at IS NOT NULL OR (destination = '' AND delivered_at IS NULL)"))
		msgs, err = s.ClaimOutbox(ctx, "p", at.Add(time.Second), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1, "the stream's order survives: the newer message waits")
		m := msgs[0]
		require.Equal(t, evs[1].ID+"/subscribers", m.ID)
		require.Equal(t, "subscribers", m.Destination)
		require.Equal(t, 1, m.Attempts)
		require.Equal(t, "later", m.LastError)
		require.Equal(t, evs[1].ID, m.Event.ID)
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, _ := openPGAt(t, freshPG(t))
		check(t, db)
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		check(t, openSQLite(t))
	})
}

// Migration 0003 drops the outbox's foreign key on PostgreSQL, and its down
// file puts it back.
func TestMigrateOutboxEventKey(t *testing.T) {
	t.Parallel()
	db, _ := openPGAt(t, freshPG(t))
	ctx := t.Context()
	s := newStore(t, db)
	p := testPayment(now())
	ev := testEvent(payment.EventPaymentCreated, p, p.CreatedAt)
	ev.Destinations = []string{"subscribers"}
	require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{ev}))
	key := "conname = 'paykit_outbox_event_fkey'"
	require.Zero(t, countRows(t, db, "pg_constraint", key))
	downSQL, err := fs.ReadFile(MigrationsFS(), "postgres/0003_outbox_without_event_fkey.down.sql")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, string(downSQL))
	require.NoError(t, err, "the stored messages all have their event")
	require.Equal(t, int64(1), countRows(t, db, "pg_constraint", key))
	_, err = db.ExecContext(ctx, `DELETE FROM paykit_schema_migrations WHERE version = ?`, "0003_outbox_without_event_fkey")
	require.NoError(t, err)
	require.NoError(t, Migrate(ctx, db))
	require.Zero(t, countRows(t, db, "pg_constraint", key))
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(nil)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	var nilDB *bun.DB
	_, err = New(nilDB)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	db := openSQLite(t)
	_, err = New(db, WithMaxAttempts(0))
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	_, err = New(db, WithRetryBackoff(-time.Second))
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	s, err := New(db, nil)
	require.NoError(t, err, "nil options are skipped")
	require.Equal(t, modeDB, s.mode)
	require.False(t, s.pg)
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	for _, dsn := range []string{
		"memory",
		":memory:",
		filepath.Join(dir, "plain.db"),
		"file:" + filepath.Join(dir, "uri.db"),
		"file:" + filepath.Join(dir, "uri-params.db") + "?cache=private",
	} {
		db, err := OpenSQLite(dsn)
		require.NoError(t, err, dsn)
		require.NoError(t, Migrate(ctx, db), dsn)
		var fk int64
		require.NoError(t, db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.Equal(t, int64(1), fk, "%s: foreign keys on", dsn)
		var timeout int64
		require.NoError(t, db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout))
		require.Equal(t, int64(10000), timeout, "%s: busy timeout", dsn)
		if dsn != "memory" && dsn != ":memory:" {
			var mode string
			require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
			require.Equal(t, "wal", mode, "%s: WAL", dsn)
		}
		s := newStore(t, db)
		require.NoError(t, s.CreatePayment(ctx, testPayment(now()), nil), dsn)
		require.NoError(t, db.Close())
	}
	_, err := OpenSQLite("")
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	_, err = OpenSQLite(filepath.Join(dir, "what?.db"))
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

// Payments survive closing and reopening a SQLite file.
func TestSQLitePersists(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "persist.db")
	db, err := OpenSQLite(path)
	require.NoError(t, err)
	require.NoError(t, Migrate(ctx, db))
	p := testPayment(now())
	require.NoError(t, newStore(t, db).CreatePayment(ctx, p, nil))
	require.NoError(t, db.Close())

	db, err = OpenSQLite(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, Migrate(ctx, db))
	got, err := newStore(t, db).GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, p, got)
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"mysql://root:hunter2@localhost/db",
		"postgres://user:hunter2@local host/db",
		"postgres://user:hunter2@localhost/db?sslmode=sometimes",
	} {
		_, err := OpenPostgres(u)
		require.ErrorIs(t, err, payment.ErrInvalidInput, u)
		require.NotContains(t, err.Error(), "hunter2", "errors never carry the password")
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	db, err := Open("memory")
	require.NoError(t, err)
	require.Equal(t, "sqlite", db.Dialect().Name().String())
	require.NoError(t, db.Close())
	db, err = Open(filepath.Join(t.TempDir(), "open.db"))
	require.NoError(t, err)
	require.Equal(t, "sqlite", db.Dialect().Name().String())
	require.NoError(t, db.Close())
	for _, u := range []string{"postgres://postgres@127.0.0.1:1/x", "postgresql://postgres@127.0.0.1:1/x"} {
		db, err = Open(u)
		require.NoError(t, err, "no connection is made yet")
		require.Equal(t, "pg", db.Dialect().Name().String())
		require.NoError(t, db.Close())
	}
}

// TestOpenPostgresKeepsItsConnections: a pool that closes connections a
// burst opened makes the next burst fork new server backends, which costs
// more than the queries. Every connection the pool may open stays open.
func TestOpenPostgresKeepsItsConnections(t *testing.T) {
	t.Parallel()
	db, _ := openPG(t)
	var wg sync.WaitGroup
	for range MaxPostgresConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.ExecContext(t.Context(), "SELECT pg_sleep(0.1)")
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	st := db.Stats()
	require.Equal(t, MaxPostgresConns, st.OpenConnections, "the burst used every connection")
	require.Equal(t, MaxPostgresConns, st.Idle, "and they stay open for the next one")
	require.Zero(t, st.MaxIdleClosed)
}

// A delivered message is deleted: the outbox holds only its backlog.
func TestAckDeletesDeliveredMessages(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := newStore(t, db)
		at := now()
		p := testPayment(at)
		ev := testEvent(payment.EventPaymentCreated, p, at)
		require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{ev}))
		// Leased to "o" directly: ClaimOutbox would also see the messages of
		// the tests that share this database.
		id := ev.ID + "/subscribers"
		_, err := db.ExecContext(ctx, `UPDATE paykit_outbox SET lease_owner = 'o', lease_until = ? WHERE id = ?`,
			ts(at.Add(time.Minute)), id)
		require.NoError(t, err)
		n, err := s.AckOutbox(ctx, "other", []string{id}, at)
		require.NoError(t, err)
		require.Zero(t, n, "only the lease holder acknowledges")
		n, err = s.AckOutbox(ctx, "o", []string{id}, at)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Zero(t, countRows(t, db, "paykit_outbox", "event_id = ?", ev.ID))
		require.Equal(t, int64(1), countRows(t, db, "paykit_events", "id = ?", ev.ID), "the event stays")
		n, err = s.AckOutbox(ctx, "o", []string{id}, at)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
