package pool

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/redisconn"
)

// TestSentinelFailoverUnderLoad: two processors with two keys each on a
// Sentinel deployment (one master, one replica, three sentinels). The
// master is killed mid-run; the sentinels promote the replica and the
// processors follow it. Replication is asynchronous, so the replica may
// lack the master's last writes: a frontend XADD (that application is then
// lost, unless a relay had already read it), an XACK (the entry is read
// again, its signature found used by our own transaction, and acked), a
// journal record (the pool holds a transaction the journal does not know,
// and the relay holds new work until it is mined). The test asserts what
// must hold whatever was lost: no application is created twice, every entry
// that survived is relayed and acknowledged, and the processors carry on;
// it reports the rest.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	const n = 400
	ctx := t.Context()
	bin := processor.Path(t)
	dc, wallets := startChain(t, 4, 250*time.Millisecond)

	s := redistest.StartSentinels(t)
	rdb, err := redisconn.Open(redisconn.Sentinel, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })

	// Each processor runs under a supervisor that starts it again if it
	// exits, as Dokku does.
	var restarts atomic.Int64
	var supervisors []func()
	// Stopped before the test's cleanups kill the processes, so that those
	// kills are not taken for crashes.
	defer func() {
		for _, stop := range supervisors {
			stop()
		}
	}()
	supervise := func(name, keys string) func() *proctest.Proc {
		var mu sync.Mutex
		var cur *proctest.Proc
		env := []string{
			"REDIS_MODE=sentinel", "REDIS_URL=" + s.URL(), "CHAIN_RPC_URL=" + dc.URL,
			"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
			"PROCESSOR_ACCOUNT_INDEX=" + keys,
			"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=200", "ERROR_TIMEOUT=500",
			"REDIS_READ_BLOCK_TIMEOUT=300", "MAX_IN_FLIGHT=64", "BALANCE_REFRESH_INTERVAL=500",
			"LEASE_TTL=3000", "REDIS_QUEUE_CLAIM_IDLE=6000", "SHUTDOWN_TIMEOUT=10000",
			"PORT=" + strconv.Itoa(freeport.Get(t)), "NODE_ENV=production",
		}
		start := func() {
			p := proctest.Start(t, bin, proctest.Options{Name: name, Env: env})
			mu.Lock()
			cur = p
			mu.Unlock()
		}
		start()
		superCtx, stop := context.WithCancel(context.Background())
		var swg sync.WaitGroup
		swg.Go(func() {
			for {
				mu.Lock()
				p := cur
				mu.Unlock()
				select {
				case <-superCtx.Done():
					return
				case <-p.Exited():
				}
				if superCtx.Err() != nil {
					return
				}
				restarts.Add(1)
				t.Logf("%s exited (%v), starting it again; its last lines:\n%s", name, p.Err(), p.Tail(8))
				start()
			}
		})
		supervisors = append(supervisors, func() { stop(); swg.Wait() })
		return func() *proctest.Proc { mu.Lock(); defer mu.Unlock(); return cur }
	}
	p1 := supervise("p1", "0,1")
	p2 := supervise("p2", "2,3")
	p1().WaitServing(t, 30*time.Second)
	p2().WaitServing(t, 30*time.Second)

	// The frontend writes through Sentinel too, and retries a write that
	// fails during the failover, as it would answer its user with an error.
	sids := make([][32]byte, n)
	var writeErrors atomic.Int64
	enqueued := make(chan struct{})
	go func() {
		defer close(enqueued)
		for i := range n {
			app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
			if err != nil {
				t.Error(err)
				return
			}
			sids[i], _ = frontend.SignatureIDToBytes32(app.SignatureID)
			for ctx.Err() == nil {
				if _, err := frontend.Enqueue(ctx, rdb, streamKey, frontend.NewEntityID(), frontend.Fields(app)); err == nil {
					break
				}
				writeErrors.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
			if i%20 == 19 {
				time.Sleep(100 * time.Millisecond) // the frontend's pace
			}
		}
	}()
	eventually(t, 60*time.Second, "a quarter submitted", func() bool { return totalNonce(t, dc, wallets) >= n/4 })
	old := s.Master.Addr()
	s.Master.Kill()
	failedAt := time.Now()
	eventually(t, 30*time.Second, "a replica promoted", func() bool {
		addr, err := s.MasterAddr(ctx)
		return err == nil && addr != old
	})
	t.Logf("replica promoted %v after the master was killed", time.Since(failedAt).Round(time.Millisecond))
	<-enqueued

	// Every entry on the new master is relayed and acknowledged.
	eventually(t, 120*time.Second, "every surviving entry acknowledged", func() bool {
		p, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil || p.Count != 0 {
			return false
		}
		g, err := rdb.XInfoGroups(ctx, streamKey).Result()
		return err == nil && len(g) == 1 && g[0].Lag == 0
	})
	entries, err := rdb.XRange(ctx, streamKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	inStream := make(map[string]bool)
	for _, e := range entries {
		if id, ok := e.Values["entityId"].(string); ok {
			inStream[id] = true
		}
	}
	created, lost := 0, 0
	for _, sid := range sids {
		c, err := dc.ApplicationsBySignatureID(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if c > 1 {
			t.Fatalf("an application was created %d times", c)
		}
		if c == 1 {
			created++
		} else {
			lost++
		}
	}
	if len(entries) > created {
		// An entry that survived is in the stream and acknowledged; its
		// application must be on chain.
		t.Fatalf("%d entries in the stream, acknowledged, but only %d applications created", len(entries), created)
	}
	var txs uint64
	for _, w := range wallets {
		v, err := dc.Client.NonceAt(ctx, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		txs += v
	}
	dl, _ := rdb.XLen(ctx, deadLetters).Result()
	for _, get := range []func() *proctest.Proc{p1, p2} {
		p := get()
		eventually(t, 30*time.Second, "processors healthy after the failover", func() bool {
			code, _, err := p.Monitor(ctx)
			return err == nil && code == 200
		})
	}
	t.Logf("sentinel failover: %d applications enqueued (%d write errors retried by the frontend), %d created once, %d lost "+
		"(their XADD did not reach the replica), %d entries on the new master, %d transactions for %d applications "+
		"(%d wasted), %d dead letters, %d processor restarts",
		n, writeErrors.Load(), created, lost, len(entries), txs, created, int(txs)-created, dl, restarts.Load())
	if r := restarts.Load(); r != 0 {
		t.Fatalf("%d processor restarts: the processors did not carry on through the failover", r)
	}
}
