package relay_test

import (
	"testing"
	"time"
)

// TestDeepFlightsKeepTheirReceipts: each transaction's receipt is read once,
// when the wallet's mined nonce passes it. When its confirmations are due,
// the pass finds the canonical hash of its block unchanged and judges it on
// the receipt kept from then (decide.LookKept): a block with the same hash
// holds the same transactions. Before, every receipt was read twice, once
// mined and once deep: with 2 confirmations, the receipts were 2.0 of the
// 4.8 JSON-RPC calls per application of a backlog. A moved block is read
// again (TestReorgBeforeConfirmations).
func TestDeepFlightsKeepTheirReceipts(t *testing.T) {
	const n = 8
	e := newEnv(t, envOptions{confirmations: 3})
	apps := e.enqueue(n)
	e.start()
	e.mineUntil(60*time.Second, "the backlog confirmed and acknowledged", func() bool { return e.queueLen() == n && e.pending() == 0 })
	for _, a := range apps {
		if c := e.created(a.signatureID); c != 1 {
			t.Fatalf("application created %d times, want 1", c)
		}
	}
	if got := e.probe.receipts.Load(); got != n {
		t.Fatalf("%d receipts of ours read for %d transactions, want each read once", got, n)
	}
}
