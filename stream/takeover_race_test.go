package stream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/stream"
)

// beforeDrop runs fn just before the client sends the command that drops a
// consumer (XGROUP DELCONSUMER, or the script that does it).
type beforeDrop struct{ fn func() }

func (h beforeDrop) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h beforeDrop) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		name := strings.ToLower(cmd.Name())
		if name == "evalsha" || name == "eval" || name == "xgroup" && len(a) > 1 && strings.EqualFold(a[1].(string), "delconsumer") {
			h.fn()
		}
		return next(ctx, cmd)
	}
}
func (h beforeDrop) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestTakeOverKeepsEntryReadDuringDrop: the old holder's relay, not yet
// stopped by its lease keeper, reads an entry just as the new holder drops
// its consumer. The entry stays pending (under the old name, for ClaimIdle
// to hand on) instead of leaving the pending list without an ack, which
// lost an application in e2e/fence under load.
func TestTakeOverKeepsEntryReadDuringDrop(t *testing.T) {
	srv, rdb, _ := newQueue(t, stream.Options{})
	old := consumerQueue(rdb, "p1/w", testKeys.Wallet)
	if _, err := old.TakeOver(t.Context()); err != nil {
		t.Fatal(err)
	}
	late := enqueue(t, rdb, "app-late")
	c2 := srv.Client()
	read := 0
	c2.AddHook(beforeDrop{fn: func() {
		if read == 0 {
			e, err := old.ReadNew(t.Context(), 10, time.Millisecond)
			if err != nil {
				t.Errorf("old holder's read: %v", err)
			}
			read = len(e)
		}
	}})
	next := consumerQueue(c2, "p2/w", testKeys.Wallet)
	if _, err := next.TakeOver(t.Context()); err != nil {
		t.Fatal(err)
	}
	if read != 1 {
		t.Fatalf("the old holder read %d entries during the take-over, want 1 (the test's interleaving did not happen)", read)
	}
	if got := pendingBy(t, rdb); got[late] != "p1/w" {
		t.Fatalf("entry %s read by the old holder during the take-over is pending under %q (pending: %v), want kept under p1/w", late, got[late], got)
	}
	// Silent for the idle time ClaimIdle asks: Redis counts idle time in
	// whole milliseconds from the delivery, and a claim in the same
	// millisecond as the read finds it idle 0 (CI once did).
	poll.Until(t, 5*time.Second, "the entry idle 2 ms", func() bool {
		p, err := rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: testKeys.Stream, Group: testKeys.Group,
			Start: late, End: late, Count: 1}).Result()
		return err == nil && len(p) == 1 && p[0].Idle >= 2*time.Millisecond
	})
	claimed, err := next.ClaimIdle(t.Context(), time.Millisecond, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != late {
		t.Fatalf("ClaimIdle after the old holder went silent: %+v (%v), want the entry handed on", claimed, err)
	}
}
