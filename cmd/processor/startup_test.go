package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

// startWorld is a Redis and a node that a test takes down and brings up:
// Redis is stopped and restarted on its port, and the node is reached
// through a port that refuses connections until the test opens it.
type startWorld struct {
	t        *testing.T
	bin      string
	redis    *redistest.Server
	dc       *devchain.Chain
	nodePort int
	nodeUp   net.Listener
	wg       sync.WaitGroup
}

func newStartWorld(t *testing.T) *startWorld {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	w := &startWorld{t: t, bin: processorBinary(t), redis: redistest.Start(t), dc: dc, nodePort: freeport.Get(t)}
	t.Cleanup(func() {
		if w.nodeUp != nil {
			w.nodeUp.Close()
		}
		w.wg.Wait()
	})
	return w
}

// openNode forwards the node port to the devchain from now on.
func (w *startWorld) openNode() {
	w.t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", w.nodePort))
	if err != nil {
		w.t.Fatal(err)
	}
	w.nodeUp = ln
	upstream := strings.TrimPrefix(w.dc.URL, "http://")
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer c.Close()
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

func (w *startWorld) start(name string) *proctest.Proc {
	w.t.Helper()
	return proctest.Start(w.t, w.bin, proctest.Options{Name: name, Env: []string{
		"PORT=" + fmt.Sprint(freeport.Get(w.t)),
		"REDIS_URL=" + w.redis.URL(),
		fmt.Sprintf("CHAIN_RPC_URL=http://127.0.0.1:%d", w.nodePort),
		"DEPEG_PRODUCT_ADDRESS=" + w.dc.Product.Hex(),
		"PROCESSOR_MNEMONIC=" + testMnemonic,
		"ERROR_TIMEOUT=300", "RPC_TIMEOUT=5000", "SHUTDOWN_TIMEOUT=5000",
		"CHAIN_POLL_INTERVAL=200", "REDIS_READ_BLOCK_TIMEOUT=500",
	}})
}

// monitorSays polls /api/monitor until it answers code with every check
// in want holding its prefix, and returns the body.
func monitorSays(t *testing.T, p *proctest.Proc, within time.Duration, code int, want map[string]string) map[string]any {
	t.Helper()
	var body map[string]any
	var got int
	err := poll.Wait(t.Context(), within, 50*time.Millisecond, func() error {
		c, b, err := p.Monitor(t.Context())
		if err != nil {
			return err
		}
		got, body = c, b
		if c != code {
			return fmt.Errorf("status %d", c)
		}
		for k, prefix := range want {
			if s, _ := b[k].(string); !strings.HasPrefix(s, prefix) {
				return fmt.Errorf("%s is %q", k, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: monitor %d with %v: %v; last answer %d %v\n%s", p.Name, code, want, err, got, body, p.Tail(10))
	}
	return body
}

// stopsCleanly sends SIGTERM and wants exit 0 within SHUTDOWN_TIMEOUT and
// no panic or other foreign output in the log.
func stopsCleanly(t *testing.T, p *proctest.Proc) {
	t.Helper()
	if code := p.Stop(t, 5*time.Second+2*time.Second); code != 0 {
		t.Fatalf("%s: exit %d after SIGTERM, want 0:\n%s", p.Name, code, p.Tail(20))
	}
	if _, foreign := p.Logs(); len(foreign) > 0 {
		t.Fatalf("%s: output that is not a log line (a panic?):\n%s", p.Name, strings.Join(foreign, "\n"))
	}
}

// TestStartsInAnyOrder runs the binary with the node down, then Redis
// down, then both: the monitor answers 500 naming what is missing from the
// start, SIGTERM at each point of the start exits 0 without a panic, and
// once both come up the monitor turns 200 without a restart.
func TestStartsInAnyOrder(t *testing.T) {
	w := newStartWorld(t)
	// A hang detector, not the target: the monitor answers within a second
	// of the start, but a race-built binary on a loaded two-core machine
	// can take several to get there, and the wait ends at the first answer.
	const soon = 15 * time.Second

	// The node down, Redis up.
	p := w.start("node-down")
	body := monitorSays(t, p, soon, 500, map[string]string{
		"chain": "error - chain: connection refused since ", "redis": "ok",
		"balance": "error - ", "nonAckPendingTx": "error - ", "processor": "ok",
	})
	if s := fmt.Sprint(body["chain"]); strings.Contains(s, fmt.Sprint(w.nodePort)) {
		t.Errorf("the monitor names the node's address: %q", s)
	}
	for path, want := range map[string]int{"/api/monitor/liveness": 200, "/api/monitor/readiness": 500,
		"/api/application/x": 503, "/console": 503} {
		if code, _, err := p.Get(t.Context(), path); err != nil || code != want {
			t.Errorf("%s: %d %v, want %d", path, code, err, want)
		}
	}
	stopsCleanly(t, p)

	// Redis down, the node up.
	w.redis.Stop()
	w.openNode()
	p = w.start("redis-down")
	// The client retries a refused dial for a second or two before it
	// tells why; the monitor names Redis from the start.
	monitorSays(t, p, soon, 500, map[string]string{"redis": "error - redis: ", "chain": "ok"})
	body = monitorSays(t, p, 10*time.Second, 500, map[string]string{
		"redis": "error - redis: connection refused since ", "chain": "ok", "nonAckPendingTx": "error - redis: connection refused",
	})
	if s := fmt.Sprint(body["redis"]); strings.Contains(s, fmt.Sprint(w.redis.Port)) {
		t.Errorf("the monitor names Redis's address: %q", s)
	}
	if code, _, err := p.Get(t.Context(), "/api/monitor/liveness"); err != nil || code != 500 {
		t.Errorf("liveness with redis down: %d %v, want 500", code, err)
	}
	stopsCleanly(t, p)

	// Both down; SIGTERM at once, while the first attempts run.
	w.nodeUp.Close()
	w.wg.Wait()
	p = w.start("both-down-early")
	monitorSays(t, p, soon, 500, map[string]string{"redis": "error - redis: ", "chain": "error - chain: "})
	stopsCleanly(t, p)

	// Both down, then up: the same process turns 200.
	p = w.start("both-down")
	monitorSays(t, p, soon, 500, map[string]string{"redis": "error - redis: ", "chain": "error - chain: "})
	monitorSays(t, p, 10*time.Second, 500, map[string]string{
		"redis": "error - redis: connection refused since ", "chain": "error - chain: connection refused since ",
	})
	w.redis.Restart()
	monitorSays(t, p, 10*time.Second, 500, map[string]string{"redis": "ok", "chain": "error - chain: "})
	w.openNode()
	monitorSays(t, p, 20*time.Second, 200, map[string]string{
		"redis": "ok", "balance": "ok", "processor": "ok", "nonAckPendingTx": "ok",
	})
	stopsCleanly(t, p)

	// SIGTERM right after both answered, while the service is built and
	// its relay starts.
	p = w.start("stop-while-building")
	poll.Until(t, soon, "the process serves", func() bool {
		_, _, err := p.Monitor(t.Context())
		return err == nil
	})
	stopsCleanly(t, p)
}

// TestNewServiceClosesOnEveryErrorPath: newService ending early (its
// context cancelled while it waits) returns a nil service and an error and
// does not panic; Close on a nil service does nothing.
func TestNewServiceClosesOnEveryErrorPath(t *testing.T) {
	w := newOpsWorld(t, "PORT=1")
	w.Srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	s, err := newService(ctx, w.Cfg, zerolog.Nop(), frontdoor.New(w.Cfg, zerolog.Nop()))
	if err == nil || s != nil {
		t.Fatalf("newService with Redis down and a cancelled context: %v, %v", s, err)
	}
	var nilService *service
	nilService.Close()
}
