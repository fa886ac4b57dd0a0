package redistest

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/poll"
)

func TestParseMonitorLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`1700000000.123456 [0 127.0.0.1:5555] "XACK" "application:signatures" "g" "1-0"`,
			[]string{"XACK", "application:signatures", "g", "1-0"}},
		{`1.2 [0 unix:/tmp/s] "SET" "a\"b" "\\x" "\x00\xff" "\n"`, []string{"SET", `a"b`, `\x`, "\x00\xff", "\n"}},
		{`1.2 [0 lua] "GET" ""`, []string{"GET", ""}},
		{`OK`, nil},
		{`1.2 [0 x] "unterminated`, nil},
	} {
		got, ok := parseMonitorLine(tc.line)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: parsed as %q, want a refusal", tc.line, got)
			}
			continue
		}
		if !ok || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q (%t), want %q", tc.line, got, ok, tc.want)
		}
	}
}

// A server with AOF keeps its data across a kill -9; one without comes back
// empty; a snapshot brings back the data set as it was; the watcher sees
// commands from both generations; the password is required.
func TestPersistenceSnapshotWatch(t *testing.T) {
	ctx := context.Background()
	s := StartWith(t, Options{Persistence: AOFAlways, Password: "pw-123"})
	var mu sync.Mutex
	var seen []string
	w := s.Watch(t, func(args []string) {
		if args[0] == "SET" {
			mu.Lock()
			seen = append(seen, args[1])
			mu.Unlock()
		}
	})
	c := s.Client()
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	w.Sync(t)
	if v, err := c.Get(ctx, "a").Result(); err != nil || v != "1" {
		t.Fatalf("after restart with AOF: %q, %v", v, err)
	}
	if err := c.Set(ctx, "b", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "the watcher to see SET of a and b", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Equal(seen, []string{"a", "b"})
	})

	plain := Start(t)
	pc := plain.Client()
	if err := pc.Set(ctx, "k", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	snap := plain.Snapshot()
	if err := pc.Set(ctx, "k", "new", 0).Err(); err != nil {
		t.Fatal(err)
	}
	plain.RestoreSnapshot(snap)
	if v, err := pc.Get(ctx, "k").Result(); err != nil || v != "old" {
		t.Fatalf("after restore: %q, %v", v, err)
	}
	plain.Restart()
	if n, err := pc.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("restart without persistence kept %d keys (%v)", n, err)
	}
	if err := pc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	plain.Wipe()
	if n, err := pc.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("wipe kept %d keys (%v)", n, err)
	}
}

// gone reports whether no process has pid any more (killed and reaped: a
// zombie still answers signal 0).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestStopsWhatItStarted: the process of a server is gone after Stop, after
// a Restart the old one is gone and a new one answers, and the test's
// cleanup ends the last one; a server from Launch is gone after Close, with
// its directory.
func TestStopsWhatItStarted(t *testing.T) {
	var pids []int
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		first := s.Pid()
		s.Restart()
		if !gone(first) || s.Pid() == first || gone(s.Pid()) {
			t.Fatalf("restart: old pid %d gone=%v, new pid %d", first, gone(first), s.Pid())
		}
		pids = append(pids, s.Pid())
		stopped := Start(t)
		pid := stopped.Pid()
		stopped.Stop()
		if !gone(pid) || stopped.Pid() != 0 {
			t.Fatalf("after Stop pid %d is still there (Pid() = %d)", pid, stopped.Pid())
		}
		stopped.Stop() // twice is fine
	})
	t.Run("topology", func(t *testing.T) {
		s := StartSentinels(t)
		for _, n := range append([]*Node{s.Master, s.Replica}, s.Sentinels...) {
			pids = append(pids, n.proc.Pid())
		}
		s.Replica.Kill()
		if !gone(pids[len(pids)-4]) {
			t.Fatal("a killed node's process is still there")
		}
	})
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("redis-server pid %d outlived its test", pid)
		}
	}

	s, err := Launch(Options{Args: []string{"--notify-keyspace-events", "Eg"}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	defer c.Close()
	if v, err := c.ConfigGet(context.Background(), "notify-keyspace-events").Result(); err != nil || v["notify-keyspace-events"] == "" {
		t.Errorf("extra argument not applied: %v %v", v, err)
	}
	pid, dir := s.Pid(), s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("launched redis-server pid %d survives Close", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", dir, err)
	}
}

// TestWatcherCatchUp: CatchUp returns only once fn has returned for every
// command executed before it, however long fn takes. fn blocks on the
// first SET until the test releases it; CatchUp's marker has run on the
// server by then, yet CatchUp has not returned.
func TestWatcherCatchUp(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	release := make(chan struct{})
	open := sync.OnceFunc(func() { close(release) })
	var mu sync.Mutex
	var seen []string
	w := s.Watch(t, func(args []string) {
		if args[0] != "SET" {
			return
		}
		if args[1] == "gate" {
			<-release
		}
		mu.Lock()
		seen = append(seen, args[1])
		mu.Unlock()
	})
	t.Cleanup(open) // before the watcher's cleanup, which waits for fn
	c := s.Client()
	for _, k := range []string{"gate", "after"} {
		if err := c.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.CatchUp(t)
	}()
	poll.Until(t, 10*time.Second, "the marker executed on the server", func() bool {
		stats, err := c.Info(ctx, "commandstats").Result()
		return err == nil && strings.Contains(stats, "cmdstat_exists:")
	})
	select {
	case <-done:
		t.Fatal("CatchUp returned while fn was still on a command before its marker")
	default:
	}
	open()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "gate" || seen[1] != "after" {
		t.Fatalf("fn saw %v when CatchUp returned, want [gate after]", seen)
	}
}
