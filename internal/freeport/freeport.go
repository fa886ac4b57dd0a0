// Package freeport finds free TCP ports on the loopback interface for the
// servers tests and the benchmark start (redis-server, the processor's HTTP
// port, proxies). The port is free when it is returned; the caller binds it
// soon after, as every user here does within milliseconds.
package freeport

import (
	"context"
	"fmt"
	"net"
	"testing"
)

// Pick asks the kernel for a free TCP port on 127.0.0.1.
func Pick() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Get is Pick for a test: it fails the test when no port is free.
func Get(t testing.TB) int {
	t.Helper()
	p, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Listen binds a listener on a free loopback port and closes it when the test
// ends, for a test server that must hold its port from the start.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on a free port: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
