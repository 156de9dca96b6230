package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

const idemColumns = `idem_key, fingerprint, resource_id, status, response, locked_until, created_at, expires_at`

func scanIdem(r scanner) (*payment.IdempotencyRecord, error) {
	var (
		rec                      payment.IdempotencyRecord
		locked, created, expires scanTime
	)
	if err := r.Scan(&rec.Key, &rec.Fingerprint, &rec.ResourceID, &rec.Status, &rec.Response,
		&locked, &created, &expires); err != nil {
		return nil, err
	}
	rec.LockedUntil, rec.CreatedAt, rec.ExpiresAt = locked.t, created.t, expires.t
	return &rec, nil
}

// acquireSQL inserts the record, or takes over an existing one that expired
// (replaced as given) or whose request died (same fingerprint, still in
// progress, lock run out: only locked_until changes). It returns the row
// when the key was acquired and nothing otherwise. The SET expressions read
// the row as it was before the update.
const acquireSQL = `INSERT INTO paykit_idempotency_keys (` + idemColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (idem_key) DO UPDATE SET
	fingerprint = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.fingerprint ELSE paykit_idempotency_keys.fingerprint END,
	resource_id = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.resource_id ELSE paykit_idempotency_keys.resource_id END,
	status = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.status ELSE paykit_idempotency_keys.status END,
	response = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.response ELSE paykit_idempotency_keys.response END,
	created_at = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.created_at ELSE paykit_idempotency_keys.created_at END,
	expires_at = CASE WHEN paykit_idempotency_keys.expires_at <= ?
		THEN excluded.expires_at ELSE paykit_idempotency_keys.expires_at END,
	locked_until = excluded.locked_until
WHERE paykit_idempotency_keys.expires_at <= ?
	OR (paykit_idempotency_keys.status = ?
		AND paykit_idempotency_keys.fingerprint = excluded.fingerprint
		AND (paykit_idempotency_keys.locked_until IS NULL OR paykit_idempotency_keys.locked_until <= ?))
RETURNING ` + idemColumns

// AcquireIdempotencyKey implements payment.Store. It is one statement
// (an upsert) when the key is acquired, and a second one that reads the
// stored record when it is not.
func (s *Store) AcquireIdempotencyKey(ctx context.Context, rec *payment.IdempotencyRecord, now time.Time) (*payment.IdempotencyRecord, bool, error) {
	if rec == nil {
		return nil, false, fmt.Errorf("bunstore: acquire idempotency key: nil record: %w", payment.ErrInvalidInput)
	}
	n := ts(now)
	args := []any{
		rec.Key, rec.Fingerprint, rec.ResourceID, string(rec.Status), bytesArg(rec.Response),
		zts(rec.LockedUntil), ts(rec.CreatedAt), ts(rec.ExpiresAt),
		n, n, n, n, n, n, n, string(payment.IdempotencyInProgress), n,
	}
	var (
		stored   *payment.IdempotencyRecord
		acquired bool
	)
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		// The stored record may expire and be deleted between the two
		// statements: then try again.
		for range 3 {
			stored, acquired = nil, false
			err := queryRows(ctx, db, func(r scanner) error {
				var err error
				stored, err = scanIdem(r)
				return err
			}, acquireSQL, args...)
			if err != nil {
				return err
			}
			if stored != nil {
				acquired = true
				return nil
			}
			err = queryRows(ctx, db, func(r scanner) error {
				var err error
				stored, err = scanIdem(r)
				return err
			}, `SELECT `+idemColumns+` FROM paykit_idempotency_keys WHERE idem_key = ?`, rec.Key)
			if err != nil || stored != nil {
				return err
			}
		}
		return fmt.Errorf("key keeps changing: %w", payment.ErrConflict)
	})
	if err != nil {
		return nil, false, fmt.Errorf("bunstore: acquire idempotency key: %w", err)
	}
	return stored, acquired, nil
}

// CompleteIdempotencyKey implements payment.Store.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, key string, response []byte) error {
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		res, err := db.ExecContext(ctx, `UPDATE paykit_idempotency_keys SET status = ?, response = ?
			WHERE idem_key = ?`, string(payment.IdempotencyCompleted), bytesArg(response), key)
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
		return fmt.Errorf("bunstore: complete idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey implements payment.Store.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		_, err := db.ExecContext(ctx, `DELETE FROM paykit_idempotency_keys WHERE idem_key = ? AND status = ?`,
			key, string(payment.IdempotencyInProgress))
		return err
	})
	if err != nil {
		return fmt.Errorf("bunstore: release idempotency key: %w", err)
	}
	return nil
}

// DeleteExpiredIdempotencyKeys implements payment.Store.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		res, err := db.ExecContext(ctx, `DELETE FROM paykit_idempotency_keys WHERE expires_at <= ?`, ts(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bunstore: delete expired idempotency keys: %w", err)
	}
	return int(n), nil
}
