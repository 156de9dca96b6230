package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

const inboxColumns = `provider, event_key, status, object_id, payload, error, received_at, processed_at`

// inboxTypes are inboxColumns with their PostgreSQL types, for VALUES lists.
var inboxTypes = []column{
	{"provider", "text"},
	{"event_key", "text"},
	{"status", "text"},
	{"object_id", "text"},
	{"payload", "bytea"},
	{"error", "text"},
	{"received_at", "timestamptz"},
	{"processed_at", "timestamptz"},
}

// inboxArgs returns m's values for inboxColumns.
func inboxArgs(m *payment.InboxMessage) []any {
	return []any{
		m.Provider, m.EventKey, string(m.Status), m.ObjectID, bytesArg(m.Payload), m.Error,
		ts(m.ReceivedAt), nts(m.ProcessedAt),
	}
}

// carriedInbox returns the Inbox messages events carry, flattened for a
// VALUES list, and how many there are.
func carriedInbox(events []payment.Event) ([]any, int) {
	var args []any
	n := 0
	for i := range events {
		if m := events[i].Inbox; m != nil {
			args = append(args, inboxArgs(m)...)
			n++
		}
	}
	return args, n
}

// insertCarriedInbox inserts the Inbox messages events carry (SQLite, in
// the write's transaction). A message stored already fails the insert, and
// with it the write: ErrAlreadyExists.
func (s *Store) insertCarriedInbox(ctx context.Context, db bun.IDB, events []payment.Event) error {
	args, n := carriedInbox(events)
	if n == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO paykit_inbox (`+inboxColumns+`) VALUES `+
		valuesRows(inboxTypes, n, s.pg, false), args...); err != nil {
		return err
	}
	return s.step("inbox")
}

func scanInbox(r scanner) (*payment.InboxMessage, error) {
	var (
		m                   payment.InboxMessage
		received, processed scanTime
	)
	if err := r.Scan(&m.Provider, &m.EventKey, &m.Status, &m.ObjectID, &m.Payload, &m.Error,
		&received, &processed); err != nil {
		return nil, err
	}
	m.ReceivedAt, m.ProcessedAt = received.t, processed.ptr()
	return &m, nil
}

// RecordInbox implements payment.Store: an INSERT ... ON CONFLICT DO
// NOTHING, and a read of the stored message when it was there already.
func (s *Store) RecordInbox(ctx context.Context, m *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	if m == nil {
		return nil, false, fmt.Errorf("bunstore: record inbox: nil message: %w", payment.ErrInvalidInput)
	}
	var (
		stored   *payment.InboxMessage
		inserted bool
	)
	scan := func(r scanner) error {
		var err error
		stored, err = scanInbox(r)
		return err
	}
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		stored, inserted = nil, false
		err := queryRows(ctx, db, scan, `INSERT INTO paykit_inbox (`+inboxColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, event_key) DO NOTHING
			RETURNING `+inboxColumns, inboxArgs(m)...)
		if err != nil {
			return err
		}
		if stored != nil {
			inserted = true
			return nil
		}
		// Inbox messages are never deleted: the one that conflicted is there.
		err = queryRows(ctx, db, scan, `SELECT `+inboxColumns+` FROM paykit_inbox
			WHERE provider = ? AND event_key = ?`, m.Provider, m.EventKey)
		if err == nil && stored == nil {
			err = fmt.Errorf("conflicting message vanished: %w", payment.ErrConflict)
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("bunstore: record inbox %s/%s: %w", m.Provider, m.EventKey, err)
	}
	return stored, inserted, nil
}

// GetInbox implements payment.Store.
func (s *Store) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	var m *payment.InboxMessage
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		m = nil
		return queryRows(ctx, db, func(r scanner) error {
			var err error
			m, err = scanInbox(r)
			return err
		}, `SELECT `+inboxColumns+` FROM paykit_inbox WHERE provider = ? AND event_key = ?`, provider, eventKey)
	})
	if err == nil && m == nil {
		err = payment.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("bunstore: get inbox %s/%s: %w", provider, eventKey, err)
	}
	return m, nil
}

// UpdateInbox implements payment.Store.
func (s *Store) UpdateInbox(ctx context.Context, m *payment.InboxMessage) error {
	if m == nil {
		return fmt.Errorf("bunstore: update inbox: nil message: %w", payment.ErrInvalidInput)
	}
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		res, err := db.ExecContext(ctx, `UPDATE paykit_inbox SET status = ?, object_id = ?, error = ?,
			processed_at = ? WHERE provider = ? AND event_key = ?`,
			string(m.Status), m.ObjectID, m.Error, nts(m.ProcessedAt), m.Provider, m.EventKey)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return payment.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bunstore: update inbox %s/%s: %w", m.Provider, m.EventKey, err)
	}
	return nil
}

// ListInbox implements payment.Store.
func (s *Store) ListInbox(ctx context.Context, status payment.InboxStatus, limit int) ([]*payment.InboxMessage, error) {
	out := []*payment.InboxMessage{}
	if limit <= 0 {
		return out, nil
	}
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = out[:0]
		return queryRows(ctx, db, func(r scanner) error {
			m, err := scanInbox(r)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		}, `SELECT `+inboxColumns+` FROM paykit_inbox WHERE status = ? ORDER BY received_at, seq LIMIT ?`,
			string(status), limit)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: list inbox %s: %w", status, err)
	}
	return out, nil
}
