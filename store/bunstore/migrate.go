package bunstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paykit/paykit/payment"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrations embed.FS

// migrateLock is the PostgreSQL advisory lock Migrate holds, so that
// instances starting together migrate one at a time ("paykit" in ASCII).
const migrateLock = 0x7061796b6974

// MigrationsFS returns paykit's schema as plain SQL files, for hosts that
// run their own migration tool: postgres/NNNN_name.up.sql and
// postgres/NNNN_name.down.sql, and the same under sqlite/. The up files,
// applied in name order, give the schema Migrate creates (Migrate also
// keeps the applied versions in a paykit_schema_migrations table).
func MigrationsFS() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil { // cannot happen: the directory is embedded
		return migrations
	}
	return sub
}

// Migrate creates or upgrades paykit's tables in db (PostgreSQL or SQLite).
// It is idempotent: it records the versions it applied in
// paykit_schema_migrations and applies only the missing ones, each with its
// version row in one transaction. On PostgreSQL an advisory lock lets
// several instances call it at once. db may be the host's bun.Tx.
func Migrate(ctx context.Context, db bun.IDB) error {
	if db == nil {
		return fmt.Errorf("bunstore: migrate: nil database: %w", payment.ErrInvalidInput)
	}
	var dir string
	pg := false
	switch name := db.Dialect().Name(); name {
	case dialect.PG:
		dir, pg = "migrations/postgres", true
	case dialect.SQLite:
		dir = "migrations/sqlite"
	default:
		return fmt.Errorf("bunstore: migrate: dialect %s is not supported: %w", name, payment.ErrInvalidInput)
	}
	files, err := fs.Glob(migrations, dir+"/*.up.sql")
	if err != nil {
		return fmt.Errorf("bunstore: migrate: %w", err)
	}
	slices.Sort(files)

	err = db.RunInTx(ctx, nil, func(_ context.Context, tx bun.Tx) error {
		table := `CREATE TABLE IF NOT EXISTS paykit_schema_migrations (
			version    TEXT NOT NULL PRIMARY KEY,
			applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
		)`
		if pg {
			if _, err := queryInt(ctx, tx, `SELECT 1 FROM (SELECT pg_advisory_xact_lock(?)) AS l`, int64(migrateLock)); err != nil {
				return err
			}
			table = `CREATE TABLE IF NOT EXISTS paykit_schema_migrations (
				version    text        NOT NULL PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`
		}
		if _, err := tx.ExecContext(ctx, table); err != nil {
			return err
		}
		if !pg {
			// Take SQLite's write lock now, before reading, so that two
			// migrators cannot both decide to apply the same file.
			if _, err := tx.ExecContext(ctx, `UPDATE paykit_schema_migrations SET version = version WHERE 0 = 1`); err != nil {
				return err
			}
		}
		applied := map[string]bool{}
		if err := queryRows(ctx, tx, func(r scanner) error {
			var v string
			if err := r.Scan(&v); err != nil {
				return err
			}
			applied[v] = true
			return nil
		}, `SELECT version FROM paykit_schema_migrations`); err != nil {
			return err
		}
		for _, f := range files {
			version := strings.TrimSuffix(path.Base(f), ".up.sql")
			if applied[version] {
				continue
			}
			sql, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(sql)); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO paykit_schema_migrations (version) VALUES (?)`, version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bunstore: migrate: %w", mapError(err))
	}
	return nil
}
