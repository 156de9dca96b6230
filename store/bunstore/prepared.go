package bunstore

import (
	"context"
	"database/sql"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/uptrace/bun"
)

// maxPrepared bounds how many statements a Store prepares. Statements whose
// text varies with their input (IN lists, one VALUES row per event) make a
// few dozen variants; past the bound, statements run unprepared.
const maxPrepared = 256

// preparedDB is a PostgreSQL pool that runs the Store's statements as
// prepared statements: PostgreSQL parses, analyses and plans each text
// once per connection instead of once per call, which is about half of
// the server's work for a checkout's statements. Every other method is the
// pool's.
type preparedDB struct {
	*bun.DB
	stmts *stmtCache
}

// stmtCache holds the prepared statements of one pool, by the statement's
// text with bun's ? placeholders.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*preparedStmt
}

// preparedStmt is a prepared statement, or nil stmt when its text cannot be
// prepared (it runs through bun instead).
type preparedStmt struct {
	stmt *sql.Stmt
	args int // how many placeholders it has
}

func newPreparedDB(db *bun.DB) preparedDB {
	return preparedDB{DB: db, stmts: cacheFor(db.DB)}
}

// poolCaches holds one stmtCache per pool (weak.Pointer[sql.DB] to
// *stmtCache), so that every Store on a pool shares its prepared
// statements: a host that makes a Store per request does not prepare the
// statements again on every connection for each.
var poolCaches sync.Map

// cacheFor returns the statement cache of pool, dropped when the pool is.
func cacheFor(pool *sql.DB) *stmtCache {
	k := weak.Make(pool)
	if c, ok := poolCaches.Load(k); ok {
		return c.(*stmtCache)
	}
	c, loaded := poolCaches.LoadOrStore(k, &stmtCache{m: map[string]*preparedStmt{}})
	if !loaded {
		runtime.AddCleanup(pool, func(k weak.Pointer[sql.DB]) { poolCaches.Delete(k) }, k)
	}
	return c.(*stmtCache)
}

// QueryContext runs query, a statement with bun's ? placeholders, as a
// prepared statement.
func (p preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ps, err := p.prepare(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if ps == nil {
		return p.DB.QueryContext(ctx, query, args...)
	}
	return ps.stmt.QueryContext(ctx, driverArgs(args)...)
}

// ExecContext runs query, a statement with bun's ? placeholders, as a
// prepared statement.
func (p preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ps, err := p.prepare(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if ps == nil {
		return p.DB.ExecContext(ctx, query, args...)
	}
	return ps.stmt.ExecContext(ctx, driverArgs(args)...)
}

// prepare returns the prepared statement of query, preparing it on first
// use, or nil when query is to run unprepared: its placeholders do not
// match its n arguments, or the cache is full.
func (p preparedDB) prepare(ctx context.Context, query string, n int) (*preparedStmt, error) {
	c := p.stmts
	c.mu.Lock()
	ps, ok := c.m[query]
	full := len(c.m) >= maxPrepared
	c.mu.Unlock()
	if ok {
		if ps.stmt == nil || ps.args != n {
			return nil, nil
		}
		return ps, nil
	}
	if full {
		return nil, nil
	}
	numbered, count := numberPlaceholders(query)
	ps = &preparedStmt{args: count}
	if count == n {
		// database/sql prepares it on each connection as the connection
		// first runs it.
		stmt, err := p.DB.DB.PrepareContext(ctx, numbered)
		switch {
		case err == nil:
			ps.stmt = stmt
		case pgCode(err) == "":
			return nil, err // the connection failed: try again next time
		}
		// PostgreSQL refused to prepare it: it runs through bun.
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prior, ok := c.m[query]; ok {
		// Another caller prepared it meanwhile: keep one.
		if ps.stmt != nil {
			_ = ps.stmt.Close()
		}
		ps = prior
	} else {
		c.m[query] = ps
	}
	if ps.stmt == nil || ps.args != n {
		return nil, nil
	}
	return ps, nil
}

// numberPlaceholders turns bun's ? placeholders into PostgreSQL's $1, $2...
// and counts them. A ? inside a quoted literal or identifier is left alone.
func numberPlaceholders(query string) (string, int) {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // the open quote, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), n
}

// driverArgs converts the Store's arguments to database/sql values: a
// sqlTime becomes the same timestamptz text bun would write.
func driverArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(sqlTime); ok {
			out[i] = time.UnixMicro(int64(t)).UTC().Format(pgTime)
			continue
		}
		out[i] = a
	}
	return out
}
