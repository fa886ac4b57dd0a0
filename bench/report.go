package bench

import (
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Settings echoes the options of a run.
type Settings struct {
	Mode          string  `json:"mode"`
	N             int     `json:"applications"`
	BacklogStart  string  `json:"backlogStart,omitempty"`
	Rate          float64 `json:"ratePerSecond,omitempty"`
	DurationS     float64 `json:"durationSeconds,omitempty"`
	BlockTimeMs   int64   `json:"blockTimeMs"`
	GasLimit      uint64  `json:"blockGasLimit"`
	MaxInFlight   int     `json:"maxInFlight"` // 0: processor default
	Confirmations int     `json:"confirmations"`
	PollMs        int64   `json:"pollIntervalMs"` // 0: processor default
	RPCLatencyMs  int64   `json:"addedRpcLatencyMs,omitempty"`
	RedisLatency  float64 `json:"addedRedisLatencyMs,omitempty"`
	PoolSlots     uint64  `json:"nodePoolSlotsPerSender,omitempty"`
	// PoolDrops: the node accepts sends past PoolSlots and drops them
	// silently (else it refuses them); Dropped counts them.
	PoolDrops bool  `json:"nodePoolDrops,omitempty"`
	Dropped   int64 `json:"nodeDroppedSends,omitempty"`
	Keys      int   `json:"keys"` // wallets the processor sends from
	// KMS: the keys are AWS KMS keys (local-kms), KMSLatencyMs added per call.
	KMS          bool  `json:"kms,omitempty"`
	KMSLatencyMs int64 `json:"kmsLatencyMs,omitempty"`
	// Batch is BATCH_MAX_APPLICATIONS with the devchain's batch contract;
	// 0: batching off.
	Batch int      `json:"batchMaxApplications,omitempty"`
	Env   []string `json:"extraEnv,omitempty"`
	// WS: the processor reached the node over its websocket, past the
	// counting proxy.
	WS bool `json:"websocket,omitempty"`
}

func settingsOf(o Options) Settings {
	s := Settings{Mode: o.Mode, N: o.total(), BlockTimeMs: o.BlockTime.Milliseconds(), GasLimit: o.GasLimit,
		MaxInFlight: o.MaxInFlight, Confirmations: o.Confirmations, PollMs: o.PollInterval.Milliseconds(),
		RPCLatencyMs: o.RPCLatency.Milliseconds(), RedisLatency: float64(o.RedisLatency.Microseconds()) / 1000, PoolSlots: o.PoolSlots, PoolDrops: o.PoolDrops, Keys: o.Keys, Env: o.Env,
		KMS: o.KMS, KMSLatencyMs: o.KMSLatency.Milliseconds(), Batch: o.Batch, WS: o.WS}
	if o.Mode == "rate" {
		s.Rate, s.DurationS = o.Rate, o.Duration.Seconds()
	} else {
		s.BacklogStart = o.BacklogStart
	}
	return s
}

// The processor's series of what its mined transactions carried
// (monitor: depeg_relay_tx_applications_per_transaction and
// depeg_relay_tx_gas_per_application, histograms).
const (
	appsPerTxSum   = "depeg_relay_tx_applications_per_transaction_sum"
	appsPerTxCount = "depeg_relay_tx_applications_per_transaction_count"
	gasPerAppSum   = "depeg_relay_tx_gas_per_application_sum"
	gasPerAppCount = "depeg_relay_tx_gas_per_application_count"
)

// metricMean is a histogram's mean from its _sum and _count series; false
// when the processor does not export it or observed nothing.
func metricMean(m map[string]float64, sum, count string) (float64, bool) {
	n, ok := m[count]
	if !ok || n == 0 {
		return 0, false
	}
	return m[sum] / n, true
}

// Latencies are measured on the harness's clock (and Redis's, for the
// enqueue time in the stream id; both are this machine's clock).
type Latencies struct {
	EnqueueToBroadcast Latency `json:"enqueueToBroadcast"`
	EnqueueToInclusion Latency `json:"enqueueToInclusion"` // block sealed
	InclusionToAck     Latency `json:"inclusionToAck"`     // confirmations + tracker poll + ack
	EnqueueToAck       Latency `json:"enqueueToAck"`
	// EnqueueToInclusionBlocks counts blocks instead of time (issue 21's
	// goal: p50 one block, p99 two).
	EnqueueToInclusionBlocks BlockLatency `json:"enqueueToInclusionBlocks"`
}

// CPU is the processor's CPU use.
type CPU struct {
	// ActiveSeconds is user+system CPU from the first enqueue to the last
	// acknowledgement.
	ActiveSeconds float64 `json:"activeSeconds"`
	PerAppMs      float64 `json:"perApplicationMs"`
	// IdleMsPerSecond is CPU milliseconds per wall second while idle after
	// the load drained.
	IdleMsPerSecond float64 `json:"idleMsPerSecond"`
	IdleWindowS     float64 `json:"idleWindowSeconds"`
}

// Traffic is the processor's Redis and RPC traffic over the active window,
// and over the idle window after it.
type Traffic struct {
	Redis      RedisCounts      `json:"redis"`
	RPC        RPCCounts        `json:"rpc"`
	IdleRedis  RedisCounts      `json:"idleRedis"`
	IdleRPC    RPCCounts        `json:"idleRpc"`
	IdleWindow float64          `json:"idleWindowSeconds"`
	StatsDiff  map[string]int64 `json:"commandStatsDiff"` // INFO commandstats, processor's share
}

// Report is the outcome of one run.
type Report struct {
	Started      time.Time    `json:"started"`
	Settings     Settings     `json:"settings"`
	Machine      MachineInfo  `json:"machine"`
	Processor    string       `json:"processor"`
	ProcessorEnv []string     `json:"processorEnv"`
	Calibration  Calibration  `json:"calibration"`
	Error        string       `json:"error,omitempty"`
	Verify       Verification `json:"verification"`

	Enqueued     int     `json:"enqueued"`
	Acked        int     `json:"acknowledged"`
	DurationS    float64 `json:"durationSeconds"` // first enqueue to last acknowledgement
	PerSecond    float64 `json:"applicationsPerSecond"`
	LastSendS    float64 `json:"lastBroadcastSeconds"` // the backlog is read and sent by then
	Sends        int     `json:"sendRawTransactions"`
	Resent       int     `json:"applicationsSentMoreThanOnce"`
	Replaced     int     `json:"applicationsWithSeveralHashes"`
	ForeignSends int     `json:"unrecognisedSends"`

	Latency   Latencies          `json:"latency"`
	Blocks    BlockSummary       `json:"blocks"`
	CPU       CPU                `json:"cpu"`
	Memory    MemoryReport       `json:"memory"`
	Traffic   Traffic            `json:"traffic"`
	PerApp    PerApp             `json:"perApplication"`
	Metrics   map[string]float64 `json:"processorMetrics"`
	Log       LogSummary         `json:"log"`
	Problems  []string           `json:"problems,omitempty"`
	LogPath   string             `json:"logPath"`
	Timeline  []Sample           `json:"timeline"`
	BlockList []BlockInfo        `json:"blockList"`

	BaseFeeStartWei *big.Int `json:"baseFeeStartWei"`
	BaseFeeEndWei   *big.Int `json:"baseFeeEndWei"`
}

// PerApp divides the active window's traffic by the applications.
type PerApp struct {
	RedisRoundTrips float64            `json:"redisRoundTrips"`
	RedisCommands   float64            `json:"redisCommands"`
	RedisByCommand  map[string]float64 `json:"redisByCommand"`
	RPCRequests     float64            `json:"rpcHttpRequests"`
	RPCCalls        float64            `json:"rpcCalls"`
	RPCByMethod     map[string]float64 `json:"rpcByMethod"`
}

func (r *Report) fill(o Options, obs *observer, blocks []BlockInfo, t0 time.Time, before, after, idle snapshot,
	idleCPU time.Duration) {
	obs.mu.Lock()
	defer obs.mu.Unlock()
	var toSend, toIncl, inclToAck, toAck []time.Duration
	var lastAck, lastSend time.Time
	for _, a := range obs.apps {
		if a.entryID != "" {
			r.Enqueued++
		}
		if !a.firstSent.IsZero() {
			toSend = append(toSend, a.firstSent.Sub(a.enqueuedAt))
			if a.firstSent.After(lastSend) {
				lastSend = a.firstSent
			}
		}
		if a.sends > 1 {
			r.Resent++
		}
		if len(a.hashes) > 1 {
			r.Replaced++
		}
		if !a.minedAt.IsZero() {
			toIncl = append(toIncl, a.minedAt.Sub(a.enqueuedAt))
		}
		if !a.ackedAt.IsZero() {
			r.Acked++
			toAck = append(toAck, a.ackedAt.Sub(a.enqueuedAt))
			if !a.minedAt.IsZero() {
				inclToAck = append(inclToAck, a.ackedAt.Sub(a.minedAt))
			}
			if a.ackedAt.After(lastAck) {
				lastAck = a.ackedAt
			}
		}
	}
	r.Sends, r.ForeignSends = obs.sends, obs.foreignSends
	r.Latency = Latencies{EnqueueToBroadcast: Summarise(toSend), EnqueueToInclusion: Summarise(toIncl),
		InclusionToAck: Summarise(inclToAck), EnqueueToAck: Summarise(toAck)}
	if !lastAck.IsZero() {
		r.DurationS = lastAck.Sub(t0).Seconds()
		r.PerSecond = float64(r.Acked) / r.DurationS
	}
	if !lastSend.IsZero() {
		r.LastSendS = lastSend.Sub(t0).Seconds()
	}

	var waited []int
	for _, a := range obs.apps {
		if n, ok := blocksWaited(blocks, a.enqueuedAt, a.minedBlock); ok {
			waited = append(waited, n)
		}
	}
	r.Latency.EnqueueToInclusionBlocks = SummariseBlocks(waited)

	r.BlockList = blocks
	r.Blocks = summariseBlocks(blocks, o.GasLimit)
	for _, b := range blocks {
		if b.baseFee != nil && float64(b.T) <= r.DurationS+1 {
			r.BaseFeeEndWei = b.baseFee
		}
	}

	active := after.cpu - before.cpu
	r.CPU = CPU{ActiveSeconds: active.Seconds()}
	if r.Acked > 0 {
		r.CPU.PerAppMs = float64(active) / float64(time.Millisecond) / float64(r.Acked)
	}
	if !idle.at.IsZero() {
		w := idle.at.Sub(after.at)
		r.CPU.IdleWindowS = w.Seconds()
		r.CPU.IdleMsPerSecond = float64(idleCPU) / float64(time.Millisecond) / w.Seconds()
		r.Traffic.IdleRedis = idle.redis.Sub(after.redis)
		r.Traffic.IdleRPC = idle.rpc.Sub(after.rpc)
		r.Traffic.IdleWindow = w.Seconds()
	}
	r.Traffic.Redis = after.redis.Sub(before.redis)
	r.Traffic.RPC = after.rpc.Sub(before.rpc)
	// INFO commandstats counts every client: take out the harness's own
	// commands (HSET and XADD per application, one INFO per snapshot).
	r.Traffic.StatsDiff = subMap(after.stats, before.stats)
	r.Traffic.StatsDiff["hset"] -= int64(r.Enqueued)
	r.Traffic.StatsDiff["xadd"] -= int64(r.Enqueued)
	r.Traffic.StatsDiff["info"]--
	for k, v := range r.Traffic.StatsDiff {
		if v == 0 {
			delete(r.Traffic.StatsDiff, k)
		}
	}
	if n := float64(r.Acked); n > 0 {
		r.PerApp = PerApp{
			RedisRoundTrips: float64(r.Traffic.Redis.RoundTrips) / n,
			RedisCommands:   float64(r.Traffic.Redis.Commands) / n,
			RedisByCommand:  perN(r.Traffic.Redis.ByCommand, n),
			RPCRequests:     float64(r.Traffic.RPC.HTTPRequests) / n,
			RPCCalls:        float64(r.Traffic.RPC.Calls) / n,
			RPCByMethod:     perN(r.Traffic.RPC.ByMethod, n),
		}
	}
}

func perN(m map[string]int64, n float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v) / n
	}
	return out
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "depeg relay load benchmark, %s\n", r.Started.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("processor", "%s", r.Processor)
	row("settings", "MAX_IN_FLIGHT=%s  confirmations=%d  CHAIN_POLL_INTERVAL=%s", orDefault(s.MaxInFlight, "processor default"),
		s.Confirmations, orDefaultMs(s.PollMs, "processor default"))
	if s.RPCLatencyMs > 0 || s.RedisLatency > 0 || len(s.Env) > 0 {
		row("", "added latency: RPC %d ms, Redis %.1f ms per round trip; extra env %v", s.RPCLatencyMs, s.RedisLatency, s.Env)
	}
	row("machine", "%d CPUs, %s, %.1f GiB; load avg %s before, %s after", r.Machine.CPUs, r.Machine.CPUModel,
		r.Machine.MemoryGiB, r.Machine.LoadBefore, r.Machine.LoadAfter)
	row("chain", "%v blocks, %d gas limit, %d gas/application (%d burn iterations), capacity %d applications/block",
		time.Duration(s.BlockTimeMs)*time.Millisecond, s.GasLimit, r.Blocks.GasPerApp, r.Calibration.Iterations, r.Blocks.Capacity)
	if s.KMS {
		row("wallets", "%d AWS KMS keys (SIGNER=aws-kms, local-kms), %d ms added per KMS call", max(s.Keys, 1), s.KMSLatencyMs)
	} else {
		row("wallets", "%d (PROCESSOR_ACCOUNT_INDEX=%s)", max(s.Keys, 1), AccountIndexes(s.Keys))
	}
	if s.Batch > 0 {
		row("batching", "BATCH_MAX_APPLICATIONS=%d, the devchain's batch contract as BATCH_CONTRACT_ADDRESS", s.Batch)
	} else {
		row("batching", "off (one application per transaction)")
	}
	if s.WS {
		row("node RPC", "over the devchain's websocket (newHeads), past the counting proxy: no RPC traffic or broadcast figures")
	}
	if s.PoolSlots > 0 && s.PoolDrops {
		row("node", "keeps at most %d pending transactions per sender, accepts the rest and drops them without telling (%d dropped)", s.PoolSlots, s.Dropped)
	} else if s.PoolSlots > 0 {
		row("node", "keeps at most %d pending transactions per sender, refuses the rest (txpool full)", s.PoolSlots)
	}
	if s.Mode == "rate" {
		row("load", "%.1f applications/s for %.0f s (%d)", s.Rate, s.DurationS, s.N)
	} else {
		row("load", "backlog of %d, enqueued at once %s the processor started", s.N, s.BacklogStart)
	}
	row("base fee", "%s wei at start, %s wei at the last confirmation", bigStr(r.BaseFeeStartWei), bigStr(r.BaseFeeEndWei))
	if r.Error != "" {
		row("ERROR", "%s", r.Error)
	}
	row("outcome", "%d enqueued, %d acknowledged, %d dead-lettered, pending %d, lag %d",
		r.Enqueued, r.Acked, r.Verify.DeadLettered, r.Verify.Pending, r.Verify.Lag)
	row("throughput", "%.1f applications/s (%d in %.1f s, first enqueue to last ack); last first-broadcast at %.1f s",
		r.PerSecond, r.Acked, r.DurationS, r.LastSendS)
	row("broadcasts", "%d eth_sendRawTransaction; %d applications sent more than once, %d replaced (several hashes)",
		r.Sends, r.Resent, r.Replaced)
	row("transactions", "%s", r.carriage())
	if s.Mode == "backlog" {
		b := r.Blocks
		row("block fill", "%d blocks while the backlog lasted: mean %.1f%% of capacity (%.1f%% of gas limit), min %.1f%%, %d/%d (%.0f%%) >= 90%%",
			b.Blocks, 100*b.MeanFill, 100*b.MeanGasFill, 100*b.MinFill, b.AtLeast90, b.Blocks, 100*b.ShareAtLeast90)
		row("", "%d empty blocks between the first enqueue and the first inclusion", b.IdleBefore)
	}
	row("processor CPU", "%.2f s active = %.3f ms/application; idle %.2f ms/s over %.0f s",
		r.CPU.ActiveSeconds, r.CPU.PerAppMs, r.CPU.IdleMsPerSecond, r.CPU.IdleWindowS)
	m := r.Memory
	row("processor RSS", "peak %.1f MiB (VmHWM); private (RssAnon) peak %.1f MiB; at start-up %.1f MiB = %.1f private + %.1f file-backed (binary)",
		m.Peak, m.PeakAnon, m.ReadyRSS, m.ReadyAnon, m.ReadyFile)
	p := r.PerApp
	row("Redis", "%.2f round trips and %.2f commands per application (INFO commandstats: %.2f)",
		p.RedisRoundTrips, p.RedisCommands, float64(sumMap(r.Traffic.StatsDiff))/float64(max(r.Acked, 1)))
	row("", "%s", perMap(p.RedisByCommand))
	row("RPC", "%.2f HTTP requests and %.2f JSON-RPC calls per application (%d batches)",
		p.RPCRequests, p.RPCCalls, r.Traffic.RPC.Batches)
	row("", "%s", perMap(p.RPCByMethod))
	if len(r.Traffic.RPC.Errors) > 0 {
		row("RPC errors", "%v", r.Traffic.RPC.Errors)
	}
	if r.Traffic.IdleWindow > 0 {
		row("idle traffic", "over %.0f s: %d Redis commands (%v), %d RPC calls (%v)", r.Traffic.IdleWindow,
			r.Traffic.IdleRedis.Commands, r.Traffic.IdleRedis.ByCommand, r.Traffic.IdleRPC.Calls, r.Traffic.IdleRPC.ByMethod)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 8, 0, 2, ' ', tabwriter.AlignRight)
	lat := func(k string, l Latency) {
		if l.Count == 0 { // not measured (over a websocket, the broadcasts)
			fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t\n", k)
			return
		}
		fmt.Fprintf(tw, "  %s\t%.0f\t%.0f\t%.0f\t%.0f\t\n", k, l.P50, l.P95, l.P99, l.Max)
	}
	fmt.Fprintf(tw, "  latency (ms)\tp50\tp95\tp99\tmax\t\n")
	lat("enqueue -> broadcast", r.Latency.EnqueueToBroadcast)
	lat("enqueue -> inclusion", r.Latency.EnqueueToInclusion)
	lat("inclusion -> ack", r.Latency.InclusionToAck)
	lat("enqueue -> ack", r.Latency.EnqueueToAck)
	b := r.Latency.EnqueueToInclusionBlocks
	fmt.Fprintf(tw, "  enqueue -> inclusion (blocks)\t%d\t%d\t%d\t%d\t\n", b.P50, b.P95, b.P99, b.Max)
	tw.Flush()
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\n  processor warnings and errors:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
	}
}

// carriage says what the mined transactions carried: from the receipts,
// and as the processor's own metrics saw it.
func (r *Report) carriage() string {
	b := r.Blocks
	out := fmt.Sprintf("%d of ours mined: %.2f applications per transaction, %d gas per application (receipts)",
		b.Transactions, b.AppsPerTx, b.GasPerApp)
	apps, okA := metricMean(r.Metrics, appsPerTxSum, appsPerTxCount)
	gas, okG := metricMean(r.Metrics, gasPerAppSum, gasPerAppCount)
	if okA && okG {
		out += fmt.Sprintf("; processor metrics: %.2f per transaction, %.0f gas per application", apps, gas)
	}
	return out
}

func orDefault(v int, def string) string {
	if v == 0 {
		return def
	}
	return fmt.Sprint(v)
}

func orDefaultMs(v int64, def string) string {
	if v == 0 {
		return def
	}
	return fmt.Sprintf("%dms", v)
}

func bigStr(b *big.Int) string {
	if b == nil {
		return "?"
	}
	return b.String()
}

func sumMap(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func perMap(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
