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
