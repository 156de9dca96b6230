package bunstore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/paykit/paykit/payment"
)

// errRollback makes a host's RunInTx roll back.
var errRollback = errors.New("host rolls back")

// A host creates a payment inside its own transaction: when the host rolls
// back, the payment, its events and its outbox rows are gone; when it
// commits, they are there.
func TestHostTransaction(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		outside := newStore(t, db)

		for _, commit := range []bool{false, true} {
			at := now()
			p := testPayment(at)
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				s := newStore(t, tx)
				require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentCreated, p, at)}))
				// Inside the transaction the payment is visible.
				got, err := s.GetPayment(ctx, p.ID)
				require.NoError(t, err)
				require.Equal(t, p.ID, got.ID)
				p.Status = payment.StatusProcessing
				require.NoError(t, s.UpdatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentProcessing, p, at)}))
				if !commit {
					return errRollback
				}
				return nil
			})
			if !commit {
				require.ErrorIs(t, err, errRollback)
				_, err := outside.GetPayment(ctx, p.ID)
				require.ErrorIs(t, err, payment.ErrNotFound, "the host rolled back: the payment is gone")
				require.Zero(t, countRows(t, db, "paykit_events", "object_id = ?", p.ID), "no events survive the rollback")
				require.Zero(t, countRows(t, db, "paykit_outbox", "stream = ?", p.ID), "no outbox rows survive the rollback")
				continue
			}
			require.NoError(t, err)
			got, err := outside.GetPayment(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, payment.StatusProcessing, got.Status)
			require.Equal(t, int64(2), got.Version)
			require.Equal(t, int64(2), countRows(t, db, "paykit_events", "object_id = ?", p.ID))
			require.Equal(t, int64(2), countRows(t, db, "paykit_outbox", "stream = ?", p.ID))
		}
	})
}

// A Store method that fails inside the host's transaction (here a
// duplicate) runs in a savepoint: it writes nothing and leaves the host's
// transaction usable, so the host may still commit its own work.
func TestHostTransactionSurvivesStoreError(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		at := now()
		first := testPayment(at)
		outside := newStore(t, db)
		require.NoError(t, outside.CreatePayment(ctx, first, nil))

		second := testPayment(at)
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			s := newStore(t, tx)
			require.NoError(t, s.CreatePayment(ctx, second, []payment.Event{testEvent(payment.EventPaymentCreated, second, at)}))
			dup := testPayment(at)
			dup.Provider, dup.OrderID = first.Provider, first.OrderID
			err := s.CreatePayment(ctx, dup, []payment.Event{testEvent(payment.EventPaymentCreated, dup, at)})
			require.ErrorIs(t, err, payment.ErrAlreadyExists, "the order is held by the first payment")
			again := *first
			err = s.UpdatePayment(ctx, &again, nil)
			require.NoError(t, err, "the transaction is still usable after the failed call")
			return nil
		})
		require.NoError(t, err)
		_, err = outside.GetPayment(ctx, second.ID)
		require.NoError(t, err, "the host committed: the payment made before the failure is there")
		got, err := outside.GetPayment(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})
}

// A Store on a bun.Conn works, with real transactions.
func TestConn(t *testing.T) {
	backends(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		s := newStore(t, conn)
		require.Equal(t, modeConn, s.mode)
		at := now()
		p := testPayment(at)
		require.NoError(t, s.CreatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentCreated, p, at)}))
		p.Status = payment.StatusFailed
		require.NoError(t, s.UpdatePayment(ctx, p, []payment.Event{testEvent(payment.EventPaymentFailed, p, at)}))
		got, err := newStore(t, db).GetPayment(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, payment.StatusFailed, got.Status)
	})
}
