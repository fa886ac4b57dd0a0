package monitor

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// walletBalances is a BalanceReader with one balance per address.
type walletBalances struct {
	mu  sync.Mutex
	wei map[common.Address]*big.Int
}

func (w *walletBalances) BalanceAt(_ context.Context, a common.Address, _ *big.Int) (*big.Int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.wei[a]
	if !ok {
		return nil, errors.New("unknown account")
	}
	return new(big.Int).Set(b), nil
}

var (
	keyA = common.HexToAddress("0x00000000000000000000000000000000000000a1")
	keyB = common.HexToAddress("0x00000000000000000000000000000000000000b2")
)

// poolFixture is a two-key checker: key A holds 3 ETH, key B 0.5 ETH (below
// the 1 ETH alert); A's loop beats, B's may be made stale.
func poolFixture(t *testing.T) (*fixture, *Heartbeat, *Heartbeat, *walletBalances, *Metrics) {
	t.Helper()
	hbA, hbB := &Heartbeat{}, &Heartbeat{}
	bals := &walletBalances{wei: map[common.Address]*big.Int{keyA: eth(t, "3"), keyB: eth(t, "0.5")}}
	reg := prometheus.NewRegistry()
	var m *Metrics
	f := newFixture(t, func(c *CheckerConfig) {
		m = NewMetrics(reg, WithClock(c.Now))
		c.Metrics = m
		c.Balance = bals
		c.Heartbeat = nil
		c.Keys = []KeyConfig{
			{Wallet: keyA, Heartbeat: hbA, InFlight: func() int { return 4 }, NodeWindow: func() (uint64, uint64) { return 3, 16 },
				Metrics: m.Wallet(keyA)},
			{Wallet: keyB, Heartbeat: hbB, InFlight: func() int { return 1 }, NodeWindow: func() (uint64, uint64) { return 1, 16 },
				Standby: func() string { return "standby - the wallet's lease is held by other" }, Metrics: m.Wallet(keyB)},
		}
	})
	return f, hbA, hbB, bals, m
}

func TestPoolReportsEveryKey(t *testing.T) {
	f, hbA, hbB, bals, m := poolFixture(t)
	now := f.clock.Now()
	hbA.Beat(now)
	hbB.Beat(now)
	r := f.checker.Check(t.Context())

	if len(r.Keys) != 2 || r.Keys[0].Wallet != keyA.Hex() || r.Keys[1].Wallet != keyB.Hex() {
		t.Fatalf("keys = %+v", r.Keys)
	}
	if r.Keys[0].Balance != StatusOK || !strings.Contains(r.Keys[1].Balance, "below alert") {
		t.Errorf("key balances = %q, %q; want ok and below alert", r.Keys[0].Balance, r.Keys[1].Balance)
	}
	if !strings.Contains(r.Balance, "1 of 2 keys") || !strings.Contains(r.Balance, keyB.Hex()) || r.Healthy() {
		t.Errorf("balance check = %q, want it to fail naming %s", r.Balance, keyB.Hex())
	}
	if r.BalanceEth != "3.5" {
		t.Errorf("total balance = %q, want 3.5", r.BalanceEth)
	}
	if r.InFlight == nil || *r.InFlight != 5 || *r.NodeHeld != 4 || *r.NodeWindow != 32 {
		t.Errorf("totals: in flight %v, held %v, window %v; want 5, 4, 32", r.InFlight, r.NodeHeld, r.NodeWindow)
	}
	if r.Processor != StatusOK || r.Keys[1].Lease == "" || !strings.Contains(r.Lease, "1 of 2 keys") {
		t.Errorf("processor %q, key B lease %q, lease %q", r.Processor, r.Keys[1].Lease, r.Lease)
	}
	if got := testutil.ToFloat64(m.wallets.balance.WithLabelValues(strings.ToLower(keyB.Hex()))); got != 0.5 {
		t.Errorf("per-key balance gauge = %v, want 0.5", got)
	}
	if got := testutil.ToFloat64(m.balance); got != 3.5 {
		t.Errorf("total balance gauge = %v, want 3.5", got)
	}

	// Funding B makes the check pass after the next refresh.
	bals.mu.Lock()
	bals.wei[keyB] = eth(t, "2")
	bals.mu.Unlock()
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := f.checker.Check(t.Context()); r.Balance != StatusOK {
		t.Errorf("balance after funding = %q", r.Balance)
	}

	// A stalled loop on one key fails the processor check and names it.
	f.clock.Advance(2 * time.Minute)
	hbA.Beat(f.clock.Now())
	r = f.checker.Liveness(t.Context())
	if !strings.Contains(r.Processor, keyB.Hex()) || strings.Contains(r.Processor, keyA.Hex()) {
		t.Errorf("processor check = %q, want it to name only %s", r.Processor, keyB.Hex())
	}
}

func TestBalanceOf(t *testing.T) {
	f, _, _, _, _ := poolFixture(t)
	got, err := f.checker.BalanceOf(keyB)
	if err != nil || got.Cmp(eth(t, "0.5")) != 0 {
		t.Fatalf("BalanceOf(B) = %v, %v", got, err)
	}
	if _, err := f.checker.BalanceOf(common.HexToAddress("0x01")); !errors.Is(err, ErrBalanceUnknown) {
		t.Errorf("BalanceOf(stranger) err = %v, want ErrBalanceUnknown", err)
	}
	f.clock.Advance(10 * time.Minute) // past 3 x BalanceRefresh
	if _, err := f.checker.BalanceOf(keyA); !errors.Is(err, ErrBalanceUnknown) {
		t.Errorf("stale BalanceOf err = %v, want ErrBalanceUnknown", err)
	}
}

// TestWalletMetricsSum: the process gauges are the sums of the keys'.
func TestWalletMetricsSum(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	a, b := m.Wallet(keyA), m.Wallet(keyB)
	if m.Wallet(keyA) != a {
		t.Fatal("Wallet returned a second view of the same key")
	}
	a.SetInFlight(3)
	b.SetInFlight(5)
	a.SetNodeWindow(2, 16)
	b.SetNodeWindow(4, 8)
	a.WaitingAtFeeCap(false)
	b.WaitingAtFeeCap(true)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"in flight", testutil.ToFloat64(m.inFlight), 8},
		{"key in flight", testutil.ToFloat64(m.wallets.inFlight.WithLabelValues(strings.ToLower(keyB.Hex()))), 5},
		{"held", testutil.ToFloat64(m.nodeHeld), 6},
		{"window", testutil.ToFloat64(m.nodeWindow), 24},
		{"at cap", testutil.ToFloat64(m.waitingAtFeeCap), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	b.WaitingAtFeeCap(false)
	if got := testutil.ToFloat64(m.waitingAtFeeCap); got != 0 {
		t.Errorf("at cap after both cleared = %v", got)
	}
}
