package relay

import (
	"testing"
	"time"
)

func TestPollDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name            string
		interval, bound time.Duration
		want            time.Duration
	}{
		{"no interval learnt yet: a quick first look", 0, 2000 * ms, firstHeadPoll},
		{"no interval learnt, bound below the first look: the bound", 0, 100 * ms, 100 * ms},
		{"1 s blocks: a quarter", 1000 * ms, 2000 * ms, 250 * ms},
		{"12 s blocks: CHAIN_POLL_INTERVAL bounds it", 12000 * ms, 2000 * ms, 2000 * ms},
		{"2 s blocks: a quarter", 2000 * ms, 2000 * ms, 500 * ms},
		{"0.25 s blocks: never below the floor", 100 * ms, 2000 * ms, minHeadPoll},
		{"a bound below the floor wins", 100 * ms, 20 * ms, 20 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pollDelay(tc.interval, tc.bound); got != tc.want {
				t.Fatalf("pollDelay(%v, %v) = %v, want %v", tc.interval, tc.bound, got, tc.want)
			}
		})
	}
}

func TestNextBlockInterval(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		interval time.Duration
		took     time.Duration
		blocks   uint64
		want     time.Duration
	}{
		{"first sample is the estimate", 0, 1200 * time.Millisecond, 1, 1200 * time.Millisecond},
		{"a sample over several blocks is per block", 0, 24 * s, 2, 12 * s},
		{"moves a quarter of the way to a sample", 1 * s, 2 * s, 1, 1250 * time.Millisecond},
		{"and down", 2 * s, 1 * s, 1, 1750 * time.Millisecond},
		{"no block: unchanged", 1 * s, 5 * s, 0, 1 * s},
		{"no time: unchanged", 1 * s, 0, 1, 1 * s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextBlockInterval(tc.interval, tc.took, tc.blocks); got != tc.want {
				t.Fatalf("nextBlockInterval = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPassDue(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		head, last uint64
		since      time.Duration
		want       bool
	}{
		{"new head: a pass at once", 11, 10, 10 * time.Millisecond, true},
		{"same head, bound not reached: only the head was read", 10, 10, 1 * s, false},
		{"same head for a whole poll interval: a pass anyway", 10, 10, 2 * s, true},
		{"head went back (reorg, other backend): a pass", 9, 10, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := passDue(tc.head, tc.last, tc.since, 2*s); got != tc.want {
				t.Fatalf("passDue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLookDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name            string
		pushing         bool
		interval, bound time.Duration
		want            time.Duration
	}{
		{"heads pushed: only the bound, however fast the blocks", true, 1000 * ms, 2000 * ms, 2000 * ms},
		{"heads pushed, nothing learnt: the bound", true, 0, 2000 * ms, 2000 * ms},
		{"subscription down: the head is polled", false, 1000 * ms, 2000 * ms, 250 * ms},
		{"subscription down, nothing learnt: the first poll", false, 0, 2000 * ms, firstHeadPoll},
		{"subscription down, slow chain: the bound", false, 12000 * ms, 2000 * ms, 2000 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lookDelay(tc.pushing, tc.interval, tc.bound); got != tc.want {
				t.Fatalf("lookDelay(%v, %v, %v) = %v, want %v", tc.pushing, tc.interval, tc.bound, got, tc.want)
			}
		})
	}
}

func TestResubscribeDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, // a subscription that was up dropped: at once
		{1, 500 * ms},
		{2, 1000 * ms},
		{3, 2000 * ms},
		{6, 16000 * ms},
		{7, maxResubscribe},
		{8, maxResubscribe},
		{1000, maxResubscribe},
	}
	for _, tc := range tests {
		if got := resubscribeDelay(tc.failures); got != tc.want {
			t.Errorf("resubscribeDelay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}
