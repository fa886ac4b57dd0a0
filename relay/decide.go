package relay

import (
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// This file holds the tracker's decisions as pure functions: given what the
// relay remembers of a flight and what the node said on this pass, what to do.
// trackOnce only gathers the observations and carries the actions out. The
// lifecycle they implement is drawn in docs/design.md ("Transaction
// lifecycle").

// action is what the tracker does with one flight after a pass.
type action int

const (
	// actWait: nothing to do on this pass (pending in the node, waiting for
	// confirmations, or waiting its turn beyond what the node keeps).
	actWait action = iota
	// actConfirm: mined, successful, and deep enough: acknowledge.
	actConfirm
	// actReverted: mined, reverted, and deep enough: classify the reason
	// (final, transient, or SIGNATURE_USED to resolve).
	actReverted
	// actResend: the node does not hold the transaction (dropped from its
	// pool, or its block left the chain): send the same bytes now.
	actResend
	// actRebroadcast: held but not mined for REBROADCAST_INTERVAL: send the
	// same bytes again, for a node that forgot it without saying so.
	actRebroadcast
	// actReplace: stuck on its fees: replace it at the same nonce with
	// dearer fees, or wait at MAX_FEE_PER_GAS if the rule leaves no room.
	actReplace
	// actLost: its nonce was mined, on two passes in different blocks, and
	// no hash of ours has a receipt: a transaction not ours took the nonce.
	actLost
)

var actionNames = [...]string{"wait", "confirm", "reverted", "resend", "rebroadcast", "replace", "lost"}

func (a action) String() string { return actionNames[a] }

// flightState is the tracker's memory of one flight between passes; decide
// reads it and returns the next one. Heights are block numbers; 0 means
// "not yet".
type flightState struct {
	Nonce uint64
	// Signed: the relay holds the signed bytes (journaled). False for a
	// transaction adopted from an application's transactionHash, of which
	// only the receipt matters.
	Signed bool
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
	// LostSince is the head when the nonce was first seen mined with no
	// receipt of ours.
	LostSince uint64
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

// observation is what one tracker pass learned from the node, for one
// flight (Looked, Receipt) and for the whole wallet (the rest).
type observation struct {
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

// decide is the per-flight state machine (docs/design.md, "Transaction
// lifecycle"). It never does I/O; the tracker carries out the action.
func decide(p policy, s flightState, o observation) (action, flightState) {
	if o.Receipt != nil {
		s.MinedIn, s.MinedHash, s.LostSince = o.Receipt.Block, o.Receipt.BlockHash, 0
		switch {
		case !p.deep(o.Head, o.Receipt.Block):
			return actWait, s
		case o.Receipt.Success:
			return actConfirm, s
		default:
			return actReverted, s
		}
	}
	if s.MinedIn != 0 && !o.Looked {
		return actWait, s // mined, confirmations not due yet
	}
	reorged := s.MinedIn != 0 // looked, and the receipt is gone
	s.MinedIn, s.MinedHash = 0, common.Hash{}
	if !s.Signed {
		// Adopted: nothing to send. Its receipt was there when it was
		// adopted; gone (a reorg took it, or a backend lags) it may come
		// back. Gone for STUCK_TX_BLOCKS, seen in two blocks, the
		// application goes back to the queue: if the old transaction is
		// mined after all, the new one reverts with SIGNATURE_USED, which
		// is resolved as ours.
		switch {
		case !o.Looked:
		case s.LostSince == 0:
			s.LostSince = o.Head
		case o.Head > s.LostSince && o.Head >= s.LostSince+p.StuckBlocks:
			return actLost, s
		}
		return actWait, s
	}
	if s.Nonce < o.Mined {
		// Nonce mined, but no receipt of ours. Behind a load balancer the
		// nonce and the receipts may come from backends at different
		// heights: decide only when it holds in two different blocks.
		switch {
		case s.LostSince == 0:
			s.LostSince = o.Head
		case o.Head > s.LostSince:
			return actLost, s
		}
		return actWait, s
	}
	s.LostSince = 0
	if reorged {
		return actResend, s
	}
	if s.SentAtBlock == 0 {
		s.SentAtBlock = o.Head
	}
	lowest := s.Nonce == o.Mined
	if !lowest {
		s.LowestSince = 0
	} else if s.LowestSince == 0 {
		s.LowestSince = o.Head
	}
	inWindow := s.Nonce < o.Mined+o.NodeLimit
	if !inWindow {
		return actWait, s // the node would drop it again: it waits its turn
	}
	canReplace := o.Head > s.ReplacedAt
	if o.BaseFee != nil && s.FeeCap != nil && s.FeeCap.Cmp(o.BaseFee) < 0 && canReplace {
		// The base fee overtook the fee cap: it cannot be included as it is,
		// held or not.
		s.ReplacedAt = o.Head
		return actReplace, s
	}
	if lowest && o.Head >= max(s.SentAtBlock, s.LowestSince)+p.StuckBlocks && canReplace {
		// The next nonce to be mined has not been for STUCK_TX_BLOCKS, held
		// or not: its fees are too low for the miners, or for the node to
		// keep it (a node's minimum tip).
		s.ReplacedAt = o.Head
		return actReplace, s
	}
	held := s.Nonce < o.Pending
	if !held {
		if o.Now.Sub(s.LastSent) >= p.ResendAfter {
			return actResend, s
		}
		return actWait, s
	}
	if o.Now.Sub(s.LastSent) >= p.RebroadcastInterval {
		return actRebroadcast, s
	}
	return actWait, s
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
}

// ceilingBlocks is how long a learnt ceiling holds probes back: long enough
// to keep a steady window steady, short enough to find room that opens
// later (a pool that empties).
const ceilingBlocks = 64

// initialNodeWindow is where the estimate starts: geth guarantees a sender
// 16 pending transactions, and a fresh relay that sent MAX_IN_FLIGHT at once
// would have a strict node drop most of them, and then the relay would
// spend blocks re-sending them (BENCHMARKS.md, "A pool of keys"). Doubling
// per block reaches 512 from here in five blocks on a node that keeps them.
const initialNodeWindow = 16

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
//     what it held, so the rest wait their turn instead of being re-sent
//     into a pool that drops them again. The first drop ends the slow
//     start.
//   - held == 0 with flights expected: either the pool evicted all of them or
//     this backend does not see the pool (a load balancer sending reads and
//     writes to different nodes). Nothing is learnt: the flights are re-sent.
//   - the node held all we allowed, or the window kept applications back
//     while the node refused nothing: probe one step higher (a quarter, at
//     least one), at most once per block, so a node that takes more is
//     filled again without a storm of re-sends into one that does not.
//     Before the node ever dropped or refused one (the slow start), double
//     on every pass instead: a node that keeps everything is filled within
//     a few passes, and one that does not shows it by dropping, once.
func nextNodeLimit(w nodeWindow, head, mined, held, expected uint64) nodeWindow {
	w.Observed, w.Mined = held, mined
	switch {
	case held > 0 && held < expected:
		if w.Limit > initialNodeWindow {
			// Only an edge above geth's guarantee is a ceiling: a drop below
			// it is pressure that passes (or a stricter node, which the
			// limit itself tracks).
			w.Ceiling, w.CeilingAt = w.Limit, head
		}
		w.Limit, w.Learnt = held, true
	case (held >= w.Limit || w.Bound) && !w.Refused && w.Limit < w.Max && (head > w.GrownAt || !w.Learnt):
		step := max(1, w.Limit/4)
		if !w.Learnt {
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
	GoneAt uint64
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
		h.Unknown, h.GoneAt = 0, head
		return h, holdUnchanged
	case head > h.GoneAt:
		return holdState{}, holdDropped
	default:
		return h, holdUnchanged
	}
}
