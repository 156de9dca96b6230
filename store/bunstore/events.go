package bunstore

import (
	"context"
	"encoding/json"
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

// outboxStream is the SQL for payment.Event.Stream.
const outboxStream = `CASE WHEN payment_id <> '' THEN payment_id ELSE object_id END`

func eventArgs(events []payment.Event) []any {
	args := make([]any, 0, len(events)*len(eventColumns))
	for i := range events {
		e := &events[i]
		args = append(args, e.ID, string(e.Type), e.ObjectID, e.PaymentID, e.From, e.To,
			string(e.Source), e.ProviderEventID, e.Reason, rawJSONArg(e.Data), ts(e.CreatedAt))
	}
	return args
}

// notifying returns the ids of the events that go to the outbox.
func notifying(events []payment.Event) []any {
	var ids []any
	for i := range events {
		if events[i].Notifies() {
			ids = append(ids, events[i].ID)
		}
	}
	return ids
}

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
// events and their outbox rows. When guard names a CTE, the events are
// inserted only if that CTE returned a row (the compare-and-set matched).
// The outbox rows are selected from the events' RETURNING, so the database
// runs the three writes in order, in one statement.
func addEventCTEs(q *query, events []payment.Event, guard string) {
	if len(events) == 0 {
		return
	}
	cols := columnNames(eventColumns)
	if guard == "" {
		q.add(`, e AS (INSERT INTO paykit_events (`+cols+`) VALUES `+
			valuesRows(eventColumns, len(events), true, false), eventArgs(events)...)
	} else {
		q.add(`, e AS (INSERT INTO paykit_events (`+cols+`) SELECT v.* FROM (VALUES `+
			valuesRows(eventColumns, len(events), true, true)+`) AS v WHERE EXISTS (SELECT 1 FROM `+guard+`)`,
			eventArgs(events)...)
	}
	q.add(` RETURNING id, seq, type, object_id, payment_id, created_at)`)
	if len(notifying(events)) > 0 {
		q.add(`, o AS (INSERT INTO paykit_outbox (id, event_id, seq, stream, next_attempt_at)
			SELECT id, id, seq, `+outboxStream+`, created_at FROM e WHERE type <> ?)`, string(payment.EventIgnored))
	}
}

// insertEvents inserts events, and outbox rows for those that notify when
// outbox is set, with one statement each (SQLite, in a transaction).
func (s *Store) insertEvents(ctx context.Context, db bun.IDB, events []payment.Event, outbox bool) error {
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
	if !outbox {
		return nil
	}
	ids := notifying(events)
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO paykit_outbox (id, event_id, seq, stream, next_attempt_at)
		SELECT id, id, seq, `+outboxStream+`, created_at FROM paykit_events WHERE id IN (`+inList(len(ids))+`)`,
		ids...); err != nil {
		return err
	}
	return s.step("outbox")
}

// AppendEvents implements payment.Store.
func (s *Store) AppendEvents(ctx context.Context, events []payment.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		_, err := db.ExecContext(ctx, `INSERT INTO paykit_events (`+columnNames(eventColumns)+`) VALUES `+
			valuesRows(eventColumns, len(events), s.pg, false), eventArgs(events)...)
		return err
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
