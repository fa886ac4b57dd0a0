package monitor

import (
	"math/big"
	"sync"
	"time"
)

// Defaults of the balance history: the console charts the last six hours,
// one point a minute, which is finer than a person reads off a small chart
// and bounds the memory to a few KiB whatever BALANCE_REFRESH_INTERVAL is.
const (
	DefaultHistorySpan   = 6 * time.Hour
	DefaultHistoryPoints = 360
)

// BalanceSample is one reading of the wallet balance.
type BalanceSample struct {
	At  time.Time
	Wei *big.Int
}

// BalanceHistory keeps the wallet balance of the last hours for the console's
// chart. Prometheus keeps the long history; this one exists so the page
// draws its chart from the process alone, without a Prometheus to ask (an
// air-gapped ops network, a laptop in dev mode).
//
// It holds at most points samples. While young it keeps every reading, so a
// process that started minutes ago still draws a line; once full it drops
// every other sample and from then on keeps readings at least twice as far
// apart, so it ends up covering the whole span at about points/2 to points
// samples. The newest sample always is the latest reading. A nil
// *BalanceHistory records nothing. Safe for concurrent use.
type BalanceHistory struct {
	span   time.Duration
	points int

	mu      sync.Mutex
	samples []BalanceSample // oldest first
	step    time.Duration   // minimum spacing of kept samples; 0 keeps all
}

// NewBalanceHistory keeps span of history in at most points samples; zero
// values take the defaults.
func NewBalanceHistory(span time.Duration, points int) *BalanceHistory {
	if span <= 0 {
		span = DefaultHistorySpan
	}
	if points < 4 {
		points = DefaultHistoryPoints
	}
	return &BalanceHistory{span: span, points: points}
}

// Span is how far back the history reaches.
func (h *BalanceHistory) Span() time.Duration { return h.span }

// Add records a balance read at time at. A nil amount is ignored.
func (h *BalanceHistory) Add(at time.Time, wei *big.Int) {
	if h == nil || wei == nil {
		return
	}
	s := BalanceSample{At: at, Wei: new(big.Int).Set(wei)}
	h.mu.Lock()
	defer h.mu.Unlock()
	cutoff := at.Add(-h.span)
	drop := 0
	for drop < len(h.samples) && h.samples[drop].At.Before(cutoff) {
		drop++
	}
	h.samples = h.samples[drop:]
	// The last sample tracks the latest reading until the reading is a step
	// away from the one before it; then it stays and a new one starts.
	if n := len(h.samples); n >= 2 && at.Sub(h.samples[n-2].At) < h.step {
		h.samples[n-1] = s
		return
	}
	h.samples = append(h.samples, s)
	if len(h.samples) > h.points {
		h.thin()
	}
}

// thin halves the samples, keeping the newest, and doubles the spacing new
// ones are kept at.
func (h *BalanceHistory) thin() {
	n := len(h.samples)
	kept := make([]BalanceSample, 0, n/2+1)
	for i := (n - 1) % 2; i < n; i += 2 {
		kept = append(kept, h.samples[i])
	}
	covered := kept[len(kept)-1].At.Sub(kept[0].At)
	// At most 2 x span/points apart: the span then holds at least points/2.
	h.step = min(max(2*h.step, covered/time.Duration(len(kept))), 2*h.span/time.Duration(h.points))
	h.samples = kept
}

// Samples returns the readings of the last span before now, oldest first.
// The amounts are copies.
func (h *BalanceHistory) Samples(now time.Time) []BalanceSample {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cutoff := now.Add(-h.span)
	var out []BalanceSample
	for _, s := range h.samples {
		if !s.At.Before(cutoff) && !s.At.After(now) {
			out = append(out, BalanceSample{At: s.At, Wei: new(big.Int).Set(s.Wei)})
		}
	}
	return out
}
