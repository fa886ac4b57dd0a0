package relay_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/relay"
)

// TestRefusedSendGoesOutOnTheNextHead: a node that keeps 16 of a sender's
// transactions refuses the rest of the first send for a full pool. A refused
// send left nothing in the node, so once a block frees the window the pass
// on that block's head sends the refused nonces at once, without waiting
// ResendAfter (which guards bytes a node accepted and may not show yet), and
// the next block carries them. Before, they waited for ResendAfter, went
// out only on a later head, and missed the next block (issue 21: one key on
// a 16-slot node, the second block empty in two runs of three).
//
// The node is geth's pool behind fullPool, which refuses what geth's pool
// refuses when its limit is reached within one batch: geth alone decides by
// timing (when its reorg loop runs between two adds of a batch, it takes the
// later ones and drops them without telling, which CI saw under load; that
// node is TestStrictPoolDrainsAtItsLimit's).
//
// The relay runs on the fake clock, which moves only where this test moves
// it: the pass on the new head comes 250 ms after the refused send, inside
// the 500 ms ResendAfter of a 2 s poll.
func TestRefusedSendGoesOutOnTheNextHead(t *testing.T) {
	const slots, n = 16, 40
	e := newEnv(t, envOptions{confirmations: 1, maxInFlight: 64, poolSlots: slots, fakeClock: true})
	e.cfg.PollInterval = 2 * time.Second // ResendAfter: min(poll/2, 500 ms) = 500 ms
	e.enqueue(n)
	pendingNonce := func() uint64 {
		_, p, err := e.client.Nonces(t.Context(), e.signer.Address(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	strict := &fullPool{Chain: e.client, from: e.signer.Address(), slots: slots}
	e.startWith(strict, e.queue)
	// The clock stands still: the first send happens at the relay's start.
	eventually(t, 30*time.Second, "the first send, refused past the node's 16", func() bool {
		return e.probe.sends.Load() >= 1 && len(e.journal()) > slots && pendingNonce() == slots
	})
	signed := uint64(len(e.journal()))
	refused := strict.refused.Load()
	if refused != int64(signed-slots) {
		t.Fatalf("the node refused %d of %d signed, want all past its %d", refused, signed, slots)
	}
	sentAt := e.clock.Now()

	resent := metricValue(t, e, "depeg_relay_tx_resent_total")
	sends := e.probe.sends.Load()
	e.chain.Commit() // takes nonces 0-15 and frees the window
	passes := e.probe.passes.Load()
	// The tracker looks at the head every 250 ms before it has learnt the
	// block interval (firstHeadPoll), and the fake clock has not moved since
	// it started: 250 ms make the look that finds the new head. The clock
	// moves in steps of 50 ms, to no more than 450 ms, so that a look still
	// under way when the first steps come (its next one 250 ms from where
	// it ends) is made too, and no pass ResendAfter or later can do the
	// sending.
	eventually(t, 15*time.Second, "the refused nonces sent on the new head's pass", func() bool {
		if e.clock.Now().Sub(sentAt) < 450*time.Millisecond {
			e.clock.Advance(50 * time.Millisecond)
		}
		return e.probe.passes.Load() > passes && e.probe.sends.Load() > sends
	})
	if since := e.clock.Now().Sub(sentAt); since >= 500*time.Millisecond {
		t.Fatalf("%v since the refused send: the test needs less than ResendAfter (500 ms)", since)
	}
	// Only the refused ones: those the node took into its pool and dropped
	// when the block came (it cannot be told from a pool that shows them
	// late) keep the ResendAfter guard.
	again := metricValue(t, e, "depeg_relay_tx_resent_total") - resent
	if again < 1 || again > float64(refused) {
		t.Fatalf("%v re-sent on the new head's pass, want the refused ones only (between 1 and %d)", again, refused)
	}
	t.Logf("%d signed, the node held %d; %v refused ones re-sent on the next head's pass, %v after the send",
		signed, slots, again, e.clock.Now().Sub(sentAt))
}

// fullPool is a node that keeps slots of a sender's transactions: it
// answers geth's "txpool is full" for every transaction whose nonce is slots
// or more above the sender's mined nonce and passes the rest on. With drops,
// it accepts those without keeping them instead, as a hosted provider does:
// the sender learns of the drop only from the node's pending nonce.
type fullPool struct {
	relay.Chain
	from    common.Address
	slots   uint64
	drops   bool
	refused atomic.Int64
}

func (p *fullPool) SendTransactions(ctx context.Context, txs []*types.Transaction) ([]error, error) {
	mined, _, err := p.Nonces(ctx, p.from, nil)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(txs))
	var pass []*types.Transaction
	var at []int
	for i, tx := range txs {
		if tx.Nonce() >= mined+p.slots {
			if !p.drops {
				errs[i] = errors.New("txpool is full")
				p.refused.Add(1)
			}
			continue
		}
		pass, at = append(pass, tx), append(at, i)
	}
	if len(pass) == 0 {
		return errs, nil
	}
	sent, err := p.Chain.SendTransactions(ctx, pass)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		errs[i] = sent[j]
	}
	return errs, nil
}
