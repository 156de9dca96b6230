package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// ClaimDuePayments implements payment.Store.
func (s *Store) ClaimDuePayments(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payment, error) {
	out, err := claimDue(ctx, s, "paykit_payments", paymentRead, now, lease, limit,
		func(r scanner) (*payment.Payment, error) { return scanPayment(r) },
		func(p *payment.Payment) (string, **time.Time) { return p.ID, &p.NextSyncAt })
	if err != nil {
		return nil, fmt.Errorf("bunstore: claim due payments: %w", err)
	}
	return out, nil
}

// ClaimDuePayouts implements payment.Store.
func (s *Store) ClaimDuePayouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payout, error) {
	out, err := claimDue(ctx, s, "paykit_payouts", payoutRead, now, lease, limit,
		func(r scanner) (*payment.Payout, error) { return scanPayout(r) },
		func(p *payment.Payout) (string, **time.Time) { return p.ID, &p.NextSyncAt })
	if err != nil {
		return nil, fmt.Errorf("bunstore: claim due payouts: %w", err)
	}
	return out, nil
}

// claimDue leases up to limit rows of table whose next_sync_at is not after
// now, by moving next_sync_at to now+lease, and returns them (read with the
// column list cols) oldest due first. On PostgreSQL it is one statement with
// FOR UPDATE SKIP LOCKED, so concurrent sweepers never get the same row and
// never wait for each other; on SQLite the write lock serializes sweepers.
func claimDue[T any](ctx context.Context, s *Store, table, cols string, now time.Time, lease time.Duration,
	limit int, scan func(r scanner) (T, error), fields func(T) (id string, next **time.Time),
) ([]T, error) {
	out := []T{}
	if limit <= 0 {
		return out, nil
	}
	n, until := ts(now), ts(now.Add(lease))
	add := func(r scanner) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		out = out[:0]
		if s.pg {
			return queryRows(ctx, db, add, `WITH c AS (
				SELECT id, next_sync_at AS due FROM `+table+` WHERE next_sync_at <= ?
				ORDER BY next_sync_at, id LIMIT ? FOR UPDATE SKIP LOCKED
			), u AS (
				UPDATE `+table+` t SET next_sync_at = ? FROM c WHERE t.id = c.id RETURNING t.*, c.due
			) SELECT `+cols+` FROM u ORDER BY due, id`, n, limit, until)
		}
		// SQLite: this transaction holds the write lock, so nothing moves
		// between the read and the update.
		if err := queryRows(ctx, db, add, `SELECT `+cols+` FROM `+table+` WHERE next_sync_at <= ?
			ORDER BY next_sync_at, id LIMIT ?`, n, limit); err != nil || len(out) == 0 {
			return err
		}
		ids := make([]any, len(out))
		next := time.UnixMicro(int64(until)).UTC()
		for i, v := range out {
			id, ns := fields(v)
			ids[i] = id
			t := next
			*ns = &t
		}
		_, err := db.ExecContext(ctx, `UPDATE `+table+` SET next_sync_at = ? WHERE id IN (`+inList(len(ids))+`)`,
			append([]any{until}, ids...)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
