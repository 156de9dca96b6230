package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

var refundColumns = []column{
	{"id", "text"},
	{"payment_id", "text"},
	{"amount", "bigint"},
	{"currency", "text"},
	{"status", "text"},
	{"reason", "text"},
	{"provider_reference", "text"},
	{"failure", "jsonb"},
	{"created_at", "timestamptz"},
	{"updated_at", "timestamptz"},
}

const refundSelect = `SELECT id, payment_id, amount, currency, status, reason, provider_reference,
	failure, created_at, updated_at FROM paykit_refunds`

func refundArgs(r *payment.Refund) ([]any, error) {
	failure, err := jsonArg(r.Failure, r.Failure == nil)
	if err != nil {
		return nil, err
	}
	return []any{
		r.ID, r.PaymentID, r.Amount, r.Currency, string(r.Status), r.Reason, r.ProviderReference,
		failure, ts(r.CreatedAt), ts(r.UpdatedAt),
	}, nil
}

func scanRefund(r scanner) (*payment.Refund, error) {
	var (
		rf               payment.Refund
		failure          []byte
		created, updated scanTime
	)
	if err := r.Scan(&rf.ID, &rf.PaymentID, &rf.Amount, &rf.Currency, &rf.Status, &rf.Reason,
		&rf.ProviderReference, &failure, &created, &updated); err != nil {
		return nil, err
	}
	rf.Object = "refund"
	if err := decodeJSON("failure", failure, &rf.Failure); err != nil {
		return nil, err
	}
	rf.CreatedAt, rf.UpdatedAt = created.t, updated.t
	return &rf, nil
}

// CreateRefund implements payment.Store.
func (s *Store) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	if r == nil || p == nil {
		return fmt.Errorf("bunstore: create refund: nil refund or payment: %w", payment.ErrInvalidInput)
	}
	rargs, err := refundArgs(r)
	if err != nil {
		return fmt.Errorf("bunstore: create refund %s: %w", r.ID, err)
	}
	update, pargs, err := paymentUpdate(p)
	if err != nil {
		return fmt.Errorf("bunstore: create refund %s: %w", r.ID, err)
	}
	cols := columnNames(refundColumns)
	err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if s.pg {
			// u, then r (which reads u), then the events (which read r):
			// one statement, written in that order.
			var q query
			q.add(`WITH u AS (`+update+` RETURNING id)`, pargs...)
			q.add(`, r AS (INSERT INTO paykit_refunds (`+cols+`) SELECT v.* FROM u, (VALUES `+
				placeholders(refundColumns, true, true)+`) AS v RETURNING id)`, rargs...)
			addEventCTEs(&q, events, "r", sameOwner(r.ID, events), false)
			q.add(` SELECT count(*) FROM u`)
			n, err := queryInt(ctx, db, q.String(), q.args...)
			if err != nil {
				return err
			}
			if n == 0 {
				return casMiss(ctx, db, "paykit_payments", p.ID)
			}
			return nil
		}
		if err := s.casSQLite(ctx, db, "paykit_payments", p.ID, update, pargs); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO paykit_refunds (`+cols+`) VALUES `+
			placeholders(refundColumns, false, false), rargs...); err != nil {
			return err
		}
		if err := s.step("refund"); err != nil {
			return err
		}
		return s.insertEvents(ctx, db, events)
	})
	if err != nil {
		return fmt.Errorf("bunstore: create refund %s: %w", r.ID, err)
	}
	p.Version++
	return nil
}

// UpdateRefund implements payment.Store.
func (s *Store) UpdateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	if r == nil || p == nil {
		return fmt.Errorf("bunstore: update refund: nil refund or payment: %w", payment.ErrInvalidInput)
	}
	rargs, err := refundArgs(r)
	if err != nil {
		return fmt.Errorf("bunstore: update refund %s: %w", r.ID, err)
	}
	rargs = append(rargs[1:], r.ID)
	update, pargs, err := paymentUpdate(p)
	if err != nil {
		return fmt.Errorf("bunstore: update refund %s: %w", r.ID, err)
	}
	set := setList(refundColumns[1:])
	err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if s.pg {
			var q query
			// The payment changes only if the refund exists, and the
			// refund only if the payment changed: both or neither.
			q.add(`WITH u AS (`+update+` AND EXISTS (SELECT 1 FROM paykit_refunds
				WHERE paykit_refunds.id = ?) RETURNING id)`, append(pargs, r.ID)...)
			q.add(`, r AS (UPDATE paykit_refunds SET `+set+` FROM u WHERE paykit_refunds.id = ?
				RETURNING paykit_refunds.id)`, rargs...)
			addEventCTEs(&q, events, "r", sameOwner(r.ID, events), false)
			q.add(` SELECT count(*) FROM u`)
			n, err := queryInt(ctx, db, q.String(), q.args...)
			if err != nil {
				return err
			}
			if n == 0 {
				if err := rowExists(ctx, db, "paykit_refunds", r.ID); err != nil {
					return err
				}
				return casMiss(ctx, db, "paykit_payments", p.ID)
			}
			return nil
		}
		if err := s.casSQLite(ctx, db, "paykit_payments", p.ID, update, pargs); err != nil {
			return err
		}
		res, err := db.ExecContext(ctx, `UPDATE paykit_refunds SET `+set+` WHERE id = ?`, rargs...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return payment.ErrNotFound
		}
		if err := s.step("refund"); err != nil {
			return err
		}
		return s.insertEvents(ctx, db, events)
	})
	if err != nil {
		return fmt.Errorf("bunstore: update refund %s: %w", r.ID, err)
	}
	p.Version++
	return nil
}

// rowExists returns ErrNotFound when table has no row id.
func rowExists(ctx context.Context, db bun.IDB, table, id string) error {
	n, err := queryInt(ctx, db, `SELECT count(*) FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return payment.ErrNotFound
	}
	return nil
}

// GetRefund implements payment.Store.
func (s *Store) GetRefund(ctx context.Context, id string) (*payment.Refund, error) {
	var out *payment.Refund
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = nil
		return queryRows(ctx, db, func(r scanner) error {
			var err error
			out, err = scanRefund(r)
			return err
		}, refundSelect+` WHERE id = ?`, id)
	})
	if err == nil && out == nil {
		err = payment.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("bunstore: get refund %s: %w", id, err)
	}
	return out, nil
}

// ListRefunds implements payment.Store.
func (s *Store) ListRefunds(ctx context.Context, paymentID string) ([]*payment.Refund, error) {
	var out []*payment.Refund
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = []*payment.Refund{}
		return queryRows(ctx, db, func(r scanner) error {
			rf, err := scanRefund(r)
			if err != nil {
				return err
			}
			out = append(out, rf)
			return nil
		}, refundSelect+` WHERE payment_id = ? ORDER BY created_at, id`, paymentID)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: list refunds %s: %w", paymentID, err)
	}
	return out, nil
}
