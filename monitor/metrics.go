package monitor

import (
	"math/big"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/etherisc/depeg-relay/stream"
)

// Namespace prefixes every metric of the relay.
const Namespace = "depeg_relay"

// Dead-letter reason classes: stream owns the words (stream/classes.go);
// these are its names here. DeadLettered maps anything else to ClassOther.
const (
	ClassMalformed     = stream.ClassMalformed
	ClassSignature     = stream.ClassSignature
	ClassSignatureUsed = stream.ClassSignatureUsed
	ClassApplication   = stream.ClassApplication
	ClassFunds         = stream.ClassFunds
	ClassReverted      = stream.ClassReverted
	ClassFailing       = stream.ClassFailing
	ClassUnknownRevert = stream.ClassUnknownRevert
	ClassOther         = stream.ClassOther
)

func deadLetterClasses() []string { return stream.DeadLetterClasses() }

// Window sizes of the in-memory history kept for metrics.
const (
	revertSpan       = 24 * time.Hour
	maxRevertSamples = 4096 // the 24h revert gauge saturates here
)

// Metrics is the relay's Prometheus instrumentation. It is itself a
// prometheus.Collector, registered by NewMetrics on the registry it is given,
// so tests and cmd/processor each own their registry and nothing touches the
// global one.
//
// All methods are safe for concurrent use. A nil *Metrics is valid and
// records nothing, so callers' tests need no registry.
type Metrics struct {
	now func() time.Time

	entriesReceived       prometheus.Counter
	submitted             prometheus.Counter
	confirmed             prometheus.Counter
	gasPaid               prometheus.Counter
	deadLettered          *prometheus.CounterVec
	enqueueToBroadcast    prometheus.Histogram
	enqueueToConfirmation prometheus.Histogram
	inFlight              prometheus.Gauge
	rpcErrors             *prometheus.CounterVec
	redisErrors           *prometheus.CounterVec
	baseFee               prometheus.Gauge
	maxFeeCap             prometheus.Gauge
	waitingAtFeeCap       prometheus.Gauge
	reverted              prometheus.Counter
	revertedGas           prometheus.Counter
	revertRequeued        *prometheus.CounterVec
	nodeHeld              prometheus.Gauge
	nodeWindow            prometheus.Gauge
	unknownPending        prometheus.Gauge
	gapFills              prometheus.Counter
	replacementsRefused   prometheus.Counter
	resent                prometheus.Counter
	noncesLost            prometheus.Counter
	groupRecreated        prometheus.Counter
	journalQuarantined    prometheus.Counter
	entriesClaimed        prometheus.Counter
	appsPerTx             prometheus.Histogram
	gasPerApp             prometheus.Histogram
	revertedLastDay       prometheus.GaugeFunc
	balance               prometheus.Gauge
	lastLoop              prometheus.Gauge
	runwayDesc            *prometheus.Desc

	collectors []prometheus.Collector
	wallets    *walletGauges

	spend   *spendWindow
	reverts *eventWindow

	mu         sync.Mutex
	balanceWei *big.Int // last SetBalance, for the runway gauge
	// fees is the latest base fee against the cap (SetBaseFee), for the
	// monitor's fees check. Guarded by mu.
	fees feeState
}

// feeState is what SetBaseFee last saw: the base fee, the cap, and since
// when the base fee has been above the cap without a reading at or below it
// (zero while it is not).
type feeState struct {
	baseFee, maxFee *big.Int
	aboveSince      time.Time
}

// MetricsOption configures NewMetrics.
type MetricsOption func(*Metrics)

// WithClock replaces time.Now for the windows computed at collect time (the
// 24h revert count, the spend rate), so tests advance time instead of
// sleeping.
func WithClock(now func() time.Time) MetricsOption {
	return func(m *Metrics) { m.now = now }
}

// NewMetrics builds the relay metrics and registers them on reg. A nil reg
// leaves them unregistered (useful in tests that only read the spend rate).
// It panics if the metrics are already registered on reg, which is a wiring
// bug, not a runtime condition.
func NewMetrics(reg prometheus.Registerer, opts ...MetricsOption) *Metrics {
	m := &Metrics{now: time.Now}
	for _, o := range opts {
		o(m)
	}
	m.spend = newSpendWindow(m.now(), defaultSpendSpan, defaultSpendSamples)
	m.reverts = newEventWindow(revertSpan, maxRevertSamples)

	counter := func(sub, name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help})
	}
	gauge := func(sub, name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help})
	}
	counterVec := func(sub, name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, []string{label})
	}

	m.entriesReceived = counter("stream", "entries_received_total", "Stream entries read from the consumer group, including replayed pending ones.")
	m.submitted = counter("tx", "submitted_total", "Transactions broadcast for an application.")
	m.confirmed = counter("tx", "confirmed_total", "Applications confirmed on chain with the required confirmations.")
	m.gasPaid = counter("tx", "gas_paid_wei_total", "Wei paid for gas by confirmed transactions.")
	m.deadLettered = counterVec("stream", "dead_lettered_total", "Stream entries finally rejected into the dead-letter stream, by reason class.", "class")
	for _, c := range deadLetterClasses() {
		m.deadLettered.WithLabelValues(c) // export zeros so rate() works from the start
	}
	m.enqueueToBroadcast = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "tx", Name: "enqueue_to_broadcast_seconds",
		Help:    "Time from the stream entry's enqueue time to the broadcast of its transaction.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600},
	})
	m.enqueueToConfirmation = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "tx", Name: "enqueue_to_confirmation_seconds",
		Help:    "Time from the stream entry's enqueue time to the required confirmations of its transaction.",
		Buckets: []float64{10, 20, 30, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600, 7200},
	})
	m.inFlight = gauge("tx", "in_flight", "Transactions broadcast and not yet final.")
	m.rpcErrors = counterVec("chain", "rpc_errors_total", "Failed calls to the RPC node, by operation.", "op")
	m.redisErrors = counterVec("redis", "errors_total", "Failed Redis commands, by operation.", "op")
	m.baseFee = gauge("chain", "base_fee_gwei", "Latest block base fee, in gwei.")
	m.maxFeeCap = gauge("chain", "max_fee_cap_gwei", "Configured cap on maxFeePerGas (MAX_FEE_PER_GAS), in gwei.")
	m.waitingAtFeeCap = gauge("chain", "waiting_at_fee_cap", "1 while submission waits because the fee needed exceeds the cap, else 0.")
	m.reverted = counter("tx", "reverted_total", "Our transactions that were mined and reverted.")
	m.revertedGas = counter("tx", "reverted_gas_wei_total", "Wei paid for gas by our transactions that were mined and reverted: the gas wasted.")
	m.revertRequeued = counterVec("tx", "revert_requeued_total",
		"Applications put back in the queue after their transaction reverted for a cause that can pass, by cause.", "cause")
	for _, c := range stream.RequeueCauses() {
		m.revertRequeued.WithLabelValues(c)
	}
	m.nodeHeld = gauge("chain", "node_held_transactions", "Our unmined transactions the node holds in its pool (pending nonce - mined nonce).")
	m.nodeWindow = gauge("chain", "node_window_transactions", "How many unmined transactions the relay keeps outstanding, learnt from what the node holds.")
	m.unknownPending = gauge("chain", "unknown_pool_transactions",
		"Transactions of the wallet the node's pool holds at nonces the journal does not know; while above 0 nothing new is signed.")
	m.gapFills = counter("tx", "gap_fills_total", "Zero-value self-transfers sent to fill a nonce no transaction held.")
	m.groupRecreated = counter("redis", "group_recreated_total",
		"Times the consumer group was found missing (Redis lost its data) and created again; what was pending in it is gone.")
	m.journalQuarantined = counter("redis", "journal_quarantined_total", "Unreadable journal records moved to the quarantine hash.")
	m.entriesClaimed = counter("stream", "entries_claimed_total",
		"Stream entries claimed from consumers that stopped (a dead process, the old processor) after REDIS_QUEUE_CLAIM_IDLE.")
	m.appsPerTx = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "tx", Name: "applications_per_transaction",
		Help:    "Applications carried by each mined transaction of ours (1 without batching).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
	})
	m.gasPerApp = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "tx", Name: "gas_per_application",
		Help:    "Gas used by a mined transaction of ours divided by the applications it carried.",
		Buckets: prometheus.ExponentialBuckets(50_000, 1.25, 16),
	})
	m.noncesLost = counter("tx", "nonces_lost_total", "Our transactions whose nonce a transaction not ours took; their applications were submitted again.")
	m.resent = counter("tx", "resent_total", "Broadcasts of signed bytes sent before: re-sends after a drop, a reorg or the rebroadcast interval.")
	m.replacementsRefused = counter("tx", "replacements_refused_total", "Fee-bumped replacements the node refused; the transaction it holds stays current.")
	m.revertedLastDay = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "tx", Name: "reverted_last_24h",
		Help: "Our transactions that were mined and reverted in the last 24 hours (saturates at 4096).",
	}, func() float64 { return float64(m.reverts.count(m.now())) })
	m.balance = gauge("wallet", "balance_eth", "Hot wallet balance, in ETH.")
	m.lastLoop = gauge("loop", "last_iteration_timestamp_seconds", "Unix time of the latest completed relay loop iteration.")
	// The spend rate itself needs no gauge: rate(gas_paid_wei_total) gives
	// it. The runway does, because it joins the rate with the balance.
	m.runwayDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "wallet", "runway_seconds"),
		"Time until the balance is spent at the gas spend rate of the last hour; absent without recent spend.", nil, nil)

	m.collectors = []prometheus.Collector{
		m.entriesReceived, m.submitted, m.confirmed, m.gasPaid, m.deadLettered,
		m.enqueueToBroadcast, m.enqueueToConfirmation, m.inFlight, m.rpcErrors,
		m.redisErrors, m.baseFee, m.maxFeeCap, m.waitingAtFeeCap, m.reverted,
		m.revertedGas, m.revertRequeued, m.nodeHeld, m.nodeWindow, m.unknownPending, m.gapFills, m.replacementsRefused, m.resent, m.noncesLost, m.groupRecreated, m.journalQuarantined, m.entriesClaimed,
		m.appsPerTx, m.gasPerApp,
		m.revertedLastDay, m.balance, m.lastLoop,
	}
	m.wallets = newWalletGauges()
	m.collectors = append(m.collectors, m.wallets.collectors()...)
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
	ch <- m.runwayDesc
	ch <- m.wallets.runwayDesc
}

// Collect implements prometheus.Collector. The runway is computed here, at
// scrape time, so it disappears when spending stops instead of freezing at
// its last value.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
	rate, ok := m.SpendRate(m.now())
	m.mu.Lock()
	bal := m.balanceWei
	m.mu.Unlock()
	if ok && bal != nil {
		hours := ratioFloat(bal, rate)
		ch <- prometheus.MustNewConstMetric(m.runwayDesc, prometheus.GaugeValue, hours*time.Hour.Seconds())
	}
	m.wallets.collectRunways(ch, m.now())
}

// EntryReceived counts one stream entry read from the consumer group.
func (m *Metrics) EntryReceived() {
	if m == nil {
		return
	}
	m.entriesReceived.Inc()
}

// Submitted counts a broadcast and observes the delay since the entry was
// enqueued. A zero enqueuedAt (unknown) skips the observation.
func (m *Metrics) Submitted(enqueuedAt, now time.Time) {
	if m == nil {
		return
	}
	m.submitted.Inc()
	observeSince(m.enqueueToBroadcast, enqueuedAt, now)
}

// Confirmed counts a confirmed application, observes the delay since the
// entry was enqueued, and records the gas paid for the spend rate and runway.
// gasPaidWei may be nil when unknown.
func (m *Metrics) Confirmed(enqueuedAt, now time.Time, gasPaidWei *big.Int) {
	if m == nil {
		return
	}
	m.confirmed.Inc()
	observeSince(m.enqueueToConfirmation, enqueuedAt, now)
	if gasPaidWei != nil && gasPaidWei.Sign() > 0 {
		m.gasPaid.Add(toFloat(gasPaidWei))
		m.spend.add(now, gasPaidWei)
	}
}

// observeSince observes now - from in seconds. Entry ids carry the Redis
// server's clock, which may run ahead of ours: negative delays count as 0.
func observeSince(h prometheus.Histogram, from, now time.Time) {
	if from.IsZero() {
		return
	}
	d := now.Sub(from)
	if d < 0 {
		d = 0
	}
	h.Observe(d.Seconds())
}

// DeadLettered counts a final rejection. class should be one of the Class*
// constants; anything else is counted as ClassOther.
func (m *Metrics) DeadLettered(class string) {
	if m == nil {
		return
	}
	switch class {
	case ClassMalformed, ClassSignature, ClassSignatureUsed, ClassApplication, ClassFunds, ClassReverted, ClassFailing, ClassUnknownRevert:
	default:
		class = ClassOther
	}
	m.deadLettered.WithLabelValues(class).Inc()
}

// SetInFlight reports how many transactions are broadcast and not yet final.
func (m *Metrics) SetInFlight(n int) {
	if m == nil {
		return
	}
	m.inFlight.Set(float64(n))
}

// RPCError counts a failed RPC call. op must be a constant naming the call
// ("send_transaction", "receipt"), never error text.
func (m *Metrics) RPCError(op string) {
	if m == nil {
		return
	}
	m.rpcErrors.WithLabelValues(op).Inc()
}

// RedisError counts a failed Redis command. op must be a constant naming the
// command ("xreadgroup", "xack"), never error text.
func (m *Metrics) RedisError(op string) {
	if m == nil {
		return
	}
	m.redisErrors.WithLabelValues(op).Inc()
}

// SetBaseFee reports the latest base fee and the fee cap, in gwei. A nil
// argument leaves its gauge unchanged.
func (m *Metrics) SetBaseFee(baseFee, maxFeeCap *big.Int) {
	if m == nil {
		return
	}
	if baseFee != nil {
		m.baseFee.Set(weiToGwei(baseFee))
	}
	if maxFeeCap != nil {
		m.maxFeeCap.Set(weiToGwei(maxFeeCap))
	}
	if baseFee == nil || maxFeeCap == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := &m.fees
	f.baseFee, f.maxFee = new(big.Int).Set(baseFee), new(big.Int).Set(maxFeeCap)
	switch {
	case baseFee.Cmp(maxFeeCap) <= 0:
		f.aboveSince = time.Time{}
	case f.aboveSince.IsZero():
		f.aboveSince = m.now()
	}
}

// baseFeeAboveCap reports since when the base fee the relay read has stayed
// above MAX_FEE_PER_GAS, with the latest base fee and cap; ok is false while
// it is not above (or was never read).
func (m *Metrics) baseFeeAboveCap() (since time.Time, baseFee, maxFee *big.Int, ok bool) {
	if m == nil {
		return time.Time{}, nil, nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fees
	return f.aboveSince, f.baseFee, f.maxFee, !f.aboveSince.IsZero()
}

// WaitingAtFeeCap reports whether submission is held back by the fee cap.
func (m *Metrics) WaitingAtFeeCap(waiting bool) {
	if m == nil {
		return
	}
	v := 0.0
	if waiting {
		v = 1
	}
	m.waitingAtFeeCap.Set(v)
}

// RevertedOnChain records that one of our transactions was mined and
// reverted at time at. Reverts cost gas and mean our pre-checks missed
// something, so the 24h count is exported for alerting.
func (m *Metrics) RevertedOnChain(at time.Time, gasPaidWei *big.Int) {
	if m == nil {
		return
	}
	m.reverted.Inc()
	m.reverts.add(at)
	if gasPaidWei != nil && gasPaidWei.Sign() > 0 {
		m.revertedGas.Add(toFloat(gasPaidWei))
	}
}

// Causes of a revert that puts the application back in the queue (the
// label values of revert_requeued_total): stream's words (stream/classes.go).
const (
	RequeueProductInactive = stream.RequeueProductInactive
	RequeueOutOfGas        = stream.RequeueOutOfGas
	RequeuePassesNow       = stream.RequeuePassesNow
)

// RevertRequeued counts an application put back in the queue after a
// transient revert. cause is one of the Requeue* constants.
func (m *Metrics) RevertRequeued(cause string) {
	if m == nil {
		return
	}
	switch cause {
	case RequeueProductInactive, RequeueOutOfGas, RequeuePassesNow:
	default:
		cause = RequeuePassesNow
	}
	m.revertRequeued.WithLabelValues(cause).Inc()
}

// SetNodeWindow reports how many of our transactions the node holds and how
// many the relay keeps outstanding for it.
func (m *Metrics) SetNodeWindow(held, window uint64) {
	if m == nil {
		return
	}
	m.nodeHeld.Set(float64(held))
	m.nodeWindow.Set(float64(window))
}

// SetUnknownPending reports how many transactions of the wallet the node's
// pool holds at nonces the journal does not know (Redis lost its last
// writes): the relay signs nothing new until they are mined or dropped.
func (m *Metrics) SetUnknownPending(n uint64) {
	if m == nil {
		return
	}
	m.unknownPending.Set(float64(n))
}

// GapFilled counts a nonce-gap fill.
func (m *Metrics) GapFilled() {
	if m == nil {
		return
	}
	m.gapFills.Inc()
}

// GroupRecreated counts a consumer group created again after a data loss.
func (m *Metrics) GroupRecreated() {
	if m == nil {
		return
	}
	m.groupRecreated.Inc()
}

// JournalQuarantined counts a journal record moved to quarantine.
func (m *Metrics) JournalQuarantined() {
	if m == nil {
		return
	}
	m.journalQuarantined.Inc()
}

// EntriesClaimed counts n entries claimed from a silent consumer.
func (m *Metrics) EntriesClaimed(n int) {
	if m == nil {
		return
	}
	m.entriesClaimed.Add(float64(n))
}

// Carried observes a mined transaction of ours that carried apps
// applications and used gasUsed (relay.Metrics).
func (m *Metrics) Carried(apps int, gasUsed uint64) {
	if m == nil || apps < 1 {
		return
	}
	m.appsPerTx.Observe(float64(apps))
	m.gasPerApp.Observe(float64(gasUsed) / float64(apps))
}

// NonceLost counts a transaction of ours whose nonce someone else took.
func (m *Metrics) NonceLost() {
	if m == nil {
		return
	}
	m.noncesLost.Inc()
}

// Resent counts n broadcasts of bytes sent before.
func (m *Metrics) Resent(n int) {
	if m == nil {
		return
	}
	m.resent.Add(float64(n))
}

// ReplacementRefused counts a replacement the node refused.
func (m *Metrics) ReplacementRefused() {
	if m == nil {
		return
	}
	m.replacementsRefused.Inc()
}

// SetBalance reports the hot wallet balance. It also feeds the runway gauge.
func (m *Metrics) SetBalance(wei *big.Int) {
	if m == nil || wei == nil {
		return
	}
	m.balance.Set(weiToEth(wei))
	m.mu.Lock()
	m.balanceWei = new(big.Int).Set(wei)
	m.mu.Unlock()
}

// LoopIteration reports the time of the latest completed loop iteration, the
// Prometheus counterpart of Heartbeat.
func (m *Metrics) LoopIteration(t time.Time) {
	if m == nil {
		return
	}
	m.lastLoop.Set(float64(t.UnixNano()) / 1e9)
}

// SpendRate returns the gas spend in wei per hour over the last hour of
// confirmations (see Confirmed), or false when nothing was spent in that
// window. now is passed in so the Checker and the metrics agree on the clock.
func (m *Metrics) SpendRate(now time.Time) (weiPerHour *big.Int, ok bool) {
	if m == nil {
		return nil, false
	}
	return m.spend.rate(now)
}
