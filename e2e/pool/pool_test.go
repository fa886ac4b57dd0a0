// Package pool tests a key pool spread over several processes: three
// processor subprocesses with two keys each read one stream; one is killed
// with SIGKILL mid-run and its keys are taken over, journal and all, by the
// process that lists them too; another is stopped with SIGTERM and started
// again. Every application is created exactly once, and no key ever signs
// from two processes.
package pool

import (
	"context"
	"fmt"
	"os"
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
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

// processor is the binary this package's tests run, built once for all of
// them.
var processor = proctest.NewBinary("nodev")

func TestMain(m *testing.M) { os.Exit(processor.Run(m)) }

const (
	testMnemonic = "test test test test test test test test test test test junk"
	streamKey    = "application:signatures"
	groupName    = "depeg-backend-processor"
	deadLetters  = "application:signatures:dead"
	apps         = 1000
	leaseTTL     = 2 * time.Second
)

func TestThreeProcessesSixKeys(t *testing.T) {
	ctx := t.Context()
	bin := processor.Path(t)
	dc, wallets := startChain(t, 6, 250*time.Millisecond)
	srv := redistest.Start(t)
	rdb := srv.Client()

	start := func(name, keys string) *proctest.Proc { return startProcess(t, bin, srv, dc, name, keys) }
	holders := newLeaseWatch(rdb, wallets)
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchWG sync.WaitGroup
	watchWG.Go(func() { holders.run(watchCtx) })
	t.Cleanup(func() { stopWatch(); watchWG.Wait() })

	p1 := start("p1", "0,1")
	eventually(t, 30*time.Second, "p1 holds keys 0 and 1", func() bool {
		return holders.pid(0) == p1.Pid() && holders.pid(1) == p1.Pid()
	})
	p2 := start("p2", "2-3")
	// p3 signs with 4 and 5 and waits in standby for 0 and 1.
	p3 := start("p3", "4,5,0,1")
	eventually(t, 30*time.Second, "p2 and p3 hold their keys", func() bool {
		return holders.pid(2) == p2.Pid() && holders.pid(3) == p2.Pid() && holders.pid(4) == p3.Pid() && holders.pid(5) == p3.Pid()
	})
	eventually(t, 10*time.Second, "p3 healthy with keys 0 and 1 in standby", func() bool {
		code, rep, err := p3.Monitor(ctx)
		keys, _ := rep["keys"].([]any)
		if err != nil || code != 200 || len(keys) != 4 {
			return false
		}
		k0, _ := keys[2].(map[string]any)
		s, _ := k0["lease"].(string)
		return strings.HasPrefix(s, "standby")
	})

	// The frontend enqueues 1,000 applications over about 5 s.
	// The frontend enqueues at a frontend's pace (a burst, then a pause).
	sids, enqueued := frontend.Trickle(ctx, rdb, streamKey, dc.ChainID, dc.Helper, apps, 40, 200*time.Millisecond)
	sent := func() uint64 { return totalNonce(t, dc, wallets) }

	eventually(t, 60*time.Second, "a fifth submitted", func() bool { return sent() >= apps/5 })
	// The time of the signal, not of the reaping: p3 takes a dead holder's
	// lease as soon as its pid is gone, which can be before Kill returns.
	killedAt := time.Now()
	p1.Kill(t)
	eventually(t, 30*time.Second, "p3 took keys 0 and 1 over", func() bool {
		return holders.pid(0) == p3.Pid() && holders.pid(1) == p3.Pid()
	})
	t.Logf("p3 took p1's keys %v after its SIGKILL (LEASE_TTL %v)", time.Since(killedAt).Round(time.Millisecond), leaseTTL)

	eventually(t, 60*time.Second, "half submitted", func() bool { return sent() >= apps/2 })
	if code := p2.Stop(t, 30*time.Second); code != 0 {
		t.Fatalf("p2 exited %d on SIGTERM:\n%s", code, p2.Tail(30))
	}
	stoppedAt := time.Now()
	for _, k := range []int{2, 3} {
		// Read Redis itself, not the sampler: a graceful stop releases.
		if v, err := rdb.Get(ctx, lease.Key(strings.ToLower(wallets[k].Hex()))).Result(); err == nil && v != lease.Released {
			t.Errorf("p2 stopped gracefully with key %d's lease still held (%s):\n%s", k, v, p2.Tail(15))
		}
	}
	p2b := start("p2b", "2-3")
	eventually(t, 30*time.Second, "restarted p2 holds keys 2 and 3", func() bool {
		return holders.pid(2) == p2b.Pid() && holders.pid(3) == p2b.Pid()
	})
	if err := <-enqueued; err != nil {
		t.Fatal(err)
	}

	eventually(t, 120*time.Second, "every entry acknowledged", func() bool {
		p, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil || p.Count != 0 {
			return false
		}
		g, err := rdb.XInfoGroups(ctx, streamKey).Result()
		return err == nil && len(g) == 1 && g[0].Lag == 0
	})
	for i, sid := range sids {
		if n, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || n != 1 {
			t.Fatalf("application %d created %d times (%v), want once", i, n, err)
		}
	}
	// Every transaction any key signed created one application: a key used
	// by two processes at once would have signed two transactions for a
	// nonce or one application twice.
	var perKey []string
	var total uint64
	for i, w := range wallets {
		n, err := dc.Client.NonceAt(ctx, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("key %d (%s) signed nothing: work is not spread over the keys", i, w.Hex())
		}
		total += n
		perKey = append(perKey, fmt.Sprintf("%d:%d", i, n))
	}
	if total != apps {
		t.Fatalf("the keys mined %d transactions for %d applications", total, apps)
	}
	if n, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || n != 0 {
		t.Fatalf("%d dead letters (%v)", n, err)
	}
	stopWatch()
	watchWG.Wait()
	if err := holders.exclusive(map[int]time.Time{p1.Pid(): killedAt, p2.Pid(): stoppedAt}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d applications, each created once; transactions per key %s; lease holders %s",
		apps, strings.Join(perKey, " "), holders.summary())
}

// startProcess starts a processor of the pool with keys (a
// PROCESSOR_ACCOUNT_INDEX) on srv and dc, with the pool tests' fast
// settings and extra variables over them, and waits until it serves.
func startProcess(t *testing.T, bin string, srv *redistest.Server, dc *devchain.Chain, name, keys string, extra ...string) *proctest.Proc {
	t.Helper()
	env := append([]string{
		"REDIS_URL=" + srv.URL(), "CHAIN_RPC_URL=" + dc.URL,
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
		"PROCESSOR_ACCOUNT_INDEX=" + keys,
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=200", "ERROR_TIMEOUT=500",
		"REDIS_READ_BLOCK_TIMEOUT=300", "MAX_IN_FLIGHT=64", "BALANCE_REFRESH_INTERVAL=500",
		"LEASE_TTL=" + strconv.Itoa(int(leaseTTL.Milliseconds())), "REDIS_QUEUE_CLAIM_IDLE=5000",
		"SHUTDOWN_TIMEOUT=10000", "PORT=" + strconv.Itoa(freeport.Get(t)), "NODE_ENV=production",
	}, extra...)
	p := proctest.Start(t, bin, proctest.Options{Name: name, Env: env})
	p.WaitServing(t, 30*time.Second)
	return p
}

// startChain starts a devchain with the first n keys of the test mnemonic
// funded, sealing a block every blockTime until the test ends (0: none).
func startChain(t *testing.T, n int, blockTime time.Duration) (*devchain.Chain, []common.Address) {
	t.Helper()
	wallets := make([]common.Address, n)
	for i := range wallets {
		key, err := chain.DeriveKey(testMnemonic, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		wallets[i] = crypto.PubkeyToAddress(key.PublicKey)
	}
	dc := devchaintest.Start(t, devchain.Options{Fund: wallets}, blockTime)
	return dc, wallets
}

// totalNonce is the sum of the keys' mined nonces.
func totalNonce(t *testing.T, dc *devchain.Chain, wallets []common.Address) uint64 {
	t.Helper()
	var n uint64
	for _, w := range wallets {
		v, err := dc.Client.NonceAt(t.Context(), w, nil)
		if err != nil {
			return 0
		}
		n += v
	}
	return n
}

// leaseWatch samples each key's lease holder, so the test can show who
// held which key when.
type leaseWatch struct {
	rdb     *redis.Client
	wallets []common.Address

	mu      sync.Mutex
	current []int
	history [][]sample // per key, each change of holder
}

type sample struct {
	at  time.Time
	pid int // 0: nobody
}

func newLeaseWatch(rdb *redis.Client, wallets []common.Address) *leaseWatch {
	return &leaseWatch{rdb: rdb, wallets: wallets, current: make([]int, len(wallets)), history: make([][]sample, len(wallets))}
}

func (w *leaseWatch) run(ctx context.Context) {
	for ctx.Err() == nil {
		for i, a := range w.wallets {
			v, err := w.rdb.Get(ctx, lease.Key(strings.ToLower(a.Hex()))).Result()
			pid := 0
			if err == nil {
				// The lease value is "<host>/<pid>/<random>".
				if parts := strings.Split(v, "/"); len(parts) == 3 {
					pid, _ = strconv.Atoi(parts[1])
				}
			}
			w.mu.Lock()
			if len(w.history[i]) == 0 || w.current[i] != pid {
				w.history[i] = append(w.history[i], sample{at: time.Now(), pid: pid})
				w.current[i] = pid
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *leaseWatch) pid(key int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current[key]
}

// exclusive checks that no key passed straight from one live process to
// another: every change of holder went through a released or expired lease
// (no holder), except from a process that had exited (killed, or stopped
// without its release reaching Redis): a dead holder's lease is taken over
// at once, which a sample may not see as a gap.
func (w *leaseWatch) exclusive(exited map[int]time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, h := range w.history {
		for i := 1; i < len(h); i++ {
			prev, cur := h[i-1], h[i]
			if prev.pid == 0 || cur.pid == 0 {
				continue
			}
			if at, dead := exited[prev.pid]; dead && cur.at.After(at) {
				continue
			}
			return fmt.Errorf("key %d passed from pid %d to pid %d at %s with no gap", k, prev.pid, cur.pid, cur.at.Format(time.RFC3339Nano))
		}
	}
	return nil
}

func (w *leaseWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, h := range w.history {
		var pids []string
		for _, s := range h {
			pids = append(pids, strconv.Itoa(s.pid))
		}
		out = append(out, fmt.Sprintf("%d:[%s]", k, strings.Join(pids, ">")))
	}
	return strings.Join(out, " ")
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGTERMReleasesEveryLease: a process with two keys, idle in
// XREADGROUP with the production block time (30 s), is stopped with
// SIGTERM: it releases both leases before it exits (the lease TTL is a
// minute, so only a release empties them), and the next process can take
// the keys at once.
func TestSIGTERMReleasesEveryLease(t *testing.T) {
	ctx := t.Context()
	bin := processor.Path(t)
	dc, wallets := startChain(t, 2, 0)
	srv := redistest.Start(t)
	rdb := srv.Client()
	p := proctest.Start(t, bin, proctest.Options{Name: "p", Env: []string{
		"REDIS_URL=" + srv.URL(), "CHAIN_RPC_URL=" + dc.URL,
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
		"PROCESSOR_ACCOUNT_INDEX=0-1", "LEASE_TTL=60000", "REDIS_QUEUE_CLAIM_IDLE=120000",
		"PORT=" + strconv.Itoa(freeport.Get(t)), "NODE_ENV=production",
	}})
	p.WaitServing(t, 30*time.Second)
	held := func() int {
		n := 0
		for _, w := range wallets {
			if v, err := rdb.Get(ctx, lease.Key(strings.ToLower(w.Hex()))).Result(); err == nil && v != lease.Released {
				n++
			}
		}
		return n
	}
	eventually(t, 30*time.Second, "both leases held", func() bool { return held() == 2 })
	if code := p.Stop(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d on SIGTERM:\n%s", code, p.Tail(20))
	}
	if n := held(); n != 0 {
		t.Fatalf("%d leases still held after a graceful stop: the next process would wait out LEASE_TTL", n)
	}
}
