package monitor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// addAt appends an entry whose id encodes at: the enqueue time the checker
// reads, independent of the Redis server's clock.
func (f *fixture) addAt(t *testing.T, at time.Time) string {
	t.Helper()
	id, err := f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: testStream, ID: fmt.Sprintf("%d-0", at.UnixMilli()),
		Values: map[string]any{"entityId": at.Unix()}}).Result()
	if err != nil {
		t.Fatalf("xadd: %v", err)
	}
	return id
}

// deliver reads n new entries into the group, as the relay's intake does.
func (f *fixture) deliver(t *testing.T, n int) []string {
	t.Helper()
	res, err := f.rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{
		Group: testGroup, Consumer: "c1", Streams: []string{testStream, ">"}, Count: int64(n), Block: -1,
	}).Result()
	if err != nil {
		t.Fatalf("xreadgroup: %v", err)
	}
	var ids []string
	for _, m := range res[0].Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func (f *fixture) ack(t *testing.T, ids ...string) {
	t.Helper()
	if err := f.rdb.XAck(t.Context(), testStream, testGroup, ids...).Err(); err != nil {
		t.Fatalf("xack: %v", err)
	}
}

// TestLivenessFailsWhenLagDoesNotFall: entries wait in the stream while the
// loop beats and nothing is pending (an intake that stopped reading). The
// queue check passes while the oldest unread entry is younger than
// MaxWaitAge, fails once it is older, passes again once the intake reads
// on (the lag falls), and fails again when it then stops.
func TestLivenessFailsWhenLagDoesNotFall(t *testing.T) {
	f := newFixture(t, func(c *CheckerConfig) { c.MaxWaitAge = 10 * time.Minute })
	now := f.clock.Now()
	f.addAt(t, now.Add(-15*time.Minute))
	f.addAt(t, now.Add(-5*time.Minute))
	f.addAt(t, now.Add(-time.Minute))

	r := f.checker.Liveness(t.Context())
	if want := "error - 3 entries not yet read, the oldest enqueued 900s ago (max 600s): the queue makes no progress"; r.NonAckPendingTx != want {
		t.Fatalf("nonAckPendingTx = %q, want %q", r.NonAckPendingTx, want)
	}
	if r.Healthy() || r.Processor != StatusOK || r.PendingCount == nil || *r.PendingCount != 0 {
		t.Fatalf("liveness %+v: want only the queue check failing, with nothing pending", r)
	}
	if r.Lag == nil || *r.Lag != 3 || r.OldestUndeliveredAgeSeconds == nil || *r.OldestUndeliveredAgeSeconds != 900 {
		t.Errorf("lag %v, oldest undelivered age %v; want 3 and 900", r.Lag, r.OldestUndeliveredAgeSeconds)
	}

	// The intake reads the oldest and finishes it: the lag falls.
	f.ack(t, f.deliver(t, 1)...)
	r = f.checker.Liveness(t.Context())
	if r.NonAckPendingTx != StatusOK || r.Lag == nil || *r.Lag != 2 {
		t.Fatalf("after progress: nonAckPendingTx %q, lag %v; want ok and 2", r.NonAckPendingTx, r.Lag)
	}

	// It stops again: six minutes later the lag has not fallen.
	f.clock.Advance(6 * time.Minute)
	f.hb.Beat(f.clock.Now())
	r = f.checker.Liveness(t.Context())
	if !strings.HasPrefix(r.NonAckPendingTx, "error - 2 entries not yet read, the oldest enqueued 660s ago") {
		t.Fatalf("nonAckPendingTx = %q, want the stalled intake", r.NonAckPendingTx)
	}
}

// TestLivenessFailsWhenOldestPendingTooOld: one entry was delivered and is
// never finished (an entry the relay keeps failing on) while new ones flow
// and the pending count stays far below MAX_NON_ACK_PENDING_MESSAGES. The
// check fails once that entry is older than MaxWaitAge, whatever else moves.
func TestLivenessFailsWhenOldestPendingTooOld(t *testing.T) {
	f := newFixture(t, nil) // MaxWaitAge defaults to 10 x LoopMaxAge = 10 minutes
	start := f.clock.Now()
	stuck := f.addAt(t, start.Add(-time.Minute))
	f.deliver(t, 1)
	for i := range 4 {
		f.clock.Advance(3 * time.Minute)
		f.hb.Beat(f.clock.Now())
		f.addAt(t, f.clock.Now())
		f.ack(t, f.deliver(t, 1)...) // new entries go through
		r := f.checker.Liveness(t.Context())
		age := time.Duration(3*(i+1)+1) * time.Minute
		if age <= 10*time.Minute {
			if r.NonAckPendingTx != StatusOK {
				t.Fatalf("at %s: nonAckPendingTx = %q, want ok", age, r.NonAckPendingTx)
			}
			continue
		}
		want := fmt.Sprintf("error - oldest pending entry enqueued %ds ago (max 600s): the queue makes no progress", int(age.Seconds()))
		if r.NonAckPendingTx != want || r.Healthy() {
			t.Fatalf("at %s: nonAckPendingTx = %q, want %q", age, r.NonAckPendingTx, want)
		}
		if r.Lag == nil || *r.Lag != 0 || r.OldestUndeliveredAgeSeconds != nil {
			t.Errorf("lag %v, oldest undelivered %v: want 0 and absent", r.Lag, r.OldestUndeliveredAgeSeconds)
		}
	}
	// Once the stuck entry is settled (dead-lettered), the queue is fine.
	f.ack(t, stuck)
	if r := f.checker.Liveness(t.Context()); r.NonAckPendingTx != StatusOK {
		t.Fatalf("after the stuck entry was settled: %q", r.NonAckPendingTx)
	}
}

func TestMaxWaitAgeDefault(t *testing.T) {
	f := newFixture(t, func(c *CheckerConfig) { c.LoopMaxAge = 30 * time.Second })
	if got := f.checker.cfg.MaxWaitAge; got != 5*time.Minute {
		t.Fatalf("MaxWaitAge default = %s, want 10 x LoopMaxAge = 5m", got)
	}
}

func TestHeldByUnknownIsReported(t *testing.T) {
	var n uint64
	holding := false
	f := newFixture(t, func(c *CheckerConfig) {
		c.HeldByUnknown = func() (uint64, bool) { return n, holding }
	})
	if r := f.checker.Liveness(t.Context()); r.Holding != "" {
		t.Fatalf("holding %q while not holding", r.Holding)
	}
	n, holding = 2, true
	r := f.checker.Liveness(t.Context())
	if !strings.HasPrefix(r.Holding, "waiting - the node holds 2 transaction(s)") || !r.Healthy() {
		t.Fatalf("holding %q, healthy %v: want it reported, not failing by itself", r.Holding, r.Healthy())
	}
}
