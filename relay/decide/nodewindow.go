package decide

import (
	"time"
)

// NodeWindow is the relay's estimate of how many unmined transactions the
// node keeps for this wallet. geth keeps 16 per sender for sure (more while
// its pool has room), busy pools and hosted providers fewer or more, and none
// says when it drops one; so the estimate is learnt from what the node does.
type NodeWindow struct {
	Limit    uint64 // current estimate, 1..Max
	Max      uint64 // MAX_IN_FLIGHT
	GrownAt  uint64 // head of the last growth, at most one per block
	Observed uint64 // what the node held on the last pass, for the monitor
	// Mined is the wallet's mined nonce on the last pass; Passed tells that
	// there was one. A new wallet's mined nonce is 0, so Mined alone cannot
	// tell "no last pass" from "a last pass at nonce 0".
	Mined  uint64
	Passed bool
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

// InitialNodeWindow is where the estimate starts before the relay knows
// what a block holds: geth guarantees a sender 16 pending transactions. The
// first simulation then seeds it (StartNodeWindow), so the first block of a
// backlog is full on a node that keeps everything.
const InitialNodeWindow = 16

// StartNodeWindow is the node window a relay starts a backlog with, once
// its first simulations tell how much gas an application takes: two blocks'
// worth of applications (blockGas/gasPerApp, rounded up), the block being
// built and the next, so that a window refilled once per block (the
// tracker's pass follows the head) never leaves a block short. Within
// InitialNodeWindow..maxInFlight; InitialNodeWindow when either figure is
// unknown. Two blocks are shared by the keys that relay beside this one
// (keys, the process's PROCESSOR_ACCOUNT_INDEX; 0 or 1 is this key alone):
// each key starts with its share, so a backlog is spread over the keys
// instead of being signed by whichever read it first, which on a node that
// keeps 16 per sender would leave the last blocks to a few keys at 16
// each. A node that keeps fewer shows it at once (a refusal, or the drop
// seen on the next pass: NextNodeLimit), so the start costs one round of
// refused or dropped sends, not a block of slow start.
func StartNodeWindow(blockGas, gasPerApp, maxInFlight, keys uint64) uint64 {
	start := uint64(InitialNodeWindow)
	if blockGas > 0 && gasPerApp > 0 {
		twoBlocks, k := 2*((blockGas+gasPerApp-1)/gasPerApp), max(keys, 1)
		start = max(start, (twoBlocks+k-1)/k)
	}
	return max(1, min(start, maxInFlight))
}

// Seed raises the limit to start (StartNodeWindow) once per relay, before
// the node has shown a limit: a window that already learnt one keeps it.
// The seed is head's growth: the window grows again only once a block has
// shown what the node does with it (a strict node drops or refuses), not
// on the next pass merely because the backlog waits.
func (w NodeWindow) Seed(start, head uint64) NodeWindow {
	if w.Seeded {
		return w
	}
	w.Seeded = true
	if !w.Learnt && start > w.Limit {
		w.Limit, w.GrownAt = min(start, w.Max), head
	}
	return w
}

// FirstNonces notes the wallet's mined nonce read before its first send
// (the check of the pool for transactions the journal does not know) as the
// last pass's, when no pass has read one yet. The tracker's first pass then
// follows the first block, which has mined some of what was sent: without a
// mined nonce to count from, the node would seem to keep only what that
// block left (3 of a geth pool's 16 after a block took 13), and the window
// would shrink to it and starve the next blocks.
func (w NodeWindow) FirstNonces(mined uint64) NodeWindow {
	if !w.Passed {
		w.Mined, w.Passed = mined, true
	}
	return w
}

// RefusedAt notes that the node refused our transaction at nonce because it
// keeps no more of ours: it holds the nonces below, so the limit is at most
// their count. A pool that refuses outright (geth with a full pool) shows
// its limit here; one that accepts and drops later shows it in the pending
// nonce (NextNodeLimit).
func (w NodeWindow) RefusedAt(nonce uint64) NodeWindow {
	w.Refused, w.Learnt = true, true
	if nonce >= w.Mined {
		w.Limit = max(1, min(w.Limit, nonce-w.Mined))
	}
	return w
}

// NextNodeLimit updates the estimate after a pass's nonces. held is how many
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
//     the seed (StartNodeWindow) has not yet seen what the node keeps.
func NextNodeLimit(w NodeWindow, head, mined, held, expected uint64) NodeWindow {
	before, passed := w.Mined, w.Passed
	w.Observed, w.Mined, w.Passed = held, mined, true
	kept := held
	switch {
	case held == 0 && passed && mined > before && mined-before < w.Limit:
		kept = mined - before // mined since the last pass, and nothing more held
	case held > 0 && passed && mined > before:
		kept = min(w.Limit, held+mined-before) // held beside those mined since the last pass
	}
	switch {
	case held > 0 && held < expected || held == 0 && kept > 0 && expected > 0:
		if kept < w.Limit && w.Limit > InitialNodeWindow {
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

// ExpectedHeld counts the consecutive nonces from mined for which the relay
// has a signed, unmined transaction that was sent before sentBefore, up to
// limit: what an honest node that keeps limit transactions must be holding.
func ExpectedHeld(sent map[uint64]time.Time, mined, limit uint64, sentBefore time.Time) uint64 {
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

// GapNonces returns the nonces in [mined, highest] for which the relay holds
// no transaction and the node holds none either (at or past its pending
// nonce): nothing of anybody's can fill them, so every transaction above
// waits forever. The caller fills them, after the gap has lasted
// STUCK_TX_BLOCKS in two different blocks, with zero-value self-transfers.
func GapNonces(have map[uint64]bool, mined, pending uint64) []uint64 {
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

// UnknownNonces returns the nonces in [mined, pending) for which the relay
// holds no transaction: the node's pool holds a transaction of this wallet
// there that the journal does not know. That is what a Redis that lost its
// last writes leaves (AOF everysec, a restore, a failover to a lagging
// replica): the journal record and transactionHash are gone while the
// transaction waits in the pool. It may also be the old processor's, or an
// operator's.
func UnknownNonces(have map[uint64]bool, mined, pending uint64) []uint64 {
	var out []uint64
	for n := mined; n < pending; n++ {
		if !have[n] {
			out = append(out, n)
		}
	}
	return out
}
