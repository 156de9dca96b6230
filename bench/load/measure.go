package main

import (
	"math/bits"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// histSub is the number of buckets per power of two above the linear range:
// latencies are kept to within 1/histSub (under 1%).
const (
	histSubBits = 8
	histSub     = 1 << histSubBits
	histHalf    = histSub / 2
	// histBuckets covers up to 2^47 ns (about 39 hours).
	histBuckets = (48 - histSubBits + 2) * histHalf
)

// histogram records latencies in fixed memory, so recording neither
// allocates nor grows the heap during a pass.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

func bucketOf(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	shift := bits.Len64(ns) - histSubBits
	m := ns >> shift // in [histHalf, histSub)
	i := (shift+1)*histHalf + int(m-histHalf)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketValue is the middle of bucket i, in nanoseconds.
func bucketValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histHalf - 1
	m := uint64(i%histHalf + histHalf)
	return m<<shift + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency at q (0 < q <= 1), or 0 without samples.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), h.max)
		}
	}
	return h.max
}

// gcCPU returns the CPU time the runtime estimates the garbage collector has
// used so far (marking, assists, pauses and sweeping not counted apart).
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// allocCounts are the process's cumulative allocation counters.
type allocCounts struct {
	objects uint64 // runtime.MemStats.Mallocs
	bytes   uint64 // runtime.MemStats.TotalAlloc
	large   uint64 // allocations above 32 KiB (the largest size class)
}

func readAllocs() allocCounts {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := []metrics.Sample{{Name: "/gc/heap/allocs-by-size:bytes"}}
	metrics.Read(s)
	var large uint64
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := s[0].Value.Float64Histogram()
		for i, c := range h.Counts {
			if h.Buckets[i] > 32<<10 {
				large += c
			}
		}
	}
	return allocCounts{objects: ms.Mallocs, bytes: ms.TotalAlloc, large: large}
}

func (a allocCounts) sub(b allocCounts) allocCounts {
	return allocCounts{objects: a.objects - b.objects, bytes: a.bytes - b.bytes, large: a.large - b.large}
}

// heapStats describe the heap over a pass: live bytes (marked by the last
// GC) after a forced GC at the start and at the end, the highest live
// figure any GC during the pass reported, and the highest bytes in heap
// objects (live or not yet swept) sampled.
type heapStats struct {
	start, end, maxLive, maxInUse uint64
}

var heapMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes"}

func readHeap() (live, inUse uint64) {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, n := range heapMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		inUse = s[1].Value.Uint64()
	}
	return live, inUse
}

// gcLive forces a collection and returns the live heap it found.
func gcLive() uint64 {
	runtime.GC()
	live, _ := readHeap()
	return live
}

// heapSampler samples the heap every interval until stop.
type heapSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	stats heapStats
}

func startHeapSampler(start uint64, every time.Duration) *heapSampler {
	s := &heapSampler{stopc: make(chan struct{}), stats: heapStats{start: start, maxLive: start}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) sample() {
	live, inUse := readHeap()
	s.stats.maxLive = max(s.stats.maxLive, live)
	s.stats.maxInUse = max(s.stats.maxInUse, inUse)
}

// stop ends sampling and returns the stats, end included.
func (s *heapSampler) stop(end uint64) heapStats {
	close(s.stopc)
	s.wg.Wait()
	s.stats.end = end
	s.stats.maxLive = max(s.stats.maxLive, end)
	return s.stats
}
