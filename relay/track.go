package relay

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

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

func (r *Relay) policy() policy {
	return policy{Confirmations: r.cfg.Confirmations, StuckBlocks: r.cfg.StuckBlocks,
		RebroadcastInterval: r.cfg.RebroadcastInterval, ResendAfter: r.resendAfter(),
		MaxTransientReverts: int64(r.cfg.MaxTransientReverts)}
}

// maxResendAfter bounds resendAfter: a pool takes a transaction in well
// under a second; longer would only delay the re-send of a dropped one.
const maxResendAfter = 500 * time.Millisecond

// resendAfter is how long after a send the node must show a transaction
// before it counts as dropped: half a poll interval, so that a transaction
// sent on one pass is judged on the next one, however the ticks fall.
func (r *Relay) resendAfter() time.Duration { return min(r.cfg.PollInterval/2, maxResendAfter) }

// trackOnce is one pass over the in-flight window: it gathers what the node
// says, asks decide what each flight needs, and carries that out. Its cost is
// a fixed handful of calls whatever the window size: the head header, one
// batch of the mined and pending nonces, one batch of block hashes under
// mined flights (reorgs), and batched receipts only of the flights where
// something can have changed (needsReceipt). Each call has its own deadline.
func (r *Relay) trackOnce(ctx context.Context) {
	r.retryForget(ctx)
	r.touchDue(ctx)
	r.mu.Lock()
	flights := make([]*flight, 0, len(r.flights))
	signed := false
	for _, f := range r.flights {
		flights = append(flights, f)
		signed = signed || f.st.Signed
	}
	r.mu.Unlock()
	if len(flights) == 0 {
		r.gapSince = 0
		return
	}
	c, cancel := r.rpcCtx(ctx)
	header, err := r.chain.HeaderByNumber(c, nil)
	cancel()
	if err != nil {
		r.metrics.RPCError("header")
		r.log.Warn().Err(err).Msg("read head block failed")
		return
	}
	head := header.Number.Uint64()
	var mined, pending uint64
	if signed {
		c, cancel := r.rpcCtx(ctx)
		mined, pending, err = r.chain.Nonces(c, r.signer.Address(), header.Number)
		cancel()
		if err != nil {
			r.metrics.RPCError("nonce")
			r.log.Warn().Err(err).Msg("read wallet nonces failed")
			return
		}
	}
	moved, err := r.reorged(ctx, flights)
	if err != nil {
		r.metrics.RPCError("block_hashes")
		r.log.Warn().Err(err).Msg("read block hashes failed")
		return
	}
	pol := r.policy()
	var hashes []common.Hash
	looked := make(map[*flight]bool)
	r.mu.Lock()
	for _, f := range flights {
		if needsReceipt(pol, f.st, head, mined, moved[f.st.MinedIn]) {
			looked[f] = true
			hashes = append(hashes, f.hashes()...)
		}
	}
	r.mu.Unlock()
	byHash, err := r.receipts(ctx, hashes)
	if err != nil {
		r.metrics.RPCError("receipts")
		r.log.Warn().Err(err).Msg("read receipts failed")
		return
	}

	now := r.cfg.Now()
	r.mu.Lock()
	windowBefore := r.window.Limit
	r.mu.Unlock()
	window := r.observeNode(flights, head, mined, pending, now)
	var confirmed []confirmation
	var reverted []outcome
	var lost, send, replace []*flight
	obs := make(map[*flight]observation, len(flights))
	// freed: a flight got mined or the node window grew, so the node has
	// room for more: the submitting loop may go on.
	freed := window > windowBefore
	r.mu.Lock()
	for _, f := range flights {
		o := observation{Now: now, Head: head, BaseFee: header.BaseFee, Mined: mined, Pending: pending,
			NodeLimit: window, Looked: looked[f]}
		var rcpt *types.Receipt
		if o.Looked {
			for _, h := range f.hashes() {
				if rc := byHash[h]; rc != nil {
					rcpt = rc
					break
				}
			}
		}
		if rcpt != nil {
			o.Receipt = &receiptSeen{Block: rcpt.BlockNumber.Uint64(), BlockHash: rcpt.BlockHash,
				Success: rcpt.Status == types.ReceiptStatusSuccessful}
			if f.st.MinedIn != o.Receipt.Block || f.st.MinedHash != o.Receipt.BlockHash {
				f.log.Debug().Str("mined_tx", rcpt.TxHash.Hex()).Uint64("block", o.Receipt.Block).
					Uint64("status", rcpt.Status).Msg("transaction mined")
			}
		}
		act, st := decide(pol, f.st, o)
		obs[f] = o
		freed = freed || (f.st.MinedIn == 0 && st.MinedIn != 0)
		if act == actResend && f.st.MinedIn != 0 {
			f.log.Warn().Uint64("block", f.st.MinedIn).Msg("receipt vanished in a reorg, re-broadcasting")
		}
		f.st = st
		switch act {
		case actConfirm:
			confirmed = append(confirmed, confirmation{f, rcpt})
		case actReverted, actForget, actRequeue:
			reverted = append(reverted, outcome{f, rcpt, act})
		case actLost:
			lost = append(lost, f)
		case actResend, actRebroadcast:
			send = append(send, f)
		case actReplace:
			replace = append(replace, f)
		}
		if act != actWait && act != actConfirm {
			f.log.Debug().Stringer("action", act).Uint64("mined_nonce", mined).Uint64("pending_nonce", pending).Msg("tracker decision")
		}
	}
	r.mu.Unlock()
	if freed {
		r.wake()
	}

	r.settle(ctx, confirmed)
	for _, oc := range reverted {
		if ctx.Err() != nil {
			return
		}
		r.finishReverted(ctx, oc, obs[oc.f])
	}
	for _, f := range lost {
		r.lostNonce(ctx, f, mined)
	}
	var market *chain.Fees // read at most once per pass, only when a replacement is due
	marketRead := false
	for _, f := range replace {
		if !marketRead {
			if fees, err := r.quote(ctx, header); err == nil {
				market = &fees
			}
			marketRead = true
		}
		if r.replace(ctx, f, market, obs[f]) {
			send = append(send, f)
		}
	}
	if len(send) > 0 {
		// One batch, in nonce order, so a refilled gap comes before what
		// waits behind it (after a restart this is the whole window).
		sort.Slice(send, func(i, j int) bool { return send[i].rec.Nonce < send[j].rec.Nonce })
		// Not cut by shutdown: a replacement journaled this pass must be
		// sent, or afterSend would record a cancelled send as accepted.
		safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
		r.broadcast(safe, send...)
		cancel()
	}
	if signed {
		r.fillGaps(ctx, header, mined, pending)
	}
	atCap := 0
	r.mu.Lock()
	for _, f := range r.flights {
		if f.st.Phase == phaseAtCap {
			atCap++
		}
	}
	r.flightsAtCap = atCap
	r.mu.Unlock()
	r.reportFeeCap()
}

// receipts reads the receipts of hashes, keyed by hash, under one deadline
// per call.
func (r *Relay) receipts(ctx context.Context, hashes []common.Hash) (map[common.Hash]*types.Receipt, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	receipts, err := r.chain.Receipts(c, hashes)
	if err != nil {
		return nil, err
	}
	byHash := make(map[common.Hash]*types.Receipt, len(receipts))
	for i, rc := range receipts {
		if rc != nil {
			byHash[hashes[i]] = rc
		}
	}
	return byHash, nil
}

// observeNode learns from the pass's nonces how many of our transactions the
// node holds, updates the node window (nextNodeLimit) and reports both. It
// returns the window for this pass's decisions.
func (r *Relay) observeNode(flights []*flight, head, mined, pending uint64, now time.Time) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent := make(map[uint64]time.Time)
	for _, f := range flights {
		if f.st.Signed && f.st.MinedIn == 0 && f.rec.Nonce >= mined && !f.st.LastSent.IsZero() {
			sent[f.rec.Nonce] = f.st.LastSent
		}
	}
	held := uint64(0)
	if pending > mined {
		held = pending - mined
	}
	before := r.window.Limit
	expected := expectedHeld(sent, mined, r.window.Limit, now.Add(-r.resendAfter()))
	r.window = nextNodeLimit(r.window, head, mined, held, expected)
	if r.window.Limit < before {
		r.logNarrowing(r.log.With().Uint64("node_held", held).Uint64("expected", expected).Logger())
	}
	r.metrics.SetNodeWindow(held, r.window.Limit)
	return r.window.Limit
}

// logNarrowing says that the node window narrowed: a warning the first time
// (the operator learns that the node keeps fewer than MAX_IN_FLIGHT, which
// the monitor then shows as nodeWindow), a debug line for every later
// narrowing after a probe. Called with r.mu held.
func (r *Relay) logNarrowing(log zerolog.Logger) {
	ev := log.Debug()
	if !r.narrowed {
		r.narrowed = true
		ev = log.Warn()
	}
	ev.Uint64("window", r.window.Limit).Uint64("max_in_flight", r.window.Max).
		Msg("node keeps fewer of our transactions than sent, narrowing the window")
}

// NodeWindow reports how many of our transactions the node held on the last
// pass, and how many the relay keeps outstanding for it.
func (r *Relay) NodeWindow() (held, window uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.window.Observed, r.window.Limit
}

// reorged returns the block numbers under already-mined flights whose
// canonical hash is no longer the one their receipt named: those flights'
// receipts must be read again.
func (r *Relay) reorged(ctx context.Context, flights []*flight) (map[uint64]bool, error) {
	want := map[uint64]common.Hash{}
	r.mu.Lock()
	for _, f := range flights {
		if f.st.MinedIn != 0 {
			want[f.st.MinedIn] = f.st.MinedHash
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
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	got, err := r.chain.BlockHashes(c, numbers)
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

// replace prices a replacement for a stuck transaction: the same nonce, call
// and gas, with fees that clear the node's replacement rule over the
// transaction it accepted (chain.FeePolicy.Replacement), never above
// MAX_FEE_PER_GAS. decide says what the price means (evPriced): sign it, or
// wait at the cap. A replacement is journaled (beside the accepted bytes)
// before it is sent, and becomes current only once the node takes it
// (afterSend). It reports whether the flight should be sent on this pass:
// with a new replacement, or, at the cap, with its identical bytes when a
// re-broadcast is due, so a node that evicted it cannot jam the nonce.
func (r *Relay) replace(ctx context.Context, f *flight, market *chain.Fees, o observation) bool {
	r.mu.Lock()
	cur := chain.Fees{FeeCap: f.tx.GasFeeCap(), TipCap: f.tx.GasTipCap()}
	r.mu.Unlock()
	next, ok := r.cfg.Fees.Replacement(cur, market, r.cfg.FeeBumpPercent)
	o.Event, o.Room = evPriced, ok
	act, before := r.step(f, o)
	if act != actSign {
		if before.Phase != phaseAtCap {
			f.log.Warn().Str("fee_cap_wei", cur.FeeCap.String()).Str("max_fee_per_gas_wei", r.cfg.Fees.MaxFee.String()).
				Msg("stuck transaction at MAX_FEE_PER_GAS, waiting")
		}
		return act == actRebroadcast
	}
	tx, err := r.signer.Sign(chain.Call{To: *f.tx.To(), Data: f.tx.Data()}, f.rec.Nonce, f.tx.Gas(), next)
	if err != nil {
		f.log.Error().Err(err).Msg("sign replacement failed")
		return false
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		f.log.Error().Err(err).Msg("encode replacement failed")
		return false
	}
	rec := f.rec
	rec.Hashes = append([]string(nil), f.rec.Hashes...)
	if !slices.Contains(rec.Hashes, tx.Hash().Hex()) {
		// Signing is deterministic: a replacement the node refused before,
		// priced the same again, has the same hash.
		rec.Hashes = append(rec.Hashes, tx.Hash().Hex())
	}
	rec.NextRawTx = hexutil.Encode(raw)
	rec.Current = tx.Hash().Hex()
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Record(safe, rec); err != nil {
		r.metrics.RedisError("journal")
		f.log.Warn().Err(err).Msg("journal replacement failed, not sending it")
		return false
	}
	r.mu.Lock()
	f.rec, f.next = rec, tx
	r.mu.Unlock()
	o.Event = evJournaled
	act, _ = r.step(f, o)
	f.log.Info().Str("replacement", tx.Hash().Hex()).Int("attempt", len(rec.Hashes)).
		Str("fee_cap_wei", next.FeeCap.String()).Str("tip_wei", next.TipCap.String()).
		Msg("stuck transaction, sending replacement with higher fees")
	return act == actSend
}

// step asks decide about f with o and keeps the state it returns; it
// returns the action and the state before.
func (r *Relay) step(f *flight, o observation) (action, flightState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := f.st
	act, st := decide(r.policy(), f.st, o)
	f.st = st
	return act, before
}

// lostNonce handles a journaled transaction whose nonce was mined by a
// transaction that is not one of ours (someone else used the wallet): decide
// saw it on two passes in different blocks. Ours can never be mined now, so
// building a new one for the application is safe: the entry is released and
// read again.
func (r *Relay) lostNonce(ctx context.Context, f *flight, mined uint64) {
	// Ask once more, hash by hash, to rule out a batch answered by a
	// backend that had not seen the block yet.
	for _, h := range f.hashes() {
		c, cancel := r.rpcCtx(ctx)
		_, err := r.chain.TransactionReceipt(c, h)
		cancel()
		if err == nil || !errors.Is(err, ethereum.NotFound) {
			return // mined after all, or unknown: decide on a later pass
		}
	}
	if !f.st.Signed {
		// Adopted, its receipt gone for good: no record of ours to forget.
		f.log.Warn().Msg("adopted transaction's receipt is gone, application back in the queue")
		r.release(f, true)
		return
	}
	r.metrics.NonceLost()
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

// confirmation is a flight whose receipt has the required confirmations.
type confirmation struct {
	f    *flight
	rcpt *types.Receipt
}

// settle acknowledges every application a pass confirmed, then forgets their
// journal records: two Redis round trips per pass, not per application. The
// journal goes last, so a crash in between only repeats idempotent steps on
// restart (the record is tracked again, found confirmed, acked again). A
// confirmed gap fill is only forgotten.
func (r *Relay) settle(ctx context.Context, confirmed []confirmation) {
	if len(confirmed) == 0 {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	var entries []stream.Settled
	var confs []stream.Confirmation
	var nonces []uint64
	for _, cf := range confirmed {
		if cf.f.app != nil {
			entries = append(entries, stream.Settled{EntryID: cf.f.app.entryID, EntityID: cf.f.app.entityID})
			pid, _ := r.product.ProcessID(cf.rcpt)
			confs = append(confs, stream.Confirmation{EntityID: cf.f.app.entityID, EntryID: cf.f.app.entryID,
				TxHash: cf.rcpt.TxHash, Block: cf.rcpt.BlockNumber.Uint64(), ProcessID: pid})
		}
		if cf.f.st.Signed {
			nonces = append(nonces, cf.f.rec.Nonce)
		}
	}
	// The outcome is recorded before the ack: a crash in between repeats
	// both, and both are idempotent; the other way round, a crash would
	// leave an acknowledged application with no outcome to show.
	if r.cfg.Status != nil && len(confs) > 0 {
		if err := r.cfg.Status.Confirmed(c, confs...); err != nil {
			r.metrics.RedisError("status")
			r.log.Warn().Err(err).Int("entries", len(confs)).Msg("record confirmations failed, will retry")
			return
		}
	}
	if err := r.queue.Ack(c, entries...); err != nil {
		r.metrics.RedisError("ack")
		r.log.Warn().Err(err).Int("entries", len(entries)).Msg("ack failed, will retry")
		return
	}
	now := r.cfg.Now()
	for _, cf := range confirmed {
		gasPaid := gasPaid(cf.rcpt)
		if cf.f.app == nil {
			cf.f.log.Info().Str("mined_tx", cf.rcpt.TxHash.Hex()).Msg("nonce gap filled")
			continue
		}
		r.metrics.Confirmed(cf.f.app.enqueuedAt, now, gasPaid)
		cf.f.log.Info().Str("mined_tx", cf.rcpt.TxHash.Hex()).Uint64("block", cf.rcpt.BlockNumber.Uint64()).
			Uint64("gas_used", cf.rcpt.GasUsed).Str("gas_paid_wei", gasPaid.String()).
			Msg("application confirmed, entry acknowledged")
	}
	if err := r.queue.Forget(c, nonces...); err != nil {
		r.metrics.RedisError("forget")
		r.log.Warn().Err(err).Msg("forget journal records failed, will retry")
		r.unforgotten = append(r.unforgotten, nonces...)
	}
	apps := make([]*carried, 0, len(confirmed))
	for _, cf := range confirmed {
		apps = append(apps, cf.f.app)
	}
	r.releaseOwners(c, apps...)
	for _, cf := range confirmed {
		r.release(cf.f, false)
	}
}

// retryForget removes the journal records of settled flights that an
// earlier pass could not remove. Their nonces are mined, so no later record
// can have taken their fields. A failure waits for the next pass, quietly:
// Redis being down is logged by whatever else fails.
func (r *Relay) retryForget(ctx context.Context) {
	if len(r.unforgotten) == 0 {
		return
	}
	c, cancel := context.WithTimeout(ctx, r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Forget(c, r.unforgotten...); err != nil {
		r.metrics.RedisError("forget")
		r.log.Debug().Err(err).Int("records", len(r.unforgotten)).Msg("forget journal records failed again")
		return
	}
	r.unforgotten = nil
}

func gasPaid(rcpt *types.Receipt) *big.Int {
	price := rcpt.EffectiveGasPrice
	if price == nil {
		price = new(big.Int)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(rcpt.GasUsed), price)
}

// release removes a flight from the window and wakes the submitting loop.
// rescan asks the loop to read its own pending entries again: the flight's
// application goes back to the queue.
func (r *Relay) release(f *flight, rescan bool) {
	r.mu.Lock()
	if r.flights[f.key()] == f {
		delete(r.flights, f.key())
	}
	if f.app != nil {
		if r.sigs[f.app.sigHash] == f.app.entryID {
			delete(r.sigs, f.app.sigHash)
		}
		r.scan.released(f.app.entryID, rescan)
	}
	n := len(r.flights)
	r.mu.Unlock()
	r.metrics.SetInFlight(n)
	r.wake()
}

// addFlights puts flights into the window (and their applications'
// signatures into the in-flight set) and reports the new size: the one way
// in, as release is the one way out.
func (r *Relay) addFlights(fs ...*flight) {
	r.mu.Lock()
	for _, f := range fs {
		r.flights[f.key()] = f
		if f.app != nil {
			r.sigs[f.app.sigHash] = f.app.entryID
		}
	}
	n := len(r.flights)
	r.mu.Unlock()
	r.metrics.SetInFlight(n)
}

// wake tells the submitting loop that the window may have room.
func (r *Relay) wake() {
	select {
	case r.slotFreed <- struct{}{}:
	default:
	}
}
