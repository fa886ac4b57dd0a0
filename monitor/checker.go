package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/stream"
)

// BalanceReader reads the wallet balance. *ethclient.Client satisfies it.
type BalanceReader interface {
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
}

// BacklogReader reads the consumer group's backlog: pending entries, lag,
// oldest undelivered entry and dead-letter length. *stream.BacklogReader
// satisfies it: stream owns the Redis commands, the Checker only judges the
// figures.
type BacklogReader interface {
	ReadBacklog(ctx context.Context) (stream.Backlog, error)
}

// maxBalanceTimeout caps the default BalanceTimeout: a balance read that
// takes longer is failing, whatever the refresh period.
const maxBalanceTimeout = 10 * time.Second

// ErrClosed is returned in a report's Redis check after Close.
var ErrClosed = errors.New("checker closed")

// CheckerConfig holds the thresholds and the dependencies of a Checker.
// Durations and amounts are already parsed from the environment (see
// docs/design.md, "The fixed contracts"). The settings that are variables
// of the processor (CheckTimeout, BalanceRefresh, FeeCapGrace) have their
// defaults in package config, written once there: NewChecker refuses them
// zero rather than keep a second copy that could drift from config's.
// Tests take them from config too (internal/configtest).
type CheckerConfig struct {
	// Wallet is the hot wallet whose balance is checked.
	Wallet common.Address
	// AlertBalance (PROCESSOR_ALERT_BALANCE, wei): below it the balance check
	// fails. Required.
	AlertBalance *big.Int
	// LoopMaxAge (PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT): the relay loop
	// must have completed an iteration within it. Required.
	LoopMaxAge time.Duration
	// MaxPending (MAX_NON_ACK_PENDING_MESSAGES): the entries read and not
	// yet sent may not exceed it. Those are the entries pending under the
	// keys' consumers that are neither in the batch being submitted nor
	// carried by a transaction (KeyConfig.Entries): an entry waiting for its
	// confirmations does not count, so a burst draining at the node's pace
	// never fails the check, while entries the relay read and cannot send
	// do. Without Entries, the group's whole pending count is compared.
	// Must not be negative.
	MaxPending int64
	// MaxWaitAge: the oldest entry waiting in the queue, whether delivered
	// and not acknowledged (pending) or still in the stream and not yet
	// delivered to the group (its lag), may have been enqueued at most this
	// long ago. It is how the check sees a queue that makes no progress
	// while the loop beats and the pending count stays small: an entry the
	// relay keeps failing on, or an intake that stopped reading while the
	// lag does not fall. Default 10 x LoopMaxAge (10 minutes with the
	// default PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT): an iteration lasts
	// at most LoopMaxAge, and a healthy queue moves an entry on within a few
	// of them plus its confirmations, while an entry that always fails is
	// dead-lettered after the relay's bounded attempts (about four
	// ERROR_TIMEOUTs, 2 minutes by default). Must not be negative.
	MaxWaitAge time.Duration
	// StreamKey and Group name the consumer group whose pending list is
	// checked: the Backlog read from Redis, and the words of a missing
	// group. Required.
	StreamKey string
	Group     string
	// DeadLetterStream, when set, is reported as deadLetterCount.
	DeadLetterStream string
	// Backlog reads the group's backlog; default a stream.BacklogReader of
	// Redis, StreamKey, Group and DeadLetterStream.
	Backlog BacklogReader

	// CheckTimeout (MONITOR_CHECK_TIMEOUT) bounds the Redis part of a
	// check. A probe answers within it even when Redis hangs. Required.
	CheckTimeout time.Duration
	// BalanceRefresh (BALANCE_REFRESH_INTERVAL) is the period of the
	// balance refresher (Start). Required.
	BalanceRefresh time.Duration
	// BalanceTimeout bounds one BalanceAt call; default BalanceRefresh,
	// at most 10s.
	BalanceTimeout time.Duration
	// BalanceMaxAge: an older balance is an error; default 3 x BalanceRefresh,
	// so one or two failed refreshes in a row are reported as failures, not
	// as staleness.
	BalanceMaxAge time.Duration

	// Balance reads the wallet balance. Required.
	Balance BalanceReader
	// Redis is where Backlog reads by default (redis.UniversalClient:
	// single node, Sentinel or Cluster). Required without Backlog.
	Redis redis.Cmdable
	// Heartbeat is beaten by the relay loop. Required.
	Heartbeat *Heartbeat
	// InFlight, when set, reports the relay's in-flight transactions.
	InFlight func() int
	// NodeWindow, when set, reports how many of our transactions the node
	// holds and how many the relay keeps outstanding for it.
	NodeWindow func() (held, window uint64)
	// GroupRecreations, when set, counts the consumer group's recreations
	// after a Redis data loss; the body shows a non-zero count.
	GroupRecreations func() uint64
	// HeldByUnknown, when set, reports that the relay holds new submissions
	// because the node's pool holds transactions of the wallet the journal
	// does not know (Redis lost its last writes), and how many; the body
	// then says so. Not a failing check by itself: waiting for them is the
	// safe course, and the queue check fails once entries wait too long.
	HeldByUnknown func() (n uint64, holding bool)
	// Standby, when set, says why this process does not relay: another
	// process holds the wallet's lease. "" while this process holds it.
	Standby func() string
	// WaitingAtFeeCap, when set, reports that submission or a stuck
	// transaction is held back by MAX_FEE_PER_GAS; the body then says so, so
	// a stalled queue at a fee spike is explained at a glance.
	WaitingAtFeeCap func() bool
	// FeeCapGrace: the fees check fails once the base fee the relay read
	// has stayed above MAX_FEE_PER_GAS (Metrics.SetBaseFee) this long while
	// entries wait: nothing can be sent until the cap is raised or the base
	// fee falls. The processor passes ERROR_TIMEOUT, how long the relay
	// waits before it reads the fee again. Required.
	FeeCapGrace time.Duration
	// Orphans, when set, names the keys of the pool that no live process
	// holds and whose journals still hold transactions (package pool
	// finishes them): a figure beside the queue check, so an on-call engineer
	// sees why some entries wait and for whom.
	Orphans func() []OrphanedKey
	// Webhooks, when set, is the webhook outbox's figure for the full
	// report; it must be cheap (no I/O).
	Webhooks func() *WebhookReport
	// Keys, when set, are the keys of a pool (PROCESSOR_ACCOUNT_INDEX with
	// several indexes): each has its balance, loop and window, and the
	// report shows them one by one under "keys" beside their totals. When
	// empty, the one key is Wallet with the fields above.
	Keys []KeyConfig
	// Metrics, when set, provides the spend rate for the runway estimate and
	// receives the balance and error counts.
	Metrics *Metrics
	// History, when set, receives every balance read, for the console's chart.
	History *BalanceHistory
	// Log receives refresh failures; the zero value discards them.
	Log zerolog.Logger
	// Now defaults to time.Now; tests inject a clock.
	Now func() time.Time
}

// KeyConfig is one key of the pool, as the Checker sees it. The functions
// are optional, as in CheckerConfig.
type KeyConfig struct {
	Wallet          common.Address
	Heartbeat       *Heartbeat // required
	InFlight        func() int
	NodeWindow      func() (held, window uint64)
	HeldByUnknown   func() (n uint64, holding bool)
	Standby         func() string
	WaitingAtFeeCap func() bool
	// Consumer is the key's consumer name in the group, and Entries how many
	// of the key's entries its relay has in hand (relay.Relay.Entries):
	// together they tell the queue check which of the key's pending entries
	// have no transaction yet. Pending entries of consumers that are not a
	// key's are reported as pendingElsewhere and judged by their age only.
	Consumer string
	Entries  func() (reading, sent int)
	// Metrics, when set, receives the key's balance and gives its spend
	// rate for the key's runway.
	Metrics *WalletMetrics
}

// withDefaults fills the zero values that are derived from other settings
// and reports every invalid setting at once. CheckTimeout, BalanceRefresh
// and FeeCapGrace have no default here: theirs are config's.
func (c CheckerConfig) withDefaults() (CheckerConfig, error) {
	if len(c.Keys) == 0 {
		c.Keys = []KeyConfig{{Wallet: c.Wallet, Heartbeat: c.Heartbeat, InFlight: c.InFlight, NodeWindow: c.NodeWindow,
			HeldByUnknown: c.HeldByUnknown, Standby: c.Standby, WaitingAtFeeCap: c.WaitingAtFeeCap}}
	}
	if c.BalanceTimeout == 0 {
		c.BalanceTimeout = min(c.BalanceRefresh, maxBalanceTimeout)
	}
	if c.BalanceMaxAge == 0 {
		c.BalanceMaxAge = 3 * c.BalanceRefresh
	}
	if c.MaxWaitAge == 0 {
		c.MaxWaitAge = 10 * c.LoopMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.AlertBalance == nil || c.AlertBalance.Sign() < 0 {
		bad("alert balance must be set and not negative")
	}
	if c.LoopMaxAge <= 0 {
		bad("loop max age must be positive, got %s", c.LoopMaxAge)
	}
	if c.MaxPending < 0 {
		bad("max pending must not be negative, got %d", c.MaxPending)
	}
	if c.StreamKey == "" {
		bad("stream key is required")
	}
	if c.Group == "" {
		bad("group is required")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		// from is the config variable a required duration's default is in:
		// written once there, never here.
		from string
	}{
		{"check timeout", c.CheckTimeout, "MONITOR_CHECK_TIMEOUT"},
		{"balance refresh", c.BalanceRefresh, "BALANCE_REFRESH_INTERVAL"},
		{"balance timeout", c.BalanceTimeout, ""}, {"balance max age", c.BalanceMaxAge, ""},
		{"max wait age", c.MaxWaitAge, ""},
		{"fee cap grace", c.FeeCapGrace, "ERROR_TIMEOUT"},
	} {
		switch {
		case d.v == 0 && d.from != "":
			bad("%s is required (its default is config's %s)", d.name, d.from)
		case d.v < 0:
			bad("%s must be positive, got %s", d.name, d.v)
		}
	}
	if c.Balance == nil {
		bad("balance reader is required")
	}
	if c.Backlog == nil && c.Redis == nil {
		bad("redis reader is required")
	}
	if c.Backlog == nil && c.Redis != nil {
		c.Backlog = stream.NewBacklogReader(c.Redis, stream.Keys{Stream: c.StreamKey, Group: c.Group, DeadLetter: c.DeadLetterStream})
	}
	for _, k := range c.Keys {
		if k.Heartbeat == nil {
			bad("heartbeat is required")
			break
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("monitor config: %w", errors.Join(errs...))
	}
	return c, nil
}

// Checker computes the /api/monitor report. It is a lifecycle part: Start
// reads every key's balance and refreshes it until Close.
//
// The balance comes from a cache filled by the refresher (or
// RefreshBalance), so probes never wait on the RPC node and cannot multiply
// its load. The pending list is read from Redis per probe, because an outage
// must show up at once; concurrent probes share one Redis round trip, and a
// probe gives up after CheckTimeout even when the Redis client would keep
// waiting (go-redis ignores context deadlines on sockets unless
// ContextTimeoutEnabled is set).
//
// Check, Liveness and Readiness are safe for concurrent use.
type Checker struct {
	cfg     CheckerConfig
	started time.Time

	mu   sync.Mutex
	bals []balanceState // one per key, in cfg.Keys order

	// redisDown is when the Redis probes began to fail, zero while they
	// succeed; guarded by mu.
	redisDown time.Time

	probeMu sync.Mutex
	probe   *redisProbe // the Redis round trip in progress, if any
	// lastErr is the error the latest finished round trip ended with, nil
	// after a success: a probe that gives up waiting reports what the round
	// trip before it learnt (a refused dial the client retries for longer
	// than the check timeout) instead of only "no answer".
	lastErr error
	closed  bool
	wg      sync.WaitGroup // the goroutine of probe

	// refresher refreshes the balances from Start to Close; firstRead is
	// closed once its first refresh has returned.
	refresher *lifecycle.Func
	firstRead chan struct{}
}

// balanceState is the cache filled by RefreshBalance.
type balanceState struct {
	wei   *big.Int // last successful read; nil before the first
	at    time.Time
	err   error // error of the latest attempt, nil if it succeeded
	errAt time.Time
}

// NewChecker validates cfg and fills its defaults. It starts nothing: its
// owner starts it as a lifecycle part (Start, Close).
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.AlertBalance = new(big.Int).Set(cfg.AlertBalance)
	c := &Checker{cfg: cfg, started: cfg.Now(), bals: make([]balanceState, len(cfg.Keys)), firstRead: make(chan struct{})}
	c.refresher = lifecycle.NewFunc(c.runBalanceRefresher)
	return c, nil
}

// Start starts the balance refresher and returns once its first refresh
// has returned (each key's read bounded by BalanceTimeout), or ctx ended:
// the relays' minimum-balance gate reads this cache (BalanceOf), so it is
// filled before they start. A failed read is logged and kept for the
// balance check; it does not fail Start. Start after Close is
// lifecycle.ErrClosed, a second Start lifecycle.ErrStarted.
func (c *Checker) Start(ctx context.Context) error {
	if err := c.refresher.Start(ctx); err != nil {
		return err
	}
	select {
	case <-c.firstRead:
	case <-ctx.Done():
	}
	return nil
}

// Close stops the refresher, then waits for a Redis round trip still
// running on behalf of a probe that already gave up; it lasts at most the
// Redis client's own timeouts. Checks after Close report ErrClosed in
// nonAckPendingTx. Safe to call more than once and on a Checker never
// started.
func (c *Checker) Close() error {
	err := c.refresher.Close()
	c.probeMu.Lock()
	c.closed = true
	c.probeMu.Unlock()
	c.wg.Wait()
	return err
}

// Check runs every check: the liveness ones (processor, nonAckPendingTx,
// redis), the balance and, when the relay reports fees, the fee cap.
func (c *Checker) Check(ctx context.Context) Report {
	r := c.Liveness(ctx)
	now := c.cfg.Now()
	c.checkBalance(&r, now)
	c.checkFees(&r, now)
	if c.cfg.Webhooks != nil {
		r.Webhooks = c.cfg.Webhooks()
	}
	return r
}

// Liveness runs the checks a restart could fix: processor, nonAckPendingTx
// and redis.
func (c *Checker) Liveness(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CheckTimeout)
	defer cancel()
	now := c.cfg.Now()
	var r Report
	c.checkProcessor(&r, now)
	c.checkPending(ctx, &r, now)
	return r
}

// Readiness runs the balance check: without funds the processor cannot do
// its work, but restarting it would not help. It does no I/O.
func (c *Checker) Readiness(context.Context) Report {
	var r Report
	c.checkBalance(&r, c.cfg.Now())
	return r
}

// checkProcessor fails when the loop has not beaten the heartbeat within
// LoopMaxAge. Before the first beat, the checker's own start time stands in,
// so a freshly started process gets LoopMaxAge to complete its first
// iteration instead of failing at once.
func (c *Checker) checkProcessor(r *Report, now time.Time) {
	if len(c.cfg.Keys) == 1 {
		k := c.keyLoop(c.cfg.Keys[0], now)
		r.Processor, r.LastLoopIteration, r.LastLoopAgeSeconds = k.Processor, k.LastLoopIteration, k.LastLoopAgeSeconds
		r.InFlight, r.NodeHeld, r.NodeWindow = k.InFlight, k.NodeHeld, k.NodeWindow
		r.Lease, r.Holding, r.FeeCap = k.Lease, k.Holding, k.FeeCap
	} else {
		c.checkProcessors(r, now)
	}
	if c.cfg.GroupRecreations != nil {
		r.GroupRecreated = c.cfg.GroupRecreations()
	}
}

// checkProcessors is checkProcessor for a pool: every key's loop must beat,
// the figures are totals, and each key's own line is under Keys.
func (c *Checker) checkProcessors(r *Report, now time.Time) {
	// The loop check runs first (Check is Liveness, then the balance), so
	// each key's line starts here.
	r.Keys = make([]KeyReport, len(c.cfg.Keys))
	var failed, standby, holding, atCap []string
	var inFlight int
	var held, window uint64
	var oldest time.Time
	for i, kc := range c.cfg.Keys {
		k := c.keyLoop(kc, now)
		r.Keys[i] = k
		name := k.Wallet
		if k.Processor != StatusOK {
			failed = append(failed, name+": "+strings.TrimPrefix(k.Processor, "error: "))
		}
		if k.InFlight != nil {
			inFlight += *k.InFlight
		}
		if k.NodeHeld != nil {
			held, window = held+*k.NodeHeld, window+*k.NodeWindow
		}
		if k.Lease != "" {
			standby = append(standby, name)
		}
		if k.Holding != "" {
			holding = append(holding, name)
		}
		if k.FeeCap != "" {
			atCap = append(atCap, name)
		}
		if last := kc.Heartbeat.Last(); !last.IsZero() && (oldest.IsZero() || last.Before(oldest)) {
			oldest = last
		}
	}
	n := len(c.cfg.Keys)
	if c.cfg.Keys[0].InFlight != nil {
		r.InFlight = &inFlight
	}
	if c.cfg.Keys[0].NodeWindow != nil {
		r.NodeHeld, r.NodeWindow = &held, &window
	}
	if len(standby) > 0 {
		r.Lease = fmt.Sprintf("standby - %d of %d keys are leased by another process: %s", len(standby), n, strings.Join(standby, ", "))
	}
	if len(holding) > 0 {
		r.Holding = fmt.Sprintf("waiting - %d of %d keys hold new submissions (the node holds transactions their journals do not know): %s",
			len(holding), n, strings.Join(holding, ", "))
	}
	if len(atCap) > 0 {
		r.FeeCap = fmt.Sprintf("waiting - %d of %d keys are at MAX_FEE_PER_GAS: %s", len(atCap), n, strings.Join(atCap, ", "))
	}
	if !oldest.IsZero() {
		r.LastLoopIteration = oldest.UTC().Format(time.RFC3339)
		r.LastLoopAgeSeconds = seconds(now.Sub(oldest))
	}
	if len(failed) > 0 {
		r.Processor = errorStatus("%d of %d keys: %s", len(failed), n, strings.Join(failed, "; "))
		return
	}
	r.Processor = StatusOK
}

// keyLoop is the loop check and the window figures of one key.
func (c *Checker) keyLoop(k KeyConfig, now time.Time) (kr KeyReport) {
	kr.Wallet = k.Wallet.Hex()
	if k.InFlight != nil {
		n := k.InFlight()
		kr.InFlight = &n
	}
	if k.NodeWindow != nil {
		held, window := k.NodeWindow()
		kr.NodeHeld, kr.NodeWindow = &held, &window
	}
	if k.Standby != nil {
		kr.Lease = k.Standby()
	}
	if k.HeldByUnknown != nil {
		if n, holding := k.HeldByUnknown(); holding {
			kr.Holding = fmt.Sprintf("waiting - the node holds %d transaction(s) of the wallet the journal does not know "+
				"(redis lost its last writes?); nothing new is signed until they are mined or dropped", n)
		}
	}
	if k.WaitingAtFeeCap != nil && k.WaitingAtFeeCap() {
		kr.FeeCap = "waiting - base fee or a stuck transaction's fees are at MAX_FEE_PER_GAS"
	}
	limit := formatAge(c.cfg.LoopMaxAge)
	last := k.Heartbeat.Last()
	if last.IsZero() {
		age := now.Sub(c.started)
		if age > c.cfg.LoopMaxAge {
			kr.Processor = errorStatus("no loop iteration since start %s, %s ago (max %s)",
				c.started.UTC().Format(time.RFC3339), formatAge(age), limit)
			return kr
		}
		kr.Processor = StatusOK
		return kr
	}
	age := now.Sub(last)
	kr.LastLoopIteration = last.UTC().Format(time.RFC3339)
	kr.LastLoopAgeSeconds = seconds(age)
	if age > c.cfg.LoopMaxAge {
		kr.Processor = errorStatus("last loop iteration %s, %s ago (max %s)", kr.LastLoopIteration, formatAge(age), limit)
		return kr
	}
	kr.Processor = StatusOK
	return kr
}

// checkPending fails when Redis does not answer within the check timeout
// (the redis check fails too, saying since when), more than MaxPending
// entries were read and not yet sent (see CheckerConfig.MaxPending), or the
// queue makes no progress: its oldest waiting entry (pending, or not yet
// delivered) was enqueued more than MaxWaitAge ago (waitTooLong).
func (c *Checker) checkPending(ctx context.Context, r *Report, now time.Time) {
	before := c.keyEntries()
	res, err := c.probeRedis(ctx)
	if err == nil {
		err = res.err
	}
	if err != nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		why := c.describeRedisError(err)
		if since, ok := c.redisFailed(err, now); ok {
			r.Redis = errorStatus("redis: %s since %s", why, since.UTC().Format(time.RFC3339))
		} else {
			r.Redis = errorStatus("redis: %s", why)
		}
		r.NonAckPendingTx = errorStatus("redis: %s", why)
		return
	}
	c.redisAnswered()
	r.Redis = StatusOK
	if err != nil {
		r.NonAckPendingTx = errorStatus("redis: %s", c.describeRedisError(err))
		return
	}
	r.PendingCount = &res.pending
	if c.cfg.Orphans != nil {
		r.OrphanedKeys = c.cfg.Orphans()
	}
	unsent := res.pending
	if after := c.keyEntries(); after.known {
		unsent, r.AwaitingConfirmations, r.PendingElsewhere = before.unsent(after, res.consumers)
	}
	r.UnsentCount = &unsent
	if res.oldestOK {
		r.OldestPendingAgeSeconds = seconds(now.Sub(res.oldest))
	}
	if res.deadLettersOK {
		r.DeadLetterCount = &res.deadLetters
	}
	if res.lag >= 0 {
		r.Lag = &res.lag
	}
	if res.undeliveredOK {
		r.OldestUndeliveredAgeSeconds = seconds(now.Sub(res.undelivered))
	}
	if unsent > c.cfg.MaxPending {
		r.NonAckPendingTx = errorStatus("%d read and not yet sent > %d", unsent, c.cfg.MaxPending)
		return
	}
	if why := waitTooLong(res, now, c.cfg.MaxWaitAge); why != "" {
		r.NonAckPendingTx = errorStatus("%s", why)
		return
	}
	r.NonAckPendingTx = StatusOK
}

// entriesSnapshot is what each key's relay has in hand (KeyConfig.Entries),
// by consumer name.
type entriesSnapshot struct {
	known   bool
	reading map[string]int64
	sent    map[string]int64
}

func (c *Checker) keyEntries() entriesSnapshot {
	s := entriesSnapshot{reading: map[string]int64{}, sent: map[string]int64{}}
	for _, k := range c.cfg.Keys {
		if k.Consumer == "" || k.Entries == nil {
			continue
		}
		reading, sent := k.Entries()
		s.known = true
		s.reading[k.Consumer] += int64(reading)
		s.sent[k.Consumer] += int64(sent)
	}
	return s
}

// unsent counts the entries read and not yet sent from two snapshots of
// the relays' entries, taken before (s) and after (after) XPENDING counted
// the pending entries of each consumer. An entry read, or settled, between
// the two is in hand in one of them; taking the larger of each figure never
// counts an entry in hand as unsent, at the cost of an undercount while
// entries move from one figure to the other (a stuck entry stays unsent in
// every snapshot, so it is counted once nothing moves). It also returns the
// entries awaiting their confirmations and those pending under consumers
// that are not this process's keys.
func (s entriesSnapshot) unsent(after entriesSnapshot, consumers map[string]int64) (unsent int64, awaiting, elsewhere *int64) {
	var aw, el int64
	for name, n := range consumers {
		if _, ours := after.sent[name]; !ours {
			el += n
			continue
		}
		held := max(s.reading[name], after.reading[name]) + max(s.sent[name], after.sent[name])
		unsent += max(0, n-held)
	}
	for name := range after.sent {
		aw += min(after.sent[name], consumers[name])
	}
	return unsent, &aw, &el
}

// redisFailed records a failed Redis probe and returns since when they
// have failed; the first failure of an outage is logged with the whole
// error, which the public answer names only by its category. A cancelled
// probe (the caller went away) says nothing about Redis.
func (c *Checker) redisFailed(err error, now time.Time) (time.Time, bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
		return time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.redisDown.IsZero() {
		c.redisDown = now
		c.cfg.Log.Error().Str("err", describeError(err)).Msg("redis does not answer the monitor")
	}
	return c.redisDown, true
}

// redisAnswered ends an outage redisFailed recorded.
func (c *Checker) redisAnswered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.redisDown.IsZero() {
		c.cfg.Log.Info().Dur("outage", c.cfg.Now().Sub(c.redisDown)).Msg("redis answers the monitor again")
		c.redisDown = time.Time{}
	}
}

// checkFees fails when the base fee has stayed above MAX_FEE_PER_GAS for
// longer than FeeCapGrace while entries wait for a transaction: nothing can
// be sent. It is left out without Metrics (nothing reports the fees).
func (c *Checker) checkFees(r *Report, now time.Time) {
	if c.cfg.Metrics == nil {
		return
	}
	r.Fees = feesStatus(c.cfg.Metrics, r, now, c.cfg.FeeCapGrace)
}

// feesStatus is the fees check: the base fee above the cap for longer than
// grace fails it, unless the report knows that no entry waits (an empty
// queue loses nothing to the cap, and the relay reads the fee only when it
// has work, so the reading would be stale).
func feesStatus(m *Metrics, r *Report, now time.Time, grace time.Duration) string {
	since, baseFee, maxFee, above := m.baseFeeAboveCap()
	if !above || now.Sub(since) <= grace {
		return StatusOK
	}
	idle := r.UnsentCount != nil && *r.UnsentCount == 0 && (r.Lag == nil || *r.Lag == 0) &&
		(r.AwaitingConfirmations == nil || *r.AwaitingConfirmations == 0)
	if idle {
		return StatusOK
	}
	return errorStatus("base fee %s above MAX_FEE_PER_GAS %s for %s (max %s): nothing can be sent until the cap is raised or the base fee falls",
		formatFee(baseFee), formatFee(maxFee), formatAge(now.Sub(since)), formatAge(grace))
}

// formatFee renders a fee per gas in gwei, or in wei below one gwei: a cap
// of 30 wei meant as 30 gwei must read as what it is.
func formatFee(wei *big.Int) string {
	if wei.Cmp(weiPerGwei()) < 0 {
		return wei.String() + " wei"
	}
	return strconv.FormatFloat(weiToGwei(wei), 'f', -1, 64) + " gwei"
}

// waitTooLong says why the queue makes no progress, or "" when it does: the
// oldest pending entry, or the oldest entry not yet delivered to the group,
// was enqueued more than maxAge ago. Ages come from the entry ids, the Redis
// server's clock at XADD, so the check needs no memory of earlier probes:
// an intake that stopped reading leaves its oldest undelivered entry to age
// while the lag does not fall, and an entry the relay cannot finish stays
// the oldest pending one.
func waitTooLong(res redisResult, now time.Time, maxAge time.Duration) string {
	limit := formatAge(maxAge)
	if res.oldestOK {
		if age := now.Sub(res.oldest); age > maxAge {
			return fmt.Sprintf("oldest pending entry enqueued %s ago (max %s): the queue makes no progress", formatAge(age), limit)
		}
	}
	if res.undeliveredOK {
		if age := now.Sub(res.undelivered); age > maxAge {
			lag := "some"
			if res.lag >= 0 {
				lag = strconv.FormatInt(res.lag, 10)
			}
			return fmt.Sprintf("%s entries not yet read, the oldest enqueued %s ago (max %s): the queue makes no progress", lag, formatAge(age), limit)
		}
	}
	return ""
}

func (c *Checker) describeRedisError(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within " + formatAge(c.cfg.CheckTimeout)
	case errors.Is(err, context.Canceled):
		return "check cancelled"
	case redis.HasErrorPrefix(err, "NOGROUP"):
		return fmt.Sprintf("consumer group %q of stream %q does not exist", c.cfg.Group, c.cfg.StreamKey)
	default:
		return ErrorCategory(err)
	}
}

// redisResult is what one Redis round trip learned.
type redisResult struct {
	err           error
	pending       int64
	consumers     map[string]int64 // pending entries by consumer
	oldest        time.Time        // enqueue time of the oldest pending entry
	oldestOK      bool
	deadLetters   int64
	deadLettersOK bool
	// lag is the group's lag (XINFO GROUPS, Redis >= 7.0): entries in the
	// stream not yet delivered to it; -1 when Redis cannot tell.
	lag int64
	// undelivered is the enqueue time of the oldest entry not yet
	// delivered to the group.
	undelivered   time.Time
	undeliveredOK bool
}

// redisProbe is one Redis round trip shared by all probes that arrive while
// it runs.
type redisProbe struct {
	done chan struct{}
	res  redisResult // written before done is closed
}

// probeRedis joins the round trip in progress or starts one, and waits for
// it or for ctx. The round trip runs in its own goroutine with its own
// CheckTimeout, so a probe that gives up does not leave a stuck request
// behind it; at most one such goroutine exists, and Close waits for it.
func (c *Checker) probeRedis(ctx context.Context) (redisResult, error) {
	c.probeMu.Lock()
	if c.closed {
		c.probeMu.Unlock()
		return redisResult{}, ErrClosed
	}
	p := c.probe
	if p == nil {
		p = &redisProbe{done: make(chan struct{})}
		c.probe = p
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			// Detached from the first caller's cancellation: other probes
			// may be waiting on this round trip.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.CheckTimeout)
			defer cancel()
			res := c.queryRedis(pctx)
			c.probeMu.Lock()
			c.probe = nil
			c.lastErr = res.err
			c.probeMu.Unlock()
			p.res = res
			close(p.done)
		}()
	}
	c.probeMu.Unlock()
	select {
	case <-p.done:
		return p.res, nil
	case <-ctx.Done():
		c.probeMu.Lock()
		last := c.lastErr
		c.probeMu.Unlock()
		if last != nil && !errors.Is(last, context.DeadlineExceeded) && !redis.HasErrorPrefix(last, "NOGROUP") {
			return redisResult{}, last
		}
		return redisResult{}, ctx.Err()
	}
}

// queryRedis reads the backlog (Backlog) and counts a failed command. It
// turns a panic into an error because nothing above this goroutine could
// recover it.
func (c *Checker) queryRedis(ctx context.Context) (res redisResult) {
	defer func() {
		if p := recover(); p != nil {
			res = redisResult{err: fmt.Errorf("panic in redis check: %v", p)}
		}
	}()
	b, err := c.cfg.Backlog.ReadBacklog(ctx)
	if err != nil {
		c.countRedisError(err)
		return redisResult{err: err}
	}
	res = redisResult{pending: b.Pending, consumers: b.Consumers, lag: b.Lag}
	res.oldest, res.oldestOK = b.OldestPending.UTC(), !b.OldestPending.IsZero()
	res.undelivered, res.undeliveredOK = b.FirstUndelivered.UTC(), !b.FirstUndelivered.IsZero()
	res.deadLetters, res.deadLettersOK = b.DeadLetters, b.DeadLettersOK
	if b.DeadLettersErr != nil {
		// A figure, not a check: the pending read proved Redis answers.
		c.countRedisError(b.DeadLettersErr)
		c.cfg.Log.Warn().Str("err", describeError(b.DeadLettersErr)).Msg("read dead-letter length")
	}
	return res
}

// countRedisError counts a failed backlog read under its command's name.
func (c *Checker) countRedisError(err error) {
	var be *stream.BacklogError
	if !errors.As(err, &be) {
		c.cfg.Metrics.RedisError("monitor_backlog")
		return
	}
	switch be.Op {
	case "xpending":
		c.cfg.Metrics.RedisError("monitor_xpending")
	case "xinfo_groups":
		c.cfg.Metrics.RedisError("monitor_xinfo_groups")
	case "xrange":
		c.cfg.Metrics.RedisError("monitor_xrange")
	case "xlen":
		c.cfg.Metrics.RedisError("monitor_xlen")
	default:
		c.cfg.Metrics.RedisError("monitor_backlog")
	}
}

// idTime returns the time encoded in a stream entry id ("<ms>-<seq>"): the
// Redis server's clock when the entry was added, hence its enqueue time.
// The parsing is stream's, the one owner of the layout.
func idTime(id string) (time.Time, bool) {
	t := stream.EntryTime(id)
	return t.UTC(), !t.IsZero()
}

// RefreshBalance reads every key's balance once, each within
// BalanceTimeout, and caches them for the checks and for BalanceOf. A
// failed read is kept too, so the balance check fails until a later refresh
// succeeds.
func (c *Checker) RefreshBalance(ctx context.Context) error {
	var errs []error
	for i, k := range c.cfg.Keys {
		if err := c.refreshKey(ctx, i, k); err != nil {
			errs = append(errs, err)
		}
	}
	if h := c.cfg.History; h != nil {
		if total, ok := c.totalBalance(); ok {
			h.Add(c.cfg.Now(), total)
		}
	}
	return errors.Join(errs...)
}

func (c *Checker) refreshKey(ctx context.Context, i int, k KeyConfig) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.BalanceTimeout)
	defer cancel()
	wei, err := c.cfg.Balance.BalanceAt(ctx, k.Wallet, nil)
	if err == nil && wei == nil {
		err = errors.New("node returned no balance")
	}
	now := c.cfg.Now()
	c.mu.Lock()
	if err != nil {
		c.bals[i].err, c.bals[i].errAt = err, now
	} else {
		c.bals[i] = balanceState{wei: new(big.Int).Set(wei), at: now}
	}
	c.mu.Unlock()
	if err != nil {
		c.cfg.Metrics.RPCError("balance_at")
		return fmt.Errorf("read balance of %s: %w", k.Wallet.Hex(), err)
	}
	if k.Metrics != nil {
		k.Metrics.SetBalance(wei)
	} else {
		c.cfg.Metrics.SetBalance(wei)
	}
	return nil
}

// totalBalance is the sum of the known balances; false before any is known.
func (c *Checker) totalBalance() (*big.Int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total, ok := new(big.Int), false
	for _, b := range c.bals {
		if b.wei != nil {
			total.Add(total, b.wei)
			ok = true
		}
	}
	return total, ok
}

// ErrBalanceUnknown is BalanceOf's answer while the key's balance has not
// been read, or the last good read is older than the balance max age.
var ErrBalanceUnknown = errors.New("wallet balance unknown")

// BalanceOf is the cached balance of one key, as RunBalanceRefresher last
// read it: the relay's minimum-balance gate reads it here instead of asking
// the node a second time, so the gate and the monitor agree and both move
// every BALANCE_REFRESH_INTERVAL.
func (c *Checker) BalanceOf(wallet common.Address) (*big.Int, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range c.cfg.Keys {
		if k.Wallet != wallet {
			continue
		}
		b := c.bals[i]
		switch {
		case b.wei == nil && b.err != nil:
			return nil, fmt.Errorf("%w: %w", ErrBalanceUnknown, b.err)
		case b.wei == nil:
			return nil, fmt.Errorf("%w: not read yet", ErrBalanceUnknown)
		case now.Sub(b.at) > c.cfg.BalanceMaxAge:
			return nil, fmt.Errorf("%w: last read %s ago", ErrBalanceUnknown, formatAge(now.Sub(b.at)))
		}
		return new(big.Int).Set(b.wei), nil
	}
	return nil, fmt.Errorf("%w: %s is not a key of this process", ErrBalanceUnknown, wallet.Hex())
}

// runBalanceRefresher refreshes the balance at once and then every
// BalanceRefresh until ctx is done (Close). Failures are logged and kept for
// the balance check; they never stop the refresher.
func (c *Checker) runBalanceRefresher(ctx context.Context) error {
	t := time.NewTicker(c.cfg.BalanceRefresh)
	defer t.Stop()
	first := true
	for {
		if err := c.RefreshBalance(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Log.Warn().Str("err", describeError(err)).Msg("balance refresh failed")
		}
		if first {
			close(c.firstRead)
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// checkBalance fails when the cached balance is unknown, stale, the latest
// refresh failed, or it is below AlertBalance; with a pool, when that is so
// for any key. It reads only the cache.
func (c *Checker) checkBalance(r *Report, now time.Time) {
	r.AlertBalanceEth = formatEth(c.cfg.AlertBalance)
	c.mu.Lock()
	bals := append([]balanceState(nil), c.bals...)
	c.mu.Unlock()
	if len(bals) == 1 {
		b := bals[0]
		r.Balance = c.keyBalanceStatus(b, now)
		if b.wei != nil {
			r.BalanceEth = formatEth(b.wei)
			r.BalanceAgeSeconds = seconds(now.Sub(b.at))
			r.SpendWeiPerHour, r.RunwayHours, r.Runway = runway(c.processRater(), b.wei, now)
		}
		return
	}
	r.ensureKeys(c.cfg.Keys)
	var failed []string
	total, known := new(big.Int), false
	var oldest time.Duration
	for i, b := range bals {
		kr := &r.Keys[i]
		kr.Balance = c.keyBalanceStatus(b, now)
		if kr.Balance != StatusOK {
			failed = append(failed, kr.Wallet+": "+strings.TrimPrefix(kr.Balance, "error: "))
		}
		if b.wei == nil {
			continue
		}
		known = true
		total.Add(total, b.wei)
		oldest = max(oldest, now.Sub(b.at))
		kr.BalanceEth = formatEth(b.wei)
		if m := c.cfg.Keys[i].Metrics; m != nil {
			_, kr.RunwayHours, kr.Runway = runway(m, b.wei, now)
		}
	}
	if known {
		r.BalanceEth = formatEth(total)
		r.BalanceAgeSeconds = seconds(oldest)
		r.SpendWeiPerHour, r.RunwayHours, r.Runway = runway(c.processRater(), total, now)
	}
	if len(failed) > 0 {
		r.Balance = errorStatus("%d of %d keys: %s", len(failed), len(bals), strings.Join(failed, "; "))
		return
	}
	r.Balance = StatusOK
}

// keyBalanceStatus is the balance check of one key's cached balance.
func (c *Checker) keyBalanceStatus(b balanceState, now time.Time) string {
	if b.wei == nil {
		if b.err != nil {
			return errorStatus("balance unknown: refresh failed %s ago: chain: %s",
				formatAge(now.Sub(b.errAt)), ErrorCategory(b.err))
		}
		return errorStatus("balance not read yet")
	}
	age := now.Sub(b.at)
	eth := formatEth(b.wei)
	switch {
	case b.err != nil:
		return errorStatus("balance refresh failed %s ago: chain: %s (last known %s ETH, %s old)",
			formatAge(now.Sub(b.errAt)), ErrorCategory(b.err), eth, formatAge(age))
	case age > c.cfg.BalanceMaxAge:
		return errorStatus("balance %s ETH is %s old (max %s)", eth, formatAge(age), formatAge(c.cfg.BalanceMaxAge))
	case b.wei.Cmp(c.cfg.AlertBalance) < 0:
		return errorStatus("balance %s ETH below alert %s ETH", eth, formatEth(c.cfg.AlertBalance))
	}
	return StatusOK
}

// processRater is the process's spend rate for runway, or nil without
// Metrics (a nil *Metrics in the interface would not compare as nil).
func (c *Checker) processRater() spendRater {
	if c.cfg.Metrics == nil {
		return nil
	}
	return c.cfg.Metrics
}

// spendRater gives a spend rate: the process's Metrics or one key's.
type spendRater interface {
	SpendRate(now time.Time) (*big.Int, bool)
}

// runway estimates how long balance lasts at the recent spend rate of m:
// the rate as a decimal string, the hours, and the same in words. All empty
// without m.
func runway(m spendRater, balance *big.Int, now time.Time) (spendWeiPerHour string, hours *float64, words string) {
	if m == nil {
		return "", nil, ""
	}
	rate, ok := m.SpendRate(now)
	if !ok {
		return "", nil, "no recent spend"
	}
	h := math.Round(ratioFloat(balance, rate)*100) / 100
	// Four significant digits are plenty for people; the exact rate is in
	// SpendWeiPerHour.
	return rate.String(), &h, fmt.Sprintf("%.1f hours at %s ETH/hour", h, strconv.FormatFloat(weiToEth(rate), 'g', 4, 64))
}
