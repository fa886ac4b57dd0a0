package pool

import "time"

// orphanAction is what the pool does with one record of a journal that no
// live process holds.
type orphanAction int

const (
	orphanWait   orphanAction = iota // nothing yet
	orphanSettle                     // mined, succeeded, deep: acknowledge the entry, forget the record
	orphanHandOn                     // the record can no longer complete: forget it, the entry goes back to the pool
)

func (a orphanAction) String() string {
	switch a {
	case orphanSettle:
		return "settle"
	case orphanHandOn:
		return "hand on"
	}
	return "wait"
}

// orphanPolicy holds the settings decideOrphan applies.
type orphanPolicy struct {
	Confirmations uint64        // CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS, >= 1
	HandOnAfter   time.Duration // ORPHAN_HANDOFF_AFTER: how long an unmined transaction of an orphaned key is waited for
}

// orphanObs is what one pass saw of one record.
type orphanObs struct {
	// Mined: a receipt of one of the record's hashes; Success its status,
	// Block its block.
	Mined   bool
	Success bool
	Block   uint64
	// Head is the chain head of the pass; MinedNonce the wallet's nonce at
	// head (every nonce below it is mined).
	Head       uint64
	MinedNonce uint64
	Nonce      uint64
	// LostSince is the head at which the record's nonce was first seen mined
	// with no receipt of its own (0: never).
	LostSince uint64
	// Orphaned is how long the key has been seen held by no live process.
	Orphaned time.Duration
}

// decideOrphan is the pool's decision for one record of an orphaned
// journal; it returns the action and the LostSince to remember. It never
// signs anything, so its only outcomes are to acknowledge what is done and
// to hand on what will not be done:
//
//	#  observation                                       action   why
//	1  receipt, success, deep                            settle   the application is created: confirmed by the pool
//	2  receipt, failed, deep                             hand on  a live key simulates it again and decides (requeue, dead letter, SIGNATURE_USED)
//	3  receipt, not deep                                 wait     counting confirmations
//	4  no receipt, nonce mined, first such pass          wait     a lagging backend may not show the receipt yet
//	5  no receipt, nonce mined, in a later block         hand on  another transaction took the nonce: ours can never be mined
//	6  no receipt, nonce unmined, orphaned >= HandOnAfter hand on  the signed bytes may never reach a block; a second transaction can only revert SIGNATURE_USED, which the pool resolves as its own success
//	7  otherwise                                         wait
//
// "Deep" is as in the relay: head + 1 >= block + confirmations.
func decideOrphan(p orphanPolicy, o orphanObs) (orphanAction, uint64) {
	conf := max(p.Confirmations, 1)
	switch {
	case o.Mined && o.Head+1 >= o.Block+conf && o.Success:
		return orphanSettle, 0
	case o.Mined && o.Head+1 >= o.Block+conf:
		return orphanHandOn, 0
	case o.Mined:
		return orphanWait, 0
	case o.Nonce < o.MinedNonce && o.LostSince == 0:
		return orphanWait, o.Head
	case o.Nonce < o.MinedNonce && o.Head > o.LostSince:
		return orphanHandOn, o.LostSince
	case o.Nonce < o.MinedNonce:
		return orphanWait, o.LostSince
	case o.Orphaned >= p.HandOnAfter:
		return orphanHandOn, 0
	}
	return orphanWait, 0
}
