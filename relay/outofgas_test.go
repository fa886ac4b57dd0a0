package relay_test

import (
	"bytes"
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/monitor"
)

// shortEstimate answers the first simulation of one application (recognised
// by its signatureId in the call data) with too little gas, as a node behind
// the head can: the transaction then runs out of gas in the message helper's
// sub-call, which leaves the product a 64th of the gas to revert with, so
// the receipt shows less gas used than the limit.
type shortEstimate struct {
	*chain.Client
	marker []byte
	gas    uint64
	used   atomic.Bool
}

func (s *shortEstimate) EstimateGasBatch(ctx context.Context, msgs []ethereum.CallMsg) ([]uint64, []error, error) {
	gas, errs, err := s.Client.EstimateGasBatch(ctx, msgs)
	if err != nil {
		return gas, errs, err
	}
	for i, m := range msgs {
		if errs[i] == nil && bytes.Contains(m.Data, s.marker) && s.used.CompareAndSwap(false, true) {
			gas[i] = s.gas
		}
	}
	return gas, errs, nil
}

// TestOutOfGasInSubCallIsRequeued: a transaction that ran out of gas inside a
// sub-call reverted for a cause that can pass; the application goes back to
// the queue and is created by a second transaction, instead of being
// dead-lettered as an unknown revert (found by the fault suite, with a
// load-balanced node whose lagging backend estimated the call).
func TestOutOfGasInSubCallIsRequeued(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	app := e.enqueue(1)[0]
	// 29000 + 20% margin: above the intrinsic gas, far below the helper's
	// signature check.
	c := &shortEstimate{Client: e.client, marker: app.signatureID[:], gas: 29_000}
	e.startWith(c, e.queue)

	e.mineUntil(30*time.Second, "the application created and settled, or dead-lettered", func() bool {
		return e.created(app.signatureID) == 1 && e.pending() == 0 || len(e.deadLetters()) > 0
	})
	if !c.used.Load() {
		t.Fatal("the short estimate was never given")
	}
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters %v: an out-of-gas revert is not final", dl)
	}
	rcpt, err := e.chain.Client.TransactionReceipt(t.Context(), firstTx(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Status != 0 || rcpt.GasUsed >= 34_800 {
		t.Fatalf("first transaction: status %d, gas used %d; want a revert below its 34800 limit", rcpt.Status, rcpt.GasUsed)
	}
	if got := metricValue(t, e, "depeg_relay_tx_revert_requeued_total", "cause", monitor.RequeueOutOfGas); got != 1 {
		t.Errorf("out-of-gas requeues counted %v, want 1", got)
	}
	if n := e.walletNonce(); n != 2 {
		t.Errorf("wallet nonce %d, want 2 (the reverted transaction and the one that applied)", n)
	}
}

// firstTx is the wallet's transaction at nonce 0.
func firstTx(t *testing.T, e *env) common.Hash {
	t.Helper()
	ctx := t.Context()
	head, err := e.chain.Client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= head; n++ {
		b, err := e.chain.Client.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			if tx.Nonce() == 0 && tx.To() != nil && *tx.To() == e.product.Address {
				return tx.Hash()
			}
		}
	}
	t.Fatal("no transaction at nonce 0")
	return common.Hash{}
}
