package relay_test

import (
	"context"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/params"
)

// TestBalanceGateReadsSharedBalance: with Config.Balance set (the monitor's
// cache, as the service wires it), the minimum-balance gate reads that and
// never asks the node itself; below the minimum nothing is simulated or
// signed, and once the shared figure rises the work goes on.
func TestBalanceGateReadsSharedBalance(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	var wei atomic.Pointer[big.Int]
	wei.Store(new(big.Int).Div(big.NewInt(params.Ether), big.NewInt(2))) // 0.5 ETH < 1 ETH minimum
	var reads atomic.Int64
	e.cfg.Balance = func(context.Context) (*big.Int, error) {
		reads.Add(1)
		return new(big.Int).Set(wei.Load()), nil
	}
	e.cfg.BalanceTooLowWait = 20 * time.Millisecond
	apps := e.enqueue(1)
	e.start()
	// Five more gate reads below the minimum: five chances to submit.
	eventually(t, 10*time.Second, "the gate read the shared balance five times", func() bool { return reads.Load() >= 5 })
	if n := e.probe.estimates.Load(); n != 0 || e.walletNonce() != 0 {
		t.Fatalf("below the minimum: %d simulations, wallet nonce %d; want none", n, e.walletNonce())
	}
	wei.Store(new(big.Int).Mul(big.NewInt(params.Ether), big.NewInt(2)))
	e.mineUntil(20*time.Second, "the application confirmed once funded", func() bool {
		return e.created(apps[0].signatureID) == 1 && e.pending() == 0
	})
	if n := e.probe.balances.Load(); n != 0 {
		t.Fatalf("the relay read the balance from the node %d times beside the shared reader", n)
	}
}
