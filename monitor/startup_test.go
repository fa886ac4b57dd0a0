package monitor

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/fakeclock"
)

// TestStartupSaysWhatIsMissing: while the process starts, every report
// fails and names the part it waits for with the category and the time
// its outage began; liveness passes for LoopMaxAge after the start.
func TestStartupSaysWhatIsMissing(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := NewStartup(time.Minute, clock.Now)
	refused := fmt.Errorf("ping 10.0.0.7:6379: %w", os.NewSyscallError("connect", syscall.ECONNREFUSED))
	ctx := context.Background()

	r := s.Check(ctx)
	if r.Healthy() || r.Redis != "error - redis: not reached yet since 2026-01-02T03:04:05Z" || r.Starting != "waiting for redis and chain" {
		t.Fatalf("before any attempt: %+v", r)
	}
	clock.Advance(2 * time.Second)
	s.Set(PartRedis, nil)
	s.Set(PartChain, refused)
	r = s.Check(ctx)
	if r.Redis != StatusOK || r.Chain != "error - chain: connection refused since 2026-01-02T03:04:05Z" ||
		r.Balance != "error - not read yet: waiting for chain" || r.Processor != StatusOK ||
		r.NonAckPendingTx != "error - not checked yet: waiting for chain" || r.Healthy() {
		t.Fatalf("chain down: %+v", r)
	}
	if l := s.Liveness(ctx); !l.Healthy() || l.Chain != "" || l.NonAckPendingTx != "" {
		t.Fatalf("liveness with redis up, chain down: %+v", l)
	}
	if rd := s.Readiness(ctx); rd.Healthy() {
		t.Fatalf("readiness while starting: %+v", rd)
	}
	// Redis goes away: its outage starts now.
	clock.Advance(3 * time.Second)
	s.Set(PartRedis, refused)
	l := s.Liveness(ctx)
	if l.Redis != "error - redis: connection refused since 2026-01-02T03:04:10Z" || l.NonAckPendingTx != "error - redis: connection refused" || l.Healthy() {
		t.Fatalf("liveness with redis down: %+v", l)
	}
	clock.Advance(time.Minute)
	s.Set(PartRedis, nil)
	if l := s.Liveness(ctx); l.Processor != "error - no loop iteration since start 2026-01-02T03:04:05Z, 65s ago (max 60s): waiting for chain" {
		t.Fatalf("after the loop's limit: %q", l.Processor)
	}
}
