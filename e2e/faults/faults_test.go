package faults

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/internal/rpcfault"
	"github.com/etherisc/depeg-relay/stream"
)

// processor is the binary this package's tests run, built once for all of
// them.
var processor = proctest.NewBinary()

func TestMain(m *testing.M) { os.Exit(processor.Run(m)) }

// scenario is one fault: run brings it about while applications keep
// arriving, ends it, and calls finish.
type scenario struct {
	// name is the table's; the subtest's is the same with underscores.
	name  string
	setup setup
	run   func(h *harness)
	// explains is what the fault accounts for beyond a run without one;
	// anything more fails the scenario (finish).
	explains explained
}

// explained is what a scenario's fault may cost on chain: reverted
// transactions of ours (and so their gas) and same-nonce replacements. A
// transaction that created nothing and succeeded is never explained.
type explained struct {
	reverted     int
	replacements int
}

// TestFaultSuite runs the built processor through each fault in turn, each in
// a world of its own (chain, Redis, proxies, processor), checks the
// invariants after each, and prints the table of what each fault cost and
// how long the queue took to flow again. FAULTS_TABLE=<file> also writes the
// table there; FAULTS_LOG_DIR=<dir> keeps the processor logs; -run
// TestFaultSuite/<scenario> runs one.
func TestFaultSuite(t *testing.T) {
	began := time.Now()
	bin := processor.Path(t)
	t.Logf("processor built (once for the package) %v into the test", time.Since(began).Round(time.Millisecond))
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			h := newHarness(t, bin, s.setup)
			h.title, h.explains = s.name, s.explains
			s.run(h)
		})
	}
	printTable(t, time.Since(began))
}

// warmUp enqueues a few applications and waits until they are on chain: the
// queue flows before the fault.
func warmUp(h *harness) {
	h.t.Helper()
	h.waitCreated(h.enqueue(3), 15*time.Second)
}

// burst enqueues applications and waits until one of them is journaled, so
// the fault finds transactions in flight.
func burst(h *harness, n int) {
	h.t.Helper()
	h.enqueue(n)
	h.waitJournaled(5 * time.Second)
}

// outage cuts a dependency for three ERROR_TIMEOUTs while applications
// arrive.
func outage(h *harness, cut, restore func()) {
	h.t.Helper()
	warmUp(h)
	burst(h, 4)
	h.faultBegins()
	cut()
	h.enqueue(2)
	h.hold(3 * errorTimeout)
	h.enqueue(2)
	restore()
	h.faultEnds()
	h.finish()
}

// underFault keeps the node misbehaving for a while as applications arrive;
// the queue must keep flowing, only slower.
func underFault(h *harness, d time.Duration, start, stop func()) {
	h.t.Helper()
	warmUp(h)
	h.faultBegins()
	start()
	for range 4 {
		h.enqueue(2)
		h.hold(d / 4)
	}
	stop()
	h.faultEnds()
	h.enqueue(2)
	h.finish()
}

// redisLost brings back Redis without its data, by wipe, while transactions
// are in flight, then plays the frontend enqueueing again what it has no
// outcome for (new entities, the same signatures).
func redisLost(h *harness, wipe func()) {
	h.t.Helper()
	warmUp(h)
	burst(h, 4)
	h.faultBegins()
	lost := h.redisLostData()
	wipe()
	again := h.unfinished()
	for _, a := range again {
		h.enqueueAgain(a)
	}
	h.enqueue(2)
	h.waitFor("the group recreated and counted", 10*time.Second, func() (bool, string) {
		m, err := h.current().Metrics(h.ctx)
		if err != nil {
			return false, err.Error()
		}
		n := m["depeg_relay_redis_group_recreated_total"]
		return n >= 1 && h.sampler.said("groupRecreated"), "depeg_relay_redis_group_recreated_total " + strconv.FormatFloat(n, 'f', -1, 64)
	})
	h.faultEnds()
	h.note("Redis lost the stream, the group and %d unacknowledged entries with their hashes; the relay recreated the group "+
		"(log, metric, monitor groupRecreated) and kept tracking its flights from memory; the test enqueued the %d applications "+
		"not yet on chain again, as the frontend would have to", lost, len(again))
	h.finish()
}

var scenarios = []scenario{
	{name: "no fault", run: func(h *harness) {
		warmUp(h)
		h.faultBegins()
		h.enqueue(4)
		h.faultEnds()
		h.finish()
	}},

	// Redis.
	{name: "Redis restarted with persistence (AOF everysec, kill -9)", setup: setup{redis: redistest.Options{Persistence: redistest.AOFEverySec}},
		run: func(h *harness) {
			outage(h, func() {
				h.redisTCP.cut()
				h.redis.Restart() // kill -9; the append-only file (in the page cache) is replayed
				h.watch.Sync(h.t)
				// everysec may lose the last second of writes, the
				// frontend's own enqueues included (more likely when a
				// loaded machine delays the fsync): an application whose
				// entry Redis lost was never the relay's, and the frontend
				// enqueues it again, as it would after any lost write.
				if n := h.reenqueueVanished(); n > 0 {
					h.note("Redis lost the entries of %d applications the frontend had just enqueued; the test enqueued them again", n)
				}
			}, h.redisTCP.restore)
		}},
	{name: "Redis restarted without persistence", run: func(h *harness) {
		redisLost(h, func() {
			h.redisTCP.cut()
			h.redis.Restart() // kill -9, back empty
			h.watch.Sync(h.t)
			h.redisTCP.restore()
		})
	}},
	{name: "Redis FLUSHALL", run: func(h *harness) { redisLost(h, h.redis.Wipe) }},
	{name: "Redis loses its last second (snapshot restore), processor restarted", run: func(h *harness) { lastSecondLost(h, true) }},
	{name: "Redis loses its last second (snapshot restore), processor running", run: func(h *harness) { lastSecondLost(h, false) }},
	{name: "Redis connection cut mid-pipeline (requests)", run: func(h *harness) {
		warmUp(h)
		h.faultBegins()
		// Every connection dies after 1.5 kB sent to Redis: reads pass,
		// the journal pipeline of a batch (one signed transaction per
		// record) is cut part-way, on every attempt, until the toxic goes.
		h.redisTCP.toxic("cut", "limit_data", "upstream", map[string]any{"bytes": 1500})
		h.enqueue(6)
		h.hold(3 * errorTimeout)
		h.redisTCP.heal()
		h.faultEnds()
		h.enqueue(2)
		h.finish()
	}},
	{name: "Redis connection cut mid-pipeline (replies)", run: func(h *harness) {
		warmUp(h)
		h.faultBegins()
		// Redis executes every command, but each connection's answers
		// stop after 600 bytes: a pipeline that landed reads as failed.
		h.redisTCP.toxic("cut", "limit_data", "downstream", map[string]any{"bytes": 600})
		h.enqueue(6)
		h.hold(3 * errorTimeout)
		h.redisTCP.heal()
		h.faultEnds()
		h.enqueue(2)
		h.finish()
	}},

	// The node.
	{name: "node unreachable for 3 s (3 x ERROR_TIMEOUT)", run: func(h *harness) { outage(h, h.rpcTCP.cut, h.rpcTCP.restore) }},
	{name: "node hangs for 3 s (connections open, no answer)", run: func(h *harness) {
		// Connections open, nothing comes back: every call runs into
		// RPC_TIMEOUT.
		outage(h, func() { h.rpcTCP.toxic("hang", "timeout", "downstream", map[string]any{"timeout": 0}) }, h.rpcTCP.heal)
	}},
	{name: "node slow (400 ms per answer)", run: func(h *harness) {
		underFault(h, 4*time.Second, func() {
			h.rpcTCP.toxic("slow", "latency", "downstream", map[string]any{"latency": 400, "jitter": 100})
		}, h.rpcTCP.heal)
	}},
	{name: "node answers 429 and 5xx to half the requests", run: func(h *harness) {
		underFault(h, 4*time.Second, func() {
			h.rpc.Set(rpcfault.Faults{StatusEvery: 2, StatusCodes: []int{429, 503, 502, 500}})
		}, func() { h.rpc.Set(rpcfault.Faults{}) })
	}},
	{name: "node answers garbage to half the requests", run: func(h *harness) {
		underFault(h, 4*time.Second, func() { h.rpc.Set(rpcfault.Faults{GarbageEvery: 2}) }, func() { h.rpc.Set(rpcfault.Faults{}) })
	}},
	{name: "load balancer with one backend 3 blocks behind", run: func(h *harness) {
		underFault(h, 5*time.Second, func() { h.rpc.Set(rpcfault.Faults{LagEvery: 2, LagBlocks: 3}) }, func() { h.rpc.Set(rpcfault.Faults{}) })
	},
		// Every other answer comes from a node 3 blocks behind: a mined
		// transaction reads as unmined (and is replaced once stuck), an
		// application on chain as absent (sent again, reverting with
		// SIGNATURE_USED: created once, invariant 2). Measured when the
		// bound was set: 1 to 2 reverted and 3 replacements in the 5 s
		// fault. Since passes follow every head (issue 21) the lagging
		// answers are read more often: 0 to 2 reverted and 6 to 7
		// replacements in 13 runs on 2026-12-07 (bc96d98 and later alike),
		// which failed the old bound of 6 in about half the runs. The bound
		// is half again the most measured, not derived from the relay's
		// rules (a relay that trusted the lagging answers less, e.g. one
		// that believed a "nonce too low" over a lagging receipt read, would
		// need none: an open point).
		explains: explained{reverted: 4, replacements: 10}},

	// Fees, funds, the product.
	{name: "base fee above MAX_FEE_PER_GAS, then falling", setup: setup{steadySpam: true, env: func(h *harness) []string {
		// The cap sits 2.5 times above the base fee the steady load
		// holds: new transactions (2 x base fee + tip) fit under it.
		return []string{"MAX_FEE_PER_GAS=" + new(big.Int).Div(new(big.Int).Mul(h.baseFee(), big.NewInt(5)), big.NewInt(2)).String()}
	}}, run: feeSpike},
	{name: "balance below PROCESSOR_MIN_BALANCE, then topped up", setup: setup{
		// The wallet starts a few applications' gas above the minimum.
		fund: new(big.Int).Add(big.NewInt(params.Ether), big.NewInt(1_000_000_000_000)),
		env: func(*harness) []string {
			return []string{"PROCESSOR_MIN_BALANCE=1000000000000000000", "PROCESSOR_ALERT_BALANCE=1000000000000000000"}
		}}, run: lowBalance},
	{name: "product paused with a full window", run: pausedProduct,
		// The window mined after the pause reverts (DP-010) and is sent
		// again once the product is active.
		explains: explained{reverted: maxInFlight}},
	{name: "SIGTERM during a burst", run: func(h *harness) {
		warmUp(h)
		h.waitSettled(10 * time.Second)
		h.blocks.Pause() // the burst stays unconfirmed
		h.enqueue(maxInFlight)
		h.waitInFlight(maxInFlight/2, 10*time.Second)
		h.faultBegins()
		if code := h.current().Stop(h.t, stopTimeout); code != 0 {
			h.t.Errorf("exit code %d after SIGTERM, want 0", code)
		}
		held := h.held()
		journaled, err := h.rdb.HLen(h.ctx, journalKey(h.wallet)).Result()
		if err != nil || journaled == 0 {
			h.t.Errorf("journal holds %d records after the stop (%v): unconfirmed transactions must stay journaled", journaled, err)
		}
		h.blocks.Resume()
		h.enqueue(2)
		h.startProcessor()
		h.faultEnds()
		h.note("stopped (exit 0) with %d transactions in the pool and %d journal records; the next start tracked them from the journal", held, journaled)
		h.finish()
	}},

	// Poison entries.
	{name: "poison entry: PendingApplication key of the wrong type", run: func(h *harness) {
		warmUp(h)
		h.watchToTheEnd = true
		h.faultBegins()
		for _, kind := range []string{"string", "list"} {
			h.enqueuePoison("PendingApplication key of type "+kind, func(entity string) (string, error) {
				key := stream.ApplicationKey(entity)
				var err error
				if kind == "string" {
					err = h.rdb.Set(h.ctx, key, "not a hash", 0).Err()
				} else {
					err = h.rdb.RPush(h.ctx, key, "not", "a", "hash").Err()
				}
				if err != nil {
					return "", err
				}
				return h.rdb.XAdd(h.ctx, &redis.XAddArgs{Stream: streamKey, Values: map[string]any{stream.FieldEntityID: entity}}).Result()
			})
		}
		h.enqueue(4)
		h.faultEnds()
		h.enqueue(2)
		h.finish()
	}},
	{name: "poison entry: estimate error that is not a revert", run: func(h *harness) {
		warmUp(h)
		h.watchToTheEnd = true
		h.faultBegins()
		// The node refuses these applications' simulation with errors
		// that are no revert: geth's out-of-allowance, and a revert in a
		// provider's format the classifier does not know. The refusal is in
		// place before they are enqueued: the relay reads an entry as soon
		// as it is added.
		refusals := map[string]string{}
		var poisoned []*app
		for _, msg := range []string{"gas required exceeds allowance (30000000)", "VM Exception while processing transaction: revert"} {
			a := h.sign(1)[0]
			a.poison = "estimate answered " + strconv.Quote(msg)
			refusals[hex.EncodeToString(a.signed.Signature)] = msg
			poisoned = append(poisoned, a)
		}
		h.rpc.Set(rpcfault.Faults{Reject: func(method string, params json.RawMessage) *rpcfault.Error {
			if method != "eth_estimateGas" {
				return nil
			}
			for sig, msg := range refusals {
				if strings.Contains(string(params), sig) {
					return &rpcfault.Error{Code: -32000, Message: msg}
				}
			}
			return nil
		}})
		for _, a := range poisoned {
			h.enqueueAgain(a)
		}
		h.enqueue(4)
		h.faultEnds()
		h.enqueue(2)
		h.finish()
	}},
}

// lastSecondLost: Redis comes back from a snapshot one burst old, after the
// relay journaled and broadcast the burst; the node's pool holds
// transactions the journal no longer knows, for entries the stream shows as
// never delivered.
func lastSecondLost(h *harness, restartProcessor bool) {
	h.t.Helper()
	warmUp(h)
	h.blocks.Pause() // the burst stays in the pool while Redis loses it
	h.redisTCP.cut()
	apps := h.enqueue(4)
	snap := h.redis.Snapshot() // the last durable state: the entries, nothing else
	h.redisTCP.restore()
	h.waitInFlight(uint64(len(apps)), 10*time.Second)
	h.faultBegins()
	if restartProcessor {
		h.current().Kill(h.t)
	}
	h.redisTCP.cut()
	h.redis.RestoreSnapshot(snap)
	h.watch.Sync(h.t)
	if restartProcessor {
		h.startProcessorInOutage() // Redis is still cut
	}
	h.redisTCP.restore()
	h.hold(errorTimeout)
	h.blocks.Resume()
	h.enqueue(2)
	h.faultEnds()
	h.note("Redis lost the journal records and transactionHash of %d broadcast transactions; their entries came back undelivered", len(apps))
	h.finish()
}

// feeSpike: other users fill the blocks until the base fee is above the cap,
// keep it there, then stop.
func feeSpike(h *harness) {
	h.t.Helper()
	warmUp(h)
	burst(h, 4)
	h.faultBegins()
	h.spam.mode.Store(spamSpike)
	over := new(big.Int).Div(new(big.Int).Mul(h.maxFee, big.NewInt(13)), big.NewInt(10))
	h.waitFor("the base fee 30% above MAX_FEE_PER_GAS", 20*time.Second, func() (bool, string) {
		b := h.baseFee()
		return b.Cmp(over) >= 0, "base fee " + b.String()
	})
	h.spam.mode.Store(spamSteady) // and there it stays
	h.enqueue(2)
	h.hold(2 * errorTimeout)
	h.enqueue(2)
	h.spam.mode.Store(spamOff)
	h.waitFor("the base fee back under MAX_FEE_PER_GAS", 20*time.Second, func() (bool, string) {
		b := h.baseFee()
		return b.Cmp(h.maxFee) <= 0, "base fee " + b.String()
	})
	h.faultEnds()
	if !h.sampler.said("feeCap") {
		h.t.Errorf("the monitor never showed feeCap while the base fee was above the cap")
	}
	h.note("MAX_FEE_PER_GAS %s wei; the base fee rose to 1.3 times it and stayed there for %v", h.maxFee, 2*errorTimeout)
	h.finish()
}

// lowBalance: the wallet spends itself below PROCESSOR_MIN_BALANCE, waits,
// and is topped up.
func lowBalance(h *harness) {
	h.t.Helper()
	min := big.NewInt(params.Ether)
	h.enqueue(6)
	h.waitFor("the balance below PROCESSOR_MIN_BALANCE", 20*time.Second, func() (bool, string) {
		b, err := h.dc.Client.BalanceAt(h.ctx, h.wallet, nil)
		return err == nil && b.Cmp(min) < 0, "balance " + b.String()
	})
	// The relay's gate reads the balance the monitor shows (one reader,
	// refreshed every BALANCE_REFRESH_INTERVAL) and reuses a good reading
	// for a poll interval. Once the monitor says it is low and that
	// interval has passed, nothing enqueued gets through; before, the two
	// entries could go out on a reading taken before the drop, after the
	// first nonce read below.
	h.waitFor("the monitor showing the balance below the alert", 20*time.Second, func() (bool, string) {
		_, rep, err := h.current().Monitor(h.ctx)
		if err != nil {
			return false, err.Error()
		}
		v, _ := rep["balance"].(string)
		return strings.Contains(v, "below"), "balance check " + v
	})
	h.hold(2 * pollInterval)
	h.faultBegins()
	h.enqueue(2)
	h.hold(2 * errorTimeout)
	nonce, err := h.dc.Client.PendingNonceAt(h.ctx, h.wallet)
	if err != nil {
		h.t.Fatal(err)
	}
	h.hold(2 * errorTimeout)
	if later, err := h.dc.Client.PendingNonceAt(h.ctx, h.wallet); err != nil || later != nonce {
		h.t.Errorf("the relay signed new transactions below PROCESSOR_MIN_BALANCE: pending nonce %d, then %d (%v)", nonce, later, err)
	}
	if !h.sampler.said("balance") {
		h.t.Errorf("the monitor's balance check never failed below the alert balance")
	}
	h.topUp(new(big.Int).Div(min, big.NewInt(2)))
	h.faultEnds()
	h.enqueue(2)
	h.finish()
}

// topUp sends wei from the bank to the wallet and waits until it is mined.
func (h *harness) topUp(wei *big.Int) {
	h.t.Helper()
	from := crypto.PubkeyToAddress(h.bank.PublicKey)
	nonce, err := h.dc.Client.PendingNonceAt(h.ctx, from)
	if err != nil {
		h.t.Fatal(err)
	}
	tx := types.MustSignNewTx(h.bank, types.LatestSignerForChainID(h.dc.ChainID), &types.DynamicFeeTx{
		ChainID: h.dc.ChainID, Nonce: nonce, To: &h.wallet, Value: wei, Gas: 21000,
		GasTipCap: big.NewInt(1_000_000_000), GasFeeCap: big.NewInt(100_000_000_000),
	})
	if err := h.dc.Client.SendTransaction(h.ctx, tx); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("the top-up mined", 10*time.Second, func() (bool, string) {
		r, err := h.dc.Client.TransactionReceipt(h.ctx, tx.Hash())
		return err == nil && r.Status == 1, "receipt: " + errString(err)
	})
}

// pausedProduct: the owner pauses the product while the window is full of
// signed transactions, which are mined after the pause and revert.
func pausedProduct(h *harness) {
	h.t.Helper()
	warmUp(h)
	h.waitSettled(10 * time.Second) // the whole window free
	h.blocks.Pause()
	h.enqueue(maxInFlight)
	h.waitInFlight(maxInFlight, 10*time.Second)
	h.faultBegins()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := h.dc.SetActive(ctx, false); err != nil { // mined ahead of the window, in one block with it
		h.t.Fatal(err)
	}
	h.blocks.Resume()
	h.enqueue(2)
	h.hold(3 * errorTimeout)
	if err := h.dc.SetActive(ctx, true); err != nil {
		h.t.Fatal(err)
	}
	h.faultEnds()
	h.enqueue(2)
	h.note("the %d transactions of the full window were mined after the pause and reverted (DP-010): requeued, applied once resumed", maxInFlight)
	h.finish()
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
