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

// deliveryColumns are the columns of the VALUES list d of a write's outbox
// messages: the event, the destination, the message's place in the write,
// and the lease it asks for (” and NULL for none).
var deliveryColumns = []column{
	{"event_id", "text"},
	{"destination", "text"},
	{"ord", "integer"},
	{"lease_owner", "text"},
	{"lease_until", "timestamptz"},
}

// deliveries returns the rows of events' outbox messages for the VALUES
// list d (deliveryColumns), ord counting them in order (by event, then by
// destination), flattened, and how many there are. With leases, a message
// asks for the lease of its event's Lease (see payment.Event.Lease) when
// every earlier message of its destination and stream in events asked for
// the same: the database checks only what was stored before the statement.
func deliveries(events []payment.Event, leases bool) ([]any, int) {
	var (
		args  []any
		n     int
		first map[[2]string]string // (destination, stream) -> the owner its first message asked for
	)
	for i := range events {
		e := &events[i]
		for _, d := range e.Destinations {
			owner, until := "", any(nil)
			if l := e.Lease; leases && l != nil && l.Destination == d {
				owner, until = l.Owner, ts(l.Until)
			}
			if leases {
				if first == nil {
					first = map[[2]string]string{}
				}
				k := [2]string{d, e.Stream()}
				if prev, seen := first[k]; !seen {
					first[k] = owner
				} else if prev != owner {
					first[k], owner, until = "", "", nil
				}
			}
			args = append(args, e.ID, d, n, owner, until)
			n++
		}
	}
	return args, n
}

// outboxHeld is the condition that the new message of a row of d (about the
// event e) is written leased: it asks for a lease, and its owner holds
// every pending message of its destination and stream.
const outboxHeld = `d.lease_owner <> '' AND NOT EXISTS (SELECT 1 FROM paykit_outbox older
	WHERE older.destination = d.destination AND older.stream = ` + outboxStream + `
	AND older.delivered_at IS NULL AND older.failed_at IS NULL AND older.lease_owner <> d.lease_owner)`

// outboxInsert returns the INSERT of the outbox messages of the events in
// events (a table or CTE named e), one per row of the VALUES list d
// (deliveryColumns), returning each message's event id and lease owner.
// Each message takes a seq of its own, seq, an SQL expression evaluated
// after the rows are sorted by m.ord: taken from the events' counter after
// the events' seqs, the messages are newer than their events and every
// stored message, in the order of the events and of each event's
// destinations. The CTE m decides each message's lease once (outboxHeld
// looks up the outbox); MATERIALIZED keeps the database from copying that
// decision, and its lookup, into both columns it sets.
func outboxInsert(events, seq string) string {
	return `INSERT INTO paykit_outbox (id, event_id, destination, seq, stream, next_attempt_at, lease_owner, lease_until)
		WITH m AS MATERIALIZED (SELECT d.ord, e.id, d.destination, ` + outboxStream + ` AS stream, e.created_at, d.lease_until,
			CASE WHEN ` + outboxHeld + ` THEN d.lease_owner ELSE '' END AS lease_owner
			FROM d JOIN ` + events + ` ON e.id = d.event_id)
		SELECT m.id || '/' || m.destination, m.id, m.destination, ` + seq + `, m.stream, m.created_at,
			m.lease_owner, CASE WHEN m.lease_owner <> '' THEN m.lease_until END
		FROM m ORDER BY m.ord RETURNING event_id, lease_owner`
}

// ungrant clears Lease.Granted on events, before a write reports it.
func ungrant(events []payment.Event) {
	for i := range events {
		if l := events[i].Lease; l != nil {
			l.Granted = false
		}
	}
}

// grant sets Lease.Granted on the events whose message was written leased:
// rows of (event id, lease owner) from outboxInsert's RETURNING.
func grant(events []payment.Event, id, owner string) {
	if owner == "" {
		return
	}
	for i := range events {
		if l := events[i].Lease; l != nil && events[i].ID == id && l.Owner == owner {
			l.Granted = true
		}
	}
}

// pgNextSeq takes the next value of the events' identity sequence.
const pgNextSeq = `nextval(pg_get_serial_sequence('paykit_events', 'seq'))`

// query is a SQL text with its arguments, built in pieces. With argsOnly,
// only the arguments are collected: the caller has the text already (see
// batchTexts).
type query struct {
	b        strings.Builder
	args     []any
	argsOnly bool
}

func (q *query) add(sql string, args ...any) {
	if !q.argsOnly {
		q.b.WriteString(sql)
	}
	q.args = append(q.args, args...)
}

// addShaped is add for a piece of text built from the statement's shape
// (its VALUES rows, its column lists): build runs only when the text is
// wanted. A batch's text runs to kilobytes, and building it to throw it
// away was most of what a batch cost in Go once its text was cached.
func (q *query) addShaped(build func() string, args ...any) {
	if !q.argsOnly {
		q.b.WriteString(build())
	}
	q.args = append(q.args, args...)
}

func (q *query) String() string { return q.b.String() }

// addEventCTEs appends to a PostgreSQL WITH clause the CTEs that insert
// events, the Inbox messages they carry and their outbox rows (the CTE o,
// returning outboxInsert's rows), and reports whether it added o. With
// leases, the outbox rows are written leased as their events ask (see
// deliveries); the statement then reads o to report it. When guard
// names a CTE, owners gives the id each event belongs to (by index), and
// the events, with the messages they carry, are inserted only for the ids
// the guard returned: the compare-and-sets that matched.
// The outbox rows are selected from the events' RETURNING, so the database
// runs the three writes in order, in one statement.
func addEventCTEs(q *query, events []payment.Event, guard string, owners []string, leases bool) (outbox bool) {
	if len(events) == 0 {
		return false
	}
	if guard == "" {
		q.addShaped(func() string {
			return `, e AS (INSERT INTO paykit_events (` + columnNames(eventColumns) + `) VALUES ` +
				valuesRows(eventColumns, len(events), true, false)
		}, eventArgs(events)...)
	} else {
		q.addShaped(func() string {
			cols := columnNames(eventColumns)
			return `, e AS (INSERT INTO paykit_events (` + cols + `) SELECT ` + qualified("v", eventColumns) + ` FROM (VALUES ` +
				valuesRows(owned(eventColumns), len(events), true, true) + `) AS v (owner, ` + cols + `)` + ownedBy(guard)
		}, withOwners(owners, len(eventColumns), eventArgs(events))...)
	}
	q.add(` RETURNING id, seq, object_id, payment_id, created_at)`)
	if args, n := carriedInbox(events); n > 0 {
		// A plain INSERT: a message stored already fails the statement
		// (unique_violation), so nothing of it is written.
		if guard == "" {
			q.addShaped(func() string {
				return `, i AS (INSERT INTO paykit_inbox (` + inboxColumns + `) VALUES ` +
					valuesRows(inboxTypes, n, true, false) + `)`
			}, args...)
		} else {
			q.addShaped(func() string {
				return `, i AS (INSERT INTO paykit_inbox (` + inboxColumns + `) SELECT ` + qualified("v", inboxTypes) + ` FROM (VALUES ` +
					valuesRows(owned(inboxTypes), n, true, true) + `) AS v (owner, ` + inboxColumns + `)` + ownedBy(guard) + `)`
			}, withOwners(carrierOwners(events, owners), len(inboxTypes), args)...)
		}
	}
	args, n := deliveries(events, leases)
	if n == 0 {
		return false
	}
	// nextval runs after the sort (PostgreSQL evaluates volatile output
	// expressions after ORDER BY), so the seqs follow ord.
	q.addShaped(func() string {
		return `, d (` + columnNames(deliveryColumns) + `) AS (VALUES ` + valuesRows(deliveryColumns, n, true, true) + `), o AS (` +
			outboxInsert("e", pgNextSeq) + `)`
	}, args...)
	return true
}

// leasedEvents is a query of the ids of the events whose outbox messages the
// CTE o wrote leased, and their owners.
const leasedEvents = `SELECT event_id, lease_owner FROM o WHERE lease_owner <> ''`

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
	ungrant(events)
	args, n := deliveries(events, true)
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
	err = queryRows(ctx, db, func(r scanner) error {
		var id, owner string
		if err := r.Scan(&id, &owner); err != nil {
			return err
		}
		grant(events, id, owner)
		return nil
	}, `WITH d (`+columnNames(deliveryColumns)+`) AS (VALUES `+valuesRows(deliveryColumns, n, false, false)+`) `+
		outboxInsert("paykit_events e", fmt.Sprintf("%d + m.ord", top-int64(n)+1)), args...)
	if err != nil {
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
