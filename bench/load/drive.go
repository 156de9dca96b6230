package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mode is how a pass sends requests.
type mode string

const (
	// modePeak: closed loop, each client sends its next request as soon as
	// the last one is answered.
	modePeak mode = "peak"
	// modeRate: open loop at a fixed rate; a request's latency counts from
	// when it was due, so queueing behind a slow server shows.
	modeRate mode = "rate"
)

// passResult is what one pass measured.
type passResult struct {
	sc     scenario
	kind   targetKind
	store  storeKind
	mode   mode
	rate   float64   // the asked rate (modeRate)
	pair   storeKind // modeRate: the paykit store whose rate this is
	reqs   int64
	errs   int64
	first  string // the first error
	dur    time.Duration
	hist   histogram
	allocs allocCounts
	cpu    time.Duration // the process's CPU time (clients and servers)
	gc     time.Duration // the part of cpu the garbage collector used
	ticks  cpuTicks      // the machine's CPU time over the pass (steal)
	// backlog is how many notifications paykit had not delivered at the
	// end of the pass; -1 when the store cannot tell.
	backlog int64
	heap    heapStats
	// sandbox is the heap the sandbox provider keeps per request of a
	// paykit checkout pass (one charge each; see sandboxChargeBytes).
	sandbox float64
	note    string
	// exhausted: a webhook pass ran out of fresh payments.
	exhausted bool
}

// add accumulates o, a later pass of the same scenario and target.
func (r *passResult) add(o *passResult) {
	r.reqs += o.reqs
	r.errs += o.errs
	if r.first == "" {
		r.first = o.first
	}
	r.dur += o.dur
	r.hist.merge(&o.hist)
	r.allocs.objects += o.allocs.objects
	r.allocs.bytes += o.allocs.bytes
	r.allocs.large += o.allocs.large
	r.exhausted = r.exhausted || o.exhausted
	r.cpu += o.cpu
	r.gc += o.gc
	r.ticks = r.ticks.add(o.ticks)
	// The end is the start plus the growth within each turn: what happens
	// between turns (the other targets' turns, the payments made for the
	// next) is not this target's.
	r.heap.end = uint64(max(0, int64(r.heap.end)+int64(o.heap.end)-int64(o.heap.start)))
	r.heap.maxLive = max(r.heap.maxLive, o.heap.maxLive)
	r.heap.maxInUse = max(r.heap.maxInUse, o.heap.maxInUse)
	if o.note != "" {
		r.note = strings.TrimPrefix(r.note+"; "+o.note, "; ")
	}
}

// cpuTicks is machine CPU time, in clock ticks: stolen by the hypervisor,
// and all of it.
type cpuTicks struct{ steal, total uint64 }

func (t cpuTicks) add(o cpuTicks) cpuTicks { return cpuTicks{t.steal + o.steal, t.total + o.total} }

func (t cpuTicks) sub(o cpuTicks) cpuTicks {
	if t.total < o.total || t.steal < o.steal {
		return cpuTicks{}
	}
	return cpuTicks{t.steal - o.steal, t.total - o.total}
}

// stealPct is the share of the machine's CPU time the hypervisor gave to
// others, as "12%", or "-" when it was not measured.
func (t cpuTicks) stealPct() string {
	if t.total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(t.steal)/float64(t.total))
}

func (r *passResult) rps() float64 {
	if r.dur <= 0 {
		return 0
	}
	return float64(r.reqs) / r.dur.Seconds()
}

func (r *passResult) perReq(n uint64) float64 {
	if r.reqs == 0 {
		return 0
	}
	return float64(n) / float64(r.reqs)
}

func (r *passResult) target() string {
	if r.store == storeNone {
		return string(r.kind)
	}
	return string(r.kind) + "/" + string(r.store)
}

// driver runs passes with one HTTP client shared by every pass.
type driver struct {
	cfg    *config
	client *http.Client
	tr     *http.Transport
	orders atomic.Uint64
	runID  string
	seed   atomic.Uint64
	log    func(format string, args ...any)
}

func newDriver(cfg *config, runID string, log func(string, ...any)) *driver {
	tr := &http.Transport{
		MaxIdleConns:        4 * cfg.clients,
		MaxIdleConnsPerHost: 2 * cfg.clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &driver{
		cfg:    cfg,
		tr:     tr,
		client: &http.Client{Transport: tr, Timeout: time.Minute},
		runID:  runID,
		log:    log,
	}
}

func (d *driver) newLoad(t *target, sc scenario) *load {
	all, fresh := t.pool.snapshot()
	return &load{t: t, sc: sc, client: d.client, orders: &d.orders, runID: d.runID, idemKey: d.cfg.idemKey, all: all, fresh: fresh}
}

// prepare makes sure the target has the payments the scenario needs,
// creating them with untimed checkouts: status reads need some to read,
// webhooks need need fresh ones.
func (d *driver) prepare(ctx context.Context, t *target, sc scenario, need int) error {
	switch sc {
	case scCheckout:
		return nil
	case scStatus:
		need = max(need, 4*d.cfg.clients)
		if t.pool.size() >= need {
			return nil
		}
	case scWebhook:
		if t.pool.fresh() >= need {
			return nil
		}
	}
	d.log("  creating payments on %s for %s", t.name(), sc)
	for {
		missing := need - t.pool.fresh()
		if sc == scStatus {
			missing = need - t.pool.size()
		}
		if missing <= 0 {
			return nil
		}
		r, err := d.run(ctx, t, scCheckout, modePeak, 0, 0, missing)
		if err != nil {
			return err
		}
		if r.errs > 0 {
			return fmt.Errorf("creating payments on %s: %d errors, first: %s", t.name(), r.errs, r.first)
		}
	}
}

// pass runs one measured pass: a short untimed warm-up of the scenario,
// then dur of requests, closed loop (rate 0) or at rate per second.
//
// Before it starts, the target's notification backlog (what earlier
// requests left for the dispatcher) is given up to -drain to be delivered,
// so that one pass's background work does not run during the next; the
// backlog left at the end of the pass is recorded.
func (d *driver) pass(ctx context.Context, t *target, sc scenario, rate float64, dur time.Duration) (*passResult, error) {
	t.phase.Store(string(sc))
	note := d.drain(ctx, t)
	d.tr.CloseIdleConnections() // new connections carry the scenario's profile label
	if _, err := d.run(ctx, t, sc, modePeak, 0, 0, 2*d.cfg.clients); err != nil {
		return nil, err
	}
	m := modePeak
	if rate > 0 {
		m = modeRate
	}
	r, err := d.run(ctx, t, sc, m, rate, dur, 0)
	if err != nil {
		return nil, err
	}
	r.kind, r.store = t.kind, t.store
	r.backlog = -1
	if t.backlog != nil {
		if n, err := t.backlog(ctx); err == nil {
			r.backlog = n
		}
	}
	if note != "" {
		r.note = strings.TrimPrefix(r.note+"; "+note, "; ")
	}
	return r, nil
}

// drain waits up to -drain for t's outbox backlog to be delivered, giving
// up early when it stops shrinking for drainStall, and says so when it
// was not delivered.
func (d *driver) drain(ctx context.Context, t *target) string {
	if t.backlog == nil || d.cfg.drain <= 0 || !d.cfg.runService {
		return "" // without Service.Run nothing delivers them
	}
	start := time.Now()
	best, bestAt := int64(-1), start
	for {
		n, err := t.backlog(ctx)
		if err != nil || n == 0 {
			return ""
		}
		if best < 0 || n < best {
			best, bestAt = n, time.Now()
		}
		if time.Since(start) >= d.cfg.drain || time.Since(bestAt) >= drainStall {
			d.log("  %s: %d notifications still undelivered after %s", t.name(), n, time.Since(start).Round(time.Second))
			return fmt.Sprintf("started with %d notifications undelivered", n)
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// drainStall is how long drain waits for a backlog that does not shrink.
const drainStall = 10 * time.Second

// run sends requests for dur, or until count requests when count > 0
// (an untimed run). A timed run is measured: allocations, heap, latency.
func (d *driver) run(ctx context.Context, t *target, sc scenario, m mode, rate float64, dur time.Duration, count int) (*passResult, error) {
	l := d.newLoad(t, sc)
	timed := count == 0
	l.harvest = !timed
	res := &passResult{sc: sc, mode: m, rate: rate}
	var (
		sampler   *heapSampler
		before    allocCounts
		cpuBefore time.Duration
		gcBefore  time.Duration
		ticks     cpuTicks
	)
	if timed {
		sampler = startHeapSampler(gcLive(), 100*time.Millisecond)
		before = readAllocs()
		cpuBefore, gcBefore = processCPU(), gcCPU()
		ticks = machineTicks()
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		workers   = make([]*worker, d.cfg.clients)
		wg        sync.WaitGroup
		issued    atomic.Int64
		exhausted atomic.Bool
		failed    error
		failOnce  sync.Once
	)
	stopWith := func(err error) {
		if errors.Is(err, errExhausted) {
			exhausted.Store(true)
		} else if !errors.Is(err, context.Canceled) {
			failOnce.Do(func() { failed = err })
		}
		cancel()
	}
	start := time.Now()
	deadline := start.Add(dur)
	// more says whether a closed-loop client sends another request.
	more := func() bool {
		if rctx.Err() != nil {
			return false
		}
		if !timed {
			return issued.Add(1) <= int64(count)
		}
		return time.Now().Before(deadline)
	}
	var due chan time.Time
	if m == modeRate {
		due = make(chan time.Time)
	}
	labels := pprof.Labels("side", "client")
	for i := range workers {
		w := newWorker(d.seed.Add(1))
		workers[i] = w
		wg.Add(1)
		go pprof.Do(rctx, labels, func(ctx context.Context) {
			defer wg.Done()
			if m == modeRate {
				for at := range due {
					if err := l.do(ctx, w); err != nil {
						stopWith(err)
						return
					}
					w.hist.record(time.Since(at))
				}
				return
			}
			for more() {
				t0 := time.Now()
				if err := l.do(ctx, w); err != nil {
					stopWith(err)
					return
				}
				w.hist.record(time.Since(t0))
			}
		})
	}
	if m == modeRate {
		interval := time.Duration(float64(time.Second) / rate)
	dispatch:
		for i := int64(0); ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(deadline) {
				break
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			select {
			case due <- at:
			case <-rctx.Done():
				break dispatch
			}
		}
		close(due)
	}
	wg.Wait()
	res.dur = time.Since(start)
	if timed {
		res.cpu, res.gc = processCPU()-cpuBefore, gcCPU()-gcBefore
		res.ticks = machineTicks().sub(ticks)
		res.allocs = readAllocs().sub(before)
	}
	if failed != nil {
		return nil, failed
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, w := range workers {
		res.reqs += w.reqs
		res.errs += w.errs
		if res.first == "" {
			res.first = w.first
		}
		res.hist.merge(&w.hist)
	}
	if sc == scWebhook {
		t.pool.consume(int(min(l.next.Load(), int64(len(l.fresh)))))
	}
	if exhausted.Load() {
		res.exhausted = true
		res.note = fmt.Sprintf("ran out of fresh payments after %.1fs", res.dur.Seconds())
	}
	if timed {
		res.heap = sampler.stop(gcLive())
	}
	return res, nil
}
