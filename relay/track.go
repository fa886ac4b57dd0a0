package relay

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
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

// trackOnce costs a fixed handful of RPC calls whatever the window size: the
// head header, the wallet's mined nonce, batched receipts of the flights not
// mined yet (or due for their final check), and one batch of block hashes to
// notice reorgs under flights already mined. Per-pass work grows with the
// number in flight, never with the backlog; a mined flight's receipt is read
// again only when its confirmations are due or its block left the chain.
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
	header, err := r.chain.HeaderByNumber(c, nil)
	if err != nil {
		r.metrics.RPCError("header")
		r.log.Warn().Err(err).Msg("read head block failed")
		return
	}
	head := header.Number.Uint64()
	moved, err := r.reorged(c, flights)
	if err != nil {
		r.metrics.RPCError("block_hashes")
		r.log.Warn().Err(err).Msg("read block hashes failed")
		return
	}
	var hashes []common.Hash
	var lookup []*flight
	unmined := false
	for _, f := range flights {
		r.mu.Lock()
		waiting := f.minedIn != 0 && head+1 < f.minedIn+r.cfg.Confirmations && !moved[f.minedIn]
		unmined = unmined || f.minedIn == 0
		r.mu.Unlock()
		if !waiting {
			lookup = append(lookup, f)
			hashes = append(hashes, f.hashes()...)
		}
	}
	// The mined nonce matters only for flights not known to be mined (lost
	// nonce, lowest nonce stuck), and is read before the receipts: a nonce
	// below it whose hashes have no receipt afterwards was taken by a
	// transaction not ours.
	var mined uint64
	if unmined {
		if mined, err = r.chain.NonceAt(c, r.signer.Address(), header.Number); err != nil {
			r.metrics.RPCError("nonce")
			r.log.Warn().Err(err).Msg("read mined nonce failed")
			return
		}
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
	var market *marketFees // read at most once per pass, only when a replacement is due
	var resend []*flight
	var confirmed []confirmation
	for _, f := range lookup {
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
		if rcpt != nil {
			r.mu.Lock()
			newly := f.minedIn != rcpt.BlockNumber.Uint64() || f.minedHash != rcpt.BlockHash
			f.minedIn, f.minedHash = rcpt.BlockNumber.Uint64(), rcpt.BlockHash
			r.mu.Unlock()
			if newly {
				f.log.Debug().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", f.minedIn).
					Uint64("status", rcpt.Status).Msg("transaction mined")
			}
			switch {
			case head+1 < rcpt.BlockNumber.Uint64()+r.cfg.Confirmations:
			case rcpt.Status == types.ReceiptStatusSuccessful:
				confirmed = append(confirmed, confirmation{f, rcpt})
			default:
				r.finishReverted(ctx, f, rcpt)
			}
			continue
		}
		if !f.journaled || f.tx == nil {
			continue // adopted: only its recorded receipt matters
		}
		if unmined && f.rec.Nonce < mined {
			r.lostNonce(ctx, f, mined)
			continue
		}
		r.mu.Lock()
		reorged := f.minedIn != 0
		f.minedIn, f.minedHash = 0, common.Hash{}
		if f.sentAtBlock == 0 {
			f.sentAtBlock = head
		}
		// Only the lowest unmined nonce can be stuck on its own fees: the
		// others wait behind it and are bumped only if the base fee has
		// overtaken their fee cap (they could not be included anyway).
		lowest := unmined && f.rec.Nonce == mined
		if lowest && f.lowestSince == 0 {
			f.lowestSince = head
		}
		stuck := (lowest && head >= max(f.sentAtBlock, f.lowestSince)+r.cfg.StuckBlocks) ||
			(header.BaseFee != nil && f.tx.GasFeeCap().Cmp(header.BaseFee) < 0)
		r.mu.Unlock()
		switch {
		case reorged:
			f.log.Warn().Msg("receipt vanished in a reorg, re-broadcasting")
			resend = append(resend, f)
		case stuck:
			if market == nil {
				market = r.market(ctx, header)
			}
			r.replace(ctx, f, head, market)
		case r.rebroadcastDue(f):
			f.log.Info().Msg("transaction not mined yet, re-broadcasting")
			resend = append(resend, f)
		}
	}
	r.settle(ctx, confirmed)
	if len(resend) > 0 {
		// One batch, in nonce order, so a refilled gap comes before what
		// waits behind it (after a restart this is the whole window).
		sort.Slice(resend, func(i, j int) bool { return resend[i].rec.Nonce < resend[j].rec.Nonce })
		r.broadcast(ctx, resend...)
	}
	atCap := 0
	r.mu.Lock()
	for _, f := range r.flights {
		if f.atCap {
			atCap++
		}
	}
	r.flightsAtCap = atCap
	r.mu.Unlock()
	r.reportFeeCap()
}

// reorged returns the block numbers under already-mined flights whose
// canonical hash is no longer the one their receipt named: those flights'
// receipts must be read again.
func (r *Relay) reorged(ctx context.Context, flights []*flight) (map[uint64]bool, error) {
	want := map[uint64]common.Hash{}
	r.mu.Lock()
	for _, f := range flights {
		if f.minedIn != 0 {
			want[f.minedIn] = f.minedHash
		}
	}
	r.mu.Unlock()
	if len(want) == 0 {
		return nil, nil
	}
	numbers := make([]uint64, 0, len(want))
	for n := range want {
		numbers = append(numbers, n)
	}
	got, err := r.chain.BlockHashes(ctx, numbers)
	if err != nil {
		return nil, err
	}
	moved := map[uint64]bool{}
	for i, n := range numbers {
		if got[i] != want[n] {
			moved[n] = true
		}
	}
	return moved, nil
}

// marketFees are the fees a new transaction would get now; fees is nil when
// the base fee is above the cap or the tip could not be read.
type marketFees struct {
	fees *chain.Fees
}

// market quotes a new transaction on the pass's head block.
func (r *Relay) market(ctx context.Context, head *types.Header) *marketFees {
	fees, err := r.quote(ctx, head)
	if err != nil {
		return &marketFees{}
	}
	return &marketFees{fees: &fees}
}

// replace re-signs a stuck transaction with the same nonce, call and gas and
// higher fees: each raised by FEE_BUMP_PERCENT (enough for nodes to accept a
// replacement) or to what a new transaction would pay now, whichever is
// higher, and never above MAX_FEE_PER_GAS. The new hash is journaled before
// it is broadcast, beside the old ones: any of them may be the one mined.
// When the cap leaves no room to raise, the flight waits and re-broadcasts
// its identical bytes, so a node that evicted it cannot jam the nonce.
func (r *Relay) replace(ctx context.Context, f *flight, head uint64, market *marketFees) {
	cur := chain.Fees{FeeCap: f.tx.GasFeeCap(), TipCap: f.tx.GasTipCap()}
	next, _ := r.cfg.Fees.Bump(cur, r.cfg.FeeBumpPercent)
	if market.fees != nil {
		next.FeeCap = maxBig(next.FeeCap, market.fees.FeeCap)
		next.TipCap = maxBig(next.TipCap, market.fees.TipCap)
	}
	if next.FeeCap.Cmp(r.cfg.Fees.MaxFee) > 0 {
		next.FeeCap = new(big.Int).Set(r.cfg.Fees.MaxFee)
	}
	if next.TipCap.Cmp(next.FeeCap) > 0 {
		next.TipCap = new(big.Int).Set(next.FeeCap)
	}
	if next.FeeCap.Cmp(cur.FeeCap) <= 0 && next.TipCap.Cmp(cur.TipCap) <= 0 {
		r.mu.Lock()
		first := !f.atCap
		f.atCap = true
		r.mu.Unlock()
		if first {
			f.log.Warn().Str("fee_cap_wei", cur.FeeCap.String()).Str("max_fee_per_gas_wei", r.cfg.Fees.MaxFee.String()).
				Msg("stuck transaction at MAX_FEE_PER_GAS, waiting")
		}
		r.maybeRebroadcast(ctx, f)
		return
	}
	tx, err := r.signer.Sign(chain.Call{To: *f.tx.To(), Data: f.tx.Data()}, f.rec.Nonce, f.tx.Gas(), next)
	if err != nil {
		f.log.Error().Err(err).Msg("sign replacement failed")
		return
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		f.log.Error().Err(err).Msg("encode replacement failed")
		return
	}
	rec := f.rec
	rec.Hashes = append(append([]string(nil), f.rec.Hashes...), tx.Hash().Hex())
	rec.RawTx = hexutil.Encode(raw)
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Record(safe, rec); err != nil {
		r.metrics.RedisError("journal")
		f.log.Warn().Err(err).Msg("journal replacement failed, not sending it")
		return
	}
	old := f.tx.Hash().Hex()
	r.mu.Lock()
	f.rec, f.tx, f.sentAtBlock, f.atCap = rec, tx, head, false
	f.log = f.baseLog.With().Str("tx", tx.Hash().Hex()).Uint64("nonce", f.rec.Nonce).Logger()
	r.mu.Unlock()
	f.log.Info().Str("replaces", old).Int("attempt", len(rec.Hashes)).
		Str("fee_cap_wei", next.FeeCap.String()).Str("tip_wei", next.TipCap.String()).
		Msg("stuck transaction replaced with higher fees")
	r.broadcast(safe, f)
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

// rebroadcastDue reports whether a flight's signed bytes should be sent
// again: the node has not mined them for REBROADCAST_INTERVAL, and a node
// restart, a pool eviction or a refused first send must not leave a hole in
// the nonce sequence.
func (r *Relay) rebroadcastDue(f *flight) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return f.tx != nil && r.cfg.Now().Sub(f.lastSent) >= r.cfg.RebroadcastInterval
}

// maybeRebroadcast re-sends one flight when rebroadcastDue says so.
func (r *Relay) maybeRebroadcast(ctx context.Context, f *flight) {
	if r.rebroadcastDue(f) {
		f.log.Info().Msg("transaction not mined yet, re-broadcasting")
		r.broadcast(ctx, f)
	}
}

// lostNonce handles a journaled transaction whose nonce was mined by a
// transaction that is not one of ours (someone else used the wallet). Ours
// can never be mined now, so building a new one for the application is safe:
// the entry is released and read again.
func (r *Relay) lostNonce(ctx context.Context, f *flight, mined uint64) {
	// Ask once more, hash by hash: behind a load balancer the nonce and the
	// receipts may come from nodes at different heights, and a wrong "lost"
	// would build a second transaction for an application already created.
	for _, h := range f.hashes() {
		c, cancel := r.rpcCtx(ctx)
		_, err := r.chain.TransactionReceipt(c, h)
		cancel()
		if err == nil || !errors.Is(err, ethereum.NotFound) {
			return // mined after all, or unknown: decide on a later pass
		}
	}
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

// confirmation is a flight whose successful receipt has the required
// confirmations.
type confirmation struct {
	f    *flight
	rcpt *types.Receipt
}

// settle acknowledges every flight a pass confirmed, then forgets their
// journal records: two Redis round trips per pass, not per application. The
// journal goes last, so a crash in between only repeats idempotent steps on
// restart (the record is tracked again, found confirmed, acked again).
func (r *Relay) settle(ctx context.Context, confirmed []confirmation) {
	if len(confirmed) == 0 {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	entries := make([]stream.Settled, len(confirmed))
	var nonces []uint64
	for i, cf := range confirmed {
		entries[i] = stream.Settled{EntryID: cf.f.rec.EntryID, EntityID: cf.f.rec.EntityID}
		if cf.f.journaled {
			nonces = append(nonces, cf.f.rec.Nonce)
		}
	}
	if err := r.queue.Ack(c, entries...); err != nil {
		r.metrics.RedisError("ack")
		r.log.Warn().Err(err).Int("entries", len(entries)).Msg("ack failed, will retry")
		return
	}
	now := r.cfg.Now()
	for _, cf := range confirmed {
		gasPaid := new(big.Int).Mul(new(big.Int).SetUint64(cf.rcpt.GasUsed), cf.rcpt.EffectiveGasPrice)
		r.metrics.Confirmed(cf.f.enqueuedAt, now, gasPaid)
		cf.f.log.Info().Str("mined_tx", cf.rcpt.TxHash.Hex()).Uint64("block", cf.rcpt.BlockNumber.Uint64()).
			Uint64("gas_used", cf.rcpt.GasUsed).Str("gas_paid_wei", gasPaid.String()).
			Msg("application confirmed, entry acknowledged")
	}
	if err := r.queue.Forget(c, nonces...); err != nil {
		r.metrics.RedisError("forget")
		r.log.Warn().Err(err).Msg("forget journal records failed; they are settled again on restart")
	}
	for _, cf := range confirmed {
		r.release(cf.f, false)
	}
}

// finishReverted dead-letters a flight whose transaction was mined and
// reverted, once it has the required confirmations, with the reason and a
// copy of the application, then forgets its journal record.
func (r *Relay) finishReverted(ctx context.Context, f *flight, rcpt *types.Receipt) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	log := f.log.With().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Logger()
	reason := r.revertReason(c, f, rcpt)
	// The dead letter keeps what the user signed: the hash is purged next.
	loaded, err := r.queue.LoadApplications(c, []string{f.rec.EntityID})
	if err != nil {
		r.metrics.RedisError("load")
		log.Warn().Err(err).Msg("load reverted application failed, will retry")
		return
	}
	r.metrics.RevertedOnChain(r.cfg.Now())
	if err := r.deadLetter(c, stream.DeadLetter{EntryID: f.rec.EntryID, EntityID: f.rec.EntityID,
		Class: "reverted", Reason: reason, TxHash: rcpt.TxHash.Hex(), Fields: loaded[0]}); err != nil {
		log.Warn().Err(err).Msg("dead-letter of reverted transaction failed, will retry")
		return
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
	if !rescan && r.readingPending {
		r.settled[f.rec.EntryID] = struct{}{}
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
