package relay

import (
	"context"
	"fmt"

	"github.com/etherisc/depeg-relay/relay/decide"
)

// holdGate holds new submissions while the node's pool holds transactions of
// this wallet at nonces the journal does not know (decide.NextHold). It looks once
// after recover and then, while holding, once per poll interval: unknown
// transactions can only appear while no relay ran (a running relay keeps
// every transaction it signed in memory, whatever Redis loses), so a relay
// that started clean never pays for the check. It reports whether the loop
// may go on; when not, it has waited a poll interval.
//
// When the hold ends, the entries are simulated again as usual: one whose
// application an unknown transaction created gets SIGNATURE_USED, which
// preflight resolves as success by our own transaction (appliedBy), so it
// is acknowledged without a second transaction.
func (r *submitter) holdGate(ctx context.Context) bool {
	if !r.w.holdDue() {
		return true
	}
	c, cancel := r.rpcCtx(ctx)
	header, err := r.chain.HeaderByNumber(c, nil)
	cancel()
	if err != nil {
		r.metrics.RPCError("header")
		r.backoff(ctx, fmt.Errorf("read head to check the pool for unknown transactions: %w", err))
		return false
	}
	c, cancel = r.rpcCtx(ctx)
	mined, pending, err := r.chain.Nonces(c, r.signer.Address(), header.Number)
	cancel()
	if err != nil {
		r.metrics.RPCError("nonce")
		r.backoff(ctx, fmt.Errorf("check the pool for unknown transactions: %w", err))
		return false
	}
	head := header.Number.Uint64()

	before, h, ev, next := r.w.checkHold(mined, pending, head)
	r.metrics.SetUnknownPending(h.Unknown)

	log := r.log.With().Uint64("mined_nonce", mined).Uint64("pending_nonce", pending).Logger()
	switch ev {
	case decide.HoldStarted:
		log.Error().Uint64("unknown", h.Unknown).Uint64("up_to_nonce", h.UpTo).
			Msg("node holds transactions of this wallet the journal does not know (redis lost its last writes?): holding new submissions until they are mined or dropped")
	case decide.HoldMined:
		log.Warn().Uint64("since_block", before.Since).Uint64("next_nonce", next).Msg("unknown transactions mined, submitting again")
	case decide.HoldDropped:
		log.Warn().Uint64("since_block", before.Since).Uint64("next_nonce", next).Msg("unknown transactions dropped by the node, submitting again")
	}
	if !h.Holding() {
		return true
	}
	// Bounded in what it costs, not in time: it keeps holding, says so
	// every STUCK_TX_BLOCKS blocks, and the monitor reports it (and, once
	// entries wait too long, fails its queue check).
	if ev == decide.HoldStarted {
		r.holdWarnedAt = head
	} else if head >= r.holdWarnedAt+r.cfg.StuckBlocks {
		r.holdWarnedAt = head
		log.Warn().Uint64("unknown", h.Unknown).Uint64("blocks", head-h.Since).
			Msg("still holding new submissions behind transactions the journal does not know")
	}
	r.sleep(ctx, r.cfg.PollInterval)
	return false
}
