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
// signed, and once the shared figure rises the work goes on. On the fake
// clock: the gate waits BALANCE_TOO_LOW_TIMEOUT (an hour) of the relay's
// time between reads, however long the test runs.
func TestBalanceGateReadsSharedBalance(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	var wei atomic.Pointer[big.Int]
	wei.Store(new(big.Int).Div(big.NewInt(params.Ether), big.NewInt(2))) // 0.5 ETH < 1 ETH minimum
	var reads atomic.Int64
	e.cfg.Balance = func(context.Context) (*big.Int, error) {
		reads.Add(1)
		return new(big.Int).Set(wei.Load()), nil
	}
	e.cfg.BalanceTooLowWait = time.Hour
	apps := e.enqueue(1)
	e.start()
	eventually(t, 10*time.Second, "the gate read the shared balance", func() bool { return reads.Load() >= 1 })
	// Five more gate reads below the minimum, an hour apart: five chances
	// to submit.
	e.step = e.cfg.BalanceTooLowWait
	e.until(10*time.Second, "the gate read the shared balance five times", func() bool { return reads.Load() >= 5 })
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
