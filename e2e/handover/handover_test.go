// Package handover tests a zero-downtime deploy: a second processor started
// beside the first, on the same wallet, waits in standby while the first
// holds the wallet's lease, and takes over at once when the first is
// stopped with SIGTERM mid-burst. Both are the built binary.
package handover

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

const (
	testMnemonic = "test test test test test test test test test test test junk"
	streamKey    = "application:signatures"
	groupName    = "depeg-backend-processor"
	apps         = 60
	// leaseTTL is long, so that a lease left to expire would still hold
	// the old process's token well after it exited.
	leaseTTL = 30 * time.Second
)

func TestZeroDowntimeHandover(t *testing.T) {
	ctx := t.Context()
	bin := proctest.Build(t, t.TempDir(), "nodev")
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{wallet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	produceCtx, stopProducing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); dc.Produce(produceCtx, 300*time.Millisecond) }()
	t.Cleanup(func() { stopProducing(); wg.Wait() })
	srv := redistest.Start(t)
	rdb := srv.Client()

	env := func(port int) []string {
		return []string{
			"REDIS_URL=" + srv.URL(), "CHAIN_RPC_URL=" + dc.URL,
			"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
			"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=100", "ERROR_TIMEOUT=500",
			"REDIS_READ_BLOCK_TIMEOUT=300", "MAX_IN_FLIGHT=8", "BALANCE_REFRESH_INTERVAL=500",
			"LEASE_TTL=" + strconv.Itoa(int(leaseTTL.Milliseconds())), "SHUTDOWN_TIMEOUT=10000",
			"PORT=" + strconv.Itoa(port), "NODE_ENV=production",
		}
	}
	old := proctest.Start(t, bin, proctest.Options{Name: "old", Env: env(freeport.Get(t))})
	old.WaitServing(t, 30*time.Second)
	leaseKey := lease.Key(strings.ToLower(wallet.Hex()))
	holderPid := func() int {
		v, err := rdb.Get(ctx, leaseKey).Result()
		if err != nil {
			return 0
		}
		return tokenPid(v)
	}
	poll.Until(t, 30*time.Second, "old process holds the lease", func() bool { return holderPid() == old.Pid() })

	// The deploy starts the new container beside the old one.
	fresh := proctest.Start(t, bin, proctest.Options{Name: "new", Env: env(freeport.Get(t))})
	fresh.WaitServing(t, 30*time.Second)
	poll.Until(t, 30*time.Second, "new process healthy in standby", func() bool {
		code, rep, err := fresh.Monitor(ctx)
		s, _ := rep["lease"].(string)
		return err == nil && code == 200 && strings.HasPrefix(s, "standby")
	})

	sids := make([][32]byte, apps)
	for i := range apps {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := frontend.Enqueue(ctx, rdb, streamKey, frontend.NewEntityID(), frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
		sids[i], _ = frontend.SignatureIDToBytes32(app.SignatureID)
	}
	// Mid-burst: the old one has work in flight.
	poll.Until(t, 30*time.Second, "old process confirmed some", func() bool { return created(t, dc, sids) >= apps/6 })
	if m, err := fresh.Metrics(ctx); err != nil || m["depeg_relay_tx_submitted_total"] != 0 {
		t.Fatalf("the standby submitted %v transactions (%v) beside the lease holder", m["depeg_relay_tx_submitted_total"], err)
	}
	stopped := time.Now()
	if code := old.Stop(t, 30*time.Second); code != 0 {
		t.Fatalf("old process exited %d on SIGTERM:\n%s", code, old.Tail(30))
	}
	// The old process released the lease before it exited: the key holds
	// the Released marker, or already the new process's token. A lease left
	// to expire would still hold the old token here, for most of LEASE_TTL.
	if v, err := rdb.Get(ctx, leaseKey).Result(); err != nil || (v != lease.Released && tokenPid(v) != fresh.Pid()) {
		t.Fatalf("right after the old process exited the lease key holds %q (%v), want %q or the new process's token: the lease was not released",
			v, err, lease.Released)
	}
	// A standby tries every second (TTL/6, at most 1 s) and takes Released
	// at once; 20 s only detects a hang, and stays under the 30 s the
	// marker lasts.
	poll.Until(t, 20*time.Second, "new process took the lease", func() bool { return holderPid() == fresh.Pid() })
	takeover := time.Since(stopped)
	poll.Until(t, 90*time.Second, "all created and acknowledged", func() bool {
		p, err := rdb.XPending(ctx, streamKey, groupName).Result()
		return err == nil && p.Count == 0 && created(t, dc, sids) == apps
	})
	for _, sid := range sids {
		if n, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || n != 1 {
			t.Fatalf("application created %d times (%v), want once", n, err)
		}
	}
	mined, err := dc.Client.NonceAt(ctx, wallet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mined != apps {
		t.Fatalf("wallet mined %d transactions for %d applications: a second transaction was signed", mined, apps)
	}
	dl, err := rdb.XLen(ctx, "application:signatures:dead").Result()
	if err != nil || dl != 0 {
		t.Fatalf("%d dead letters (%v)", dl, err)
	}
	t.Logf("handover: %d applications, new process took the lease %v after SIGTERM of the old (LEASE_TTL %v), wallet nonce %d",
		apps, takeover.Round(time.Millisecond), leaseTTL, mined)
}

// tokenPid is the pid of a lease token "host/pid/random", 0 for another
// value (Released, nothing).
func tokenPid(v string) int {
	parts := strings.Split(v, "/")
	if len(parts) != 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[1])
	return pid
}

func created(t *testing.T, dc *devchain.Chain, sids [][32]byte) int {
	t.Helper()
	n := 0
	for _, sid := range sids {
		if c, err := dc.ApplicationsBySignatureID(t.Context(), sid); err == nil && c == 1 {
			n++
		}
	}
	return n
}
