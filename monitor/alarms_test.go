package monitor

import (
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/poll"
)

// TestRedisDownReadsAsRedisDown: a stopped Redis fails the redis check with
// a category and the time the outage began, never the address, and the
// check passes again once Redis answers, without a new checker.
func TestRedisDownReadsAsRedisDown(t *testing.T) {
	f := newFixture(t, func(c *CheckerConfig) { c.CheckTimeout = 500 * time.Millisecond })
	if r := f.checker.Check(t.Context()); r.Redis != StatusOK || !r.Healthy() {
		t.Fatalf("redis up: %+v", r)
	}
	f.srv.Stop()
	down := f.clock.Now()
	// The first probe may outlast the check timeout while the client
	// retries its dial; the category shows once a probe has ended.
	want := "error - redis: connection refused since " + down.UTC().Format(time.RFC3339)
	var r Report
	poll.Until(t, 10*time.Second, "redis check says connection refused", func() bool {
		r = f.checker.Check(t.Context())
		return r.Redis == want
	})
	if r.NonAckPendingTx != "error - redis: connection refused" || r.Healthy() {
		t.Fatalf("redis stopped: nonAckPendingTx %q, healthy %v", r.NonAckPendingTx, r.Healthy())
	}
	// The outage keeps its start.
	f.clock.Advance(time.Minute)
	f.hb.Beat(f.clock.Now())
	if r := f.checker.Liveness(t.Context()); r.Redis != want {
		t.Fatalf("a minute later: redis %q, want %q", r.Redis, want)
	}
	port := strings.TrimPrefix(f.srv.Addr(), "127.0.0.1:")
	for _, s := range []string{r.Redis, r.NonAckPendingTx} {
		if strings.Contains(s, "127.0.0.1") || strings.Contains(s, port) {
			t.Errorf("public answer names the address: %q", s)
		}
	}
	f.srv.Restart()
	// The client waits out its dial back-off before it dials again.
	poll.UntilNil(t, 20*time.Second, "group created again", func() error {
		return f.rdb.XGroupCreateMkStream(t.Context(), testStream, testGroup, "0").Err()
	})
	poll.Until(t, 10*time.Second, "redis check ok again", func() bool {
		r = f.checker.Check(t.Context())
		return r.Redis == StatusOK && r.NonAckPendingTx == StatusOK
	})
}

// TestUnsentCountsEntriesWithoutTransaction: entries whose transaction is
// out (the relay's sent figure) or that are in the batch being submitted do
// not count against MAX_NON_ACK_PENDING_MESSAGES; entries read and left do;
// entries of another process's consumer are a figure only.
func TestUnsentCountsEntriesWithoutTransaction(t *testing.T) {
	var reading, sent atomic.Int64
	f := newFixture(t, func(c *CheckerConfig) {
		c.Keys = []KeyConfig{{Wallet: c.Wallet, Heartbeat: c.Heartbeat, Consumer: "c1",
			Entries: func() (int, int) { return int(reading.Load()), int(sent.Load()) }}}
	})
	f.addPending(t, 30) // under c1
	check := func(what, wantStatus string, wantUnsent, wantAwaiting int64) {
		t.Helper()
		r := f.checker.Check(t.Context())
		if r.NonAckPendingTx != wantStatus || r.UnsentCount == nil || *r.UnsentCount != wantUnsent ||
			r.AwaitingConfirmations == nil || *r.AwaitingConfirmations != wantAwaiting || *r.PendingCount != 30 {
			t.Fatalf("%s: nonAckPendingTx %q unsent %v awaiting %v pending %v; want %q, %d, %d, 30",
				what, r.NonAckPendingTx, r.UnsentCount, r.AwaitingConfirmations, r.PendingCount, wantStatus, wantUnsent, wantAwaiting)
		}
	}
	sent.Store(25)
	reading.Store(5)
	check("burst in hand", StatusOK, 0, 25)
	reading.Store(0)
	check("five read and left", StatusOK, 5, 25)
	sent.Store(10)
	check("twenty read and left", "error - 20 read and not yet sent > 10", 20, 10)

	// Another consumer's entries: judged by their age only.
	sent.Store(30)
	if err := f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: testStream, Values: map[string]any{"entityId": "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{Group: testGroup, Consumer: "old-container",
		Streams: []string{testStream, ">"}, Count: 1, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	r := f.checker.Check(t.Context())
	if r.NonAckPendingTx != StatusOK || r.PendingElsewhere == nil || *r.PendingElsewhere != 1 || *r.UnsentCount != 0 {
		t.Fatalf("other consumer: %q, elsewhere %v, unsent %v", r.NonAckPendingTx, r.PendingElsewhere, r.UnsentCount)
	}
	// Without the relays' figures, every pending entry counts, as before.
	f2 := newFixture(t, nil)
	f2.addPending(t, 11)
	if r := f2.checker.Check(t.Context()); r.NonAckPendingTx != "error - 11 read and not yet sent > 10" {
		t.Fatalf("without Entries: %q", r.NonAckPendingTx)
	}
}

// TestUnsentSnapshotsNeverCountEntriesInHand: an entry read, or settled,
// between the two snapshots around XPENDING is never counted as unsent.
func TestUnsentSnapshotsNeverCountEntriesInHand(t *testing.T) {
	snap := func(reading, sent int64) entriesSnapshot {
		return entriesSnapshot{known: true, reading: map[string]int64{"c1": reading}, sent: map[string]int64{"c1": sent}}
	}
	for _, tc := range []struct {
		name          string
		before, after entriesSnapshot
		pending       int64
		want          int64
	}{
		{"still", snap(0, 20), snap(0, 20), 23, 3},
		{"batch read in between", snap(0, 20), snap(16, 20), 36, 0},
		{"batch sent in between", snap(16, 20), snap(0, 36), 36, 0},
		{"acked in between", snap(0, 20), snap(0, 4), 20, 0},
		{"a batch moving hides the stuck for a moment", snap(16, 20), snap(0, 36), 38, 0},
		{"stuck, nothing moving", snap(0, 36), snap(0, 36), 38, 2},
	} {
		got, _, _ := tc.before.unsent(tc.after, map[string]int64{"c1": tc.pending})
		if got != tc.want {
			t.Errorf("%s: unsent %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestFeesCheck: a base fee above MAX_FEE_PER_GAS fails the fees check once
// it has lasted FeeCapGrace with entries waiting, and says so; below the
// cap, or with nothing waiting, it passes.
func TestFeesCheck(t *testing.T) {
	f := newFixture(t, func(c *CheckerConfig) { c.FeeCapGrace = 30 * time.Second })
	capWei, base := big.NewInt(30), big.NewInt(7*params.GWei)
	f.metrics.SetBaseFee(base, capWei)
	f.addPending(t, 1)
	if r := f.checker.Check(t.Context()); r.Fees != StatusOK {
		t.Fatalf("within the grace: fees %q", r.Fees)
	}
	f.clock.Advance(31 * time.Second)
	f.hb.Beat(f.clock.Now())
	f.metrics.SetBaseFee(base, capWei) // a later reading keeps the start
	r := f.checker.Check(t.Context())
	want := "error - base fee 7 gwei above MAX_FEE_PER_GAS 30 wei for 31s (max 30s): nothing can be sent until the cap is raised or the base fee falls"
	if r.Fees != want || r.Healthy() {
		t.Fatalf("fees %q, want %q", r.Fees, want)
	}
	if rr := f.checker.Readiness(t.Context()); rr.Fees != "" {
		t.Errorf("readiness carries fees %q: it is the balance only", rr.Fees)
	}
	// Nothing waits: the cap loses nothing.
	pend, err := f.rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: testStream, Group: testGroup, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(pend) != 1 {
		t.Fatalf("xpending: %v %v", pend, err)
	}
	f.ack(t, pend[0].ID)
	if r := f.checker.Check(t.Context()); r.Fees != StatusOK {
		t.Fatalf("queue empty: fees %q", r.Fees)
	}
	f.addPending(t, 1)
	f.metrics.SetBaseFee(big.NewInt(10), capWei)
	if r := f.checker.Check(t.Context()); r.Fees != StatusOK || !r.Healthy() {
		t.Fatalf("base fee under the cap: fees %q, %+v", r.Fees, r)
	}
}

func TestFormatFee(t *testing.T) {
	for _, tc := range []struct {
		wei  *big.Int
		want string
	}{
		{big.NewInt(30), "30 wei"},
		{big.NewInt(params.GWei), "1 gwei"},
		{big.NewInt(30 * params.GWei), "30 gwei"},
		{big.NewInt(1_500_000_000), "1.5 gwei"},
	} {
		if got := formatFee(tc.wei); got != tc.want {
			t.Errorf("formatFee(%s) = %q, want %q", tc.wei, got, tc.want)
		}
	}
}
