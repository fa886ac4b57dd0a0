package relay_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/stream"
)

// failingForget removes no journal record while failing is set, as a Redis
// that drops the connection between the ack and the journal's HDEL.
type failingForget struct {
	*stream.Queue
	failing atomic.Bool
	failed  atomic.Int32
}

func (q *failingForget) Forget(ctx context.Context, nonces ...uint64) error {
	if q.failing.Load() {
		q.failed.Add(1)
		return errors.New("forget: connection refused")
	}
	return q.Queue.Forget(ctx, nonces...)
}

// TestFailedForgetIsRetried: applications confirmed and acknowledged while
// their journal records cannot be removed leave those records only until
// Redis answers again, not until the next start (found by the fault suite:
// a Redis restart in the middle of a settle left ten stale records).
func TestFailedForgetIsRetried(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	q := &failingForget{Queue: e.queue}
	q.failing.Store(true)
	apps := e.enqueue(3)
	e.startWith(e.client, q)
	e.mineUntil(20*time.Second, "the applications confirmed and acknowledged", func() bool {
		for _, a := range apps {
			if e.created(a.signatureID) != 1 {
				return false
			}
		}
		// The records are forgotten after the ack: wait for that attempt.
		return e.pending() == 0 && q.failed.Load() > 0
	})
	if n, err := e.rdb.HLen(t.Context(), e.queue.JournalKey()).Result(); err != nil || n == 0 {
		t.Fatalf("journal holds %d records (%v) while forgetting fails, want the settled ones", n, err)
	}
	q.failing.Store(false)
	e.mineUntil(10*time.Second, "the journal emptied", func() bool {
		n, err := e.rdb.HLen(t.Context(), e.queue.JournalKey()).Result()
		return err == nil && n == 0
	})
}
