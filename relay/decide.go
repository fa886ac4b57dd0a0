package relay

import (
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// This file holds the flight's whole life as pure functions: given what the
// relay remembers of a flight and what was just observed (a tracker pass, a
// replacement priced, journaled or answered, the cause of a revert), what to
// do and what to remember. The tracker and the sender only gather the
// observations and carry the actions out. The table is drawn in
// docs/design.md ("Transaction lifecycle"); TestDesignDecisionTable holds the
// two together, row by row.

// action is what the relay does with one flight after a decision.
type action int

const (
	// actWait: nothing to do now (pending in the node, waiting for
	// confirmations, waiting its turn beyond what the node keeps, or a
	// sighting that must hold in a later block).
	actWait action = iota
	// actConfirm: mined, successful, and deep enough: acknowledge.
	actConfirm
	// actReverted: mined, reverted, and deep enough: find the cause (the
	// replay, the transient revert count, the signature's earlier use) and
	// decide again with it (evCause).
	actReverted
	// actResend: the node does not hold the transaction (dropped from its
	// pool, or its block left the chain): send the same bytes now.
	actResend
	// actRebroadcast: held but not mined for REBROADCAST_INTERVAL, or at the
	// fee cap with a send due: send the same bytes again.
	actRebroadcast
	// actReplace: stuck on its fees: price a replacement at the same nonce
	// and decide again with the price (evPriced).
	actReplace
	// actLost: its nonce was mined, in two different blocks, and no hash of
	// ours has a receipt: a transaction not ours took the nonce. For an
	// adopted flight: its receipt stayed gone for STUCK_TX_BLOCKS.
	actLost
	// actSign: a replacement with room under MAX_FEE_PER_GAS: sign and
	// journal it, then decide again (evJournaled).
	actSign
	// actSend: a replacement is journaled: send it on this pass.
	actSend
	// actTake: the node took the replacement (or may have): it becomes the
	// accepted transaction.
	actTake
	// actDrop: the node refused the replacement: the transaction it holds
	// stays current.
	actDrop
	// actRequeue: forget the record (if any) and put the application back
	// in the queue.
	actRequeue
	// actDeadLetter: the outcome is final: dead-letter the application with
	// a copy of what the user signed, then forget the record.
	actDeadLetter
	// actAdopt: SIGNATURE_USED, applied by a transaction of ours: track that
	// transaction instead, and forget the reverted record.
	actAdopt
	// actForget: the nonce is used and nothing is left to settle: forget the
	// record and let the flight go without a requeue.
	actForget
)

var actionNames = [...]string{"wait", "confirm", "reverted", "resend", "rebroadcast", "replace", "lost",
	"sign", "send", "take", "drop", "requeue", "dead-letter", "adopt", "forget"}

func (a action) String() string { return actionNames[a] }

// phase is where a flight is in its life (docs/design.md 4.3). decide is the
// only writer of flightState.Phase.
type phase int

const (
	// phasePending: signed (journaled), broadcast or about to be, unmined.
	phasePending phase = iota
	// phaseReplacing: a replacement is journaled beside the accepted
	// transaction and has not been answered by the node yet.
	phaseReplacing
	// phaseAtCap: stuck, and no replacement fits under MAX_FEE_PER_GAS: it
	// waits, re-broadcasting its identical bytes.
	phaseAtCap
	// phaseMined: a receipt was seen; counting confirmations.
	phaseMined
	// phaseReverted: mined, reverted and deep: its outcome is being settled.
	phaseReverted
	// phaseAdopted: a transaction of ours found on chain, of which only the
	// receipt matters.
	phaseAdopted
)

var phaseNames = [...]string{"pending", "replacing", "at cap", "mined", "reverted", "adopted"}

func (p phase) String() string { return phaseNames[p] }

// sighting is the head at which a condition was first seen; zero: not seen,
// or no longer. Behind a load balancer two answers may come from backends
// at different heights, so a condition that would cost something (a lost
// nonce, a gone receipt, a used signature found not ours, a nonce gap, held
// transactions gone from the pool) is acted on only once it has held in two
// different blocks: the one value for all of them.
type sighting uint64

// note records that the condition holds at head.
func (s sighting) note(head uint64) sighting {
	if s == 0 {
		return sighting(head)
	}
	return s
}

// twoBlocks reports whether the condition, noted before, holds at head in a
// later block than the first sighting, and at least blocks after it.
func (s sighting) twoBlocks(head, blocks uint64) bool {
	return s != 0 && head > uint64(s) && head >= uint64(s)+blocks
}

// flightState is the relay's memory of one flight between decisions; decide
// reads it and returns the next one. Heights are block numbers; 0 means
// "not yet".
type flightState struct {
	Phase phase
	Nonce uint64
	// Signed: the relay holds the signed bytes (journaled). False for a
	// transaction adopted from an application's transactionHash, of which
	// only the receipt matters.
	Signed bool
	// GapFill: a zero-value self-transfer carrying no application.
	GapFill bool
	// FeeCap of the transaction the node accepted.
	FeeCap *big.Int
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
	Lost sighting
	// SigUsed: its revert was SIGNATURE_USED, applied by no transaction of
	// ours found.
	SigUsed sighting
	// Reverts is the application's transient revert count once this
	// flight's revert was counted (stream.Queue.CountRevert); 0 before.
	Reverts int64
	// ReplacedAt is the head of the last replacement decision: at most one
	// per flight per block.
	ReplacedAt uint64
	// LastSent is when the bytes were last broadcast.
	LastSent time.Time
}

// receiptSeen is the part of a receipt the decision needs.
type receiptSeen struct {
	Block     uint64
	BlockHash common.Hash
	Success   bool
}

// event is what a decision is about.
type event int

const (
	evPass      event = iota // a tracker pass read the node
	evPriced                 // a replacement was priced (Room)
	evJournaled              // the priced replacement is signed and journaled
	evAnswered               // the node answered a broadcast of the replacement (Accepted)
	evCause                  // the cause of a deep revert was found (Cause)
)

var eventNames = [...]string{"pass", "priced", "journaled", "answered", "cause"}

func (e event) String() string { return eventNames[e] }

// causeSeen is what was found about a deep revert (causeOf, CountRevert,
// appliedBy).
type causeSeen struct {
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

// observation is what was learnt for one decision: on a pass, for one
// flight (Looked, Receipt) and for the whole wallet (the rest); on the
// other events, the pass's observation with the event's own field set.
type observation struct {
	Event   event
	Now     time.Time
	Head    uint64
	BaseFee *big.Int // nil before London
	// Mined is the wallet's mined nonce at Head: every nonce below it is
	// mined. Pending is the node's pending nonce: the node holds, as
	// executable, our transactions at nonces [Mined, Pending).
	Mined, Pending uint64
	// NodeLimit is how many unmined transactions the node is believed to
	// keep for us (see nextNodeLimit); nonces at or past Mined+NodeLimit
	// wait their turn instead of being re-sent into a full pool.
	NodeLimit uint64
	// Looked tells whether this flight's receipt was read on this pass (see
	// needsReceipt); Receipt is what was found, nil for none.
	Looked  bool
	Receipt *receiptSeen
	// Room (evPriced): the replacement clears the node's rule under
	// MAX_FEE_PER_GAS.
	Room bool
	// Accepted (evAnswered): the node took the replacement, or the answer
	// was lost.
	Accepted bool
	// Cause (evCause).
	Cause causeSeen
}

// policy is the part of the configuration the decisions use.
type policy struct {
	Confirmations       uint64        // >= 1
	StuckBlocks         uint64        // blocks as the lowest nonce before a fee bump
	RebroadcastInterval time.Duration // re-send of held, unmined bytes
	// ResendAfter is the least time between two sends of the same bytes
	// when the node does not hold them: a pool accepts asynchronously, so
	// the pass right after a send may not see it yet.
	ResendAfter time.Duration
	// MaxTransientReverts: a cause that can pass requeues the application
	// at most this often.
	MaxTransientReverts int64
}

// deep reports whether a transaction mined in block has the required
// confirmations at head. Confirmations count the block itself, as ethers
// does: a transaction in the head block has one, so it is deep enough when
// head - block + 1 >= confirmations, written without underflow.
func (p policy) deep(head, block uint64) bool { return head+1 >= block+p.Confirmations }

// needsReceipt reports whether a flight's receipt is worth a look-up on this
// pass: only when something can have changed. A signed transaction can only
// have been mined once the wallet's mined nonce passed its nonce, so unmined
// flights at or above it cost nothing; a mined one is read again when its
// confirmations are due or its block left the chain.
func needsReceipt(p policy, s flightState, head, mined uint64, blockMoved bool) bool {
	switch {
	case s.MinedIn != 0:
		return blockMoved || p.deep(head, s.MinedIn)
	case !s.Signed:
		return true
	default:
		return s.Nonce < mined
	}
}

// facts are the conditions the rows test, derived once per decision from
// the state before it and the observation.
type facts struct {
	p policy
	s flightState // before the decision
	o observation

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
	underBase  bool // the base fee overtook the fee cap
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

func factsOf(p policy, s flightState, o observation) facts {
	f := facts{p: p, s: s, o: o}
	f.receipt = o.Receipt != nil
	if f.receipt {
		f.deep, f.success = p.deep(o.Head, o.Receipt.Block), o.Receipt.Success
	}
	f.mined = s.MinedIn != 0
	f.reorged = f.mined && o.Looked && !f.receipt
	f.adopted = !s.Signed
	f.nonceTaken = s.Signed && s.Nonce < o.Mined
	f.lowest = s.Nonce == o.Mined
	f.inWindow = s.Nonce < o.Mined+o.NodeLimit
	f.canReplace = o.Head > s.ReplacedAt
	f.underBase = o.BaseFee != nil && s.FeeCap != nil && s.FeeCap.Cmp(o.BaseFee) < 0
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
		f.lostFor2 = s.Lost.note(o.Head).twoBlocks(o.Head, p.StuckBlocks)
	} else {
		f.lostFor2 = s.Lost.note(o.Head).twoBlocks(o.Head, 0)
	}
	f.sigUsedFor2 = s.SigUsed.note(o.Head).twoBlocks(o.Head, 0)
	f.sigUsedWait = s.SigUsed != 0 && !s.SigUsed.twoBlocks(o.Head, 0)
	return f
}

// row is one line of the decision table: on event, when match holds (and
// no row above matched), take act and keep what next sets. when, keeps and
// the action's name are the table's cells in docs/design.md 4.4.
type row struct {
	on    event
	when  string
	act   action
	keeps string
	match func(f facts) bool
	next  func(f facts, s *flightState)
}

// afterPass is the state every pass row starts from: the receipt's block
// remembered, or the mined fields cleared when the receipt was looked for
// and is gone.
func afterPass(f facts, s *flightState) {
	switch {
	case f.receipt:
		s.MinedIn, s.MinedHash, s.Lost = f.o.Receipt.Block, f.o.Receipt.BlockHash, 0
		s.Phase = phaseMined
	case f.mined && !f.o.Looked:
	default:
		if f.mined {
			s.Phase = phasePending
		}
		s.MinedIn, s.MinedHash = 0, common.Hash{}
		if f.adopted {
			s.Phase = phaseAdopted
		}
	}
}

// unmined is the state of a signed flight whose nonce is not taken: the
// lost sighting cleared, the send and lowest heights started.
func unmined(f facts, s *flightState) {
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

func noteLost(f facts, s *flightState) { s.Lost = s.Lost.note(f.o.Head) }

func replaced(f facts, s *flightState) { unmined(f, s); s.ReplacedAt = f.o.Head }

// atCapDue: at the cap, the identical bytes go out again when a re-broadcast
// is due, or as soon as a dropped one would be re-sent (the node does not
// hold it: everything behind it waits on it).
func atCapDue(f facts) bool {
	return f.sinceSent >= f.p.RebroadcastInterval || (!f.held && f.sinceSent >= f.p.ResendAfter)
}

// decideRows is the table, checked in order; the first row that matches
// wins. Every event's rows end in one that always matches.
var decideRows = []row{
	{on: evPass, when: "receipt seen, not deep", act: actWait, keeps: "phase mined; `MinedIn`, `MinedHash` set, `Lost` cleared",
		match: func(f facts) bool { return f.receipt && !f.deep }},
	{on: evPass, when: "receipt seen, deep, status success", act: actConfirm, keeps: "phase mined",
		match: func(f facts) bool { return f.receipt && f.success }},
	{on: evPass, when: "receipt seen, deep, failed, a gap fill", act: actForget, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.s.GapFill },
		next:  func(f facts, s *flightState) { s.Phase = phaseReverted }},
	{on: evPass, when: "receipt seen, deep, failed, adopted (a reorg re-mined it reverted)", act: actRequeue, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.adopted },
		next:  func(f facts, s *flightState) { s.Phase = phaseReverted }},
	{on: evPass, when: "receipt seen, deep, failed, SIGNATURE_USED found not ours in this very block", act: actWait, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt && f.sigUsedWait },
		next:  func(f facts, s *flightState) { s.Phase = phaseReverted }},
	{on: evPass, when: "receipt seen, deep, failed", act: actReverted, keeps: "phase reverted",
		match: func(f facts) bool { return f.receipt },
		next:  func(f facts, s *flightState) { s.Phase = phaseReverted }},
	{on: evPass, when: "mined earlier, receipt not looked up this pass", act: actWait, keeps: "",
		match: func(f facts) bool { return f.mined && !f.o.Looked }},
	{on: evPass, when: "adopted, receipt not looked up", act: actWait, keeps: "phase adopted, mined fields cleared",
		match: func(f facts) bool { return f.adopted && !f.o.Looked }},
	{on: evPass, when: "adopted, no receipt (never seen, or vanished), in two blocks `STUCK_TX_BLOCKS` apart", act: actLost, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.adopted && f.lostFor2 }, next: noteLost},
	{on: evPass, when: "adopted, no receipt, not yet", act: actWait, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.adopted }, next: noteLost},
	{on: evPass, when: "nonce < mined nonce, no receipt of ours, in two blocks", act: actLost, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.nonceTaken && f.lostFor2 }, next: noteLost},
	{on: evPass, when: "nonce < mined nonce, no receipt of ours, not yet in two blocks", act: actWait, keeps: "`Lost` noted",
		match: func(f facts) bool { return f.nonceTaken }, next: noteLost},
	{on: evPass, when: "receipt looked for and gone (reorg), nonce not mined", act: actResend, keeps: "phase pending, mined fields and `Lost` cleared",
		match: func(f facts) bool { return f.reorged }, next: func(f facts, s *flightState) { s.Lost = 0 }},
	{on: evPass, when: "nonce ≥ window (the node would drop it again)", act: actWait, keeps: "`SentAtBlock`, `LowestSince` set, `Lost` cleared (so in every pass row below)",
		match: func(f facts) bool { return !f.inWindow }, next: unmined},
	{on: evPass, when: "base fee > its fee cap, no replacement yet in this block", act: actReplace, keeps: "`ReplacedAt = head`",
		match: func(f facts) bool { return f.underBase && f.canReplace }, next: replaced},
	{on: evPass, when: "lowest unmined nonce, head ≥ max(`SentAtBlock`, `LowestSince`) + `STUCK_TX_BLOCKS`, no replacement yet in this block", act: actReplace, keeps: "`ReplacedAt = head`",
		match: func(f facts) bool { return f.stuck && f.canReplace }, next: replaced},
	{on: evPass, when: "not held by the node (nonce ≥ pending nonce), last send ≥ `ResendAfter` ago", act: actResend, keeps: "",
		match: func(f facts) bool { return !f.held && f.sinceSent >= f.p.ResendAfter }, next: unmined},
	{on: evPass, when: "not held, sent more recently", act: actWait, keeps: "",
		match: func(f facts) bool { return !f.held }, next: unmined},
	{on: evPass, when: "held, last send ≥ `REBROADCAST_INTERVAL` ago", act: actRebroadcast, keeps: "",
		match: func(f facts) bool { return f.sinceSent >= f.p.RebroadcastInterval }, next: unmined},
	{on: evPass, when: "otherwise", act: actWait, keeps: "",
		match: func(f facts) bool { return true }, next: unmined},

	{on: evPriced, when: "room under `MAX_FEE_PER_GAS`", act: actSign, keeps: "",
		match: func(f facts) bool { return f.o.Room }},
	{on: evPriced, when: "no room, a re-broadcast or a re-send due", act: actRebroadcast, keeps: "phase at cap",
		match: atCapDue, next: func(f facts, s *flightState) { s.Phase = phaseAtCap }},
	{on: evPriced, when: "no room", act: actWait, keeps: "phase at cap",
		match: func(f facts) bool { return true }, next: func(f facts, s *flightState) { s.Phase = phaseAtCap }},

	{on: evJournaled, when: "always", act: actSend, keeps: "phase replacing, `SentAtBlock = head`",
		match: func(f facts) bool { return true },
		next:  func(f facts, s *flightState) { s.Phase, s.SentAtBlock = phaseReplacing, f.o.Head }},

	{on: evAnswered, when: "taken, or the answer lost", act: actTake, keeps: "phase pending",
		match: func(f facts) bool { return f.o.Accepted }, next: func(f facts, s *flightState) { s.Phase = phasePending }},
	{on: evAnswered, when: "refused", act: actDrop, keeps: "phase pending",
		match: func(f facts) bool { return true }, next: func(f facts, s *flightState) { s.Phase = phasePending }},

	{on: evCause, when: "SIGNATURE_USED, applied by a wallet of the pool", act: actAdopt, keeps: "",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed && f.o.Cause.AppliedByUs }},
	{on: evCause, when: "SIGNATURE_USED, not ours, in two blocks", act: actDeadLetter, keeps: "",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed && f.sigUsedFor2 }},
	{on: evCause, when: "SIGNATURE_USED, not ours, not yet in two blocks", act: actWait, keeps: "`SigUsed` noted",
		match: func(f facts) bool { return f.o.Cause.SignatureUsed },
		next:  func(f facts, s *flightState) { s.SigUsed = s.SigUsed.note(f.o.Head) }},
	{on: evCause, when: "a cause that can pass, the application settled already (count < 0)", act: actForget, keeps: "",
		match: func(f facts) bool { return f.o.Cause.CanPass && f.o.Cause.Count < 0 }},
	{on: evCause, when: "a cause that can pass, count > `MAX_TRANSIENT_REVERTS`", act: actDeadLetter, keeps: "`Reverts` = count",
		match: func(f facts) bool { return f.o.Cause.CanPass && f.o.Cause.Count > f.p.MaxTransientReverts },
		next:  func(f facts, s *flightState) { s.Reverts = f.o.Cause.Count }},
	{on: evCause, when: "a cause that can pass", act: actRequeue, keeps: "`Reverts` = count",
		match: func(f facts) bool { return f.o.Cause.CanPass },
		next:  func(f facts, s *flightState) { s.Reverts = f.o.Cause.Count }},
	{on: evCause, when: "a final cause", act: actDeadLetter, keeps: "",
		match: func(f facts) bool { return true }},
}

// decide is the per-flight state machine (docs/design.md, "Transaction
// lifecycle"). It never does I/O; the relay carries out the action.
func decide(p policy, s flightState, o observation) (action, flightState) {
	_, act, next := decideRow(p, s, o)
	return act, next
}

// decideRow is decide, also naming the row that matched (its index in
// decideRows).
func decideRow(p policy, s flightState, o observation) (int, action, flightState) {
	f := factsOf(p, s, o)
	next := s
	if o.Event == evPass {
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
	panic("relay: no decision row for event " + o.Event.String()) // every event ends in a row that always matches
}

// nodeWindow is the relay's estimate of how many unmined transactions the
// node keeps for this wallet. geth keeps 16 per sender for sure (more while
// its pool has room), busy pools and hosted providers fewer or more, and none
// says when it drops one; so the estimate is learnt from what the node does.
type nodeWindow struct {
	Limit    uint64 // current estimate, 1..Max
	Max      uint64 // MAX_IN_FLIGHT
	GrownAt  uint64 // head of the last growth, at most one per block
	Observed uint64 // what the node held on the last pass, for the monitor
	// Mined is the wallet's mined nonce on the last pass.
	Mined uint64
	// Bound: since the last pass the submitting loop had applications
	// waiting that the window kept back. Refused: since the last pass the
	// node refused one of ours because its pool was full for us.
	Bound, Refused bool
	// Learnt: the node has dropped or refused one of ours at least once, so
	// the limit is near what it keeps; until then the window doubles when
	// the node holds all of it (a slow start), then grows by quarters.
	Learnt bool
	// Ceiling is a limit the node dropped at, learnt at head CeilingAt:
	// probes stay below it for ceilingBlocks, so a window that found the
	// node's edge does not overshoot it again every few blocks (with
	// several keys on one pool, each overshoot drops work of them all).
	Ceiling, CeilingAt uint64
	// Seeded: the start from the first simulations was applied (seeded).
	Seeded bool
}

// ceilingBlocks is how long a learnt ceiling holds probes back: long enough
// to keep a steady window steady, short enough to find room that opens
// later (a pool that empties).
const ceilingBlocks = 64

// initialNodeWindow is where the estimate starts before the relay knows
// what a block holds: geth guarantees a sender 16 pending transactions. The
// first simulation then seeds it (startNodeWindow), so the first block of a
// backlog is full on a node that keeps everything.
const initialNodeWindow = 16

// startNodeWindow is the node window a relay starts a backlog with, once
// its first simulations tell how much gas an application takes: two blocks'
// worth of applications (blockGas/gasPerApp, rounded up), the block being
// built and the next, so that a window refilled once per block (the
// tracker's pass follows the head) never leaves a block short. Within
// initialNodeWindow..maxInFlight; initialNodeWindow when either figure is
// unknown. Two blocks are shared by the keys that relay beside this one
// (keys, the process's PROCESSOR_ACCOUNT_INDEX; 0 or 1 is this key alone):
// each key starts with its share, so a backlog is spread over the keys
// instead of being signed by whichever read it first, which on a node that
// keeps 16 per sender would leave the last blocks to a few keys at 16
// each. A node that keeps fewer shows it at once (a refusal, or the drop
// seen on the next pass: nextNodeLimit), so the start costs one round of
// refused or dropped sends, not a block of slow start.
func startNodeWindow(blockGas, gasPerApp, maxInFlight, keys uint64) uint64 {
	start := uint64(initialNodeWindow)
	if blockGas > 0 && gasPerApp > 0 {
		twoBlocks, k := 2*((blockGas+gasPerApp-1)/gasPerApp), max(keys, 1)
		start = max(start, (twoBlocks+k-1)/k)
	}
	return max(1, min(start, maxInFlight))
}

// seeded raises the limit to start (startNodeWindow) once per relay, before
// the node has shown a limit: a window that already learnt one keeps it.
// The seed is head's growth: the window grows again only once a block has
// shown what the node does with it (a strict node drops or refuses), not
// on the next pass merely because the backlog waits.
func (w nodeWindow) seeded(start, head uint64) nodeWindow {
	if w.Seeded {
		return w
	}
	w.Seeded = true
	if !w.Learnt && start > w.Limit {
		w.Limit, w.GrownAt = min(start, w.Max), head
	}
	return w
}

// refusedAt notes that the node refused our transaction at nonce because it
// keeps no more of ours: it holds the nonces below, so the limit is at most
// their count. A pool that refuses outright (geth with a full pool) shows
// its limit here; one that accepts and drops later shows it in the pending
// nonce (nextNodeLimit).
func (w nodeWindow) refusedAt(nonce uint64) nodeWindow {
	w.Refused, w.Learnt = true, true
	if nonce >= w.Mined {
		w.Limit = max(1, min(w.Limit, nonce-w.Mined))
	}
	return w
}

// nextNodeLimit updates the estimate after a pass's nonces. held is how many
// of ours the node holds (pending - mined); expected is how many it should
// hold: the consecutive flights from the mined nonce, within the limit, sent
// long enough ago for the pool to show them.
//
//   - held < expected, held > 0: the node dropped some. The limit becomes
//     what it kept: what it holds, plus what blocks since the last pass
//     mined of ours, which it held beside them (never more than the limit
//     was), so the rest wait their turn instead of being re-sent into a
//     pool that drops them again. Counting the mined ones matters when a
//     block takes many of ours at once (batches): a node keeping 16 whose
//     block mined 7 holds 9, and a limit of 9, then 2 on the next block,
//     would starve the blocks of a node that keeps 16. The first drop ends
//     the slow start.
//   - held == 0 with flights expected, and blocks since the last pass mined
//     fewer of ours than the limit (mined - w.Mined): the node kept only
//     what it mined and dropped the rest without telling (a hosted provider
//     with a per-sender limit). Passes follow the head, so the pool is
//     usually drained when the tracker looks and held alone would never show
//     it: the limit becomes what was mined, and the rest wait their turn
//     instead of being re-sent every pass into a pool that drops them (a
//     storm of re-sends).
//   - held == 0 with flights expected and nothing mined since the last pass
//     (or no last pass): either the pool evicted all of them or this backend
//     does not see the pool (a load balancer sending reads and writes to
//     different nodes). Nothing is learnt: the flights are re-sent.
//   - the node held all we allowed, or the window kept applications back
//     while the node refused nothing: probe one step higher (a quarter, at
//     least one), at most once per block, so a node that takes more is
//     filled again without a storm of re-sends into one that does not.
//     Before the node ever dropped or refused one (the slow start), double
//     on every pass in which it held all we allowed instead: a node that
//     keeps everything is filled within a few passes, and one that does not
//     shows it by dropping, once. Work kept back alone grows the window a
//     quarter, once per block, in the slow start too: a pass right after
//     the seed (startNodeWindow) has not yet seen what the node keeps.
func nextNodeLimit(w nodeWindow, head, mined, held, expected uint64) nodeWindow {
	before := w.Mined
	w.Observed, w.Mined = held, mined
	kept := held
	switch {
	case held == 0 && before > 0 && mined > before && mined-before < w.Limit:
		kept = mined - before // mined since the last pass, and nothing more held
	case held > 0 && before > 0 && mined > before:
		kept = min(w.Limit, held+mined-before) // held beside those mined since the last pass
	}
	switch {
	case held > 0 && held < expected || held == 0 && kept > 0 && expected > 0:
		if kept < w.Limit && w.Limit > initialNodeWindow {
			// Only an edge above geth's guarantee is a ceiling: a drop below
			// it is pressure that passes (or a stricter node, which the
			// limit itself tracks).
			w.Ceiling, w.CeilingAt = w.Limit, head
		}
		w.Limit, w.Learnt = kept, true
	case (held >= w.Limit || w.Bound) && !w.Refused && w.Limit < w.Max && (head > w.GrownAt || !w.Learnt && held >= w.Limit):
		step := max(1, w.Limit/4)
		if !w.Learnt && held >= w.Limit {
			step = w.Limit
		}
		next := min(w.Max, w.Limit+step)
		if w.Ceiling > 0 && head < w.CeilingAt+ceilingBlocks {
			next = min(next, w.Ceiling-1)
		}
		if next > w.Limit {
			w.Limit, w.GrownAt = next, head
		}
	}
	w.Limit = max(1, min(w.Limit, w.Max))
	w.Bound, w.Refused = false, false
	return w
}

// expectedHeld counts the consecutive nonces from mined for which the relay
// has a signed, unmined transaction that was sent before sentBefore, up to
// limit: what an honest node that keeps limit transactions must be holding.
func expectedHeld(sent map[uint64]time.Time, mined, limit uint64, sentBefore time.Time) uint64 {
	var n uint64
	for n < limit {
		at, ok := sent[mined+n]
		if !ok || !at.Before(sentBefore) {
			break
		}
		n++
	}
	return n
}

// gapNonces returns the nonces in [mined, highest] for which the relay holds
// no transaction and the node holds none either (at or past its pending
// nonce): nothing of anybody's can fill them, so every transaction above
// waits forever. The caller fills them, after the gap has lasted
// STUCK_TX_BLOCKS in two different blocks, with zero-value self-transfers.
func gapNonces(have map[uint64]bool, mined, pending uint64) []uint64 {
	var highest uint64
	found := false
	for n := range have {
		if n >= mined && (!found || n > highest) {
			highest, found = n, true
		}
	}
	if !found {
		return nil
	}
	var gaps []uint64
	for n := max(mined, pending); n < highest; n++ {
		if !have[n] {
			gaps = append(gaps, n)
		}
	}
	return gaps
}

// unknownNonces returns the nonces in [mined, pending) for which the relay
// holds no transaction: the node's pool holds a transaction of this wallet
// there that the journal does not know. That is what a Redis that lost its
// last writes leaves (AOF everysec, a restore, a failover to a lagging
// replica): the journal record and transactionHash are gone while the
// transaction waits in the pool. It may also be the old processor's, or an
// operator's.
func unknownNonces(have map[uint64]bool, mined, pending uint64) []uint64 {
	var out []uint64
	for n := mined; n < pending; n++ {
		if !have[n] {
			out = append(out, n)
		}
	}
	return out
}

// holdState is the submitting loop's memory of transactions in the node's
// pool at nonces the journal does not know (unknownNonces). While it holds,
// nothing new is signed: such a transaction may carry an application still
// pending in the stream, whose simulation passes until it is mined, and a
// second transaction signed for it would revert with SIGNATURE_USED. Heights
// are block numbers.
type holdState struct {
	// UpTo is one past the highest unknown nonce seen while holding; zero
	// when not holding. Once the mined nonce reaches it, each of them was
	// mined (by the unknown transaction or a replacement of it).
	UpTo uint64
	// Unknown is how many unknown nonces the last check found.
	Unknown uint64
	// Since is the head when the hold began.
	Since uint64
	// GoneAt is the head when the pool was first seen without them while
	// they were not all mined: dropped, or an answer from a backend that
	// does not see the pool (a load balancer). It must still hold at a
	// later head before the hold ends.
	GoneAt sighting
}

// Holding reports whether new submissions wait.
func (h holdState) Holding() bool { return h.UpTo != 0 }

// holdEvent is what a check changed, for the log.
type holdEvent int

const (
	holdUnchanged holdEvent = iota
	holdStarted             // unknown transactions found: submissions wait
	holdMined               // all of them mined: go on (their applications resolve as SIGNATURE_USED by our own transaction)
	holdDropped             // the pool no longer holds them, in two blocks: go on from the node's pending nonce
)

// nextHold decides, from one check of the wallet's nonces, whether new
// submissions still wait. There is no time limit: a transaction the pool
// keeps without mining it (its tip below what miners take) keeps the hold,
// which the log and the monitor report, because signing past it would risk
// the very second transaction the hold prevents. It ends when the pool no
// longer holds any unknown nonce and either the mined nonce passed them all,
// or they were dropped, seen on two checks in different blocks so that one
// lagging backend's answer does not end it.
func nextHold(h holdState, unknown []uint64, mined, head uint64) (holdState, holdEvent) {
	if len(unknown) > 0 {
		ev := holdUnchanged
		if !h.Holding() {
			h.Since, ev = head, holdStarted
		}
		h.UpTo = max(h.UpTo, unknown[len(unknown)-1]+1)
		h.Unknown, h.GoneAt = uint64(len(unknown)), 0
		return h, ev
	}
	switch {
	case !h.Holding():
		return holdState{}, holdUnchanged
	case mined >= h.UpTo:
		return holdState{}, holdMined
	case h.GoneAt == 0:
		h.Unknown, h.GoneAt = 0, h.GoneAt.note(head)
		return h, holdUnchanged
	case h.GoneAt.twoBlocks(head, 0):
		return holdState{}, holdDropped
	default:
		return h, holdUnchanged
	}
}
