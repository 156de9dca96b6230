package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/bunstore"
	"github.com/paykit/paykit/store/memstore"
)

// apiKey is the key every target's clients send.
const apiKey = "sk_test_load"

// targetKind is what serves the requests.
type targetKind string

// The kinds of target, in the order they run.
const (
	kindClient   targetKind = "client-only" // the canned responder: the load generator's own cost
	kindBareJSON targetKind = "bare-json"
	kindBareSQL  targetKind = "bare-sql"
	kindPaykit   targetKind = "paykit"
)

// storeKind is where a target keeps payments.
type storeKind string

// The stores.
const (
	storeNone     storeKind = "-"
	storeMemory   storeKind = "memory"
	storeSQLite   storeKind = "sqlite"
	storePostgres storeKind = "postgres"
)

// target is a server on loopback the clients drive, with the payments it
// created (for status reads and webhooks).
type target struct {
	kind  targetKind
	store storeKind
	url   string
	pool  *pool
	// phase is the scenario running, for the CPU profile's labels.
	phase   atomic.Value
	closers []func()
	// renew, when set, returns a new, empty target like this one.
	renew func(ctx context.Context) (*target, error)
	// backlog, when set, counts the notifications paykit has not
	// delivered yet.
	backlog func(ctx context.Context) (int64, error)
}

func (t *target) name() string {
	if t.store == storeNone {
		return string(t.kind)
	}
	return string(t.kind) + "/" + string(t.store)
}

// labels are the profile labels of the target's server goroutines:
// go tool pprof -tagfocus target=paykit/postgres.
func (t *target) labels() context.Context {
	phase, _ := t.phase.Load().(string)
	if phase == "" {
		phase = "setup"
	}
	return pprof.WithLabels(context.Background(), pprof.Labels("side", "server", "target", t.name(), "scenario", phase))
}

func (t *target) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
	t.closers = nil
}

// serveHTTP serves h on a new loopback port. Each connection's goroutine
// inherits the target's labels at the time it was accepted.
func (t *target) serveHTTP(ctx context.Context, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			// Runs on the accepting goroutine, just before it starts the
			// connection's goroutine.
			pprof.SetGoroutineLabels(t.labels())
			return ctx
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.url = "http://" + ln.Addr().String()
	t.closers = append(t.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	})
	return nil
}

// env is what the stores need: a directory for SQLite files and a
// PostgreSQL database of this run.
type env struct {
	sqliteDir string
	pgURL     string // "" when PostgreSQL is skipped
	pgNote    string // why it was skipped
	cleanups  []func()
	// paykitDBs are the paykit targets' databases, migrated, by store:
	// they outlive the targets, which renew starts afresh.
	paykitDBs map[storeKind]*bun.DB
}

func (e *env) close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// setupEnv makes a temporary directory for SQLite when sqlite is wanted,
// and creates paykit_bench_<random> on the PostgreSQL server when
// postgres is wanted and the server answers.
func setupEnv(ctx context.Context, cfg *config) (*env, error) {
	e := &env{paykitDBs: map[storeKind]*bun.DB{}}
	if cfg.wants(storeSQLite) {
		dir, err := os.MkdirTemp("", "paykit-load-")
		if err != nil {
			return nil, err
		}
		e.sqliteDir = dir
		e.cleanups = append(e.cleanups, func() { _ = os.RemoveAll(dir) })
	}
	if cfg.wants(storePostgres) {
		if err := e.createPostgres(ctx, cfg.pgURL); err != nil {
			e.pgNote = "PostgreSQL skipped: " + err.Error()
		}
	}
	return e, nil
}

func (e *env) createPostgres(ctx context.Context, server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return errors.New("the -pg URL does not parse")
	}
	where := u.Redacted()
	admin, err := bunstore.OpenPostgres(server)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		_ = admin.Close()
		return fmt.Errorf("%s is unreachable: %w", where, err)
	}
	name := "paykit_bench_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(pctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return fmt.Errorf("create database on %s: %w", where, err)
	}
	u.Path = "/" + name
	e.pgURL = u.String()
	e.cleanups = append(e.cleanups, func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "load: drop database %s: %v\n", name, err)
		}
		_ = admin.Close()
	})
	return nil
}

// openDB opens a SQL store's database: file names a SQLite file in the
// run's directory; PostgreSQL uses the run's database.
func (e *env) openDB(ctx context.Context, store storeKind, file string) (*bun.DB, error) {
	var (
		db  *bun.DB
		err error
	)
	switch store {
	case storeSQLite:
		db, err = bunstore.OpenSQLite(filepath.Join(e.sqliteDir, file))
	case storePostgres:
		if e.pgURL == "" {
			return nil, errors.New("no PostgreSQL database")
		}
		db, err = bunstore.OpenPostgres(e.pgURL)
	case storeNone, storeMemory:
		return nil, fmt.Errorf("%s is not a SQL store", store)
	}
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// paykitDB returns the migrated database of the paykit target on store,
// opening it the first time.
func (e *env) paykitDB(ctx context.Context, store storeKind) (*bun.DB, error) {
	if db, ok := e.paykitDBs[store]; ok {
		return db, nil
	}
	db, err := e.openDB(ctx, store, "paykit.db")
	if err != nil {
		return nil, err
	}
	if err := bunstore.Migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	e.paykitDBs[store] = db
	e.cleanups = append(e.cleanups, func() { _ = db.Close() })
	return db, nil
}

// newPaykitTarget wires paykit as a host would: the store, the sandbox
// provider (QR codes without PNG images), a Service with a subscriber that
// accepts every event and, with runService, the sweeper and notification
// dispatcher running; httpx's handler with an API key.
//
// Its renew starts a new target: a new sandbox (which keeps every charge
// in memory), Service and server; on memory an empty store, on SQL the
// same database and the payments it holds.
func newPaykitTarget(ctx context.Context, cfg *config, e *env, store storeKind, payments *pool) (*target, error) {
	if payments == nil {
		payments = &pool{}
	}
	t := &target{kind: kindPaykit, store: store, pool: payments}
	t.renew = func(ctx context.Context) (*target, error) {
		if store == storeMemory {
			return newPaykitTarget(ctx, cfg, e, store, nil)
		}
		return newPaykitTarget(ctx, cfg, e, store, payments)
	}
	var st payment.Store
	switch store {
	case storeMemory:
		st = memstore.New()
	case storeSQLite, storePostgres:
		db, err := e.paykitDB(ctx, store)
		if err != nil {
			return nil, err
		}
		bs, err := bunstore.New(db)
		if err != nil {
			return nil, err
		}
		st = bs
		t.backlog = func(ctx context.Context) (int64, error) {
			// bunstore's schema: a diagnostic only, so a change there
			// costs the column, not the run.
			var n int64
			err := db.QueryRowContext(ctx,
				`SELECT count(*) FROM paykit_outbox WHERE delivered_at IS NULL AND failed_at IS NULL`).Scan(&n)
			return n, err
		}
	case storeNone:
		return nil, errors.New("paykit needs a store")
	}
	sbx, err := sandbox.New()
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, func() { _ = sbx.Close() })
	// WithSyncAfter: the sweeper asks the provider about every payment
	// still pending a minute after it was last looked at. Every checkout
	// of a run stays pending (nobody pays), so from the second minute on
	// the sweeper would sync them as fast as they were created, a load no
	// shop sees and these figures do not measure. An hour keeps it out.
	svc, err := payment.New(st, payment.WithProvider(sbx), payment.WithSyncAfter(time.Hour),
		payment.WithSubscriber(func(context.Context, payment.Event) error { return nil }))
	if err != nil {
		t.close()
		return nil, err
	}
	h, err := httpx.NewHandler(svc, httpx.WithAPIKeys(apiKey))
	if err != nil {
		t.close()
		return nil, err
	}
	if err := t.serveHTTP(ctx, h); err != nil {
		t.close()
		return nil, err
	}
	if cfg.runService {
		rctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go pprof.Do(rctx, pprof.Labels("side", "server", "target", t.name(), "scenario", "background"), func(ctx context.Context) {
			defer wg.Done()
			_ = svc.Run(ctx)
		})
		t.closers = append(t.closers, func() { cancel(); wg.Wait() })
	}
	return t, nil
}

func newBareJSONTarget(ctx context.Context, tmpl payment.Payment, burn burner) (*target, error) {
	t := &target{kind: kindBareJSON, store: storeNone, pool: &pool{}}
	if err := t.serveHTTP(ctx, (&bareJSON{tmpl: tmpl, burn: burn}).handler()); err != nil {
		return nil, err
	}
	return t, nil
}

func newBareSQLTarget(ctx context.Context, e *env, store storeKind, tmpl payment.Payment) (*target, error) {
	t := &target{kind: kindBareSQL, store: store, pool: &pool{}}
	db, err := e.openDB(ctx, store, "bare.db")
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, func() { _ = db.Close() })
	if err := bareSchema(ctx, db); err != nil {
		t.close()
		return nil, err
	}
	if err := t.serveHTTP(ctx, (&bareSQL{tmpl: tmpl, db: db}).handler()); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func newClientTarget(ctx context.Context, tmplJSON []byte) (*target, error) {
	t := &target{kind: kindClient, store: storeNone, pool: &pool{}}
	c, err := newCanned(ctx, tmplJSON, t.labels)
	if err != nil {
		return nil, err
	}
	t.url = c.url()
	t.closers = append(t.closers, func() { _ = c.close() })
	return t, nil
}

// sandboxChargeBytes measures what a new sandbox provider keeps in memory
// for each of n payments it starts (it keeps every charge, as a gateway
// would on its side), so that the memory check can tell it from paykit's
// own. n is the number of checkouts of the pass it stands for: the
// sandbox's map costs more or less per charge with its size. Each request is made inside the
// measurement and dropped after its Start, as paykit's are, so the strings
// a charge keeps of its payment count as the sandbox's. They are made as
// the server makes them, by decoding the clients' checkout body: the
// method and the currency are strings of two and three bytes, which the
// runtime packs into shared 16-byte blocks, and a block is kept whole while
// a charge keeps one of them (constants instead left 15-19 B per checkout
// unaccounted for, over 2 MiB in a 60-second PostgreSQL pass).
func sandboxChargeBytes(ctx context.Context, n int) (float64, error) {
	if n <= 0 {
		return 0, nil
	}
	sbx, err := sandbox.New()
	if err != nil {
		return 0, err
	}
	defer func() { _ = sbx.Close() }()
	now := time.Now().UTC()
	var body []byte
	before := gcLive()
	for i := range n {
		body = appendCheckoutBody(body[:0], "ldcalibrat-"+strconv.FormatUint(uint64(i), 36))
		var params payment.CheckoutParams
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&params); err != nil {
			return 0, fmt.Errorf("sandbox calibration: %w", err)
		}
		id := fmt.Sprintf("pay_%026d", i)
		r := &payment.StartRequest{IdempotencyKey: id, Payment: &payment.Payment{
			Object: "payment", ID: id, Provider: sbx.Name(), Method: params.Method, OrderID: params.OrderID,
			Amount: params.Amount, Currency: params.Currency, Status: payment.StatusPending,
			CaptureMethod: payment.CaptureAutomatic, CreatedAt: now, UpdatedAt: now,
		}}
		if _, err := sbx.Start(ctx, r); err != nil {
			return 0, fmt.Errorf("sandbox calibration: %w", err)
		}
	}
	after := gcLive()
	runtime.KeepAlive(sbx)
	return max(0, float64(after)-float64(before)) / float64(n), nil
}

// template returns a real paykit checkout response (memstore, sandbox,
// QR): the payment the baselines answer with, and its JSON as paykit
// wrote it, for the canned responder.
func template(ctx context.Context) (payment.Payment, []byte, error) {
	var p payment.Payment
	sbx, err := sandbox.New()
	if err != nil {
		return p, nil, err
	}
	defer func() { _ = sbx.Close() }()
	svc, err := payment.New(memstore.New(), payment.WithProvider(sbx))
	if err != nil {
		return p, nil, err
	}
	h, err := httpx.NewHandler(svc, httpx.WithAPIKeys(apiKey))
	if err != nil {
		return p, nil, err
	}
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/checkout",
		bytes.NewReader(appendCheckoutBody(nil, "template-1")))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-API-Key", apiKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		return p, nil, fmt.Errorf("template checkout: status %d: %s", w.Code, w.Body)
	}
	body := w.Body.Bytes()
	if err := json.Unmarshal(body, &p); err != nil {
		return p, nil, fmt.Errorf("template checkout: %w", err)
	}
	return p, body, nil
}
