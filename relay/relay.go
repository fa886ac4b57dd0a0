// Package relay is the loop that joins the frontend's stream (package stream)
// to the chain (package chain): it reads applications, simulates them,
// signs and journals a transaction before broadcasting it, keeps a bounded
// window of transactions in flight, and acknowledges each stream entry only
// once its outcome is final (docs/design.md, "Invariants").
package relay

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/stream"
)

// Chain is what the relay asks of an Ethereum node; *chain.Client has it.
type Chain interface {
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	BalanceAt(ctx context.Context, account common.Address, block *big.Int) (*big.Int, error)
	NonceAt(ctx context.Context, account common.Address, block *big.Int) (uint64, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	Nonces(ctx context.Context, account common.Address, block *big.Int) (mined, pending uint64, err error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	EstimateGasBatch(ctx context.Context, msgs []ethereum.CallMsg) ([]uint64, []error, error)
	CallContract(ctx context.Context, msg ethereum.CallMsg, block *big.Int) ([]byte, error)
	SendTransactions(ctx context.Context, txs []*types.Transaction) ([]error, error)
	TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error)
	TransactionsByHash(ctx context.Context, hashes []common.Hash) ([]*types.Transaction, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error)
	BlockHashes(ctx context.Context, numbers []uint64) ([]common.Hash, error)
}

// Queue is what the relay asks of Redis; *stream.Queue has it.
type Queue interface {
	EnsureGroup(ctx context.Context) error
	ReadOwnPending(ctx context.Context, afterID string, count int) ([]stream.Entry, error)
	ReadNew(ctx context.Context, count int, block time.Duration) ([]stream.Entry, error)
	LoadApplications(ctx context.Context, entityIDs []string) (fields []map[string]string, errs []error, err error)
	Ack(ctx context.Context, entries ...stream.Settled) error
	DeadLetter(ctx context.Context, d stream.DeadLetter) error
	Record(ctx context.Context, recs ...stream.TxRecord) error
	Forget(ctx context.Context, nonces ...uint64) error
	Journal(ctx context.Context) ([]stream.TxRecord, error)
	QuarantineRecord(ctx context.Context, nonce uint64, why error) error
	CountRevert(ctx context.Context, entityID string) (int64, error)
	Beat(ctx context.Context, now time.Time) error
	// TakeOver, Touch and ClaimIdle hand entries between consumers (see
	// claim.go).
	TakeOver(ctx context.Context) (int, error)
	Touch(ctx context.Context, ids ...string) error
	ClaimIdle(ctx context.Context, minIdle time.Duration, limit int) ([]stream.Claimed, error)
	// KeepOwnAlive resets the idle time of every entry pending under this
	// consumer, whatever holds it back.
	KeepOwnAlive(ctx context.Context) (int, error)
	// ClaimOwners, OwnerStale, TakeOwner and ReleaseOwners are the pool-wide
	// claim on an application taken before signing (see owner.go).
	ClaimOwners(ctx context.Context, wallet string, claims ...stream.OwnerClaim) ([]stream.Owner, error)
	OwnerStale(ctx context.Context, owner stream.Owner, live func(context.Context, string) (bool, error)) (bool, error)
	TakeOwner(ctx context.Context, sigHash common.Hash, stale stream.Owner, wallet, entryID string) (bool, error)
	ReleaseOwners(ctx context.Context, wallet string, sigHashes ...common.Hash) error
}

// Pool is what the relay asks of the pool of keys it is one of (package
// pool; invariant 9): which wallets' transactions are ours, and whether a
// key is held by a live process.
type Pool interface {
	Members(ctx context.Context) (map[common.Address]bool, error)
	Live(ctx context.Context, wallet string) (bool, error)
}

// Metrics receives what the relay observes; *monitor.Metrics has it.
type Metrics interface {
	EntryReceived()
	Submitted(enqueuedAt, now time.Time)
	Confirmed(enqueuedAt, now time.Time, gasPaidWei *big.Int)
	DeadLettered(class string)
	SetInFlight(n int)
	RPCError(op string)
	RedisError(op string)
	SetBaseFee(baseFee, maxFeeCap *big.Int)
	WaitingAtFeeCap(waiting bool)
	RevertedOnChain(at time.Time, gasPaidWei *big.Int)
	RevertRequeued(cause string)
	SetNodeWindow(held, window uint64)
	SetUnknownPending(n uint64)
	GapFilled()
	ReplacementRefused()
	Resent(n int)
	NonceLost()
	SetBalance(wei *big.Int)
	LoopIteration(t time.Time)
	EntriesClaimed(n int)
	// Carried observes a mined transaction that carried apps applications
	// (one, or a batch) and used gasUsed: applications per transaction and
	// gas per application.
	Carried(apps int, gasUsed uint64)
}

// StatusRecorder keeps the outcome of confirmed applications.
type StatusRecorder interface {
	Confirmed(ctx context.Context, cs ...stream.Confirmation) error
}

// Heartbeat records loop iterations for the monitor.
type Heartbeat interface {
	Beat(t time.Time)
}

// Config holds the relay's settings, already parsed into typed units.
type Config struct {
	Confirmations       uint64        // CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS, >= 1
	MaxInFlight         int           // MAX_IN_FLIGHT
	ReadBlock           time.Duration // REDIS_READ_BLOCK_TIMEOUT
	ErrorBackoff        time.Duration // ERROR_TIMEOUT
	BalanceTooLowWait   time.Duration // BALANCE_TOO_LOW_TIMEOUT
	PollInterval        time.Duration // CHAIN_POLL_INTERVAL: the bound of the tracker's cadence (cadence.go)
	RPCTimeout          time.Duration // RPC_TIMEOUT, per call
	RebroadcastInterval time.Duration // REBROADCAST_INTERVAL for unmined transactions
	MinBalance          *big.Int      // PROCESSOR_MIN_BALANCE
	Fees                chain.FeePolicy
	GasMarginPercent    uint64 // GAS_LIMIT_MARGIN_PERCENT over the estimate
	StuckBlocks         uint64 // STUCK_TX_BLOCKS without inclusion before a fee bump
	FeeBumpPercent      int64  // FEE_BUMP_PERCENT per replacement, >= 11 (geth wants +10%)
	// MaxTransientReverts (MAX_TRANSIENT_REVERTS) is how often an
	// application's transaction may be mined and revert for a cause that
	// can pass (product paused, out of gas) before it is dead-lettered.
	MaxTransientReverts int
	// SignatureLookback (SIGNATURE_LOOKBACK_BLOCKS) bounds the search for
	// the transaction that applied a signature reported as used.
	SignatureLookback uint64
	// Status, when set, records each confirmed application (transaction,
	// block, processId) before its entry is acknowledged, so the outcome
	// stays readable after the hash is purged; *stream.StatusStore has it.
	Status StatusRecorder
	// MaxEntryAttempts is how many attempts an entry gets that fails for a
	// reason of its own (its application key is not a hash, the node
	// answers its simulation with an error that is not a revert) before it
	// is dead-lettered; attempts are ERROR_TIMEOUT apart and other entries
	// go on meanwhile (see attempts). MAX_ENTRY_ATTEMPTS.
	MaxEntryAttempts int
	// ClaimIdle (REDIS_QUEUE_CLAIM_IDLE) is how long an entry must have
	// been idle under a silent consumer before this relay claims it; 0
	// claims nothing. The relay touches its own in-flight entries every
	// quarter of it, so no live relay's entry is ever that idle.
	ClaimIdle time.Duration
	// MaxClaims (MAX_ENTRY_CLAIMS): an entry claimed more often is
	// dead-lettered.
	MaxClaims int
	// Keys is how many keys relay in this process beside this one
	// (PROCESSOR_ACCOUNT_INDEX): the start of the node window shares two
	// blocks among them (decide.StartNodeWindow). 0 or 1: this key alone.
	Keys int
	// Balance, when set, is where the minimum-balance gate reads the
	// wallet's balance: the monitor's cache (monitor.Checker.BalanceOf),
	// refreshed every BALANCE_REFRESH_INTERVAL, so the gate and the monitor
	// read one figure. Nil reads the node directly at most once per poll.
	Balance func(ctx context.Context) (*big.Int, error)
	// Pool, when set, makes the relay one key of a pool: a transaction
	// from any wallet of the pool is ours (SIGNATURE_USED resolution), and
	// a claim held by a key no live process holds may be taken over. Nil:
	// the pool is this wallet alone.
	Pool Pool
	// Clock is the relay's time, read and waited on (backoffs, the poll
	// interval, the wait for a slot); nil is the wall clock. Tests pass a
	// fakeclock.Clock and move time instead of sleeping.
	Clock Clock
	// Batch, when set, carries several applications in one transaction
	// through the batch contract (package chain/batch; issue 22). Nil sends
	// one application per transaction.
	Batch *Batching
}

// Batching is how the relay forms batch transactions.
type Batching struct {
	// Contract is the deployed DepegApplicationBatch
	// (BATCH_CONTRACT_ADDRESS) for the product the relay applies to.
	Contract common.Address
	// MaxApplications (BATCH_MAX_APPLICATIONS) is the most applications one
	// transaction carries; below 2 nothing is batched.
	MaxApplications int
	// GasBudget (BATCH_GAS_BUDGET) bounds one batch transaction's gas
	// limit (batch.GasFor); it is further held to half the head's block gas
	// limit, so a batch never crowds a block alone.
	GasBudget uint64
}

// Clock is what the relay asks of time; *fakeclock.Clock has it.
type Clock interface {
	Now() time.Time
	// After fires once d has passed, as time.After.
	After(d time.Duration) <-chan time.Time
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Relay is one key's processor: the submitting loop and the tracker over one
// window. It builds its parts and runs them as one lifecycle part (Start,
// Close, Done; package lifecycle), or on the caller's goroutine (Run). It is
// not reusable once it has run.
//
// Each part owns its state: the window (window.go) everything both loops
// share, behind the one lock; the tracker (track.go) what only it writes;
// the submitter (submit.go) what only the submitting loop writes. What both
// need to act (the clients, the configuration, broadcasting, dead letters,
// the search for a used signature) is the core they share, which holds no
// state of its own.
type Relay struct {
	*core
	tracker   *tracker
	submitter *submitter
	run       *lifecycle.Func
}

// core is what the parts share to act: the clients and the configuration,
// and the window. It holds no state of its own.
type core struct {
	cfg     Config
	clock   Clock
	log     zerolog.Logger
	chain   Chain
	queue   Queue
	signer  *chain.Signer
	product *chain.Product
	metrics Metrics
	w       *window
}

// New wires a relay. It starts nothing.
//
// It takes cfg as given: every default and bound is written once, in
// config's table of variables (package config), and the processor builds
// cfg from the loaded configuration. A Config built by hand (a test) sets
// every field the relay reads; a zero StuckBlocks, FeeBumpPercent,
// MaxTransientReverts, SignatureLookback, MaxEntryAttempts or MaxClaims is
// taken literally, not replaced by a default.
func New(cfg Config, log zerolog.Logger, c Chain, q Queue, s *chain.Signer, p *chain.Product, m Metrics, hb Heartbeat) *Relay {
	clock := cfg.Clock
	if clock == nil {
		clock = wallClock{}
	}
	if cfg.MaxInFlight < 1 {
		// An invariant, not a default: the window's count is unsigned and
		// a window of no transaction would never submit one. config
		// holds MAX_IN_FLIGHT to 1..1024.
		cfg.MaxInFlight = 1
	}
	co := &core{cfg: cfg, clock: clock, log: log, chain: c, queue: q, signer: s, product: p, metrics: m,
		w: newWindow(uint64(cfg.MaxInFlight))}
	r := &Relay{core: co, tracker: &tracker{core: co}, submitter: &submitter{core: co, heartbeat: hb}}
	r.run = lifecycle.NewFunc(r.Run)
	return r
}

// Start runs the relay (Run) until Close; it returns at once.
func (r *Relay) Start(ctx context.Context) error { return r.run.Start(ctx) }

// Close stops the relay at its next safe point and waits for it.
func (r *Relay) Close() error { return r.run.Close() }

// Done is closed once a started relay has stopped.
func (r *Relay) Done() <-chan struct{} { return r.run.Done() }

// WaitingAtFeeCap reports whether the relay is held back by MAX_FEE_PER_GAS:
// the base fee is above it, or a stuck transaction's fees reached it.
func (r *Relay) WaitingAtFeeCap() bool { return r.w.atFeeCap() }

func (r *core) reportFeeCap() {
	r.metrics.WaitingAtFeeCap(r.w.atFeeCap())
}

// InFlight is the number of transactions submitted but not yet final.
func (r *Relay) InFlight() int { return r.w.size() }

// Entries is how many stream entries the relay has in hand: reading, the
// batch the submitting loop read and is submitting now; sent, those carried
// by a transaction not yet final (gap fills carry none). The monitor counts
// the key's other pending entries as read and not yet sent.
func (r *Relay) Entries() (reading, sent int) { return r.w.entries() }

// NodeWindow reports how many of our transactions the node held on the last
// pass, and how many the relay keeps outstanding for it.
func (r *Relay) NodeWindow() (held, window uint64) { return r.w.nodeWindowNow() }

// HeldByUnknown reports whether new submissions wait behind transactions of
// this wallet that the node's pool holds and the journal does not know, and
// how many the last check found (see holdGate).
func (r *Relay) HeldByUnknown() (n uint64, holding bool) { return r.w.holding() }

// Run processes the stream until ctx is cancelled. It first reconciles the
// journal with the chain, then runs the confirmation tracker beside the
// submitting loop. Transient failures (Redis or RPC down, product paused)
// back off and retry: Run only returns early if the consumer group cannot be
// created or the journal cannot be read at start. On cancellation the work
// under way reaches a safe point (a journaled transaction is broadcast, an
// outcome is acknowledged) before Run returns; unconfirmed transactions stay
// in the journal for the next start.
func (r *Relay) Run(ctx context.Context) error {
	if err := r.retry(ctx, "create consumer group", r.queue.EnsureGroup); err != nil {
		return err
	}
	if err := r.retry(ctx, "take over the key's entries", r.takeOver); err != nil {
		return err
	}
	if err := r.retry(ctx, "recover journal", r.recover); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.tracker.track(ctx)
	}()
	r.submitter.submitLoop(ctx)
	return nil
}

// retry runs a start-up step until it succeeds or ctx ends, so a processor
// started while Redis or the node is down waits instead of crash-looping.
func (r *core) retry(ctx context.Context, what string, step func(context.Context) error) error {
	for {
		err := step(ctx)
		if err == nil {
			return nil
		}
		r.log.Error().Err(err).Msg(what + " failed, retrying")
		if !r.sleep(ctx, r.cfg.ErrorBackoff) {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
	}
}

// recover loads the journal: every recorded transaction is tracked again, and
// those the chain has not mined are re-broadcast (same bytes, so never a
// second, different transaction). The local nonce continues after both the
// node's pending nonce and the highest journaled one. Before anything new is
// signed, the submitting loop checks the pool for transactions of ours the
// journal does not know (holdGate).
func (r *Relay) recover(ctx context.Context) error {
	recs, err := r.queue.Journal(ctx)
	if err != nil {
		r.metrics.RedisError("journal")
		return err
	}
	pending, err := r.call(ctx, "pending_nonce", func(c context.Context) (uint64, error) {
		return r.chain.PendingNonceAt(c, r.signer.Address())
	})
	if err != nil {
		return fmt.Errorf("read pending nonce: %w", err)
	}
	r.w.reset(pending)
	next := pending
	for _, rec := range recs {
		f, err := flightFromRecord(rec, r.product, r.log)
		if err != nil {
			// A record we cannot use cannot be re-broadcast; its entry is still
			// pending and will be simulated again (if the old transaction was
			// mined, SIGNATURE_USED is looked up and resolved as ours). The
			// raw record goes to the quarantine, not away: it may be the only
			// copy of a transaction still in a pool.
			if qerr := r.queue.QuarantineRecord(ctx, rec.Nonce, err); qerr != nil {
				r.metrics.RedisError("quarantine")
				return fmt.Errorf("quarantine journal record %d: %w", rec.Nonce, qerr)
			}
			continue
		}
		next = r.w.resume(f)
		f.log.Info().Msg("resuming journaled transaction")
	}
	r.metrics.SetInFlight(r.w.size())
	if err := r.tracker.touch(ctx); err != nil {
		return err
	}
	if n := len(recs); n > 0 && pending > recs[n-1].Nonce+1 {
		// Someone sent from this wallet beyond what the journal knows: the
		// local sequence follows the node, never reusing a taken nonce.
		r.log.Warn().Uint64("pending_nonce", pending).Uint64("journal_max_nonce", recs[n-1].Nonce).
			Msg("wallet nonce advanced by transactions not in the journal, resynchronised")
	}
	if len(recs) > 0 {
		r.log.Info().Int("transactions", len(recs)).Uint64("next_nonce", next).Msg("journal recovered")
	}
	return nil
}

// call runs one RPC with its own timeout and counts failures.
func (r *core) call(ctx context.Context, op string, fn func(context.Context) (uint64, error)) (uint64, error) {
	c, cancel := context.WithTimeout(ctx, r.cfg.RPCTimeout)
	defer cancel()
	v, err := fn(c)
	if err != nil {
		r.metrics.RPCError(op)
	}
	return v, err
}

func (r *core) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.RPCTimeout)
}

// sleep waits d on the relay's clock or until ctx ends; it reports whether
// the wait completed.
func (r *core) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-r.clock.After(d):
		return true
	}
}

var errTransient = errors.New("transient")
