package bunstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// sqliteTime is how times are stored on SQLite: UTC, fixed width, so that
// they compare correctly as text.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// pgTime is a timestamptz literal.
const pgTime = "2006-01-02 15:04:05.000000-07:00"

// sqlTime is a time argument, as Unix microseconds (the precision both
// databases keep). It formats itself for the dialect: a timestamptz literal
// on PostgreSQL, fixed-width UTC text on SQLite. (An integer type, not a
// struct: bun would read a lone struct argument as named arguments.)
type sqlTime int64

func ts(t time.Time) sqlTime { return sqlTime(t.UnixMicro()) }

// nts returns NULL for a nil time.
func nts(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// zts returns NULL for the zero time.
func zts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// AppendQuery implements schema.QueryAppender.
func (t sqlTime) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	tm := time.UnixMicro(int64(t)).UTC()
	b = append(b, '\'')
	if gen.Dialect().Name() == dialect.PG {
		b = tm.AppendFormat(b, pgTime)
	} else {
		b = tm.AppendFormat(b, sqliteTime)
	}
	return append(b, '\''), nil
}

// scanTime scans a time column (time.Time from PostgreSQL, text from
// SQLite) into UTC. NULL leaves valid false.
type scanTime struct {
	t     time.Time
	valid bool
}

func (s *scanTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		s.t, s.valid = time.Time{}, false
		return nil
	case time.Time:
		s.t, s.valid = v.UTC(), true
		return nil
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("bunstore: cannot scan %T into a time", v)
	}
}

func (s *scanTime) parse(v string) error {
	t, err := time.Parse(sqliteTime, v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("bunstore: bad time %q: %w", v, err)
		}
	}
	s.t, s.valid = t.UTC(), true
	return nil
}

// ptr returns the time, or nil for NULL.
func (s *scanTime) ptr() *time.Time {
	if !s.valid {
		return nil
	}
	t := s.t
	return &t
}

// jsonArg encodes a nested value as JSON text, or NULL when isNil.
func jsonArg(v any, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bunstore: encode %T: %w", v, err)
	}
	return string(b), nil
}

// rawJSONArg stores raw JSON as given, or NULL when empty.
func rawJSONArg(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// bytesArg keeps nil as NULL and an empty slice as an empty value.
func bytesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// decodeJSON decodes a nullable JSON column into dst; NULL leaves dst as it is.
func decodeJSON(col string, b []byte, dst any) error {
	if b == nil {
		return nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("bunstore: decode %s: %w", col, err)
	}
	return nil
}

// column is a column and its PostgreSQL type, for VALUES lists whose types
// PostgreSQL cannot infer.
type column struct {
	name, pgType string
}

func columnNames(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// placeholders returns "(?, ?, ...)" for one row of cols, with casts on
// PostgreSQL when typed is set.
func placeholders(cols []column, pg, typed bool) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		if pg && typed {
			b.WriteString("::")
			b.WriteString(c.pgType)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// valuesRows returns n rows of placeholders, comma separated.
func valuesRows(cols []column, n int, pg, typed bool) string {
	row := placeholders(cols, pg, typed)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// setList returns "a = ?, b = ?" for cols.
func setList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.name + " = ?"
	}
	return strings.Join(parts, ", ")
}

// inList returns "?, ?, ?" for n values.
func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// queryRows runs a query and calls scan for each row. It reads every row,
// so that an error PostgreSQL reports after the rows (a data-modifying CTE
// fails at the end of the statement) is returned.
func queryRows(ctx context.Context, db bun.IDB, scan func(rows scanner) error, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	var scanErr error
	for rows.Next() {
		if scanErr == nil {
			scanErr = scan(rows)
		}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return scanErr
}

// scanner is the Scan method of *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryInt runs a query that returns one integer (a count) and returns it.
func queryInt(ctx context.Context, db bun.IDB, query string, args ...any) (int64, error) {
	var n int64
	err := queryRows(ctx, db, func(r scanner) error { return r.Scan(&n) }, query, args...)
	return n, err
}
