package relay

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// track checks the in-flight window every poll interval until ctx ends.
func (r *Relay) track(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		r.trackOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// trackOnce costs three RPC calls whatever the window size (head, the wallet's
// mined nonce, one batch of receipts) plus re-broadcasts: per-iteration work
// grows with the number in flight, never with the backlog.
//
// Confirmations are counted as head - receiptBlock + 1, so a transaction in
// the head block has one confirmation, as ethers counts them.
func (r *Relay) trackOnce(ctx context.Context) {
	r.mu.Lock()
	flights := make([]*flight, 0, len(r.flights))
	for _, f := range r.flights {
		flights = append(flights, f)
	}
	r.mu.Unlock()
	if len(flights) == 0 {
		return
	}
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	head, err := r.chain.BlockNumber(c)
	if err != nil {
		r.metrics.RPCError("block_number")
		r.log.Warn().Err(err).Msg("read block number failed")
		return
	}
	// The mined nonce is read before the receipts: a nonce below it whose
	// hashes have no receipt afterwards was taken by a transaction not ours.
	mined, err := r.chain.NonceAt(c, r.signer.Address(), new(big.Int).SetUint64(head))
	if err != nil {
		r.metrics.RPCError("nonce")
		r.log.Warn().Err(err).Msg("read mined nonce failed")
		return
	}
	var hashes []common.Hash
	for _, f := range flights {
		hashes = append(hashes, f.hashes()...)
	}
	receipts, err := r.chain.Receipts(c, hashes)
	if err != nil {
		r.metrics.RPCError("receipts")
		r.log.Warn().Err(err).Msg("read receipts failed")
		return
	}
	byHash := make(map[common.Hash]*types.Receipt, len(receipts))
	for i, rc := range receipts {
		if rc != nil {
			byHash[hashes[i]] = rc
		}
	}
	for _, f := range flights {
		if ctx.Err() != nil {
			return
		}
		var rcpt *types.Receipt
		for _, h := range f.hashes() {
			if rc := byHash[h]; rc != nil {
				rcpt = rc
				break
			}
		}
		switch {
		case rcpt == nil && f.journaled && f.rec.Nonce < mined:
			r.lostNonce(ctx, f, mined)
		case rcpt == nil:
			r.maybeRebroadcast(ctx, f)
		case head+1 >= rcpt.BlockNumber.Uint64()+r.cfg.Confirmations:
			r.finish(ctx, f, rcpt)
		}
	}
}

// maybeRebroadcast re-sends the same signed bytes when the node has not mined
// them for REBROADCAST_INTERVAL: a node restart, a pool eviction or a refused
// first send must not leave a hole in the nonce sequence.
func (r *Relay) maybeRebroadcast(ctx context.Context, f *flight) {
	r.mu.Lock()
	due := f.tx != nil && r.cfg.Now().Sub(f.lastSent) >= r.cfg.RebroadcastInterval
	r.mu.Unlock()
	if due {
		f.log.Info().Msg("transaction not mined yet, re-broadcasting")
		r.broadcast(ctx, f)
	}
}

// lostNonce handles a journaled transaction whose nonce was mined by a
// transaction that is not one of ours (someone else used the wallet). Ours
// can never be mined now, so building a new one for the application is safe:
// the entry is released and read again.
func (r *Relay) lostNonce(ctx context.Context, f *flight, mined uint64) {
	f.log.Warn().Uint64("mined_nonce", mined).Msg("nonce used by a transaction not in the journal, resubmitting application")
	if err := r.queue.Forget(ctx, f.rec.Nonce); err != nil {
		r.metrics.RedisError("forget")
		f.log.Warn().Err(err).Msg("forget journal record failed")
		return
	}
	r.release(f, true)
	r.mu.Lock()
	r.nextNonce = max(r.nextNonce, mined)
	r.mu.Unlock()
}

// finish settles a flight whose receipt has the required confirmations:
// success is acked and purged; a revert is dead-lettered with its reason.
// The journal record goes last, so a crash in between only repeats
// idempotent steps on restart.
func (r *Relay) finish(ctx context.Context, f *flight, rcpt *types.Receipt) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	log := f.log.With().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Logger()
	if rcpt.Status == types.ReceiptStatusSuccessful {
		if err := r.queue.Ack(c, f.rec.EntryID, f.rec.EntityID); err != nil {
			r.metrics.RedisError("ack")
			log.Warn().Err(err).Msg("ack failed, will retry")
			return
		}
		gasPaid := new(big.Int).Mul(new(big.Int).SetUint64(rcpt.GasUsed), rcpt.EffectiveGasPrice)
		r.metrics.Confirmed(f.enqueuedAt, r.cfg.Now(), gasPaid)
		log.Info().Uint64("gas_used", rcpt.GasUsed).Str("gas_paid_wei", gasPaid.String()).
			Msg("application confirmed, entry acknowledged")
	} else {
		reason := r.revertReason(c, f, rcpt)
		r.metrics.RevertedOnChain(r.cfg.Now())
		if err := r.deadLetter(c, stream.DeadLetter{EntryID: f.rec.EntryID, EntityID: f.rec.EntityID,
			Class: "reverted", Reason: reason, TxHash: rcpt.TxHash.Hex()}); err != nil {
			log.Warn().Err(err).Msg("dead-letter of reverted transaction failed, will retry")
			return
		}
	}
	if f.journaled {
		if err := r.queue.Forget(c, f.rec.Nonce); err != nil {
			r.metrics.RedisError("forget")
			log.Warn().Err(err).Msg("forget journal record failed; it is settled again on restart")
		}
	}
	r.release(f, false)
}

// revertReason replays a reverted transaction's call on the state of its
// block to read the reason (receipts carry none). The replay runs after the
// whole block, so it sees what the transactions before ours did, e.g. the
// same signature used earlier in the block.
func (r *Relay) revertReason(ctx context.Context, f *flight, rcpt *types.Receipt) string {
	if f.tx == nil {
		return "reverted on chain"
	}
	call := chain.Call{To: *f.tx.To(), Data: f.tx.Data()}
	_, err := r.chain.CallContract(ctx, call.Msg(r.signer.Address()), rcpt.BlockNumber)
	if rev := chain.AsRevert(err); rev != nil {
		return fmt.Sprintf("reverted on chain: %s", rev.Reason)
	}
	if rcpt.GasUsed >= f.tx.Gas() {
		return "reverted on chain: out of gas"
	}
	return "reverted on chain: reason unknown"
}

// release removes a flight from the window and wakes the submitting loop.
func (r *Relay) release(f *flight, rescan bool) {
	r.mu.Lock()
	delete(r.flights, f.rec.EntryID)
	if r.sigs[f.sigHash] == f.rec.EntryID {
		delete(r.sigs, f.sigHash)
	}
	if rescan || r.deferred {
		r.deferred, r.rescanRequested = false, true
	}
	n := len(r.flights)
	r.mu.Unlock()
	r.metrics.SetInFlight(n)
	select {
	case r.slotFreed <- struct{}{}:
	default:
	}
}
