package relay_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/logbuf"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

const testMnemonic = "test test test test test test test test test test test junk"

// env is one relay under test: a real redis-server, an embedded EVM reached
// over HTTP JSON-RPC, and the relay's real Redis and chain clients.
type env struct {
	t       *testing.T
	redis   *redistest.Server
	rdb     *redis.Client
	chain   *devchain.Chain
	client  *chain.Client
	keys    stream.Keys
	queue   *stream.Queue
	signer  *chain.Signer
	product *chain.Product
	cfg     relay.Config
	metrics *monitor.Metrics
	reg     *prometheus.Registry
	hb      *monitor.Heartbeat
	log     *logbuf.Buffer
	// probe counts what every relay of this env did (tracker passes, loop
	// iterations, simulations, broadcasts, receipts read), across restarts.
	probe *probe
	// clock, with envOptions.fakeClock, is the relays' time: it moves by
	// step on every look of until, mineUntil, passes and waitBroadcast, and
	// nowhere else, so a test decides when a backoff or a wait is over.
	clock *fakeclock.Clock
	step  time.Duration
}

type envOptions struct {
	fund          *big.Int // wallet balance at genesis; nil = 1000 ETH
	confirmations uint64
	maxInFlight   int
	alsoFund      []common.Address // more genesis-funded accounts, e.g. a user paying gas
	poolSlots     uint64           // the node keeps this many of a sender's transactions (0: roomy)
	fakeClock     bool             // the relays run on env.clock (see env.until)
	priceBump     uint64           // the node's replacement rule in percent (0: geth's 10)
	batch         int              // deploy the batch contract and batch up to this many per transaction (0: off)
	gasLimit      uint64           // the block gas limit (0: devchain's 30 million)
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	dc, err := devchain.Start(devchain.Options{Fund: append([]common.Address{wallet}, o.alsoFund...), FundAmount: o.fund,
		PoolSlots: o.poolSlots, PriceBump: o.priceBump, Batch: o.batch > 0, GasLimit: o.gasLimit})
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	// Before the chain closes (cleanups run last first): the node's HTTP
	// server waits up to 5 s at shutdown for a connection that never
	// carried a request (net/http counts one as idle only after 5 s), and
	// net/http's pool keeps such connections, dialled for a request that an
	// older one then served.
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	srv := redistest.Start(t)
	rdb := srv.Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "depeg-backend-processor-consumer", DeadLetter: "application:signatures:dead",
		Wallet: strings.ToLower(wallet.Hex())}
	if o.confirmations == 0 {
		o.confirmations = 3
	}
	if o.maxInFlight == 0 {
		o.maxInFlight = 16
	}
	e := &env{
		t: t, redis: srv, rdb: rdb, chain: dc, client: client, keys: keys,
		queue:   stream.NewQueue(rdb, keys),
		signer:  chain.NewSigner(key, dc.ChainID),
		product: chain.NewProduct(dc.Product),
		reg:     prometheus.NewRegistry(),
		hb:      &monitor.Heartbeat{},
		log:     &logbuf.Buffer{},
	}
	loaded := configtest.Defaults(t, dc.URL, dc.Product, testMnemonic)
	e.cfg = relay.Settings(loaded)
	// What the tests choose; everything else is config's default.
	e.cfg.Confirmations, e.cfg.MaxInFlight = o.confirmations, o.maxInFlight
	// Blocks are sealed by the test: a pass at least every 50 ms follows
	// each one promptly on the wall clock, and is the step of the fake one.
	e.cfg.PollInterval = 50 * time.Millisecond
	// A stop waits for a blocked read of new entries; with the default
	// (30 s, capped at 2 s a read) every restart in a test would wait 2 s.
	e.cfg.ReadBlock = 200 * time.Millisecond
	if o.batch > 0 {
		e.cfg.Batch = &relay.Batching{Contract: dc.Batch, MaxApplications: o.batch, GasBudget: loaded.BatchGasBudget}
	}
	e.metrics = monitor.NewMetrics(e.reg)
	e.probe = &probe{Metrics: e.metrics, now: time.Now}
	if o.fakeClock {
		e.clock, e.step = fakeclock.New(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)), e.cfg.PollInterval
		e.cfg.Clock = &probedClock{Clock: e.clock, p: e.probe}
		e.probe.now = e.clock.Now
	}
	e.dumpLogOnFailure()
	return e
}

// start runs a relay until the returned stop is called (or the test ends).
func (e *env) start() (stop func()) {
	e.t.Helper()
	return e.startWith(e.client, e.queue)
}

// startWith runs a relay on the given chain and queue, which tests wrap to
// inject faults (a lost broadcast, a failing ack).
func (e *env) startWith(c relay.Chain, q relay.Queue) (stop func()) {
	e.t.Helper()
	return e.run(&chainProbe{Chain: c, p: e.probe}, q)
}

// run runs a relay on c and q as they are until the returned stop is
// called (or the test ends).
func (e *env) run(c relay.Chain, q relay.Queue) (stop func()) {
	e.t.Helper()
	r := relay.New(e.cfg, zerolog.New(e.log).With().Timestamp().Logger(), c, q, e.signer, e.product, e.probe, e.hb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					e.t.Errorf("relay run: %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Errorf("relay did not stop within 30s")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// enqueue signs n fresh applications and enqueues them as the frontend does.
func (e *env) enqueue(n int) []enqueued {
	e.t.Helper()
	out := make([]enqueued, n)
	for i := range out {
		app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = e.enqueueApp(app)
	}
	return out
}

func (e *env) enqueueApp(app *frontend.Application) enqueued {
	e.t.Helper()
	id := frontend.NewEntityID()
	entry, err := frontend.Enqueue(e.t.Context(), e.rdb, e.keys.Stream, id, frontend.Fields(app))
	if err != nil {
		e.t.Fatal(err)
	}
	sid, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		e.t.Fatal(err)
	}
	return enqueued{entityID: id, entryID: entry, signatureID: sid}
}

type enqueued struct {
	entityID, entryID string
	signatureID       [32]byte
}

func (e *env) pending() int64 {
	e.t.Helper()
	p, err := e.rdb.XPending(e.t.Context(), e.keys.Stream, e.keys.Group).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return 0
		}
		e.t.Fatal(err)
	}
	return p.Count
}

func (e *env) txHash(entityID string) string {
	v, err := e.rdb.HGet(e.t.Context(), stream.ApplicationKey(entityID), stream.FieldTransactionHash).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) exists(key string) bool {
	n, err := e.rdb.Exists(e.t.Context(), key).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}

func (e *env) created(sid [32]byte) uint64 {
	n, err := e.chain.ApplicationsBySignatureID(e.t.Context(), sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) deadLetters() []redis.XMessage {
	msgs, err := e.rdb.XRange(e.t.Context(), e.keys.DeadLetter, "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

func (e *env) walletNonce() uint64 {
	n, err := e.client.NonceAt(e.t.Context(), e.signer.Address(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// produce seals a block every period until the test ends.
func (e *env) produce(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.chain.Produce(ctx, every) })
	e.t.Cleanup(func() { cancel(); wg.Wait() })
}

// until polls cond until it holds or the deadline (wall time) passes; on a
// fake clock, time moves by e.step before every look.
func (e *env) until(within time.Duration, what string, cond func() bool) {
	e.t.Helper()
	eventually(e.t, within, what, func() bool {
		if e.clock != nil {
			e.clock.Advance(e.step)
		}
		return cond()
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, within, what, cond)
}

// probe counts what the relays of an env report and do, so a test proves
// "nothing happened" by counting the chances the relay had (tracker passes,
// loop iterations) instead of sleeping, and waits on what the relay did
// instead of on its log.
type probe struct {
	*monitor.Metrics
	// passes counts tracker passes over a non-empty window: each reports the
	// node window (SetNodeWindow) after reading head, nonces and receipts
	// and before it acts on them (settle, resend, replace).
	passes atomic.Int64
	loops  atomic.Int64 // submitting loop iterations (LoopIteration)
	// Counted by chainProbe: simulation batches, broadcast batches, balance
	// reads, receipts of ours the node returned.
	estimates, sends, balances, receipts atomic.Int64
	inFlight                             atomic.Int64 // the last SetInFlight

	mu      sync.Mutex
	reverts map[string]int // simulations reverted, by revert reason
	// now is the relays' clock; simulated holds when each simulation batch
	// was answered on it, and whether one of its calls reverted with
	// PRODUCT_NOT_ACTIVE, so a test checks the back-off between attempts.
	now       func() time.Time
	simulated []simulation
	// waits is every wait the relays began on the fake clock, in order.
	waits []wait
	// nodeSeen is every pass's node window report, in order: what the node
	// held of the wallet's transactions and the window after the pass.
	nodeSeen []nodeSeen
}

// nodeSeen is one pass's SetNodeWindow.
type nodeSeen struct{ held, window uint64 }

// nodeReports is what the passes reported of the node window, in order.
func (p *probe) nodeReports() []nodeSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]nodeSeen(nil), p.nodeSeen...)
}

// simulation is one simulation batch the relay made, on its clock.
type simulation struct {
	at     time.Time
	paused bool // a call reverted with PRODUCT_NOT_ACTIVE
}

// wait is one wait a relay began on the fake clock (probedClock): how long,
// and how many simulation batches had been answered by then.
type wait struct {
	d    time.Duration
	sims int
}

// probedClock is the fake clock as the relays see it, noting each wait they
// begin in the probe, so a test tells a back-off from the time it took.
type probedClock struct {
	*fakeclock.Clock
	p *probe
}

func (c *probedClock) After(d time.Duration) <-chan time.Time {
	c.p.mu.Lock()
	c.p.waits = append(c.p.waits, wait{d: d, sims: len(c.p.simulated)})
	c.p.mu.Unlock()
	return c.Clock.After(d)
}

// waitsBetween is the waits of at least min the relays began after the
// i-th simulation batch was answered and before the next one (i from 1).
func (p *probe) waitsBetween(i int, min time.Duration) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ds []time.Duration
	for _, w := range p.waits {
		if w.sims == i && w.d >= min {
			ds = append(ds, w.d)
		}
	}
	return ds
}

// simulations is what the relays simulated, in order.
func (p *probe) simulations() []simulation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]simulation(nil), p.simulated...)
}

func (p *probe) SetNodeWindow(held, window uint64) {
	p.Metrics.SetNodeWindow(held, window)
	p.mu.Lock()
	p.nodeSeen = append(p.nodeSeen, nodeSeen{held, window})
	p.mu.Unlock()
	p.passes.Add(1)
}

func (p *probe) LoopIteration(t time.Time) {
	p.Metrics.LoopIteration(t)
	p.loops.Add(1)
}

func (p *probe) SetInFlight(n int) {
	p.Metrics.SetInFlight(n)
	p.inFlight.Store(int64(n))
}

// simulatedReverts is how many simulations reverted with a reason that
// contains word (the contract's reasons carry a code prefix:
// "ERROR:DP-010:PRODUCT_NOT_ACTIVE").
func (p *probe) simulatedReverts(word string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for reason, k := range p.reverts {
		if strings.Contains(reason, word) {
			n += k
		}
	}
	return n
}

// chainProbe counts what a relay asks of the node into its probe.
type chainProbe struct {
	relay.Chain
	p *probe
}

func (c *chainProbe) EstimateGasBatch(ctx context.Context, msgs []ethereum.CallMsg) ([]uint64, []error, error) {
	gas, errs, err := c.Chain.EstimateGasBatch(ctx, msgs)
	c.p.mu.Lock()
	sim := simulation{at: c.p.now()}
	for _, e := range errs {
		if rev := chain.AsRevert(e); rev != nil {
			if c.p.reverts == nil {
				c.p.reverts = map[string]int{}
			}
			c.p.reverts[rev.Reason]++
			sim.paused = sim.paused || strings.Contains(rev.Reason, "PRODUCT_NOT_ACTIVE")
		}
	}
	c.p.simulated = append(c.p.simulated, sim)
	c.p.mu.Unlock()
	c.p.estimates.Add(1)
	return gas, errs, err
}

func (c *chainProbe) SendTransactions(ctx context.Context, txs []*types.Transaction) ([]error, error) {
	errs, err := c.Chain.SendTransactions(ctx, txs)
	c.p.sends.Add(1)
	return errs, err
}

func (c *chainProbe) BalanceAt(ctx context.Context, account common.Address, block *big.Int) (*big.Int, error) {
	b, err := c.Chain.BalanceAt(ctx, account, block)
	c.p.balances.Add(1)
	return b, err
}

func (c *chainProbe) Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error) {
	rs, err := c.Chain.Receipts(ctx, hashes)
	for _, r := range rs {
		if r != nil {
			c.p.receipts.Add(1)
		}
	}
	return rs, err
}

// passes waits until the tracker has made n more passes over the window:
// at least n-1 of them start after this call, and n-2 end after it, each a
// chance to act on what the test changed before (a block sealed, a fork).
// On the fake clock, time moves between looks as in until: the tracker
// looks at the head on the relay's clock.
func (e *env) passes(n int64) {
	e.t.Helper()
	want := e.probe.passes.Load() + n
	e.until(20*time.Second, fmt.Sprintf("%d tracker passes", n), func() bool { return e.probe.passes.Load() >= want })
}

// dumpLogOnFailure prints the relay's log when the test fails.
func (e *env) dumpLogOnFailure() {
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("relay log:\n%s", e.log.String())
		}
	})
}

// queueLen is how many entries the group has delivered in all (read and
// acknowledged or still pending), from XINFO GROUPS' entries-read.
func (e *env) queueLen() int64 {
	e.t.Helper()
	groups, err := e.rdb.XInfoGroups(e.t.Context(), e.keys.Stream).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range groups {
		if g.Name == e.keys.Group {
			return g.EntriesRead
		}
	}
	return 0
}

// waitBroadcast waits (as until does) until n of the relay's transactions
// were broadcast (depeg_relay_tx_submitted_total, counted after the
// broadcast returned).
// The transactionHash field is written before the broadcast (journal
// first), so it does not prove the node has the transaction yet.
func (e *env) waitBroadcast(n int) {
	e.t.Helper()
	e.waitBroadcastWithin(10*time.Second, n)
}

// waitBroadcastWithin is waitBroadcast with its own bound, for a relay that
// simulates slowly before it broadcasts.
func (e *env) waitBroadcastWithin(within time.Duration, n int) {
	e.t.Helper()
	e.until(within, "broadcast", func() bool {
		return metricValue(e.t, e, "depeg_relay_tx_submitted_total") >= float64(n)
	})
}

// sendOutside signs app's application call with the relay's own wallet at
// nonce 0 and sends it past the relay, as the old processor (or a relay whose
// journal record was lost) did: the node has it, the relay's journal does not.
// It returns once the node counts it as pending.
func (e *env) sendOutside(app *frontend.Application) *types.Transaction {
	e.t.Helper()
	head, err := e.client.HeaderByNumber(e.t.Context(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := e.signer.Sign(applyCall(e.t, e.product, app), 0, 1_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.SendTransaction(e.t.Context(), tx); err != nil {
		e.t.Fatal(err)
	}
	devchaintest.Pooled(e.t, e.client, tx)
	return tx
}
