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
// Readings are kept one per step (span/points): a reading in the same step
// as the previous one replaces it, so the latest value is always shown and
// the ring holds at most points samples. A nil *BalanceHistory records
// nothing. Safe for concurrent use.
type BalanceHistory struct {
	span time.Duration
	step time.Duration

	mu   sync.Mutex
	ring *timeRing[*big.Int]
}

// NewBalanceHistory keeps span of history in at most points samples; zero
// values take the defaults.
func NewBalanceHistory(span time.Duration, points int) *BalanceHistory {
	if span <= 0 {
		span = DefaultHistorySpan
	}
	if points <= 0 {
		points = DefaultHistoryPoints
	}
	step := max(span/time.Duration(points), time.Nanosecond)
	return &BalanceHistory{span: span, step: step, ring: newTimeRing[*big.Int](points + 1)}
}

// Span is how far back the history reaches.
func (h *BalanceHistory) Span() time.Duration { return h.span }

// Add records a balance read at time at. A nil amount is ignored.
func (h *BalanceHistory) Add(at time.Time, wei *big.Int) {
	if h == nil || wei == nil {
		return
	}
	v := new(big.Int).Set(wei)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring.dropBefore(at.Add(-h.span))
	if last := h.ring.last(); last != nil && at.Truncate(h.step).Equal(last.at.Truncate(h.step)) {
		*last = sample[*big.Int]{at: at, v: v}
		return
	}
	h.ring.push(at, v)
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
	h.ring.each(func(s sample[*big.Int]) {
		if !s.at.Before(cutoff) && !s.at.After(now) {
			out = append(out, BalanceSample{At: s.at, Wei: new(big.Int).Set(s.v)})
		}
	})
	return out
}

// last returns the newest sample for an update in place, nil when empty.
func (r *timeRing[T]) last() *sample[T] {
	if r.n == 0 {
		return nil
	}
	return &r.buf[(r.head+r.n-1)%len(r.buf)]
}
