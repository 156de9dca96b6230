// Command load measures paykit's HTTP API the way a host would see it:
// over loopback, with concurrent clients, next to baselines that do the
// least possible work for the same requests.
//
// In one process and one run it starts in-process servers on 127.0.0.1 and
// drives each with the same HTTP client (one shared http.Transport) for a
// fixed time per scenario:
//
//   - checkout: POST /checkout of a sandbox QR payment, a new order each time;
//   - status:   GET /payments/{id} of payments created before the pass;
//   - webhook:  POST /webhooks/sandbox of sandbox-signed payment.succeeded
//     callbacks, every other one a resend of an earlier callback (a duplicate
//     the inbox must absorb).
//
// The servers ("targets") are:
//
//   - paykit/memory, paykit/sqlite, paykit/postgres: httpx.NewHandler over a
//     payment.Service with the sandbox provider and that store, with the
//     sweeper and the notification dispatcher running (Service.Run) and a
//     subscriber that accepts every event, as a host runs it;
//   - bare-json: a net/http handler that decodes the same request with
//     encoding/json and encodes a response of the same size;
//   - bare-sql/sqlite, bare-sql/postgres: bare-json plus the least SQL for
//     the operation through the same bun database bunstore uses (for
//     checkout an INSERT of the pending payment, then an UPDATE to the
//     provider's answer, each its own commit; a SELECT by id for status;
//     and for a webhook one
//     transaction: INSERT into an inbox ON CONFLICT DO NOTHING, then for a
//     new event an UPDATE of the payment and an INSERT of an event);
//   - client-only: a raw responder that answers every request with
//     prebuilt bytes and allocates nothing, so what a pass against it costs is
//     the load generator's own share. Allocations per request are measured
//     process-wide (runtime.MemStats deltas over the pass); subtracting the
//     client-only figure gives the server's.
//
// Each pass is first run closed loop (every client sends its next request
// when the last is answered) to find the peak; the report gives requests/s,
// p50 and p99 latency, allocations, and each paykit figure as a ratio of
// the baselines' in the same run. Then, for the latency target, each paykit
// pass is run open loop at half its peak rate, next to the baselines at the
// same rate; latency counts from when a request was due, and the report
// gives the p99 paykit adds. Every pass samples the heap (live bytes after a
// forced GC at its start and end, and the highest seen in between), so a
// long run (-duration 60s) shows whether memory stays flat.
//
// Usage:
//
//	go run ./bench/load [-duration 10s] [-clients 16] [-rounds 1] [-scenarios checkout,status,webhook]
//	    [-stores memory,sqlite,postgres] [-pg postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable]
//	    [-half=true] [-half-duration 10s] [-baselines=true] [-bare-cpu 0] [-service=true] [-idempotency-key=false] [-drain 1m]
//	    [-cpuprofile cpu.out] [-memprofile mem.out] [-memprofilerate 0]
//
// PostgreSQL is the -pg server (default: $PAYKIT_TEST_DATABASE_URL, else the
// local server): the run creates a database paykit_bench_<random> there and
// drops it at the end; an unreachable server is skipped with a note. SQLite
// files live in a temporary directory removed at the end.
//
// The CPU profile labels every server goroutine with its target and
// scenario, and client goroutines with side=client:
//
//	go tool pprof -tagfocus target=paykit/postgres -tagfocus scenario=webhook cpu.out
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// defaultPostgres is the server tried without -pg and
// PAYKIT_TEST_DATABASE_URL.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// config is what the flags say.
type config struct {
	duration     time.Duration
	halfDuration time.Duration
	clients      int
	rounds       int
	scenarios    []scenario
	stores       []storeKind
	baselines    bool
	bareCPU      time.Duration
	half         bool
	pgURL        string
	runService   bool
	idemKey      bool
	drain        time.Duration
}

func (c *config) wants(s storeKind) bool { return slices.Contains(c.stores, s) }

func parseFlags(args []string) (*config, *profiles, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	cfg := &config{}
	prof := &profiles{}
	pg := os.Getenv("PAYKIT_TEST_DATABASE_URL")
	if pg == "" {
		pg = defaultPostgres
	}
	var scenarios, stores string
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long each measured pass runs")
	fs.DurationVar(&cfg.halfDuration, "half-duration", 0, "how long each half-peak pass runs (default: -duration)")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	fs.IntVar(&cfg.rounds, "rounds", 1, "how many times to run the peak and half-peak passes (the report takes the median)")
	fs.StringVar(&scenarios, "scenarios", "checkout,status,webhook", "scenarios to run")
	fs.StringVar(&stores, "stores", "memory,sqlite,postgres", "paykit stores to run (and their baselines)")
	fs.BoolVar(&cfg.baselines, "baselines", true, "run the bare-json, bare-sql and client-only baselines")
	fs.BoolVar(&cfg.half, "half", true, "run the half-peak latency passes")
	fs.DurationVar(&cfg.bareCPU, "bare-cpu", 0, "make bare-json burn about this much more CPU per request (an experiment: the targets against bare JSON are then not checked)")
	fs.StringVar(&cfg.pgURL, "pg", pg, "PostgreSQL server URL (a database is created there and dropped)")
	fs.BoolVar(&cfg.runService, "service", true, "run paykit's sweeper and notification dispatcher (Service.Run)")
	fs.BoolVar(&cfg.idemKey, "idempotency-key", false, "send an Idempotency-Key with every checkout")
	fs.DurationVar(&cfg.drain, "drain", time.Minute, "before each pass, wait up to this long for paykit's notification backlog to drain (SQL stores)")
	fs.StringVar(&prof.cpu, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&prof.mem, "memprofile", "", "write an allocation profile of the whole run to this file")
	fs.IntVar(&prof.rate, "memprofilerate", 0, "runtime.MemProfileRate for -memprofile (0: the default)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if cfg.duration <= 0 || cfg.clients <= 0 || cfg.rounds <= 0 {
		return nil, nil, errors.New("-duration, -clients and -rounds must be positive")
	}
	if cfg.halfDuration <= 0 {
		cfg.halfDuration = cfg.duration
	}
	for _, s := range splitList(scenarios) {
		sc := scenario(s)
		if !slices.Contains(allScenarios, sc) {
			return nil, nil, fmt.Errorf("-scenarios: unknown %q (checkout, status, webhook)", s)
		}
		cfg.scenarios = append(cfg.scenarios, sc)
	}
	for _, s := range splitList(stores) {
		st := storeKind(s)
		if st != storeMemory && st != storeSQLite && st != storePostgres {
			return nil, nil, fmt.Errorf("-stores: unknown %q (memory, sqlite, postgres)", s)
		}
		cfg.stores = append(cfg.stores, st)
	}
	if len(cfg.scenarios) == 0 || len(cfg.stores) == 0 {
		return nil, nil, errors.New("-scenarios and -stores must name at least one")
	}
	return cfg, prof, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// profiles are the -cpuprofile and -memprofile files.
type profiles struct {
	cpu, mem string
	rate     int
}

func mainErr() error {
	cfg, prof, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if prof.rate > 0 {
		runtime.MemProfileRate = prof.rate
	}
	if prof.cpu != "" {
		f, err := os.Create(prof.cpu)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	rep.print(os.Stdout)
	if prof.mem != "" {
		f, err := os.Create(prof.mem)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return nil
}

// run sets up the targets, runs every pass and returns the report.
// Progress goes to logw.
func run(ctx context.Context, cfg *config, logw io.Writer) (*report, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(logw, format+"\n", args...) }
	rep := &report{cfg: cfg, started: time.Now()}

	tmpl, tmplJSON, err := template(ctx)
	if err != nil {
		return nil, err
	}
	e, err := setupEnv(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if e.pgNote != "" {
		logf("%s", e.pgNote)
		rep.notes = append(rep.notes, e.pgNote)
	}
	stores := slices.DeleteFunc(slices.Clone(cfg.stores), func(s storeKind) bool { return s == storePostgres && e.pgURL == "" })

	var targets []*target
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	add := func(t *target, err error) error {
		if err != nil {
			return err
		}
		targets = append(targets, t)
		return nil
	}
	if cfg.baselines {
		if err := add(newClientTarget(ctx, tmplJSON)); err != nil {
			return nil, fmt.Errorf("client-only target: %w", err)
		}
		if err := add(newBareJSONTarget(ctx, tmpl, newBurner(cfg.bareCPU))); err != nil {
			return nil, fmt.Errorf("bare-json target: %w", err)
		}
		for _, s := range stores {
			if s == storeMemory {
				continue
			}
			if err := add(newBareSQLTarget(ctx, e, s, tmpl)); err != nil {
				return nil, fmt.Errorf("bare-sql/%s target: %w", s, err)
			}
		}
	}
	for _, s := range stores {
		if err := add(newPaykitTarget(ctx, cfg, e, s, nil)); err != nil {
			return nil, fmt.Errorf("paykit/%s target: %w", s, err)
		}
	}

	d := newDriver(cfg, "ld"+strings.ToLower(rand.Text()[:8]), logf)
	runSampler := startHeapSampler(gcLive(), time.Second)

	// renew starts the paykit targets afresh, so that what one scenario
	// left in the heap (memstore's payments, the sandbox's charges) does
	// not weigh on the next.
	renewOne := func(i int) error {
		t := targets[i]
		if t.renew == nil {
			return nil
		}
		nt, err := t.renew(ctx)
		if err != nil {
			return fmt.Errorf("renew %s: %w", t.name(), err)
		}
		t.close()
		targets[i] = nt
		return nil
	}
	renew := func() error {
		for i := range targets {
			if err := renewOne(i); err != nil {
				return err
			}
		}
		return nil
	}

	// Scenario by scenario: the peak passes, then the half-peak passes at
	// half the rate just measured, so that a half-peak pass runs in the
	// state its peak ran in (the database no larger, the machine no
	// slower than a few passes later). Rounds repeat the peak passes of
	// every target, so that a noisy moment spoils one round, not one
	// target. A paykit target on a SQL store runs in turns with its
	// minimal-SQL baseline (see peakGroups).
	for _, sc := range cfg.scenarios {
		for round := range cfg.rounds {
			if err := renew(); err != nil {
				return nil, err
			}
			for _, group := range peakGroups(targets) {
				ts := make([]*target, len(group))
				for j, i := range group {
					ts[j] = targets[i]
				}
				rs, err := d.inTurns(ctx, ts, sc, 0, cfg.duration, rep)
				if err != nil {
					return nil, err
				}
				for j, r := range rs {
					t := ts[j]
					logf("%-8s %-18s peak  %8.0f req/s  p50 %s  p99 %s  steal %s  (round %d)%s", sc, t.name(), r.rps(),
						ms(r.hist.quantile(0.5)), ms(r.hist.quantile(0.99)), r.ticks.stealPct(), round+1, errNote(r))
					if t.kind == kindPaykit && sc == scCheckout {
						if r.sandbox, err = sandboxChargeBytes(ctx, int(r.reqs)); err != nil {
							return nil, err
						}
					}
					if t.kind == kindPaykit {
						logf("%-8s %-18s heap  %+.1f MiB, of which the sandbox's %.1f MiB  (round %d)", sc, t.name(),
							r.growth()/mib, r.sandboxShare()/mib, round+1)
					}
					rep.passes = append(rep.passes, r)
				}
				// What the pass left in the heap (memstore's payments, the
				// sandbox's charges) goes before the next target's pass:
				// a large live heap makes every allocation dearer.
				for _, i := range group {
					if err := renewOne(i); err != nil {
						return nil, err
					}
				}
			}
		}
		if !cfg.half {
			continue
		}
		// The half-peak passes repeat over the rounds too, at the one rate
		// of the median peak: a p99 is the slowest hundredth of a few
		// seconds, and one stalled fsync or collection moves it by more
		// than the targets' margins (a minimal-SQL p99 of 3.5 ms in one
		// run, 107 ms in the next).
		for round := range cfg.rounds {
			if err := renew(); err != nil {
				return nil, err
			}
			for i, p := range targets {
				if p.kind != kindPaykit {
					continue
				}
				if err := d.halfPeak(ctx, targets, p, sc, round, rep); err != nil {
					return nil, err
				}
				if err := renewOne(i); err != nil {
					return nil, err
				}
			}
		}
	}
	rep.heap = runSampler.stop(gcLive())
	rep.elapsed = time.Since(rep.started)
	return rep, nil
}

// turnSlice is how long each target of a group that runs in turns (see
// inTurns) runs before the next one's turn.
const turnSlice = time.Second

// peakGroups returns the peak passes of a round, as indexes of targets in
// the order they run: every paykit target on a SQL store with its
// minimal-SQL baseline, to run in turns; every other target alone.
// Throughput on this machine moves by a quarter from one minute to the
// next, with or without steal, and a baseline measured a few passes away
// from paykit's made the ratio move with it (29% to 47% between the rounds
// of one run). In turns, both see the same minutes. bare-json and
// paykit/memory do not run in turns: memstore keeps every payment in the
// heap, and bare JSON would pay for marking it.
func peakGroups(targets []*target) [][]int {
	var groups [][]int
	paired := map[int]bool{}
	for i, t := range targets {
		if paired[i] {
			continue
		}
		group := []int{i}
		if t.kind == kindBareSQL {
			for j, p := range targets {
				if p.kind == kindPaykit && p.store == t.store {
					group = append(group, j)
					paired[j] = true
				}
			}
		}
		groups = append(groups, group)
	}
	return groups
}

// inTurns runs ts at rate (0: closed loop, as fast as they go) for dur
// each, in turns of about turnSlice when there are several, so that a
// noisy moment on a shared machine hits them alike; each target's turns
// are added up into one result, in the order of ts.
func (d *driver) inTurns(ctx context.Context, ts []*target, sc scenario, rate float64, dur time.Duration, rep *report) ([]*passResult, error) {
	n := 1
	if len(ts) > 1 {
		n = max(1, int((dur+turnSlice/2)/turnSlice))
	}
	slice := dur / time.Duration(n)
	sums := make([]*passResult, len(ts))
	for range n {
		for i, t := range ts {
			r, err := d.measure(ctx, t, sc, rate, slice, rep, sums[i])
			if err != nil {
				return nil, err
			}
			if sums[i] == nil {
				sums[i] = r
			} else {
				sums[i].add(r)
			}
		}
	}
	return sums, nil
}

// halfPeak runs paykit target p open loop at half its peak rate, in turns
// with the baselines it is compared with (bare-json, and bare-sql of the
// same store) at the same rate.
func (d *driver) halfPeak(ctx context.Context, targets []*target, p *target, sc scenario, round int, rep *report) error {
	peak := rep.find(modePeak, sc, kindPaykit, p.store, "")
	if peak == nil || peak.rps() <= 0 {
		return nil
	}
	rate := peak.rps() / 2
	var trio []*target
	for _, t := range targets {
		if t == p || t.kind == kindBareJSON || (t.kind == kindBareSQL && t.store == p.store) {
			trio = append(trio, t)
		}
	}
	sums, err := d.inTurns(ctx, trio, sc, rate, d.cfg.halfDuration, rep)
	if err != nil {
		return err
	}
	for _, r := range sums {
		r.pair = p.store
		d.log("%-8s %-18s at %6.0f/s (half of paykit/%s)  p50 %s  p99 %s  steal %s  (round %d)%s", sc, r.target(), rate, p.store,
			ms(r.hist.quantile(0.5)), ms(r.hist.quantile(0.99)), r.ticks.stealPct(), round+1, errNote(r))
		rep.passes = append(rep.passes, r)
	}
	return nil
}

// measure runs a pass after making sure the target has the payments it
// needs; a webhook pass that runs out of fresh payments is run again with
// more. done, when not nil, is what the target's earlier turns of this
// pass measured.
func (d *driver) measure(ctx context.Context, t *target, sc scenario, rate float64, dur time.Duration, rep *report, done *passResult) (*passResult, error) {
	need := 0
	switch {
	case sc == scWebhook && rate > 0:
		need = int(rate*dur.Seconds()/2*1.1) + 4*d.cfg.clients
	case sc == scWebhook:
		est := 1000.0
		switch c := rep.find(modePeak, scCheckout, t.kind, t.store, ""); {
		case done != nil && done.rps() > 0:
			est = 1.5 * done.rps() // the rate of its earlier turns
		case c != nil && c.rps() > 0:
			est = 2 * c.rps()
		}
		need = int(est*dur.Seconds()/2) + 4*d.cfg.clients
	case sc == scStatus:
		need = 1000
	}
	for attempt := 1; ; attempt++ {
		if err := d.prepare(ctx, t, sc, need); err != nil {
			return nil, err
		}
		r, err := d.pass(ctx, t, sc, rate, dur)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", sc, t.name(), err)
		}
		if !r.exhausted || attempt == 3 {
			return r, nil
		}
		d.log("  %s on %s %s; again with more", sc, t.name(), r.note)
		// Half the requests use a fresh payment; the next pass may run
		// faster than this one, so each attempt asks for more.
		need = int(max(r.rps(), rate)*dur.Seconds()*float64(attempt)) + 4*d.cfg.clients
	}
}

func errNote(r *passResult) string {
	s := ""
	if r.errs > 0 {
		s += fmt.Sprintf("  %d ERRORS, first: %s", r.errs, r.first)
	}
	if r.note != "" {
		s += "  (" + r.note + ")"
	}
	return s
}
