package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// toxi is toxiproxy's server run in the test process: no daemon, no HTTP
// API, the proxies and toxics driven through its Go types.
type toxi struct{ srv *toxiproxy.ApiServer }

func newToxiproxy() *toxi {
	return &toxi{srv: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
}

// tcpProxy is one TCP proxy in front of a dependency of the processor.
type tcpProxy struct {
	t    *testing.T
	p    *toxiproxy.Proxy
	addr string
}

// add starts a proxy on a free loopback port in front of upstream, stopped
// when the test ends.
func (x *toxi) add(t *testing.T, name, upstream string) *tcpProxy {
	t.Helper()
	p := toxiproxy.NewProxy(x.srv, name, "127.0.0.1:0", upstream)
	if err := x.srv.Collection.Add(p, true); err != nil {
		t.Fatalf("start %s proxy: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return &tcpProxy{t: t, p: p, addr: p.Listen}
}

// cut closes the proxy's port and every connection through it: the
// dependency is unreachable (connection refused) until restore.
func (x *tcpProxy) cut() { x.p.Stop() }

// restore opens the port again, on the same address.
func (x *tcpProxy) restore() {
	x.t.Helper()
	if err := x.p.Start(); err != nil {
		x.t.Fatalf("restore proxy %s: %v", x.p.Name, err)
	}
}

// toxic adds a toxiproxy toxic ("latency", "timeout", "limit_data",
// "reset_peer", "slow_close", "bandwidth", ...) on a direction
// ("upstream": to the dependency, "downstream": its answers), to existing
// connections and new ones.
func (x *tcpProxy) toxic(name, typ, direction string, attributes map[string]any) {
	x.t.Helper()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": direction, "attributes": attributes})
	if err != nil {
		x.t.Fatal(err)
	}
	if _, err := x.p.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		x.t.Fatalf("add toxic %s to %s: %v", name, x.p.Name, err)
	}
}

// heal removes every toxic.
func (x *tcpProxy) heal() { x.p.Toxics.ResetToxics(context.Background()) }
