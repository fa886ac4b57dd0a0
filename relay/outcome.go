package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// revertCause is what a mined revert means for its application.
type revertCause struct {
	reason string
	class  chain.RevertClass
	// requeue is set for a cause that can pass (the product paused, out of
	// gas, a call that no longer reverts): the application goes back to the
	// queue. It holds the metric label of the cause.
	requeue string
}

// causeOf replays a reverted transaction's call on the state after its
// block to learn why it reverted (receipts carry no reason). The replay sees
// what the transactions before ours did, e.g. the same signature used earlier
// in the block. An error means the node could not answer: decide later.
func (r *tracker) causeOf(ctx context.Context, f *flight, rcpt *types.Receipt) (revertCause, error) {
	if rcpt.GasUsed >= f.tx.Gas() {
		return revertCause{reason: "out of gas", requeue: stream.RequeueOutOfGas}, nil
	}
	call := chain.Call{To: *f.tx.To(), Data: f.tx.Data()}
	msg := call.Msg(r.signer.Address())
	msg.Gas = f.tx.Gas() // with the transaction's own gas: an out-of-gas in a sub-call must show
	c, cancel := r.rpcCtx(ctx)
	_, err := r.chain.CallContract(c, msg, rcpt.BlockNumber)
	cancel()
	if err == nil {
		return revertCause{reason: "reason unknown, the call passes when replayed", requeue: stream.RequeuePassesNow}, nil
	}
	rev := chain.AsRevert(err)
	if rev == nil {
		r.metrics.RPCError("call")
		return revertCause{}, fmt.Errorf("replay reverted transaction: %w", err)
	}
	if rev.Class == chain.RevertUnknown {
		// A sub-call that ran out of gas (the message helper's check)
		// leaves its caller a 64th of the gas (EIP-150), so the receipt
		// shows less used than the limit, and the caller's revert carries
		// no reason. Given the gas it needs, such a call passes: the
		// transaction was short of gas (an estimate from a node behind the
		// head, state that changed since), a cause that can pass.
		msg.Gas = 0
		c, cancel := r.rpcCtx(ctx)
		_, err := r.chain.CallContract(c, msg, rcpt.BlockNumber)
		cancel()
		if err == nil {
			return revertCause{reason: "out of gas in a sub-call", requeue: stream.RequeueOutOfGas}, nil
		}
		if chain.AsRevert(err) == nil {
			r.metrics.RPCError("call")
			return revertCause{}, fmt.Errorf("replay reverted transaction without its gas limit: %w", err)
		}
	}
	cause := revertCause{reason: rev.Reason, class: rev.Class}
	if rev.Class == chain.RevertProductInactive {
		cause.requeue = stream.RequeueProductInactive
	}
	return cause, nil
}

// outcome is a flight a pass decided is mined, reverted and deep, with
// what decide said first: find the cause (decide.Reverted), or, for a gap fill
// or an adopted transaction, settle it at once.
type outcome struct {
	f    *flight
	rcpt *types.Receipt
	act  decide.Action
}

// finishReverted settles an application whose transaction was mined and
// reverted, once it has the required confirmations (invariant 6;
// docs/design.md, "Mined reverts: three outcomes"). It gathers the cause
// (the replay, the transient revert count, the signature's earlier use),
// lets decide name the outcome (decide.OnCause), and carries it out:
//   - a cause that can pass puts the application back in the queue, where it
//     is simulated again and gets a new transaction once the cause cleared;
//     after MAX_TRANSIENT_REVERTS such reverts it is dead-lettered;
//   - SIGNATURE_USED is success if a transaction of ours applied this
//     signature (the application is then tracked under that transaction),
//     and final otherwise, once two blocks' searches agree;
//   - anything else is final: dead-lettered with the reason and a copy of the
//     application.
//
// On any Redis or RPC failure it returns and the next pass decides again.
func (r *tracker) finishReverted(ctx context.Context, oc outcome, o decide.Observation) {
	f, rcpt, act := oc.f, oc.rcpt, oc.act
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	log := f.log.With().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Logger()
	if f.batched() && act == decide.Reverted {
		// The batch failed as a whole (out of gas, the contract's own
		// guard): no application of it was applied, every one goes back to
		// the queue and is simulated again. Its applications' own reverts
		// never land here: the contract catches them (batchFate).
		if !f.reportedRevert {
			f.reportedRevert = true
			r.metrics.RevertedOnChain(r.clock.Now(), gasPaid(rcpt))
		}
		for range f.apps {
			r.metrics.RevertRequeued(stream.RequeueBatchFailed)
		}
		log.Warn().Int("applications", len(f.apps)).Msg("batch transaction reverted as a whole, its applications back in the queue")
		r.forgetAndRelease(c, f, true, log)
		return
	}
	var cause revertCause
	var applied, foreign *common.Hash
	if act == decide.Reverted {
		var err error
		if cause, err = r.causeOf(c, f, rcpt); err != nil {
			log.Warn().Err(err).Msg("reverted transaction's cause unknown, will retry")
			return
		}
		if !f.reportedRevert {
			f.reportedRevert = true
			r.metrics.RevertedOnChain(r.clock.Now(), gasPaid(rcpt))
		}
		log = log.With().Str("reason", cause.reason).Logger()
		seen := decide.Cause{SignatureUsed: cause.class == chain.RevertSignatureUsed, CanPass: cause.requeue != ""}
		switch {
		case seen.SignatureUsed:
			// The search has its own deadline per call (it may take many),
			// not the outcome's.
			if applied, foreign, err = r.appliedBy(context.WithoutCancel(ctx), f.app().signature, rcpt.BlockNumber.Uint64()); err != nil {
				log.Warn().Err(err).Msg("look-up of the signature's earlier use failed, will retry")
				return
			}
			seen.AppliedByUs = applied != nil
		case seen.CanPass:
			// Counted once per flight, however many passes the outcome takes
			// (a failed Forget repeats it); a kill -9 in between may count
			// it twice, which only dead-letters one revert early.
			if seen.Count = r.w.state(f).Reverts; seen.Count == 0 {
				if seen.Count, err = r.queue.CountRevert(c, f.app().entityID); err != nil {
					r.metrics.RedisError("count_revert")
					log.Warn().Err(err).Msg("count transient revert failed, will retry")
					return
				}
			}
		}
		o.Event, o.Cause = decide.OnCause, seen
		act, _ = r.step(f, o)
	}
	st := r.w.state(f)
	switch act {
	case decide.Wait:
	case decide.Forget:
		// A self-transfer cannot revert; whatever happened, the nonce is
		// used. Or the application's hash is gone: the entry was settled
		// already (a crash after its dead letter, before the record went).
		r.forgetAndRelease(c, f, false, log)
	case decide.Requeue:
		if !st.Signed {
			// Adopted: it was a success when adopted, so a reorg re-mined it
			// reverted. Its call is not ours to replay; in the queue,
			// simulation decides again (and a SIGNATURE_USED there is looked
			// up like any other).
			log.Warn().Msg("adopted transaction reverted after a reorg, application back in the queue")
		} else {
			r.metrics.RevertRequeued(cause.requeue)
			log.Warn().Int64("reverts", st.Reverts).Int("max_reverts", r.cfg.MaxTransientReverts).
				Msg("transaction reverted for a cause that can pass, application back in the queue")
		}
		r.forgetAndRelease(c, f, true, log)
	case decide.Adopt:
		log.Info().Str("applied_by", applied.Hex()).Msg("signature already applied by a transaction of ours: success")
		r.swapToAdopted(c, f, *applied)
	case decide.DeadLetter:
		reason := "reverted on chain: " + cause.reason
		switch {
		case cause.class == chain.RevertSignatureUsed && foreign != nil:
			reason += " (applied by transaction " + foreign.Hex() + ", not ours)"
		case cause.requeue != "":
			reason = fmt.Sprintf("reverted on chain %d times, last: %s", st.Reverts, cause.reason)
		}
		r.rejectReverted(c, f, rcpt, reason, log)
	}
}

// rejectReverted dead-letters a reverted application with a copy of what the
// user signed (the hash is purged next), then forgets its journal record.
func (r *tracker) rejectReverted(ctx context.Context, f *flight, rcpt *types.Receipt, reason string, log zerolog.Logger) {
	loaded, loadErrs, err := r.queue.LoadApplications(ctx, []string{f.app().entityID})
	if err != nil {
		r.metrics.RedisError("load")
		log.Warn().Err(err).Msg("load reverted application failed, will retry")
		return
	}
	if loadErrs[0] != nil {
		// The key was replaced by something that is not a hash: there is
		// nothing to copy, the rejection itself must still be recorded.
		log.Warn().Err(loadErrs[0]).Msg("reverted application unreadable, dead-lettering without a copy")
	}
	if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: f.app().entryID, EntityID: f.app().entityID,
		Class: stream.ClassReverted, Reason: reason, TxHash: rcpt.TxHash.Hex(), Fields: loaded[0]}); err != nil {
		log.Warn().Err(err).Msg("dead-letter of reverted transaction failed, will retry")
		return
	}
	r.releaseOwners(ctx, f.app())
	r.forgetAndRelease(ctx, f, false, log)
}

// forgetAndRelease forgets a flight's journal record and removes it from the
// window; requeue sends its application back to the queue. The record goes
// first: if that fails the flight stays, and the next pass decides again.
func (r *tracker) forgetAndRelease(ctx context.Context, f *flight, requeue bool, log zerolog.Logger) {
	if f.st.Signed {
		if err := r.queue.Forget(ctx, f.rec.Nonce); err != nil {
			r.metrics.RedisError("forget")
			log.Warn().Err(err).Msg("forget journal record failed, will retry")
			return
		}
	}
	r.release(f, requeue)
}

// signatureLookupChunk is how many blocks one eth_getLogs call of
// appliedBy spans; providers commonly refuse ranges much wider.
const signatureLookupChunk = 1000

// appliedBy looks for the transaction that applied signature: the product's
// creation events in the SIGNATURE_LOOKBACK_BLOCKS blocks up to upTo, newest
// first, each checked by its transaction's input (the product call carrying
// this very signature). ours is set if that transaction came from a wallet
// of the pool (this relay's, any key registered on the stream, a legacy
// wallet the operator named), foreign if from anyone else; both nil if none was found in
// the range.
func (r *core) appliedBy(ctx context.Context, signature []byte, upTo uint64) (ours, foreign *common.Hash, err error) {
	lowest := upTo - min(upTo, r.cfg.SignatureLookback)
	var members map[common.Address]bool // the pool's wallets, read once if needed
	for to := upTo; ; {
		from := max(lowest, to-min(to, signatureLookupChunk-1))
		c, cancel := r.rpcCtx(ctx)
		logs, err := r.chain.FilterLogs(c, r.product.CreatedQuery(from, to))
		cancel()
		if err != nil {
			r.metrics.RPCError("logs")
			return nil, nil, fmt.Errorf("read creation events %d-%d: %w", from, to, err)
		}
		var hashes []common.Hash
		// viaBatch: named applied by the batch contract's own event. A batch
		// also shows in the product's events when another of its
		// applications was created, so carrying the signature proves
		// nothing there.
		seen, viaBatch := map[common.Hash]bool{}, map[common.Hash]bool{}
		if b := r.cfg.Batch; b != nil {
			// A batch of ours names each application it applied; the
			// product's events alone cannot tell which of a batch's
			// applications were created.
			c, cancel := r.rpcCtx(ctx)
			applied, err := r.chain.FilterLogs(c, batch.AppliedQuery(b.Contract, crypto.Keccak256Hash(signature), from, to))
			cancel()
			if err != nil {
				r.metrics.RPCError("logs")
				return nil, nil, fmt.Errorf("read batch events %d-%d: %w", from, to, err)
			}
			for i := len(applied) - 1; i >= 0; i-- {
				if h := applied[i].TxHash; !seen[h] {
					seen[h], viaBatch[h] = true, true
					hashes = append(hashes, h)
				}
			}
		}
		for i := len(logs) - 1; i >= 0; i-- {
			if h := logs[i].TxHash; !seen[h] {
				seen[h] = true
				hashes = append(hashes, h)
			}
		}
		if len(hashes) > 0 {
			c, cancel := r.rpcCtx(ctx)
			txs, err := r.chain.TransactionsByHash(c, hashes)
			cancel()
			if err != nil {
				r.metrics.RPCError("transactions")
				return nil, nil, fmt.Errorf("read transactions of creation events: %w", err)
			}
			for i, tx := range txs {
				if !r.product.Carries(tx, signature) && !(viaBatch[hashes[i]] && r.batchCarries(tx, signature)) {
					continue
				}
				h := hashes[i]
				from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
				if err != nil {
					return nil, &h, nil
				}
				ours, err := r.ours(ctx, from, &members)
				if err != nil {
					return nil, nil, fmt.Errorf("read the pool's wallets: %w", err)
				}
				if ours {
					return &h, nil, nil
				}
				return nil, &h, nil
			}
		}
		if from <= lowest {
			return nil, nil, nil
		}
		to = from - 1
	}
}

// swapToAdopted replaces a flight whose own transaction reverted with
// SIGNATURE_USED by one tracking the transaction of ours that did apply the
// signature, in one step under the lock so the application is never out of
// the window; then the reverted transaction's record is forgotten.
func (r *tracker) swapToAdopted(ctx context.Context, f *flight, applied common.Hash) {
	r.w.swap(f, r.adopted(f.app(), applied, f.baseLog))
	if err := r.queue.Forget(ctx, f.rec.Nonce); err != nil {
		r.metrics.RedisError("forget")
		f.log.Warn().Err(err).Msg("forget journal record failed, will retry")
		r.unforgotten = append(r.unforgotten, f.rec.Nonce) // mined (reverted): the field is never reused
	}
}

// adopted is a flight that only waits for the receipt of a transaction that
// applied app, sent by us earlier (the old processor, a lost journal record).
func (r *core) adopted(app *carried, hash common.Hash, base zerolog.Logger) *flight {
	return &flight{
		rec:     stream.TxRecord{EntryID: app.entryID, EntityID: app.entityID, Hashes: []string{hash.Hex()}, EnqueuedAt: app.enqueuedAt},
		st:      decide.State{Phase: decide.PhaseAdopted, LastSent: r.clock.Now()},
		apps:    []*carried{app},
		baseLog: base,
		log:     base.With().Str("tx", hash.Hex()).Logger(),
	}
}

// adopt handles an application whose hash already names a transaction that
// this relay's journal does not hold (the old processor, or a journal record
// lost with Redis). If that transaction applied this very application (its
// input is the product call with this signature, and it succeeded), the entry
// is tracked to confirmation instead of being submitted again. Any other hash
// (another application's transaction, a failed one, garbage) is foreign: the
// application is simulated as if it had none.
func (r *submitter) adopt(ctx context.Context, app *carried, txHash common.Hash, log zerolog.Logger) (bool, error) {
	c, cancel := r.rpcCtx(ctx)
	rcpt, err := r.chain.TransactionReceipt(c, txHash)
	cancel()
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		r.metrics.RPCError("receipt")
		return false, fmt.Errorf("look up recorded transaction %s: %w", txHash.Hex(), err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful || !r.product.ApplicationCreated(rcpt) {
		return false, nil
	}
	c, cancel = r.rpcCtx(ctx)
	txs, err := r.chain.TransactionsByHash(c, []common.Hash{txHash})
	cancel()
	if err != nil {
		r.metrics.RPCError("transactions")
		return false, fmt.Errorf("read recorded transaction %s: %w", txHash.Hex(), err)
	}
	if !r.product.Carries(txs[0], app.signature) && !r.appliedInBatch(txs[0], rcpt, app) {
		log.Warn().Str("recorded_tx", txHash.Hex()).Msg("recorded transaction carries another application, ignoring it")
		return false, nil
	}
	f := r.adopted(app, txHash, log)
	if from, err := types.Sender(types.LatestSignerForChainID(txs[0].ChainId()), txs[0]); err == nil && from == r.signer.Address() {
		f.ownNonce, f.hasOwnNonce = txs[0].Nonce(), true
	}
	r.addFlights(f)
	f.log.Info().Msg("application already created by recorded transaction, tracking confirmations")
	return true, nil
}

// batchCarries reports whether tx is a call to the configured batch
// contract that carries signature. appliedBy asks it only of transactions
// whose batch event named the signature as applied.
func (r *core) batchCarries(tx *types.Transaction, signature []byte) bool {
	b := r.cfg.Batch
	if b == nil || tx == nil || tx.To() == nil || *tx.To() != b.Contract {
		return false
	}
	apps, _, err := batch.Decode(tx.Data())
	if err != nil {
		return false
	}
	for _, a := range apps {
		if bytes.Equal(a.Signature, signature) {
			return true
		}
	}
	return false
}

// appliedInBatch reports whether tx, with receipt rcpt, is a batch of the
// configured contract whose event says it applied app.
func (r *core) appliedInBatch(tx *types.Transaction, rcpt *types.Receipt, app *carried) bool {
	b := r.cfg.Batch
	if b == nil || tx == nil || tx.To() == nil || *tx.To() != b.Contract {
		return false
	}
	return batch.Outcomes(b.Contract, rcpt)[app.sigHash].Applied
}

func isNotFound(err error) bool { return errors.Is(err, ethereum.NotFound) }
