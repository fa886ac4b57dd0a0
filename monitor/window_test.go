package monitor

import (
	"math/big"
	"testing"
	"time"
)

func TestSpendWindowRate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	gwei := func(n int64) *big.Int { return big.NewInt(n * 1e9) }
	for _, tc := range []struct {
		name    string
		samples []time.Duration // offsets from t0, each paying 1000 gwei
		now     time.Duration
		want    *big.Int // wei per hour; nil means no recent spend
	}{
		{name: "nothing", now: time.Hour, want: nil},
		{name: "one sample over the covered 30 minutes", samples: []time.Duration{10 * time.Minute}, now: 30 * time.Minute, want: gwei(2000)},
		{name: "full hour", samples: []time.Duration{90 * time.Minute, 100 * time.Minute, 110 * time.Minute}, now: 2 * time.Hour, want: gwei(3000)},
		{name: "old samples fall out", samples: []time.Duration{10 * time.Minute, 90 * time.Minute}, now: 2 * time.Hour, want: gwei(1000)},
		{name: "all out of the window", samples: []time.Duration{10 * time.Minute}, now: 3 * time.Hour, want: nil},
		{name: "coverage floor right after start", samples: []time.Duration{time.Second}, now: time.Second, want: gwei(60_000)},
		{name: "future samples ignored", samples: []time.Duration{2 * time.Hour}, now: time.Hour, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSpendWindow(t0, time.Hour, 16)
			for _, s := range tc.samples {
				w.add(t0.Add(s), gwei(1000))
			}
			got, ok := w.rate(t0.Add(tc.now))
			if tc.want == nil {
				if ok {
					t.Fatalf("rate = %s, want no recent spend", got)
				}
				return
			}
			if !ok || got.Cmp(tc.want) != 0 {
				t.Fatalf("rate = %v (%v), want %s", got, ok, tc.want)
			}
		})
	}
}

// When the sample cap is reached the oldest samples are dropped, and the
// rate must be computed over the time still covered, not the whole hour:
// otherwise a busy relay would look cheaper than it is.
func TestSpendWindowOverflow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := newSpendWindow(t0, time.Hour, 4)
	for i := 1; i <= 8; i++ { // one sample every 5 minutes, 1 gwei each
		w.add(t0.Add(time.Duration(i)*5*time.Minute), big.NewInt(1e9))
	}
	if w.ring.n != 4 {
		t.Fatalf("ring holds %d samples, want the cap 4", w.ring.n)
	}
	// Kept: minutes 25..40; covered: just after minute 20 until minute 40.
	got, ok := w.rate(t0.Add(40 * time.Minute))
	if !ok {
		t.Fatal("no rate")
	}
	covered := 20*time.Minute - time.Nanosecond
	want := new(big.Int).Mul(big.NewInt(4e9), big.NewInt(int64(time.Hour)))
	want.Quo(want, big.NewInt(int64(covered)))
	if got.Cmp(want) != 0 {
		t.Fatalf("rate = %s, want %s (4 gwei over ~20 min)", got, want)
	}
}

func TestSpendWindowIgnoresNonPositive(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := newSpendWindow(t0, time.Hour, 4)
	w.add(t0, nil)
	w.add(t0, big.NewInt(0))
	w.add(t0, big.NewInt(-5))
	if w.ring.n != 0 {
		t.Fatalf("ring holds %d samples", w.ring.n)
	}
}

func TestEventWindowSaturates(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	w := newEventWindow(time.Hour, 3)
	for range 5 {
		w.add(t0)
	}
	if got := w.count(t0); got != 3 {
		t.Fatalf("count = %d, want the cap 3", got)
	}
	if got := w.count(t0.Add(time.Hour)); got != 0 {
		t.Fatalf("count an hour later = %d, want 0", got)
	}
}
