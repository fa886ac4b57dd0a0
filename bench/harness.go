package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/stream"
)

// Mnemonic is the processor's wallets in the benchmark: the well-known
// hardhat/anvil test phrase, indexes 0 to Keys-1, funded at genesis of the
// devchain.
const Mnemonic = "test test test test test test test test test test test junk"

// Redis names the processor uses by default (docs/design.md, "The fixed contracts").
const (
	streamKey     = "application:signatures"
	groupName     = "depeg-backend-processor"
	deadLetterKey = "application:signatures:dead"
	delChannel    = "__keyevent@0__:del"
	bundleID      = 1
	enqueueChunk  = 500 // applications per enqueue pipeline
)

// Options configures one benchmark run. Zero values take the defaults noted.
type Options struct {
	// Processor is a built processor binary; empty builds cmd/processor
	// (from Rev when set, else from the working tree).
	Processor string
	Rev       string
	// Mode is "backlog" (N applications at once) or "rate" (Rate per second
	// for Duration).
	Mode string
	N    int // backlog size; default 5000
	// BacklogStart is "after" (default: the processor is started and idle,
	// then the whole backlog is enqueued at once, as after a campaign mail)
	// or "before" (the backlog is in Redis when the processor starts, as
	// after an outage).
	BacklogStart string
	Rate         float64       // applications per second in rate mode; default 20
	Duration     time.Duration // rate mode; default 60s
	BlockTime    time.Duration // default 1s
	GasLimit     uint64        // block gas limit; default 30M
	GasPerApp    uint64        // target gas of one application; default 250k
	// MaxInFlight, Confirmations and PollInterval set MAX_IN_FLIGHT,
	// CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS and CHAIN_POLL_INTERVAL; 0 leaves
	// the processor's default, except Confirmations whose default here is 2.
	MaxInFlight   int
	Confirmations int
	PollInterval  time.Duration
	// BaseFeeFloor: empty blocks are sealed before the run until the base
	// fee is at most this (wei); default 1e6 (0.001 gwei). See settleBaseFee.
	BaseFeeFloor *big.Int
	// RPCLatency and RedisLatency are added to every HTTP request to the
	// node and every Redis round trip of the processor, to play a hosted
	// node or a managed Redis instead of ones on the same machine.
	RPCLatency   time.Duration
	RedisLatency time.Duration
	// Idle is how long the processor is watched doing nothing after the load
	// drained, for its idle CPU and traffic; default 10s.
	Idle    time.Duration
	Timeout time.Duration // for the whole load; default 30m
	// Stall ends the run early when nothing is broadcast or acknowledged for
	// this long; default 2m.
	Stall time.Duration
	// Keys is how many wallets of Mnemonic the processor sends from
	// (PROCESSOR_ACCOUNT_INDEX=0-(Keys-1)), each funded at genesis; default 1.
	Keys int
	// PoolSlots makes the node keep at most this many of a sender's
	// transactions (devchain.Options.PoolSlots), as a busy geth pool or a
	// hosted provider does; 0 keeps the roomy default pool.
	PoolSlots uint64
	// PoolDrops picks the other kind of strict node: the devchain keeps
	// everything, and the node's proxy answers every send past PoolSlots
	// pending per sender as taken and drops it silently (hosted providers,
	// busy public pools) instead of geth refusing it.
	PoolDrops bool
	// KMS makes the processor's keys AWS KMS keys (SIGNER=aws-kms) on a
	// local-kms the bench starts, KMSLatency added to every KMS call.
	KMS        bool
	KMSLatency time.Duration
	// Batch turns batching on (issue 22): the devchain deploys the batch
	// contract for its product, and the processor gets its address
	// (BATCH_CONTRACT_ADDRESS) and Batch as BATCH_MAX_APPLICATIONS. 0 is
	// off: one application per transaction. 1 is refused, as the
	// processor reads it as off too.
	Batch int
	// WS gives the processor the devchain's websocket endpoint as
	// CHAIN_RPC_URL, so its tracker is woken by newHeads (issue 21). The
	// counting proxy speaks HTTP only, so the processor goes past it: no
	// RPC traffic or enqueue-to-broadcast figures, and neither RPCLatency
	// nor PoolDrops, which need the proxy.
	WS bool
	// Env adds KEY=VALUE settings for the processor.
	Env []string
	// WorkDir keeps the processor's log; empty uses a temporary directory.
	WorkDir string
	// Progress receives a line every few seconds; nil discards.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.Mode == "" {
		o.Mode = "backlog"
	}
	if o.Mode != "backlog" && o.Mode != "rate" {
		return fmt.Errorf("mode %q: want backlog or rate", o.Mode)
	}
	if o.BacklogStart == "" {
		o.BacklogStart = "after"
	}
	if o.BacklogStart != "after" && o.BacklogStart != "before" {
		return fmt.Errorf("backlog start %q: want after or before", o.BacklogStart)
	}
	if o.N == 0 {
		o.N = 5000
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.Duration == 0 {
		o.Duration = time.Minute
	}
	if o.BlockTime == 0 {
		o.BlockTime = time.Second
	}
	if o.GasLimit == 0 {
		o.GasLimit = 30_000_000
	}
	if o.GasPerApp == 0 {
		o.GasPerApp = 250_000
	}
	if o.Confirmations == 0 {
		o.Confirmations = 2
	}
	if o.BaseFeeFloor == nil {
		o.BaseFeeFloor = big.NewInt(1_000_000)
	}
	if o.Idle == 0 {
		o.Idle = 10 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Stall == 0 {
		o.Stall = 2 * time.Minute
	}
	if o.Keys == 0 {
		o.Keys = 1
	}
	if o.Keys < 0 {
		return fmt.Errorf("keys %d: want at least 1", o.Keys)
	}
	if o.WS && (o.RPCLatency > 0 || o.PoolDrops) {
		return errors.New("websocket: the processor goes past the RPC proxy, which added latency and dropped sends need")
	}
	if o.Batch < 0 || o.Batch == 1 {
		return fmt.Errorf("batch %d: want 0 (off) or at least 2 applications per transaction", o.Batch)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// total is the number of applications the run enqueues.
func (o *Options) total() int {
	if o.Mode == "rate" {
		return int(o.Rate * o.Duration.Seconds())
	}
	return o.N
}

// appState is what the harness observes of one application.
type appState struct {
	entityID   string
	fields     map[string]string
	sigHash    common.Hash
	entryID    string
	enqueuedAt time.Time // from the stream entry id (Redis clock, ms)
	firstSent  time.Time // first eth_sendRawTransaction seen by the proxy
	sends      int
	hashes     map[common.Hash]bool
	minedAt    time.Time // seal time of the block that included it
	minedBlock uint64
	ackedAt    time.Time // DEL of its hash (same pipeline as XACK)
}

// observer collects events from the proxies and Redis notifications.
type observer struct {
	mu           sync.Mutex
	apps         []*appState
	bySig        map[common.Hash]int
	byEntity     map[string]int
	sends        int
	foreignSends int
	sent         int // applications with at least one send
	acked        int
	lastSent     time.Time
	lastAcked    time.Time
}

func (o *observer) onSend(s RawTxSent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sends++
	known := 0
	for _, h := range carried(s.Tx.Data()) {
		i, ok := o.bySig[h]
		if !ok {
			continue
		}
		known++
		a := o.apps[i]
		if a.sends == 0 {
			a.firstSent = s.At
			o.sent++
			o.lastSent = s.At
		}
		a.sends++
		a.hashes[s.Tx.Hash()] = true
	}
	if known == 0 {
		o.foreignSends++
	}
}

// carried names the applications a transaction's calldata carries, by
// keccak256 of each one's signature: one for a product call, each of a
// batch's for an applyBatch call (chain/batch), none for anything else.
func carried(data []byte) []common.Hash {
	if sig, err := productABI.SignatureOf(data); err == nil {
		return []common.Hash{crypto.Keccak256Hash(sig)}
	}
	apps, _, err := batch.Decode(data)
	if err != nil {
		return nil
	}
	out := make([]common.Hash, len(apps))
	for i, a := range apps {
		out[i] = crypto.Keccak256Hash(a.Signature)
	}
	return out
}

func (o *observer) onDel(key string, at time.Time) {
	id, ok := strings.CutPrefix(key, stream.ApplicationKey(""))
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	i, ok := o.byEntity[id]
	if !ok || !o.apps[i].ackedAt.IsZero() {
		return
	}
	o.apps[i].ackedAt = at
	o.acked++
	o.lastAcked = at
}

func (o *observer) progress() (sent, acked, sends int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent, o.acked, o.sends
}

// productABI only unpacks calldata; the address is irrelevant.
var productABI = chain.NewProduct(common.Address{})

// Run executes one benchmark and returns its report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Machine: ReadMachine(), Started: time.Now().UTC()}
	rep.Settings = settingsOf(o)
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}

	workDir := o.WorkDir
	if workDir == "" {
		d, err := os.MkdirTemp("", "depeg-relay-bench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		workDir = d
	} else if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}

	// The processor binary first: a build failure should cost nothing else.
	bin := o.Processor
	rep.Processor = bin
	if bin == "" {
		logf("building cmd/processor")
		b, built, err := BuildProcessor(ctx, workDir, o.Rev)
		if err != nil {
			return nil, err
		}
		bin, rep.Processor = b, built
	}

	// Chain: the processor's wallets and a calibration key funded at genesis.
	wallets, err := Wallets(Mnemonic, o.Keys)
	if err != nil {
		return nil, err
	}
	var kmsPool *kmsKeys
	if o.KMS {
		logf("starting local-kms with %d keys, %v added per KMS call", max(o.Keys, 1), o.KMSLatency)
		if kmsPool, err = startKMS(ctx, max(o.Keys, 1), o.KMSLatency); err != nil {
			return nil, err
		}
		defer kmsPool.stop()
		wallets = kmsPool.Addresses
	}
	calKey, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	fund := new(big.Int).Mul(big.NewInt(100_000), big.NewInt(params.Ether))
	nodeSlots := o.PoolSlots
	if o.PoolDrops {
		nodeSlots = 0 // the proxy drops; the node itself keeps everything
	}
	dc, err := devchain.Start(devchain.Options{GasLimit: o.GasLimit, FundAmount: fund, PoolSlots: nodeSlots, PoolSenders: uint64(o.Keys),
		Fund: append(wallets, crypto.PubkeyToAddress(calKey.PublicKey)), Batch: o.Batch > 0})
	if err != nil {
		return nil, fmt.Errorf("start devchain: %w", err)
	}
	defer dc.Close()
	logf("devchain at %s, calibrating gas per application (target %d)", dc.URL, o.GasPerApp)
	if rep.Calibration, err = calibrate(ctx, dc, calKey, o.GasPerApp); err != nil {
		return nil, err
	}
	logf("gas burn %d iterations: %d gas per application", rep.Calibration.Iterations, rep.Calibration.Measured)
	if rep.BaseFeeStartWei, err = settleBaseFee(ctx, dc, o.BaseFeeFloor); err != nil {
		return nil, err
	}

	// Redis and the two counting proxies.
	rs, err := StartRedis()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	rproxy, err := StartRedisProxy(rs.Addr(), o.RedisLatency)
	if err != nil {
		return nil, err
	}
	defer rproxy.Close()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()

	obs := &observer{bySig: map[common.Hash]int{}, byEntity: map[string]int{}}
	cproxy, err := StartRPCProxy(dc.URL, obs.onSend, o.RPCLatency)
	if err != nil {
		return nil, err
	}
	defer cproxy.Close()
	if o.PoolDrops && o.PoolSlots > 0 {
		cproxy.DropSendsBeyond(o.PoolSlots)
		defer func() { rep.Settings.Dropped = cproxy.Dropped() }()
	}

	// Applications, signed up front so signing costs nothing during the run.
	total := o.total()
	logf("signing %d applications", total)
	if err := signApps(ctx, obs, dc, total); err != nil {
		return nil, err
	}

	// Acknowledgement times from keyevent notifications.
	sub := rdb.Subscribe(ctx, delChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", delChannel, err)
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	msgs := sub.Channel(redis.WithChannelSize(total + 1024))
	bg.Add(1)
	go func() {
		defer bg.Done()
		for m := range msgs {
			obs.onDel(m.Payload, time.Now())
		}
	}()
	defer sub.Close() // ends the goroutine above before bg.Wait

	// Blocks every BlockTime from now on.
	pctx, stopProducing := context.WithCancel(context.Background())
	prod := &producer{dc: dc, every: o.BlockTime}
	bg.Add(1)
	go func() {
		defer bg.Done()
		prod.run(pctx)
	}()
	defer stopProducing()

	port, err := freeport.Pick()
	if err != nil {
		return nil, err
	}
	rpcURL := cproxy.URL
	if o.WS {
		rpcURL = dc.WSURL
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"REDIS_URL=redis://" + rproxy.Addr,
		"CHAIN_RPC_URL=" + rpcURL,
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(),
		"PORT=" + strconv.Itoa(port),
		"NODE_ENV=production",
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=" + strconv.Itoa(o.Confirmations),
	}
	if kmsPool != nil {
		env = append(env, kmsPool.Env...)
	} else {
		env = append(env, "PROCESSOR_MNEMONIC="+Mnemonic, "PROCESSOR_ACCOUNT_INDEX="+AccountIndexes(o.Keys))
	}
	if o.MaxInFlight > 0 {
		env = append(env, "MAX_IN_FLIGHT="+strconv.Itoa(o.MaxInFlight))
	}
	if o.PollInterval > 0 {
		env = append(env, "CHAIN_POLL_INTERVAL="+strconv.FormatInt(o.PollInterval.Milliseconds(), 10))
	}
	env = append(env, batchEnv(o.Batch, dc.Batch)...)
	env = append(env, o.Env...)
	rep.ProcessorEnv = redactEnv(env)

	var all []int
	for i := range total {
		all = append(all, i)
	}
	var t0 time.Time
	before := snapshot{}
	if o.Mode == "backlog" && o.BacklogStart == "before" {
		before = takeSnapshot(ctx, 0, cproxy, rproxy, rdb)
		t0 = time.Now()
		logf("enqueueing %d applications before the processor starts", total)
		if err := enqueue(ctx, rdb, obs, all); err != nil {
			return nil, err
		}
	}

	logf("starting processor %s", rep.Processor)
	proc, err := proctest.Spawn(bin, proctest.Options{Env: env, LogDir: workDir})
	if err != nil {
		return nil, err
	}
	defer stopProcessor(proc)
	rep.LogPath = proc.StderrPath()
	if err := proc.Serving(ctx, time.Minute); err != nil {
		return nil, fmt.Errorf("%w; see %s", err, proc.StderrPath())
	}
	ready, _ := ProcMemory(proc.Pid())

	if t0.IsZero() {
		before = takeSnapshot(ctx, proc.Pid(), cproxy, rproxy, rdb)
		t0 = time.Now()
	} else {
		// The CPU counter starts with the process: it was 0 at t0.
		before.cpu = 0
	}
	rctx, cancelRun := context.WithTimeout(ctx, o.Timeout)
	defer cancelRun()

	// Load: enqueue in the background while watching progress.
	var g errgroup.Group
	switch {
	case o.Mode == "backlog" && o.BacklogStart == "after":
		logf("enqueueing a backlog of %d applications", total)
		g.Go(func() error { return enqueue(rctx, rdb, obs, all) })
	case o.Mode == "rate":
		logf("enqueueing %.1f applications per second for %v", o.Rate, o.Duration)
		g.Go(func() error { return enqueueAtRate(rctx, rdb, obs, all, o.Rate) })
	}
	timeline, waitErr := watch(rctx, proc, obs, total, t0, o.Stall, logf)
	cancelRun() // a failed watch stops the enqueueing too
	if err := g.Wait(); err != nil && waitErr == nil {
		return nil, err
	}
	if waitErr != nil {
		rep.Error = waitErr.Error()
		logf("%v", waitErr)
	}
	// An interrupted or failed run still reports what it saw.
	ctx, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancelPost()
	after := takeSnapshot(ctx, proc.Pid(), cproxy, rproxy, rdb)
	loaded, _ := ProcMemory(proc.Pid())
	rep.Timeline = timeline
	rep.Metrics = scrapeMetrics(ctx, proc, "depeg_relay_tx_submitted_total", "depeg_relay_tx_confirmed_total",
		appsPerTxSum, appsPerTxCount, gasPerAppSum, gasPerAppCount, "go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "go_gc_cycles_total_gc_cycles_total")

	// Idle: the backlog is gone; the processor should now cost nothing.
	var idleCPU time.Duration
	idle := snapshot{}
	if proc.Running() && waitErr == nil {
		logf("watching the idle processor for %v", o.Idle)
		time.Sleep(o.Idle)
		idle = takeSnapshot(ctx, proc.Pid(), cproxy, rproxy, rdb)
		idleCPU = idle.cpu - after.cpu
	}
	end, _ := ProcMemory(proc.Pid())
	rep.Memory = memoryReport(ready, loaded, end, timeline)

	rep.Verify = verify(ctx, rdb, dc)
	if err := stopProcessor(proc); err != nil {
		rep.Error = strings.TrimSpace(rep.Error + "; " + err.Error())
	}
	stopProducing()
	if summary, err := summariseLog(proc.StderrPath()); err == nil {
		rep.Log = summary
		rep.Problems = summary.problems()
	}

	blocks, err := readBlocks(ctx, dc, obs, prod.sealed(), t0)
	if err != nil {
		return nil, err
	}
	rep.fill(o, obs, blocks, t0, before, after, idle, idleCPU)
	rep.Machine.LoadAfter = loadAvg()
	return rep, nil
}

// batchEnv is the processor's batching settings: none when batching is
// off (n = 0), else the contract's address and n.
func batchEnv(n int, contract common.Address) []string {
	if n == 0 {
		return nil
	}
	return []string{"BATCH_CONTRACT_ADDRESS=" + contract.Hex(), "BATCH_MAX_APPLICATIONS=" + strconv.Itoa(n)}
}

// signApps signs total applications in parallel and registers them.
func signApps(ctx context.Context, obs *observer, dc *devchain.Chain, total int) error {
	obs.apps = make([]*appState, total)
	g, _ := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < total; i += workers {
				app, err := frontend.NewSigned(dc.ChainID, dc.Helper, bundleID)
				if err != nil {
					return err
				}
				obs.apps[i] = &appState{entityID: frontend.NewEntityID(), fields: frontend.Fields(app),
					sigHash: crypto.Keccak256Hash(app.Signature), hashes: map[common.Hash]bool{}}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, a := range obs.apps {
		obs.bySig[a.sigHash] = i
		obs.byEntity[a.entityID] = i
	}
	return nil
}

// enqueue writes the applications idx as the frontend does (HSET of the
// hash, then XADD of its entityId), pipelined in chunks: one burst, like a
// campaign landing at once.
func enqueue(ctx context.Context, rdb *redis.Client, obs *observer, idx []int) error {
	for start := 0; start < len(idx); start += enqueueChunk {
		chunk := idx[start:min(start+enqueueChunk, len(idx))]
		pipe := rdb.Pipeline()
		adds := make([]*redis.StringCmd, len(chunk))
		for j, i := range chunk {
			a := obs.apps[i]
			pipe.HSet(ctx, stream.ApplicationKey(a.entityID), a.fields)
			adds[j] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: streamKey,
				Values: map[string]any{stream.FieldEntityID: a.entityID}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		obs.mu.Lock()
		for j, i := range chunk {
			obs.apps[i].entryID = adds[j].Val()
			obs.apps[i].enqueuedAt = stream.EntryTime(adds[j].Val())
		}
		obs.mu.Unlock()
	}
	return nil
}

// enqueueAtRate enqueues idx at rate per second, in ticks of 100 ms.
func enqueueAtRate(ctx context.Context, rdb *redis.Client, obs *observer, idx []int, rate float64) error {
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	done := 0
	for done < len(idx) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			due := min(int(rate*now.Sub(start).Seconds()), len(idx))
			if due > done {
				if err := enqueue(ctx, rdb, obs, idx[done:due]); err != nil {
					return err
				}
				done = due
			}
		}
	}
	return nil
}

// Sample is one point of the run's timeline.
type Sample struct {
	T         float64 `json:"t"` // seconds since the first enqueue
	Broadcast int     `json:"broadcast"`
	Acked     int     `json:"acked"`
	CPU       float64 `json:"cpuSeconds"` // processor CPU so far
	RSSMiB    float64 `json:"rssMiB"`
	AnonMiB   float64 `json:"anonMiB"`
}

// watch waits until every application is acknowledged, the processor dies or
// ctx ends, sampling the processor once a second.
func watch(ctx context.Context, proc *proctest.Proc, obs *observer, total int, t0 time.Time, stall time.Duration,
	logf func(string, ...any)) ([]Sample, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var timeline []Sample
	lastSample, lastLog := time.Time{}, time.Now()
	lastProgress, lastSends, lastAcked := time.Now(), -1, -1
	for {
		sent, acked, sends := obs.progress()
		now := time.Now()
		if sends != lastSends || acked != lastAcked {
			lastProgress, lastSends, lastAcked = now, sends, acked
		} else if now.Sub(lastProgress) > stall {
			return timeline, fmt.Errorf("stalled: no broadcast and no acknowledgement for %v, %d of %d applications confirmed",
				stall, acked, total)
		}
		if now.Sub(lastSample) >= time.Second || acked == total {
			cpu, _ := ProcCPU(proc.Pid())
			mem, _ := ProcMemory(proc.Pid())
			timeline = append(timeline, Sample{T: now.Sub(t0).Seconds(), Broadcast: sent, Acked: acked,
				CPU: cpu.Seconds(), RSSMiB: mib(mem.RSS), AnonMiB: mib(mem.Anon)})
			lastSample = now
		}
		if now.Sub(lastLog) >= 5*time.Second {
			s := timeline[len(timeline)-1]
			logf("t=%5.1fs broadcast %d/%d, confirmed %d, processor cpu %.2fs rss %.1f MiB", s.T, sent, total, acked, s.CPU, s.RSSMiB)
			lastLog = now
		}
		if acked == total {
			return timeline, nil
		}
		select {
		case <-ctx.Done():
			return timeline, fmt.Errorf("timed out with %d of %d applications confirmed: %w", acked, total, ctx.Err())
		case <-proc.Exited():
			return timeline, fmt.Errorf("processor exited (%v) with %d of %d applications confirmed", proc.Err(), acked, total)
		case <-tick.C:
		}
	}
}

// snapshot is the state of every counter at one instant.
type snapshot struct {
	at    time.Time
	cpu   time.Duration
	rpc   RPCCounts
	redis RedisCounts
	stats map[string]int64 // INFO commandstats, every client
}

func takeSnapshot(ctx context.Context, pid int, rp *RPCProxy, rd *RedisProxy, rdb *redis.Client) snapshot {
	s := snapshot{at: time.Now(), rpc: rp.Counts(), redis: rd.Counts()}
	if pid > 0 {
		s.cpu, _ = ProcCPU(pid)
	}
	s.stats, _ = CommandStats(ctx, rdb)
	return s
}

// Verification is what the chain and Redis say after the run.
type Verification struct {
	OnChain      uint64 `json:"applicationsOnChain"` // including the calibration ones
	Pending      int64  `json:"pending"`             // entries delivered, not acknowledged
	Lag          int64  `json:"lag"`                 // entries never delivered
	DeadLettered int64  `json:"deadLettered"`
	Errors       string `json:"errors,omitempty"`
}

func verify(ctx context.Context, rdb *redis.Client, dc *devchain.Chain) Verification {
	var v Verification
	var errs []error
	n, err := dc.ApplicationCount(ctx)
	errs = append(errs, err)
	v.OnChain = n
	groups, err := rdb.XInfoGroups(ctx, streamKey).Result()
	errs = append(errs, err)
	for _, g := range groups {
		if g.Name == groupName {
			v.Pending, v.Lag = g.Pending, g.Lag
		}
	}
	v.DeadLettered, err = rdb.XLen(ctx, deadLetterKey).Result()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		v.Errors = err.Error()
	}
	return v
}

func redactEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			continue
		}
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PROCESSOR_MNEMONIC":
			kv = k + "=<hardhat test mnemonic>"
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN":
			kv = k + "=<local-kms test credential>"
		}
		out = append(out, kv)
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// MemoryReport is the processor's resident memory in MiB.
type MemoryReport struct {
	// Peak is VmHWM, the highest RSS of the process's life (the issue's
	// "RSS during the backlog").
	Peak float64 `json:"peakRssMiB"`
	// PeakAnon is the highest private (anonymous) RSS sampled once a second.
	PeakAnon float64 `json:"peakAnonMiB"`
	// At start-up, idle, before any load.
	ReadyRSS  float64 `json:"readyRssMiB"`
	ReadyAnon float64 `json:"readyAnonMiB"`
	ReadyFile float64 `json:"readyFileMiB"`
	// When the load drained.
	LoadedRSS  float64 `json:"loadedRssMiB"`
	LoadedAnon float64 `json:"loadedAnonMiB"`
	LoadedFile float64 `json:"loadedFileMiB"`
}

func memoryReport(ready, loaded, end Memory, timeline []Sample) MemoryReport {
	m := MemoryReport{
		Peak:     mib(max(end.Peak, loaded.Peak)),
		ReadyRSS: mib(ready.RSS), ReadyAnon: mib(ready.Anon), ReadyFile: mib(ready.File),
		LoadedRSS: mib(loaded.RSS), LoadedAnon: mib(loaded.Anon), LoadedFile: mib(loaded.File),
		PeakAnon: mib(max(loaded.Anon, end.Anon)),
	}
	for _, s := range timeline {
		m.PeakAnon = max(m.PeakAnon, s.AnonMiB)
	}
	return m
}
