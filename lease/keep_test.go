package lease_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

// failures counts the commands of a client that came back with an error
// other than redis.Nil: here, Keep's renewals against a stopped Redis.
type failures struct{ n atomic.Int64 }

func (f *failures) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failures) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) {
			f.n.Add(1)
		}
		return err
	}
}
func (f *failures) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestKeepGivesUpAtHalfTheTTL: a holder cut off from Redis stops (ErrLost)
// once its renewals have failed for half the TTL, and not before: by the
// time a waiter may take the key (more than half a TTL after it saw it
// gone, or the TTL after the last renewal) the holder has stopped signing.
// Time is the lease's clock, so "half the TTL" is exact.
func TestKeepGivesUpAtHalfTheTTL(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	var failed failures
	rdb.AddHook(&failed)
	const ttl = 300 * time.Millisecond // renewals every 100 ms of real time
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, _ := lease.New(rdb, lease.Key("0xabc"), ttl)
	l.SetClock(clock.Now)
	if ok, err := l.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Keep(t.Context()) }()
	srv.Stop()

	// One nanosecond short of half the TTL since the last renewal: Keep
	// goes on through several failed renewals.
	clock.Advance(ttl/2 - time.Nanosecond)
	seen := failed.n.Load()
	poll.Until(t, 10*time.Second, "three failed renewals", func() bool { return failed.n.Load() >= seen+3 })
	select {
	case err := <-done:
		t.Fatalf("Keep = %v before renewals had failed for half the TTL", err)
	default:
	}
	if !l.MayRestore() {
		t.Fatal("MayRestore false before half the TTL")
	}

	// Half the TTL: the next failed renewal ends Keep with ErrLost (Redis
	// unreachable, not a takeover), and the holder may no longer restore
	// the key nor pass the fence.
	clock.Advance(time.Nanosecond)
	select {
	case err := <-done:
		if !errors.Is(err, lease.ErrLost) || errors.Is(err, lease.ErrTakenOver) {
			t.Fatalf("Keep = %v, want ErrLost (not renewed)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Keep went on after renewals had failed for half the TTL")
	}
	if l.MayRestore() {
		t.Fatal("MayRestore true after Keep gave the lease up")
	}
	if _, _, _, mayRestore := l.Fence(); mayRestore {
		t.Fatal("the fence would restore a key the holder gave up")
	}
}

// TestRestoreWindowIsHalfTheTTL: a holder may set its lease key again
// (after Redis lost it) only while its last renewal is younger than half
// the TTL; a waiter takes a key it has seen gone for longer than that, so
// the two never both write it. Release and a lease never taken close the
// window.
func TestRestoreWindowIsHalfTheTTL(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	const ttl = 10 * time.Second
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, _ := lease.New(rdb, lease.Key("0xabc"), ttl)
	l.SetClock(clock.Now)
	if l.MayRestore() {
		t.Fatal("MayRestore true for a lease never taken")
	}
	if ok, err := l.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, step := range []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},
		{ttl/2 - time.Nanosecond, true},
		{time.Nanosecond, false}, // exactly half the TTL
		{ttl, false},
	} {
		clock.Advance(step.advance)
		if got := l.MayRestore(); got != step.want {
			t.Fatalf("%v after the last renewal: MayRestore = %v, want %v", clock.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), got, step.want)
		}
		if _, _, _, got := l.Fence(); got != step.want {
			t.Fatalf("Fence's mayRestore = %v, want %v", got, step.want)
		}
	}

	// A renewal reopens it; a release closes it at once.
	if ok, err := l.Renew(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if !l.MayRestore() {
		t.Fatal("MayRestore false right after a renewal")
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if l.MayRestore() {
		t.Fatal("MayRestore true after Release")
	}
}

// TestKeepDoesNotRestoreOutsideTheWindow: a key gone while the holder's
// last renewal is older than half the TTL may have been taken and given up
// by another process since: Keep does not set it again, it stops
// (ErrTakenOver) and leaves the key gone.
func TestKeepDoesNotRestoreOutsideTheWindow(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	const ttl = 300 * time.Millisecond
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	key := lease.Key("0xabc")
	l, _ := lease.New(rdb, key, ttl)
	l.SetClock(clock.Now)
	if ok, err := l.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	clock.Advance(ttl / 2) // the lease's clock says the last renewal is half a TTL old
	if err := rdb.Del(t.Context(), key).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.Keep(ctx); !errors.Is(err, lease.ErrTakenOver) {
		t.Fatalf("Keep = %v, want ErrTakenOver", err)
	}
	if n := rdb.Exists(t.Context(), key).Val(); n != 0 || l.Restored() != 0 {
		t.Fatalf("the key was set again outside the restore window (exists %d, restored %d)", n, l.Restored())
	}
}

// keepCalls counts Keep's renewals (the EVALSHA/EVAL of its script).
type keepCalls struct{ n atomic.Int64 }

func (k *keepCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (k *keepCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			k.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (k *keepCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestKeepRenewsWithinTheTTL: Keep renews every TTL/3, so a live,
// connected holder's key never expires under it. Renewing less often than
// the TTL would let the key lapse between renewals and hand the wallet to a
// waiter while this holder still signs.
func TestKeepRenewsWithinTheTTL(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	var calls keepCalls
	rdb.AddHook(&calls)
	const ttl = 3 * time.Second // renewals every second
	key := lease.Key("0xabc")
	l, _ := lease.New(rdb, key, ttl)
	if ok, err := l.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Keep(ctx) }()
	start := calls.n.Load()
	// Three renewals take about 3 s, the TTL: a Keep renewing less often
	// than every TTL/3 does not make them within twice that.
	poll.Until(t, 2*ttl, "three renewals", func() bool { return calls.n.Load() >= start+3 })
	select {
	case err := <-done:
		t.Fatalf("Keep = %v while the holder renewed in time", err)
	default:
	}
	if h, err := l.Holder(t.Context()); err != nil || h != l.Token() {
		t.Fatalf("holder %q (%v), want this holder after a TTL of renewals", h, err)
	}
	if pttl := rdb.PTTL(t.Context(), key).Val(); pttl < ttl/2 {
		t.Fatalf("lease key expires in %v right after a renewal, want about the TTL (%v)", pttl, ttl)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Keep = %v after cancel", err)
	}
}
