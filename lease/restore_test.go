package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

// TestKeepRestoresLostKey: Redis loses the lease key (a failover to a
// replica that had not received it, FLUSHALL, a restart without
// persistence) while its holder renews in time: Keep sets it again instead
// of stopping the relay, and a second process still cannot take it. "In
// time" is the lease's clock, held still: on the real clock the first
// renewal after the loss had to come within half the TTL (300 ms) of the
// last one, 100 ms past its 200 ms tick, and a scheduler that late (a
// loaded machine) made Keep rightly refuse to restore (ErrTakenOver). The
// control, a renewal too old to restore, is
// TestKeepDoesNotRestoreOutsideTheWindow.
func TestKeepRestoresLostKey(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	key := lease.Key("0xabc")
	a, _ := lease.New(rdb, key, 600*time.Millisecond)
	a.SetClock(fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Now)
	if ok, err := a.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Keep(ctx) }()
	if err := rdb.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "lease key restored", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Keep returned %v after the key was lost, want it restored", err)
		default:
		}
		return a.Restored() > 0
	})
	b, _ := lease.New(rdb, key, 600*time.Millisecond)
	if ok, err := b.TryAcquire(t.Context()); ok || err != nil {
		t.Fatalf("second holder acquired a restored lease: %v, %v", ok, err)
	}
	if h, _ := b.Holder(t.Context()); h != a.Token() {
		t.Fatalf("holder = %q, want %q", h, a.Token())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Keep = %v after cancel", err)
	}
}
