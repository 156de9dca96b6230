package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/providers/sandbox"
)

// TestRunMemstore runs the whole program briefly against memstore with
// every baseline, and checks that every pass sent requests, none failed,
// and the report has its sections.
func TestRunMemstore(t *testing.T) {
	// The collector's CPU time is read from a runtime metric updated when a
	// cycle ends; a low GOGC makes every short pass run some, so that the
	// check below does not depend on how fast the machine is (a 100 ms
	// status pass under -race could allocate too little for one).
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	cfg := &config{
		duration:     100 * time.Millisecond,
		halfDuration: 50 * time.Millisecond,
		clients:      4,
		rounds:       1,
		scenarios:    allScenarios,
		stores:       []storeKind{storeMemory},
		baselines:    true,
		half:         true,
		runService:   true,
	}
	rep, err := run(t.Context(), cfg, io.Discard)
	require.NoError(t, err)

	// Peak: client-only, bare-json and paykit/memory per scenario; half
	// peak: paykit/memory and bare-json per scenario.
	require.Len(t, rep.passes, 3*3+3*2)
	for _, p := range rep.passes {
		require.Positive(t, p.reqs, "%s %s %s sent no requests", p.mode, p.sc, p.target())
		require.Zero(t, p.errs, "%s %s %s: %s", p.mode, p.sc, p.target(), p.first)
		require.False(t, p.exhausted, "%s %s %s ran out of payments", p.mode, p.sc, p.target())
		require.Positive(t, p.hist.quantile(0.99), "%s %s %s: no latency", p.mode, p.sc, p.target())
		if runtime.GOOS == "linux" {
			require.Positive(t, p.ticks.total, "%s %s %s: the machine's CPU time was not read", p.mode, p.sc, p.target())
			require.LessOrEqual(t, p.ticks.steal, p.ticks.total)
		}
	}
	for _, sc := range allScenarios {
		p := rep.find(modePeak, sc, kindPaykit, storeMemory, "")
		require.NotNil(t, p, "no paykit/memory %s pass", sc)
		_, b, ok := rep.serverAllocs(p)
		require.True(t, ok, "no client-only pass for %s", sc)
		require.Positive(t, b, "paykit/memory %s allocates nothing on the server", sc)
		require.Positive(t, p.gc, "paykit/memory %s: the collector's CPU time was not read", sc)
		require.NotNil(t, rep.find(modeRate, sc, kindBareJSON, storeNone, storeMemory), "no bare-json pass at paykit's half rate for %s", sc)
	}

	var out bytes.Buffer
	rep.print(&out)
	for _, s := range []string{"## Peak", "## Half peak", "## Memory", "## Targets", "| checkout | paykit/memory |", "| webhook | bare-json |"} {
		require.Contains(t, out.String(), s)
	}
}

// TestRunSQLiteInTurns runs a SQLite checkout pass long enough for two
// turns, and checks that paykit and its minimal-SQL baseline each ran the
// whole duration, and that the report pairs them.
func TestRunSQLiteInTurns(t *testing.T) {
	cfg := &config{
		duration: 2 * turnSlice, halfDuration: 50 * time.Millisecond, clients: 4, rounds: 1,
		scenarios: []scenario{scCheckout}, stores: []storeKind{storeSQLite}, baselines: true, runService: true,
	}
	rep, err := run(t.Context(), cfg, io.Discard)
	require.NoError(t, err)
	for _, k := range []targetKind{kindBareSQL, kindPaykit} {
		p := rep.find(modePeak, scCheckout, k, storeSQLite, "")
		require.NotNil(t, p, "no %s/sqlite pass", k)
		require.Positive(t, p.reqs)
		require.Zero(t, p.errs, p.first)
		require.InDelta(t, cfg.duration.Seconds(), p.dur.Seconds(), 0.5, "%s/sqlite ran its turns", k)
	}
	_, _, _, ok := rep.ratio(scCheckout, kindPaykit, storeSQLite, kindBareSQL, storeSQLite)
	require.True(t, ok)
}

func TestStealShare(t *testing.T) {
	before, after := cpuTicks{steal: 10, total: 1000}, cpuTicks{steal: 40, total: 1200}
	d := after.sub(before)
	require.Equal(t, cpuTicks{steal: 30, total: 200}, d)
	require.Equal(t, "15%", d.stealPct())
	require.Equal(t, "12%", d.add(cpuTicks{steal: 0, total: 50}).stealPct(), "slices add up before the share is taken")
	require.Equal(t, "-", cpuTicks{}.stealPct(), "not measured")
	require.Equal(t, cpuTicks{}, before.sub(after), "a counter that went back (another reading) is no measurement")
}

// TestWebhookDuplicates checks that every other webhook request resends
// a callback sent earlier, byte for byte, and the others report a new
// payment paid.
func TestWebhookDuplicates(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		bodies []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get(sandbox.HeaderSignature) == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	l := &load{
		t: &target{url: srv.URL}, sc: scWebhook, client: srv.Client(),
		fresh: []payRef{{id: "pay_1", ref: "sbx_1", order: "o1"}, {id: "pay_2", ref: "sbx_2", order: "o2"}, {id: "pay_3", ref: "sbx_3", order: "o3"}},
	}
	w := newWorker(1)
	for range 6 {
		require.NoError(t, l.do(t.Context(), w))
	}
	require.Zero(t, w.errs, w.first)
	require.Equal(t, int64(3), l.next.Load(), "three of six requests are new callbacks")
	require.Len(t, bodies, 6)
	for i, b := range bodies {
		if i%2 == 0 {
			require.Contains(t, b, `"id":"evt_sbx_pay_`+strconv.Itoa(i/2+1)+`_succeeded"`)
			continue
		}
		require.Contains(t, bodies[:i], b, "request %d resends an earlier callback", i)
	}
	require.ErrorIs(t, l.do(t.Context(), w), errExhausted, "a fourth new callback has no payment left")
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{3 * time.Millisecond}, 0.99, 3 * time.Millisecond},
		{"median of 1..100 ms", msRange(1, 100), 0.5, 50 * time.Millisecond},
		{"p99 of 1..100 ms", msRange(1, 100), 0.99, 99 * time.Millisecond},
		{"small values are exact", []time.Duration{10, 20, 30}, 0.5, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			for _, v := range tt.values {
				h.record(v)
			}
			got := h.quantile(tt.q)
			tolerance := float64(tt.want) / 100 // within 1%
			require.InDelta(t, float64(tt.want), float64(got), tolerance)
		})
	}
}

func msRange(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*time.Millisecond)
	}
	return out
}

func TestJSONString(t *testing.T) {
	body := []byte(`{"object":"payment","id":"pay_01ABC","provider":"sandbox","order_id":"ld-1","customer":{"id":"customer-123"},"provider_reference":"sbx_ch_1"}`)
	require.Equal(t, "pay_01ABC", jsonString(body, `"id":"`))
	require.Equal(t, "sbx_ch_1", jsonString(body, `"provider_reference":"`))
	require.Equal(t, "ld-1", jsonString(body, `"order_id":"`))
	require.Empty(t, jsonString(body, `"missing":"`))
}

// TestFindTakesTheMedianRound checks that repeated peak passes are
// represented by the round with the median throughput.
func TestFindTakesTheMedianRound(t *testing.T) {
	t.Parallel()
	pass := func(reqs int64) *passResult {
		return &passResult{sc: scStatus, kind: kindPaykit, store: storeMemory, mode: modePeak, reqs: reqs, dur: time.Second}
	}
	rep := &report{cfg: &config{rounds: 3}, passes: []*passResult{pass(300), pass(100), pass(200)}}
	got := rep.find(modePeak, scStatus, kindPaykit, storeMemory, "")
	require.NotNil(t, got)
	require.InDelta(t, 200.0, got.rps(), 0.001)
	require.Equal(t, "200 (100-300)", rep.rpsRange(got))
	require.Len(t, rep.peaks(), 1)
	require.Nil(t, rep.find(modePeak, scCheckout, kindPaykit, storeMemory, ""))
}

// TestRatioPairsRounds checks that a ratio to a baseline is taken within
// each round and the median of those reported: here the medians of the two
// targets come from different rounds (1,000 vs 4,000 req/s would be 25%),
// while every round's own ratio is 40-50%.
func TestRatioPairsRounds(t *testing.T) {
	t.Parallel()
	pass := func(kind targetKind, reqs int64) *passResult {
		return &passResult{sc: scCheckout, kind: kind, store: storePostgres, mode: modePeak, reqs: reqs, dur: time.Second}
	}
	rep := &report{cfg: &config{rounds: 3}, passes: []*passResult{
		pass(kindBareSQL, 2000), pass(kindPaykit, 1000), // round 1: 50%
		pass(kindBareSQL, 4000), pass(kindPaykit, 1800), // round 2: 45%
		pass(kindBareSQL, 6000), pass(kindPaykit, 2400), // round 3: 40%
	}}
	med, lo, hi, ok := rep.ratio(scCheckout, kindPaykit, storePostgres, kindBareSQL, storePostgres)
	require.True(t, ok)
	require.InDelta(t, 0.45, med, 1e-9)
	require.InDelta(t, 0.40, lo, 1e-9)
	require.InDelta(t, 0.50, hi, 1e-9)
	require.Equal(t, "45% (40-50%)", rep.ratioText(scCheckout, kindPaykit, storePostgres, kindBareSQL, storePostgres))
	c := rep.ratioCheck("checkout", scCheckout, storePostgres, kindBareSQL, storePostgres, 0.44)
	require.True(t, c.met, c.detail)
	_, _, _, ok = rep.ratio(scCheckout, kindPaykit, storePostgres, kindBareJSON, storeNone)
	require.False(t, ok, "no bare-json pass")
}

// TestAddedP99PairsRounds checks that the p99 paykit adds at half peak is
// taken within each round and the median of those reported and checked: a
// round whose baseline stalled (round 2) neither passes the target by
// itself nor sets the figure.
func TestAddedP99PairsRounds(t *testing.T) {
	t.Parallel()
	pass := func(kind targetKind, store storeKind, p99 time.Duration) *passResult {
		r := &passResult{sc: scWebhook, kind: kind, store: store, pair: storePostgres, mode: modeRate, rate: 500, reqs: 100, dur: time.Second}
		for range 100 {
			r.hist.record(p99)
		}
		return r
	}
	msec := time.Millisecond
	rep := &report{cfg: &config{rounds: 3}, passes: []*passResult{
		pass(kindBareJSON, storeNone, 1*msec), pass(kindBareSQL, storePostgres, 4*msec), pass(kindPaykit, storePostgres, 10*msec), // +6 ms
		pass(kindBareJSON, storeNone, 1*msec), pass(kindBareSQL, storePostgres, 100*msec), pass(kindPaykit, storePostgres, 9*msec), // -91 ms
		pass(kindBareJSON, storeNone, 2*msec), pass(kindBareSQL, storePostgres, 3*msec), pass(kindPaykit, storePostgres, 11*msec), // +8 ms
	}}
	med, lo, hi, ok := rep.added(scWebhook, storePostgres, kindBareSQL, storePostgres)
	require.True(t, ok)
	require.InDelta(t, float64(6*msec), float64(med), float64(msec)/50)
	require.InDelta(t, float64(-91*msec), float64(lo), float64(msec))
	require.InDelta(t, float64(8*msec), float64(hi), float64(msec)/10)
	c := rep.latencyCheck("webhook", storePostgres, kindBareSQL, storePostgres, 5*msec)
	require.False(t, c.skipped)
	require.False(t, c.met, c.detail)
	require.Regexp(t, `^webhook [56]\.\d\d ms \(-9\d\.\d\d to [78]\.\d\d\) at 500/s`, c.detail)
	c = rep.latencyCheck("webhook", storePostgres, kindBareSQL, storePostgres, 7*msec)
	require.True(t, c.met, c.detail)
	require.Len(t, rep.halfPeaks(), 1, "one row for the three rounds")
	_, _, _, ok = rep.added(scCheckout, storePostgres, kindBareSQL, storePostgres)
	require.False(t, ok, "no checkout pass")
}

// TestBurnerAndItsChecks checks that -bare-cpu's burner costs about what
// it was asked for, and that the targets against bare JSON are not checked
// while bare-json burns it.
func TestBurnerAndItsChecks(t *testing.T) {
	require.Zero(t, newBurner(0).n, "no burner by default")
	b := newBurner(2 * time.Millisecond)
	require.Positive(t, b.n)
	start := time.Now()
	b.burn()
	took := time.Since(start)
	require.Greater(t, took, 200*time.Microsecond, "a 2 ms burner took %s", took)
	require.Less(t, took, 200*time.Millisecond, "a 2 ms burner took %s", took)

	pass := func(kind targetKind, store storeKind, m mode, p99 time.Duration) *passResult {
		r := &passResult{sc: scCheckout, kind: kind, store: store, mode: m, rate: 500, reqs: 100, dur: time.Second}
		if m == modeRate {
			r.pair = storeMemory
		}
		r.hist.record(p99)
		return r
	}
	rep := &report{cfg: &config{rounds: 1, bareCPU: time.Millisecond}, passes: []*passResult{
		pass(kindBareJSON, storeNone, modePeak, time.Millisecond), pass(kindPaykit, storeMemory, modePeak, time.Millisecond),
		pass(kindBareJSON, storeNone, modeRate, time.Millisecond), pass(kindPaykit, storeMemory, modeRate, time.Millisecond),
	}}
	require.True(t, rep.ratioCheck("checkout", scCheckout, storeMemory, kindBareJSON, storeNone, 0.5).skipped)
	require.True(t, rep.latencyCheck("latency", storeMemory, kindBareJSON, storeNone, 2*time.Millisecond).skipped)
	rep.cfg.bareCPU = 0
	require.False(t, rep.ratioCheck("checkout", scCheckout, storeMemory, kindBareJSON, storeNone, 0.5).skipped)
	require.False(t, rep.latencyCheck("latency", storeMemory, kindBareJSON, storeNone, 2*time.Millisecond).skipped)
}

// TestTurnsAddUpTheirOwnGrowth checks that a pass run in turns counts the
// heap's growth within its turns, not what happened between them.
func TestTurnsAddUpTheirOwnGrowth(t *testing.T) {
	t.Parallel()
	turn := func(start, end uint64) *passResult {
		return &passResult{reqs: 100, dur: time.Second, heap: heapStats{start: start, end: end, maxLive: end, maxInUse: end}}
	}
	r := turn(10<<20, 11<<20)       // +1 MiB
	r.add(turn(20<<20, 20<<20+512)) // +512 B, after 9 MiB made between the turns
	r.add(turn(15<<20, 14<<20))     // -1 MiB
	require.Equal(t, uint64(10<<20+512), r.heap.end)
	require.Equal(t, uint64(10<<20), r.heap.start)
	require.Equal(t, uint64(20<<20+512), r.heap.maxLive)
	require.Equal(t, int64(300), r.reqs)
}

// TestPeakGroups checks that each paykit target on a SQL store runs in
// turns with the baseline of its store, and every other target alone.
func TestPeakGroups(t *testing.T) {
	t.Parallel()
	targets := []*target{
		{kind: kindClient},
		{kind: kindBareJSON},
		{kind: kindBareSQL, store: storeSQLite},
		{kind: kindBareSQL, store: storePostgres},
		{kind: kindPaykit, store: storeMemory},
		{kind: kindPaykit, store: storeSQLite},
		{kind: kindPaykit, store: storePostgres},
	}
	require.Equal(t, [][]int{{0}, {1}, {2, 5}, {3, 6}, {4}}, peakGroups(targets))
}

// TestPoolForgetsUsedPayments checks that a pool keeps the fresh payments
// and poolKeep used ones, so that a long run does not grow it.
func TestPoolForgetsUsedPayments(t *testing.T) {
	t.Parallel()
	var p pool
	for i := range 5 * poolKeep {
		p.add(payRef{id: "pay_" + strconv.Itoa(i)})
	}
	p.consume(4 * poolKeep)
	all, fresh := p.snapshot()
	require.Len(t, fresh, poolKeep, "the fresh payments stay")
	require.Equal(t, "pay_"+strconv.Itoa(4*poolKeep), fresh[0].id, "the first fresh payment is the next one")
	require.Len(t, all, 2*poolKeep, "poolKeep used payments stay for status reads")
}
