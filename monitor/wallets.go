package monitor

import (
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
)

// A process may sign with a pool of keys (PROCESSOR_ACCOUNT_INDEX "0-7").
// Each key's relay reports through a WalletMetrics: the counters are the
// process's (they add up), and the gauges that describe one key (balance,
// in flight, node window) are exported per key, with the wallet as label,
// and as their sum under the names a single key always had. The label
// values are bounded by the pool size (config.MaxKeys).

// walletGauges are the per-key gauges, created with the Metrics.
type walletGauges struct {
	balance    *prometheus.GaugeVec
	inFlight   *prometheus.GaugeVec
	nodeHeld   *prometheus.GaugeVec
	nodeWindow *prometheus.GaugeVec
	runwayDesc *prometheus.Desc

	mu   sync.Mutex
	keys []*WalletMetrics // in the order they were added
}

func newWalletGauges() *walletGauges {
	vec := func(sub, name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, []string{"wallet"})
	}
	return &walletGauges{
		balance:    vec("key", "balance_eth", "Balance of each key of the pool, in ETH."),
		inFlight:   vec("key", "in_flight", "Transactions of each key broadcast and not yet final."),
		nodeHeld:   vec("key", "node_held_transactions", "Unmined transactions of each key the node holds."),
		nodeWindow: vec("key", "node_window_transactions", "Unmined transactions each key keeps outstanding."),
		runwayDesc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "key", "runway_seconds"),
			"Time until the key's balance is spent at its gas spend rate of the last hour; absent without recent spend.",
			[]string{"wallet"}, nil),
	}
}

func (g *walletGauges) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.balance, g.inFlight, g.nodeHeld, g.nodeWindow}
}

// WalletMetrics is one key's view of Metrics; it satisfies what the relay
// asks of its metrics. Build it with Metrics.Wallet.
type WalletMetrics struct {
	*Metrics
	label string
	spend *spendWindow

	mu         sync.Mutex
	balanceWei *big.Int
	inFlight   int
	held       uint64
	window     uint64
	unknown    uint64
	atCap      bool
}

// Wallet returns the view of the key with this address, creating it on
// first use; the same address always gets the same view.
func (m *Metrics) Wallet(addr common.Address) *WalletMetrics {
	label := strings.ToLower(addr.Hex())
	g := m.wallets
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, w := range g.keys {
		if w.label == label {
			return w
		}
	}
	w := &WalletMetrics{Metrics: m, label: label, spend: newSpendWindow(m.now(), defaultSpendSpan, defaultSpendSamples)}
	g.keys = append(g.keys, w)
	return w
}

// sum adds up one figure over every key, under the gauges' lock.
func (g *walletGauges) sum(f func(*WalletMetrics) float64) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var s float64
	for _, w := range g.keys {
		w.mu.Lock()
		s += f(w)
		w.mu.Unlock()
	}
	return s
}

// SetInFlight reports the key's transactions in flight; the process gauge
// is the sum over keys.
func (w *WalletMetrics) SetInFlight(n int) {
	w.mu.Lock()
	w.inFlight = n
	w.mu.Unlock()
	w.wallets.inFlight.WithLabelValues(w.label).Set(float64(n))
	w.Metrics.SetInFlight(int(w.wallets.sum(func(k *WalletMetrics) float64 { return float64(k.inFlight) })))
}

// SetNodeWindow reports the key's node window; the process gauges are sums.
func (w *WalletMetrics) SetNodeWindow(held, window uint64) {
	w.mu.Lock()
	w.held, w.window = held, window
	w.mu.Unlock()
	w.wallets.nodeHeld.WithLabelValues(w.label).Set(float64(held))
	w.wallets.nodeWindow.WithLabelValues(w.label).Set(float64(window))
	w.Metrics.SetNodeWindow(
		uint64(w.wallets.sum(func(k *WalletMetrics) float64 { return float64(k.held) })),
		uint64(w.wallets.sum(func(k *WalletMetrics) float64 { return float64(k.window) })))
}

// SetUnknownPending reports the key's unknown pool transactions; the
// process gauge is the sum.
func (w *WalletMetrics) SetUnknownPending(n uint64) {
	w.mu.Lock()
	w.unknown = n
	w.mu.Unlock()
	w.Metrics.SetUnknownPending(uint64(w.wallets.sum(func(k *WalletMetrics) float64 { return float64(k.unknown) })))
}

// WaitingAtFeeCap reports the key waiting at the fee cap; the process gauge
// is 1 while any key waits.
func (w *WalletMetrics) WaitingAtFeeCap(waiting bool) {
	w.mu.Lock()
	w.atCap = waiting
	w.mu.Unlock()
	w.Metrics.WaitingAtFeeCap(w.wallets.sum(func(k *WalletMetrics) float64 {
		if k.atCap {
			return 1
		}
		return 0
	}) > 0)
}

// SetBalance reports the key's balance; the process's balance (and its
// runway) is the sum over the keys whose balance is known.
func (w *WalletMetrics) SetBalance(wei *big.Int) {
	if wei == nil {
		return
	}
	w.mu.Lock()
	w.balanceWei = new(big.Int).Set(wei)
	w.mu.Unlock()
	w.wallets.balance.WithLabelValues(w.label).Set(weiToEth(wei))
	total := new(big.Int)
	w.wallets.mu.Lock()
	for _, k := range w.wallets.keys {
		k.mu.Lock()
		if k.balanceWei != nil {
			total.Add(total, k.balanceWei)
		}
		k.mu.Unlock()
	}
	w.wallets.mu.Unlock()
	w.Metrics.SetBalance(total)
}

// Confirmed counts the confirmation for the process and the gas for the
// key's own spend rate too.
func (w *WalletMetrics) Confirmed(enqueuedAt, now time.Time, gasPaidWei *big.Int) {
	w.Metrics.Confirmed(enqueuedAt, now, gasPaidWei)
	if gasPaidWei != nil && gasPaidWei.Sign() > 0 {
		w.spend.add(now, gasPaidWei)
	}
}

// SpendRate is the key's own gas spend in wei per hour over the last hour.
func (w *WalletMetrics) SpendRate(now time.Time) (*big.Int, bool) {
	return w.spend.rate(now)
}

// collectRunways sends each key's runway, for keys with a balance and
// recent spend.
func (g *walletGauges) collectRunways(ch chan<- prometheus.Metric, now time.Time) {
	g.mu.Lock()
	keys := append([]*WalletMetrics(nil), g.keys...)
	g.mu.Unlock()
	for _, w := range keys {
		rate, ok := w.SpendRate(now)
		w.mu.Lock()
		bal := w.balanceWei
		w.mu.Unlock()
		if ok && bal != nil {
			ch <- prometheus.MustNewConstMetric(g.runwayDesc, prometheus.GaugeValue, ratioFloat(bal, rate)*time.Hour.Seconds(), w.label)
		}
	}
}
