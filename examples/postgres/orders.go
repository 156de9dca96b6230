package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/bunstore"
)

// Order statuses. "new" only exists inside the transaction that creates
// the order: the same transaction gives it a payment and moves it on.
const (
	statusNew             = "new"
	statusAwaitingPayment = "awaiting_payment"
	statusPaid            = "paid"
	statusUnpaid          = "unpaid"
)

// shopSchema is the shop's own schema, next to paykit's. The constraints
// say what the code relies on: a positive amount, a committed order always
// has a payment (only "new" lacks one), one order per payment.
// order_payment_events records the paykit events the subscriber applied,
// so a redelivered event is applied once.
const shopSchema = `
CREATE TABLE IF NOT EXISTS orders (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	amount     bigint      NOT NULL CHECK (amount > 0),
	currency   text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	status     text        NOT NULL CHECK (status IN ('new', 'awaiting_payment', 'paid', 'unpaid')),
	payment_id text        UNIQUE,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT orders_payment_id_set CHECK ((status = 'new') = (payment_id IS NULL))
);
CREATE TABLE IF NOT EXISTS order_payment_events (
	event_id   text        PRIMARY KEY,
	order_id   bigint      NOT NULL REFERENCES orders (id),
	type       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// shopMigrateLock is the advisory lock migrateShop holds, so that
// instances starting together do not race on CREATE TABLE IF NOT EXISTS.
const shopMigrateLock = 0x73686f70 // "shop"

// migrateShop creates the shop's tables when they are missing.
func migrateShop(ctx context.Context, db *bun.DB) error {
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(shopMigrateLock)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, shopSchema)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate shop tables: %w", err)
	}
	return nil
}

// order is a row of the orders table, with its payment when read.
type order struct {
	ID        int64     `json:"id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Status    string    `json:"status"`
	PaymentID string    `json:"payment_id"`
	CreatedAt time.Time `json:"created_at"`
	// Payment is paykit's payment (its status, and the QR code to show
	// while it waits for the customer).
	Payment *payment.Payment `json:"payment,omitempty"`
}

// orderRequest is the body of POST /orders. Amount is in minor units
// (THB 250.00 is 25000): JSON decodes it straight into an int64, so a
// fraction or an exponent is an error, never a float.
type orderRequest struct {
	Amount   int64          `json:"amount"`
	Currency string         `json:"currency"`
	Method   payment.Method `json:"method"`
}

func (r *orderRequest) validate() error {
	if r.Amount <= 0 {
		return payment.InvalidField("amount", "must be a positive integer in minor units")
	}
	if r.Currency == "" {
		return payment.MissingField("currency")
	}
	if _, err := payment.CurrencyExponent(r.Currency); err != nil {
		return payment.InvalidField("currency", "must be an upper-case ISO 4217 code")
	}
	if r.Method == "" {
		return payment.MissingField("method")
	}
	return nil
}

// createOrder inserts an order and creates its payment in one transaction:
// either both are committed, or neither is.
//
// The payment is created by svc.WithStore(bunstore.New(tx)): the shared
// Service bound to a Store on this transaction. Each Store call runs in a
// savepoint of the transaction; none is visible to others, or to the
// dispatcher, before the commit, and none survives a rollback. The
// payment's events and notifications are written in the same transaction;
// the shared Service's dispatcher delivers them after the commit.
//
// Checkout also calls the provider, inside the transaction. Anything that
// fails after that call rolls the payment back while the provider has
// started it; keep the work after Checkout short and unlikely to fail, and
// use methods where the customer acts after the answer (a QR code, a bank
// transfer), so a rolled-back payment is one nobody saw and nobody can
// pay. A callback for such a payment matches nothing and is kept in
// paykit's inbox as an orphan.
func (a *app) createOrder(ctx context.Context, req *orderRequest) (*order, error) {
	var o *order
	err := a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		o = &order{Amount: req.Amount, Currency: req.Currency, Status: statusNew}
		err := tx.NewRaw("INSERT INTO orders (amount, currency, status) VALUES (?, ?, ?) RETURNING id, created_at",
			o.Amount, o.Currency, o.Status).Scan(ctx, &o.ID, &o.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}

		store, err := bunstore.New(tx)
		if err != nil {
			return err
		}
		svc := a.svc.WithStore(store)
		p, err := svc.Checkout(ctx, &payment.CheckoutParams{
			Provider:    a.provider,
			Method:      req.Method,
			OrderID:     paykitOrderID(o.ID),
			Amount:      o.Amount,
			Currency:    o.Currency,
			Description: fmt.Sprintf("Order %d", o.ID),
		})
		if err != nil {
			return err
		}

		o.PaymentID, o.Status, o.Payment = p.ID, statusAwaitingPayment, p
		res, err := tx.ExecContext(ctx, "UPDATE orders SET payment_id = ?, status = ? WHERE id = ?",
			o.PaymentID, o.Status, o.ID)
		if err != nil {
			return fmt.Errorf("update order %d: %w", o.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("update order %d: %w", o.ID, err)
		}
		if n != 1 {
			return fmt.Errorf("update order %d: %d rows updated", o.ID, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return o, nil
}

// paykitOrderID is the merchant order id paykit keeps for an order.
func paykitOrderID(id int64) string { return fmt.Sprintf("order-%d", id) }

// errOrderNotFound is the answer for an order that does not exist.
var errOrderNotFound = fmt.Errorf("no such order: %w", payment.ErrNotFound)

// readOrder reads an order and its payment.
func (a *app) readOrder(ctx context.Context, id int64) (*order, error) {
	o := &order{ID: id}
	var paymentID sql.NullString
	err := a.db.NewRaw("SELECT amount, currency, status, payment_id, created_at FROM orders WHERE id = ?", id).
		Scan(ctx, &o.Amount, &o.Currency, &o.Status, &paymentID, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errOrderNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get order %d: %w", id, err)
	}
	o.PaymentID, o.CreatedAt = paymentID.String, o.CreatedAt.UTC()
	if o.PaymentID == "" {
		return o, nil
	}
	p, err := a.svc.GetPayment(ctx, o.PaymentID)
	if err != nil {
		return nil, err
	}
	o.Payment = p
	return o, nil
}

// onPaymentEvent is the paykit subscriber: it marks an order paid when its
// payment succeeds (late too: money that moved after an expiry still pays
// the order) and unpaid when it fails, is canceled or expires.
//
// Delivery is at least once, possibly from several instances at the same
// time: the event id goes into order_payment_events in the same
// transaction as the order's update, so a redelivered event finds its id
// there (or waits for the transaction that is inserting it) and changes
// nothing. Events of payments that are not an order's are ignored.
func (a *app) onPaymentEvent(ctx context.Context, e payment.Event) error {
	var to string
	var from []string
	switch e.Type {
	case payment.EventPaymentSucceeded, payment.EventPaymentSucceededLate:
		to, from = statusPaid, []string{statusAwaitingPayment, statusUnpaid}
	case payment.EventPaymentFailed, payment.EventPaymentCanceled, payment.EventPaymentExpired:
		to, from = statusUnpaid, []string{statusAwaitingPayment}
	default:
		return nil
	}
	if e.PaymentID == "" || e.ID == "" {
		return nil
	}
	return a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var orderID int64
		err := tx.NewRaw(`INSERT INTO order_payment_events (event_id, order_id, type)
			SELECT ?, id, ? FROM orders WHERE payment_id = ?
			ON CONFLICT (event_id) DO NOTHING
			RETURNING order_id`, e.ID, string(e.Type), e.PaymentID).Scan(ctx, &orderID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // applied before, or not an order's payment
		}
		if err != nil {
			return fmt.Errorf("orders: record event %s: %w", e.ID, err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE orders SET status = ? WHERE id = ? AND status IN (?)",
			to, orderID, bun.List(from))
		if err != nil {
			return fmt.Errorf("orders: apply event %s to order %d: %w", e.ID, orderID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			a.log.Info("order "+to, zap.Int64("order_id", orderID), zap.String("payment_id", e.PaymentID),
				zap.String("event_id", e.ID))
		}
		return nil
	})
}
