package relay

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/stream"
)

// A batch transaction is one transaction to the lifecycle: journaled with
// every application it carries before it is broadcast, bumped, replaced,
// re-broadcast and adopted as one (decide knows nothing of batches). Only
// once it is mined, successful and deep does each application meet its own
// fate, read from the batch contract's event naming it (batchFate); a batch
// that reverted as a whole puts every application back (finishReverted).

// fate is what becomes of one application of a deep, successful batch
// transaction.
type fate int

const (
	// fateConfirmed: applied; recorded, acknowledged and its claim released.
	fateConfirmed fate = iota
	// fateRequeue: back in the queue, simulated again, without counting a
	// revert (its signature was used: the simulation looks the earlier use
	// up; its event is missing: nothing is known).
	fateRequeue
	// fateCounted: a cause that can pass (the product paused, out of its
	// gas limit): counted as a transient revert of the application, then
	// requeued, or dead-lettered past MAX_TRANSIENT_REVERTS (countedFate).
	fateCounted
	// fateDeadLetter: a final revert, dead-lettered with its reason.
	fateDeadLetter
)

// outcomeSeen is what a batch receipt says of one application.
type outcomeSeen struct {
	Found    bool // the receipt has an event naming the application
	Applied  bool
	OutOfGas bool // failed without revert data: out of its own gas limit
	Class    chain.RevertClass
	// Replayed: a revert the table does not know was replayed on the
	// block's state without a gas limit, and it passed (a sub-call short of
	// gas leaves its caller a reason it cannot name; causeOf does the same
	// for a transaction of one application).
	Replayed bool
}

// batchFate decides an application's fate from its event; requeue is the
// metric label of a cause that sends it back (stream.Requeue*).
func batchFate(o outcomeSeen) (f fate, requeue string) {
	switch {
	case !o.Found:
		// A successful batch names every application it carried; a receipt
		// without this one's event was not the batch that carried it (a
		// lagging or broken node). Nothing was learnt: try again.
		return fateRequeue, stream.RequeueBatchFailed
	case o.Applied:
		return fateConfirmed, ""
	case o.OutOfGas:
		return fateCounted, stream.RequeueOutOfGas
	case o.Class == chain.RevertSignatureUsed:
		return fateRequeue, stream.RequeueSignatureUsed
	case o.Class == chain.RevertUnknown && o.Replayed:
		return fateCounted, stream.RequeuePassesNow
	case !o.Class.Final():
		return fateCounted, stream.RequeueProductInactive
	default:
		return fateDeadLetter, ""
	}
}

// countedFate is a counted cause's fate once counted: as for a single
// transaction's revert (decide, decide.OnCause), requeued until the count passes
// MAX_TRANSIENT_REVERTS, then dead-lettered.
func countedFate(count, maxReverts int64) fate {
	if count > maxReverts {
		return fateDeadLetter
	}
	return fateRequeue
}

// batchOutcomes reads the per-application outcomes of a flight's receipt
// when they decide its applications' fates: a batch transaction of ours (its
// contract is the transaction's recipient, whatever the configuration says
// now), or an adopted transaction that turns out to be a batch naming the
// application. ok is false for a transaction of one application.
func (r *core) batchOutcomes(f *flight, rcpt *types.Receipt) (map[common.Hash]batch.Outcome, bool) {
	var contract common.Address
	switch {
	case f.batched() && f.tx != nil && f.tx.To() != nil:
		contract = *f.tx.To()
	case r.cfg.Batch != nil && len(f.apps) > 0:
		contract = r.cfg.Batch.Contract
	default:
		return nil, false
	}
	outs := batch.Outcomes(contract, rcpt)
	if f.batched() {
		return outs, true
	}
	for _, a := range f.apps {
		if _, ok := outs[a.sigHash]; ok {
			return outs, true
		}
	}
	return nil, false
}

// settleBatch settles each application of a deep, successful batch
// transaction by its event: the applied ones are recorded and acknowledged,
// the final failures dead-lettered with their reasons, the rest put back in
// the queue; then the record is forgotten. Each step is idempotent or
// remembered on the application (carried.settled, carried.reverts), so a
// Redis failure only makes the next pass go on where this one stopped; a
// crash repeats the steps whose marks were lost, and an application whose
// hash is already gone was settled before it.
func (r *tracker) settleBatch(ctx context.Context, cf confirmation, outs map[common.Hash]batch.Outcome) {
	f, rcpt := cf.f, cf.rcpt
	log := f.log.With().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Logger()
	type verdict struct {
		a      *carried
		fate   fate
		cause  string
		out    batch.Outcome
		reason string
	}
	var vs []verdict
	for _, a := range f.apps {
		if a.settled {
			continue
		}
		o, found := outs[a.sigHash]
		seen := outcomeSeen{Found: found, Applied: o.Applied, OutOfGas: o.OutOfGas(), Class: o.Class()}
		if found && !o.Applied && !o.OutOfGas() && seen.Class == chain.RevertUnknown {
			passes, err := r.replayInBatch(ctx, f, o.Index, rcpt)
			if err != nil {
				log.Warn().Err(err).Msg("replay of a failed application of a batch failed, will retry")
				return
			}
			seen.Replayed = passes
		}
		fa, cause := batchFate(seen)
		reason := o.Reason
		if o.OutOfGas() {
			reason = "out of gas"
		}
		if fa == fateCounted {
			if a.reverts == 0 {
				n, err := r.queue.CountRevert(ctx, a.entityID)
				if err != nil {
					r.metrics.RedisError("count_revert")
					log.Warn().Err(err).Msg("count transient revert failed, will retry")
					return
				}
				a.reverts = n
			}
			fa = countedFate(a.reverts, int64(r.cfg.MaxTransientReverts))
			if fa == fateDeadLetter {
				reason = fmt.Sprintf("reverted on chain %d times, last: %s", a.reverts, reason)
			}
		}
		vs = append(vs, verdict{a: a, fate: fa, cause: cause, out: o, reason: reason})
	}

	var confs []stream.Confirmation
	var acks []stream.Settled
	var dead []verdict
	for _, v := range vs {
		switch v.fate {
		case fateConfirmed:
			confs = append(confs, stream.Confirmation{EntityID: v.a.entityID, EntryID: v.a.entryID,
				TxHash: rcpt.TxHash, Block: rcpt.BlockNumber.Uint64(), ProcessID: v.out.ProcessID,
				BatchIndex: int(v.out.Index), BatchSize: len(outs)})
			acks = append(acks, stream.Settled{EntryID: v.a.entryID, EntityID: v.a.entityID})
		case fateDeadLetter:
			dead = append(dead, v)
		}
	}
	if len(confs) > 0 && !r.confirmAndAck(ctx, confs, acks, log) {
		return
	}
	now := r.clock.Now()
	// The batch's gas is counted once: with its first confirmed
	// application, or as wasted when none was applied.
	paid := gasPaid(rcpt)
	if !f.reportedRevert && len(confs) == 0 && f.st.Signed {
		r.metrics.RevertedOnChain(now, paid)
	}
	f.reportedRevert = true
	var done []*carried
	for _, v := range vs {
		if v.fate == fateConfirmed {
			v.a.settled = true
			done = append(done, v.a)
			r.metrics.Confirmed(v.a.enqueuedAt, now, paid)
			paid = new(big.Int)
		}
	}
	if len(dead) > 0 {
		ids := make([]string, len(dead))
		for i, v := range dead {
			ids[i] = v.a.entityID
		}
		loaded, loadErrs, err := r.queue.LoadApplications(ctx, ids)
		if err != nil {
			r.metrics.RedisError("load")
			log.Warn().Err(err).Msg("load failed applications of a batch failed, will retry")
			return
		}
		for i, v := range dead {
			if loaded[i] == nil && loadErrs[i] == nil {
				// The hash is gone: its dead letter was written before a
				// crash, which purged it.
				v.a.settled = true
				continue
			}
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: v.a.entryID, EntityID: v.a.entityID,
				Class: stream.ClassReverted, TxHash: rcpt.TxHash.Hex(), Fields: loaded[i],
				BatchIndex: int(v.out.Index), BatchSize: len(outs),
				Reason: fmt.Sprintf("reverted in batch transaction (application %d of %d): %s", v.out.Index+1, len(outs), v.reason)}); err != nil {
				log.Warn().Err(err).Msg("dead-letter of a failed application of a batch failed, will retry")
				return
			}
			v.a.settled = true
			done = append(done, v.a)
		}
	}
	r.releaseOwners(ctx, done...)
	// The record goes before the flight: while it stays, the flight stays,
	// and its requeued applications wait with it. Released first, they
	// could be journaled again under a new nonce while the old record
	// still names them, and a restart would resume both.
	forget := r.resurrected([]confirmation{cf})
	if f.st.Signed {
		forget = append(forget, f.rec.Nonce)
	}
	if len(forget) > 0 {
		if err := r.queue.Forget(ctx, forget...); err != nil {
			r.metrics.RedisError("forget")
			log.Warn().Err(err).Msg("forget journal record failed, will retry")
			return
		}
	}
	requeued := map[string]bool{}
	for _, v := range vs {
		if v.fate == fateRequeue {
			requeued[v.a.entryID] = true
			r.metrics.RevertRequeued(v.cause)
		}
	}
	if f.st.Signed {
		r.metrics.Carried(len(f.apps), rcpt.GasUsed)
	}
	log.Info().Int("applications", len(f.apps)).Int("confirmed", len(confs)).Int("dead_lettered", len(dead)).
		Int("requeued", len(requeued)).Uint64("gas_used", rcpt.GasUsed).Msg("batch settled")
	r.releaseSome(f, requeued)
}

// replayInBatch replays application index of a batch's product call on the
// state after the batch's block, from the batch contract and without a gas
// limit: whether it passes now. An adopted flight has no bytes of ours to
// replay: it reports false (the revert stays final).
func (r *tracker) replayInBatch(ctx context.Context, f *flight, index uint64, rcpt *types.Receipt) (bool, error) {
	if f.tx == nil || f.tx.To() == nil {
		return false, nil
	}
	apps, _, err := batch.Decode(f.tx.Data())
	if err != nil || index >= uint64(len(apps)) {
		return false, nil
	}
	call, err := r.product.Apply(apps[index])
	if err != nil {
		return false, nil
	}
	c, cancel := r.rpcCtx(ctx)
	_, err = r.chain.CallContract(c, call.Msg(*f.tx.To()), rcpt.BlockNumber)
	cancel()
	switch {
	case err == nil:
		return true, nil
	case chain.AsRevert(err) != nil:
		return false, nil
	default:
		r.metrics.RPCError("call")
		return false, fmt.Errorf("replay application %d of a batch: %w", index, err)
	}
}
