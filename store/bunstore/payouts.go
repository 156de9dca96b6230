package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

var payoutColumns = []column{
	{"id", "text"},
	{"provider", "text"},
	{"order_id", "text"},
	{"amount", "bigint"},
	{"currency", "text"},
	{"fee", "bigint"},
	{"transfer_amount", "bigint"},
	{"bank_code", "text"},
	{"bank_account_number", "text"},
	{"bank_account_name", "text"},
	{"status", "text"},
	{"provider_reference", "text"},
	{"failure", "jsonb"},
	{"metadata", "jsonb"},
	{"created_at", "timestamptz"},
	{"updated_at", "timestamptz"},
	{"next_sync_at", "timestamptz"},
}

// payoutRead is the column list scanPayout reads.
const payoutRead = `id, provider, order_id, amount, currency, fee, transfer_amount, bank_code,
	bank_account_number, bank_account_name, status, provider_reference, failure, metadata, created_at,
	updated_at, next_sync_at, version`

const payoutSelect = `SELECT ` + payoutRead + ` FROM paykit_payouts`

func payoutArgs(p *payment.Payout) ([]any, error) {
	failure, err := jsonArg(p.Failure, p.Failure == nil)
	if err != nil {
		return nil, err
	}
	metadata, err := jsonArg(p.Metadata, p.Metadata == nil)
	if err != nil {
		return nil, err
	}
	return []any{
		p.ID, p.Provider, p.OrderID, p.Amount, p.Currency, p.Fee, p.TransferAmount,
		p.BankAccount.BankCode, p.BankAccount.Number, p.BankAccount.Name, string(p.Status),
		p.ProviderReference, failure, metadata, ts(p.CreatedAt), ts(p.UpdatedAt), nts(p.NextSyncAt),
	}, nil
}

func scanPayout(r scanner) (*payment.Payout, error) {
	var (
		p                          payment.Payout
		failure, metadata          []byte
		created, updated, nextSync scanTime
	)
	dest := []any{
		&p.ID, &p.Provider, &p.OrderID, &p.Amount, &p.Currency, &p.Fee, &p.TransferAmount,
		&p.BankAccount.BankCode, &p.BankAccount.Number, &p.BankAccount.Name, &p.Status,
		&p.ProviderReference, &failure, &metadata, &created, &updated, &nextSync, &p.Version,
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	p.Object = "payout"
	if err := decodeJSON("failure", failure, &p.Failure); err != nil {
		return nil, err
	}
	if err := decodeJSON("metadata", metadata, &p.Metadata); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt, p.NextSyncAt = created.t, updated.t, nextSync.ptr()
	return &p, nil
}

// CreatePayout implements payment.Store.
func (s *Store) CreatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	if p == nil {
		return fmt.Errorf("bunstore: create payout: nil payout: %w", payment.ErrInvalidInput)
	}
	args, err := payoutArgs(p)
	if err != nil {
		return fmt.Errorf("bunstore: create payout %s: %w", p.ID, err)
	}
	insert := `INSERT INTO paykit_payouts (` + columnNames(payoutColumns) + `, version) VALUES (` +
		inList(len(payoutColumns)) + `, 1)`
	err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if s.pg {
			var q query
			q.add(`WITH p AS (`+insert+` RETURNING id)`, args...)
			addEventCTEs(&q, events, "", nil, false)
			q.add(` SELECT count(*) FROM p`)
			_, err := queryInt(ctx, db, q.String(), q.args...)
			return err
		}
		if _, err := db.ExecContext(ctx, insert, args...); err != nil {
			return err
		}
		if err := s.step("payout"); err != nil {
			return err
		}
		return s.insertEvents(ctx, db, events)
	})
	if err != nil {
		return fmt.Errorf("bunstore: create payout %s: %w", p.ID, err)
	}
	p.Version = 1
	return nil
}

// UpdatePayout implements payment.Store.
func (s *Store) UpdatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	if p == nil {
		return fmt.Errorf("bunstore: update payout: nil payout: %w", payment.ErrInvalidInput)
	}
	args, err := payoutArgs(p)
	if err != nil {
		return fmt.Errorf("bunstore: update payout %s: %w", p.ID, err)
	}
	update := `UPDATE paykit_payouts SET ` + setList(payoutColumns[1:]) +
		`, version = version + 1 WHERE id = ? AND version = ?`
	args = append(args[1:], p.ID, p.Version)
	err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if s.pg {
			var q query
			q.add(`WITH u AS (`+update+` RETURNING id)`, args...)
			addEventCTEs(&q, events, "u", sameOwner(p.ID, events), false)
			q.add(` SELECT count(*) FROM u`)
			n, err := queryInt(ctx, db, q.String(), q.args...)
			if err != nil {
				return err
			}
			if n == 0 {
				return casMiss(ctx, db, "paykit_payouts", p.ID)
			}
			return nil
		}
		if err := s.casSQLite(ctx, db, "paykit_payouts", p.ID, update, args); err != nil {
			return err
		}
		return s.insertEvents(ctx, db, events)
	})
	if err != nil {
		return fmt.Errorf("bunstore: update payout %s: %w", p.ID, err)
	}
	p.Version++
	return nil
}

// GetPayout implements payment.Store.
func (s *Store) GetPayout(ctx context.Context, id string) (*payment.Payout, error) {
	p, err := s.onePayout(ctx, payoutSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("bunstore: get payout %s: %w", id, err)
	}
	return p, nil
}

// GetPayoutByReference implements payment.Store.
func (s *Store) GetPayoutByReference(ctx context.Context, provider, reference string) (*payment.Payout, error) {
	if reference == "" {
		return nil, fmt.Errorf("bunstore: get payout by reference %s/%q: %w", provider, reference, payment.ErrNotFound)
	}
	p, err := s.onePayout(ctx, payoutSelect+` WHERE provider = ? AND provider_reference = ?
		AND provider_reference <> '' ORDER BY created_at DESC, id DESC LIMIT 1`, provider, reference)
	if err != nil {
		return nil, fmt.Errorf("bunstore: get payout by reference %s/%s: %w", provider, reference, err)
	}
	return p, nil
}

func (s *Store) onePayout(ctx context.Context, sql string, args ...any) (*payment.Payout, error) {
	var p *payment.Payout
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		p = nil
		return queryRows(ctx, db, func(r scanner) error {
			var err error
			p, err = scanPayout(r)
			return err
		}, sql, args...)
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, payment.ErrNotFound
	}
	return p, nil
}
