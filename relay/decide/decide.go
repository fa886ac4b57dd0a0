// Package decide owns the relay's decisions as pure functions: values in,
// values out, no I/O and no clock of its own. Given what the relay
// remembers of a flight and what was just observed (a tracker pass, a
// replacement priced, journaled or answered, the cause of a revert), Decide
// says what to do and what to remember; the relay's tracker and sender only
// gather the observations and carry the actions out. Beside the flight's
// state machine it holds the node window (how many transactions the node
// keeps for the wallet: NodeWindow, NextNodeLimit, the nonces it should
// hold or lacks) and the hold on transactions the journal does not know
// (NextHold).
//
// It is a package of its own so that these decisions, which keep money and
// applications safe, are tested alone: its tests need no Redis and no chain
// and run in milliseconds, which makes mutation testing of them cheap
// (docs/mutation.md); relay's own tests take about a minute a run. The
// table is drawn in docs/design.md 4.4; TestDesignDecisionTable holds the
// two together, row by row.
package decide

import (
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Action is what the relay does with one flight after a decision.
type Action int

const (
	// Wait: nothing to do now (pending in the node, waiting for
	// confirmations, waiting its turn beyond what the node keeps, or a
	// sighting that must hold in a later block).
	Wait Action = iota
	// Confirm: mined, successful, and deep enough: acknowledge.
	Confirm
	// Reverted: mined, reverted, and deep enough: find the cause (the
	// replay, the transient revert count, the signature's earlier use) and
	// decide again with it (OnCause).
	Reverted
	// Resend: the node does not hold the transaction (dropped from its
	// pool, or its block left the chain): send the same bytes now.
	Resend
	// Rebroadcast: held but not mined for REBROADCAST_INTERVAL, or at the
	// fee cap with a send due: send the same bytes again.
	Rebroadcast
	// Replace: stuck on its fees: price a replacement at the same nonce
	// and decide again with the price (OnPriced).
	Replace
	// Lost: its nonce was mined, in two different blocks, and no hash of
	// ours has a receipt: a transaction not ours took the nonce. For an
	// adopted flight: its receipt stayed gone for STUCK_TX_BLOCKS.
	Lost
	// Sign: a replacement with room under MAX_FEE_PER_GAS: sign and
	// journal it, then decide again (OnJournaled).
	Sign
	// Send: a replacement is journaled: send it on this pass.
	Send
	// Take: the node took the replacement (or may have): it becomes the
	// accepted transaction.
	Take
	// Drop: the node refused the replacement: the transaction it holds
	// stays current.
	Drop
	// Requeue: forget the record (if any) and put the application back
	// in the queue.
	Requeue
	// DeadLetter: the outcome is final: dead-letter the application with
	// a copy of what the user signed, then forget the record.
	DeadLetter
	// Adopt: SIGNATURE_USED, applied by a transaction of ours: track that
	// transaction instead, and forget the reverted record.
	Adopt
	// Forget: the nonce is used and nothing is left to settle: forget the
	// record and let the flight go without a requeue.
	Forget
)

var actionNames = [...]string{"wait", "confirm", "reverted", "resend", "rebroadcast", "replace", "lost",
	"sign", "send", "take", "drop", "requeue", "dead-letter", "adopt", "forget"}

func (a Action) String() string { return actionNames[a] }

// Phase is where a flight is in its life (docs/design.md 4.3). Decide is the
// only writer of State.Phase.
type Phase int

const (
	// PhasePending: signed (journaled), broadcast or about to be, unmined.
	PhasePending Phase = iota
	// PhaseReplacing: a replacement is journaled beside the accepted
	// transaction and has not been answered by the node yet.
	PhaseReplacing
	// PhaseAtCap: stuck, and no replacement fits under MAX_FEE_PER_GAS: it
	// waits, re-broadcasting its identical bytes.
	PhaseAtCap
	// PhaseMined: a receipt was seen; counting confirmations.
	PhaseMined
	// PhaseReverted: mined, reverted and deep: its outcome is being settled.
	PhaseReverted
	// PhaseAdopted: a transaction of ours found on chain, of which only the
	// receipt matters.
	PhaseAdopted
)

var phaseNames = [...]string{"pending", "replacing", "at cap", "mined", "reverted", "adopted"}

func (p Phase) String() string { return phaseNames[p] }

// Sighting is the head at which a condition was first seen; zero: not seen,
// or no longer. Behind a load balancer two answers may come from backends
// at different heights, so a condition that would cost something (a lost
// nonce, a gone receipt, a used signature found not ours, a nonce gap, held
// transactions gone from the pool) is acted on only once it has held in two
// different blocks: the one value for all of them.
type Sighting uint64

// Note records that the condition holds at head.
func (s Sighting) Note(head uint64) Sighting {
	if s == 0 {
		return Sighting(head)
	}
	return s
}

// TwoBlocks reports whether the condition, noted before, holds at head in a
// later block than the first sighting, and at least blocks after it.
func (s Sighting) TwoBlocks(head, blocks uint64) bool {
	return s != 0 && head > uint64(s) && head >= uint64(s)+blocks
}

// State is the relay's memory of one flight between decisions; Decide
// reads it and returns the next one. Heights are block numbers; 0 means
// "not yet".
type State struct {
	Phase Phase
	Nonce uint64
	// Signed: the relay holds the signed bytes (journaled). False for a
	// transaction adopted from an application's transactionHash, of which
	// only the receipt matters.
	Signed bool
	// GapFill: a zero-value self-transfer carrying no application.
	GapFill bool
	// FeeCap and TipCap of the transaction the node accepted.
	FeeCap, TipCap *big.Int
	// MinedIn and MinedHash are the block of the last receipt seen.
	MinedIn   uint64
	MinedHash common.Hash
	// SentAtBlock is the head when the current transaction was first sent.
	SentAtBlock uint64
	// LowestSince is the head when this nonce became the wallet's next one
	// to be mined: only that flight can be stuck on its own fees.
	LowestSince uint64
	// Lost: the nonce seen mined with no receipt of ours (signed), or the
	// receipt seen gone (adopted).
	Lost Sighting
	// SigUsed: its revert was SIGNATURE_USED, applied by no transaction of
	// ours found.
	SigUsed Sighting
	// Reverts is the application's transient revert count once this
	// flight's revert was counted (stream.Queue.CountRevert); 0 before.
	Reverts int64
	// ReplacedAt is the head of the last replacement decision: at most one
	// per flight per block.
	ReplacedAt uint64
	// LastSent is when the bytes were last broadcast.
	LastSent time.Time
	// Refused: the node answered the last broadcast of these bytes with a
	// refusal for a full pool (chain.SendPoolFull), so it holds nothing of
	// them and a re-send need not wait ResendAfter, which guards bytes the
	// node accepted and may not show yet. The window keeps a refused nonce
	// back until the node has room (NodeWindow.RefusedAt), so this costs no
	// storm. A node that accepts and drops silently is never Refused.
	Refused bool
}

// Receipt is the part of a receipt the decision needs.
type Receipt struct {
	Block     uint64
	BlockHash common.Hash
	Success   bool
}

// Event is what a decision is about.
type Event int

const (
	OnPass      Event = iota // a tracker pass read the node
	OnPriced                 // a replacement was priced (Room)
	OnJournaled              // the priced replacement is signed and journaled
	OnAnswered               // the node answered a broadcast of the replacement (Accepted)
	OnCause                  // the cause of a deep revert was found (Cause)
)

var eventNames = [...]string{"pass", "priced", "journaled", "answered", "cause"}

func (e Event) String() string { return eventNames[e] }

// Cause is what was found about a deep revert (causeOf, CountRevert,
// appliedBy).
type Cause struct {
	// SignatureUsed: the replay reverted with SIGNATURE_USED; AppliedByUs:
	// the search found the transaction that applied it, from a wallet of the
	// pool.
	SignatureUsed, AppliedByUs bool
	// CanPass: a cause that can pass (product paused, out of gas, passes
	// when replayed). Count is then the application's transient revert
	// count; negative when its hash is gone (settled already).
	CanPass bool
	Count   int64
}

// Observation is what was learnt for one decision: on a pass, for one
// flight (Looked, Receipt) and for the whole wallet (the rest); on the
// other events, the pass's observation with the event's own field set.
type Observation struct {
	Event Event
	Now   time.Time
	Head  uint64
	// NextBaseFee is the base fee of the block after Head, which EIP-1559
	// fixes from Head's header; nil before London. It, not Head's own base
	// fee, is what a pending transaction must pay to be in the next block,
	// and the block builder takes a transaction only for the tip left over
	// it (min(TipCap, FeeCap - NextBaseFee)).
	NextBaseFee *big.Int
	// Mined is the wallet's mined nonce at Head: every nonce below it is
	// mined. Pending is the node's pending nonce: the node holds, as
	// executable, our transactions at nonces [Mined, Pending).
	Mined, Pending uint64
	// NodeLimit is how many unmined transactions the node is believed to
	// keep for us (see NextNodeLimit); nonces at or past Mined+NodeLimit
	// wait their turn instead of being re-sent into a full pool.
	NodeLimit uint64
	// Looked tells whether this flight's receipt was read on this pass (see
	// ReceiptLook: read, or the one kept from when it was mined); Receipt
	// is what was found, nil for none.
	Looked  bool
	Receipt *Receipt
	// Room (OnPriced): the replacement clears the node's rule under
	// MAX_FEE_PER_GAS.
	Room bool
	// Accepted (OnAnswered): the node took the replacement, or the answer
	// was lost.
	Accepted bool
	// Cause (OnCause).
	Cause Cause
}

// Policy is the part of the configuration the decisions use.
type Policy struct {
	Confirmations       uint64        // >= 1
	StuckBlocks         uint64        // blocks as the lowest nonce before a fee bump
	RebroadcastInterval time.Duration // re-send of held, unmined bytes
	// ResendAfter is the least time between two sends of the same bytes
	// when the node does not hold them: a pool accepts asynchronously, so
	// the pass right after a send may not see it yet. Bytes the node
	// refused (State.Refused) do not wait for it.
	ResendAfter time.Duration
	// MaxTransientReverts: a cause that can pass requeues the application
	// at most this often.
	MaxTransientReverts int64
}

// Deep reports whether a transaction mined in block has the required
// confirmations at head. Confirmations count the block itself, as ethers
// does: a transaction in the head block has one, so it is deep enough when
// head - block + 1 >= confirmations, written without underflow.
func (p Policy) Deep(head, block uint64) bool { return head+1 >= block+p.Confirmations }

// Look is where a pass takes a flight's receipt from (ReceiptLook).
type Look int

const (
	// LookNone: not looked at; nothing can have changed.
	LookNone Look = iota
	// LookRead: read from the node.
	LookRead
	// LookKept: the receipt read when the flight was mined, kept by the
	// relay. Its block still has the hash the receipt named (the pass read
	// the canonical hash), and a block with the same hash holds the same
	// transactions, so reading the receipt again would tell nothing new.
	LookKept
)

// ReceiptLook says where a flight's receipt comes from on this pass: read
// only when something can have changed. A signed transaction can only have
// been mined once the wallet's mined nonce passed its nonce, so unmined
// flights at or above it cost nothing; an adopted one is read until it is
// seen mined. A mined one is read again when its block moved (the
// canonical hash at its height is no longer the one its receipt named), and
// otherwise, once its confirmations are due, judged on the receipt kept from
// when it was mined: with 2 confirmations this halves the receipts a
// backlog reads (each was read when the nonce passed it and again when
// deep).
func ReceiptLook(p Policy, s State, head, mined uint64, blockMoved bool) Look {
	switch {
	case s.MinedIn != 0 && blockMoved:
		return LookRead
	case s.MinedIn != 0 && p.Deep(head, s.MinedIn):
		return LookKept
	case s.MinedIn != 0:
		return LookNone
	case !s.Signed || s.Nonce < mined:
		return LookRead
	default:
		return LookNone
	}
}

// facts are the conditions the rows test, derived once per decision from
// the state before it and the observation.
type facts struct {
	p Policy
	s State // before the decision
	o Observation

	receipt, deep, success bool
	// mined: a receipt was seen earlier; reorged: it was looked for on this
	// pass and is gone.
	mined, reorged bool
	adopted        bool
	// nonceTaken: the wallet's mined nonce passed the flight's nonce.
	nonceTaken bool
	lowest     bool
	inWindow   bool
	canReplace bool
	// shortOfTip: the fee cap cannot pay the full tip over the next block's
	// base fee. A builder fills a block by tip and skips what tips less than
	// its minimum, so a transaction priced when the base fee was lower stops
	// being mined as soon as its fee cap no longer covers base fee and tip,
	// which full blocks (+12.5% each) reach several blocks before the base
	// fee overtakes the fee cap itself; as it holds back every later nonce of
	// the wallet, the blocks in between would go out without any of ours.
	shortOfTip bool
	stuck      bool // lowest for STUCK_TX_BLOCKS
	held       bool // the node holds it (nonce below the pending nonce)
	// sinceSent is how long ago the bytes were last sent.
	sinceSent time.Duration
	// lostFor2: the nonce-taken (signed) or receipt-gone (adopted) sighting
	// holds in two blocks (adopted: STUCK_TX_BLOCKS apart).
	lostFor2 bool
	// sigUsedFor2: SIGNATURE_USED not ours holds in two blocks.
	sigUsedFor2 bool
	// sigUsedWait: SIGNATURE_USED not ours was seen, in this very block.
	sigUsedWait bool
}

func factsOf(p Policy, s State, o Observation) facts {
	f := facts{p: p, s: s, o: o}
	f.receipt = o.Receipt != nil
	if f.receipt {
		f.deep, f.success = p.Deep(o.Head, o.Receipt.Block), o.Receipt.Success
	}
	f.mined = s.MinedIn != 0
	f.reorged = f.mined && o.Looked && !f.receipt
	f.adopted = !s.Signed
	f.nonceTaken = s.Signed && s.Nonce < o.Mined
	f.lowest = s.Nonce == o.Mined
	f.inWindow = s.Nonce < o.Mined+o.NodeLimit
	f.canReplace = o.Head > s.ReplacedAt
	f.shortOfTip = shortOfTip(s.FeeCap, s.TipCap, o.NextBaseFee)
	sentAt, lowestSince := s.SentAtBlock, s.LowestSince
	if sentAt == 0 {
		sentAt = o.Head
	}
	if lowestSince == 0 {
		lowestSince = o.Head
	}
	f.stuck = f.lowest && o.Head >= max(sentAt, lowestSince)+p.StuckBlocks
	f.held = s.Nonce < o.Pending
	f.sinceSent = o.Now.Sub(s.LastSent)
	if f.adopted {
		f.lostFor2 = s.Lost.Note(o.Head).TwoBlocks(o.Head, p.StuckBlocks)
	} else {
		f.lostFor2 = s.Lost.Note(o.Head).TwoBlocks(o.Head, 0)
	}
	f.sigUsedFor2 = s.SigUsed.Note(o.Head).TwoBlocks(o.Head, 0)
	f.sigUsedWait = s.SigUsed != 0 && !s.SigUsed.TwoBlocks(o.Head, 0)
	return f
}

// shortOfTip reports whether feeCap < nextBaseFee + tip: the transaction
// cannot pay its full tip in the next block. Equal is enough: the builder
// then gets the whole tip. A nil tip counts as zero (the fee cap must still
// cover the base fee); nothing is short before London or without a fee cap.
func shortOfTip(feeCap, tip, nextBaseFee *big.Int) bool {
	if feeCap == nil || nextBaseFee == nil {
		return false
	}
	need := new(big.Int).Set(nextBaseFee)
	if tip != nil {
		need.Add(need, tip)
	}
	return feeCap.Cmp(need) < 0
}

// row is one line of the decision table: on event, when match holds (and
// no row above matched), take act and keep what next sets. when, keeps and
// the action's name are the table's cells in docs/design.md 4.4.
type row struct {
	on    Event
	when  string
	act   Action
	keeps string
	match func(f facts) bool
	next  func(f facts, s *State)
}

// afterPass is the state every pass row starts from: the receipt's block
// remembered, or the mined fields cleared when the receipt was looked for
// and is gone.
func afterPass(f facts, s *State) {
	switch {
	case f.receipt:
		s.MinedIn, s.MinedHash, s.Lost = f.o.Receipt.Block, f.o.Receipt.BlockHash, 0
		s.Phase = PhaseMined
	case f.mined && !f.o.Looked:
	default:
		if f.mined {
			s.Phase = PhasePending
		}
		s.MinedIn, s.MinedHash = 0, common.Hash{}
		if f.adopted {
			s.Phase = PhaseAdopted
		}
	}
}

// unmined is the state of a signed flight whose nonce is not taken: the
// lost sighting cleared, the send and lowest heights started.
func unmined(f facts, s *State) {
	s.Lost = 0
	if s.SentAtBlock == 0 {
		s.SentAtBlock = f.o.Head
	}
	switch {
	case !f.lowest:
		s.LowestSince = 0
	case s.LowestSince == 0:
		s.LowestSince = f.o.Head
	}
}

func noteLost(f facts, s *State) { s.Lost = s.Lost.Note(f.o.Head) }

func replaced(f facts, s *State) { unmined(f, s); s.ReplacedAt = f.o.Head }

// atCapDue: at the cap, the identical bytes go out again when a re-broadcast
// is due, or as soon as a dropped one would be re-sent (the node does not
// hold it: everything behind it waits on it).
func atCapDue(f facts) bool {
	return f.sinceSent >= f.p.RebroadcastInterval || (!f.held && f.sinceSent >= f.p.ResendAfter)
}

// decideRows is the table, checked in order; the first row that matches
// wins. Every event's rows end in one that always matches.
var decideRows = []row{
	{on: OnPass, when: "receipt seen, not deep", act: Wait, keeps: "phase mined; `MinedIn`, `MinedHash` set, `Lost` cleared",
		match: func(f facts) bool { return f.receipt && !f.deep }},
	{on: OnPass, when: "receipt seen, deep, status success", act: Confirm, keeps: "phase mined",
		match: func(f facts) bool { return f.receipt && f.success }},
	{on: OnPass, when: "receipt seen, deep, failed, a gap fill", act: Forget, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.s.GapFill },
		next:  func(f facts, s *State) { s.Phase = PhaseReverted }},
	{on: OnPass, when: "receipt seen, deep, failed, adopted (a reorg re-mined it reverted)", act: Requeue, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.adopted },
		next:  func(f facts, s *State) { s.Phase = PhaseReverted }},
	{on: OnPass, when: "receipt seen, deep, failed, SIGNATURE_USED found not ours in this very block", act: Wait, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.sigUsedWait },
		next:  func(f facts, s *State) { s.Phase = PhaseReverted }},
	{on: OnPass, when: "receipt seen, deep, failed", act: Reverted, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt },
		next:  func(f facts, s *State) { s.Phase = PhaseReverted }},
	{on: OnPass, when: "mined earlier, receipt not looked up this pass", act: Wait, keeps: "",
		match: func(f facts) bool { return f.mined && !f.o.Looked }},
	{on: OnPass, when: "adopted, receipt not looked up", act: Wait, keeps: "phase adopted, mined fields cleared",
		match: func(f facts) bool { return f.adopted && !f.o.Looked }},
	{on: OnPass, when: "adopted, no receipt (never seen, or vanished), in two blocks `STUCK_TX_BLOCKS` apart", act: Lost, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.adopted && f.lostFor2 }, next: noteLost},
	{on: OnPass, when: "adopted, no receipt, not yet", act: Wait, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.adopted }, next: noteLost},
	{on: OnPass, when: "nonce < mined nonce, no receipt of ours, in two blocks", act: Lost, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.nonceTaken && f.lostFor2 }, next: noteLost},
	{on: OnPass, when: "nonce < mined nonce, no receipt of ours, not yet in two blocks", act: Wait, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.nonceTaken }, next: noteLost},
	{on: OnPass, when: "receipt looked for and gone (reorg), nonce not mined", act: Resend, keeps: "phase pending, mined fields and `Lost` cleared",
		match: func(f facts) bool { return f.reorged }, next: func(f facts, s *State) { s.Lost = 0 }},
	{on: OnPass, when: "nonce ≥ window (the node would drop it again)", act: Wait, keeps: "`SentAtBlock`, `LowestSince` set, `Lost` cleared (so in every pass row below)",
		match: func(f facts) bool { return !f.inWindow }, next: unmined},
	{on: OnPass, when: "fee cap < next block's base fee + its tip (it cannot pay its full tip there), no replacement yet in this block", act: Replace, keeps: "`ReplacedAt = head`",
		match: func(f facts) bool { return f.shortOfTip && f.canReplace }, next: replaced},
	{on: OnPass, when: "lowest unmined nonce, head ≥ max(`SentAtBlock`, `LowestSince`) + `STUCK_TX_BLOCKS`, no replacement yet in this block", act: Replace, keeps: "`ReplacedAt = head`",
		match: func(f facts) bool { return f.stuck && f.canReplace }, next: replaced},
	{on: OnPass, when: "not held by the node (nonce ≥ pending nonce), last send refused for a full pool or ≥ `ResendAfter` ago", act: Resend, keeps: "",
		match: func(f facts) bool { return !f.held && (f.s.Refused || f.sinceSent >= f.p.ResendAfter) }, next: unmined},
	{on: OnPass, when: "not held, sent more recently", act: Wait, keeps: "",
		match: func(f facts) bool { return !f.held }, next: unmined},
	{on: OnPass, when: "held, last send ≥ `REBROADCAST_INTERVAL` ago", act: Rebroadcast, keeps: "",
		match: func(f facts) bool { return f.sinceSent >= f.p.RebroadcastInterval }, next: unmined},
	{on: OnPass, when: "otherwise", act: Wait, keeps: "",
		match: func(f facts) bool { return true }, next: unmined},

	{on: OnPriced, when: "room under `MAX_FEE_PER_GAS`", act: Sign, keeps: "",
		match: func(f facts) bool { return f.o.Room }},
	{on: OnPriced, when: "no room, a re-broadcast or a re-send due", act: Rebroadcast, keeps: "phase at cap",
		match: atCapDue, next: func(f facts, s *State) { s.Phase = PhaseAtCap }},
	{on: OnPriced, when: "no room", act: Wait, keeps: "phase at cap",
		match: func(f facts) bool { return true }, next: func(f facts, s *State) { s.Phase = PhaseAtCap }},

	{on: OnJournaled, when: "always", act: Send, keeps: "phase replacing, `SentAtBlock = head`",
		match: func(f facts) bool { return true },
		next:  func(f facts, s *State) { s.Phase, s.SentAtBlock = PhaseReplacing, f.o.Head }},

	{on: OnAnswered, when: "taken, or the answer lost", act: Take, keeps: "phase pending",
		match: func(f facts) bool { return f.o.Accepted }, next: func(f facts, s *State) { s.Phase = PhasePending }},
	{on: OnAnswered, when: "refused", act: Drop, keeps: "phase pending",
		match: func(f facts) bool { return true }, next: func(f facts, s *State) { s.Phase = PhasePending }},

	{on: OnCause, when: "SIGNATURE_USED, applied by a wallet of the pool", act: Adopt, keeps: "",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed && f.o.Cause.AppliedByUs }},
	{on: OnCause, when: "SIGNATURE_USED, not ours, in two blocks", act: DeadLetter, keeps: "",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed && f.sigUsedFor2 }},
	{on: OnCause, when: "SIGNATURE_USED, not ours, not yet in two blocks", act: Wait, keeps: "`SigUsed` noted",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed },
		next:  func(f facts, s *State) { s.SigUsed = s.SigUsed.Note(f.o.Head) }},
	{on: OnCause, when: "a cause that can pass, the application settled already (count < 0)", act: Forget, keeps: "",
		match: func(f facts) bool { return f.o.Cause.CanPass && f.o.Cause.Count < 0 }},
	{on: OnCause, when: "a cause that can pass, count > `MAX_TRANSIENT_REVERTS`", act: DeadLetter, keeps: "`Reverts` = count",
		match: func(f facts) bool { return f.o.Cause.CanPass && f.o.Cause.Count > f.p.MaxTransientReverts },
		next:  func(f facts, s *State) { s.Reverts = f.o.Cause.Count }},
	{on: OnCause, when: "a cause that can pass", act: Requeue, keeps: "`Reverts` = count",
		match: func(f facts) bool { return f.o.Cause.CanPass },
		next:  func(f facts, s *State) { s.Reverts = f.o.Cause.Count }},
	{on: OnCause, when: "a final cause", act: DeadLetter, keeps: "",
		match: func(f facts) bool { return true }},
}

// Decide is the per-flight state machine (docs/design.md, "Transaction
// lifecycle"). It never does I/O; the relay carries out the action.
func Decide(p Policy, s State, o Observation) (Action, State) {
	_, act, next := decideRow(p, s, o)
	return act, next
}

// decideRow is Decide, also naming the row that matched (its index in
// decideRows).
func decideRow(p Policy, s State, o Observation) (int, Action, State) {
	f := factsOf(p, s, o)
	next := s
	if o.Event == OnPass {
		afterPass(f, &next)
	}
	for i, r := range decideRows {
		if r.on != o.Event || !r.match(f) {
			continue
		}
		if r.next != nil {
			r.next(f, &next)
		}
		return i, r.act, next
	}
	panic("decide: no decision row for event " + o.Event.String()) // every event ends in a row that always matches
}
