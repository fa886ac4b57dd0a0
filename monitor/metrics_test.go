package monitor

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/etherisc/depeg-relay/internal/fakeclock"
)

func TestMetricsLintClean(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	m := NewMetrics(prometheus.NewRegistry(), WithClock(clock.Now))
	// Touch every metric so vectors and the runway gauge have samples.
	m.EntryReceived()
	m.Submitted(clock.Now().Add(-time.Second), clock.Now())
	m.Confirmed(clock.Now().Add(-time.Minute), clock.Now(), big.NewInt(1e15))
	m.DeadLettered(ClassMalformed)
	m.RPCError("receipt")
	m.RedisError("xack")
	m.SetBalance(big.NewInt(1e18))
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsValues(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, WithClock(clock.Now))

	m.SetBaseFee(big.NewInt(12_500_000_000), big.NewInt(30_000_000_000))
	m.SetBaseFee(nil, nil) // unknown: keeps the last values
	if got := testutil.ToFloat64(m.baseFee); got != 12.5 {
		t.Errorf("base fee gauge = %v gwei, want 12.5", got)
	}
	if got := testutil.ToFloat64(m.maxFeeCap); got != 30 {
		t.Errorf("fee cap gauge = %v gwei, want 30", got)
	}
	m.WaitingAtFeeCap(true)
	if got := testutil.ToFloat64(m.waitingAtFeeCap); got != 1 {
		t.Errorf("waiting at fee cap = %v", got)
	}
	m.SetInFlight(4)
	if got := testutil.ToFloat64(m.inFlight); got != 4 {
		t.Errorf("in flight = %v", got)
	}
	m.LoopIteration(clock.Now())
	if got := testutil.ToFloat64(m.lastLoop); got != 1_800_000_000 {
		t.Errorf("last loop = %v", got)
	}
	m.SetBalance(new(big.Int).Mul(big.NewInt(15), big.NewInt(1e17)))
	if got := testutil.ToFloat64(m.balance); got != 1.5 {
		t.Errorf("balance = %v ETH", got)
	}

	// Unknown classes are folded into "other" so the label stays bounded.
	m.DeadLettered("ERROR:DP-999 something new")
	m.DeadLettered(ClassFunds)
	if got := testutil.ToFloat64(m.deadLettered.WithLabelValues(ClassOther)); got != 1 {
		t.Errorf("other = %v", got)
	}
	if got := testutil.ToFloat64(m.deadLettered.WithLabelValues(ClassFunds)); got != 1 {
		t.Errorf("funds = %v", got)
	}
	m.DeadLettered(ClassFailing) // an entry that failed all its attempts has its own class
	if got := testutil.ToFloat64(m.deadLettered.WithLabelValues(ClassFailing)); got != 1 {
		t.Errorf("failing = %v, want 1 (not folded into other)", got)
	}
	m.SetUnknownPending(2)
	if got := testutil.ToFloat64(m.unknownPending); got != 2 {
		t.Errorf("unknown pool transactions = %v, want 2", got)
	}
	if got := testutil.CollectAndCount(m.deadLettered); got != len(deadLetterClasses()) {
		t.Errorf("dead-letter series = %d, want %d", got, len(deadLetterClasses()))
	}

	// Delays: a zero enqueue time is skipped, a negative delay counts as 0.
	m.Submitted(time.Time{}, clock.Now())
	m.Submitted(clock.Now().Add(time.Second), clock.Now())
	m.Submitted(clock.Now().Add(-3*time.Second), clock.Now())
	if got := testutil.ToFloat64(m.submitted); got != 3 {
		t.Errorf("submitted = %v", got)
	}
	want := `
# HELP depeg_relay_tx_enqueue_to_broadcast_seconds Time from the stream entry's enqueue time to the broadcast of its transaction.
# TYPE depeg_relay_tx_enqueue_to_broadcast_seconds histogram
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="0.5"} 1
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="1"} 1
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="2"} 1
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="5"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="10"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="20"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="30"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="60"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="120"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="300"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="600"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="1800"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="3600"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_bucket{le="+Inf"} 2
depeg_relay_tx_enqueue_to_broadcast_seconds_sum 3
depeg_relay_tx_enqueue_to_broadcast_seconds_count 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "depeg_relay_tx_enqueue_to_broadcast_seconds"); err != nil {
		t.Error(err)
	}
}

func TestRevertedLast24h(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	m := NewMetrics(prometheus.NewRegistry(), WithClock(clock.Now))
	m.RevertedOnChain(clock.Now(), nil)
	clock.Advance(20 * time.Hour)
	m.RevertedOnChain(clock.Now(), nil)
	m.RevertedOnChain(clock.Now(), nil)
	if got := testutil.ToFloat64(m.revertedLastDay); got != 3 {
		t.Errorf("reverted last 24h = %v, want 3", got)
	}
	clock.Advance(5 * time.Hour) // the first revert is now 25h old
	if got := testutil.ToFloat64(m.revertedLastDay); got != 2 {
		t.Errorf("reverted last 24h = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.reverted); got != 3 {
		t.Errorf("reverted total = %v, want 3", got)
	}
}

func TestRunwayGauge(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_800_000_000, 0))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, WithClock(clock.Now))
	m.SetBalance(big.NewInt(3e18))
	// No spend yet: no runway series.
	if n, _ := testutil.GatherAndCount(reg, "depeg_relay_wallet_runway_seconds"); n != 0 {
		t.Errorf("runway series = %d without spend, want 0", n)
	}
	clock.Advance(30 * time.Minute)
	m.Confirmed(clock.Now().Add(-time.Minute), clock.Now(), big.NewInt(3e16))
	want := `
# HELP depeg_relay_wallet_runway_seconds Time until the balance is spent at the gas spend rate of the last hour; absent without recent spend.
# TYPE depeg_relay_wallet_runway_seconds gauge
depeg_relay_wallet_runway_seconds 180000
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "depeg_relay_wallet_runway_seconds"); err != nil {
		t.Error(err)
	}
	clock.Advance(2 * time.Hour)
	if n, _ := testutil.GatherAndCount(reg, "depeg_relay_wallet_runway_seconds"); n != 0 {
		t.Errorf("runway series = %d two hours after the last spend, want 0", n)
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.EntryReceived()
	m.Submitted(time.Now(), time.Now())
	m.Confirmed(time.Now(), time.Now(), big.NewInt(1))
	m.DeadLettered(ClassOther)
	m.SetInFlight(1)
	m.RPCError("x")
	m.RedisError("x")
	m.SetBaseFee(big.NewInt(1), big.NewInt(1))
	m.WaitingAtFeeCap(true)
	m.RevertedOnChain(time.Now(), big.NewInt(1))
	m.SetBalance(big.NewInt(1))
	m.LoopIteration(time.Now())
	if _, ok := m.SpendRate(time.Now()); ok {
		t.Error("nil metrics report a spend rate")
	}
}

func TestNewMetricsRegistersOnGivenRegistryOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) == 0 {
		t.Fatal("nothing registered")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering twice on one registry did not panic")
		}
	}()
	NewMetrics(reg)
}
