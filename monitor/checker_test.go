package monitor

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/lifecycle"
)

func TestCheckHealthy(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: testDLQ, Values: map[string]any{"reason": "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	r := f.checker.Check(t.Context())
	if !r.Healthy() {
		t.Fatalf("report not healthy: %+v", r)
	}
	if r.Balance != StatusOK || r.Processor != StatusOK || r.NonAckPendingTx != StatusOK {
		t.Fatalf("checks = %q %q %q, want ok", r.Balance, r.Processor, r.NonAckPendingTx)
	}
	if r.BalanceEth != "2" || r.AlertBalanceEth != "1" {
		t.Errorf("balanceEth = %q alert = %q", r.BalanceEth, r.AlertBalanceEth)
	}
	if r.PendingCount == nil || *r.PendingCount != 0 {
		t.Errorf("pendingCount = %v, want 0", r.PendingCount)
	}
	if r.OldestPendingAgeSeconds != nil {
		t.Errorf("oldestPendingAgeSeconds = %v, want absent without pending entries", *r.OldestPendingAgeSeconds)
	}
	if r.DeadLetterCount == nil || *r.DeadLetterCount != 1 {
		t.Errorf("deadLetterCount = %v, want 1", r.DeadLetterCount)
	}
	if r.InFlight == nil || *r.InFlight != 3 {
		t.Errorf("inFlight = %v, want 3", r.InFlight)
	}
	if want := f.clock.Now().Format(time.RFC3339); r.LastLoopIteration != want {
		t.Errorf("lastLoopIteration = %q, want %q", r.LastLoopIteration, want)
	}
	if r.Runway != "no recent spend" || r.RunwayHours != nil {
		t.Errorf("runway = %q %v, want no recent spend", r.Runway, r.RunwayHours)
	}
}

func TestCheckBalanceBelowAlert(t *testing.T) {
	f := newFixture(t, nil)
	f.bal.set(eth(t, "0.5"), nil)
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := f.checker.Check(t.Context())
	if r.Healthy() {
		t.Fatal("healthy with balance below alert")
	}
	if want := "error - balance 0.5 ETH below alert 1 ETH"; r.Balance != want {
		t.Errorf("balance = %q, want %q", r.Balance, want)
	}
	if r.Processor != StatusOK || r.NonAckPendingTx != StatusOK {
		t.Errorf("other checks failed: %q %q", r.Processor, r.NonAckPendingTx)
	}
}

func TestCheckLoopStalled(t *testing.T) {
	f := newFixture(t, nil)
	last := f.clock.Now()
	f.clock.Advance(75 * time.Second)
	r := f.checker.Check(t.Context())
	want := fmt.Sprintf("error - last loop iteration %s, 75s ago (max 60s)", last.Format(time.RFC3339))
	if r.Processor != want {
		t.Errorf("processor = %q, want %q", r.Processor, want)
	}
	if r.Healthy() {
		t.Error("healthy with stalled loop")
	}
	// The balance was read 75s ago: still fresh with the 90s default.
	if r.Balance != StatusOK {
		t.Errorf("balance = %q", r.Balance)
	}
}

func TestCheckNoLoopIterationYet(t *testing.T) {
	f := newFixture(t, nil)
	f.hb.unixNano.Store(0) // as if the loop never ran
	if r := f.checker.Check(t.Context()); r.Processor != StatusOK {
		t.Fatalf("processor = %q during the start-up grace period, want ok", r.Processor)
	}
	f.clock.Advance(61 * time.Second)
	r := f.checker.Check(t.Context())
	if !strings.HasPrefix(r.Processor, "error - no loop iteration since start ") || !strings.Contains(r.Processor, "61s ago (max 60s)") {
		t.Fatalf("processor = %q", r.Processor)
	}
}

func TestCheckPendingAboveThreshold(t *testing.T) {
	f := newFixture(t, nil)
	f.addPending(t, 10)
	if r := f.checker.Check(t.Context()); r.NonAckPendingTx != StatusOK {
		t.Fatalf("nonAckPendingTx = %q at the threshold, want ok", r.NonAckPendingTx)
	}
	f.addPending(t, 2)
	f.clock.Advance(5 * time.Second)
	r := f.checker.Check(t.Context())
	if want := "error - 12 read and not yet sent > 10"; r.NonAckPendingTx != want {
		t.Fatalf("nonAckPendingTx = %q, want %q", r.NonAckPendingTx, want)
	}
	if r.PendingCount == nil || *r.PendingCount != 12 {
		t.Errorf("pendingCount = %v, want 12", r.PendingCount)
	}
	// The oldest entries were added 5 s ago by the fake clock.
	if a := r.OldestPendingAgeSeconds; a == nil || *a != 5 {
		t.Errorf("oldestPendingAgeSeconds = %v, want 5", a)
	}
	if r.Healthy() {
		t.Error("healthy with too many pending")
	}
}

func TestCheckMissingGroup(t *testing.T) {
	f := newFixture(t, func(c *CheckerConfig) { c.Group = "nobody" })
	r := f.checker.Check(t.Context())
	want := `error - redis: consumer group "nobody" of stream "application:signatures" does not exist`
	if r.NonAckPendingTx != want {
		t.Fatalf("nonAckPendingTx = %q, want %q", r.NonAckPendingTx, want)
	}
}

func TestCheckRedisStopped(t *testing.T) {
	const timeout = 500 * time.Millisecond
	f := newFixture(t, func(c *CheckerConfig) { c.CheckTimeout = timeout })
	f.srv.Stop()
	start := time.Now()
	r := f.checker.Check(t.Context())
	// Generous margin: the bound is the point, not the speed.
	if el := time.Since(start); el > timeout+2*time.Second {
		t.Errorf("check took %s with Redis stopped, want about %s at most", el, timeout)
	}
	if !strings.HasPrefix(r.NonAckPendingTx, "error - redis: ") {
		t.Fatalf("nonAckPendingTx = %q, want a redis error", r.NonAckPendingTx)
	}
	if r.Healthy() {
		t.Error("healthy with Redis stopped")
	}
	// Readiness does no Redis I/O and stays ok.
	if rr := f.checker.Readiness(t.Context()); !rr.Healthy() {
		t.Errorf("readiness = %+v with Redis stopped, want ok", rr)
	}
}

// A Redis that accepts connections and never answers is the outage that
// hangs clients (a partition, a SIGSTOPped server). go-redis keeps waiting
// for its ReadTimeout whatever the context says; the check must not.
//
// The error text says which timeout ended the probe ("no answer within" is
// the check's own); the elapsed bound only detects a hang: ten times the
// check timeout, so a loaded machine does not break it, and well under the
// client's ReadTimeout, the one other timeout that would end the probe.
func TestCheckRedisHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	const readTimeout = 10 * time.Second
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: readTimeout, MaxRetries: -1})
	const timeout, hang = 200 * time.Millisecond, 10 * 200 * time.Millisecond
	c, err := NewChecker(CheckerConfig{
		AlertBalance: eth(t, "1"), LoopMaxAge: time.Minute, MaxPending: 10,
		StreamKey: testStream, Group: testGroup, CheckTimeout: timeout,
		BalanceRefresh: 15 * time.Second, FeeCapGrace: 30 * time.Second,
		Balance: &fakeBalance{wei: eth(t, "2")}, Redis: rdb, Heartbeat: &Heartbeat{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The hung Redis hangs up first, so the abandoned round trip
		// ends at once instead of at its ReadTimeout, and Close, which
		// waits for it, returns.
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
		c.Close()
		rdb.Close()
	})

	var probes sync.WaitGroup
	for range 5 {
		probes.Go(func() {
			start := time.Now()
			r := c.Liveness(t.Context())
			if el := time.Since(start); el > hang {
				t.Errorf("check took %s against a hung Redis, want about %s (a hang past %s; ReadTimeout %s)", el, timeout, hang, readTimeout)
			}
			if want := "error - redis: no answer within 200ms"; r.NonAckPendingTx != want {
				t.Errorf("nonAckPendingTx = %q, want %q", r.NonAckPendingTx, want)
			}
		})
	}
	probes.Wait()
}

func TestProbesDoNotCallBalanceAt(t *testing.T) {
	f := newFixture(t, nil)
	before := f.bal.calls.Load()
	for range 100 {
		f.checker.Check(t.Context())
		f.checker.Readiness(t.Context())
	}
	if got := f.bal.calls.Load(); got != before {
		t.Fatalf("BalanceAt called %d times by probes, want 0", got-before)
	}
}

func TestBalanceStale(t *testing.T) {
	f := newFixture(t, nil)
	f.clock.Advance(95 * time.Second)
	f.hb.Beat(f.clock.Now())
	r := f.checker.Check(t.Context())
	if want := "error - balance 2 ETH is 95s old (max 90s)"; r.Balance != want {
		t.Fatalf("balance = %q, want %q", r.Balance, want)
	}
	if r.BalanceAgeSeconds == nil || *r.BalanceAgeSeconds != 95 {
		t.Errorf("balanceAgeSeconds = %v, want 95", r.BalanceAgeSeconds)
	}
}

func TestBalanceRefreshFailed(t *testing.T) {
	f := newFixture(t, nil)
	const key = "s3cr3tApiKey"
	f.bal.set(nil, fmt.Errorf("fetch: %w", &url.Error{
		Op: "Post", URL: "https://mainnet.infura.io/v3/" + key,
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
	}))
	f.clock.Advance(10 * time.Second)
	if err := f.checker.RefreshBalance(t.Context()); err == nil {
		t.Fatal("refresh succeeded with a failing node")
	}
	r := f.checker.Check(t.Context())
	if !strings.HasPrefix(r.Balance, "error - balance refresh failed 0s ago: ") ||
		!strings.Contains(r.Balance, "(last known 2 ETH, 10s old)") ||
		!strings.Contains(r.Balance, "connection refused") {
		t.Fatalf("balance = %q", r.Balance)
	}
	if strings.Contains(r.Balance, key) || strings.Contains(r.Balance, "infura") {
		t.Fatalf("balance message leaks the RPC key or host: %q", r.Balance)
	}
	// A later success clears the error.
	f.bal.set(eth(t, "2"), nil)
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := f.checker.Check(t.Context()); r.Balance != StatusOK {
		t.Fatalf("balance = %q after a good refresh", r.Balance)
	}
}

func TestBalanceNotReadYet(t *testing.T) {
	bal := &fakeBalance{err: errors.New("dial tcp: connection refused")}
	c, err := NewChecker(CheckerConfig{
		AlertBalance: eth(t, "1"), LoopMaxAge: time.Minute, StreamKey: testStream, Group: testGroup,
		CheckTimeout: time.Second, BalanceRefresh: 15 * time.Second, FeeCapGrace: 30 * time.Second,
		Balance: bal, Redis: redis.NewClient(&redis.Options{}), Heartbeat: &Heartbeat{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Readiness(t.Context()); r.Balance != "error - balance not read yet" {
		t.Fatalf("balance = %q", r.Balance)
	}
	_ = c.RefreshBalance(t.Context())
	if r := c.Readiness(t.Context()); !strings.HasPrefix(r.Balance, "error - balance unknown: refresh failed") {
		t.Fatalf("balance = %q", r.Balance)
	}
}

// TestCheckerIsALifecyclePart: the Checker runs its balance refresher
// itself (issue 20: it ran through an adapter in cmd/processor, and two
// owners closed it). Start returns with the balance read, the refresher
// reads on, Close stops it and later checks say closed; a second Start is
// ErrStarted and Start after Close ErrClosed.
func TestCheckerIsALifecyclePart(t *testing.T) {
	var _ lifecycle.Part = (*Checker)(nil)
	f := newFixture(t, func(c *CheckerConfig) { c.BalanceRefresh = 5 * time.Millisecond })
	before := f.bal.calls.Load()
	if err := f.checker.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.bal.calls.Load() == before {
		t.Fatal("Start returned before the first balance read")
	}
	if _, err := f.checker.BalanceOf(common.HexToAddress("0x00000000000000000000000000000000000000aa")); err != nil {
		t.Fatalf("BalanceOf after Start: %v", err)
	}
	if err := f.checker.Start(t.Context()); !errors.Is(err, lifecycle.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	poll.Until(t, 5*time.Second, "three balance reads by the refresher", func() bool { return f.bal.calls.Load() >= before+3 })
	if err := f.checker.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := f.checker.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if r := f.checker.Check(t.Context()); r.NonAckPendingTx != "error - redis: checker closed" {
		t.Fatalf("nonAckPendingTx after Close = %q", r.NonAckPendingTx)
	}
	if err := f.checker.Start(t.Context()); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestLivenessReadinessSplit(t *testing.T) {
	f := newFixture(t, nil)
	f.bal.set(eth(t, "0.1"), nil)
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	live := f.checker.Liveness(t.Context())
	if live.Balance != "" || live.BalanceEth != "" || live.Processor != StatusOK || live.NonAckPendingTx != StatusOK || !live.Healthy() {
		t.Errorf("liveness = %+v, want processor and nonAckPendingTx ok and no balance", live)
	}
	ready := f.checker.Readiness(t.Context())
	if ready.Processor != "" || ready.NonAckPendingTx != "" || ready.PendingCount != nil || ready.Healthy() {
		t.Errorf("readiness = %+v, want only a failing balance", ready)
	}
	if want := "error - balance 0.1 ETH below alert 1 ETH"; ready.Balance != want {
		t.Errorf("readiness balance = %q, want %q", ready.Balance, want)
	}
}

func TestRunwayFromConfirmedSamples(t *testing.T) {
	f := newFixture(t, nil)
	f.bal.set(eth(t, "3"), nil)
	t0 := f.clock.Now()
	for i := 1; i <= 3; i++ {
		f.clock.Advance(10 * time.Minute)
		f.metrics.Confirmed(t0, f.clock.Now(), eth(t, "0.01"))
	}
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.hb.Beat(f.clock.Now())
	// 0.03 ETH over the 30 minutes observed: 0.06 ETH/hour; 3 ETH last 50h.
	r := f.checker.Check(t.Context())
	if r.SpendWeiPerHour != eth(t, "0.06").String() {
		t.Errorf("spendWeiPerHour = %q, want 6e16", r.SpendWeiPerHour)
	}
	if r.RunwayHours == nil || *r.RunwayHours != 50 {
		t.Fatalf("runwayHours = %v, want 50", r.RunwayHours)
	}
	if r.Runway != "50.0 hours at 0.06 ETH/hour" {
		t.Errorf("runway = %q", r.Runway)
	}
	// Two hours later nothing was spent within the window.
	f.clock.Advance(2 * time.Hour)
	if err := f.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = f.checker.Readiness(t.Context())
	if r.RunwayHours != nil || r.Runway != "no recent spend" || r.SpendWeiPerHour != "" {
		t.Errorf("runway = %v %q %q, want no recent spend", r.RunwayHours, r.Runway, r.SpendWeiPerHour)
	}
}

func TestNewCheckerReportsEveryProblem(t *testing.T) {
	_, err := NewChecker(CheckerConfig{MaxPending: -1, CheckTimeout: -time.Second, MaxWaitAge: -time.Second})
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"alert balance", "loop max age", "max pending", "stream key", "group", "check timeout",
		"balance refresh", "fee cap grace", "max wait age", "balance reader", "redis reader", "heartbeat"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestNewCheckerRequiresConfigsDurations: CheckTimeout, BalanceRefresh and
// FeeCapGrace have their defaults in config (MONITOR_CHECK_TIMEOUT,
// BALANCE_REFRESH_INTERVAL, ERROR_TIMEOUT), not in the monitor, so a
// Checker left with one of them zero is refused with its name instead of
// running on a second default (issue 20: the monitor's 30 s balance refresh
// disagreed with config's 15 s).
func TestNewCheckerRequiresConfigsDurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		zero func(*CheckerConfig)
	}{
		{"check timeout", func(c *CheckerConfig) { c.CheckTimeout = 0 }},
		{"balance refresh", func(c *CheckerConfig) { c.BalanceRefresh = 0 }},
		{"fee cap grace", func(c *CheckerConfig) { c.FeeCapGrace = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := CheckerConfig{
				AlertBalance: eth(t, "1"), LoopMaxAge: time.Minute, StreamKey: testStream, Group: testGroup,
				CheckTimeout: time.Second, BalanceRefresh: 15 * time.Second, FeeCapGrace: 30 * time.Second,
				Balance: &fakeBalance{}, Redis: redis.NewClient(&redis.Options{}), Heartbeat: &Heartbeat{},
			}
			if _, err := NewChecker(cfg); err != nil {
				t.Fatalf("the complete config is refused: %v", err)
			}
			tc.zero(&cfg)
			c, err := NewChecker(cfg)
			if err == nil {
				t.Fatalf("%s zero accepted", tc.name)
			}
			if c != nil || !strings.Contains(err.Error(), tc.name+" is required") {
				t.Fatalf("checker %v, error %q; want none and an error naming %q", c, err, tc.name)
			}
		})
	}
}

// Checks, refreshes and metric updates run concurrently in production; the
// race detector checks the locking.
// TestCheckerConcurrent: checks, balance refreshes, confirmations and beats
// from several goroutines at once (run under -race by CI) each give the
// answer they give alone, and nothing is lost: every confirmation and its
// gas is counted, every refresh reads the balance.
func TestCheckerConcurrent(t *testing.T) {
	f := newFixture(t, nil)
	before := f.bal.calls.Load()
	var wg sync.WaitGroup
	var bad atomic.Int64
	failed := func(format string, args ...any) {
		if bad.Add(1) == 1 { // the first is enough to read
			t.Errorf(format, args...)
		}
	}
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				switch i % 4 {
				case 0:
					if r := f.checker.Check(t.Context()); r.Processor != StatusOK || r.NonAckPendingTx != StatusOK || r.Balance != StatusOK {
						failed("concurrent check: %+v", r)
					}
				case 1:
					if err := f.checker.RefreshBalance(t.Context()); err != nil {
						failed("concurrent balance refresh: %v", err)
					}
				case 2:
					f.metrics.Confirmed(time.Now(), f.clock.Now(), eth(t, "0.001"))
					f.hb.Beat(f.clock.Now())
				case 3:
					if r := f.checker.Liveness(t.Context()); r.Processor != StatusOK || r.NonAckPendingTx != StatusOK {
						failed("concurrent liveness: %+v", r)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(f.metrics.confirmed); got != 100 {
		t.Errorf("confirmed counter %v after 100 concurrent confirmations", got)
	}
	if got, want := testutil.ToFloat64(f.metrics.gasPaid), 100*toFloat(eth(t, "0.001")); got != want {
		t.Errorf("gas paid %v wei, want %v", got, want)
	}
	if got := f.bal.calls.Load() - before; got < 100 {
		t.Errorf("%d balance reads for 100 concurrent refreshes", got)
	}
}

func TestClosedChecker(t *testing.T) {
	f := newFixture(t, nil)
	f.checker.Close()
	if r := f.checker.Check(t.Context()); r.NonAckPendingTx != "error - redis: checker closed" {
		t.Fatalf("nonAckPendingTx = %q", r.NonAckPendingTx)
	}
}

func TestIDTime(t *testing.T) {
	for _, tc := range []struct {
		id   string
		ms   int64
		want bool
	}{
		{"1700000000123-0", 1700000000123, true},
		{"1700000000123-42", 1700000000123, true},
		{"", 0, false},
		{"abc-1", 0, false},
	} {
		got, ok := idTime(tc.id)
		if ok != tc.want || ok && got.UnixMilli() != tc.ms {
			t.Errorf("idTime(%q) = %v, %v", tc.id, got, ok)
		}
	}
}

func TestFeeCapWaitingIsReported(t *testing.T) {
	waiting := false
	f := newFixture(t, func(c *CheckerConfig) { c.WaitingAtFeeCap = func() bool { return waiting } })
	if r := f.checker.Check(t.Context()); r.FeeCap != "" {
		t.Fatalf("feeCap %q while not waiting", r.FeeCap)
	}
	waiting = true
	if r := f.checker.Check(t.Context()); !strings.Contains(r.FeeCap, "MAX_FEE_PER_GAS") {
		t.Fatalf("feeCap %q while waiting at the cap", r.FeeCap)
	}
}
