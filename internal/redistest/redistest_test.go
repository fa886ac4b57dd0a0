package redistest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(seen)
		mu.Unlock()
		if slices.Equal(got, []string{"a", "b"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher saw SET of %q, want a and b", got)
		}
		time.Sleep(5 * time.Millisecond)
	}

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
