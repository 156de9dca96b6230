package bunstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paykit/paykit/internal/pgtest"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// testPG is the PostgreSQL database of this test run: created fresh by
// TestMain, migrated, and dropped at the end. url is empty when no server
// could be reached, and err says why.
var testPG struct {
	server string // the server's URL (its maintenance database)
	url    string // this run's database
	err    error
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	server := pgtest.ServerURL()
	testPG.server = server
	drop, err := createTestDatabase(server)
	if err != nil {
		testPG.err = err
	} else {
		defer drop()
	}
	return m.Run()
}

// createTestDatabase creates and migrates this run's database on server,
// sets testPG.url, and returns a function that drops it.
func createTestDatabase(server string) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, drop, err := newDatabase(ctx, server)
	if err != nil {
		return nil, err
	}
	testPG.url = u
	return drop, nil
}

// newDatabase creates a database paykit_test_<random> on server, migrates
// it, and returns its URL and a function that drops it.
func newDatabase(ctx context.Context, server string) (string, func(), error) {
	name := "paykit_test_" + strings.ToLower(rand.Text()[:16])
	u, err := pgtest.WithDatabase(server, name)
	if err != nil {
		return "", nil, err
	}
	admin, err := OpenPostgres(server)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bunstore tests: drop database %s: %v\n", name, err)
		}
		_ = admin.Close()
	}
	db, err := OpenPostgres(u)
	if err == nil {
		err = Migrate(ctx, db)
		_ = db.Close()
	}
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("migrate: %w", err)
	}
	return u, drop, nil
}

// freshPG creates a database of the test's own (for tests that change the
// schema), dropped at cleanup, and returns its URL.
func freshPG(t testing.TB) string {
	t.Helper()
	requirePG(t)
	u, drop, err := newDatabase(t.Context(), testPG.server)
	require.NoError(t, err)
	t.Cleanup(drop)
	return u
}

// requirePG returns this run's PostgreSQL URL. Without a server the test
// is skipped, or fails when CI is set: a suite that skips in CI proves
// nothing.
func requirePG(t testing.TB) string {
	t.Helper()
	if testPG.url == "" {
		pgtest.SkipOrFail(t, testPG.err)
	}
	return testPG.url
}

// openPG opens a pool on this run's database with its own application
// name (so that a test can find and terminate exactly its backends), closed
// at cleanup.
func openPG(t testing.TB) (*bun.DB, string) {
	t.Helper()
	return openPGAt(t, requirePG(t))
}

// openPGAt is openPG for the database at dbURL.
func openPGAt(t testing.TB, dbURL string) (*bun.DB, string) {
	t.Helper()
	app := "paykit_test_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	db, err := OpenPostgres(u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db, app
}

// openSQLite opens a fresh, migrated SQLite database in a temporary
// directory, closed at cleanup.
func openSQLite(t testing.TB) *bun.DB {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "paykit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, Migrate(t.Context(), db))
	return db
}

func newStore(t testing.TB, db bun.IDB, opts ...Option) *Store {
	t.Helper()
	s, err := New(db, opts...)
	require.NoError(t, err)
	return s
}

// backends runs fn for PostgreSQL and SQLite as subtests, each with a
// fresh store.
func backends(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, _ := openPG(t)
		fn(t, db)
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, openSQLite(t))
	})
}

func uniq(prefix string) string { return prefix + rand.Text() }

// testPayment returns a pending payment with fresh ids.
func testPayment(at time.Time) *payment.Payment {
	return &payment.Payment{
		Object:        "payment",
		ID:            uniq(payment.PrefixPayment),
		Provider:      "bt" + strings.ToLower(rand.Text()[:10]),
		Method:        payment.MethodQR,
		OrderID:       uniq("ord_"),
		Amount:        10000,
		Currency:      "THB",
		Status:        payment.StatusPending,
		CaptureMethod: payment.CaptureAutomatic,
		CreatedAt:     at,
		UpdatedAt:     at,
	}
}

func testEvent(typ payment.EventType, p *payment.Payment, at time.Time) payment.Event {
	return payment.Event{
		Object:    "event",
		ID:        uniq(payment.PrefixEvent),
		Type:      typ,
		ObjectID:  p.ID,
		PaymentID: p.ID,
		To:        string(p.Status),
		Source:    payment.SourceAPI,
		Data:      []byte(`{"id":"` + p.ID + `"}`),
		CreatedAt: at,
		// One outbox message each, as the Service addresses events to its
		// subscribers.
		Destinations: []string{"subscribers"},
	}
}

// now returns the time truncated to microseconds, in UTC.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// countRows counts the rows of table matching where.
func countRows(t testing.TB, db bun.IDB, table, where string, args ...any) int64 {
	t.Helper()
	n, err := queryInt(t.Context(), db, "SELECT count(*) FROM "+table+" WHERE "+where, args...)
	require.NoError(t, err)
	return n
}
