package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

// The baselines do the least work that answers the same requests with
// responses of the same size: bareJSON decodes the request and encodes the
// response with encoding/json; bareSQL adds the least SQL for the same
// operation, through the same bun database (driver, pool, query formatting)
// bunstore uses.

// bareJSON is the floor for paykit's handlers: it decodes the checkout
// body into payment.CheckoutParams and answers with the template payment
// (a real paykit response) under a new id, answers a status read with the
// template, and decodes a webhook into a sandbox.Event.
//
// With -bare-cpu it also burns that much CPU per request (see burner), to
// ask whether a handler that costs what paykit's do, and does nothing
// else of theirs, has their latency.
type bareJSON struct {
	tmpl payment.Payment
	burn burner
}

// burner spends CPU on purpose: SHA-256 over a 1 KiB block, n times. Its n
// is calibrated once, at start-up, on an idle machine, so it costs about
// the asked CPU time while the machine is no slower than then; the report's
// CPU per request says what it cost in each pass.
type burner struct{ n int }

// newBurner returns a burner of about d of CPU per call (none for d <= 0).
func newBurner(d time.Duration) burner {
	if d <= 0 {
		return burner{}
	}
	const probe = 20000
	start := time.Now()
	burner{n: probe}.burn()
	per := time.Since(start) / probe
	return burner{n: max(1, int(d/max(per, 1)))}
}

// burnSink keeps the compiler from dropping burn's work.
var burnSink atomic.Uint32

func (b burner) burn() {
	if b.n == 0 {
		return
	}
	var block [1024]byte
	for i := range b.n {
		h := sha256.Sum256(block[:])
		copy(block[i%32*32:], h[:])
	}
	burnSink.Add(uint32(block[0]))
}

func newID() string { return "pay_" + rand.Text() }

func (b *bareJSON) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		var params payment.CheckoutParams
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b.burn.burn()
		p := b.tmpl
		p.ID, p.OrderID, p.Amount, p.Currency = newID(), params.OrderID, params.Amount, params.Currency
		p.ProviderReference = "sbx_ch_" + p.ID
		writeJSON(w, http.StatusCreated, &p)
	})
	mux.HandleFunc("GET /payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		b.burn.burn()
		p := b.tmpl
		p.ID = r.PathValue("id")
		writeJSON(w, http.StatusOK, &p)
	})
	mux.HandleFunc("POST /webhooks/{provider}", func(w http.ResponseWriter, r *http.Request) {
		var ev sandbox.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b.burn.burn()
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bareSQL is bareJSON plus the least SQL for each operation:
//
//	checkout: INSERT the payment row as pending, then UPDATE it to the
//	          provider's answer: two commits, as any checkout that must not
//	          lose a charge makes (the pending row is durable before the
//	          provider is called)
//	status:   SELECT the payment row by id
//	webhook:  in one transaction, INSERT the event into an inbox (ON
//	          CONFLICT DO NOTHING, so a duplicate stops there), and for a
//	          new event UPDATE the payment's status and INSERT an audit event
type bareSQL struct {
	tmpl payment.Payment
	db   *bun.DB
}

// sqliteTypes maps the PostgreSQL column types of bareSchema to SQLite's.
var sqliteTypes = strings.NewReplacer("bytea", "blob")

// bareSchema creates the baseline's tables (dropping earlier ones).
func bareSchema(ctx context.Context, db *bun.DB) error {
	ddl := []string{
		`DROP TABLE IF EXISTS bare_events`,
		`DROP TABLE IF EXISTS bare_inbox`,
		`DROP TABLE IF EXISTS bare_payments`,
		`CREATE TABLE bare_payments (
			id text PRIMARY KEY, provider text NOT NULL, order_id text NOT NULL,
			amount bigint NOT NULL, currency text NOT NULL, status text NOT NULL,
			provider_reference text NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL)`,
		`CREATE TABLE bare_inbox (
			provider text NOT NULL, event_key text NOT NULL, payload bytea NOT NULL, received_at bigint NOT NULL,
			PRIMARY KEY (provider, event_key))`,
		`CREATE TABLE bare_events (
			id text PRIMARY KEY, payment_id text NOT NULL, type text NOT NULL, created_at bigint NOT NULL)`,
	}
	for _, q := range ddl {
		if db.Dialect().Name() == dialect.SQLite {
			q = sqliteTypes.Replace(q)
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (b *bareSQL) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		var params payment.CheckoutParams
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		p := b.tmpl
		p.ID, p.OrderID, p.Amount, p.Currency = newID(), params.OrderID, params.Amount, params.Currency
		p.ProviderReference = "sbx_ch_" + p.ID
		now := time.Now().UnixMicro()
		if _, err := b.db.ExecContext(r.Context(), `INSERT INTO bare_payments
			(id, provider, order_id, amount, currency, status, provider_reference, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`,
			p.ID, params.Provider, p.OrderID, p.Amount, p.Currency, payment.StatusPending, now, now); err != nil {
			http.Error(w, "store error", http.StatusServiceUnavailable)
			return
		}
		// The provider answers here; its answer is recorded.
		if _, err := b.db.ExecContext(r.Context(), `UPDATE bare_payments
			SET status = ?, provider_reference = ?, updated_at = ? WHERE id = ?`,
			p.Status, p.ProviderReference, time.Now().UnixMicro(), p.ID); err != nil {
			http.Error(w, "store error", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusCreated, &p)
	})
	mux.HandleFunc("GET /payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := b.tmpl
		var created, updated int64
		err := b.db.QueryRowContext(r.Context(), `SELECT id, order_id, amount, currency, status, provider_reference,
			created_at, updated_at FROM bare_payments WHERE id = ?`, r.PathValue("id")).
			Scan(&p.ID, &p.OrderID, &p.Amount, &p.Currency, &p.Status, &p.ProviderReference, &created, &updated)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			http.Error(w, "not found", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "store error", http.StatusServiceUnavailable)
			return
		}
		p.CreatedAt, p.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
		writeJSON(w, http.StatusOK, &p)
	})
	mux.HandleFunc("POST /webhooks/{provider}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var ev sandbox.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := b.webhook(r.Context(), r.PathValue("provider"), &ev, body); err != nil {
			http.Error(w, "store error", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

func (b *bareSQL) webhook(ctx context.Context, provider string, ev *sandbox.Event, body []byte) error {
	return b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		now := time.Now().UnixMicro()
		res, err := tx.ExecContext(ctx, `INSERT INTO bare_inbox (provider, event_key, payload, received_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, provider, ev.ID, body, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // a duplicate: nothing else to do
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bare_payments SET status = ?, updated_at = ? WHERE id = ?`,
			ev.Data.Status, now, ev.Data.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bare_events (id, payment_id, type, created_at) VALUES (?, ?, ?, ?)`,
			"evt_"+rand.Text(), ev.Data.ID, ev.Type, now)
		return err
	})
}
