package stream

import (
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/redistest"
)

// TestLiveStore: a process's report is listed until it expires, then it is
// gone from the list and from the index.
func TestLiveStore(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	s := NewLiveStore(rdb, "application:signatures")
	ctx := t.Context()
	if err := s.Put(ctx, "host-1", []byte(`{"a":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	// A TTL the test outlasts: host-2 expires below, when the test says so.
	if err := s.Put(ctx, "host-2", []byte(`{"b":2}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != 2 || string(got["host-1"]) != `{"a":1}` || string(got["host-2"]) != `{"b":2}` {
		t.Fatalf("List = %v, %v; want both", got, err)
	}
	// host-2's entry expires in Redis (PEXPIRE in the past deletes it at
	// once, which is what expiry does too, without a wait).
	if err := rdb.PExpire(ctx, s.key("host-2"), -1).Err(); err != nil {
		t.Fatal(err)
	}
	got, err = s.List(ctx)
	if err != nil || len(got) != 1 || got["host-1"] == nil {
		t.Fatalf("List after host-2 expired = %v, %v; want host-1 only", got, err)
	}
	if n, err := rdb.SCard(ctx, s.index()).Result(); err != nil || n != 1 {
		t.Fatalf("index holds %d names (%v), want 1", n, err)
	}
}
