package decide

import (
	"math/big"
	"slices"
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

func testPolicy() Policy {
	return Policy{Confirmations: 3, StuckBlocks: 5, RebroadcastInterval: time.Minute, ResendAfter: time.Second,
		MaxTransientReverts: 3}
}

// decideCase is one row of TestDecide's table.
type decideCase struct {
	name  string
	s     State
	o     Observation
	want  Action
	check func(t *testing.T, s State)
}

func wantPhase(p Phase) func(t *testing.T, s State) {
	return func(t *testing.T, s State) {
		t.Helper()
		if s.Phase != p {
			t.Errorf("phase %v, want %v", s.Phase, p)
		}
	}
}

// decideCases is the specification of Decide, one case at least per row of
// decideRows (TestDecideCoversEveryAction).
func decideCases() []decideCase {
	signed := func(nonce uint64) State {
		return State{Nonce: nonce, Signed: true, FeeCap: gwei(20), TipCap: gwei(2), SentAtBlock: 100, LastSent: t0}
	}
	obs := func(mut func(*Observation)) Observation {
		o := Observation{Now: t0.Add(2 * time.Second), Head: 101, NextBaseFee: gwei(10), Mined: 5, Pending: 8, NodeLimit: 16}
		if mut != nil {
			mut(&o)
		}
		return o
	}
	with := func(s State, mut func(*State)) State { mut(&s); return s }
	rcpt := func(block uint64, ok bool) func(*Observation) {
		return func(o *Observation) {
			o.Looked, o.Receipt = true, &Receipt{Block: block, BlockHash: blkA, Success: ok}
			o.Mined = 8
		}
	}
	ev := func(e Event, mut func(*Observation)) Observation {
		return obs(func(o *Observation) {
			o.Event = e
			if mut != nil {
				mut(o)
			}
		})
	}
	reverted := func(s State) State { s.MinedIn, s.Phase = 90, PhaseReverted; return s }
	return []decideCase{
		{name: "held by the node, nothing due", s: signed(6), o: obs(nil), want: Wait},
		{name: "mined, not deep enough", s: signed(5), o: obs(rcpt(100, true)), want: Wait,
			check: func(t *testing.T, s State) {
				if s.MinedIn != 100 || s.MinedHash != blkA {
					t.Errorf("mined block not remembered: %+v", s)
				}
			}},
		{name: "mined and deep: head-block+1 == confirmations", s: signed(5), o: obs(func(o *Observation) {
			rcpt(99, true)(o)
		}), want: Confirm},
		{name: "mined, deep, reverted", s: signed(5), o: obs(func(o *Observation) { rcpt(90, false)(o) }), want: Reverted},
		{name: "mined earlier, receipt not due for a look-up", s: with(signed(5), func(s *State) { s.MinedIn = 100 }),
			o: obs(nil), want: Wait,
			check: func(t *testing.T, s State) {
				if s.MinedIn != 100 {
					t.Errorf("forgot the mined block: %+v", s)
				}
			}},
		{name: "receipt gone in a reorg: resend at once", s: with(signed(5), func(s *State) { s.MinedIn = 99 }),
			o: obs(func(o *Observation) { o.Looked = true }), want: Resend,
			check: func(t *testing.T, s State) {
				if s.MinedIn != 0 {
					t.Errorf("still believed mined: %+v", s)
				}
			}},
		{name: "dropped by the node (nonce at or past pending): resend", s: signed(9), o: obs(nil), want: Resend},
		{name: "dropped, but sent a moment ago: the pool may not show it yet", s: signed(9),
			o: obs(func(o *Observation) { o.Now = t0.Add(100 * time.Millisecond) }), want: Wait},
		{name: "dropped beyond the node window: waits its turn", s: signed(30), o: obs(nil), want: Wait},
		// A send the node refused for a full pool left nothing in it:
		// ResendAfter, which guards bytes a pool accepted and may not show
		// yet, does not hold it back once the window has room (issue 21: a
		// refused send waited for the next block's head, and a block went
		// empty).
		{name: "refused for a full pool a moment ago, inside the window now: resend at once",
			s: with(signed(9), func(s *State) { s.Refused = true }),
			o: obs(func(o *Observation) { o.Now = t0.Add(100 * time.Millisecond) }), want: Resend},
		{name: "refused for a full pool, beyond the node window: waits its turn",
			s: with(signed(30), func(s *State) { s.Refused = true }),
			o: obs(func(o *Observation) { o.Now = t0.Add(100 * time.Millisecond) }), want: Wait},
		{name: "refused once, held now (a later send taken): no re-send before the rebroadcast interval",
			s: with(signed(6), func(s *State) { s.Refused = true }),
			o: obs(func(o *Observation) { o.Now = t0.Add(100 * time.Millisecond) }), want: Wait},
		// The window's edge: mined 5 and a limit of 16 cover nonces 5..20.
		{name: "dropped, the window's last nonce (mined + limit - 1): resend", s: signed(20), o: obs(nil), want: Resend},
		{name: "dropped, the first nonce past the window (mined + limit): waits", s: signed(21), o: obs(nil), want: Wait},
		{name: "lowest nonce, not held, stuck for STUCK_TX_BLOCKS: replace, since re-sending did not help",
			s: with(signed(5), func(s *State) { s.LowestSince = 100 }),
			o: obs(func(o *Observation) { o.Head = 105; o.Pending = 5 }), want: Replace},
		// The stuck clock runs from the later of the current transaction's
		// first send and the nonce becoming the lowest: a replacement
		// (SentAtBlock = head) restarts it, so a stuck flight is replaced
		// once every STUCK_TX_BLOCKS, not in every block (issue 25).
		{name: "lowest for long, its current transaction sent 4 blocks ago: not stuck yet",
			s: with(signed(5), func(s *State) { s.LowestSince = 90 }),
			o: obs(func(o *Observation) { o.Head = 104 }), want: Wait},
		{name: "lowest for long, its current transaction sent STUCK_TX_BLOCKS ago: replace",
			s: with(signed(5), func(s *State) { s.LowestSince = 90 }),
			o: obs(func(o *Observation) { o.Head = 105 }), want: Replace},
		{name: "sent long ago, lowest only 4 blocks: not stuck yet",
			s: with(signed(5), func(s *State) { s.SentAtBlock, s.LowestSince = 90, 100 }),
			o: obs(func(o *Observation) { o.Head = 104 }), want: Wait},
		{name: "first pass after the send: SentAtBlock starts at the head", s: with(signed(6), func(s *State) { s.SentAtBlock = 0 }),
			o: obs(nil), want: Wait,
			check: func(t *testing.T, s State) {
				if s.SentAtBlock != 101 {
					t.Errorf("SentAtBlock %d, want 101", s.SentAtBlock)
				}
			}},
		{name: "later passes keep the first SentAtBlock", s: signed(6), o: obs(func(o *Observation) { o.Head = 130 }), want: Wait,
			check: func(t *testing.T, s State) {
				if s.SentAtBlock != 100 {
					t.Errorf("SentAtBlock %d, want 100 (the clock restarted)", s.SentAtBlock)
				}
			}},
		{name: "held, last send exactly REBROADCAST_INTERVAL ago: rebroadcast", s: signed(6),
			o: obs(func(o *Observation) { o.Now = t0.Add(time.Minute) }), want: Rebroadcast},
		{name: "nonce equal to the pending nonce: not held, resend", s: signed(8), o: obs(nil), want: Resend},
		{name: "dropped, sent exactly ResendAfter ago: resend", s: signed(9),
			o: obs(func(o *Observation) { o.Now = t0.Add(time.Second) }), want: Resend},
		// The fee cap against the next block's base fee and the tip (20 gwei
		// against base + 2): the builder takes a transaction for the tip
		// left over the base fee and skips one short of its minimum, so it
		// is replaced once it cannot pay its full tip in the next block, not
		// once the base fee passed the fee cap, blocks later (issue 21).
		{name: "fee cap exactly next base fee + tip: pays its full tip, no replacement", s: signed(6),
			o: obs(func(o *Observation) { o.NextBaseFee = gwei(18) }), want: Wait},
		{name: "fee cap one wei short of next base fee + tip: replace before the builder skips it", s: signed(6),
			o: obs(func(o *Observation) { o.NextBaseFee = new(big.Int).Add(gwei(18), big.NewInt(1)) }), want: Replace,
			check: func(t *testing.T, s State) {
				if s.ReplacedAt != 101 {
					t.Errorf("ReplacedAt %d, want 101", s.ReplacedAt)
				}
			}},
		{name: "no tip: the fee cap exactly the next base fee still enters, no replacement",
			s: with(signed(6), func(s *State) { s.TipCap = nil }), o: obs(func(o *Observation) { o.NextBaseFee = gwei(20) }), want: Wait},
		{name: "no tip: next base fee one wei above the fee cap, replace",
			s: with(signed(6), func(s *State) { s.TipCap = nil }),
			o: obs(func(o *Observation) { o.NextBaseFee = new(big.Int).Add(gwei(20), big.NewInt(1)) }), want: Replace},
		{name: "before London (no base fee): never short of its tip", s: with(signed(6), func(s *State) { s.TipCap = gwei(30) }),
			o: obs(func(o *Observation) { o.NextBaseFee = nil }), want: Wait},
		{name: "held and unmined for the rebroadcast interval", s: signed(6),
			o: obs(func(o *Observation) { o.Now = t0.Add(2 * time.Minute) }), want: Rebroadcast},
		{name: "lowest nonce for STUCK_TX_BLOCKS: replace", s: with(signed(5), func(s *State) { s.LowestSince = 100 }),
			o: obs(func(o *Observation) { o.Head = 105 }), want: Replace,
			check: func(t *testing.T, s State) {
				if s.ReplacedAt != 105 {
					t.Errorf("replacement height not recorded: %+v", s)
				}
			}},
		{name: "lowest nonce, not long enough", s: with(signed(5), func(s *State) { s.LowestSince = 100 }),
			o: obs(func(o *Observation) { o.Head = 104 }), want: Wait},
		{name: "lowest nonce becomes lowest now: the clock starts", s: signed(5), o: obs(func(o *Observation) { o.Head = 200 }),
			want: Wait, // the stuck clock runs from when it became lowest, not from the send
			check: func(t *testing.T, s State) {
				if s.LowestSince != 200 {
					t.Errorf("LowestSince %d, want 200", s.LowestSince)
				}
			}},
		{name: "not the lowest nonce: never stuck on its own fees", s: with(signed(6), func(s *State) { s.LowestSince = 0 }),
			o: obs(func(o *Observation) { o.Head = 300 }), want: Wait},
		{name: "next base fee above the fee cap: replace, held or not", s: signed(9),
			o: obs(func(o *Observation) { o.NextBaseFee = gwei(25) }), want: Replace},
		{name: "short of its tip, not the lowest nonce: replace all the same (the builder skips it, and every later nonce with it)",
			s: with(signed(7), func(s *State) { s.LowestSince = 0 }), o: obs(func(o *Observation) { o.NextBaseFee = gwei(19) }), want: Replace},
		{name: "short of its tip, already replaced in this block", s: with(signed(6), func(s *State) { s.ReplacedAt = 101 }),
			o: obs(func(o *Observation) { o.NextBaseFee = gwei(19) }), want: Wait},
		{name: "nonce mined, no receipt of ours: first sighting only marks it", s: signed(3),
			o: obs(func(o *Observation) { o.Looked = true }), want: Wait,
			check: func(t *testing.T, s State) {
				if s.Lost != 101 {
					t.Errorf("Lost %d, want 101", s.Lost)
				}
			}},
		{name: "nonce mined, no receipt, same block again: still waits", s: with(signed(3), func(s *State) { s.Lost = 101 }),
			o: obs(func(o *Observation) { o.Looked = true }), want: Wait},
		{name: "nonce mined, no receipt, in a later block: lost", s: with(signed(3), func(s *State) { s.Lost = 101 }),
			o: obs(func(o *Observation) { o.Looked = true; o.Head = 102 }), want: Lost},
		{name: "lost sighting cleared once a receipt shows", s: with(signed(5), func(s *State) { s.Lost = 101 }),
			o: obs(rcpt(101, true)), want: Wait,
			check: func(t *testing.T, s State) {
				if s.Lost != 0 {
					t.Errorf("Lost not cleared: %+v", s)
				}
			}},
		{name: "adopted, receipt found and deep", s: State{LastSent: t0}, o: obs(rcpt(90, true)), want: Confirm},
		{name: "adopted, no receipt: nothing to send, the clock starts", s: State{LastSent: t0},
			o: obs(func(o *Observation) { o.Looked = true }), want: Wait,
			check: func(t *testing.T, s State) {
				if s.Lost != 101 {
					t.Errorf("Lost %d, want 101", s.Lost)
				}
			}},
		{name: "adopted, receipt gone for STUCK_TX_BLOCKS: back to the queue", s: State{LastSent: t0, Lost: 96},
			o: obs(func(o *Observation) { o.Looked = true }), want: Lost},
		{name: "adopted, receipt gone, not long enough", s: State{LastSent: t0, Lost: 98},
			o: obs(func(o *Observation) { o.Looked = true }), want: Wait, check: wantPhase(PhaseAdopted)},
		{name: "adopted, receipt not looked up", s: State{Phase: PhaseAdopted, LastSent: t0}, o: obs(nil), want: Wait,
			check: wantPhase(PhaseAdopted)},
		{name: "adopted, mined, its block left the chain: adopted again", s: State{Phase: PhaseMined, MinedIn: 99, LastSent: t0},
			o: obs(func(o *Observation) { o.Looked = true }), want: Wait, check: wantPhase(PhaseAdopted)},
		{name: "mined, not deep: phase mined", s: signed(5), o: obs(rcpt(101, true)), want: Wait, check: wantPhase(PhaseMined)},
		{name: "reverted gap fill: the nonce is used, forget it", s: with(signed(5), func(s *State) { s.GapFill = true }),
			o: obs(rcpt(90, false)), want: Forget, check: wantPhase(PhaseReverted)},
		{name: "adopted, re-mined reverted after a reorg: back to the queue", s: State{Phase: PhaseAdopted, LastSent: t0},
			o: obs(rcpt(90, false)), want: Requeue, check: wantPhase(PhaseReverted)},
		{name: "reverted, SIGNATURE_USED found not ours in this block: no new search", s: with(signed(5), func(s *State) { s.SigUsed = 101 }),
			o: obs(rcpt(90, false)), want: Wait},
		{name: "reverted, SIGNATURE_USED found not ours in an earlier block: search again", s: with(signed(5), func(s *State) { s.SigUsed = 100 }),
			o: obs(rcpt(90, false)), want: Reverted, check: wantPhase(PhaseReverted)},

		{name: "priced with room: sign it", s: signed(5), o: ev(OnPriced, func(o *Observation) { o.Room = true }), want: Sign},
		{name: "no room, held, re-broadcast due: at cap, send the same bytes", s: signed(5),
			o: ev(OnPriced, func(o *Observation) { o.Now = t0.Add(2 * time.Minute) }), want: Rebroadcast, check: wantPhase(PhaseAtCap)},
		{name: "no room, dropped by the node: at cap, send the same bytes at once", s: signed(9),
			o: ev(OnPriced, nil), want: Rebroadcast, check: wantPhase(PhaseAtCap)},
		{name: "no room, held, re-broadcast exactly due: at cap, send the same bytes", s: signed(5),
			o: ev(OnPriced, func(o *Observation) { o.Now = t0.Add(time.Minute) }), want: Rebroadcast, check: wantPhase(PhaseAtCap)},
		{name: "no room, dropped, sent exactly ResendAfter ago: at cap, send the same bytes", s: signed(9),
			o: ev(OnPriced, func(o *Observation) { o.Now = t0.Add(time.Second) }), want: Rebroadcast, check: wantPhase(PhaseAtCap)},
		{name: "no room, nothing due: wait at the cap", s: signed(5), o: ev(OnPriced, nil), want: Wait, check: wantPhase(PhaseAtCap)},
		{name: "replacement journaled: send it, replacing", s: with(signed(5), func(s *State) { s.Phase = PhaseAtCap }),
			o: ev(OnJournaled, func(o *Observation) { o.Head = 107 }), want: Send,
			check: func(t *testing.T, s State) {
				wantPhase(PhaseReplacing)(t, s)
				if s.SentAtBlock != 107 {
					t.Errorf("SentAtBlock %d, want 107", s.SentAtBlock)
				}
			}},
		{name: "replacement taken", s: with(signed(5), func(s *State) { s.Phase = PhaseReplacing }),
			o: ev(OnAnswered, func(o *Observation) { o.Accepted = true }), want: Take, check: wantPhase(PhasePending)},
		{name: "replacement refused", s: with(signed(5), func(s *State) { s.Phase = PhaseReplacing }),
			o: ev(OnAnswered, nil), want: Drop, check: wantPhase(PhasePending)},

		{name: "SIGNATURE_USED applied by us: adopt", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{SignatureUsed: true, AppliedByUs: true} }), want: Adopt},
		{name: "SIGNATURE_USED not ours, first search: note it and wait", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{SignatureUsed: true} }), want: Wait,
			check: func(t *testing.T, s State) {
				if s.SigUsed != 101 {
					t.Errorf("SigUsed %d, want 101", s.SigUsed)
				}
			}},
		{name: "SIGNATURE_USED not ours, same block again: wait", s: with(reverted(signed(5)), func(s *State) { s.SigUsed = 101 }),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{SignatureUsed: true} }), want: Wait},
		{name: "SIGNATURE_USED not ours, in a later block: final", s: with(reverted(signed(5)), func(s *State) { s.SigUsed = 100 }),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{SignatureUsed: true} }), want: DeadLetter},
		{name: "cause can pass, hash purged: settled already, forget", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{CanPass: true, Count: -1} }), want: Forget},
		{name: "cause can pass, count 0 (its hash still there): requeue, not settled", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{CanPass: true, Count: 0} }), want: Requeue},
		{name: "cause can pass, too often: final", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{CanPass: true, Count: 4} }), want: DeadLetter,
			check: func(t *testing.T, s State) {
				if s.Reverts != 4 {
					t.Errorf("Reverts %d, want 4", s.Reverts)
				}
			}},
		{name: "cause can pass, at the limit: requeue", s: reverted(signed(5)),
			o: ev(OnCause, func(o *Observation) { o.Cause = Cause{CanPass: true, Count: 3} }), want: Requeue,
			check: func(t *testing.T, s State) {
				if s.Reverts != 3 {
					t.Errorf("Reverts %d, want 3", s.Reverts)
				}
			}},
		{name: "final cause: dead letter", s: reverted(signed(5)), o: ev(OnCause, nil), want: DeadLetter},
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, next := Decide(testPolicy(), tc.s, tc.o)
			if got != tc.want {
				t.Fatalf("decide = %v, want %v (state %+v)", got, tc.want, next)
			}
			if tc.check != nil {
				tc.check(t, next)
			}
		})
	}
}

// TestStuckFlightIsReplacedOncePerStuckBlocks walks a flight that no block
// takes through twenty passes, carrying each replacement through its
// events as the tracker does (priced with room, journaled, taken): it is
// replaced every STUCK_TX_BLOCKS blocks, each replacement restarting the
// clock, never in every block (issue 25: with SentAtBlock dropped from the
// stuck rule, the relay's own test saw only "at least two hashes").
func TestStuckFlightIsReplacedOncePerStuckBlocks(t *testing.T) {
	p := testPolicy()
	s := State{Nonce: 5, Signed: true, FeeCap: gwei(20), LastSent: t0}
	var replacedAt []uint64
	for head := uint64(100); head <= 120; head++ {
		o := Observation{Event: OnPass, Now: t0.Add(time.Duration(head-100) * time.Second / 2), Head: head, NextBaseFee: gwei(10),
			Mined: 5, Pending: 6, NodeLimit: 16}
		act, next := Decide(p, s, o)
		s = next
		if act != Replace {
			continue
		}
		replacedAt = append(replacedAt, head)
		for _, step := range []struct {
			ev   Event
			want Action
		}{{OnPriced, Sign}, {OnJournaled, Send}, {OnAnswered, Take}} {
			o.Event, o.Room, o.Accepted = step.ev, true, true
			if act, s = Decide(p, s, o); act != step.want {
				t.Fatalf("head %d, %v: %v, want %v", head, step.ev, act, step.want)
			}
		}
	}
	if want := []uint64{105, 110, 115, 120}; !slices.Equal(replacedAt, want) {
		t.Fatalf("replaced at heads %v, want %v (every STUCK_TX_BLOCKS = %d)", replacedAt, want, p.StuckBlocks)
	}
}

// TestDecideCoversEveryAction keeps the table honest: every action is taken
// by a row, every row is reached by a case of TestDecide (none is shadowed
// by the rows above it), every event's rows end in one that always
// matches, and every phase is reached.
func TestDecideCoversEveryAction(t *testing.T) {
	hit := make([]int, len(decideRows))
	phases := map[Phase]bool{}
	for _, tc := range decideCases() {
		i, act, next := decideRow(testPolicy(), tc.s, tc.o)
		if act != tc.want {
			t.Errorf("%s: row %d gives %v, want %v", tc.name, i+1, act, tc.want)
		}
		hit[i]++
		phases[next.Phase] = true
	}
	rowsOf := map[Action][]int{}
	for i, r := range decideRows {
		rowsOf[r.act] = append(rowsOf[r.act], i+1)
		if hit[i] == 0 {
			t.Errorf("row %d (%v: %s -> %v) is reached by no case", i+1, r.on, r.when, r.act)
		}
	}
	for a := range actionNames {
		if len(rowsOf[Action(a)]) == 0 {
			t.Errorf("action %v has no row", Action(a))
		}
	}
	for p := range phaseNames {
		if !phases[Phase(p)] {
			t.Errorf("phase %v is reached by no case", Phase(p))
		}
	}
	for e := range eventNames {
		last := -1
		for i, r := range decideRows {
			if r.on == Event(e) {
				last = i
			}
		}
		if last < 0 || !decideRows[last].match(facts{}) {
			t.Errorf("event %v: its last row must always match", Event(e))
		}
	}
}

// TestShortOfTip is the replacement-for-price rule on its own, at its
// boundary: a fee cap of exactly next base fee + tip pays the full tip.
func TestShortOfTip(t *testing.T) {
	wei := big.NewInt
	tests := []struct {
		name                  string
		feeCap, tip, nextBase *big.Int
		want                  bool
	}{
		{"cap = next base + tip", wei(120), wei(20), wei(100), false},
		{"cap one wei less", wei(119), wei(20), wei(100), true},
		{"cap one wei more", wei(121), wei(20), wei(100), false},
		{"cap above the next base, not by the tip", wei(110), wei(20), wei(100), true},
		{"cap below the next base", wei(90), wei(20), wei(100), true},
		{"zero tip, cap = next base", wei(100), wei(0), wei(100), false},
		{"nil tip counts as zero", wei(99), nil, wei(100), true},
		{"nil tip, cap = next base", wei(100), nil, wei(100), false},
		{"before London", wei(1), wei(20), nil, false},
		{"no fee cap known", nil, wei(20), wei(100), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := shortOfTip(tc.feeCap, tc.tip, tc.nextBase); got != tc.want {
				t.Fatalf("shortOfTip(%v, %v, %v) = %v, want %v", tc.feeCap, tc.tip, tc.nextBase, got, tc.want)
			}
		})
	}
}

func TestReceiptLook(t *testing.T) {
	p := testPolicy() // 3 confirmations
	tests := []struct {
		name  string
		s     State
		head  uint64
		mined uint64
		moved bool
		want  Look
	}{
		{"unmined, nonce not yet mined: nothing can have changed", State{Nonce: 5, Signed: true}, 100, 5, false, LookNone},
		{"unmined, wallet nonce passed it", State{Nonce: 5, Signed: true}, 100, 6, false, LookRead},
		{"unmined, block moved means nothing (no block yet)", State{Nonce: 5, Signed: true}, 100, 5, true, LookNone},
		{"mined, confirmations not due", State{Nonce: 5, Signed: true, MinedIn: 99}, 100, 6, false, LookNone},
		{"mined, confirmations due exactly, block in place: the kept receipt", State{Nonce: 5, Signed: true, MinedIn: 98}, 100, 6, false, LookKept},
		{"mined long ago, block in place: the kept receipt", State{Nonce: 5, Signed: true, MinedIn: 50}, 100, 6, false, LookKept},
		{"mined, block moved, not deep: read", State{Nonce: 5, Signed: true, MinedIn: 99}, 100, 6, true, LookRead},
		{"mined, block moved, deep: read, never the kept one", State{Nonce: 5, Signed: true, MinedIn: 98}, 100, 6, true, LookRead},
		{"adopted, unmined", State{}, 100, 0, false, LookRead},
		{"adopted, mined, deep, block in place: the kept receipt", State{MinedIn: 98}, 100, 0, false, LookKept},
		{"adopted, mined, block moved: read", State{MinedIn: 98}, 100, 0, true, LookRead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReceiptLook(p, tc.s, tc.head, tc.mined, tc.moved); got != tc.want {
				t.Fatalf("ReceiptLook = %v, want %v", got, tc.want)
			}
		})
	}
}
