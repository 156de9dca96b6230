package reliability

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykit/paykit/internal/pgtest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/bunstore"
)

// pgServer is the PostgreSQL server of this run, probed once.
var pgServer struct {
	once sync.Once
	url  string // the server's URL (its maintenance database); empty when unreachable
	err  error
}

func probePG() {
	pgServer.once.Do(func() {
		server := pgtest.ServerURL()
		db, err := bunstore.OpenPostgres(server)
		if err != nil {
			pgServer.err = err
			return
		}
		defer func() { _ = db.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			pgServer.err = err
			return
		}
		pgServer.url = server
	})
}

// requirePG returns the server's URL. Without a server the test is skipped,
// or fails when CI is set: a suite that skips in CI proves nothing.
func requirePG(t testing.TB) string {
	t.Helper()
	probePG()
	if pgServer.url == "" {
		pgtest.SkipOrFail(t, pgServer.err)
	}
	return pgServer.url
}

// withDatabase returns server's URL with the database name replaced and
// the query parameters set.
func withDatabase(t testing.TB, server, name string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(server)
	require.NoError(t, err)
	if name != "" {
		u.Path = "/" + name
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func randomName(prefix string) string { return prefix + strings.ToLower(rand.Text()[:12]) }

// adminDB opens a small pool on the server's maintenance database, closed at
// cleanup.
func adminDB(t testing.TB) *bun.DB {
	t.Helper()
	db, err := bunstore.OpenPostgres(requirePG(t))
	require.NoError(t, err)
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// freshPG creates a migrated database of the test's own, dropped at
// cleanup, and returns its URL. Tests that run the sweeper or the
// dispatcher need one: both work on every row of the database.
func freshPG(t testing.TB) string {
	t.Helper()
	server := requirePG(t)
	name := randomName("paykit_rel_")
	admin, err := bunstore.OpenPostgres(server)
	require.NoError(t, err)
	admin.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	dbURL := withDatabase(t, server, name, nil)
	db, err := bunstore.OpenPostgres(dbURL)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	require.NoError(t, bunstore.Migrate(ctx, db))
	return dbURL
}

// pgStore is a bunstore Store on its own pool, whose connections carry an
// application name of their own so that a test can terminate exactly them.
type pgStore struct {
	*bunstore.Store
	db  *bun.DB
	app string
}

// openPGStore opens a Store on dbURL with at most maxConns connections.
func openPGStore(t testing.TB, dbURL string, maxConns int, opts ...bunstore.Option) *pgStore {
	t.Helper()
	app := randomName("paykit_rel_app_")
	db, err := bunstore.OpenPostgres(withDatabase(t, dbURL, "", map[string]string{"application_name": app}))
	require.NoError(t, err)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { _ = db.Close() })
	s, err := bunstore.New(db, opts...)
	require.NoError(t, err)
	return &pgStore{Store: s, db: db, app: app}
}

// terminateBackends kills every backend of application app, and returns
// how many it killed.
func terminateBackends(ctx context.Context, admin bun.IDB, app string) (int, error) {
	var n int
	err := admin.NewRaw(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = ?) AS k`, app).Scan(ctx, &n)
	return n, err
}

// backend is a kind of Store the scenarios run against.
type backend struct {
	name string
	pg   bool
	// open returns a fresh, empty Store (on PostgreSQL, in a database of
	// the test's own).
	open func(t testing.TB) payment.Store
}

func memBackend() backend {
	return backend{name: "memstore", open: func(testing.TB) payment.Store { return newMemStore() }}
}

func pgBackend() backend {
	return backend{name: "postgres", pg: true, open: func(t testing.TB) payment.Store {
		return openPGStore(t, freshPG(t), 16).Store
	}}
}

// eachBackend runs fn as a subtest per backend, in parallel.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range []backend{memBackend(), pgBackend()} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if b.pg {
				requirePG(t)
			}
			fn(t, b)
		})
	}
}
