package monitor

import (
	"math/big"
	"sync"
	"time"
)

// sample is one timestamped value in a timeRing.
type sample[T any] struct {
	at time.Time
	v  T
}

// timeRing is a fixed-capacity FIFO of timestamped samples. Samples leave at
// the front when they age out or when the ring is full, so memory stays
// bounded however busy the relay gets. It is not safe for concurrent use; its
// owners hold a mutex.
type timeRing[T any] struct {
	buf  []sample[T]
	head int // index of the oldest sample
	n    int // number of samples held
}

func newTimeRing[T any](capacity int) *timeRing[T] {
	if capacity < 1 {
		capacity = 1
	}
	return &timeRing[T]{buf: make([]sample[T], capacity)}
}

// push appends a sample. When the ring is full the oldest sample is dropped
// and returned with ok = true, so the caller can account for the lost history.
func (r *timeRing[T]) push(at time.Time, v T) (evicted sample[T], ok bool) {
	if r.n == len(r.buf) {
		evicted, ok = r.buf[r.head], true
		r.buf[r.head] = sample[T]{}
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
	r.buf[(r.head+r.n)%len(r.buf)] = sample[T]{at: at, v: v}
	r.n++
	return evicted, ok
}

// dropBefore removes samples older than cutoff from the front. Samples are
// pushed in (nearly) time order, so stopping at the first young sample is
// enough; readers still filter by time, so an out-of-order sample only costs
// a slot until it reaches the front.
func (r *timeRing[T]) dropBefore(cutoff time.Time) {
	for r.n > 0 && r.buf[r.head].at.Before(cutoff) {
		r.buf[r.head] = sample[T]{}
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
}

// each calls fn for every sample, oldest first.
func (r *timeRing[T]) each(fn func(sample[T])) {
	for i := range r.n {
		fn(r.buf[(r.head+i)%len(r.buf)])
	}
}

// Defaults of the spend window: an hour is long enough to smooth over bursts
// of applications and short enough to follow a change in gas prices; 1024
// samples bound the memory (a few tens of KiB) even at one confirmation per
// second.
const (
	defaultSpendSpan    = time.Hour
	defaultSpendSamples = 1024
	// minSpendCoverage keeps the rate sane right after start or after the
	// ring overflowed: one confirmation observed over a few milliseconds
	// would otherwise extrapolate to an absurd hourly spend.
	minSpendCoverage = time.Minute
)

// spendWindow keeps the gas paid by recently confirmed transactions and turns
// it into a spend rate. It is safe for concurrent use.
type spendWindow struct {
	mu   sync.Mutex
	span time.Duration
	ring *timeRing[*big.Int]
	// since is the start of the history we have complete knowledge of:
	// creation time, moved forward whenever the ring drops a sample because
	// it is full. Spend before it is unknown, so it must not count as time
	// without spend.
	since time.Time
}

func newSpendWindow(start time.Time, span time.Duration, maxSamples int) *spendWindow {
	return &spendWindow{span: span, ring: newTimeRing[*big.Int](maxSamples), since: start}
}

// add records that wei were paid at time at. Non-positive amounts carry no
// information about spend and are ignored.
func (w *spendWindow) add(at time.Time, wei *big.Int) {
	if wei == nil || wei.Sign() <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring.dropBefore(at.Add(-w.span))
	if ev, ok := w.ring.push(at, new(big.Int).Set(wei)); ok {
		// History up to and including the dropped sample is now incomplete.
		if s := ev.at.Add(time.Nanosecond); s.After(w.since) {
			w.since = s
		}
	}
}

// rate returns the spend in wei per hour over the part of the window that is
// actually covered by our observations, and false when nothing was spent in
// it.
//
// The covered duration is now minus the latest of (now - span), the window's
// creation and the last overflow. Dividing by the full span instead would
// understate the rate for a freshly started process.
func (w *spendWindow) rate(now time.Time) (*big.Int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := now.Add(-w.span)
	if w.since.After(start) {
		start = w.since
	}
	w.ring.dropBefore(now.Add(-w.span))
	sum := new(big.Int)
	w.ring.each(func(s sample[*big.Int]) {
		if !s.at.Before(start) && !s.at.After(now) {
			sum.Add(sum, s.v)
		}
	})
	if sum.Sign() == 0 {
		return nil, false
	}
	covered := now.Sub(start)
	if covered < minSpendCoverage {
		covered = minSpendCoverage
	}
	// wei/hour = sum * 1h / covered, in integer nanoseconds to stay exact.
	r := new(big.Int).Mul(sum, big.NewInt(int64(time.Hour)))
	return r.Quo(r, big.NewInt(int64(covered))), true
}

// eventWindow counts events in a trailing window, saturating at its capacity.
// It is safe for concurrent use.
type eventWindow struct {
	mu   sync.Mutex
	span time.Duration
	ring *timeRing[struct{}]
}

func newEventWindow(span time.Duration, maxEvents int) *eventWindow {
	return &eventWindow{span: span, ring: newTimeRing[struct{}](maxEvents)}
}

func (w *eventWindow) add(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring.push(at, struct{}{})
}

// count returns the number of events in (now - span, now].
func (w *eventWindow) count(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	cutoff := now.Add(-w.span)
	w.ring.dropBefore(cutoff)
	n := 0
	w.ring.each(func(s sample[struct{}]) {
		if s.at.After(cutoff) && !s.at.After(now) {
			n++
		}
	})
	return n
}
