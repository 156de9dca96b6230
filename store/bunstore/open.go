package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/paykit/paykit/payment"
)

// Open opens the database dsn names: a "postgres://" or "postgresql://" URL
// with OpenPostgres, anything else (a file path, a "file:" URI, "memory")
// with OpenSQLite. It suits a -db flag. Run Migrate before New.
func Open(dsn string) (*bun.DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return OpenPostgres(dsn)
	}
	return OpenSQLite(dsn)
}

// sqlitePragmas are set on every SQLite connection OpenSQLite makes:
// a 10 s busy timeout first (waiting for the write lock instead of failing),
// write-ahead logging (readers never block the writer), foreign keys, and
// BEGIN IMMEDIATE for transactions (a transaction that will write takes the
// write lock at once, so it cannot deadlock upgrading from a read).
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// OpenSQLite opens a SQLite database with the pure-Go driver
// modernc.org/sqlite (no cgo), set up for a Store: WAL, a busy timeout,
// foreign keys on, and immediate transactions. dsnOrPath is a file path
// ("paykit.db"), a "file:" URI (its own parameters are kept; the ones above
// are added), or "memory" (or ":memory:") for a database that lives as long
// as the returned DB. An in-memory database has a single connection, so a
// host must not hold a transaction open while calling a Store on the same
// DB. Run Migrate before New.
func OpenSQLite(dsnOrPath string) (*bun.DB, error) {
	if dsnOrPath == "" {
		return nil, fmt.Errorf("bunstore: open sqlite: empty path: %w", payment.ErrInvalidInput)
	}
	memory := dsnOrPath == "memory" || dsnOrPath == ":memory:"
	var dsn string
	switch {
	case memory:
		dsn = ":memory:?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	case strings.HasPrefix(dsnOrPath, "file:"):
		sep := "?"
		if strings.Contains(dsnOrPath, "?") {
			sep = "&"
		}
		dsn = dsnOrPath + sep + sqlitePragmas
	default:
		if strings.ContainsAny(dsnOrPath, "?#") {
			return nil, fmt.Errorf("bunstore: open sqlite: a path with ? or # must be given as a file: URI: %w",
				payment.ErrInvalidInput)
		}
		dsn = dsnOrPath + "?" + sqlitePragmas
	}
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("bunstore: open sqlite: %w", err)
	}
	if memory {
		// Each connection to :memory: is a database of its own: keep
		// exactly one, forever.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxLifetime(0)
		sqldb.SetConnMaxIdleTime(0)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bunstore: open sqlite: %w", mapError(err))
	}
	return db, nil
}

// MaxPostgresConns is the default size of the connection pool OpenPostgres
// opens.
const MaxPostgresConns = 20

// OpenPostgres returns a PostgreSQL database for url
// ("postgres://user:password@host:5432/dbname?sslmode=disable"), through
// bun's pgdriver. It does not connect: the first query does, and every
// query finds a live connection (connections a restarted or terminated
// server left dead are dropped from the pool before use), so a Store keeps
// working when the database comes back. The pool holds at most
// MaxPostgresConns connections (callers beyond that wait for one), so a
// burst of requests cannot exhaust the server's max_connections; change it
// with db.SetMaxOpenConns (and db.SetMaxIdleConns to the same number). It
// keeps them open between bursts, up to five idle minutes: a closed
// connection costs the next request a new server backend. Run Migrate
// before New.
func OpenPostgres(url string) (*bun.DB, error) {
	u, err := parsePostgresURL(url)
	if err != nil {
		return nil, err
	}
	c, err := pgdriver.NewDriver().OpenConnector(u)
	if err != nil {
		// pgdriver's message may quote the URL, password included.
		return nil, fmt.Errorf("bunstore: open postgres: invalid URL: %w", payment.ErrInvalidInput)
	}
	connector, ok := c.(*pgdriver.Connector)
	if !ok {
		return nil, fmt.Errorf("bunstore: open postgres: unexpected connector %T", c)
	}
	connector.Config().EnableTracing = false
	DropDeadConnections(connector)
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(MaxPostgresConns)
	sqldb.SetMaxIdleConns(MaxPostgresConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// DropDeadConnections makes the pool that opens c check each connection
// before it reuses it, and drop one the server has closed (a restart, a
// failover, pg_terminate_backend) instead of running the next statement on
// it. The check peeks at the socket without blocking; it keeps c's own
// ResetSessionFunc, run after it. OpenPostgres's pools have it. Call it on
// a connector you open yourself, before sql.OpenDB: without it, a prepared
// statement (see WithoutPreparedStatements) that meets a dead connection
// fails with ErrUnavailable, where the check would have run it on another.
func DropDeadConnections(c *pgdriver.Connector) {
	conf := c.Config()
	next := conf.ResetSessionFunc
	conf.ResetSessionFunc = func(ctx context.Context, cn *pgdriver.Conn) error {
		if connDead(cn.Conn()) {
			return driver.ErrBadConn
		}
		if next != nil {
			return next(ctx, cn)
		}
		return nil
	}
}

// parsePostgresURL checks the scheme and returns url, without putting the
// URL (which may hold a password) in an error.
func parsePostgresURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("bunstore: open postgres: invalid URL: %w", payment.ErrInvalidInput)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("bunstore: open postgres: URL scheme %q is not postgres: %w", u.Scheme, payment.ErrInvalidInput)
	}
	return s, nil
}
