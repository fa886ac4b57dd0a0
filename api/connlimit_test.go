package api

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// fakeConn is a connection as ConnState sees it: a peer address, and
// whether the limit closed it.
type fakeConn struct {
	net.Conn
	name   string
	remote net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

func TestClientKey(t *testing.T) {
	shared := []netip.Prefix{netip.MustParsePrefix("172.17.0.1/32"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		addr, want string
	}{
		{"203.0.113.7:4000", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:4000", "203.0.113.7"},
		{"[2001:db8:1:2:aaaa::1]:4000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:5000", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:4000", "fe80::/64"},
		{"172.17.0.1:4000", ""}, // the proxy
		{"[fd00::5]:4000", ""},
		{"172.17.0.2:4000", "172.17.0.2"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientKey(addr, shared); got != tc.want {
			t.Errorf("clientKey(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := clientKey(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, nil); got != "" {
		t.Errorf("unix peer: %q", got)
	}
}

// TestConnLimit plays ConnState transitions against the limit and checks
// which connections it closed.
func TestConnLimit(t *testing.T) {
	type step struct {
		conn  string // name; the address is the part before "#"
		state http.ConnState
	}
	connect := func(names ...string) (out []step) {
		for _, n := range names {
			out = append(out, step{n, http.StateNew}, step{n, http.StateActive})
		}
		return out
	}
	idle := func(names ...string) (out []step) {
		for _, n := range names {
			out = append(out, step{n, http.StateIdle})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		max, per   int
		shared     []string
		steps      []step
		wantClosed []string
	}{
		{"within the bounds", 4, 2, nil,
			connect("10.0.0.1#a", "10.0.0.1#b", "10.0.0.2#a"), nil},
		{"a client at its bound, none idle: the newcomer is refused", 10, 2, nil,
			connect("10.0.0.1#a", "10.0.0.1#b", "10.0.0.1#c"), []string{"10.0.0.1#c"}},
		{"a client at its bound: its own longest idle makes room", 10, 2, nil,
			slices.Concat(connect("10.0.0.1#a", "10.0.0.1#b"), idle("10.0.0.1#b", "10.0.0.1#a"), connect("10.0.0.1#c")),
			[]string{"10.0.0.1#b"}},
		{"one client's bound leaves the others alone", 10, 2, nil,
			slices.Concat(connect("10.0.0.1#a", "10.0.0.1#b", "10.0.0.1#c", "10.0.0.2#a", "10.0.0.2#b")),
			[]string{"10.0.0.1#c"}},
		{"an active connection is not taken for an idle one", 10, 2, nil,
			slices.Concat(connect("10.0.0.1#a", "10.0.0.1#b"), idle("10.0.0.1#a"), []step{{"10.0.0.1#a", http.StateActive}}, connect("10.0.0.1#c")),
			[]string{"10.0.0.1#c"}},
		{"at the total bound: the longest idle of anyone makes room", 3, 0, nil,
			slices.Concat(connect("10.0.0.1#a", "10.0.0.2#a", "10.0.0.3#a"), idle("10.0.0.2#a", "10.0.0.1#a"), connect("10.0.0.4#a")),
			[]string{"10.0.0.2#a"}},
		{"at the total bound, none idle: the newcomer is refused", 2, 0, nil,
			connect("10.0.0.1#a", "10.0.0.2#a", "10.0.0.3#a"), []string{"10.0.0.3#a"}},
		{"a shared peer has only the total bound", 3, 1, []string{"172.17.0.1/32"},
			connect("172.17.0.1#a", "172.17.0.1#b", "172.17.0.1#c", "172.17.0.1#d"), []string{"172.17.0.1#d"}},
		{"a closed connection counts out once", 10, 2, nil,
			slices.Concat(connect("10.0.0.1#a", "10.0.0.1#b", "10.0.0.1#c"),
				[]step{{"10.0.0.1#c", http.StateClosed}, {"10.0.0.1#a", http.StateClosed}},
				connect("10.0.0.1#d"), connect("10.0.0.1#e")),
			[]string{"10.0.0.1#c", "10.0.0.1#e"}},
		{"a hijacked connection counts out", 10, 1, nil,
			slices.Concat(connect("10.0.0.1#a"), []step{{"10.0.0.1#a", http.StateHijacked}}, connect("10.0.0.1#b")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newConnLimit(Limits{MaxConnections: tc.max, MaxConnectionsPerClient: tc.per, SharedPeers: tc.shared})
			conns := map[string]*fakeConn{}
			for _, s := range tc.steps {
				c := conns[s.conn]
				if c == nil || (s.state == http.StateNew && c.closed) {
					ip, _, _ := strings.Cut(s.conn, "#")
					c = &fakeConn{name: s.conn, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1000 + len(conns)}}
					conns[s.conn] = c
				}
				l.track(c, s.state)
			}
			var closed []string
			for name, c := range conns {
				if c.closed {
					closed = append(closed, name)
				}
			}
			slices.Sort(closed)
			if !slices.Equal(closed, tc.wantClosed) {
				t.Errorf("closed %v, want %v", closed, tc.wantClosed)
			}
		})
	}
}
