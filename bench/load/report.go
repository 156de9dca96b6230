package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is a whole run's results.
type report struct {
	cfg     *config
	started time.Time
	elapsed time.Duration
	passes  []*passResult
	notes   []string
	heap    heapStats // the whole run
}

// find returns the pass of that mode, scenario and target; pair selects
// among half-peak passes the one run at paykit/pair's rate. Of a pass
// repeated over rounds it returns the one with the median throughput.
func (r *report) find(m mode, sc scenario, k targetKind, s storeKind, pair storeKind) *passResult {
	all := r.matching(m, sc, k, s, pair)
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b *passResult) int { return cmp.Compare(a.rps(), b.rps()) })
	return all[(len(all)-1)/2]
}

func (r *report) matching(m mode, sc scenario, k targetKind, s storeKind, pair storeKind) []*passResult {
	var all []*passResult
	for _, p := range r.passes {
		if p.mode == m && p.sc == sc && p.kind == k && p.store == s && p.pair == pair {
			all = append(all, p)
		}
	}
	return all
}

// peaks returns the median peak pass of every scenario and target: the
// scenarios in the order they ran, each one's baselines before paykit and
// the stores in the order memory, SQLite, PostgreSQL.
func (r *report) peaks() []*passResult {
	var out []*passResult
	seen := map[string]bool{}
	scOrder := map[scenario]int{}
	for _, p := range r.passes {
		key := string(p.sc) + " " + p.target()
		if p.mode != modePeak || seen[key] {
			continue
		}
		seen[key] = true
		if _, ok := scOrder[p.sc]; !ok {
			scOrder[p.sc] = len(scOrder)
		}
		out = append(out, r.find(modePeak, p.sc, p.kind, p.store, ""))
	}
	slices.SortStableFunc(out, func(a, b *passResult) int {
		return cmp.Or(cmp.Compare(scOrder[a.sc], scOrder[b.sc]),
			cmp.Compare(slices.Index(kindOrder, a.kind), slices.Index(kindOrder, b.kind)),
			cmp.Compare(slices.Index(storeOrder, a.store), slices.Index(storeOrder, b.store)))
	})
	return out
}

// kindOrder and storeOrder are the order of the tables' rows.
var (
	kindOrder  = []targetKind{kindClient, kindBareJSON, kindBareSQL, kindPaykit}
	storeOrder = []storeKind{storeNone, storeMemory, storeSQLite, storePostgres}
)

// ratio returns the throughput of target (k, s) against that of the
// baseline (base, baseStore) at peak: the median, over the rounds, of the
// ratio within each round, and the lowest and highest of those. Within a
// round the two run a few seconds apart at most (in turns, for a SQL
// store's pair), so a round's ratio holds up better than one taken between
// medians from different rounds, when the machine's speed drifts. ok is
// false when either was not measured.
func (r *report) ratio(sc scenario, k targetKind, s storeKind, base targetKind, baseStore storeKind) (med, lo, hi float64, ok bool) {
	ps := r.matching(modePeak, sc, k, s, "")
	bs := r.matching(modePeak, sc, base, baseStore, "")
	if len(ps) == 0 || len(ps) != len(bs) {
		return 0, 0, 0, false
	}
	ratios := make([]float64, 0, len(ps))
	for i := range ps {
		if bs[i].rps() <= 0 {
			return 0, 0, 0, false
		}
		ratios = append(ratios, ps[i].rps()/bs[i].rps())
	}
	slices.Sort(ratios)
	return ratios[(len(ratios)-1)/2], ratios[0], ratios[len(ratios)-1], true
}

// ratioText formats ratio's result: the median, and the range when there
// were several rounds.
func (r *report) ratioText(sc scenario, k targetKind, s storeKind, base targetKind, baseStore storeKind) string {
	med, lo, hi, ok := r.ratio(sc, k, s, base, baseStore)
	switch {
	case !ok:
		return "-"
	case lo == hi:
		return fmt.Sprintf("%.0f%%", 100*med)
	default:
		return fmt.Sprintf("%.0f%% (%.0f-%.0f%%)", 100*med, 100*lo, 100*hi)
	}
}

// rpsRange formats p's throughput, with the lowest and highest of its
// rounds when there were several.
func (r *report) rpsRange(p *passResult) string {
	all := r.matching(p.mode, p.sc, p.kind, p.store, p.pair)
	if len(all) < 2 {
		return fmt.Sprintf("%.0f", p.rps())
	}
	lo, hi := all[0].rps(), all[0].rps()
	for _, q := range all[1:] {
		lo, hi = min(lo, q.rps()), max(hi, q.rps())
	}
	return fmt.Sprintf("%.0f (%.0f-%.0f)", p.rps(), lo, hi)
}

// serverAllocs returns the allocations per request of p less the
// client-only pass of the same scenario (the load generator's share), and
// whether that baseline was measured.
func (r *report) serverAllocs(p *passResult) (objects, bytes float64, ok bool) {
	c := r.find(modePeak, p.sc, kindClient, storeNone, "")
	if c == nil || p.kind == kindClient {
		return 0, 0, false
	}
	objects = p.perReq(p.allocs.objects) - c.perReq(c.allocs.objects)
	bytes = p.perReq(p.allocs.bytes) - c.perReq(c.allocs.bytes)
	return max(objects, 0), max(bytes, 0), true
}

const mib = 1 << 20

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// print writes the report as Markdown.
func (r *report) print(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "# paykit load run\n\n")
	fmt.Fprintf(w, "%d clients, %d round(s) of %s per peak pass and %s per half-peak pass; GOMAXPROCS %d, %s %s/%s; Service.Run %v, Idempotency-Key %v; took %s.\n\n",
		cfg.clients, cfg.rounds, cfg.duration, cfg.halfDuration, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		cfg.runService, cfg.idemKey, r.elapsed.Round(time.Second))
	if cfg.bareCPU > 0 {
		fmt.Fprintf(w, "Note: bare-json burns about %s more CPU per request (-bare-cpu), so the targets against it are not checked.\n\n", cfg.bareCPU)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "Note: %s\n\n", n)
	}

	fmt.Fprintf(w, "## Peak (closed loop)\n\n")
	fmt.Fprintf(w, "CPU and allocations are the whole process's (clients and servers) per request, and GC the part of that CPU "+
		"the garbage collector took (the runtime's estimate); \"server\" subtracts the "+
		"client-only pass of the same scenario. With several rounds, each row is the round with the median throughput, "+
		"and the range of all rounds follows it; a ratio to a baseline is the median of the rounds' ratios (each round's "+
		"paykit against the same round's baseline), and their range. paykit on a SQL store runs in turns of a second "+
		"with its minimal-SQL baseline. Steal is the share of the machine's CPU time the hypervisor gave to "+
		"other guests during the pass: a pass with much of it ran on less than the machine.\n\n")
	fmt.Fprintf(w, "| scenario | target | req/s | p50 | p99 | CPU µs/req | GC µs/req | allocs/req | KiB/req | server allocs/req | server KiB/req | vs bare-json | vs bare-sql | errors | steal |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.peaks() {
		srvObj, srvKiB := "-", "-"
		if o, b, ok := r.serverAllocs(p); ok {
			srvObj, srvKiB = fmt.Sprintf("%.0f", o), fmt.Sprintf("%.1f", b/1024)
		}
		vsJSON, vsSQL := "-", "-"
		if p.kind == kindPaykit || p.kind == kindBareSQL {
			vsJSON = r.ratioText(p.sc, p.kind, p.store, kindBareJSON, storeNone)
		}
		if p.kind == kindPaykit && p.store != storeMemory {
			vsSQL = r.ratioText(p.sc, p.kind, p.store, kindBareSQL, p.store)
		}
		errs := fmt.Sprint(p.errs)
		if p.note != "" {
			errs += " (" + p.note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f | %.0f | %.0f | %.1f | %s | %s | %s | %s | %s | %s |\n",
			p.sc, p.target(), r.rpsRange(p), ms(p.hist.quantile(0.5)), ms(p.hist.quantile(0.99)),
			p.perReq(uint64(p.cpu/time.Microsecond)), p.perReq(uint64(p.gc/time.Microsecond)), p.perReq(p.allocs.objects), p.perReq(p.allocs.bytes)/1024, srvObj, srvKiB, vsJSON, vsSQL, errs,
			p.ticks.stealPct())
	}

	if cfg.half {
		fmt.Fprintf(w, "\n## Half peak (open loop at half of paykit's peak rate)\n\n")
		fmt.Fprintf(w, "Latency counts from when each request was due. Added p99 = paykit's p99 minus the baseline's at the same rate, "+
			"in the same round. With several rounds, every pass runs once per round at the same rate (half the median peak); "+
			"each latency is the median over the rounds with their range, and an added p99 the median of the rounds' own. "+
			"Steal is over all three targets' slices of every round.\n\n")
		fmt.Fprintf(w, "| scenario | paykit store | rate/s | paykit p50 | paykit p99 | bare-json p99 | added p99 vs bare-json | bare-sql p99 | added p99 vs bare-sql | errors | steal |\n")
		fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, p := range r.halfPeaks() {
			all := r.matching(modeRate, p.sc, kindPaykit, p.store, p.store)
			errs, ticks := int64(0), cpuTicks{}
			for _, q := range all {
				errs += q.errs
				ticks = ticks.add(q.ticks)
			}
			cols := make([]string, 0, 4)
			for _, b := range []struct {
				kind  targetKind
				store storeKind
			}{{kindBareJSON, storeNone}, {kindBareSQL, p.store}} {
				bs := r.matching(modeRate, p.sc, b.kind, b.store, p.store)
				if len(bs) == 0 {
					cols = append(cols, "-", "-")
					continue
				}
				for _, q := range bs {
					errs += q.errs
					ticks = ticks.add(q.ticks)
				}
				cols = append(cols, msSpread(medianQuantile(bs, 0.99)), r.addedText(p.sc, p.store, b.kind, b.store))
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %d | %s |\n",
				p.sc, p.store, p.rate, msSpread(medianQuantile(all, 0.5)), msSpread(medianQuantile(all, 0.99)),
				cols[0], cols[1], cols[2], cols[3], errs, ticks.stealPct())
		}
	}

	fmt.Fprintf(w, "\n## Memory (peak passes)\n\n")
	fmt.Fprintf(w, "The heap is the process's, shared by every target; each row is one pass: the live heap after a forced GC "+
		"at its start and end (for a pass run in turns, the end is its start plus the growth within its turns), the highest live heap a GC saw during it, the highest bytes in heap objects sampled every "+
		"100 ms, the growth per request, the part of it the sandbox provider keeps (it holds every charge it started; "+
		"measured after each checkout pass by starting as many charges on a new sandbox), and allocations above 32 KiB. "+
		"paykit/memory starts each pass empty.\n\n")
	fmt.Fprintf(w, "| scenario | target | live start MiB | live end MiB | live max MiB | in use max MiB | growth B/req | sandbox B/req | allocs > 32 KiB | undelivered notifications at the end |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.peaks() {
		backlog := "-"
		if p.backlog >= 0 && p.kind == kindPaykit {
			backlog = fmt.Sprint(p.backlog)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %d | %s |\n", p.sc, p.target(),
			float64(p.heap.start)/mib, float64(p.heap.end)/mib, float64(p.heap.maxLive)/mib, float64(p.heap.maxInUse)/mib,
			growthPerReq(p), p.sandbox, p.allocs.large, backlog)
	}
	fmt.Fprintf(w, "\nWhole run: live heap %.1f MiB at the start, %.1f MiB at the end, at most %.1f MiB (in use at most %.1f MiB).\n",
		float64(r.heap.start)/mib, float64(r.heap.end)/mib, float64(r.heap.maxLive)/mib, float64(r.heap.maxInUse)/mib)

	fmt.Fprintf(w, "\n## Targets\n\n")
	for _, c := range r.checks() {
		mark := "met"
		switch {
		case c.skipped:
			mark = "not measured"
		case !c.met:
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "- **%s**: %s. %s\n", mark, c.name, c.detail)
	}
}

func growthPerReq(p *passResult) float64 {
	if p.reqs == 0 {
		return 0
	}
	return p.growth() / float64(p.reqs)
}

// growth is how much the live heap grew over the pass, in bytes.
func (p *passResult) growth() float64 { return float64(p.heap.end) - float64(p.heap.start) }

// sandboxShare is the part of the growth the sandbox provider keeps for
// the pass's charges, in bytes (zero but for checkout passes).
func (p *passResult) sandboxShare() float64 { return p.sandbox * float64(p.reqs) }

// check is one of the targets, evaluated.
type check struct {
	name    string
	met     bool
	skipped bool
	detail  string
}

func (r *report) ratioCheck(name string, sc scenario, store storeKind, base targetKind, baseStore storeKind, min float64) check {
	if r.burnsBase(base) {
		return check{name: name, skipped: true}
	}
	p := r.find(modePeak, sc, kindPaykit, store, "")
	b := r.find(modePeak, sc, base, baseStore, "")
	med, _, _, ok := r.ratio(sc, kindPaykit, store, base, baseStore)
	if p == nil || b == nil || !ok {
		return check{name: name, skipped: true}
	}
	return check{
		name: name,
		met:  med >= min && p.errs == 0,
		detail: fmt.Sprintf("%s, the median of the rounds' ratios (median rounds: %.0f vs %.0f req/s)",
			r.ratioText(sc, kindPaykit, store, base, baseStore), p.rps(), b.rps()),
	}
}

func (r *report) latencyCheck(name string, store storeKind, base targetKind, baseStore storeKind, limit time.Duration) check {
	if r.burnsBase(base) {
		return check{name: name, skipped: true}
	}
	c := check{name: name, skipped: true, met: true}
	var parts []string
	for _, sc := range allScenarios {
		med, lo, hi, ok := r.added(sc, store, base, baseStore)
		if !ok {
			continue
		}
		c.skipped = false
		errs := int64(0)
		ps := r.matching(modeRate, sc, kindPaykit, store, store)
		for _, p := range ps {
			errs += p.errs
		}
		if med >= limit || errs > 0 {
			c.met = false
		}
		parts = append(parts, fmt.Sprintf("%s %s at %.0f/s", sc, msSpread(med, lo, hi), ps[0].rate))
	}
	c.detail = strings.Join(parts, ", ")
	if len(parts) > 0 && r.cfg != nil && r.cfg.rounds > 1 {
		c.detail += " (the median of the rounds' own, and their range)"
	}
	return c
}

// burnsBase reports whether the baseline base does more than the least
// work (bare-json under -bare-cpu), so that no target is checked against it.
func (r *report) burnsBase(base targetKind) bool {
	return base == kindBareJSON && r.cfg != nil && r.cfg.bareCPU > 0
}

// halfPeaks returns the first half-peak pass of every paykit target and
// scenario, in the order they ran.
func (r *report) halfPeaks() []*passResult {
	var out []*passResult
	seen := map[string]bool{}
	for _, p := range r.passes {
		key := string(p.sc) + " " + string(p.store)
		if p.mode != modeRate || p.kind != kindPaykit || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// added returns the p99 latency paykit on store adds at half its peak to
// the baseline (base, baseStore) run at the same rate: the median, over
// the rounds, of the difference within each round, and the lowest and
// highest of those (as ratio does for throughput; of an even number of
// rounds, the higher middle one). ok is false when either was not
// measured.
func (r *report) added(sc scenario, store storeKind, base targetKind, baseStore storeKind) (med, lo, hi time.Duration, ok bool) {
	ps := r.matching(modeRate, sc, kindPaykit, store, store)
	bs := r.matching(modeRate, sc, base, baseStore, store)
	if len(ps) == 0 || len(ps) != len(bs) {
		return 0, 0, 0, false
	}
	diffs := make([]time.Duration, len(ps))
	for i := range ps {
		diffs[i] = ps[i].hist.quantile(0.99) - bs[i].hist.quantile(0.99)
	}
	slices.Sort(diffs)
	return diffs[len(diffs)/2], diffs[0], diffs[len(diffs)-1], true
}

// addedText formats added's result: the median, and the range when there
// were several rounds.
func (r *report) addedText(sc scenario, store storeKind, base targetKind, baseStore storeKind) string {
	med, lo, hi, ok := r.added(sc, store, base, baseStore)
	if !ok {
		return "-"
	}
	return msSpread(med, lo, hi)
}

// medianQuantile returns the median over passes of their latency at q
// (of an even number, the higher middle one), and the lowest and highest.
func medianQuantile(passes []*passResult, q float64) (med, lo, hi time.Duration) {
	vs := make([]time.Duration, len(passes))
	for i, p := range passes {
		vs[i] = p.hist.quantile(q)
	}
	slices.Sort(vs)
	return vs[len(vs)/2], vs[0], vs[len(vs)-1]
}

// msSpread formats a median latency, with the range when it has one.
func msSpread(med, lo, hi time.Duration) string {
	if lo == hi {
		return ms(med)
	}
	return fmt.Sprintf("%s (%.2f to %.2f)", ms(med), float64(lo)/float64(time.Millisecond), float64(hi)/float64(time.Millisecond))
}

func (r *report) checks() []check {
	out := []check{
		r.ratioCheck("memstore checkout throughput >= 50% of bare JSON", scCheckout, storeMemory, kindBareJSON, storeNone, 0.5),
		r.ratioCheck("memstore status throughput >= 70% of bare JSON", scStatus, storeMemory, kindBareJSON, storeNone, 0.7),
		r.ratioCheck("PostgreSQL checkout throughput >= 60% of minimal SQL", scCheckout, storePostgres, kindBareSQL, storePostgres, 0.6),
		r.ratioCheck("PostgreSQL webhook throughput >= 60% of minimal SQL", scWebhook, storePostgres, kindBareSQL, storePostgres, 0.6),
		r.latencyCheck("added p99 < 2 ms on memstore at half peak (vs bare JSON)", storeMemory, kindBareJSON, storeNone, 2*time.Millisecond),
		r.latencyCheck("added p99 < 5 ms on PostgreSQL at half peak (vs minimal SQL)", storePostgres, kindBareSQL, storePostgres, 5*time.Millisecond),
	}

	// Allocation per request, server side.
	alloc := check{name: "no request allocates more than 64 KiB (server side)", skipped: true, met: true}
	var worst *passResult
	var worstB float64
	var large uint64
	for _, p := range r.peaks() {
		if p.kind != kindPaykit {
			continue
		}
		large += p.allocs.large
		if _, b, ok := r.serverAllocs(p); ok {
			alloc.skipped = false
			if worst == nil || b > worstB {
				worst, worstB = p, b
			}
		}
	}
	if worst != nil {
		alloc.met = worstB <= 64<<10
		alloc.detail = fmt.Sprintf("the most is %.1f KiB per request (%s on %s); %d allocations above 32 KiB in all paykit peak passes",
			worstB/1024, worst.sc, worst.target(), large)
	}
	out = append(out, alloc)

	// Memory flat: the live heap of a pass ends where it started, less what
	// the sandbox keeps, except where the store keeps its data in the heap
	// (memstore writes).
	flat := check{name: "memory flat over each paykit pass", skipped: true, met: true}
	var parts []string
	for _, p := range r.peaks() {
		if p.kind != kindPaykit {
			continue
		}
		// What paykit added: the growth less what the sandbox keeps.
		growth := p.growth() - p.sandboxShare()
		if p.store == storeMemory && p.sc != scStatus {
			parts = append(parts, fmt.Sprintf("%s %s keeps its data: %+.0f B/req", p.sc, p.target(), growth/float64(max(p.reqs, 1))))
			continue
		}
		flat.skipped = false
		if growth > max(2*mib, float64(p.heap.start)/10) {
			flat.met = false
		}
		parts = append(parts, fmt.Sprintf("%s %s %+.1f MiB over %s", p.sc, p.target(), growth/mib, p.dur.Round(time.Second)))
	}
	flat.detail = strings.Join(parts, "; ")
	out = append(out, flat)
	return out
}
