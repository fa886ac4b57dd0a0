package stream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestReadBacklog: the monitor's figures as stream reads them (issue 20:
// monitor issued XPENDING, XINFO and XRANGE itself): entries read and not
// acked by consumer, the oldest pending entry's time, the lag and the first
// undelivered entry's time, the dead-letter length; a missing group is a
// BacklogError naming XPENDING.
func TestReadBacklog(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := t.Context()
	k := testKeys
	r := stream.NewBacklogReader(rdb, k)
	if _, err := r.ReadBacklog(ctx); !isOp(err, "xpending") {
		t.Fatalf("read without the group = %v, want a BacklogError of xpending", err)
	}
	if err := rdb.XGroupCreateMkStream(ctx, k.Stream, k.Group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	ids := []string{"1000-0", "2000-0", "3000-0"}
	for _, id := range ids {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Stream, ID: id, Values: map[string]any{stream.FieldEntityID: "x"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "c1", Streams: []string{k.Stream, ">"}, Count: 2}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.DeadLetter, Values: map[string]any{"reason": "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	b, err := r.ReadBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Pending != 2 || b.Consumers["c1"] != 2 || !b.OldestPending.Equal(time.UnixMilli(1000)) ||
		b.Lag != 1 || !b.FirstUndelivered.Equal(time.UnixMilli(3000)) || !b.DeadLettersOK || b.DeadLetters != 1 || b.DeadLettersErr != nil {
		t.Fatalf("backlog = %+v", b)
	}
}

func isOp(err error, op string) bool {
	var be *stream.BacklogError
	return errors.As(err, &be) && be.Op == op
}
