package bunstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paykit/paykit/payment"
)

// The benchmarks set the Store next to the least SQL that does the same
// work, through the same driver, in the same run:
//
//   - CreatePayment (a checkout: the payment, its payment.created event and
//     the event's outbox row) next to a bare INSERT of the payment row alone;
//     "store_no_event" is CreatePayment without events, the same row only.
//   - WebhookTransition (UpdatePayment: compare-and-set, one event, its
//     outbox row) next to BEGIN; UPDATE ... WHERE id AND version; INSERT
//     event; INSERT outbox; COMMIT.
//
// Each reports queries/op: the statements sent to the database (each one a
// round trip on PostgreSQL), BEGIN and COMMIT included.
//
//	go test -run '^$' -bench . -benchtime 2s ./store/bunstore/

// queryCounter counts the statements bun sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

// benchDBs runs fn on PostgreSQL and SQLite, with the database to time and
// a wrapper of the same pool that counts statements.
func benchDBs(b *testing.B, fn func(b *testing.B, db, counted *bun.DB, qc *queryCounter)) {
	b.Run("postgres", func(b *testing.B) {
		db, _ := openPG(b)
		qc := &queryCounter{}
		counted := bun.NewDB(db.DB, db.Dialect()).WithQueryHook(qc)
		fn(b, db, counted, qc)
	})
	b.Run("sqlite", func(b *testing.B) {
		db := openSQLite(b)
		qc := &queryCounter{}
		counted := bun.NewDB(db.DB, db.Dialect()).WithQueryHook(qc)
		fn(b, db, counted, qc)
	})
}

// perOp runs op n times on the counting database and returns the
// statements per op, to report after the timed loop (which resets metrics).
func perOp(qc *queryCounter, op func()) float64 {
	const n = 20
	before := qc.n.Load()
	for range n {
		op()
	}
	return float64(qc.n.Load()-before) / n
}

// bareEventAndOutbox inserts ev and its outbox row with two plain INSERTs.
func bareEventAndOutbox(ctx context.Context, tx bun.Tx, ev payment.Event) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO paykit_events (`+columnNames(eventColumns)+`)
		VALUES `+placeholders(eventColumns, false, false), eventArgs([]payment.Event{ev})...); err != nil {
		return err
	}
	seq := `last_insert_rowid()` // SQLite: the event's rowid
	if tx.Dialect().Name() == dialect.PG {
		seq = `currval(pg_get_serial_sequence('paykit_events', 'seq'))`
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO paykit_outbox (id, event_id, seq, stream, next_attempt_at)
		VALUES (?, ?, `+seq+`, ?, ?)`, ev.ID, ev.ID, ev.Stream(), ts(ev.CreatedAt))
	return err
}

// interleave runs store and bare alternately, one of each per iteration, so
// that both meet the same load (the machine may be busy), and reports each
// one's time per op and their ratio.
func interleave(b *testing.B, store, bare func()) {
	b.Helper()
	var ts, tb time.Duration
	for b.Loop() {
		t0 := time.Now()
		store()
		t1 := time.Now()
		bare()
		ts += t1.Sub(t0)
		tb += time.Since(t1)
	}
	b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N), "store-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(ts)/float64(tb), "store/bare")
}

func BenchmarkCreatePayment(b *testing.B) {
	benchDBs(b, func(b *testing.B, db, counted *bun.DB, qc *queryCounter) {
		ctx := b.Context()
		at := now()
		create := func(s *Store, events bool) func() {
			return func() {
				p := testPayment(at)
				var evs []payment.Event
				if events {
					evs = []payment.Event{testEvent(payment.EventPaymentCreated, p, at)}
				}
				if err := s.CreatePayment(ctx, p, evs); err != nil {
					b.Fatal(err)
				}
			}
		}
		bare := func(db *bun.DB) func() {
			insert := `INSERT INTO paykit_payments (` + columnNames(paymentColumns) + `, holds_order, version)
				VALUES (` + inList(len(paymentColumns)+1) + `, 1)`
			return func() {
				args, err := paymentArgs(testPayment(at))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, insert, append(args, true)...); err != nil {
					b.Fatal(err)
				}
			}
		}
		// bareTx does the store's work (payment, event, outbox row) with
		// plain statements in one transaction.
		bareTx := func(db *bun.DB) func() {
			insert := `INSERT INTO paykit_payments (` + columnNames(paymentColumns) + `, holds_order, version)
				VALUES (` + inList(len(paymentColumns)+1) + `, 1)`
			return func() {
				p := testPayment(at)
				args, err := paymentArgs(p)
				if err != nil {
					b.Fatal(err)
				}
				err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					if _, err := tx.ExecContext(ctx, insert, append(args, true)...); err != nil {
						return err
					}
					return bareEventAndOutbox(ctx, tx, testEvent(payment.EventPaymentCreated, p, at))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run("store", func(b *testing.B) {
			q := perOp(qc, create(newStore(b, counted), true))
			op := create(newStore(b, db), true)
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("store_no_event", func(b *testing.B) {
			q := perOp(qc, create(newStore(b, counted), false))
			op := create(newStore(b, db), false)
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("bare_insert", func(b *testing.B) {
			q := perOp(qc, bare(counted))
			op := bare(db)
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("bare_tx_3_inserts", func(b *testing.B) {
			q := perOp(qc, bareTx(counted))
			op := bareTx(db)
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("interleaved_store_no_event_vs_bare_insert", func(b *testing.B) {
			interleave(b, create(newStore(b, db), false), bare(db))
		})
		b.Run("interleaved_store_vs_bare_insert", func(b *testing.B) {
			interleave(b, create(newStore(b, db), true), bare(db))
		})
		b.Run("interleaved_store_vs_bare_tx_3_inserts", func(b *testing.B) {
			interleave(b, create(newStore(b, db), true), bareTx(db))
		})
	})
}

func BenchmarkWebhookTransition(b *testing.B) {
	benchDBs(b, func(b *testing.B, db, counted *bun.DB, qc *queryCounter) {
		ctx := b.Context()
		at := now()
		seed := func(s *Store) *payment.Payment {
			p := testPayment(at)
			p.Status = payment.StatusProcessing
			require.NoError(b, s.CreatePayment(ctx, p, nil))
			return p
		}
		transition := func(s *Store, p *payment.Payment) func() {
			return func() {
				p.UpdatedAt = p.UpdatedAt.Add(time.Microsecond)
				ev := testEvent(payment.EventPaymentSucceeded, p, p.UpdatedAt)
				if err := s.UpdatePayment(ctx, p, []payment.Event{ev}); err != nil {
					b.Fatal(err)
				}
			}
		}
		// bare is the least SQL for the same work in one transaction.
		bare := func(db *bun.DB, p *payment.Payment) func() {
			return func() {
				p.UpdatedAt = p.UpdatedAt.Add(time.Microsecond)
				ev := testEvent(payment.EventPaymentSucceeded, p, p.UpdatedAt)
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					res, err := tx.ExecContext(ctx, `UPDATE paykit_payments SET status = ?, updated_at = ?,
						version = version + 1 WHERE id = ? AND version = ?`,
						string(payment.StatusSucceeded), ts(p.UpdatedAt), p.ID, p.Version)
					if err != nil {
						return err
					}
					if n, err := res.RowsAffected(); err != nil || n != 1 {
						return payment.ErrConflict
					}
					return bareEventAndOutbox(ctx, tx, ev)
				})
				if err != nil {
					b.Fatal(err)
				}
				p.Version++
			}
		}
		b.Run("store", func(b *testing.B) {
			s := newStore(b, counted)
			q := perOp(qc, transition(s, seed(s)))
			s = newStore(b, db)
			op := transition(s, seed(s))
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("bare_tx", func(b *testing.B) {
			s := newStore(b, db)
			q := perOp(qc, bare(counted, seed(s)))
			op := bare(db, seed(s))
			for b.Loop() {
				op()
			}
			b.ReportMetric(q, "queries/op")
		})
		b.Run("interleaved_store_vs_bare_tx", func(b *testing.B) {
			s := newStore(b, db)
			interleave(b, transition(s, seed(s)), bare(db, seed(s)))
		})
	})
}
