package redisproc_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redisproc"
)

// TestOwnGroupAndClose: a server started with OwnGroup leads a process
// group of its own (a terminal's Ctrl-C does not reach it; dev mode relies
// on it), one without shares the caller's; Close kills it and removes the
// directory Start made, and a second Close does nothing.
func TestOwnGroupAndClose(t *testing.T) {
	for _, own := range []bool{true, false} {
		p, err := redisproc.Start(t.Context(), redisproc.Options{OwnGroup: own, Args: []string{"--save", "", "--appendonly", "no"}})
		if err != nil {
			t.Fatal(err)
		}
		pid := p.Pid()
		pgid, err := syscall.Getpgid(pid)
		if err != nil {
			t.Fatal(err)
		}
		if (pgid == pid) != own || (!own && pgid != syscall.Getpgrp()) {
			t.Errorf("OwnGroup=%v: pgid %d of pid %d (ours %d)", own, pgid, pid, syscall.Getpgrp())
		}
		if err := redisproc.Ping(t.Context(), &redis.Options{Addr: p.Addr()}, 0); err == nil {
			t.Fatal("Ping with no time to answer succeeded")
		}
		if err := redisproc.Ping(t.Context(), &redis.Options{Addr: p.Addr()}, 5e9); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d after Close: %v, want gone", pid, err)
		}
		if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
			t.Errorf("directory %s after Close: %v", p.Dir, err)
		}
		if err := p.Close(); err != nil || p.Pid() != 0 {
			t.Fatalf("second Close = %v, Pid %d", err, p.Pid())
		}
	}
}

// TestStartFailureLeavesNothing: a server that cannot start says why (its
// log) and leaves no directory behind.
func TestStartFailureLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where Start makes its directory
	_, err := redisproc.Start(t.Context(), redisproc.Options{Args: []string{"--no-such-option", "x"}, ReadyWithin: 2e9})
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Start with a bad option = %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%s holds %v after a failed Start", tmp, left)
	}
}
