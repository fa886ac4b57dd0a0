package relay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// submitter is the part that reads, validates, simulates, signs, journals
// and broadcasts: the submitting loop, on Run's goroutine. It alone takes
// new nonces. The fields are its own, written by the loop only.
type submitter struct {
	*core
	heartbeat    Heartbeat
	unjournaled  []uint64 // nonces of a journal write that failed, to remove
	balanceAt    time.Time
	balanceOK    bool
	holdWarnedAt uint64    // head of the last "still holding" log line
	claimedAt    time.Time // when it last looked for idle entries
	blockGas     uint64    // the gas limit of the last head read (fees)
	head         uint64    // the number of that head
}

// seedNodeWindow starts the node window from what the chain tells, once:
// the block gas limit of the head and the gas of the first application
// simulated (decide.StartNodeWindow), so the first block of a backlog is as full
// as the node lets it be instead of paying a slow start.
//
// The window counts transactions: with batching a transaction carries up to
// perTx applications within the gas budget, so the seed shares two blocks
// of batches, not of applications (sixteen times too many transactions
// would be read, simulated and signed at one price in the first pass).
func (r *submitter) seedNodeWindow(gasPerApp uint64) {
	gasPerTx := gasPerApp
	if n := uint64(r.perTx()); n > 1 {
		gasPerTx = min(gasPerApp*n, r.batchBudget())
	}
	r.w.seedNode(decide.StartNodeWindow(r.blockGas, gasPerTx, uint64(r.cfg.MaxInFlight), uint64(r.cfg.Keys)), r.head)
}

// submitLoop reads entries and submits their transactions while the
// in-flight window has room. Every iteration is a heartbeat; an iteration
// never waits longer than REDIS_READ_BLOCK_TIMEOUT (or BALANCE_TOO_LOW_TIMEOUT
// or ERROR_TIMEOUT when backing off), so the monitor can tell a stalled loop
// from an idle one.
func (r *submitter) submitLoop(ctx context.Context) {
	for ctx.Err() == nil {
		r.beat(ctx)
		if !r.balanceGate(ctx) {
			continue
		}
		if !r.holdGate(ctx) {
			continue
		}
		free := r.waitForSlot(ctx)
		if free == 0 {
			continue
		}
		r.claimIdle(ctx, r.readCount(free))
		entries, fresh, err := r.next(ctx, r.readCount(free))
		if err != nil {
			// A read whose reply was lost may have delivered entries:
			// they wait in this consumer's pending list, which only a
			// scan from the start reads.
			r.rescanFromStart()
			r.backoff(ctx, err)
			continue
		}
		if len(entries) == 0 {
			continue
		}
		if fresh {
			for range entries {
				r.metrics.EntryReceived()
			}
		}
		r.w.setReading(len(entries))
		fees, err := r.fees(ctx)
		if err != nil {
			r.w.setReading(0)
			r.rescanFromStart() // the entries just read stay pending in our list
			r.backoff(ctx, err)
			continue
		}
		err = r.processBatch(ctx, entries, fees, free)
		r.w.setReading(0)
		if err != nil {
			r.rescanFromStart()
			r.backoff(ctx, err)
		}
	}
}

// maxReadBlock bounds one blocking read of new entries, whatever
// REDIS_READ_BLOCK_TIMEOUT says: go-redis does not abandon a blocked read
// when its context is cancelled, so this is how long a stop may wait for
// Redis. An idle relay then reads once per maxReadBlock per key, which
// costs Redis next to nothing.
const maxReadBlock = 2 * time.Second

// pendingPage is how many of its own pending entries the loop reads at once
// when it scans that list.
const pendingPage = 256

// rescanFromStart makes the next read start again at the beginning of this
// consumer's pending entries, where an entry left by an error now waits.
func (r *submitter) rescanFromStart() { r.w.rescanFromStart() }

func (r *submitter) beat(ctx context.Context) {
	now := r.clock.Now()
	r.heartbeat.Beat(now)
	r.metrics.LoopIteration(now)
	c, cancel := context.WithTimeout(ctx, r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.Beat(c, now); err != nil && ctx.Err() == nil {
		r.metrics.RedisError("beat")
		r.log.Warn().Err(err).Msg("write last-check failed")
	}
}

// backoff logs a transient failure and waits ERROR_TIMEOUT.
func (r *submitter) backoff(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	r.log.Warn().Err(err).Dur("retry_in", r.cfg.ErrorBackoff).Msg("transient error, backing off")
	r.sleep(ctx, r.cfg.ErrorBackoff)
}

// balanceGate refuses to submit while the wallet holds less than
// PROCESSOR_MIN_BALANCE; it then waits BALANCE_TOO_LOW_TIMEOUT. The balance is
// read at most once per poll interval.
func (r *submitter) balanceGate(ctx context.Context) bool {
	now := r.clock.Now()
	if r.balanceOK && now.Sub(r.balanceAt) < r.cfg.PollInterval {
		return true
	}
	bal, err := r.balance(ctx)
	if err != nil {
		r.backoff(ctx, err)
		return false
	}
	r.balanceAt, r.balanceOK = now, bal.Cmp(r.cfg.MinBalance) >= 0
	if !r.balanceOK {
		r.log.Error().Str("balance_wei", bal.String()).Str("min_balance_wei", r.cfg.MinBalance.String()).
			Str("wallet", r.signer.Address().Hex()).Dur("retry_in", r.cfg.BalanceTooLowWait).
			Msg("wallet balance below minimum, not submitting")
		r.sleep(ctx, r.cfg.BalanceTooLowWait)
	}
	return r.balanceOK
}

// balance reads the wallet's balance from the shared reader (Config.Balance)
// or, without one, from the node.
func (r *submitter) balance(ctx context.Context) (*big.Int, error) {
	if r.cfg.Balance != nil {
		bal, err := r.cfg.Balance(ctx)
		if err != nil {
			return nil, fmt.Errorf("wallet balance: %w", err)
		}
		return bal, nil
	}
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	bal, err := r.chain.BalanceAt(c, r.signer.Address(), nil)
	if err != nil {
		r.metrics.RPCError("balance")
		return nil, fmt.Errorf("read wallet balance: %w", err)
	}
	r.metrics.SetBalance(bal)
	return bal, nil
}

// waitForSlot returns how many more transactions the window takes, waiting up
// to REDIS_READ_BLOCK_TIMEOUT for a confirmation to free one. This is the
// back-pressure: a slow chain stops the reading, not the confirming. Two
// limits apply: MAX_IN_FLIGHT for everything not final, and the node window
// (what the node keeps for us, learnt by the tracker) for what is not mined
// yet, so a node that keeps 16 per sender gets 16 and not 512 it would drop.
func (r *submitter) waitForSlot(ctx context.Context) int {
	timeout := r.clock.After(r.cfg.ReadBlock)
	for {
		if free := r.w.free(r.cfg.MaxInFlight); free > 0 {
			return free
		}
		select {
		case <-ctx.Done():
			return 0
		case <-timeout:
			return 0
		case <-r.w.slotFreed:
		}
	}
}

// next returns up to n entries: first this consumer's own pending entries
// (left by a previous run, a transient error, or put back by the tracker),
// then new ones. fresh tells whether they were never delivered before.
// Pending entries waiting for another attempt after a failure of their own
// are passed over, and the scan goes on past them to the end of the list and
// then to new entries; the read of new entries blocks no longer than until
// the next such attempt is due, which starts a scan again.
func (r *submitter) next(ctx context.Context, n int) (entries []stream.Entry, fresh bool, err error) {
	for ctx.Err() == nil {
		now := r.clock.Now()
		cursor, due := r.w.pageDue(now)
		if !due {
			break
		}
		// Read past in-flight entries in large pages: with a full window most
		// of the pending list is in flight, and paging by the free slots
		// would cost one round trip per few entries.
		batch, err := r.queue.ReadOwnPending(ctx, cursor, max(n, pendingPage))
		entries = r.w.pageRead(batch, err == nil, n, now)
		if err != nil {
			r.metrics.RedisError("read_pending")
			return nil, false, err
		}
		if len(entries) > 0 {
			return entries, false, nil
		}
	}
	block := min(r.cfg.ReadBlock, maxReadBlock)
	if at, ok := r.w.nextAttempt(); ok {
		// At least a millisecond: BLOCK 0 would wait forever.
		block = min(block, max(at.Sub(r.clock.Now()), time.Millisecond))
	}
	entries, err = r.queue.ReadNew(ctx, n, block)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, nil
		}
		r.metrics.RedisError("read_new")
		return nil, false, err
	}
	if len(entries) == 0 {
		// Nothing new: scan this consumer's pending list again before the
		// next read. go-redis retries a read whose reply a cut connection
		// lost, and the retry finds nothing new: the entries the first
		// attempt delivered wait in the pending list, and no error says
		// so. An idle relay thus finds them within a read's block, at the
		// cost of one page of its own pending entries.
		r.rescanFromStart()
	}
	return entries, true, nil
}

// fees reads the latest base fee and the tip suggestion once per batch. A base
// fee above MAX_FEE_PER_GAS is a wait, not a failure: nothing is signed that
// could not be included.
func (r *submitter) fees(ctx context.Context) (chain.Fees, error) {
	c, cancel := r.rpcCtx(ctx)
	head, err := r.chain.HeaderByNumber(c, nil)
	cancel()
	if err != nil {
		r.metrics.RPCError("header")
		return chain.Fees{}, fmt.Errorf("read latest block: %w", err)
	}
	r.blockGas, r.head = head.GasLimit, head.Number.Uint64()
	r.metrics.SetBaseFee(head.BaseFee, r.cfg.Fees.MaxFee)
	fees, err := r.quote(ctx, head)
	r.w.setBaseFee(err)
	r.reportFeeCap()
	return fees, err
}

// quote prices a new transaction for the block after head: the fee policy
// applied to head's base fee and the tip (MAX_PRIORITY_FEE_PER_GAS, or the
// node's suggestion, which costs one call).
func (r *core) quote(ctx context.Context, head *types.Header) (chain.Fees, error) {
	var tip *big.Int
	if r.cfg.Fees.MaxTip == nil {
		c, cancel := r.rpcCtx(ctx)
		var err error
		tip, err = r.chain.SuggestGasTipCap(c)
		cancel()
		if err != nil {
			r.metrics.RPCError("tip")
			return chain.Fees{}, fmt.Errorf("read tip suggestion: %w", err)
		}
	}
	return r.cfg.Fees.Fees(head.BaseFee, tip)
}

// candidate is an application that passed validation and waits for its
// pre-flight simulation.
type candidate struct {
	entry  stream.Entry
	app    *carried
	fields map[string]string
	args   chain.ApplicationArgs
	call   chain.Call
	gas    uint64
	log    zerolog.Logger
}

// processBatch takes a read of entries as far as they can go now, with a
// fixed number of round trips for the whole batch: one pipelined read of the
// application hashes, one JSON-RPC batch of simulations, one pipeline
// journaling every signed transaction, one JSON-RPC batch of broadcasts.
// Per entry, the outcome is one of: submitted, dead-lettered, adopted,
// deferred behind a transaction with the same signature, failed for a reason
// of its own (it waits for another attempt, bounded by MaxEntryAttempts,
// while the rest go on: entryFailed), passed over for now because a look-up
// it needs failed (entryWaits), or left pending because the product is
// paused, which is then returned (after the rest of the batch was dealt
// with) so the loop backs off and reads its pending entries again. free is
// how many transactions the window takes now.
func (r *submitter) processBatch(ctx context.Context, entries []stream.Entry, fees chain.Fees, free int) error {
	defer r.forgetFailuresInFlight(entries)
	entries, err := r.rejectOverClaimed(ctx, entries)
	if err != nil {
		return err
	}
	var withID []stream.Entry
	for _, e := range entries {
		if e.EntityID != "" {
			withID = append(withID, e)
			continue
		}
		reason := fmt.Sprintf("stream entry has no %s field (fields: %v)", stream.FieldEntityID, keys(e.Fields))
		if e.Trimmed {
			reason = "stream entry was trimmed before it was processed (no fields)"
		}
		if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, Class: stream.ClassMalformed, Reason: reason}); err != nil {
			return err
		}
	}
	if len(withID) == 0 {
		return nil
	}
	ids := make([]string, len(withID))
	for i, e := range withID {
		ids[i] = e.EntityID
	}
	loaded, loadErrs, err := r.queue.LoadApplications(ctx, ids)
	if err != nil {
		r.metrics.RedisError("load")
		return err
	}

	var cands []*candidate
	inBatch := map[common.Hash]string{}
	dupInBatch := false
	for i, e := range withID {
		log := r.log.With().Str("entry", e.ID).Str("entityId", e.EntityID).Logger()
		if err := loadErrs[i]; err != nil {
			class := stream.ClassFailing
			if errors.Is(err, stream.ErrNotAHash) {
				class = stream.ClassMalformed
			}
			if err := r.entryFailed(ctx, e, class, err, nil, log); err != nil {
				return err
			}
			continue
		}
		fields := loaded[i]
		if fields == nil {
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, EntityID: e.EntityID, Class: stream.ClassMalformed,
				Reason: "application hash " + stream.ApplicationKey(e.EntityID) + " is missing"}); err != nil {
				return err
			}
			continue
		}
		app, err := stream.DecodeApplication(e.EntityID, fields)
		if err != nil {
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, EntityID: e.EntityID, Class: stream.ClassMalformed,
				Reason: err.Error(), Fields: fields}); err != nil {
				return err
			}
			continue
		}
		log = log.With().Str("signatureId", app.SignatureID).Logger()
		sigHash := crypto.Keccak256Hash(app.Signature)
		other, dup := r.w.inFlight(sigHash)
		if !dup {
			other, dup = inBatch[sigHash]
			dupInBatch = dupInBatch || dup
		}
		if dup {
			log.Info().Str("in_flight_entry", other).Msg("same signature already in flight, deferring")
			continue
		}
		carry := &carried{entryID: e.ID, entityID: e.EntityID, signature: app.Signature, sigHash: sigHash,
			enqueuedAt: stream.EntryTime(e.ID)}
		if app.TransactionHash != nil {
			adopted, err := r.adopt(ctx, carry, *app.TransactionHash, log)
			if err != nil {
				r.entryWaits(e, err, log)
				continue
			}
			if adopted {
				continue
			}
		}
		args := chain.ApplicationArgs{
			PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
			ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
			SignatureID: app.SignatureID32, Signature: app.Signature,
		}
		call, err := r.product.Apply(args)
		if err != nil {
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, EntityID: e.EntityID, Class: stream.ClassMalformed,
				Reason: err.Error(), Fields: fields}); err != nil {
				return err
			}
			continue
		}
		inBatch[sigHash] = e.ID
		cands = append(cands, &candidate{entry: e, app: carry, fields: fields, args: args, call: call, log: log})
	}
	if dupInBatch {
		// The first of the pair may yet be rejected; read the other again.
		r.rescanFromStart()
	}

	ready, transient, err := r.preflight(ctx, cands)
	if err != nil {
		return err
	}
	if err := r.submit(ctx, ready, fees, free); err != nil {
		return err
	}
	return transient
}

// preflight simulates every candidate in one batch before anything is
// signed, so a final revert costs no gas: those are dead-lettered. A
// SIGNATURE_USED is first looked up: if a transaction of ours applied the
// signature (its journal record and transactionHash were lost), the
// application is tracked under that transaction instead. It returns the
// candidates to submit and, when some stay pending because the product is
// paused, a transient error to back off on. One the node answers with an
// error that is not a revert waits alone for another attempt (entryFailed);
// one whose used signature cannot be looked up now waits alone too
// (entryWaits).
func (r *submitter) preflight(ctx context.Context, cands []*candidate) (ready []*candidate, transient, err error) {
	if len(cands) == 0 {
		return nil, nil, nil
	}
	msgs := make([]ethereum.CallMsg, len(cands))
	for i, cd := range cands {
		msgs[i] = cd.call.Msg(r.signer.Address())
	}
	c, cancel := r.rpcCtx(ctx)
	gas, errs, err := r.chain.EstimateGasBatch(c, msgs)
	cancel()
	if err != nil {
		r.metrics.RPCError("estimate")
		return nil, nil, fmt.Errorf("simulate %d applications: %w", len(cands), err)
	}
	var head uint64
	for i, cd := range cands {
		rev := chain.AsRevert(errs[i])
		switch simulationOutcome(errs[i], rev) {
		case simOK:
			cd.gas = gas[i] + gas[i]*r.cfg.GasMarginPercent/100
			r.seedNodeWindow(gas[i])
			ready = append(ready, cd)
		case simEntryFailed:
			r.metrics.RPCError("estimate")
			if err := r.entryFailed(ctx, cd.entry, stream.ClassFailing,
				fmt.Errorf("simulate: %w", errs[i]), cd.fields, cd.log); err != nil {
				return nil, nil, err
			}
		case simNodeTrouble:
			// Rate limited, a lagging backend, a timeout: no verdict on the
			// application, so no attempt is counted (an outage pauses the
			// work, it never rejects it).
			r.metrics.RPCError("estimate")
			r.entryWaits(cd.entry, fmt.Errorf("simulate: %w", errs[i]), cd.log)
		case simTransient:
			transient = fmt.Errorf("simulate entry %s: %w: %s", cd.entry.ID, errTransient, rev.Reason)
		case simSignatureUsed:
			if head == 0 {
				c, cancel := r.rpcCtx(ctx)
				h, err := r.chain.HeaderByNumber(c, nil)
				cancel()
				if err != nil {
					r.metrics.RPCError("header")
					return nil, nil, fmt.Errorf("read head for a used signature: %w", err)
				}
				head = h.Number.Uint64()
			}
			ours, foreign, err := r.appliedBy(ctx, cd.app.signature, head)
			if err != nil {
				r.entryWaits(cd.entry, err, cd.log)
				continue
			}
			if ours != nil {
				f := r.adopted(cd.app, *ours, cd.log)
				r.addFlights(f)
				f.log.Info().Msg("signature already applied by a transaction of ours, tracking its confirmations")
				continue
			}
			// Not ours, or not found: final only when a later block's search
			// agrees, since a logs backend behind the others answers short
			// without saying so (a Redis that lost the journal record of our
			// own, just mined, transaction lands here).
			if !r.w.sigUsed(cd.entry.ID, head) {
				r.entryWaits(cd.entry, errors.New("signature used, by no transaction of ours found yet: looking again in a later block"), cd.log)
				continue
			}
			reason := rev.Reason
			if foreign != nil {
				reason += " (applied by transaction " + foreign.Hex() + ", not ours)"
			}
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: cd.entry.ID, EntityID: cd.entry.EntityID,
				Class: rev.Class.String(), Reason: reason, Fields: cd.fields}); err != nil {
				return nil, nil, err
			}
		case simFinal:
			if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: cd.entry.ID, EntityID: cd.entry.EntityID,
				Class: rev.Class.String(), Reason: rev.Reason, Fields: cd.fields}); err != nil {
				return nil, nil, err
			}
		}
	}
	return ready, transient, nil
}

// simOutcome is what a candidate's simulation means for it.
type simOutcome int

const (
	simOK            simOutcome = iota // passes: sign it
	simEntryFailed                     // the node answered this call with an error that is not a revert
	simNodeTrouble                     // the node could not answer (rate limit, lagging backend, timeout)
	simTransient                       // a revert that can pass (the product paused): all wait
	simSignatureUsed                   // already applied: ours (success) or someone else's
	simFinal                           // a revert that can never pass: dead-letter
)

// simulationOutcome classifies the node's answer to one simulation; rev is
// chain.AsRevert(err). An error that is not a revert came inside a batch the
// node did answer, so it is about this call ("gas required exceeds
// allowance", a revert in a format the classifier does not know): it counts
// against the entry (entryFailed) and does not stop the others. A revert
// that can pass concerns every application (the product is paused), so the
// whole loop waits on it instead.
func simulationOutcome(err error, rev *chain.RevertError) simOutcome {
	switch {
	case err == nil:
		return simOK
	case rev == nil && chain.IsNodeTrouble(err):
		return simNodeTrouble
	case rev == nil:
		return simEntryFailed
	case !rev.Class.Final():
		return simTransient
	case rev.Class == chain.RevertSignatureUsed:
		return simSignatureUsed
	default:
		return simFinal
	}
}

// entryFailed records a failed attempt at one entry, for a reason of its own
// (its application key is not a hash, the node answers its simulation with
// an error that is not a revert). The entry waits ERROR_TIMEOUT for its next
// attempt while the scan moves past it, so other entries and new ones go on;
// its MaxEntryAttempts-th failure dead-letters it with class (malformed for
// a key that is not a hash, failing otherwise) and the last error. It
// returns only a failure to write that dead letter, for the loop to back off.
func (r *submitter) entryFailed(ctx context.Context, e stream.Entry, class string, cause error, fields map[string]string, log zerolog.Logger) error {
	n, giveUp := r.w.fail(e.ID, r.clock.Now(), r.attempts())
	if !giveUp {
		log.Warn().Err(cause).Int("attempt", n).Int("max_attempts", r.cfg.MaxEntryAttempts).
			Dur("retry_in", r.cfg.ErrorBackoff).Msg("entry failed, passing over it until its next attempt")
		return nil
	}
	return r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, EntityID: e.EntityID, Class: class,
		Reason: fmt.Sprintf("failed %d attempts, last: %v", n, cause), Fields: fields})
}

// entryWaits passes over an entry for ERROR_TIMEOUT because a look-up only
// it needs failed on the node (the receipt of its recorded transaction, the
// search for the use of its signature), so that the others go on. No attempt
// is counted: the failure says nothing about the entry, and a node that
// cannot answer it for long must not get valid applications dead-lettered.
// Such an entry may wait indefinitely; the monitor then reports its age.
func (r *submitter) entryWaits(e stream.Entry, cause error, log zerolog.Logger) {
	r.w.wait(e.ID, r.clock.Now().Add(r.cfg.ErrorBackoff))
	log.Warn().Err(cause).Dur("retry_in", r.cfg.ErrorBackoff).Msg("look-up for entry failed, passing over it for now")
}

func (r *submitter) attempts() attempts {
	return attempts{Max: r.cfg.MaxEntryAttempts, Delay: r.cfg.ErrorBackoff}
}

// forgetFailuresInFlight drops the failure counts of a batch's entries that
// went through: submitted or adopted, they are the tracker's now.
func (r *submitter) forgetFailuresInFlight(entries []stream.Entry) { r.w.forgetInFlight(entries) }

// submit signs the ready candidates with consecutive nonces, journals them
// all, and only then broadcasts them. With batching, the candidates go into
// as few transactions as the limits allow (plan); at most free
// transactions are signed, and candidates beyond them stay pending for the
// next read.
func (r *submitter) submit(ctx context.Context, ready []*candidate, fees chain.Fees, free int) error {
	ready, err := r.claimOwners(ctx, ready)
	if err != nil || len(ready) == 0 {
		return err
	}
	plans, left := r.plan(ready, free)
	if left > 0 {
		r.rescanFromStart()
	}
	first := r.w.firstNonce()
	flights := make([]*flight, len(plans))
	recs := make([]stream.TxRecord, len(plans))
	txs, err := r.signAll(plans, first, fees)
	if err != nil {
		return err
	}
	for i, pl := range plans {
		nonce, tx := first+uint64(i), txs[i]
		raw, err := tx.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode transaction: %w", err)
		}
		recs[i] = stream.TxRecord{Nonce: nonce, Hashes: []string{tx.Hash().Hex()}, RawTx: hexutil.Encode(raw),
			SignedAt: r.clock.Now().UTC()}
		apps := make([]*carried, len(pl.cds))
		for j, cd := range pl.cds {
			apps[j] = cd.app
		}
		base := pl.cds[0].log
		if len(pl.cds) == 1 {
			recs[i].EntryID, recs[i].EntityID, recs[i].EnqueuedAt = pl.cds[0].entry.ID, pl.cds[0].entry.EntityID, pl.cds[0].app.enqueuedAt
		} else {
			recs[i].Kind = stream.KindBatch
			for _, cd := range pl.cds {
				recs[i].Batch = append(recs[i].Batch, stream.RecordApp{EntryID: cd.entry.ID, EntityID: cd.entry.EntityID,
					EnqueuedAt: cd.app.enqueuedAt})
			}
			base = r.log.With().Str("kind", stream.KindBatch).Int("applications", len(pl.cds)).Str("entry", pl.cds[0].entry.ID).Logger()
		}
		// LastSent is set now, before the flight is visible to the tracker:
		// a pass between publishing and broadcasting must not take it for
		// dropped and send it a second time.
		flights[i] = &flight{rec: recs[i], st: decide.State{Nonce: nonce, Signed: true, LastSent: r.clock.Now()},
			apps: apps, baseLog: base}
		flights[i].setTx(tx)
	}

	// From here on, shutdown must not cut between journal and broadcast: the
	// pair runs to a safe point on a context that ignores cancellation.
	safe, cancelSafe := context.WithTimeout(context.WithoutCancel(ctx), 2*r.cfg.RPCTimeout)
	defer cancelSafe()
	if err := r.forgetUnjournaled(safe); err != nil {
		return err
	}
	if err := r.queue.Record(safe, recs...); err != nil {
		// Not journaled means not broadcast: the nonces are reused next
		// time. The write may still have landed (a lost reply): those
		// records must go before anything else is journaled, or a restart
		// would broadcast a transaction nobody tracks, possibly a second
		// one for an application.
		r.metrics.RedisError("journal")
		for _, rec := range recs {
			r.unjournaled = append(r.unjournaled, rec.Nonce)
		}
		_ = r.forgetUnjournaled(safe)
		return err
	}
	r.addFlights(flights...)
	r.w.raiseNonce(first + uint64(len(flights)))
	r.broadcast(safe, flights...)
	now := r.clock.Now()
	for _, f := range flights {
		for _, a := range f.apps {
			r.metrics.Submitted(a.enqueuedAt, now)
		}
	}
	return nil
}

// txPlan is one transaction to sign: the candidates it carries, in order,
// and its call and gas limit.
type txPlan struct {
	cds  []*candidate
	call chain.Call
	gas  uint64
}

// perTx is how many applications one transaction may carry: the batch's
// most with batching, else one. The submitting loop reads that many
// entries per free slot of the window.
func (r *core) perTx() int {
	if b := r.cfg.Batch; b != nil && b.MaxApplications > 1 {
		return b.MaxApplications
	}
	return 1
}

// readCount is how many entries a pass reads for free transactions: perTx
// each, at most MAX_IN_FLIGHT (or one batch) per pass, so a wide window
// never makes one pass load and simulate thousands of applications in one
// call the node must answer within RPC_TIMEOUT.
func (r *core) readCount(free int) int {
	return min(free*r.perTx(), max(r.cfg.MaxInFlight, r.perTx()))
}

// batchBudget is the most gas one batch transaction may have: the smaller
// of BATCH_GAS_BUDGET and half the head's block gas limit.
func (r *submitter) batchBudget() uint64 {
	budget := r.cfg.Batch.GasBudget
	if r.blockGas > 0 {
		budget = min(budget, r.blockGas/2)
	}
	return budget
}

// plan forms the transactions of a pass (issue 22): without batching one
// per candidate, as they come; with it, batch.Plan packs the candidates in
// order into batches of at most Batching.MaxApplications whose gas limit
// stays within the budget (the smaller of Batching.GasBudget and half the
// head's block gas limit). A batch of one is the application's own product
// call, as without batching: nothing waits to fill a batch, and a lone
// application costs what it always did. At most free transactions are
// planned; left is how many candidates did not fit.
func (r *submitter) plan(ready []*candidate, free int) (plans []txPlan, left int) {
	var groups [][]int
	b := r.cfg.Batch
	if r.perTx() > 1 {
		limits := make([]uint64, len(ready))
		for i, cd := range ready {
			limits[i] = cd.gas
		}
		groups = batch.Plan(limits, b.MaxApplications, r.batchBudget())
	} else {
		for i := range ready {
			groups = append(groups, []int{i})
		}
	}
	for _, g := range groups {
		if len(plans) == free {
			left += len(g)
			continue
		}
		if len(g) == 1 {
			cd := ready[g[0]]
			plans = append(plans, txPlan{cds: []*candidate{cd}, call: cd.call, gas: cd.gas})
			continue
		}
		cds := make([]*candidate, len(g))
		args := make([]chain.ApplicationArgs, len(g))
		limits := make([]uint64, len(g))
		for j, i := range g {
			cds[j], args[j], limits[j] = ready[i], ready[i].args, ready[i].gas
		}
		call := batch.Call(b.Contract, args, limits)
		plans = append(plans, txPlan{cds: cds, call: call, gas: batch.GasFor(limits, len(call.Data))})
	}
	return plans, left
}

// signConcurrency bounds the signatures of one batch made at once: a KMS
// signature takes tens of milliseconds, so a batch of a few hundred signed
// one after the other would miss blocks; the Signer is safe for concurrent
// use, and a remote signer is not flooded.
const signConcurrency = 8

// signAll signs the planned transactions at consecutive nonces from first,
// signConcurrency at a time; the transactions come back in the plans'
// order. The first error fails the pass (nothing is journaled yet).
func (r *submitter) signAll(plans []txPlan, first uint64, fees chain.Fees) ([]*types.Transaction, error) {
	txs := make([]*types.Transaction, len(plans))
	var g errgroup.Group
	g.SetLimit(signConcurrency)
	for i, pl := range plans {
		g.Go(func() error {
			tx, err := r.signer.Sign(pl.call, first+uint64(i), pl.gas, fees)
			txs[i] = tx
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return txs, nil
}

// forgetUnjournaled removes journal records a failed write may have left
// for transactions that were never broadcast.
func (r *submitter) forgetUnjournaled(ctx context.Context) error {
	if len(r.unjournaled) == 0 {
		return nil
	}
	if err := r.queue.Forget(ctx, r.unjournaled...); err != nil {
		r.metrics.RedisError("forget")
		return fmt.Errorf("remove records of a failed journal write: %w", err)
	}
	r.unjournaled = nil
	return nil
}

// deadLetter records a final rejection, then acks and purges.
func (r *core) deadLetter(ctx context.Context, d stream.DeadLetter) error {
	d.At = r.clock.Now()
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RPCTimeout)
	defer cancel()
	if err := r.queue.DeadLetter(c, d); err != nil {
		r.metrics.RedisError("dead_letter")
		return err
	}
	r.w.forget(d.EntryID)
	r.metrics.DeadLettered(d.Class)
	r.log.Warn().Str("entry", d.EntryID).Str("entityId", d.EntityID).Str("class", d.Class).
		Str("reason", d.Reason).Str("tx", d.TxHash).Msg("application rejected, dead-lettered")
	return nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	return out
}
