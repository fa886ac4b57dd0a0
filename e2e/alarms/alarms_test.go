// Package alarms tests that the monitor of the built binary turns red when a
// person must act and only then: a burst that drains at the node's pace
// keeps nonAckPendingTx ok, while an entry that cannot be sent (a fee cap
// below the base fee) turns it red, and the fees check says why
// (docs/design.md, "Monitor").
package alarms

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

const (
	testMnemonic = "test test test test test test test test test test test junk"
	streamKey    = "application:signatures"
	groupName    = "depeg-backend-processor"
	blockTime    = 250 * time.Millisecond
)

// world is a chain producing blocks, a Redis, and the built binary.
type world struct {
	t   *testing.T
	bin string
	dc  *devchain.Chain
	rdb *redis.Client
	srv *redistest.Server
}

func newWorld(t *testing.T, opts devchain.Options) *world {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts.Fund = []common.Address{crypto.PubkeyToAddress(key.PublicKey)}
	dc, err := devchain.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); dc.Produce(ctx, blockTime) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	srv := redistest.Start(t)
	return &world{t: t, bin: proctest.Build(t, t.TempDir(), "nodev"), dc: dc, rdb: srv.Client(), srv: srv}
}

func (w *world) start(name string, extra ...string) *proctest.Proc {
	w.t.Helper()
	env := append([]string{
		"REDIS_URL=" + w.srv.URL(), "CHAIN_RPC_URL=" + w.dc.URL,
		"DEPEG_PRODUCT_ADDRESS=" + w.dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=100", "ERROR_TIMEOUT=500",
		"REDIS_READ_BLOCK_TIMEOUT=300", "BALANCE_REFRESH_INTERVAL=500", "SHUTDOWN_TIMEOUT=10000",
		"PORT=" + strconv.Itoa(freeport.Get(w.t)), "NODE_ENV=production",
	}, extra...)
	p := proctest.Start(w.t, w.bin, proctest.Options{Name: name, Env: env})
	p.WaitServing(w.t, 30*time.Second)
	w.t.Cleanup(func() {
		if w.t.Failed() {
			w.t.Logf("%s, last log lines:\n%s", name, p.Tail(30))
		}
	})
	return p
}

// enqueue adds n signed applications to the stream, as the frontend does,
// and returns their signature ids.
func (w *world) enqueue(n int) [][32]byte {
	w.t.Helper()
	sids := make([][32]byte, n)
	for i := range n {
		app, err := frontend.NewSigned(w.dc.ChainID, w.dc.Helper, 1)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := frontend.Enqueue(w.t.Context(), w.rdb, streamKey, frontend.NewEntityID(), frontend.Fields(app)); err != nil {
			w.t.Fatal(err)
		}
		if sids[i], err = frontend.SignatureIDToBytes32(app.SignatureID); err != nil {
			w.t.Fatal(err)
		}
	}
	return sids
}

func num(rep map[string]any, key string) float64 {
	f, _ := rep[key].(float64)
	return f
}

// TestBurstDrainingOnScheduleStaysGreen: 100 applications at once, on a node
// that keeps 16 transactions per sender (a hosted provider's), so that the
// relay drains them over many blocks at the node's pace. Entries wait for their confirmations
// far beyond MAX_NON_ACK_PENDING_MESSAGES (10), which the old check counted
// and paged for; nonAckPendingTx stays ok on every poll while the relay
// drains the queue, and the figures show the entries awaiting
// confirmations.
func TestBurstDrainingOnScheduleStaysGreen(t *testing.T) {
	w := newWorld(t, devchain.Options{PoolSlots: 16})
	p := w.start("burst")
	poll.Until(t, 30*time.Second, "monitor 200 before the burst", func() bool {
		code, _, err := p.Monitor(t.Context())
		return err == nil && code == 200
	})
	const apps = 100
	sids := w.enqueue(apps)
	var polls, maxPending, maxAwaiting int
	var red []string
	deadline := time.Now().Add(120 * time.Second)
	// An eager uptime checker: a poll every 50 ms.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		code, rep, err := p.Monitor(t.Context())
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		polls++
		if s, _ := rep["nonAckPendingTx"].(string); s != "ok" {
			red = append(red, s)
		}
		if code != 200 {
			t.Logf("monitor %d during the burst: %v", code, rep)
		}
		maxPending = max(maxPending, int(num(rep, "pendingCount")))
		maxAwaiting = max(maxAwaiting, int(num(rep, "awaitingConfirmations")))
		if rep["pendingCount"] != nil && num(rep, "pendingCount") == 0 && num(rep, "lag") == 0 && polls > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the burst did not drain within 120s: %v", rep)
		}
	}
	if len(red) > 0 {
		t.Fatalf("nonAckPendingTx red on %d of %d polls of a draining burst: %q", len(red), polls, red)
	}
	if maxPending <= 10 || maxAwaiting <= 10 {
		t.Fatalf("the burst never had more than 10 entries pending (%d) or awaiting confirmations (%d): it proves nothing", maxPending, maxAwaiting)
	}
	for _, sid := range sids {
		if n, err := w.dc.ApplicationsBySignatureID(t.Context(), sid); err != nil || n != 1 {
			t.Fatalf("application created %d times (%v), want once", n, err)
		}
	}
	t.Logf("%d polls, all ok; up to %d pending, %d awaiting confirmations", polls, maxPending, maxAwaiting)
	if code := p.Stop(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestFeeCapBelowBaseFeeTurnsRed: MAX_FEE_PER_GAS=30 (wei, meant as gwei)
// lets nothing be sent. The fees check fails once the relay found the base
// fee above the cap for ERROR_TIMEOUT, saying so, and nonAckPendingTx fails
// once the entry has waited MONITOR_MAX_WAIT_AGE, long before anything would
// have told before.
func TestFeeCapBelowBaseFeeTurnsRed(t *testing.T) {
	w := newWorld(t, devchain.Options{})
	p := w.start("feecap", "MAX_FEE_PER_GAS=30", "MAX_PRIORITY_FEE_PER_GAS=1", "MONITOR_MAX_WAIT_AGE=4000")
	poll.Until(t, 30*time.Second, "monitor 200 while nothing waits", func() bool {
		code, _, err := p.Monitor(t.Context())
		return err == nil && code == 200
	})
	w.enqueue(1)
	var rep map[string]any
	poll.Until(t, 20*time.Second, "fees check red", func() bool {
		var code int
		var err error
		code, rep, err = p.Monitor(t.Context())
		s, _ := rep["fees"].(string)
		return err == nil && code == 500 && strings.HasPrefix(s, "error - base fee ") && strings.Contains(s, "above MAX_FEE_PER_GAS 30 wei")
	})
	poll.Until(t, 20*time.Second, "nonAckPendingTx red", func() bool {
		var err error
		_, rep, err = p.Monitor(t.Context())
		s, _ := rep["nonAckPendingTx"].(string)
		return err == nil && strings.HasPrefix(s, "error - oldest pending entry enqueued ")
	})
	if num(rep, "unsentCount") != 1 {
		t.Errorf("unsentCount %v, want 1: the entry was read and cannot be sent", rep["unsentCount"])
	}
	if code := p.Stop(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
