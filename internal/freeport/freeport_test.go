package freeport

import (
	"context"
	"net"
	"strconv"
	"testing"
)

// TestPortIsFreeAndReleased: the port Get returns can be bound, and the
// listener Listen holds is closed when its test ends.
func TestPortIsFreeAndReleased(t *testing.T) {
	p := Get(t)
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d from Get is not free: %v", p, err)
	}
	l.Close()

	var addr string
	t.Run("listen", func(t *testing.T) { addr = Listen(t).Addr().String() })
	l, err = (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("Listen's port %s still held after its test: %v", addr, err)
	}
	l.Close()
}

// TestPortIsBelowTheEphemeralRange: Get picks below the kernel's ephemeral
// ports, which outgoing connections take, and never a port a listener or a
// connection holds.
func TestPortIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if _, _, ok := pickRange(low); !ok {
		t.Skipf("ephemeral range starts at %d: no room below it, Get falls back to the kernel's choice", low)
	}
	for range 50 {
		if p := Get(t); p < lowest || p >= low {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, low)
		}
	}
	held := Listen(t)
	if bindable(held.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("port %d held by a listener reported bindable", held.Addr().(*net.TCPAddr).Port)
	}
	c, err := net.Dial("tcp", held.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if local := c.LocalAddr().(*net.TCPAddr).Port; bindable(local) {
		t.Fatalf("port %d, a connection's local port, reported bindable", local)
	}
}

func TestPickRange(t *testing.T) {
	for _, tc := range []struct {
		low    int
		lo, hi int
		ok     bool
	}{
		{32768, lowest, 32767, true},
		{49152, lowest, 49151, true},
		{lowest + 1000, lowest, lowest + 999, false}, // 999 ports: too few
		{lowest + 1001, lowest, lowest + 1000, true},
		{1024, lowest, 1023, false},
	} {
		lo, hi, ok := pickRange(tc.low)
		if ok != tc.ok || ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("pickRange(%d) = %d, %d, %v; want %d, %d, %v", tc.low, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}
