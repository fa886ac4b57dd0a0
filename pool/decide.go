package pool

import (
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/stream"
)

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

// appFate is what the pool does with one application of a record it
// settles or hands on.
type appFate struct {
	App stream.RecordApp
	// SigHash is the application's claim key (keccak256 of its signature);
	// zero when the transaction could not be read, and the claim then
	// stays until it is stale.
	SigHash common.Hash
	// Confirm: the application is created; acknowledge its entry and
	// record its confirmation with ProcessID. Otherwise it is handed on:
	// its entry stays pending for a live key.
	Confirm   bool
	ProcessID common.Hash
}

// decideApps splits decideOrphan's action for a record into one fate for
// each application the record carries (rec.Applications(): none for a gap
// fill). sigs are the claim keys of those applications read from the
// transaction, in its order (nil when unreadable); pid is the process id a
// single application's receipt names; outcomes are the batch contract's
// events of a batch transaction's receipt (batch.Outcomes).
//
//	#  record                      application                                    fate
//	1  wait                        any                                            none: nothing is decided yet
//	2  hand on                     any                                            hand on
//	3  settle, single transaction  its one application                            confirm, with pid
//	4  settle, batch               ApplicationApplied at its own index            confirm, with the event's processId
//	5  settle, batch               ApplicationFailed, no event, another index,    hand on: a live key simulates it again and
//	                               or the calldata does not list the record's     decides; one the batch created reverts
//	                               applications                                   SIGNATURE_USED, which the pool resolves as its own success
//
// A batch that failed as a whole is not "settle" (decideOrphan hands it
// on): every application of it goes back.
func decideApps(act orphanAction, rec stream.TxRecord, sigs []common.Hash, pid common.Hash, outcomes map[common.Hash]batch.Outcome) []appFate {
	if act == orphanWait {
		return nil
	}
	apps := rec.Applications()
	known := len(sigs) == len(apps)
	out := make([]appFate, len(apps))
	for i, a := range apps {
		out[i].App = a
		if known {
			out[i].SigHash = sigs[i]
		}
		if act != orphanSettle {
			continue
		}
		if rec.Kind != stream.KindBatch {
			out[i].Confirm, out[i].ProcessID = true, pid
			continue
		}
		if !known {
			continue
		}
		if o, ok := outcomes[sigs[i]]; ok && o.Applied && o.Index == uint64(i) {
			out[i].Confirm, out[i].ProcessID = true, o.ProcessID
		}
	}
	return out
}
