package leased

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/lifecycle"
)

// TestWaitingStatus: the monitor's lease line says Redis unreachable when
// lease.Wait could not read the key (issue 19, finding 2: it read
// "standby - ... held by " with no holder), a standby only with a holder,
// and never carries Redis's address or the key.
func TestWaitingStatus(t *testing.T) {
	refused := fmt.Errorf("acquire lease {depeg-relay:0xabc}:lease: dial tcp 10.1.2.3:6379: %w", syscall.ECONNREFUSED)
	for _, tc := range []struct {
		name         string
		holder       string
		err          error
		want, absent string
	}{
		{"redis down", "", refused, "redis unreachable - cannot read the wallet's lease: connection refused", "10.1.2.3"},
		{"held elsewhere", "host/42/cafe", nil, "standby - the wallet's lease is held by host/42/cafe", ""},
		{"key gone", "", nil, "standby - the wallet's lease key is gone", "held by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := waitingStatus(tc.holder, tc.err)
			if !strings.HasPrefix(got, tc.want) || (tc.absent != "" && strings.Contains(got, tc.absent)) {
				t.Fatalf("waitingStatus = %q, want %q... without %q", got, tc.want, tc.absent)
			}
		})
	}
	if got := lostStatus(fmt.Errorf("%w (%s)", lease.ErrTakenOver, "{depeg-relay:0xabc}:lease")); !strings.Contains(got, "taken over") {
		t.Fatalf("lostStatus of a takeover = %q", got)
	}
	if got := lostStatus(fmt.Errorf("%w: not renewed for 1s: %w", lease.ErrLost, refused)); !strings.HasSuffix(got, "connection refused") || strings.Contains(got, "10.1.2.3") {
		t.Fatalf("lostStatus of failed renewals = %q", got)
	}
}

// part is a lifecycle part that counts how many of its kind run, and ends
// on its own with fail's error when fail is closed.
type part struct {
	running *atomic.Int32
	fail    chan error
}

func (p part) build() lifecycle.Part {
	return lifecycle.NewFunc(func(ctx context.Context) error {
		p.running.Add(1)
		defer p.running.Add(-1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-p.fail:
			return err
		}
	})
}

func newRunner(t *testing.T, rdb redis.Cmdable, p part, hb *atomic.Int64) (*Runner, *lease.Lease) {
	t.Helper()
	l, err := lease.New(rdb, lease.Key("0xabc"), 600*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Lease: l, Build: p.build, Beat: func(time.Time) { hb.Add(1) }, Log: zerolog.Nop()}), l
}

// TestRunnerOneAtATime: of two runners on one lease, one runs its part and
// the other stands by (beating, its status naming the holder); the holder's
// stop hands the lease over at once; a lease taken over by a third process
// closes the part and puts the runner back in standby; a part that fails on
// its own ends Run with its error.
func TestRunnerOneAtATime(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	pa, pb := part{&atomic.Int32{}, make(chan error, 1)}, part{&atomic.Int32{}, make(chan error, 1)}
	var beatsA, beatsB atomic.Int64
	a, la := newRunner(t, rdb, pa, &beatsA)
	b, _ := newRunner(t, rdb, pb, &beatsB)

	ctxA, stopA := context.WithCancel(t.Context())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	poll.Until(t, 5*time.Second, "a runs its part", func() bool { return pa.running.Load() == 1 && a.Status() == "" })

	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(t.Context()) }()
	poll.Until(t, 5*time.Second, "b stands by", func() bool {
		return b.Status() == "standby - the wallet's lease is held by "+la.Token() && beatsB.Load() > 1
	})
	if pb.running.Load() != 0 {
		t.Fatal("b runs its part while a holds the lease")
	}

	stopA()
	if err := <-doneA; err != nil {
		t.Fatalf("a.Run after ctx ended: %v", err)
	}
	if pa.running.Load() != 0 {
		t.Fatal("a's part still runs after Run returned")
	}
	// Released, not expired: b takes it well within the TTL's wait.
	poll.Until(t, 5*time.Second, "b takes over", func() bool { return pb.running.Load() == 1 && b.Status() == "" })

	other := "elsewhere/1/cafe"
	if err := rdb.Set(t.Context(), lease.Key("0xabc"), other, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "b's part closed on the lost lease, b back in standby", func() bool {
		return pb.running.Load() == 0 && b.Status() == "standby - the wallet's lease is held by "+other
	})

	if err := rdb.Del(t.Context(), lease.Key("0xabc")).Err(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "b runs again once the key is gone for half a TTL", func() bool { return pb.running.Load() == 1 })
	boom := errors.New("boom")
	pb.fail <- boom
	select {
	case err := <-doneB:
		if !errors.Is(err, boom) {
			t.Fatalf("b.Run = %v, want the part's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b.Run did not return after its part failed")
	}
	if h, _ := rdb.Get(t.Context(), lease.Key("0xabc")).Result(); h != lease.Released {
		t.Fatalf("lease after the part failed = %q, want released", h)
	}
}
