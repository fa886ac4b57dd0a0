package relay

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// The decisions are pure, so these tables are the specification of the
// transaction lifecycle (docs/design.md, "Transaction lifecycle").

var (
	t0   = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	gwei = func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }
	blkA = common.HexToHash("0xaa")
)

func testPolicy() policy {
	return policy{Confirmations: 3, StuckBlocks: 5, RebroadcastInterval: time.Minute, ResendAfter: time.Second,
		MaxTransientReverts: 3}
}

// decideCase is one row of TestDecide's table.
type decideCase struct {
	name  string
	s     flightState
	o     observation
	want  action
	check func(t *testing.T, s flightState)
}

func wantPhase(p phase) func(t *testing.T, s flightState) {
	return func(t *testing.T, s flightState) {
		t.Helper()
		if s.Phase != p {
			t.Errorf("phase %v, want %v", s.Phase, p)
		}
	}
}

// decideCases is the specification of decide, one case at least per row of
// decideRows (TestDecideCoversEveryAction).
func decideCases() []decideCase {
	signed := func(nonce uint64) flightState {
		return flightState{Nonce: nonce, Signed: true, FeeCap: gwei(20), SentAtBlock: 100, LastSent: t0}
	}
	obs := func(mut func(*observation)) observation {
		o := observation{Now: t0.Add(2 * time.Second), Head: 101, BaseFee: gwei(10), Mined: 5, Pending: 8, NodeLimit: 16}
		if mut != nil {
			mut(&o)
		}
		return o
	}
	with := func(s flightState, mut func(*flightState)) flightState { mut(&s); return s }
	rcpt := func(block uint64, ok bool) func(*observation) {
		return func(o *observation) {
			o.Looked, o.Receipt = true, &receiptSeen{Block: block, BlockHash: blkA, Success: ok}
			o.Mined = 8
		}
	}
	ev := func(e event, mut func(*observation)) observation {
		return obs(func(o *observation) {
			o.Event = e
			if mut != nil {
				mut(o)
			}
		})
	}
	reverted := func(s flightState) flightState { s.MinedIn, s.Phase = 90, phaseReverted; return s }
	return []decideCase{
		{name: "held by the node, nothing due", s: signed(6), o: obs(nil), want: actWait},
		{name: "mined, not deep enough", s: signed(5), o: obs(rcpt(100, true)), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.MinedIn != 100 || s.MinedHash != blkA {
					t.Errorf("mined block not remembered: %+v", s)
				}
			}},
		{name: "mined and deep: head-block+1 == confirmations", s: signed(5), o: obs(func(o *observation) {
			rcpt(99, true)(o)
		}), want: actConfirm},
		{name: "mined, deep, reverted", s: signed(5), o: obs(func(o *observation) { rcpt(90, false)(o) }), want: actReverted},
		{name: "mined earlier, receipt not due for a look-up", s: with(signed(5), func(s *flightState) { s.MinedIn = 100 }),
			o: obs(nil), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.MinedIn != 100 {
					t.Errorf("forgot the mined block: %+v", s)
				}
			}},
		{name: "receipt gone in a reorg: resend at once", s: with(signed(5), func(s *flightState) { s.MinedIn = 99 }),
			o: obs(func(o *observation) { o.Looked = true }), want: actResend,
			check: func(t *testing.T, s flightState) {
				if s.MinedIn != 0 {
					t.Errorf("still believed mined: %+v", s)
				}
			}},
		{name: "dropped by the node (nonce at or past pending): resend", s: signed(9), o: obs(nil), want: actResend},
		{name: "dropped, but sent a moment ago: the pool may not show it yet", s: signed(9),
			o: obs(func(o *observation) { o.Now = t0.Add(100 * time.Millisecond) }), want: actWait},
		{name: "dropped beyond the node window: waits its turn", s: signed(30), o: obs(nil), want: actWait},
		// The window's edge: mined 5 and a limit of 16 cover nonces 5..20.
		{name: "dropped, the window's last nonce (mined + limit - 1): resend", s: signed(20), o: obs(nil), want: actResend},
		{name: "dropped, the first nonce past the window (mined + limit): waits", s: signed(21), o: obs(nil), want: actWait},
		{name: "lowest nonce, not held, stuck for STUCK_TX_BLOCKS: replace, since re-sending did not help",
			s: with(signed(5), func(s *flightState) { s.LowestSince = 100 }),
			o: obs(func(o *observation) { o.Head = 105; o.Pending = 5 }), want: actReplace},
		{name: "held and unmined for the rebroadcast interval", s: signed(6),
			o: obs(func(o *observation) { o.Now = t0.Add(2 * time.Minute) }), want: actRebroadcast},
		{name: "lowest nonce for STUCK_TX_BLOCKS: replace", s: with(signed(5), func(s *flightState) { s.LowestSince = 100 }),
			o: obs(func(o *observation) { o.Head = 105 }), want: actReplace,
			check: func(t *testing.T, s flightState) {
				if s.ReplacedAt != 105 {
					t.Errorf("replacement height not recorded: %+v", s)
				}
			}},
		{name: "lowest nonce, not long enough", s: with(signed(5), func(s *flightState) { s.LowestSince = 100 }),
			o: obs(func(o *observation) { o.Head = 104 }), want: actWait},
		{name: "lowest nonce becomes lowest now: the clock starts", s: signed(5), o: obs(func(o *observation) { o.Head = 200 }),
			want: actWait, // the stuck clock runs from when it became lowest, not from the send
			check: func(t *testing.T, s flightState) {
				if s.LowestSince != 200 {
					t.Errorf("LowestSince %d, want 200", s.LowestSince)
				}
			}},
		{name: "not the lowest nonce: never stuck on its own fees", s: with(signed(6), func(s *flightState) { s.LowestSince = 0 }),
			o: obs(func(o *observation) { o.Head = 300 }), want: actWait},
		{name: "base fee above the fee cap: replace, held or not", s: signed(9),
			o: obs(func(o *observation) { o.BaseFee = gwei(25) }), want: actReplace},
		{name: "base fee above the fee cap, already replaced in this block", s: with(signed(6), func(s *flightState) { s.ReplacedAt = 101 }),
			o: obs(func(o *observation) { o.BaseFee = gwei(25) }), want: actWait},
		{name: "nonce mined, no receipt of ours: first sighting only marks it", s: signed(3),
			o: obs(func(o *observation) { o.Looked = true }), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.Lost != 101 {
					t.Errorf("Lost %d, want 101", s.Lost)
				}
			}},
		{name: "nonce mined, no receipt, same block again: still waits", s: with(signed(3), func(s *flightState) { s.Lost = 101 }),
			o: obs(func(o *observation) { o.Looked = true }), want: actWait},
		{name: "nonce mined, no receipt, in a later block: lost", s: with(signed(3), func(s *flightState) { s.Lost = 101 }),
			o: obs(func(o *observation) { o.Looked = true; o.Head = 102 }), want: actLost},
		{name: "lost sighting cleared once a receipt shows", s: with(signed(5), func(s *flightState) { s.Lost = 101 }),
			o: obs(rcpt(101, true)), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.Lost != 0 {
					t.Errorf("Lost not cleared: %+v", s)
				}
			}},
		{name: "adopted, receipt found and deep", s: flightState{LastSent: t0}, o: obs(rcpt(90, true)), want: actConfirm},
		{name: "adopted, no receipt: nothing to send, the clock starts", s: flightState{LastSent: t0},
			o: obs(func(o *observation) { o.Looked = true }), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.Lost != 101 {
					t.Errorf("Lost %d, want 101", s.Lost)
				}
			}},
		{name: "adopted, receipt gone for STUCK_TX_BLOCKS: back to the queue", s: flightState{LastSent: t0, Lost: 96},
			o: obs(func(o *observation) { o.Looked = true }), want: actLost},
		{name: "adopted, receipt gone, not long enough", s: flightState{LastSent: t0, Lost: 98},
			o: obs(func(o *observation) { o.Looked = true }), want: actWait, check: wantPhase(phaseAdopted)},
		{name: "adopted, receipt not looked up", s: flightState{Phase: phaseAdopted, LastSent: t0}, o: obs(nil), want: actWait,
			check: wantPhase(phaseAdopted)},
		{name: "adopted, mined, its block left the chain: adopted again", s: flightState{Phase: phaseMined, MinedIn: 99, LastSent: t0},
			o: obs(func(o *observation) { o.Looked = true }), want: actWait, check: wantPhase(phaseAdopted)},
		{name: "mined, not deep: phase mined", s: signed(5), o: obs(rcpt(101, true)), want: actWait, check: wantPhase(phaseMined)},
		{name: "reverted gap fill: the nonce is used, forget it", s: with(signed(5), func(s *flightState) { s.GapFill = true }),
			o: obs(rcpt(90, false)), want: actForget, check: wantPhase(phaseReverted)},
		{name: "adopted, re-mined reverted after a reorg: back to the queue", s: flightState{Phase: phaseAdopted, LastSent: t0},
			o: obs(rcpt(90, false)), want: actRequeue, check: wantPhase(phaseReverted)},
		{name: "reverted, SIGNATURE_USED found not ours in this block: no new search", s: with(signed(5), func(s *flightState) { s.SigUsed = 101 }),
			o: obs(rcpt(90, false)), want: actWait},
		{name: "reverted, SIGNATURE_USED found not ours in an earlier block: search again", s: with(signed(5), func(s *flightState) { s.SigUsed = 100 }),
			o: obs(rcpt(90, false)), want: actReverted, check: wantPhase(phaseReverted)},

		{name: "priced with room: sign it", s: signed(5), o: ev(evPriced, func(o *observation) { o.Room = true }), want: actSign},
		{name: "no room, held, re-broadcast due: at cap, send the same bytes", s: signed(5),
			o: ev(evPriced, func(o *observation) { o.Now = t0.Add(2 * time.Minute) }), want: actRebroadcast, check: wantPhase(phaseAtCap)},
		{name: "no room, dropped by the node: at cap, send the same bytes at once", s: signed(9),
			o: ev(evPriced, nil), want: actRebroadcast, check: wantPhase(phaseAtCap)},
		{name: "no room, nothing due: wait at the cap", s: signed(5), o: ev(evPriced, nil), want: actWait, check: wantPhase(phaseAtCap)},
		{name: "replacement journaled: send it, replacing", s: with(signed(5), func(s *flightState) { s.Phase = phaseAtCap }),
			o: ev(evJournaled, func(o *observation) { o.Head = 107 }), want: actSend,
			check: func(t *testing.T, s flightState) {
				wantPhase(phaseReplacing)(t, s)
				if s.SentAtBlock != 107 {
					t.Errorf("SentAtBlock %d, want 107", s.SentAtBlock)
				}
			}},
		{name: "replacement taken", s: with(signed(5), func(s *flightState) { s.Phase = phaseReplacing }),
			o: ev(evAnswered, func(o *observation) { o.Accepted = true }), want: actTake, check: wantPhase(phasePending)},
		{name: "replacement refused", s: with(signed(5), func(s *flightState) { s.Phase = phaseReplacing }),
			o: ev(evAnswered, nil), want: actDrop, check: wantPhase(phasePending)},

		{name: "SIGNATURE_USED applied by us: adopt", s: reverted(signed(5)),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{SignatureUsed: true, AppliedByUs: true} }), want: actAdopt},
		{name: "SIGNATURE_USED not ours, first search: note it and wait", s: reverted(signed(5)),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{SignatureUsed: true} }), want: actWait,
			check: func(t *testing.T, s flightState) {
				if s.SigUsed != 101 {
					t.Errorf("SigUsed %d, want 101", s.SigUsed)
				}
			}},
		{name: "SIGNATURE_USED not ours, same block again: wait", s: with(reverted(signed(5)), func(s *flightState) { s.SigUsed = 101 }),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{SignatureUsed: true} }), want: actWait},
		{name: "SIGNATURE_USED not ours, in a later block: final", s: with(reverted(signed(5)), func(s *flightState) { s.SigUsed = 100 }),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{SignatureUsed: true} }), want: actDeadLetter},
		{name: "cause can pass, hash purged: settled already, forget", s: reverted(signed(5)),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{CanPass: true, Count: -1} }), want: actForget},
		{name: "cause can pass, too often: final", s: reverted(signed(5)),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{CanPass: true, Count: 4} }), want: actDeadLetter,
			check: func(t *testing.T, s flightState) {
				if s.Reverts != 4 {
					t.Errorf("Reverts %d, want 4", s.Reverts)
				}
			}},
		{name: "cause can pass, at the limit: requeue", s: reverted(signed(5)),
			o: ev(evCause, func(o *observation) { o.Cause = causeSeen{CanPass: true, Count: 3} }), want: actRequeue,
			check: func(t *testing.T, s flightState) {
				if s.Reverts != 3 {
					t.Errorf("Reverts %d, want 3", s.Reverts)
				}
			}},
		{name: "final cause: dead letter", s: reverted(signed(5)), o: ev(evCause, nil), want: actDeadLetter},
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, next := decide(testPolicy(), tc.s, tc.o)
			if got != tc.want {
				t.Fatalf("decide = %v, want %v (state %+v)", got, tc.want, next)
			}
			if tc.check != nil {
				tc.check(t, next)
			}
		})
	}
}

// TestDecideCoversEveryAction keeps the table honest: every action is taken
// by a row, every row is reached by a case of TestDecide (none is shadowed
// by the rows above it), every event's rows end in one that always
// matches, and every phase is reached.
func TestDecideCoversEveryAction(t *testing.T) {
	hit := make([]int, len(decideRows))
	phases := map[phase]bool{}
	for _, tc := range decideCases() {
		i, act, next := decideRow(testPolicy(), tc.s, tc.o)
		if act != tc.want {
			t.Errorf("%s: row %d gives %v, want %v", tc.name, i+1, act, tc.want)
		}
		hit[i]++
		phases[next.Phase] = true
	}
	rowsOf := map[action][]int{}
	for i, r := range decideRows {
		rowsOf[r.act] = append(rowsOf[r.act], i+1)
		if hit[i] == 0 {
			t.Errorf("row %d (%v: %s -> %v) is reached by no case", i+1, r.on, r.when, r.act)
		}
	}
	for a := range actionNames {
		if len(rowsOf[action(a)]) == 0 {
			t.Errorf("action %v has no row", action(a))
		}
	}
	for p := range phaseNames {
		if !phases[phase(p)] {
			t.Errorf("phase %v is reached by no case", phase(p))
		}
	}
	for e := range eventNames {
		last := -1
		for i, r := range decideRows {
			if r.on == event(e) {
				last = i
			}
		}
		if last < 0 || !decideRows[last].match(facts{}) {
			t.Errorf("event %v: its last row must always match", event(e))
		}
	}
}

func TestNeedsReceipt(t *testing.T) {
	p := testPolicy()
	tests := []struct {
		name  string
		s     flightState
		head  uint64
		mined uint64
		moved bool
		want  bool
	}{
		{"unmined, nonce not yet mined: nothing can have changed", flightState{Nonce: 5, Signed: true}, 100, 5, false, false},
		{"unmined, wallet nonce passed it", flightState{Nonce: 5, Signed: true}, 100, 6, false, true},
		{"mined, confirmations not due", flightState{Nonce: 5, Signed: true, MinedIn: 99}, 100, 6, false, false},
		{"mined, confirmations due", flightState{Nonce: 5, Signed: true, MinedIn: 98}, 100, 6, false, true},
		{"mined, block moved", flightState{Nonce: 5, Signed: true, MinedIn: 99}, 100, 6, true, true},
		{"adopted, unmined", flightState{}, 100, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := needsReceipt(p, tc.s, tc.head, tc.mined, tc.moved); got != tc.want {
				t.Fatalf("needsReceipt = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNextNodeLimit(t *testing.T) {
	tests := []struct {
		name            string
		w               nodeWindow
		head            uint64
		held, expected  uint64
		wantLimit       uint64
		wantGrownAtHead bool
	}{
		{"permissive node holds all at the maximum", nodeWindow{Limit: 512, Max: 512}, 10, 512, 512, 512, false},
		{"first drop ends the slow start", nodeWindow{Limit: 64, Max: 512}, 10, 16, 64, 16, false},
		{"strict node dropped all but 16", nodeWindow{Limit: 512, Max: 512, Learnt: true}, 10, 16, 512, 16, false},
		{"held nothing: nothing learnt", nodeWindow{Limit: 64, Max: 512, Learnt: true}, 10, 0, 64, 64, false},
		{"slow start: holds all we allowed, never dropped: double", nodeWindow{Limit: 16, Max: 512}, 10, 16, 16, 32, true},
		{"slow start stops at the maximum", nodeWindow{Limit: 300, Max: 512}, 10, 300, 300, 512, true},
		{"holds all we allowed after a drop: probe a quarter higher", nodeWindow{Limit: 16, Max: 512, Learnt: true}, 10, 16, 16, 20, true},
		{"probe at most once per block", nodeWindow{Limit: 20, Max: 512, GrownAt: 10, Learnt: true}, 10, 20, 20, 20, false},
		{"slow start doubles on every pass", nodeWindow{Limit: 32, Max: 512, GrownAt: 10}, 10, 32, 32, 64, false},
		{"slow start, work kept back, node not yet full: a quarter, once per block", nodeWindow{Limit: 200, Max: 512, Bound: true}, 10, 16, 0, 250, true},
		{"slow start, work kept back, grown in this block already: no growth", nodeWindow{Limit: 200, Max: 512, Bound: true, GrownAt: 10}, 10, 16, 0, 200, false},
		{"a drop at or below 16 sets no ceiling", nodeWindow{Limit: 8, Max: 512, Learnt: true}, 10, 3, 8, 3, false},
		{"probe stays below a ceiling learnt recently", nodeWindow{Limit: 16, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 10, 16, 16, 19, true},
		{"at the ceiling: no probe", nodeWindow{Limit: 19, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 10, 19, 19, 19, false},
		{"an old ceiling no longer holds probes back", nodeWindow{Limit: 19, Max: 512, Learnt: true, Ceiling: 20, CeilingAt: 5}, 70, 19, 19, 23, true},
		{"small window grows by at least one", nodeWindow{Limit: 2, Max: 512, Learnt: true}, 10, 2, 2, 3, true},
		{"growth stops at the maximum", nodeWindow{Limit: 500, Max: 512, Learnt: true}, 10, 500, 500, 512, true},
		{"held fewer than allowed but all that was sent: no change", nodeWindow{Limit: 64, Max: 512}, 10, 10, 10, 64, false},
		{"pool drained by a block, window kept work back: probe", nodeWindow{Limit: 16, Max: 512, Bound: true, Learnt: true}, 10, 0, 0, 20, true},
		{"window kept work back but the node refused: no probe", nodeWindow{Limit: 16, Max: 512, Bound: true, Refused: true}, 10, 0, 0, 16, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nextNodeLimit(tc.w, tc.head, 100, tc.held, tc.expected)
			if got.Limit != tc.wantLimit || got.Observed != tc.held || got.Mined != 100 {
				t.Fatalf("limit %d observed %d mined %d, want %d %d 100", got.Limit, got.Observed, got.Mined, tc.wantLimit, tc.held)
			}
			if (got.GrownAt == tc.head && tc.w.GrownAt != tc.head) != tc.wantGrownAtHead {
				t.Fatalf("GrownAt %d", got.GrownAt)
			}
			if wantLearnt := tc.w.Learnt || (tc.held > 0 && tc.held < tc.expected); got.Learnt != wantLearnt {
				t.Fatalf("Learnt = %v, want %v", got.Learnt, wantLearnt)
			}
			if dropped := tc.held > 0 && tc.held < tc.expected && tc.w.Limit > initialNodeWindow; dropped && (got.Ceiling != tc.w.Limit || got.CeilingAt != tc.head) {
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
		w                      nodeWindow
		mined, held, expected  uint64
		wantLimit, wantCeiling uint64
		wantLearnt             bool
	}{
		{"kept 16 of 240 sent: the limit is 16", nodeWindow{Limit: 240, Max: 512, Mined: 100}, 116, 0, 224, 16, 240, true},
		{"a probe above a learnt 16 dropped again", nodeWindow{Limit: 20, Max: 512, Mined: 100, Learnt: true}, 116, 0, 4, 16, 20, true},
		{"blocks took all we sent: nothing expected, no change", nodeWindow{Limit: 240, Max: 512, Mined: 100}, 340, 0, 0, 240, 0, false},
		{"mined as many as the limit: no drop seen", nodeWindow{Limit: 16, Max: 512, Mined: 100, Learnt: true}, 116, 0, 4, 16, 0, true},
		{"nothing mined since the last pass: nothing learnt (a backend that does not see the pool)", nodeWindow{Limit: 64, Max: 512, Mined: 100, Learnt: true}, 100, 0, 64, 64, 0, true},
		{"no last pass: nothing learnt", nodeWindow{Limit: 64, Max: 512}, 116, 0, 64, 64, 0, false},
		{"the node still holds some: held decides", nodeWindow{Limit: 240, Max: 512, Mined: 100}, 200, 140, 140, 240, 0, false},
		// Batches: a block takes 7 of ours at once.
		{"kept 16 of 33, a block mined 7 of them: the limit is 16, not the 9 left", nodeWindow{Limit: 33, Max: 512, Mined: 100}, 107, 9, 26, 16, 33, true},
		{"within a learnt 9, a block mined 7 and 2 are left of the 9 it kept: no narrowing", nodeWindow{Limit: 9, Max: 512, Mined: 100, Learnt: true}, 107, 2, 9, 9, 0, true},
		{"holds some, mined some, kept fewer than the limit: narrowed to what it kept", nodeWindow{Limit: 64, Max: 512, Mined: 100}, 104, 4, 60, 8, 64, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nextNodeLimit(tc.w, 10, tc.mined, tc.held, tc.expected)
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
		{"keys 0 is this key alone", 30_000_000, 276_658, 512, 0, 218},
		{"8 keys share two blocks: 218/8 rounded up", 30_000_000, 276_658, 512, 8, 28},
		{"3 keys: 252/3 exactly", 30_000_000, 239_000, 512, 3, 84},
		{"many keys: never below what geth guarantees", 30_000_000, 276_658, 512, 64, initialNodeWindow},
		{"bounded by MAX_IN_FLIGHT", 30_000_000, 50_000, 512, 1, 512},
		{"small blocks: never below what geth guarantees", 1_000_000, 500_000, 512, 1, initialNodeWindow},
		{"gas unknown: what geth guarantees", 30_000_000, 0, 512, 1, initialNodeWindow},
		{"block gas unknown: what geth guarantees", 0, 250_000, 512, 1, initialNodeWindow},
		{"MAX_IN_FLIGHT below 16", 30_000_000, 250_000, 4, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := startNodeWindow(tc.blockGas, tc.gasPerApp, tc.maxInFl, tc.keys); got != tc.want {
				t.Fatalf("startNodeWindow = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNodeWindowSeeded(t *testing.T) {
	fresh := nodeWindow{Limit: 16, Max: 512}
	got := fresh.seeded(218, 7)
	if got.Limit != 218 || !got.Seeded || got.GrownAt != 7 {
		t.Fatalf("fresh window seeded to 218 at head 7: %+v", got)
	}
	bound := got
	bound.Bound = true
	if next := nextNodeLimit(bound, 7, 100, 16, 0); next.Limit != 218 {
		t.Fatalf("a pass in the seed's block, work kept back, grew the window to %d before the node showed what it keeps", next.Limit)
	}
	if again := got.seeded(400, 8); again.Limit != 218 {
		t.Fatalf("seeded twice: limit %d, want 218 (once per relay)", again.Limit)
	}
	if learnt := (nodeWindow{Limit: 16, Max: 512, Learnt: true}).seeded(218, 7); learnt.Limit != 16 {
		t.Fatalf("a learnt limit was overridden by the seed: %d", learnt.Limit)
	}
	if grown := (nodeWindow{Limit: 300, Max: 512}).seeded(218, 7); grown.Limit != 300 {
		t.Fatalf("the seed lowered a grown window: %d", grown.Limit)
	}
}

func TestNodeWindowRefusedAt(t *testing.T) {
	w := nodeWindow{Limit: 512, Max: 512, Mined: 100}
	if got := w.refusedAt(116); got.Limit != 16 || !got.Refused {
		t.Fatalf("refused at 116 with mined 100: %+v, want limit 16", got)
	}
	if got := w.refusedAt(100); got.Limit != 1 {
		t.Fatalf("refused the very next nonce: limit %d, want 1 (never 0)", got.Limit)
	}
	if got := (nodeWindow{Limit: 8, Max: 512, Mined: 100}).refusedAt(130); got.Limit != 8 {
		t.Fatalf("a refusal beyond the limit must not raise it: %d", got.Limit)
	}
	if got := w.refusedAt(50); got.Limit != 512 {
		t.Fatalf("a refusal below the mined nonce (stale) must not change the limit: %d", got.Limit)
	}
}

func TestExpectedHeld(t *testing.T) {
	sent := map[uint64]time.Time{5: t0, 6: t0, 7: t0.Add(time.Minute), 9: t0}
	if got := expectedHeld(sent, 5, 16, t0.Add(time.Second)); got != 2 {
		t.Fatalf("expected %d, want 2 (7 was sent too recently, 8 is missing)", got)
	}
	if got := expectedHeld(sent, 5, 1, t0.Add(time.Hour)); got != 1 {
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
			if got := gapNonces(have, tc.mined, tc.pending); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("gaps %v, want %v", got, tc.want)
			}
		})
	}
}
