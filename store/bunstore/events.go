package bunstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

var eventColumns = []column{
	{"id", "text"},
	{"type", "text"},
	{"object_id", "text"},
	{"payment_id", "text"},
	{"from_status", "text"},
	{"to_status", "text"},
	{"source", "text"},
	{"provider_event_id", "text"},
	{"reason", "text"},
	{"data", "json"},
	{"created_at", "timestamptz"},
}

const eventSelect = `SELECT id, type, object_id, payment_id, from_status, to_status, source,
	provider_event_id, reason, data, created_at FROM paykit_events`

// outboxStream is the SQL for payment.Event.Stream, of the events e.
const outboxStream = `CASE WHEN e.payment_id <> '' THEN e.payment_id ELSE e.object_id END`

func eventArgs(events []payment.Event) []any {
	args := make([]any, 0, len(events)*len(eventColumns))
	for i := range events {
		e := &events[i]
		args = append(args, e.ID, string(e.Type), e.ObjectID, e.PaymentID, e.From, e.To,
			string(e.Source), e.ProviderEventID, e.Reason, rawJSONArg(e.Data), ts(e.CreatedAt))
	}
	return args
}

// deliveries returns the (event id, destination, ord) rows of events'
// outbox messages, ord counting them in order (by event, then by
// destination), flattened for a VALUES list, and how many there are.
func deliveries(events []payment.Event) ([]any, int) {
	var args []any
	n := 0
	for i := range events {
		for _, d := range events[i].Destinations {
			args = append(args, events[i].ID, d, n)
			n++
		}
	}
	return args, n
}

// outboxInsert returns the INSERT of the outbox messages of the events in
// events (a table or CTE named e), one per row of the VALUES list d
// (event_id, destination, ord). Each message takes a seq of its own, seq,
// an SQL expression evaluated after the rows are sorted by ord: taken from
// the events' counter after the events' seqs, the messages are newer than
// their events and every stored message, in the order of the events and of
// each event's destinations.
func outboxInsert(events, seq string) string {
	return `INSERT INTO paykit_outbox (id, event_id, destination, seq, stream, next_attempt_at)
		SELECT e.id || '/' || d.destination, e.id, d.destination, ` + seq + `, ` + outboxStream + `, e.created_at
		FROM d JOIN ` + events + ` ON e.id = d.event_id ORDER BY d.ord`
}

// pgNextSeq takes the next value of the events' identity sequence.
const pgNextSeq = `nextval(pg_get_serial_sequence('paykit_events', 'seq'))`

// query is a SQL text with its arguments, built in pieces.
type query struct {
	b    strings.Builder
	args []any
}

func (q *query) add(sql string, args ...any) {
	q.b.WriteString(sql)
	q.args = append(q.args, args...)
}

func (q *query) String() string { return q.b.String() }

// addEventCTEs appends to a PostgreSQL WITH clause the CTEs that insert
// events, the Inbox messages they carry and their outbox rows. When guard
// names a CTE, owners gives the id each event belongs to (by index), and
// the events, with the messages they carry, are inserted only for the ids
// the guard returned: the compare-and-sets that matched.
// The outbox rows are selected from the events' RETURNING, so the database
// runs the three writes in order, in one statement.
func addEventCTEs(q *query, events []payment.Event, guard string, owners []string) {
	if len(events) == 0 {
		return
	}
	cols := columnNames(eventColumns)
	if guard == "" {
		q.add(`, e AS (INSERT INTO paykit_events (`+cols+`) VALUES `+
			valuesRows(eventColumns, len(events), true, false), eventArgs(events)...)
	} else {
		q.add(`, e AS (INSERT INTO paykit_events (`+cols+`) SELECT `+qualified("v", eventColumns)+` FROM (VALUES `+
			valuesRows(owned(eventColumns), len(events), true, true)+`) AS v (owner, `+cols+`)`+ownedBy(guard),
			withOwners(owners, len(eventColumns), eventArgs(events))...)
	}
	q.add(` RETURNING id, seq, object_id, payment_id, created_at)`)
	if args, n := carriedInbox(events); n > 0 {
		// A plain INSERT: a message stored already fails the statement
		// (unique_violation), so nothing of it is written.
		if guard == "" {
			q.add(`, i AS (INSERT INTO paykit_inbox (`+inboxColumns+`) VALUES `+
				valuesRows(inboxTypes, n, true, false)+`)`, args...)
		} else {
			q.add(`, i AS (INSERT INTO paykit_inbox (`+inboxColumns+`) SELECT `+qualified("v", inboxTypes)+` FROM (VALUES `+
				valuesRows(owned(inboxTypes), n, true, true)+`) AS v (owner, `+inboxColumns+`)`+ownedBy(guard)+`)`,
				withOwners(carrierOwners(events, owners), len(inboxTypes), args)...)
		}
	}
	if args, n := deliveries(events); n > 0 {
		// nextval runs after the sort (PostgreSQL evaluates volatile output
		// expressions after ORDER BY), so the seqs follow ord.
		q.add(`, d (event_id, destination, ord) AS (VALUES `+valuesTriples(n)+`), o AS (`+outboxInsert("e", pgNextSeq)+`)`, args...)
	}
}

// sameOwner returns owners for addEventCTEs when every event belongs to id.
func sameOwner(id string, events []payment.Event) []string {
	owners := make([]string, len(events))
	for i := range owners {
		owners[i] = id
	}
	return owners
}

// owned returns cols after an owner column, the id of the object the row
// belongs to.
func owned(cols []column) []column {
	return append([]column{{"owner", "text"}}, cols...)
}

// ownedBy is the condition that a VALUES row v belongs to an object the
// CTE guard returned.
func ownedBy(guard string) string {
	return ` WHERE v.owner IN (SELECT id FROM ` + guard + `)`
}

// withOwners returns args, rows of width values, each after its owner.
func withOwners(owners []string, width int, args []any) []any {
	out := make([]any, 0, len(args)+len(owners))
	for i, o := range owners {
		out = append(out, o)
		out = append(out, args[i*width:(i+1)*width]...)
	}
	return out
}

// carrierOwners returns the owners of the events that carry an Inbox
// message, in order.
func carrierOwners(events []payment.Event, owners []string) []string {
	var out []string
	for i := range events {
		if events[i].Inbox != nil {
			out = append(out, owners[i])
		}
	}
	return out
}

// qualified returns the names of cols, each prefixed with table.
func qualified(table string, cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = table + "." + c.name
	}
	return strings.Join(names, ", ")
}

// valuesTriples returns "(?, ?, ?), (?, ?, ?)..." for n rows of (event id,
// destination, ord); ord is cast, so that it sorts as a number when the
// statement is prepared.
func valuesTriples(n int) string {
	return strings.TrimSuffix(strings.Repeat("(?, ?, CAST(? AS integer)), ", n), ", ")
}

// insertEvents inserts events, the Inbox messages they carry and their
// outbox messages, with one statement each (SQLite, in a transaction).
func (s *Store) insertEvents(ctx context.Context, db bun.IDB, events []payment.Event) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO paykit_events (`+columnNames(eventColumns)+`) VALUES `+
		valuesRows(eventColumns, len(events), s.pg, false), eventArgs(events)...); err != nil {
		return err
	}
	if err := s.step("events"); err != nil {
		return err
	}
	if err := s.insertCarriedInbox(ctx, db, events); err != nil {
		return err
	}
	args, n := deliveries(events)
	if n == 0 {
		return nil
	}
	// Reserve n seqs above every event's and every message's: AUTOINCREMENT
	// never hands out a rowid at or below the counter.
	top, err := queryInt(ctx, db, `UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'paykit_events' RETURNING seq`, n)
	if err != nil {
		return err
	}
	if top < int64(n) {
		return errors.New("no paykit_events sequence")
	}
	if _, err := db.ExecContext(ctx, `WITH d (event_id, destination, ord) AS (VALUES `+valuesTriples(n)+`) `+
		outboxInsert("paykit_events e", fmt.Sprintf("%d + d.ord", top-int64(n)+1)), args...); err != nil {
		return err
	}
	return s.step("outbox")
}

// AppendEvents implements payment.Store.
func (s *Store) AppendEvents(ctx context.Context, events []payment.Event) error {
	if len(events) == 0 {
		return nil
	}
	insert := `INSERT INTO paykit_events (` + columnNames(eventColumns) + `) VALUES ` +
		valuesRows(eventColumns, len(events), s.pg, false)
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if _, n := carriedInbox(events); n == 0 {
			_, err := db.ExecContext(ctx, insert, eventArgs(events)...)
			return err
		}
		if s.pg {
			// One statement, atomic by itself: the events, then the messages.
			var q query
			q.add(`WITH e AS (`+insert+` RETURNING id)`, eventArgs(events)...)
			args, n := carriedInbox(events)
			q.add(`, i AS (INSERT INTO paykit_inbox (`+inboxColumns+`) VALUES `+
				valuesRows(inboxTypes, n, true, false)+`)`, args...)
			q.add(` SELECT count(*) FROM e`)
			_, err := queryInt(ctx, db, q.String(), q.args...)
			return err
		}
		if _, err := db.ExecContext(ctx, insert, eventArgs(events)...); err != nil {
			return err
		}
		return s.insertCarriedInbox(ctx, db, events)
	})
	if err != nil {
		return fmt.Errorf("bunstore: append events: %w", err)
	}
	return nil
}

// ListEvents implements payment.Store.
func (s *Store) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	var out []payment.Event
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = []payment.Event{}
		return queryRows(ctx, db, func(r scanner) error {
			e, err := scanEvent(r)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		}, eventSelect+` WHERE object_id = ?
			OR (payment_id = ? AND payment_id <> '' AND payment_id <> object_id) ORDER BY seq`, id, id)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: list events %s: %w", id, err)
	}
	return out, nil
}

func scanEvent(r scanner) (payment.Event, error) {
	var (
		e       payment.Event
		data    []byte
		created scanTime
	)
	dest := []any{
		&e.ID, &e.Type, &e.ObjectID, &e.PaymentID, &e.From, &e.To, &e.Source,
		&e.ProviderEventID, &e.Reason, &data, &created,
	}
	if err := r.Scan(dest...); err != nil {
		return e, err
	}
	e.Object = "event"
	if data != nil {
		e.Data = json.RawMessage(data)
	}
	e.CreatedAt = created.t
	return e, nil
}
