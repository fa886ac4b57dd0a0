package monitor

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBalanceHistoryBoundedOverItsSpan(t *testing.T) {
	start := time.Unix(1_800_000_000, 0).UTC()
	h := NewBalanceHistory(time.Hour, 60)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * 20 * time.Second) }
	for i := range 10 {
		h.Add(at(i), big.NewInt(int64(1000-i)))
	}
	if got := h.Samples(at(9)); len(got) != 10 {
		t.Fatalf("%d samples of a young history, want every reading (10)", len(got))
	}
	for i := 10; i < 180; i++ { // a read every 20 s for an hour
		h.Add(at(i), big.NewInt(int64(1000-i)))
	}
	now := at(179)
	got := h.Samples(now)
	if len(got) < 30 || len(got) > 60 {
		t.Fatalf("%d samples, want 30..60 for the hour", len(got))
	}
	if got[0].At.After(start.Add(5 * time.Minute)) {
		t.Fatalf("oldest sample %v, want the history to reach back to its start %v", got[0].At, start)
	}
	last := got[len(got)-1]
	if !last.At.Equal(now) || last.Wei.Int64() != 1000-179 {
		t.Fatalf("last sample %v %v, want the latest read %v %d", last.At, last.Wei, now, 1000-179)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].At.After(got[i-1].At) {
			t.Fatalf("samples out of order at %d", i)
		}
	}
	// Samples are copies.
	got[0].Wei.SetInt64(-1)
	if h.Samples(now)[0].Wei.Sign() < 0 {
		t.Fatal("Samples shares its amounts with the history")
	}
	// Many more readings keep it bounded.
	for i := 180; i < 2000; i++ {
		h.Add(at(i), big.NewInt(1))
	}
	if n := len(h.Samples(at(1999))); n < 30 || n > 60 {
		t.Fatalf("%d samples after 2000 readings", n)
	}
	// It forgets what is older than its span.
	later := h.Samples(at(1999).Add(50 * time.Minute))
	if len(later) > 12 {
		t.Fatalf("%d samples 50 minutes later, want only the last ten minutes' ones", len(later))
	}
	var nilHistory *BalanceHistory
	nilHistory.Add(now, big.NewInt(1))
	if nilHistory.Samples(now) != nil {
		t.Fatal("nil history returned samples")
	}
}

func TestRecentConfirmationsNewestFirstBounded(t *testing.T) {
	r := NewRecentConfirmations(3)
	at := time.Unix(1_800_000_000, 0)
	for i := range 5 {
		r.Add(at.Add(time.Duration(i)*time.Second), Confirmation{EntityID: string(rune('a' + i)), Block: uint64(i)})
	}
	got := r.Recent()
	if len(got) != 3 || got[0].EntityID != "e" || got[2].EntityID != "c" {
		t.Fatalf("recent %+v, want e, d, c", got)
	}
	if !got[0].At.Equal(at.Add(4 * time.Second)) {
		t.Fatalf("time %v not filled from Add", got[0].At)
	}
}

func TestRefreshBalanceFeedsHistory(t *testing.T) {
	h := NewBalanceHistory(time.Hour, 60)
	f := newFixture(t, func(c *CheckerConfig) { c.History = h })
	f.clock.Advance(2 * time.Minute)
	f.bal.set(eth(t, "1.5"), nil)
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := h.Samples(f.clock.Now())
	if len(got) != 2 || got[0].Wei.Cmp(eth(t, "2")) != 0 || got[1].Wei.Cmp(eth(t, "1.5")) != 0 {
		t.Fatalf("history %+v, want 2 then 1.5 ETH", got)
	}
}

// staticHealth reports a fixed report.
type staticHealth struct{ r Report }

func (s staticHealth) Check(context.Context) Report { return s.r }

func TestCheckCollector(t *testing.T) {
	pending, lag, dl := int64(4), int64(2), int64(7)
	older, younger := 90.5, 12.0
	c := mustCheckCollector(t, staticHealth{Report{
		Balance: StatusOK, Processor: "error - last loop iteration long ago", NonAckPendingTx: StatusOK,
		PendingCount: &pending, Lag: &lag, DeadLetterCount: &dl,
		OldestPendingAgeSeconds: &younger, OldestUndeliveredAgeSeconds: &older,
	}}, time.Second)
	want := `
# HELP depeg_relay_monitor_check_ok 1 while the /api/monitor check passes, 0 while it fails, by check.
# TYPE depeg_relay_monitor_check_ok gauge
depeg_relay_monitor_check_ok{check="balance"} 1
depeg_relay_monitor_check_ok{check="nonAckPendingTx"} 1
depeg_relay_monitor_check_ok{check="processor"} 0
# HELP depeg_relay_stream_dead_letter_entries Entries in the dead-letter stream (XLEN).
# TYPE depeg_relay_stream_dead_letter_entries gauge
depeg_relay_stream_dead_letter_entries 7
# HELP depeg_relay_stream_lag_entries Entries in the stream not yet delivered to the consumer group (Redis >= 7.0).
# TYPE depeg_relay_stream_lag_entries gauge
depeg_relay_stream_lag_entries 2
# HELP depeg_relay_stream_oldest_waiting_age_seconds Age of the oldest entry waiting in the queue, pending or not yet delivered; absent when none waits.
# TYPE depeg_relay_stream_oldest_waiting_age_seconds gauge
depeg_relay_stream_oldest_waiting_age_seconds 90.5
# HELP depeg_relay_stream_pending_entries Entries delivered to the consumer group and not yet acknowledged (XPENDING).
# TYPE depeg_relay_stream_pending_entries gauge
depeg_relay_stream_pending_entries 4
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}

	// Unknown figures (Redis down) are absent, not zero.
	down := mustCheckCollector(t, staticHealth{Report{NonAckPendingTx: "error - redis: no answer"}}, time.Second)
	if n := testutil.CollectAndCount(down); n != 3 {
		t.Fatalf("%d series with Redis down, want only the three checks", n)
	}
}

func mustCheckCollector(t *testing.T, h HealthReporter, timeout time.Duration) *CheckCollector {
	t.Helper()
	c, err := NewCheckCollector(h, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckCollectorNeedsATimeout: the collector has no default timeout of
// its own (config's MONITOR_CHECK_TIMEOUT is the one), so none is refused
// rather than made up.
func TestCheckCollectorNeedsATimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		if c, err := NewCheckCollector(staticHealth{}, timeout); err == nil || c != nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("timeout %s: collector %v, error %v; want no collector and an error naming the timeout", timeout, c, err)
		}
	}
}

func TestLimitsCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewLimitsCollector(Limits{
		AlertBalance: big.NewInt(15e17), MinBalance: big.NewInt(1e18), LoopMaxAge: time.Minute,
		MaxWaitAge: 10 * time.Minute, MaxPending: 10, MaxInFlight: 512,
	}))
	for name, want := range map[string]float64{
		"depeg_relay_wallet_alert_balance_eth":    1.5,
		"depeg_relay_wallet_min_balance_eth":      1,
		"depeg_relay_loop_max_age_seconds":        60,
		"depeg_relay_stream_max_wait_age_seconds": 600,
		"depeg_relay_stream_max_pending_entries":  10,
		"depeg_relay_tx_max_in_flight":            512,
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() == name {
				found = true
				if got := mf.GetMetric()[0].GetGauge().GetValue(); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		}
		if !found {
			t.Errorf("%s not exported", name)
		}
	}
}

func TestCheckerMaxWaitAgeDefault(t *testing.T) {
	f := newFixture(t, nil)
	if got := f.checker.MaxWaitAge(); got != 10*time.Minute {
		t.Fatalf("MaxWaitAge %s, want 10 x the loop max age", got)
	}
}
