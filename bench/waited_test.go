package bench

import (
	"testing"
	"time"
)

func TestBlocksWaited(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	// Blocks 11, 12, 13 begin sealing at 1 s, 2 s and 3 s.
	blocks := []BlockInfo{{Number: 11, sealStart: t0.Add(time.Second)}, {Number: 12, sealStart: t0.Add(2 * time.Second)},
		{Number: 13, sealStart: t0.Add(3 * time.Second)}}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name     string
		enqueued time.Time
		mined    uint64
		want     int
		ok       bool
	}{
		{"before the run's first block, in it: one", at(500), 11, 1, true},
		{"between blocks, in the next: one", at(1500), 12, 1, true},
		{"between blocks, in the one after: two", at(1500), 13, 2, true},
		{"enqueued as block 12 began sealing: 13 is its first", at(2000), 13, 1, true},
		{"after the last block's start, in a later one", at(3500), 14, 1, true},
		{"not mined", at(1500), 0, 0, false},
		{"mined before its enqueue: no figure", at(2500), 12, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := blocksWaited(blocks, tc.enqueued, tc.mined)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("blocksWaited = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if s := SummariseBlocks([]int{1, 1, 1, 2, 1, 1, 1, 1, 1, 3}); s.P50 != 1 || s.P95 != 3 || s.P99 != 3 || s.Max != 3 || s.Count != 10 {
		t.Errorf("SummariseBlocks = %+v", s)
	}
}
