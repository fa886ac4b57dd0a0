package lease_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

func TestOneHolderAtATime(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := t.Context()
	key := lease.Key("0xabc")
	a, err := lease.New(rdb, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := lease.New(rdb, key, time.Minute)
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a again (it holds it): %v %v", ok, err)
	}
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("b took a held lease: %v %v", ok, err)
	}
	if h, _ := b.Holder(ctx); h != a.Token() || !strings.Contains(h, "/") {
		t.Fatalf("holder %q, want a's token %q", h, a.Token())
	}
	if err := b.Release(ctx); err != nil { // not b's: no effect
		t.Fatal(err)
	}
	if h, _ := b.Holder(ctx); h != a.Token() {
		t.Fatalf("b's release removed a's lease")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b after a's release: %v %v", ok, err)
	}
	if ok, err := a.Renew(ctx); ok || err != nil {
		t.Fatalf("a renewed b's lease: %v %v", ok, err)
	}
}

// TestExpiryHandsOver: a holder that dies (stops renewing) loses the lease
// after its TTL, and a waiting process takes it. The dead holder's last
// renewal (PEXPIRE to the TTL) comes once the waiter has seen it hold the
// lease: with the TTL set at acquisition, a stall of one TTL before the
// waiter's first look (a loaded machine) let it find no key and rightly take
// it at once, which failed the test (no wait) for no defect.
func TestExpiryHandsOver(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	key := lease.Key("0xabc")
	const ttl = 300 * time.Millisecond
	dead, _ := lease.New(rdb, key, time.Minute)
	if ok, err := dead.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	next, _ := lease.New(rdb, key, ttl)
	waits := 0
	var lastRenewal time.Time
	if err := next.Wait(t.Context(), 20*time.Millisecond, func(holder string, err error) {
		if holder != dead.Token() && err == nil && holder != "" {
			t.Errorf("waiting on %q, want the dead holder", holder)
		}
		if waits == 0 {
			lastRenewal = time.Now()
			if err := rdb.PExpire(t.Context(), key, ttl).Err(); err != nil {
				t.Errorf("the dead holder's last renewal: %v", err)
			}
		}
		waits++
	}); err != nil {
		t.Fatal(err)
	}
	if waits == 0 {
		t.Fatal("took the lease at the first look, while the dead holder still held it")
	}
	if took := time.Since(lastRenewal); took < ttl {
		t.Fatalf("took the lease %v after the holder's last renewal, before its TTL %v ran out", took, ttl)
	}
}

// TestKeepReportsLoss: Keep returns ErrLost when another process holds the
// lease, and when Redis cannot renew it for half the TTL.
func TestKeepReportsLoss(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	key := lease.Key("0xabc")
	a, _ := lease.New(rdb, key, 300*time.Millisecond)
	if ok, err := a.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Keep(t.Context()) }()
	if err := rdb.Set(t.Context(), key, "someone-else", time.Minute).Err(); err != nil { // taken over
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, lease.ErrLost) {
			t.Fatalf("Keep = %v, want ErrLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Keep did not notice the takeover")
	}

	b, _ := lease.New(rdb, lease.Key("0xdef"), 300*time.Millisecond)
	if ok, err := b.TryAcquire(t.Context()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	go func() { done <- b.Keep(t.Context()) }()
	srv.Stop() // Redis gone: renewals fail
	select {
	case err := <-done:
		if !errors.Is(err, lease.ErrLost) {
			t.Fatalf("Keep = %v, want ErrLost once renewals failed for half the TTL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Keep went on without renewals")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Keep(ctx); err != nil {
		t.Fatalf("Keep on an ended context = %v, want nil", err)
	}
}

// TestDeadHolderOnThisHostIsTakenOver: a process of this host that crashed
// (its pid no longer runs) holds the lease; the next one takes it at once
// instead of waiting out the TTL. One on another host is waited for.
func TestDeadHolderOnThisHostIsTakenOver(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := cmd.Process.Pid // ended and reaped: no longer runs
	key := lease.Key("0xabc")
	if err := rdb.Set(t.Context(), key, fmt.Sprintf("%s/%d/deadbeef", host, deadPid), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	l, _ := lease.New(rdb, key, time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var waited []string
	if err := l.Wait(ctx, 20*time.Millisecond, func(holder string, err error) {
		waited = append(waited, fmt.Sprintf("holder %q err %v", holder, err))
	}); err != nil {
		t.Fatalf("a dead holder's lease (TTL a minute) was not taken over: %v", err)
	}
	if len(waited) != 0 {
		t.Fatalf("the takeover did not succeed at the first look: waited %v", waited)
	}
	if h, _ := l.Holder(t.Context()); h != l.Token() {
		t.Fatalf("holder %q after takeover", h)
	}

	other := lease.Key("0xdef")
	if err := rdb.Set(t.Context(), other, fmt.Sprintf("elsewhere/%d/cafe", deadPid), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	m, _ := lease.New(rdb, other, time.Minute)
	short, cancelShort := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancelShort()
	if err := m.Wait(short, 20*time.Millisecond, nil); err == nil {
		t.Fatalf("took a lease held on another host: its process may be alive")
	}
}
