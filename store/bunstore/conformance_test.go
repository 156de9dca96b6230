package bunstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/storetest"
)

// TestConformance runs the Store conformance suite on PostgreSQL (with
// prepared statements, the default, and without) and on SQLite. Each backend shares one store (and database) between subtests,
// as storetest allows.
func TestConformance(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, _ := openPG(t)
		s := newStore(t, db)
		storetest.Run(t, func(*testing.T) payment.Store { return s })
	})
	t.Run("postgres_unprepared", func(t *testing.T) {
		t.Parallel()
		// A database of its own: the suite's outbox tests claim every
		// pending message of the database they run on.
		db, _ := openPGAt(t, freshPG(t))
		s := newStore(t, db, WithoutPreparedStatements())
		storetest.Run(t, func(*testing.T) payment.Store { return s })
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, openSQLite(t))
		storetest.Run(t, func(*testing.T) payment.Store { return s })
	})
	t.Run("sqlite_memory", func(t *testing.T) {
		t.Parallel()
		db, err := OpenSQLite("memory")
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, Migrate(t.Context(), db))
		s := newStore(t, db)
		storetest.Run(t, func(*testing.T) payment.Store { return s })
	})
}
