package relay_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

// BenchmarkRelay runs the real relay loop (submitting loop and tracker)
// against a real redis-server and an in-memory chain that mines everything
// sent before each tracker pass, and measures the cost of one application
// from stream entry to acknowledgement. One op is one application.
//
// The sub-benchmarks vary the window (MAX_IN_FLIGHT) and the backlog: the
// number of entries still waiting in the stream behind the ones processed.
// What the issue asks is that the per-application cost and the per-pass work
// do not grow with the backlog: compare cpu-ns/app, redis-cmds/app,
// rpc-calls/app and hashes/pass across backlog sizes. hashes/pass grows with
// the window only, since a tracker pass asks for the receipts of what is in
// flight and nothing else.
//
// cpu-ns/app is the benchmark process's CPU (relay, go-redis, the in-memory
// chain), redis-cpu-ns/app is redis-server's (INFO cpu), both per
// application. ns/op is wall time and is bounded by the 5 ms poll interval
// and the window, not by CPU.
func BenchmarkRelay(b *testing.B) {
	for _, window := range []int{16, 256} {
		for _, backlog := range []int{0, 2_000, 20_000} {
			b.Run(fmt.Sprintf("in-flight=%d/backlog=%d", window, backlog), func(b *testing.B) {
				benchRelay(b, window, backlog)
			})
		}
	}
}

func benchRelay(b *testing.B, window, backlog int) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	key, err := chain.DeriveKey("test test test test test test test test test test test junk", 0)
	if err != nil {
		b.Fatal(err)
	}
	signer := chain.NewSigner(key, big.NewInt(1337))
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "depeg-backend-processor-consumer", DeadLetter: "application:signatures:dead",
		Wallet: strings.ToLower(signer.Address().Hex())}
	ctx := b.Context()
	if err := benchEnqueue(ctx, rdb, keys.Stream, b.N+backlog); err != nil {
		b.Fatal(err)
	}
	q := &benchQueue{Queue: stream.NewQueue(rdb, keys), target: int64(b.N), done: make(chan struct{})}
	c := &benchChain{mined: map[common.Hash]uint64{}}
	product := common.HexToAddress("0xaaA6975B481Eb6B050f213095E368Daf00C34D03")
	cfg := relay.Settings(configtest.Defaults(b, "http://127.0.0.1:8545", product, testMnemonic)) // the chain is benchChain; the URL is never dialled
	cfg.Confirmations, cfg.MaxInFlight = 1, window
	cfg.ReadBlock, cfg.PollInterval = 100*time.Millisecond, 5*time.Millisecond
	r := relay.New(cfg, zerolog.Nop(), c, q, signer, chain.NewProduct(product),
		monitor.NewMetrics(nil), &monitor.Heartbeat{})

	statsBefore := benchRedisStats(b, rdb)
	cpuBefore := benchCPU()
	b.ResetTimer()
	rctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			b.Errorf("relay run: %v", err)
		}
	}()
	select {
	case <-q.done:
	case <-time.After(5 * time.Minute):
		b.Errorf("only %d of %d applications acknowledged", q.acked.Load(), b.N)
	}
	b.StopTimer()
	cpu := benchCPU() - cpuBefore
	cancel()
	wg.Wait()
	statsAfter := benchRedisStats(b, rdb)

	n := float64(b.N)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/app")
	b.ReportMetric((statsAfter.cpu-statsBefore.cpu)*1e9/n, "redis-cpu-ns/app")
	// The benchmark's own INFO is the only command not the relay's.
	b.ReportMetric(float64(statsAfter.calls-statsBefore.calls-1)/n, "redis-cmds/app")
	if b.N > 1 { // the testing package's one-op probe run is all start-up commands
		b.Log(benchCommandMix(statsBefore, statsAfter, n))
	}
	calls, passes, hashes := c.counts()
	b.ReportMetric(float64(calls)/n, "rpc-calls/app")
	if passes > 0 {
		b.ReportMetric(float64(hashes)/float64(passes), "hashes/pass")
	}
}

// benchEnqueue writes n well-formed applications as the frontend lays them
// out. The in-memory chain checks no signature, so random bytes do (each
// distinct, as the relay keys in-flight duplicates by signature).
func benchEnqueue(ctx context.Context, rdb *redis.Client, streamKey string, n int) error {
	const chunk = 1000
	for start := 0; start < n; start += chunk {
		pipe := rdb.Pipeline()
		for i := start; i < min(start+chunk, n); i++ {
			var holder, wallet common.Address
			sig := make([]byte, 65)
			_, _ = rand.Read(holder[:])
			_, _ = rand.Read(wallet[:])
			_, _ = rand.Read(sig)
			id := fmt.Sprintf("01BENCH%019d", i)
			pipe.HSet(ctx, stream.ApplicationKey(id), map[string]string{
				stream.FieldPolicyHolder: holder.Hex(), stream.FieldProtectedWallet: wallet.Hex(),
				stream.FieldProtectedBalance: "5000000000", stream.FieldDuration: "2592000",
				stream.FieldBundleID: "1", stream.FieldSignatureID: fmt.Sprintf("bench%016d", i),
				stream.FieldSignature: hexutil.Encode(sig), stream.FieldTimestamp: "1732380000.123",
			})
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: map[string]any{stream.FieldEntityID: id}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// benchQueue is the real queue; it only counts acknowledgements so the
// benchmark knows when b.N applications are through.
type benchQueue struct {
	*stream.Queue
	target int64
	acked  atomic.Int64
	done   chan struct{}
}

func (q *benchQueue) Ack(ctx context.Context, entries ...stream.Settled) error {
	err := q.Queue.Ack(ctx, entries...)
	if err == nil {
		if n := q.acked.Add(int64(len(entries))); n >= q.target && n-int64(len(entries)) < q.target {
			close(q.done)
		}
	}
	return err
}

// benchChain is a node that mines every transaction sent before a head read
// into the block that read returns (each HeaderByNumber call is a new block),
// so an application is confirmed one pass after its broadcast. It counts
// calls. The embedded nil client only satisfies methods the relay may add to
// its Chain interface later; the benchmark fails loudly if one is called.
type benchChain struct {
	*chain.Client

	mu       sync.Mutex
	head     uint64
	unmined  []common.Hash
	mined    map[common.Hash]uint64
	nonce    uint64 // mined transactions
	sent     uint64
	calls    int64
	passes   int64
	receipts int64
}

func (c *benchChain) count() { c.calls++ }

// PushesHeads: the in-memory node pushes no heads, so the tracker polls it
// (the embedded *chain.Client is nil: its own method would dereference it).
func (c *benchChain) PushesHeads() bool { return false }

func (c *benchChain) counts() (calls, passes, hashes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.passes, c.receipts
}

func (c *benchChain) HeaderByNumber(context.Context, *big.Int) (*types.Header, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	c.head++
	for _, h := range c.unmined {
		c.mined[h] = c.head
		c.nonce++
	}
	c.unmined = c.unmined[:0]
	return &types.Header{Number: new(big.Int).SetUint64(c.head), BaseFee: big.NewInt(params.GWei)}, nil
}

func (c *benchChain) BalanceAt(context.Context, common.Address, *big.Int) (*big.Int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether)), nil
}

func (c *benchChain) NonceAt(context.Context, common.Address, *big.Int) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return c.nonce, nil
}

func (c *benchChain) PendingNonceAt(context.Context, common.Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return c.sent, nil
}

// Nonces is NonceAt and PendingNonceAt in one batch (two calls for the
// node): nothing is held by an unknown sender, so the hold never holds.
func (c *benchChain) Nonces(context.Context, common.Address, *big.Int) (mined, pending uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls += 2
	return c.nonce, c.sent, nil
}

func (c *benchChain) SuggestGasTipCap(context.Context) (*big.Int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return big.NewInt(params.GWei), nil
}

func (c *benchChain) EstimateGasBatch(_ context.Context, msgs []ethereum.CallMsg) ([]uint64, []error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls += int64(len(msgs))
	gas := make([]uint64, len(msgs))
	for i := range gas {
		gas[i] = 276_652
	}
	return gas, make([]error, len(msgs)), nil
}

func (c *benchChain) CallContract(context.Context, ethereum.CallMsg, *big.Int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return nil, nil
}

func (c *benchChain) SendTransactions(_ context.Context, txs []*types.Transaction) ([]error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls += int64(len(txs))
	for _, tx := range txs {
		c.sent++
		c.unmined = append(c.unmined, tx.Hash())
	}
	return make([]error, len(txs)), nil
}

// BlockHashes answers the zero hash the synthetic receipts carry: no reorgs.
func (c *benchChain) BlockHashes(_ context.Context, numbers []uint64) ([]common.Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls += int64(len(numbers))
	return make([]common.Hash, len(numbers)), nil
}

func (c *benchChain) TransactionReceipt(context.Context, common.Hash) (*types.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count()
	return nil, ethereum.NotFound
}

func (c *benchChain) Receipts(_ context.Context, hashes []common.Hash) ([]*types.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls += int64(len(hashes)) // a batch element is a call for the node
	c.passes++
	c.receipts += int64(len(hashes))
	out := make([]*types.Receipt, len(hashes))
	for i, h := range hashes {
		if blk, ok := c.mined[h]; ok {
			out[i] = &types.Receipt{Status: types.ReceiptStatusSuccessful, TxHash: h,
				BlockNumber: new(big.Int).SetUint64(blk), GasUsed: 276_652, EffectiveGasPrice: big.NewInt(params.GWei)}
		}
	}
	return out, nil
}

// benchStats is redis-server's own view: commands served (in all and per
// command name) and CPU used. Redis counts a command a script runs
// (redis.call) under its own name as well as the EVALSHA that ran it, so
// calls is commands executed, not round trips.
type benchStats struct {
	calls  int64
	byName map[string]int64
	cpu    float64 // seconds
}

// benchCommandMix is the commands per application by name between two
// readings, largest first, without the benchmark's own INFO: what makes up
// redis-cmds/app, so a change in it can be traced to the command that
// moved (issue 20).
func benchCommandMix(before, after benchStats, apps float64) string {
	type mix struct {
		name string
		per  float64
	}
	var mixes []mix
	for name, calls := range after.byName {
		if d := calls - before.byName[name]; d > 0 && name != "info" {
			mixes = append(mixes, mix{name, float64(d) / apps})
		}
	}
	sort.Slice(mixes, func(i, j int) bool {
		if mixes[i].per != mixes[j].per {
			return mixes[i].per > mixes[j].per
		}
		return mixes[i].name < mixes[j].name
	})
	var sb strings.Builder
	sb.WriteString("redis commands per application:")
	for _, m := range mixes {
		fmt.Fprintf(&sb, " %s=%.3f", m.name, m.per)
	}
	return sb.String()
}

func benchRedisStats(b *testing.B, rdb *redis.Client) benchStats {
	info, err := rdb.Info(context.Background(), "commandstats", "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	s := benchStats{byName: map[string]int64{}}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, kv, _ := strings.Cut(rest, ":")
			for _, f := range strings.Split(kv, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					s.calls += n
					s.byName[name] += n
				}
			}
		}
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				s.cpu += f
			}
		}
	}
	return s
}

// benchCPU is this process's user+system CPU time so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
