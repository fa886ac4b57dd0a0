package decide

import (
	"reflect"
	"testing"
	"time"
)

func TestNextNodeLimit(t *testing.T) {
	tests := []struct {
		name            string
		w               NodeWindow
		head            uint64
		held, expected  uint64
		wantLimit       uint64
		wantGrownAtHead bool
	}{
		{"permissive node holds all at the maximum", NodeWindow{Limit: 512, Max: 512}, 10, 512, 512, 512, false},
		{"first drop ends the slow start", NodeWindow{Limit: 64, Max: 512}, 10, 16, 64, 16, false},
		{"strict node dropped all but 16", NodeWindow{Limit: 512, Max: 512, Learnt: true}, 10, 16, 512, 16, false},
		{"held nothing: nothing learnt", NodeWindow{Limit: 64, Max: 512, Learnt: true}, 10, 0, 64, 64, false},
		{"slow start: holds all we allowed, never dropped: double", NodeWindow{Limit: 16, Max: 512}, 10, 16, 16, 32, true},
		{"slow start stops at the maximum", NodeWindow{Limit: 300, Max: 512}, 10, 300, 300, 512, true},
		{"holds all we allowed after a drop: probe a quarter higher", NodeWindow{Limit: 16, Max: 512, Learnt: true}, 10, 16, 16, 20, true},
		{"probe at most once per block", NodeWindow{Limit: 20, Max: 512, GrownAt: 10, Learnt: true}, 10, 20, 20, 20, false},
		{"slow start doubles on every pass", NodeWindow{Limit: 32, Max: 512, GrownAt: 10}, 10, 32, 32, 64, false},
		{"slow start, work kept back, node not yet full: a quarter, once per block", NodeWindow{Limit: 200, Max: 512, Bound: true}, 10, 16, 0, 250, true},
		{"slow start, work kept back, grown in this block already: no growth", NodeWindow{Limit: 200, Max: 512, Bound: true, GrownAt: 10}, 10, 16, 0, 200, false},
		{"a drop at or below 16 sets no ceiling", NodeWindow{Limit: 8, Max: 512, Learnt: true}, 10, 3, 8, 3, false},
		{"probe stays below a ceiling learnt recently", NodeWindow{Limit: 16, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 10, 16, 16, 19, true},
		{"at the ceiling: no probe", NodeWindow{Limit: 19, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 10, 19, 19, 19, false},
		{"a ceiling holds probes back for ceilingBlocks blocks, not one more", NodeWindow{Limit: 19, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 5 + ceilingBlocks, 19, 19, 23, true},
		{"an old ceiling no longer holds probes back", NodeWindow{Limit: 19, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 70, 19, 19, 23, true},
		{"small window grows by at least one", NodeWindow{Limit: 2, Max: 512, Learnt: true}, 10, 2, 2, 3, true},
		{"growth stops at the maximum", NodeWindow{Limit: 500, Max: 512, Learnt: true}, 10, 500, 500, 512, true},
		{"held fewer than allowed but all that was sent: no change", NodeWindow{Limit: 64, Max: 512}, 10, 10, 10, 64, false},
		{"pool drained by a block, window kept work back: probe", NodeWindow{Limit: 16, Max: 512, Bound: true, Learnt: true}, 10, 0, 0, 20, true},
		{"window kept work back but the node refused: no probe", NodeWindow{Limit: 16, Max: 512, Bound: true, Refused: true}, 10, 0, 0, 16, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NextNodeLimit(tc.w, tc.head, 100, tc.held, tc.expected)
			if got.Limit != tc.wantLimit || got.Observed != tc.held || got.Mined != 100 {
				t.Fatalf("limit %d observed %d mined %d, want %d %d 100", got.Limit, got.Observed, got.Mined, tc.wantLimit, tc.held)
			}
			if (got.GrownAt == tc.head && tc.w.GrownAt != tc.head) != tc.wantGrownAtHead {
				t.Fatalf("GrownAt %d", got.GrownAt)
			}
			if wantLearnt := tc.w.Learnt || (tc.held > 0 && tc.held < tc.expected); got.Learnt != wantLearnt {
				t.Fatalf("Learnt = %v, want %v", got.Learnt, wantLearnt)
			}
			if dropped := tc.held > 0 && tc.held < tc.expected && tc.w.Limit > InitialNodeWindow; dropped && (got.Ceiling != tc.w.Limit || got.CeilingAt != tc.head) {
				t.Fatalf("a drop at limit %d left ceiling %d at %d, want %d at %d", tc.w.Limit, got.Ceiling, got.CeilingAt, tc.w.Limit, tc.head)
			}
			if got.Bound || got.Refused {
				t.Fatalf("pass flags not reset: %+v", got)
			}
		})
	}
}

// TestNextNodeLimitDropsSeenInBlocks: a node that accepts and silently
// drops past its limit, looked at right after each block, holds nothing
// (its pool is drained into the block) while the flights it dropped wait:
// what the blocks mined since the last pass is what it kept.
func TestNextNodeLimitDropsSeenInBlocks(t *testing.T) {
	tests := []struct {
		name                   string
		w                      NodeWindow
		mined, held, expected  uint64
		wantLimit, wantCeiling uint64
		wantLearnt             bool
	}{
		{"kept 16 of 240 sent: the limit is 16", NodeWindow{Limit: 240, Max: 512, Mined: 100, Passed: true}, 116, 0, 224, 16, 240, true},
		{"a probe above a learnt 16 dropped again", NodeWindow{Limit: 20, Max: 512, Mined: 100, Passed: true, Learnt: true}, 116, 0, 4, 16, 20, true},
		{"blocks took all we sent: nothing expected, no change", NodeWindow{Limit: 240, Max: 512, Mined: 100, Passed: true}, 340, 0, 0, 240, 0, false},
		{"mined as many as the limit: no drop seen", NodeWindow{Limit: 16, Max: 512, Mined: 100, Passed: true, Learnt: true}, 116, 0, 4, 16, 0, true},
		{"nothing mined since the last pass: nothing learnt (a backend that does not see the pool)", NodeWindow{Limit: 64, Max: 512, Mined: 100, Passed: true, Learnt: true}, 100, 0, 64, 64, 0, true},
		{"no last pass: nothing learnt", NodeWindow{Limit: 64, Max: 512}, 116, 0, 64, 64, 0, false},
		{"no last pass, a mined nonce below the limit: nothing learnt", NodeWindow{Limit: 64, Max: 512}, 10, 0, 64, 64, 0, false},
		{"slow start, blocks mined exactly the limit: no drop seen, still the slow start", NodeWindow{Limit: 16, Max: 512, Mined: 100, Passed: true}, 116, 0, 4, 16, 0, false},
		{"blocks took fewer than the limit and all we sent: nothing expected, no change", NodeWindow{Limit: 240, Max: 512, Mined: 100, Passed: true}, 110, 0, 0, 240, 0, false},
		{"the node still holds some: held decides", NodeWindow{Limit: 240, Max: 512, Mined: 100, Passed: true}, 200, 140, 140, 240, 0, false},
		// Batches: a block takes 7 of ours at once.
		{"kept 16 of 33, a block mined 7 of them: the limit is 16, not the 9 left", NodeWindow{Limit: 33, Max: 512, Mined: 100, Passed: true}, 107, 9, 26, 16, 33, true},
		{"within a learnt 9, a block mined 7 and 2 are left of the 9 it kept: no narrowing", NodeWindow{Limit: 9, Max: 512, Mined: 100, Passed: true, Learnt: true}, 107, 2, 9, 9, 0, true},
		{"a block mined 7, the node holds the rest of a full window: kept all, no ceiling", NodeWindow{Limit: 33, Max: 512, Mined: 100, Passed: true}, 107, 26, 30, 33, 0, true},
		{"a drop from exactly 16 (what geth guarantees) sets no ceiling", NodeWindow{Limit: 16, Max: 512, Mined: 100, Passed: true}, 100, 8, 16, 8, 0, true},
		{"holds some, mined some, kept fewer than the limit: narrowed to what it kept", NodeWindow{Limit: 64, Max: 512, Mined: 100, Passed: true}, 104, 4, 60, 8, 64, true},
		// A new wallet: its mined nonce on the last pass (or the read before
		// its first send, FirstNonces) is 0, which is a pass all the same.
		{"a new wallet, a block mined 13 of the 27 seeded, the node holds 3: kept 16, not 3", NodeWindow{Limit: 27, Max: 512, Passed: true}, 13, 3, 14, 16, 27, true},
		{"a new wallet, the node dropped all it did not mine: kept the 13 mined", NodeWindow{Limit: 27, Max: 512, Passed: true}, 13, 0, 14, 13, 27, true},
		{"no last pass, a new wallet: only what is held counts", NodeWindow{Limit: 27, Max: 512}, 13, 3, 14, 3, 27, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NextNodeLimit(tc.w, 10, tc.mined, tc.held, tc.expected)
			if got.Limit != tc.wantLimit || got.Ceiling != tc.wantCeiling || got.Learnt != tc.wantLearnt || got.Mined != tc.mined {
				t.Fatalf("got limit %d ceiling %d learnt %v mined %d, want %d %d %v %d",
					got.Limit, got.Ceiling, got.Learnt, got.Mined, tc.wantLimit, tc.wantCeiling, tc.wantLearnt, tc.mined)
			}
		})
	}
}

func TestStartNodeWindow(t *testing.T) {
	tests := []struct {
		name                               string
		blockGas, gasPerApp, maxInFl, keys uint64
		want                               uint64
	}{
		{"30M blocks, 276,658 gas: two blocks' worth", 30_000_000, 276_658, 512, 1, 218},
		{"30M blocks, 239k gas: two blocks' worth, rounded up", 30_000_000, 239_000, 512, 1, 252},
		{"30M blocks, 250k gas: exactly 120 a block, not one more", 30_000_000, 250_000, 1024, 1, 240},
		{"keys 0 is this key alone", 30_000_000, 276_658, 512, 0, 218},
		{"8 keys share two blocks: 218/8 rounded up", 30_000_000, 276_658, 512, 8, 28},
		{"3 keys: 252/3 exactly", 30_000_000, 239_000, 512, 3, 84},
		{"many keys: never below what geth guarantees", 30_000_000, 276_658, 512, 64, InitialNodeWindow},
		{"bounded by MAX_IN_FLIGHT", 30_000_000, 50_000, 512, 1, 512},
		{"small blocks: never below what geth guarantees", 1_000_000, 500_000, 512, 1, InitialNodeWindow},
		{"gas unknown: what geth guarantees", 30_000_000, 0, 512, 1, InitialNodeWindow},
		{"block gas unknown: what geth guarantees", 0, 250_000, 512, 1, InitialNodeWindow},
		{"MAX_IN_FLIGHT below 16", 30_000_000, 250_000, 4, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StartNodeWindow(tc.blockGas, tc.gasPerApp, tc.maxInFl, tc.keys); got != tc.want {
				t.Fatalf("StartNodeWindow = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNodeWindowSeeded(t *testing.T) {
	fresh := NodeWindow{Limit: 16, Max: 512}
	got := fresh.Seed(218, 7)
	if got.Limit != 218 || !got.Seeded || got.GrownAt != 7 {
		t.Fatalf("fresh window seeded to 218 at head 7: %+v", got)
	}
	bound := got
	bound.Bound = true
	if next := NextNodeLimit(bound, 7, 100, 16, 0); next.Limit != 218 {
		t.Fatalf("a pass in the seed's block, work kept back, grew the window to %d before the node showed what it keeps", next.Limit)
	}
	if same := (NodeWindow{Limit: 218, Max: 512, GrownAt: 3}).Seed(218, 7); same.GrownAt != 3 || !same.Seeded {
		t.Fatalf("a seed equal to the limit changed nothing, yet counts as head 7's growth: %+v", same)
	}
	if again := got.Seed(400, 8); again.Limit != 218 {
		t.Fatalf("seeded twice: limit %d, want 218 (once per relay)", again.Limit)
	}
	if learnt := (NodeWindow{Limit: 16, Max: 512, Learnt: true}).Seed(218, 7); learnt.Limit != 16 {
		t.Fatalf("a learnt limit was overridden by the seed: %d", learnt.Limit)
	}
	if grown := (NodeWindow{Limit: 300, Max: 512}).Seed(218, 7); grown.Limit != 300 {
		t.Fatalf("the seed lowered a grown window: %d", grown.Limit)
	}
}

func TestNodeWindowRefusedAt(t *testing.T) {
	w := NodeWindow{Limit: 512, Max: 512, Mined: 100}
	if got := w.RefusedAt(116); got.Limit != 16 || !got.Refused {
		t.Fatalf("refused at 116 with mined 100: %+v, want limit 16", got)
	}
	if got := w.RefusedAt(100); got.Limit != 1 {
		t.Fatalf("refused the very next nonce: limit %d, want 1 (never 0)", got.Limit)
	}
	if got := (NodeWindow{Limit: 8, Max: 512, Mined: 100}).RefusedAt(130); got.Limit != 8 {
		t.Fatalf("a refusal beyond the limit must not raise it: %d", got.Limit)
	}
	if got := w.RefusedAt(50); got.Limit != 512 {
		t.Fatalf("a refusal below the mined nonce (stale) must not change the limit: %d", got.Limit)
	}
}

func TestExpectedHeld(t *testing.T) {
	sent := map[uint64]time.Time{5: t0, 6: t0, 7: t0.Add(time.Minute), 9: t0}
	if got := ExpectedHeld(sent, 5, 16, t0.Add(time.Second)); got != 2 {
		t.Fatalf("expected %d, want 2 (7 was sent too recently, 8 is missing)", got)
	}
	if got := ExpectedHeld(sent, 5, 1, t0.Add(time.Hour)); got != 1 {
		t.Fatalf("expected %d, want 1 (capped by the limit)", got)
	}
}

func TestGapNonces(t *testing.T) {
	tests := []struct {
		name           string
		have           []uint64
		mined, pending uint64
		want           []uint64
	}{
		{"no flights", nil, 5, 5, nil},
		{"contiguous from mined", []uint64{5, 6, 7}, 5, 8, nil},
		{"lowest missing, node holds nothing", []uint64{6, 7}, 5, 5, []uint64{5}},
		{"lowest missing, the node holds something there", []uint64{6, 7}, 5, 6, nil},
		{"holes in the middle", []uint64{5, 8, 10}, 5, 6, []uint64{6, 7, 9}},
		{"all below mined", []uint64{1, 2}, 5, 5, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			have := map[uint64]bool{}
			for _, n := range tc.have {
				have[n] = true
			}
			if got := GapNonces(have, tc.mined, tc.pending); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("gaps %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNodeWindowFirstNonces: the nonces read before the first send count as
// the last pass for a new wallet (mined 0), and never replace a real pass.
func TestNodeWindowFirstNonces(t *testing.T) {
	fresh := NodeWindow{Limit: 27, Max: 512}
	got := fresh.FirstNonces(0)
	if !got.Passed || got.Mined != 0 {
		t.Fatalf("FirstNonces(0) on a fresh window: %+v, want Passed at mined 0", got)
	}
	// The first block mined 13 of the 27 sent and the node holds 3: it kept 16.
	if next := NextNodeLimit(got, 1, 13, 3, 14); next.Limit != 16 {
		t.Fatalf("first pass after the first block: limit %d, want 16 (3 held + 13 mined)", next.Limit)
	}
	passed := NodeWindow{Limit: 27, Max: 512, Mined: 40, Passed: true}
	if again := passed.FirstNonces(10); again.Mined != 40 {
		t.Fatalf("FirstNonces replaced a pass's mined nonce: %+v", again)
	}
}
