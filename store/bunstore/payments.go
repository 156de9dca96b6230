package bunstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// paymentColumns are the columns of a payment that a caller sets (all but
// version and holds_order), in the order of paymentArgs.
var paymentColumns = []column{
	{"id", "text"},
	{"provider", "text"},
	{"method", "text"},
	{"order_id", "text"},
	{"amount", "bigint"},
	{"currency", "text"},
	{"amount_captured", "bigint"},
	{"amount_refunded", "bigint"},
	{"amount_refund_pending", "bigint"},
	{"status", "text"},
	{"capture_method", "text"},
	{"provider_reference", "text"},
	{"next_action", "jsonb"},
	{"failure", "jsonb"},
	{"card", "jsonb"},
	{"customer", "jsonb"},
	{"description", "text"},
	{"items", "jsonb"},
	{"metadata", "jsonb"},
	{"return_url", "text"},
	{"flags", "jsonb"},
	{"expires_at", "timestamptz"},
	{"created_at", "timestamptz"},
	{"updated_at", "timestamptz"},
	{"next_sync_at", "timestamptz"},
}

// paymentRead is the column list scanPayment reads.
const paymentRead = `id, provider, method, order_id, amount, currency, amount_captured,
	amount_refunded, amount_refund_pending, status, capture_method, provider_reference, next_action,
	failure, card, customer, description, items, metadata, return_url, flags, expires_at, created_at,
	updated_at, next_sync_at, version`

const paymentSelect = `SELECT ` + paymentRead + ` FROM paykit_payments`

// releasesOrder reports whether a payment in status st gives its order back
// (see payment.Store.CreatePayment).
func releasesOrder(st payment.Status) bool {
	return st == payment.StatusFailed || st == payment.StatusCanceled || st == payment.StatusExpired
}

// paymentArgs returns p's values for paymentColumns.
func paymentArgs(p *payment.Payment) ([]any, error) {
	na := p.NextAction
	if na != nil && na.ExpiresAt != nil {
		c := *na
		t := na.ExpiresAt.UTC()
		c.ExpiresAt = &t
		na = &c
	}
	var nested [7]any
	for i, v := range []struct {
		v     any
		isNil bool
	}{
		{na, na == nil},
		{p.Failure, p.Failure == nil},
		{p.Card, p.Card == nil},
		{p.Customer, p.Customer == nil},
		{p.Items, p.Items == nil},
		{p.Metadata, p.Metadata == nil},
		{p.Flags, p.Flags == nil},
	} {
		a, err := jsonArg(v.v, v.isNil)
		if err != nil {
			return nil, err
		}
		nested[i] = a
	}
	return []any{
		p.ID, p.Provider, string(p.Method), p.OrderID, p.Amount, p.Currency,
		p.AmountCaptured, p.AmountRefunded, p.AmountRefundPending, string(p.Status),
		string(p.CaptureMethod), p.ProviderReference, nested[0], nested[1], nested[2], nested[3],
		p.Description, nested[4], nested[5], p.ReturnURL, nested[6],
		nts(p.ExpiresAt), ts(p.CreatedAt), ts(p.UpdatedAt), nts(p.NextSyncAt),
	}, nil
}

func scanPayment(r scanner) (*payment.Payment, error) {
	var (
		p                                                         payment.Payment
		nextAction, failure, card, customer, items, metadata, flg []byte
		expires, created, updated, nextSync                       scanTime
	)
	dest := []any{
		&p.ID, &p.Provider, &p.Method, &p.OrderID, &p.Amount, &p.Currency, &p.AmountCaptured,
		&p.AmountRefunded, &p.AmountRefundPending, &p.Status, &p.CaptureMethod, &p.ProviderReference,
		&nextAction, &failure, &card, &customer, &p.Description, &items, &metadata, &p.ReturnURL, &flg,
		&expires, &created, &updated, &nextSync, &p.Version,
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	p.Object = "payment"
	for _, c := range []struct {
		name string
		b    []byte
		dst  any
	}{
		{"next_action", nextAction, &p.NextAction},
		{"failure", failure, &p.Failure},
		{"card", card, &p.Card},
		{"customer", customer, &p.Customer},
		{"items", items, &p.Items},
		{"metadata", metadata, &p.Metadata},
		{"flags", flg, &p.Flags},
	} {
		if err := decodeJSON(c.name, c.b, c.dst); err != nil {
			return nil, err
		}
	}
	if p.NextAction != nil && p.NextAction.ExpiresAt != nil {
		t := p.NextAction.ExpiresAt.UTC()
		p.NextAction.ExpiresAt = &t
	}
	p.ExpiresAt = expires.ptr()
	p.CreatedAt = created.t
	p.UpdatedAt = updated.t
	p.NextSyncAt = nextSync.ptr()
	return &p, nil
}

// CreatePayment implements payment.Store. On a PostgreSQL pool,
// concurrent calls are written in batches (see batcher).
func (s *Store) CreatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if p == nil {
		return fmt.Errorf("bunstore: create payment: nil payment: %w", payment.ErrInvalidInput)
	}
	args, err := paymentArgs(p)
	if err != nil {
		return fmt.Errorf("bunstore: create payment %s: %w", p.ID, err)
	}
	args = append(args, !releasesOrder(p.Status))
	if s.pg {
		err = s.batched(s.creates, newWriteJob(ctx, p, args, events), s.createBatch)
	} else {
		err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
			if _, err := db.ExecContext(ctx, paymentInsert(1), args...); err != nil {
				return err
			}
			if err := s.step("payment"); err != nil {
				return err
			}
			return s.insertEvents(ctx, db, events)
		})
	}
	if err != nil {
		return fmt.Errorf("bunstore: create payment %s: %w", p.ID, err)
	}
	p.Version = 1
	return nil
}

// paymentInsert returns the INSERT of n payments, each row paymentColumns
// and holds_order.
func paymentInsert(n int) string {
	row := `(` + inList(len(paymentColumns)+1) + `, 1)`
	return `INSERT INTO paykit_payments (` + columnNames(paymentColumns) + `, holds_order, version) VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// createBatch writes the payments of jobs, with their events, with one
// PostgreSQL statement, and finishes the jobs.
func (s *Store) createBatch(ctx context.Context, jobs []*writeJob) {
	events := batchEvents(jobs)
	text, args := batchTexts.statement(shapeOf(false, len(jobs), events), func(q *query) {
		createStatement(q, jobs, events)
	})
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		ungrant(events)
		return queryRows(ctx, db, func(r scanner) error {
			var id, owner string
			if err := r.Scan(&id, &owner); err != nil {
				return err
			}
			grant(events, id, owner)
			return nil
		}, text, args...)
	})
	if err != nil && len(jobs) > 1 && refusedAsAWhole(err) {
		writeEach(jobs, s.createBatch)
		return
	}
	for _, j := range jobs {
		j.finish(err)
	}
}

// createStatement writes into q the statement that inserts the payments of
// jobs with events, their events, returning the leases granted.
func createStatement(q *query, jobs []*writeJob, events []payment.Event) {
	q.addShaped(func() string { return `WITH p AS (` + paymentInsert(len(jobs)) })
	for _, j := range jobs {
		q.args = append(q.args, j.args...)
	}
	q.add(` RETURNING id)`)
	if addEventCTEs(q, events, "", nil, true) {
		q.add(` ` + leasedEvents)
	} else {
		q.add(` SELECT id, '' FROM p WHERE false`)
	}
}

// batchEvents returns the events of jobs, in order.
func batchEvents(jobs []*writeJob) []payment.Event {
	if len(jobs) == 1 {
		return jobs[0].events
	}
	var out []payment.Event
	for _, j := range jobs {
		out = append(out, j.events...)
	}
	return out
}

// batched writes j through b, or, without one, alone with write.
func (s *Store) batched(b *batcher, j *writeJob, write func(ctx context.Context, jobs []*writeJob)) error {
	if b != nil {
		return b.do(j)
	}
	write(j.ctx, []*writeJob{j})
	return j.err
}

// paymentUpdate returns the UPDATE that compare-and-sets p and its
// arguments, for SQLite and for the refund statements (which add to its
// WHERE); UpdatePayment on PostgreSQL uses paymentCAS. It changes every column but id, bumps version, and
// clears holds_order for good once the payment fails, is canceled or
// expires.
func paymentUpdate(p *payment.Payment) (string, []any, error) {
	args, err := paymentArgs(p)
	if err != nil {
		return "", nil, err
	}
	sql := `UPDATE paykit_payments SET ` + setList(paymentColumns[1:]) +
		`, version = version + 1, holds_order = holds_order AND ? WHERE id = ? AND version = ?`
	args = append(args[1:], !releasesOrder(p.Status), p.ID, p.Version)
	return sql, args, nil
}

// paymentCASColumns are the columns of a VALUES row of the PostgreSQL
// compare-and-set: the payment's new values, whether it still holds its
// order, and the version it must have.
var paymentCASColumns = append(slices.Clone(paymentColumns), column{"holds", "boolean"}, column{"old_version", "bigint"})

// paymentCAS is the PostgreSQL compare-and-set of the payments in the
// VALUES list v (paymentCASColumns), as the CTE u returning the ids it
// updated. It is paymentUpdate's, for any number of payments.
var paymentCAS = func() string {
	set := make([]string, 0, len(paymentColumns))
	for _, c := range paymentColumns[1:] {
		set = append(set, c.name+" = v."+c.name)
	}
	return `u AS (UPDATE paykit_payments t SET ` + strings.Join(set, ", ") +
		`, version = t.version + 1, holds_order = t.holds_order AND v.holds
		FROM v WHERE t.id = v.id AND t.version = v.old_version RETURNING t.id)`
}()

// UpdatePayment implements payment.Store. On a PostgreSQL pool,
// concurrent calls are written in batches (see batcher).
func (s *Store) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if p == nil {
		return fmt.Errorf("bunstore: update payment: nil payment: %w", payment.ErrInvalidInput)
	}
	var err error
	if s.pg {
		var args []any
		if args, err = paymentArgs(p); err == nil {
			args = append(args, !releasesOrder(p.Status), p.Version)
			err = s.batched(s.updates, newWriteJob(ctx, p, args, events), s.updateBatch)
		}
	} else {
		var update string
		var args []any
		if update, args, err = paymentUpdate(p); err == nil {
			err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
				if err := s.casSQLite(ctx, db, "paykit_payments", p.ID, update, args); err != nil {
					return err
				}
				return s.insertEvents(ctx, db, events)
			})
		}
	}
	if err != nil {
		return fmt.Errorf("bunstore: update payment %s: %w", p.ID, err)
	}
	p.Version++
	return nil
}

// updateBatch compare-and-sets the payments of jobs, with the events of
// those that matched, with one PostgreSQL statement, and finishes the
// jobs: a job whose payment did not match gets ErrConflict or
// ErrNotFound, as a lone compare-and-set would.
func (s *Store) updateBatch(ctx context.Context, jobs []*writeJob) {
	events := batchEvents(jobs)
	text, args := batchTexts.statement(shapeOf(true, len(jobs), events), func(q *query) {
		updateStatement(q, jobs, events)
	})
	var matched []string
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		matched = matched[:0]
		ungrant(events)
		return queryRows(ctx, db, func(r scanner) error {
			var id, owner string
			if err := r.Scan(&id, &owner); err != nil {
				return err
			}
			if owner == "" {
				matched = append(matched, id)
			} else {
				grant(events, id, owner)
			}
			return nil
		}, text, args...)
	})
	if err != nil {
		if len(jobs) > 1 && refusedAsAWhole(err) {
			writeEach(jobs, s.updateBatch)
			return
		}
		for _, j := range jobs {
			j.finish(err)
		}
		return
	}
	for _, j := range jobs {
		if slices.Contains(matched, j.p.ID) {
			j.finish(nil)
			continue
		}
		j.finish(s.read(j.ctx, func(ctx context.Context, db bun.IDB) error {
			return casMiss(ctx, db, "paykit_payments", j.p.ID)
		}))
	}
}

// updateStatement writes into q the statement that compare-and-sets the
// payments of jobs and inserts events, the events of those that matched,
// returning the ids that matched and the leases granted.
func updateStatement(q *query, jobs []*writeJob, events []payment.Event) {
	q.addShaped(func() string {
		return `WITH v (` + columnNames(paymentCASColumns) + `) AS (VALUES ` + valuesRows(paymentCASColumns, len(jobs), true, true) + `), ` + paymentCAS
	})
	var owners []string
	for _, j := range jobs {
		q.args = append(q.args, j.args...)
		for range j.events {
			owners = append(owners, j.p.ID)
		}
	}
	if addEventCTEs(q, events, "u", owners, true) {
		// The leases' rows follow the payments', told apart by their owner.
		q.add(` SELECT id, '' FROM u UNION ALL ` + leasedEvents)
	} else {
		q.add(` SELECT id, '' FROM u`)
	}
}

// casSQLite runs a compare-and-set UPDATE and turns "no row" into
// ErrNotFound or ErrConflict.
func (s *Store) casSQLite(ctx context.Context, db bun.IDB, table, id, update string, args []any) error {
	res, err := db.ExecContext(ctx, update, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return casMiss(ctx, db, table, id)
	}
	return s.step("update")
}

// casMiss explains a compare-and-set that matched no row: ErrNotFound when
// the row is missing, ErrConflict when its version moved on.
func casMiss(ctx context.Context, db bun.IDB, table, id string) error {
	n, err := queryInt(ctx, db, `SELECT count(*) FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return payment.ErrNotFound
	}
	return payment.ErrConflict
}

// GetPayment implements payment.Store.
func (s *Store) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	p, err := s.onePayment(ctx, paymentSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("bunstore: get payment %s: %w", id, err)
	}
	return p, nil
}

// GetPaymentByReference implements payment.Store. Should several payments
// of a provider share a reference, the newest is returned.
func (s *Store) GetPaymentByReference(ctx context.Context, provider, reference string) (*payment.Payment, error) {
	if reference == "" {
		return nil, fmt.Errorf("bunstore: get payment by reference %s/%q: %w", provider, reference, payment.ErrNotFound)
	}
	p, err := s.onePayment(ctx, paymentSelect+` WHERE provider = ? AND provider_reference = ?
		AND provider_reference <> '' ORDER BY created_at DESC, id DESC LIMIT 1`, provider, reference)
	if err != nil {
		return nil, fmt.Errorf("bunstore: get payment by reference %s/%s: %w", provider, reference, err)
	}
	return p, nil
}

func (s *Store) onePayment(ctx context.Context, sql string, args ...any) (*payment.Payment, error) {
	var p *payment.Payment
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		p = nil
		return queryRows(ctx, db, func(r scanner) error {
			var err error
			p, err = scanPayment(r)
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

// FindPayments implements payment.Store.
func (s *Store) FindPayments(ctx context.Context, provider, orderID string) ([]*payment.Payment, error) {
	sql, args := paymentSelect+` WHERE order_id = ?`, []any{orderID}
	if provider != "" {
		sql += ` AND provider = ?`
		args = append(args, provider)
	}
	sql += ` ORDER BY created_at, id`
	var out []*payment.Payment
	err := s.read(ctx, func(ctx context.Context, db bun.IDB) error {
		out = []*payment.Payment{}
		return queryRows(ctx, db, func(r scanner) error {
			p, err := scanPayment(r)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		}, sql, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("bunstore: find payments %s/%s: %w", provider, orderID, err)
	}
	return out, nil
}
