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
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// tracker is the part that settles flights: on every new head, pushed or
// polled (cadence.go, heads.go), and at least every CHAIN_POLL_INTERVAL, it
// observes the node, lets decide each flight, and carries the effects out
// in nonce order (docs/design.md 4.2). It signs only at nonces already its
// own: replacements, and gap fills below the next nonce. The fields are its
// own, written by its goroutine only (and by recover, before it starts).
type tracker struct {
	*core
	gapSince  decide.Sighting // the current nonce gap
	touchedAt time.Time       // when the in-flight entries were last touched
	// unforgotten are journal records of settled flights (their nonces
	// mined, their outcome acknowledged) whose removal failed; every pass
	// tries again, so that the journal holds only unfinished transactions
	// while the process runs, not until its next start.
	unforgotten []uint64
	// The cadence (cadence.go): the last head seen and when it was first
	// seen, the block interval learnt from them, and the head and time of
	// the last pass.
	head     uint64
	headAt   time.Time
	interval time.Duration
	passHead uint64
	passAt   time.Time
}

// track looks at the head until ctx ends, and makes a pass when the head
// moved or CHAIN_POLL_INTERVAL passed since the last pass (passDue). It
// looks when the node pushes a new head (a newHeads subscription over a
// websocket, heads.go), and otherwise a few times per block (lookDelay). A
// look that takes longer than the delay is followed by the next one at
// once, as with a ticker.
func (r *tracker) track(ctx context.Context) {
	heads := r.watchHeads(ctx)
	defer heads.wait()
	for {
		start := r.clock.Now()
		r.trackOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-heads.woken():
		case <-r.clock.After(lookDelay(heads.pushing(), r.interval, r.cfg.PollInterval) - r.clock.Now().Sub(start)):
		}
	}
}

// sawHead learns the block interval from a head read at now
// (nextBlockInterval). A head lower than the last one (a reorg, another
// backend) starts the measure again.
func (r *tracker) sawHead(head uint64, now time.Time) {
	switch {
	case r.headAt.IsZero() || head < r.head:
		r.head, r.headAt = head, now
	case head > r.head:
		r.interval = nextBlockInterval(r.interval, now.Sub(r.headAt), head-r.head)
		r.head, r.headAt = head, now
	}
}

func (r *core) policy() decide.Policy {
	return decide.Policy{Confirmations: r.cfg.Confirmations, StuckBlocks: r.cfg.StuckBlocks,
		RebroadcastInterval: r.cfg.RebroadcastInterval, ResendAfter: r.resendAfter(),
		MaxTransientReverts: int64(r.cfg.MaxTransientReverts)}
}

// maxResendAfter bounds resendAfter: a pool takes a transaction in well
// under a second; longer would only delay the re-send of a dropped one.
const maxResendAfter = 500 * time.Millisecond

// resendAfter is how long after a send the node must show a transaction
// before it counts as dropped: half a poll interval, so that a transaction
// sent on one pass is judged on the next one, however the ticks fall.
func (r *core) resendAfter() time.Duration { return min(r.cfg.PollInterval/2, maxResendAfter) }

// trackOnce is one pass over the in-flight window: it gathers what the node
// says, asks decide what each flight needs, and carries that out. Its cost is
// a fixed handful of calls whatever the window size: the head header, one
// batch of the mined and pending nonces, one batch of block hashes under
// mined flights (reorgs), and batched receipts only of the flights where
// something can have changed (decide.ReceiptLook: a deep flight whose block
// is in place is judged on the receipt it kept). Each call has its own deadline.
func (r *tracker) trackOnce(ctx context.Context) {
	flights, signed := r.w.all()
	start := r.clock.Now()
	var header *types.Header
	if len(flights) > 0 {
		c, cancel := r.rpcCtx(ctx)
		h, err := r.chain.HeaderByNumber(c, nil)
		cancel()
		if err != nil {
			if start.Sub(r.passAt) >= r.cfg.PollInterval {
				// Said once per poll interval, as when passes ran on a timer.
				r.passAt = start
				r.metrics.RPCError("header")
				r.log.Warn().Err(err).Msg("read head block failed")
			}
			return
		}
		header = h
		r.sawHead(h.Number.Uint64(), start)
		if !passDue(h.Number.Uint64(), r.passHead, start.Sub(r.passAt), r.cfg.PollInterval) {
			return
		}
		r.passHead = h.Number.Uint64()
	} else if start.Sub(r.passAt) < r.cfg.PollInterval {
		return
	}
	r.passAt = start
	r.retryForget(ctx)
	r.touchDue(ctx)
	if len(flights) == 0 {
		r.gapSince = 0
		return
	}
	head := header.Number.Uint64()
	var err error
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
	canonical, err := r.canonical(ctx, flights)
	if err != nil {
		r.metrics.RPCError("block_hashes")
		r.log.Warn().Err(err).Msg("read block hashes failed")
		return
	}
	pol := r.policy()
	looked, hashes, kept := r.w.toLookUp(pol, flights, head, mined, canonical)
	byHash, err := r.receipts(ctx, hashes)
	if err != nil {
		r.metrics.RPCError("receipts")
		r.log.Warn().Err(err).Msg("read receipts failed")
		return
	}

	now := r.clock.Now()
	windowBefore := r.w.nodeLimit()
	held, window := r.w.observeNode(flights, head, mined, pending, now.Add(-r.resendAfter()), r.log)
	r.metrics.SetNodeWindow(held, window)
	var confirmed []confirmation
	var reverted []outcome
	var lost, send, replace []*flight
	obs := make(map[*flight]decide.Observation, len(flights))
	nextBase := decide.NextBaseFee(header)
	rcpts := make(map[*flight]*types.Receipt)
	for _, f := range flights {
		o := decide.Observation{Now: now, Head: head, NextBaseFee: nextBase, Mined: mined, Pending: pending,
			NodeLimit: window, Looked: looked[f]}
		rc := kept[f]
		if rc == nil && o.Looked {
			for _, h := range f.hashes() {
				if rc = byHash[h]; rc != nil {
					break
				}
			}
		}
		if rc != nil {
			rcpts[f] = rc
			o.Receipt = &decide.Receipt{Block: rc.BlockNumber.Uint64(), BlockHash: rc.BlockHash,
				Success: rc.Status == types.ReceiptStatusSuccessful}
		}
		obs[f] = o
	}
	acts, minedNow := r.w.stepAll(pol, flights, obs, rcpts)
	// freed: a flight got mined or the node window grew, so the node has
	// room for more: the submitting loop may go on.
	freed := minedNow || window > windowBefore
	for i, f := range flights {
		switch act := acts[i]; act {
		case decide.Confirm:
			confirmed = append(confirmed, confirmation{f, rcpts[f]})
		case decide.Reverted, decide.Forget, decide.Requeue:
			reverted = append(reverted, outcome{f, rcpts[f], act})
		case decide.Lost:
			lost = append(lost, f)
		case decide.Resend, decide.Rebroadcast:
			send = append(send, f)
		case decide.Replace:
			replace = append(replace, f)
		}
	}
	if freed {
		r.w.wake()
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
	r.w.countAtCap()
	r.reportFeeCap()
}

// receipts reads the receipts of hashes, keyed by hash, under one deadline
// per call.
func (r *tracker) receipts(ctx context.Context, hashes []common.Hash) (map[common.Hash]*types.Receipt, error) {
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

// canonical returns the canonical hash of each block under an already-mined
// flight: a flight whose receipt named another hash was reorged out of it,
// and its receipt must be read again (window.toLookUp).
func (r *tracker) canonical(ctx context.Context, flights []*flight) (map[uint64]common.Hash, error) {
	numbers := r.w.minedBlocks(flights)
	if len(numbers) == 0 {
		return nil, nil
	}
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	got, err := r.chain.BlockHashes(c, numbers)
	if err != nil {
		return nil, err
	}
	hashes := make(map[uint64]common.Hash, len(numbers))
	for i, n := range numbers {
		hashes[n] = got[i]
	}
	return hashes, nil
}

// replace prices a replacement for a stuck transaction: the same nonce, call
// and gas, with fees that clear the node's replacement rule over the
// transaction it accepted (chain.FeePolicy.Replacement), never above
// MAX_FEE_PER_GAS. decide says what the price means (decide.OnPriced): sign it, or
// wait at the cap. A replacement is journaled (beside the accepted bytes)
// before it is sent, and becomes current only once the node takes it
// (afterSend). It reports whether the flight should be sent on this pass:
// with a new replacement, or, at the cap, with its identical bytes when a
// re-broadcast is due, so a node that evicted it cannot jam the nonce.
func (r *tracker) replace(ctx context.Context, f *flight, market *chain.Fees, o decide.Observation) bool {
	cur, accepted := r.w.accepted(f)
	next, ok := r.cfg.Fees.Replacement(cur, market, r.cfg.FeeBumpPercent)
	o.Event, o.Room = decide.OnPriced, ok
	act, before := r.step(f, o)
	if act != decide.Sign {
		if before.Phase != decide.PhaseAtCap {
			f.log.Warn().Str("fee_cap_wei", cur.FeeCap.String()).Str("max_fee_per_gas_wei", r.cfg.Fees.MaxFee.String()).
				Msg("stuck transaction at MAX_FEE_PER_GAS, waiting")
		}
		return act == decide.Rebroadcast
	}
	tx, err := r.signer.Sign(chain.Call{To: *accepted.To(), Data: accepted.Data()}, f.rec.Nonce, accepted.Gas(), next)
	if err != nil {
		f.log.Error().Err(err).Msg("sign replacement failed")
		return false
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		f.log.Error().Err(err).Msg("encode replacement failed")
		return false
	}
	rec := r.w.record(f)
	rec.Hashes = append([]string(nil), rec.Hashes...)
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
	r.w.setReplacement(f, rec, tx)
	o.Event = decide.OnJournaled
	act, _ = r.step(f, o)
	f.log.Info().Str("replacement", tx.Hash().Hex()).Int("attempt", len(rec.Hashes)).
		Str("fee_cap_wei", next.FeeCap.String()).Str("tip_wei", next.TipCap.String()).
		Msg("stuck transaction, sending replacement with higher fees")
	return act == decide.Send
}

// step asks decide about f with o and keeps the state it returns; it
// returns the action and the state before.
func (r *core) step(f *flight, o decide.Observation) (decide.Action, decide.State) {
	return r.w.step(r.policy(), f, o)
}

// lostNonce handles a journaled transaction whose nonce was mined by a
// transaction that is not one of ours (someone else used the wallet): decide
// saw it on two passes in different blocks. Ours can never be mined now, so
// building a new one for the application is safe: the entry is released and
// read again.
func (r *tracker) lostNonce(ctx context.Context, f *flight, mined uint64) {
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
	r.w.raiseNonce(mined)
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
// confirmed gap fill is only forgotten. A batch transaction (and an adopted
// one that turns out to be a batch) settles each application by its own
// event instead (settleBatch).
func (r *tracker) settle(ctx context.Context, confirmed []confirmation) {
	if len(confirmed) == 0 {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	var entries []stream.Settled
	var confs []stream.Confirmation
	var nonces []uint64
	plain := confirmed[:0:0]
	for _, cf := range confirmed {
		if outs, ok := r.batchOutcomes(cf.f, cf.rcpt); ok {
			r.settleBatch(c, cf, outs)
			continue
		}
		plain = append(plain, cf)
		for _, a := range cf.f.apps {
			entries = append(entries, stream.Settled{EntryID: a.entryID, EntityID: a.entityID})
			pid, _ := r.product.ProcessID(cf.rcpt)
			confs = append(confs, stream.Confirmation{EntityID: a.entityID, EntryID: a.entryID,
				TxHash: cf.rcpt.TxHash, Block: cf.rcpt.BlockNumber.Uint64(), ProcessID: pid})
		}
		if cf.f.st.Signed {
			nonces = append(nonces, cf.f.rec.Nonce)
		}
	}
	if len(plain) == 0 {
		return
	}
	nonces = append(nonces, r.resurrected(plain)...)
	if !r.confirmAndAck(c, confs, entries, r.log) {
		return
	}
	now := r.clock.Now()
	var apps []*carried
	for _, cf := range plain {
		gasPaid := gasPaid(cf.rcpt)
		if len(cf.f.apps) == 0 {
			cf.f.log.Info().Str("mined_tx", cf.rcpt.TxHash.Hex()).Msg("nonce gap filled")
			continue
		}
		apps = append(apps, cf.f.apps...)
		if cf.f.st.Signed { // an adopted transaction's gas was counted by whoever sent it
			r.metrics.Carried(len(cf.f.apps), cf.rcpt.GasUsed)
		}
		for _, a := range cf.f.apps {
			r.metrics.Confirmed(a.enqueuedAt, now, gasPaid)
		}
		cf.f.log.Info().Str("mined_tx", cf.rcpt.TxHash.Hex()).Uint64("block", cf.rcpt.BlockNumber.Uint64()).
			Uint64("gas_used", cf.rcpt.GasUsed).Str("gas_paid_wei", gasPaid.String()).
			Msg("application confirmed, entry acknowledged")
	}
	if err := r.queue.Forget(c, nonces...); err != nil {
		r.metrics.RedisError("forget")
		r.log.Warn().Err(err).Msg("forget journal records failed, will retry")
		r.unforgotten = append(r.unforgotten, nonces...)
	}
	r.releaseOwners(c, apps...)
	for _, cf := range plain {
		r.release(cf.f, false)
	}
}

// confirmAndAck records the outcome of confirmed applications, then
// acknowledges entries, and reports whether both were written; a failure
// is logged and left for the next pass. The outcome goes before the ack:
// a crash in between repeats both, and both are idempotent; the other way
// round, a crash would leave an acknowledged application with no outcome
// to show. settle and settleBatch both go through it.
func (r *tracker) confirmAndAck(ctx context.Context, confs []stream.Confirmation, entries []stream.Settled, log zerolog.Logger) bool {
	if r.cfg.Status != nil && len(confs) > 0 {
		if err := r.cfg.Status.Confirmed(ctx, confs...); err != nil {
			r.metrics.RedisError("status")
			log.Warn().Err(err).Int("entries", len(confs)).Msg("record confirmations failed, will retry")
			return false
		}
	}
	if err := r.queue.Ack(ctx, entries...); err != nil {
		r.metrics.RedisError("ack")
		log.Warn().Err(err).Int("entries", len(entries)).Msg("ack failed, will retry")
		return false
	}
	return true
}

// resurrected are the nonces of confirmed adopted transactions that this
// wallet sent and no signed flight holds: a journal record there can only
// be one Redis brought back after it was forgotten (a snapshot restore), of
// a mined nonce that nothing will ever settle while this relay runs, so it
// is forgotten with the rest. Forgetting a field that is not there costs
// nothing.
func (r *tracker) resurrected(confirmed []confirmation) []uint64 {
	var out []uint64
	var held map[uint64]bool
	for _, cf := range confirmed {
		if cf.f.st.Signed || !cf.f.hasOwnNonce {
			continue
		}
		if held == nil {
			held, _, _ = r.w.signedNonces()
		}
		if !held[cf.f.ownNonce] {
			out = append(out, cf.f.ownNonce)
		}
	}
	return out
}

// retryForget removes the journal records of settled flights that an
// earlier pass could not remove. Their nonces are mined, so no later record
// can have taken their fields. A failure waits for the next pass, quietly:
// Redis being down is logged by whatever else fails.
func (r *tracker) retryForget(ctx context.Context) {
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
func (r *core) release(f *flight, rescan bool) {
	r.metrics.SetInFlight(r.w.release(f, rescan))
	r.w.wake()
}

// releaseSome removes a flight some of whose applications go back to the
// queue (window.releaseSome) and wakes the submitting loop.
func (r *core) releaseSome(f *flight, requeued map[string]bool) {
	r.metrics.SetInFlight(r.w.releaseSome(f, func(id string) bool { return requeued[id] }))
	r.w.wake()
}

// addFlights puts flights into the window (window.add) and reports the new
// size.
func (r *core) addFlights(fs ...*flight) {
	r.metrics.SetInFlight(r.w.add(fs...))
}
