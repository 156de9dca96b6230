package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// outboxSelect reads outbox messages with their events; the query using it
// names the outbox o and the event e.
const outboxSelect = `SELECT o.id, o.stream, o.destination, o.attempts, o.next_attempt_at, o.lease_owner,
	o.lease_until, o.last_error, o.delivered_at, o.failed_at, e.id, e.type, e.object_id, e.payment_id,
	e.from_status, e.to_status, e.source, e.provider_event_id, e.reason, e.data, e.created_at`

// pending is the condition for an outbox message o to be pending: neither
// delivered nor failed. The partial indexes of the outbox use it.
const pending = `o.delivered_at IS NULL AND o.failed_at IS NULL`

// claimable is the condition for an outbox message o to be claimed at the
// first argument (given twice): pending, due, not leased, and the oldest
// pending message of its destination and stream. The oldest is found with
// a min() subquery, one descent of the queue index per candidate: written
// as NOT EXISTS (an older pending message), PostgreSQL planned an anti
// join that scanned every pending message for each candidate while the
// table had no statistics yet, which under load it often has not.
const claimable = pending + ` AND o.next_attempt_at <= ?
	AND (o.lease_until IS NULL OR o.lease_until <= ?)
	AND o.seq = (SELECT min(older.seq) FROM paykit_outbox older
		WHERE older.destination = o.destination AND older.stream = o.stream
		AND older.delivered_at IS NULL AND older.failed_at IS NULL)`

func scanOutbox(r scanner) (*payment.OutboxMessage, error) {
	var (
		m                                          payment.OutboxMessage
		next, leaseUntil, delivered, failed, evtAt scanTime
		data                                       []byte
		e                                          = &m.Event
	)
	if err := r.Scan(&m.ID, &m.Stream, &m.Destination, &m.Attempts, &next, &m.LeaseOwner, &leaseUntil,
		&m.LastError, &delivered, &failed, &e.ID, &e.Type, &e.ObjectID, &e.PaymentID, &e.From, &e.To,
		&e.Source, &e.ProviderEventID, &e.Reason, &data, &evtAt); err != nil {
		return nil, err
	}
	e.Object = "event"
	if data != nil {
		e.Data = data
	}
	e.CreatedAt = evtAt.t
	m.NextAttemptAt, m.LeaseUntil = next.t, leaseUntil.t
	m.DeliveredAt, m.FailedAt = delivered.ptr(), failed.ptr()
	return &m, nil
}

// ClaimOutbox implements payment.Store. On PostgreSQL it is one statement:
// the claimable messages are locked with FOR UPDATE SKIP LOCKED, so
// concurrent claimers pass over each other's rows instead of waiting, and
// leased in the same statement. On SQLite the write lock serializes
// claimers.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	out := []*payment.OutboxMessage{}
	if limit <= 0 {
		return out, nil
	}
	n, until := ts(now), ts(now.Add(lease))
	scan := func(r scanner) error {
		m, err := scanOutbox(r)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	}
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		out = out[:0]
		if s.pg {
			return queryRows(ctx, db, scan, `WITH c AS (
				SELECT o.id FROM paykit_outbox o WHERE `+claimable+`
				ORDER BY o.seq LIMIT ? FOR UPDATE OF o SKIP LOCKED
			), u AS (
				UPDATE paykit_outbox o SET lease_owner = ?, lease_until = ? FROM c
				WHERE o.id = c.id RETURNING o.*
			) `+outboxSelect+` FROM u o JOIN paykit_events e ON e.id = o.event_id ORDER BY o.seq`,
				n, n, limit, owner, until)
		}
		rows, err := db.QueryContext(ctx, `UPDATE paykit_outbox SET lease_owner = ?, lease_until = ?
			WHERE id IN (SELECT o.id FROM paykit_outbox o WHERE `+claimable+`
			ORDER BY o.seq LIMIT ?) RETURNING id`, owner, until, n, n, limit)
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			_ = rows.Close()
			return err
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return queryRows(ctx, db, scan, outboxSelect+` FROM paykit_outbox o
			JOIN paykit_events e ON e.id = o.event_id WHERE o.id IN (`+inList(len(ids))+`)
			ORDER BY o.seq`, ids...)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: claim outbox: %w", err)
	}
	return out, nil
}

// AckOutbox implements payment.Store: one DELETE of every message. A
// delivered message is done, and nothing reads it again; deleting it keeps
// the outbox the size of its backlog, and costs PostgreSQL less than an
// update that makes a new version of the row (and index entries for it).
func (s *Store) AckOutbox(ctx context.Context, owner string, ids []string, _ time.Time) (int, error) {
	n, err := s.writeLeased(ctx, `DELETE FROM paykit_outbox AS o`, nil, owner, ids)
	if err != nil {
		return 0, fmt.Errorf("bunstore: ack %d outbox messages: %w", len(ids), err)
	}
	return n, nil
}

// writeLeased runs stmt (a DELETE or an UPDATE of paykit_outbox AS o, with
// its own arguments args) on the pending messages of ids that owner holds,
// in one statement, and returns how many it changed.
func (s *Store) writeLeased(ctx context.Context, stmt string, args []any, owner string, ids []string) (int, error) {
	if len(ids) == 0 || owner == "" {
		return 0, nil
	}
	all := make([]any, 0, len(args)+len(ids)+1)
	all = append(append(all, args...), owner)
	for _, id := range ids {
		all = append(all, id)
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		res, err := db.ExecContext(ctx, stmt+` WHERE o.lease_owner = ? AND `+pending+
			` AND o.id IN (`+inList(len(ids))+`)`, all...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// RetryOutbox implements payment.Store.
func (s *Store) RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	err := s.leased(ctx, id, owner, `UPDATE paykit_outbox AS o SET lease_owner = '', lease_until = NULL,
		attempts = attempts + 1, last_error = ?, next_attempt_at = ?
		WHERE o.id = ? AND o.lease_owner = ? AND `+pending, lastErr, ts(next), id, owner)
	if err != nil {
		return fmt.Errorf("bunstore: retry outbox %s: %w", id, err)
	}
	return nil
}

// ReleaseOutbox implements payment.Store: one UPDATE of every message.
func (s *Store) ReleaseOutbox(ctx context.Context, owner string, ids []string, next time.Time) (int, error) {
	n, err := s.writeLeased(ctx, `UPDATE paykit_outbox AS o SET lease_owner = '', lease_until = NULL, next_attempt_at = ?`,
		[]any{ts(next)}, owner, ids)
	if err != nil {
		return 0, fmt.Errorf("bunstore: release %d outbox messages: %w", len(ids), err)
	}
	return n, nil
}

// FailOutbox implements payment.Store.
func (s *Store) FailOutbox(ctx context.Context, id, owner, lastErr string, now time.Time) error {
	err := s.leased(ctx, id, owner, `UPDATE paykit_outbox AS o SET lease_owner = '', lease_until = NULL,
		attempts = attempts + 1, last_error = ?, failed_at = ?
		WHERE o.id = ? AND o.lease_owner = ? AND `+pending, lastErr, ts(now), id, owner)
	if err != nil {
		return fmt.Errorf("bunstore: fail outbox %s: %w", id, err)
	}
	return nil
}

// ListFailedOutbox implements payment.Store.
func (s *Store) ListFailedOutbox(ctx context.Context, limit int) ([]*payment.OutboxMessage, error) {
	out := []*payment.OutboxMessage{}
	if limit <= 0 {
		return out, nil
	}
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = out[:0]
		return queryRows(ctx, db, func(r scanner) error {
			m, err := scanOutbox(r)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		}, outboxSelect+` FROM paykit_outbox o JOIN paykit_events e ON e.id = o.event_id
			WHERE o.failed_at IS NOT NULL ORDER BY o.failed_at, o.seq LIMIT ?`, limit)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: list failed outbox: %w", err)
	}
	return out, nil
}

// RedeliverOutbox implements payment.Store.
func (s *Store) RedeliverOutbox(ctx context.Context, eventID string, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		res, err := db.ExecContext(ctx, `UPDATE paykit_outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?
			WHERE event_id = ? AND failed_at IS NOT NULL`, ts(now), eventID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bunstore: redeliver outbox %s: %w", eventID, err)
	}
	return int(n), nil
}

// leased runs an update of a message owner holds: ErrNotFound when there is
// no such message, ErrConflict when owner does not hold it.
func (s *Store) leased(ctx context.Context, id, owner, sql string, args ...any) error {
	return s.leasedDo(ctx, id, owner, func(ctx context.Context, db bun.IDB) (int64, error) {
		res, err := db.ExecContext(ctx, sql, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// leasedDo runs fn, a write of a message owner holds that returns how many
// messages it changed, atomically: ErrNotFound when fn changed none and
// there is no such message, ErrConflict when owner does not hold it.
func (s *Store) leasedDo(ctx context.Context, id, owner string, fn func(ctx context.Context, db bun.IDB) (int64, error)) error {
	return s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if owner == "" {
			return fmt.Errorf("empty lease owner: %w", payment.ErrConflict)
		}
		n, err := fn(ctx, db)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		c, err := queryInt(ctx, db, `SELECT count(*) FROM paykit_outbox WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if c == 0 {
			return payment.ErrNotFound
		}
		return payment.ErrConflict
	})
}
