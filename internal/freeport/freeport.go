// Package freeport finds free TCP ports for the servers tests and the
// benchmark start (redis-server, the processor's HTTP port, proxies). The
// port is free when it is returned; the caller binds it soon after, or, as
// the kill test does, again after each restart of the process that holds it.
//
// Ports come from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default), never from it: the
// kernel hands ephemeral ports to every outgoing connection, and a suite
// that runs packages side by side opens thousands of them (the hostile HTTP
// tests alone dial over a thousand), so a port picked from that range and
// released could be a client's local port by the time the server binds it
// (CI saw five "address already in use" in half a minute). Below the range
// only another picker can take it, one chance in about twenty thousand.
package freeport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lowest is the bottom of the range ports are picked from: above the
// well-known and common service ports (Redis's 6379, 8080, ...).
const lowest = 10000

// Pick returns a TCP port that nothing listens on or is connected from, on
// any address, picked at random below the ephemeral range; the kernel's own
// choice when that range leaves no room below it.
func Pick() (int, error) {
	if lo, hi, ok := pickRange(ephemeralLow()); ok {
		for range 200 {
			p := lo + rand.IntN(hi-lo+1)
			if bindable(p) {
				return p, nil
			}
		}
	}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pickRange is the range below the ephemeral one, [lowest, ephemeral low -
// 1]; ok is false when that leaves fewer than a thousand ports.
func pickRange(ephemeralLow int) (lo, hi int, ok bool) {
	hi = ephemeralLow - 1
	return lowest, hi, hi-lowest >= 1000
}

// ephemeralLow is the low end of the kernel's ephemeral ports, from
// /proc on Linux; 32768 (Linux's default, below IANA's 49152) elsewhere.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

// bindable reports whether a listener can bind port on every address (the
// processor listens on ":PORT"), which also fails while a connection uses
// it as its local port.
func bindable(port int) bool {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
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
