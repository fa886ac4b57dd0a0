package proctest

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/poll"
)

// gone reports whether no process has pid any more: killed and reaped (a
// zombie still answers signal 0).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func sleepBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestReapsItsChild: a child still running when its test ends is killed and
// reaped by the cleanup; Kill and Shutdown reap it at once; Spawn's process
// is reaped when it exits by itself.
func TestReapsItsChild(t *testing.T) {
	bin := sleepBin(t)
	var left int
	t.Run("cleanup", func(t *testing.T) {
		p := Start(t, bin, Options{Args: []string{"60"}, Name: "sleeper"})
		left = p.Pid()
		if gone(left) || !p.Running() {
			t.Fatal("child not running after Start")
		}
	})
	if !gone(left) {
		t.Fatalf("child %d outlived its test", left)
	}

	p := Start(t, bin, Options{Args: []string{"60"}})
	p.Kill(t)
	if !gone(p.Pid()) || p.Running() {
		t.Fatalf("child %d not reaped after Kill", p.Pid())
	}

	// sleep ends on SIGTERM: Shutdown returns without killing.
	p = Start(t, bin, Options{Args: []string{"60"}})
	if err := p.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !gone(p.Pid()) {
		t.Fatalf("child %d not reaped after Shutdown", p.Pid())
	}

	// A child that ignores SIGTERM is killed after the timeout.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	p, err = Spawn(sh, Options{Args: []string{"-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`}, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the shell to set its trap", func() bool { return strings.Contains(p.Stdout(), "ready") })
	if err := p.Shutdown(200 * time.Millisecond); err == nil {
		t.Error("Shutdown of a child ignoring SIGTERM reported a clean stop")
	}
	if !gone(p.Pid()) {
		t.Fatalf("child %d not reaped after Shutdown's kill", p.Pid())
	}

	if _, err := Spawn(bin, Options{}); err == nil {
		t.Error("Spawn without LogDir succeeded")
	}
}

// TestServingEndsWhenTheChildExits: waiting for HTTP from a child that has
// exited fails at once, not at the deadline.
func TestServingEndsWhenTheChildExits(t *testing.T) {
	p, err := Spawn(sleepBin(t), Options{Args: []string{"0"}, LogDir: t.TempDir(), Env: []string{"PORT=1"}})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	start := time.Now()
	if err := p.Serving(t.Context(), time.Minute); err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("Serving = %v after %v; want an error at once", err, time.Since(start))
	}
}

func TestParseMetrics(t *testing.T) {
	got := ParseMetrics("# HELP x y\n# TYPE x counter\nx_total 3\ny{a=\"b c\"} 1.5\nbad\n")
	if got["x_total"] != 3 || got[`y{a="b c"}`] != 1.5 || len(got) != 2 {
		t.Fatalf("ParseMetrics = %v", got)
	}
}
