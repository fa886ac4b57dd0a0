package relay

import (
	"errors"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// window is what the submitting loop and the tracker share, and the one
// place that holds the lock over it (TestLockOnlyInWindow): the flights and
// their signatures, the next nonce, the node window, the hold on unknown
// transactions, the pending scan with the per-entry memory, and the figures
// the monitor reads. Every method takes the lock for one short step and
// makes no Redis or RPC call under it; the fields of each flight (st, rec,
// tx, next, log) are read and written only here or by the goroutine that
// owns the step (the tracker, or the submitting loop for a flight it has
// not published yet).
type window struct {
	mu      sync.Mutex
	flights map[string]*flight // by flight.key: first stream entry id, or nonce of a gap fill
	// carrying is every stream entry a flight carries (a batch carries
	// several), and sigs their signatures.
	carrying  map[string]*flight
	sigs      map[common.Hash]string
	nextNonce uint64
	scan      pendingScan
	node      decide.NodeWindow
	// narrowed: the node window narrowed once (logNarrowing).
	narrowed bool
	// hold: the node's pool holds transactions of this wallet that the
	// journal does not know; nothing new is signed meanwhile (holdGate).
	// holdCheck asks the submitting loop to look once, after recover.
	hold      decide.Hold
	holdCheck bool
	// baseFeeAboveCap and flightsAtCap feed the "waiting at fee cap" gauge.
	baseFeeAboveCap bool
	flightsAtCap    int
	// reading is the size of the batch the submitting loop has read and
	// is submitting (see Relay.Entries).
	reading int
	// slotFreed is not guarded: the tracker signals on it when a slot may
	// have opened, and waitForSlot listens.
	slotFreed chan struct{}
}

func newWindow(maxInFlight uint64) *window {
	return &window{
		flights:   make(map[string]*flight),
		carrying:  make(map[string]*flight),
		sigs:      make(map[common.Hash]string),
		scan:      newPendingScan(),
		node:      decide.NodeWindow{Limit: min(maxInFlight, decide.InitialNodeWindow), Max: maxInFlight},
		slotFreed: make(chan struct{}, 1),
	}
}

// --- the flights ------------------------------------------------------------

// reset empties the window for recover: next is the node's pending nonce,
// and the submitting loop checks the pool once before signing.
func (w *window) reset(next uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flights = make(map[string]*flight)
	w.carrying = make(map[string]*flight)
	w.sigs = make(map[common.Hash]string)
	w.nextNonce = next
	w.holdCheck = true
}

// resume puts a journaled flight back and keeps the next nonce past it; it
// returns the next nonce.
func (w *window) resume(f *flight) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.putLocked(f)
	w.nextNonce = max(w.nextNonce, f.rec.Nonce+1)
	return w.nextNonce
}

func (w *window) putLocked(f *flight) {
	w.flights[f.key()] = f
	for _, a := range f.apps {
		w.carrying[a.entryID] = f
		w.sigs[a.sigHash] = a.entryID
	}
}

// add puts flights into the window (and their applications' signatures
// into the in-flight set) and returns the new size: the one way in, as
// release is the one way out.
func (w *window) add(fs ...*flight) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range fs {
		w.putLocked(f)
	}
	return len(w.flights)
}

// release removes a flight and returns the new size; rescan asks the
// submitting loop to read its own pending entries again (the application
// goes back to the queue).
func (w *window) release(f *flight, rescan bool) int {
	return w.releaseSome(f, func(string) bool { return rescan })
}

// releaseSome removes a flight whose applications went different ways:
// requeued(entry) tells those back in the queue (a batch's, settleBatch);
// the others were settled, and a page being read must not hand them out.
func (w *window) releaseSome(f *flight, requeued func(entryID string) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flights[f.key()] == f {
		delete(w.flights, f.key())
	}
	for _, a := range f.apps {
		if w.carrying[a.entryID] == f {
			delete(w.carrying, a.entryID)
		}
		if w.sigs[a.sigHash] == a.entryID {
			delete(w.sigs, a.sigHash)
		}
		w.scan.released(a.entryID, requeued(a.entryID))
	}
	return len(w.flights)
}

// swap replaces f, a flight of one application, by a in one step, so the
// application is never out of the window.
func (w *window) swap(f, a *flight) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flights[f.key()] == f {
		w.flights[f.key()] = a
		for _, c := range a.apps {
			w.carrying[c.entryID] = a
			w.sigs[c.sigHash] = c.entryID
		}
	}
}

// size is the number of flights: transactions submitted and not final.
func (w *window) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.flights)
}

// all returns the flights, and whether any is signed (else only adopted
// ones wait, and the wallet's nonces need no reading).
func (w *window) all() (fs []*flight, signed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fs = make([]*flight, 0, len(w.flights))
	for _, f := range w.flights {
		fs = append(fs, f)
		signed = signed || f.st.Signed
	}
	return fs, signed
}

// entryIDs are the stream entries of the flights that carry one.
func (w *window) entryIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.carrying))
	for id := range w.carrying {
		ids = append(ids, id)
	}
	return ids
}

// signedNonces are the nonces of the signed flights, and the highest.
func (w *window) signedNonces() (have map[uint64]bool, highest uint64, any bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	have = make(map[uint64]bool, len(w.flights))
	for _, f := range w.flights {
		if f.st.Signed {
			have[f.rec.Nonce] = true
			highest, any = max(highest, f.rec.Nonce), true
		}
	}
	return have, highest, any
}

// entries is Relay.Entries.
func (w *window) entries() (reading, sent int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reading, len(w.carrying)
}

func (w *window) setReading(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reading = n
}

// --- decisions on flights -----------------------------------------------------

// state is a copy of f's state.
func (w *window) state(f *flight) decide.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.st
}

// step asks decide about f with o and keeps the state it returns; it
// returns the action and the state before.
func (w *window) step(p decide.Policy, f *flight, o decide.Observation) (decide.Action, decide.State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := f.st
	act, st := decide.Decide(p, f.st, o)
	f.st = st
	return act, before
}

// stepAll decides every flight of a pass with its observation; it returns
// the actions, in the order of fs, and whether a flight got mined.
// A flight keeps the receipt its state was decided on while it stays mined
// (decide.LookKept).
func (w *window) stepAll(p decide.Policy, fs []*flight, obs map[*flight]decide.Observation, rcpts map[*flight]*types.Receipt) (acts []decide.Action, minedNow bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	acts = make([]decide.Action, len(fs))
	for i, f := range fs {
		o := obs[f]
		if o.Receipt != nil && (f.st.MinedIn != o.Receipt.Block || f.st.MinedHash != o.Receipt.BlockHash) {
			f.log.Debug().Uint64("block", o.Receipt.Block).Bool("success", o.Receipt.Success).Msg("transaction mined")
		}
		act, st := decide.Decide(p, f.st, o)
		minedNow = minedNow || (f.st.MinedIn == 0 && st.MinedIn != 0)
		if act == decide.Resend && f.st.MinedIn != 0 {
			f.log.Warn().Uint64("block", f.st.MinedIn).Msg("receipt vanished in a reorg, re-broadcasting")
		}
		f.st, acts[i] = st, act
		switch {
		case st.MinedIn == 0:
			f.receipt = nil
		case o.Receipt != nil:
			f.receipt = rcpts[f]
		}
		if act != decide.Wait && act != decide.Confirm {
			f.log.Debug().Stringer("action", act).Uint64("mined_nonce", o.Mined).Uint64("pending_nonce", o.Pending).Msg("tracker decision")
		}
	}
	return acts, minedNow
}

// toLookUp are the flights whose receipts are looked at on this pass
// (decide.ReceiptLook), the hashes to read from the node, and the receipts
// kept from when they were mined for those judged on them. canonical holds
// the canonical hash of every block under a mined flight (minedBlocks): a
// flight's block moved when it differs from the hash its receipt named.
func (w *window) toLookUp(p decide.Policy, fs []*flight, head, mined uint64, canonical map[uint64]common.Hash) (looked map[*flight]bool, hashes []common.Hash, kept map[*flight]*types.Receipt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	looked, kept = make(map[*flight]bool), make(map[*flight]*types.Receipt)
	for _, f := range fs {
		moved := f.st.MinedIn != 0 && canonical[f.st.MinedIn] != f.st.MinedHash
		switch decide.ReceiptLook(p, f.st, head, mined, moved) {
		case decide.LookKept:
			if f.receipt != nil {
				looked[f], kept[f] = true, f.receipt
				continue
			}
			// None kept (cannot happen: a mined flight keeps its receipt);
			// read it.
			fallthrough
		case decide.LookRead:
			looked[f] = true
			hashes = append(hashes, f.hashes()...)
		}
	}
	return looked, hashes, kept
}

// minedBlocks are the numbers of the blocks under already-mined flights.
func (w *window) minedBlocks(fs []*flight) []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[uint64]bool{}
	var numbers []uint64
	for _, f := range fs {
		if n := f.st.MinedIn; n != 0 && !seen[n] {
			seen[n] = true
			numbers = append(numbers, n)
		}
	}
	return numbers
}

// accepted is the fees of the transaction the node accepted for f.
func (w *window) accepted(f *flight) (chain.Fees, *types.Transaction) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return chain.Fees{FeeCap: f.tx.GasFeeCap(), TipCap: f.tx.GasTipCap()}, f.tx
}

// record is a copy of f's journal record.
func (w *window) record(f *flight) stream.TxRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.rec
}

// setReplacement makes tx, journaled as rec, f's replacement being tried.
func (w *window) setReplacement(f *flight, rec stream.TxRecord, tx *types.Transaction) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f.rec, f.next = rec, tx
}

// sending returns what a broadcast of fs sends, their loggers, and how many
// are plain re-sends; the flights count as sent.
func (w *window) sending(fs []*flight) ([]*types.Transaction, []zerolog.Logger, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	txs := make([]*types.Transaction, len(fs))
	logs := make([]zerolog.Logger, len(fs))
	resent := 0
	for i, f := range fs {
		txs[i], logs[i] = f.sending(), f.log
		if f.sent && f.next == nil {
			resent++
		}
		f.sent = true
	}
	return txs, logs, resent
}

// sentAt notes when fs were last broadcast.
func (w *window) sentAt(fs []*flight, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range fs {
		f.st.LastSent = now
	}
}

// answered settles the replacements a broadcast carried (decide on
// decide.OnAnswered) and returns the records to write and how many were refused.
func (w *window) answered(p decide.Policy, fs []*flight, sent []*types.Transaction, actions []chain.SendAction) (recs []stream.TxRecord, refused int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range fs {
		if f.next == nil || sent[i] != f.next {
			continue
		}
		taken := actions[i] == chain.SendOK || actions[i] == chain.SendUnknown
		var act decide.Action
		act, f.st = decide.Decide(p, f.st, decide.Observation{Event: decide.OnAnswered, Accepted: taken})
		switch act {
		case decide.Take:
			old := f.tx.Hash().Hex()
			f.setTx(f.next)
			f.rec.RawTx = f.rec.NextRawTx
			f.log.Info().Str("replaces", old).Msg("replacement accepted")
		default:
			refused++
			f.log.Warn().Str("refused_tx", f.next.Hash().Hex()).Msg("node refused the replacement, keeping the transaction it holds")
		}
		f.next = nil
		f.rec.NextRawTx, f.rec.Current = "", f.tx.Hash().Hex()
		recs = append(recs, f.rec)
	}
	return recs, refused
}

// countAtCap counts the flights waiting at MAX_FEE_PER_GAS.
func (w *window) countAtCap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, f := range w.flights {
		if f.st.Phase == decide.PhaseAtCap {
			n++
		}
	}
	w.flightsAtCap = n
}

// setBaseFee notes whether the base fee is above MAX_FEE_PER_GAS (err from
// FeePolicy.Fees).
func (w *window) setBaseFee(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.baseFeeAboveCap = errors.Is(err, chain.ErrBaseFeeAboveCap)
}

// atFeeCap is Relay.WaitingAtFeeCap.
func (w *window) atFeeCap() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.baseFeeAboveCap || w.flightsAtCap > 0
}

// --- nonces and the node window ----------------------------------------------

// takeNonces returns the first of n consecutive nonces to sign.
func (w *window) firstNonce() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nextNonce
}

// raiseNonce keeps the next nonce at least next.
func (w *window) raiseNonce(next uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextNonce = max(w.nextNonce, next)
}

// free is how many more transactions the window takes: MAX_IN_FLIGHT for
// everything not final, the node window for what is not mined yet. When
// the node window alone holds work back it is noted (decide.NodeWindow.Bound).
func (w *window) free(maxInFlight int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	unmined := 0
	for _, f := range w.flights {
		if f.st.Signed && f.st.MinedIn == 0 {
			unmined++
		}
	}
	room := maxInFlight - len(w.flights)
	free := min(room, int(w.node.Limit)-unmined)
	if room > 0 && free <= 0 {
		w.node.Bound = true
	}
	return free
}

// wake tells the submitting loop that the window may have room.
func (w *window) wake() {
	select {
	case w.slotFreed <- struct{}{}:
	default:
	}
}

// seedNode applies the start of the node window once (decide.NodeWindow.Seed).
func (w *window) seedNode(start, head uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.node = w.node.Seed(start, head)
}

func (w *window) nodeLimit() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.node.Limit
}

// observeNode learns from a pass's nonces how many of our transactions the
// node holds and updates the node window (decide.NextNodeLimit); it returns what
// the node held, the new limit, and whether it narrowed. resentBefore is
// when a send must have happened for the node to show it.
func (w *window) observeNode(fs []*flight, head, mined, pending uint64, sentBefore time.Time, log zerolog.Logger) (held, limit uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent := make(map[uint64]time.Time)
	for _, f := range fs {
		if f.st.Signed && f.st.MinedIn == 0 && f.rec.Nonce >= mined && !f.st.LastSent.IsZero() {
			sent[f.rec.Nonce] = f.st.LastSent
		}
	}
	if pending > mined {
		held = pending - mined
	}
	before := w.node.Limit
	expected := decide.ExpectedHeld(sent, mined, w.node.Limit, sentBefore)
	w.node = decide.NextNodeLimit(w.node, head, mined, held, expected)
	if w.node.Limit < before {
		w.logNarrowing(log.With().Uint64("node_held", held).Uint64("expected", expected).Logger())
	}
	return held, w.node.Limit
}

// noteRefusals feeds the node window with the lowest nonce the node refused
// for a full pool (decide.NodeWindow.RefusedAt); a refused replacement says
// nothing about the window. Each flight remembers whether this send of its
// accepted bytes was so refused (decide.State.Refused): the node holds
// nothing of them, so they go out again as soon as the window lets them,
// without waiting ResendAfter.
func (w *window) noteRefusals(fs []*flight, sent []*types.Transaction, actions []chain.SendAction) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range fs {
		f.st.Refused = actions[i] == chain.SendPoolFull && sent[i] != f.next
	}
	for i, f := range fs {
		if actions[i] == chain.SendPoolFull && sent[i] != f.next {
			before := w.node.Limit
			w.node = w.node.RefusedAt(f.rec.Nonce)
			if w.node.Limit < before {
				w.logNarrowing(f.log.With().Str("refused", "pool full").Logger())
			}
			return // the lowest refused nonce: flights come in nonce order
		}
	}
}

// logNarrowing says that the node window narrowed: a warning the first time
// (the operator learns that the node keeps fewer than MAX_IN_FLIGHT, which
// the monitor then shows as nodeWindow), a debug line for every later
// narrowing after a probe. Called with w.mu held.
func (w *window) logNarrowing(log zerolog.Logger) {
	ev := log.Debug()
	if !w.narrowed {
		w.narrowed = true
		ev = log.Warn()
	}
	ev.Uint64("window", w.node.Limit).Uint64("max_in_flight", w.node.Max).
		Msg("node keeps fewer of our transactions than sent, narrowing the window")
}

// nodeWindowNow is Relay.NodeWindow.
func (w *window) nodeWindowNow() (held, limit uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.node.Observed, w.node.Limit
}

// --- the hold -----------------------------------------------------------------

// holdDue reports whether the submitting loop must check the pool.
func (w *window) holdDue() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.holdCheck || w.hold.Holding()
}

// checkHold applies one check of the wallet's nonces to the hold (decide.NextHold)
// and moves the next nonce when the hold ends; it returns the hold before
// and after, what changed, and the next nonce.
func (w *window) checkHold(mined, pending, head uint64) (before, after decide.Hold, ev decide.HoldEvent, next uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	have := make(map[uint64]bool, len(w.flights))
	highest, any := uint64(0), false
	for _, f := range w.flights {
		if f.st.Signed {
			have[f.rec.Nonce] = true
			highest, any = max(highest, f.rec.Nonce), true
		}
	}
	before = w.hold
	w.node = w.node.FirstNonces(mined)
	w.hold, ev = decide.NextHold(w.hold, decide.UnknownNonces(have, mined, pending), mined, head)
	w.holdCheck = false
	switch ev {
	case decide.HoldMined:
		w.nextNonce = max(w.nextNonce, mined)
	case decide.HoldDropped:
		// The nonces the pool let go are free again: continue from the
		// node's pending nonce instead of leaving a gap to be filled.
		n := max(mined, pending)
		if any {
			n = max(n, highest+1)
		}
		w.nextNonce = n
	}
	return before, w.hold, ev, w.nextNonce
}

// holding is Relay.HeldByUnknown.
func (w *window) holding() (n uint64, holding bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hold.Unknown, w.hold.Holding()
}

// --- the pending scan and the per-entry memory --------------------------------

// rescanFromStart makes the next read start again at the beginning of this
// consumer's pending entries, where an entry left by an error now waits.
func (w *window) rescanFromStart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan.restart()
}

// pageDue reports whether the next read is a page of the pending list and
// from which cursor; if so the page counts as under way (beginPage).
func (w *window) pageDue(now time.Time) (cursor string, due bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	due, cursor = w.scan.due(now), w.scan.cursor
	if due {
		w.scan.beginPage()
	}
	return cursor, due
}

// pageRead ends a page read and returns up to n of its entries to process
// now: not in flight, not settled while the page was read, not waiting for
// another attempt. Filtering under the lock that release takes means an
// entry settled at any moment since the read began is either busy or
// settled here. A failed read (ok false) only ends the page.
func (w *window) pageRead(batch []stream.Entry, ok bool, n int, now time.Time) []stream.Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan.endPage(ok && len(batch) == 0)
	if !ok {
		return nil
	}
	var out []stream.Entry
	for _, e := range batch {
		if len(out) == n {
			break // the rest is read again from the cursor next time
		}
		w.scan.cursor = e.ID
		if _, busy := w.carrying[e.ID]; busy {
			continue
		}
		if w.scan.take(e.ID, now) {
			out = append(out, e)
		}
	}
	return out
}

// nextAttempt is the earliest time a failed entry may be tried again.
func (w *window) nextAttempt() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.scan.nextAttempt()
}

// fail records a failed attempt at an entry (pendingScan.fail).
func (w *window) fail(entryID string, now time.Time, p attempts) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.scan.fail(entryID, now, p)
}

// wait passes over an entry until due (pendingScan.wait).
func (w *window) wait(entryID string, due time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan.wait(entryID, due)
}

// forget drops everything remembered of an entry: settled.
func (w *window) forget(entryID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan.forget(entryID)
}

// forgetInFlight drops what is remembered of the entries that went through
// (submitted or adopted: the tracker's now).
func (w *window) forgetInFlight(entries []stream.Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range entries {
		if _, ok := w.carrying[e.ID]; ok {
			w.scan.forget(e.ID)
		}
	}
}

// inFlight reports whether a flight carries the signature, and whose entry
// it is; if so the entry counts as deferred (a scan follows its release).
func (w *window) inFlight(sigHash common.Hash) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	other, dup := w.sigs[sigHash]
	if dup {
		w.scan.deferEntry()
	}
	return other, dup
}

// sigUsed notes that an entry's simulation said SIGNATURE_USED, applied by
// no transaction of ours found, at head, and reports whether that has held
// in two different blocks.
func (w *window) sigUsed(entryID string, head uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.scan.memory(entryID)
	m.sigUsed = m.sigUsed.Note(head)
	return m.sigUsed.TwoBlocks(head, 0)
}

// overClaimed remembers an entry claimed more than MAX_ENTRY_CLAIMS times,
// to dead-letter when read.
func (w *window) overClaimed(entryID string, claims int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan.memory(entryID).claims = claims
}

// claims is how often an entry was claimed, if it was too often.
func (w *window) claims(entryID string) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.scan.entries[entryID]
	if m == nil || m.claims == 0 {
		return 0, false
	}
	return m.claims, true
}
