package bench

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Latency summarises a set of durations, in milliseconds for JSON.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

// Summarise computes nearest-rank percentiles of ds.
func Summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{
		Count: len(s),
		P50:   ms(percentile(s, 50)), P95: ms(percentile(s, 95)), P99: ms(percentile(s, 99)),
		Max:  ms(s[len(s)-1]),
		Mean: ms(sum / time.Duration(len(s))),
	}
}

// BlockLatency summarises how many blocks applications waited for their
// inclusion (blocksWaited): 1 is the first block sealed after the enqueue.
type BlockLatency struct {
	Count int     `json:"count"`
	P50   int     `json:"p50"`
	P95   int     `json:"p95"`
	P99   int     `json:"p99"`
	Max   int     `json:"max"`
	Mean  float64 `json:"mean"`
}

// SummariseBlocks computes nearest-rank percentiles of block counts.
func SummariseBlocks(ns []int) BlockLatency {
	if len(ns) == 0 {
		return BlockLatency{}
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	sum := 0
	for _, n := range s {
		sum += n
	}
	return BlockLatency{Count: len(s), P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99),
		Max: s[len(s)-1], Mean: float64(sum) / float64(len(s))}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile[T cmp.Ordered](sorted []T, p float64) T {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
