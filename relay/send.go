package relay

import (
	"context"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// broadcast sends flights' signed bytes in one batch, in the order given:
// for each, the replacement being tried if there is one, else the accepted
// transaction. Whatever the node answers, the flights stay tracked: the
// tracker reconciles by receipt and nonce and sends again when the node does
// not hold them. A replacement's answer decides which transaction is current
// (afterSend).
func (r *core) broadcast(ctx context.Context, flights ...*flight) {
	txs, logs, resent := r.w.sending(flights)
	r.metrics.Resent(resent)
	c, cancel := r.rpcCtx(ctx)
	errs, err := r.chain.SendTransactions(c, txs)
	cancel()
	r.w.sentAt(flights, r.clock.Now())
	actions := make([]chain.SendAction, len(txs))
	for i, tx := range txs {
		sendErr := err
		if err == nil {
			sendErr = errs[i]
		}
		actions[i] = chain.ClassifySendError(sendErr)
		log := logs[i]
		switch actions[i] {
		case chain.SendOK:
			log.Info().Str("sent_tx", tx.Hash().Hex()).Str("fee_cap_wei", tx.GasFeeCap().String()).
				Str("tip_wei", tx.GasTipCap().String()).Uint64("gas", tx.Gas()).Msg("transaction broadcast")
		case chain.SendNonceUsed:
			log.Warn().Err(sendErr).Msg("node says nonce already used, reconciling")
		case chain.SendUnknown:
			r.metrics.RPCError("send")
			log.Warn().Err(sendErr).Msg("broadcast outcome unknown, will reconcile by hash")
		case chain.SendPoolFull:
			log.Debug().Err(sendErr).Msg("node keeps no more of our transactions for now, will send again")
		default:
			r.metrics.RPCError("send")
			log.Warn().Err(sendErr).Msg("node refused transaction for now, will send again")
		}
	}
	// Refusals first: afterSend clears the replacements, and a replacement
	// refused by a full pool says nothing about the window.
	r.w.noteRefusals(flights, txs, actions)
	r.afterSend(ctx, flights, txs, actions)
}

// afterSend settles the replacements a broadcast carried. One the node took
// (or may have taken: the answer was lost) becomes the accepted transaction,
// which later replacements must outbid and re-broadcasts send. One it refused
// is dropped, and the transaction the pool holds stays current, so the relay
// never re-broadcasts bytes the node does not want while the ones it holds
// wait. Either way the journal is brought up to date in one round trip; if
// that write fails, the record still has both transactions and a restart
// tries the replacement again.
func (r *core) afterSend(ctx context.Context, flights []*flight, sent []*types.Transaction, actions []chain.SendAction) {
	recs, refused := r.w.answered(r.policy(), flights, sent, actions)
	for range refused {
		r.metrics.ReplacementRefused()
	}
	if len(recs) == 0 {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Record(c, recs...); err != nil {
		r.metrics.RedisError("journal")
		r.log.Warn().Err(err).Int("records", len(recs)).Msg("journal replacement outcome failed")
	}
}

// fillGaps sends zero-value self-transfers at nonces that nothing holds
// (decide.GapNonces): not our journal, not the node's pool. Until something is
// mined there, every transaction above waits forever. That happens when the
// node dropped a transaction the journal no longer has, when a journal record
// was lost, or when an earlier processor's transaction was dropped. The gap
// must last STUCK_TX_BLOCKS, seen in two different blocks, so that a lagging
// backend's answer does not cost a transfer. Fills are journaled before they
// are sent, like any transaction, and forgotten once confirmed.
func (r *tracker) fillGaps(ctx context.Context, header *types.Header, mined, pending uint64) {
	head := header.Number.Uint64()
	have, _, _ := r.w.signedNonces()
	gaps := decide.GapNonces(have, mined, pending)
	switch {
	case len(gaps) == 0:
		r.gapSince = 0
		return
	case r.gapSince == 0:
		r.gapSince = r.gapSince.Note(head)
		r.log.Warn().Uint64("mined_nonce", mined).Uint64("pending_nonce", pending).Int("gaps", len(gaps)).
			Uint64("first_gap", gaps[0]).Msg("nonce gap below our transactions: nothing holds these nonces")
		return
	case !r.gapSince.TwoBlocks(head, r.cfg.StuckBlocks):
		return
	}
	fees, err := r.quote(ctx, header)
	if err != nil {
		r.log.Warn().Err(err).Msg("cannot price gap fill, waiting")
		return
	}
	self := r.signer.Address()
	flights := make([]*flight, 0, len(gaps))
	recs := make([]stream.TxRecord, 0, len(gaps))
	now := r.clock.Now().UTC()
	for _, n := range gaps {
		tx, err := r.signer.Sign(chain.Call{To: self}, n, gasTransfer, fees)
		if err != nil {
			r.log.Error().Err(err).Msg("sign gap fill failed")
			return
		}
		raw, err := tx.MarshalBinary()
		if err != nil {
			r.log.Error().Err(err).Msg("encode gap fill failed")
			return
		}
		rec := stream.TxRecord{Nonce: n, Kind: stream.KindGapFill, Hashes: []string{tx.Hash().Hex()},
			RawTx: hexutil.Encode(raw), SignedAt: now}
		f := &flight{rec: rec, st: decide.State{Nonce: n, Signed: true, GapFill: true}, baseLog: r.log.With().Str("kind", rec.Kind).Logger()}
		f.setTx(tx)
		flights, recs = append(flights, f), append(recs, rec)
	}
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Record(safe, recs...); err != nil {
		r.metrics.RedisError("journal")
		r.log.Warn().Err(err).Msg("journal gap fills failed, not sending them")
		return
	}
	r.addFlights(flights...)
	for _, f := range flights {
		r.metrics.GapFilled()
		f.log.Warn().Uint64("mined_nonce", mined).Msg("filling nonce gap with a zero-value self-transfer")
	}
	r.gapSince = 0
	r.broadcast(safe, flights...)
}

// gasTransfer is the gas of a plain value transfer to an account without
// code: what a gap fill needs.
const gasTransfer = 21_000
