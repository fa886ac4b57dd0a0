package relay

import (
	"time"

	"github.com/etherisc/depeg-relay/relay/decide"
)

// pendingScan owns the protocol by which the submitting loop reads its own
// pending entries (delivered to this consumer, not acknowledged) before new
// ones: at start (a previous run's entries), after a transient error (the
// entries it left), and when the tracker puts an application back in the
// queue or frees a signature a deferred entry waits for.
//
// It is also the relay's one memory per entry (entryMemory): failed
// attempts, a used signature found not ours, too many claims.
//
// The submitting loop drives it (start, page, finish); the tracker calls
// released. It lives in the window, whose lock guards every call, since
// the two sides run in different goroutines.
type pendingScan struct {
	// active: the loop is paging through its pending list from cursor.
	active bool
	cursor string
	// requested: the tracker asked for a scan from the start; taken up at
	// the next read.
	requested bool
	// deferred: an entry waits for a flight with the same signature, so the
	// release of any application may let it go.
	deferred bool
	// reading: a page is being read. settled then collects the entries the
	// tracker acknowledged meanwhile: the page may still return them, and
	// they must not be processed again (their hash is gone, they would be
	// dead-lettered as missing).
	reading bool
	settled map[string]struct{}
	// entries remembers, per stream entry, what the relay learnt of it
	// while it was not in flight: the entries whose last attempt failed for
	// a reason of their own (see attempts), or that wait for a look-up the
	// node could not answer (an entry waiting for its next attempt is
	// passed over, so one that fails every time never holds up the entries
	// after it, nor the reading of new ones); a used signature found not
	// ours; claims over MAX_ENTRY_CLAIMS. An entry that goes in flight or
	// is settled is forgotten, and so is one a whole scan no longer finds.
	entries map[string]*entryMemory
}

// entryMemory is the relay's memory of one entry.
type entryMemory struct {
	count int // failed attempts so far (a wait counts none)
	// due: not tried again before it. Zero once the scan has handed the
	// entry out again, so an entry that is then deferred or left by an
	// error of the whole batch does not keep asking for rescans.
	due time.Time
	// seen: found by the scan under way. A scan from the start that ends
	// without finding an entry proves it is no longer pending (settled,
	// claimed by another consumer, lost with its group): it is forgotten.
	seen bool
	// sigUsed: its simulation said SIGNATURE_USED and the search found no
	// transaction of ours: final once it holds in two blocks.
	sigUsed decide.Sighting
	// claims: claimed this often, more than MAX_ENTRY_CLAIMS: dead-lettered
	// when read.
	claims int64
}

// memory returns the entry's memory, made if new.
func (s *pendingScan) memory(entryID string) *entryMemory {
	m := s.entries[entryID]
	if m == nil {
		m = &entryMemory{seen: true}
		s.entries[entryID] = m
	}
	return m
}

// attempts bounds the attempts at an entry that keeps failing for a reason
// of its own: its key is not a hash, or the node answers its simulation with
// an error that is not a revert ("gas required exceeds allowance", a revert
// format chain.AsRevert does not know). Failures of the whole call (Redis or
// the node unreachable) and causes that concern every application (the
// product paused) count against no entry: they back the whole loop off.
//
// The count is the relay's own, in memory, not the stream's delivery count
// (XPENDING's times_delivered): Redis counts a delivery each time a read of
// the pending list returns the entry, and the loop reads that list in pages
// that also return every entry in flight, and entries past the free slots,
// on every rescan and at every start. The delivery count thus measures how
// often the list was scanned, and an application whose transaction waits
// through a long pause would be dead-lettered at its first hiccup. Keeping
// the count in memory means a restart grants a failing entry Max attempts
// more; that costs only a few more attempts, since the entry no longer holds
// anything up, and no Redis write per failure or key to clean up (a key that
// is not a hash could not hold a counter field anyway).
type attempts struct {
	Max   int           // MaxEntryAttempts: failed attempts before the dead letter, >= 1
	Delay time.Duration // ERROR_TIMEOUT: between two attempts at one entry
}

// afterFailure decides, once an entry has failed count times, whether it is
// dead-lettered (giveUp) or when it may be tried again. The delay is fixed
// at ERROR_TIMEOUT, so an entry that always fails is dead-lettered within
// about (Max-1) x ERROR_TIMEOUT of its first attempt: well inside the
// monitor's limit on the age of a waiting entry, so the monitor does not
// report a queue that is only working through its bounded retries.
func afterFailure(p attempts, count int, now time.Time) (giveUp bool, due time.Time) {
	return count >= p.Max, now.Add(p.Delay)
}

func newPendingScan() pendingScan {
	return pendingScan{active: true, cursor: "0", settled: make(map[string]struct{}),
		entries: make(map[string]*entryMemory)}
}

// restart makes the next read start again at the beginning of the pending
// list, where an entry left by an error now waits.
func (s *pendingScan) restart() { s.active, s.cursor = true, "0" }

// due reports whether the next read is a page of the pending list, taking up
// a scan the tracker requested, or one that a failed entry's next attempt
// asks for.
func (s *pendingScan) due(now time.Time) bool {
	if s.requested {
		s.requested = false
		s.restart()
	}
	if !s.active {
		if at, ok := s.nextAttempt(); ok && !now.Before(at) {
			s.restart()
		}
	}
	return s.active
}

// beginPage marks a page read as under way. A page from the start begins a
// new sweep of the failures: each must be found again to be kept.
func (s *pendingScan) beginPage() {
	clear(s.settled)
	s.reading = true
	if s.cursor == "0" {
		for _, f := range s.entries {
			f.seen = false
		}
	}
}

// endPage ends a page read. An empty page ends the scan: new entries are
// read next, and failed entries the scan did not find are forgotten.
func (s *pendingScan) endPage(empty bool) {
	s.reading = false
	if empty {
		s.active, s.cursor = false, "0"
		for id, f := range s.entries {
			if !f.seen {
				delete(s.entries, id)
			}
		}
	}
}

// take reports whether an entry of the page just read is to be processed
// now, and marks it found. It is not when it was settled while the page was
// read, or when it failed before and its next attempt is not due; busy
// entries (in flight) are checked by the caller.
func (s *pendingScan) take(entryID string, now time.Time) bool {
	f := s.entries[entryID]
	if f != nil {
		f.seen = true
	}
	if _, done := s.settled[entryID]; done {
		return false
	}
	if f != nil && !f.due.IsZero() {
		if now.Before(f.due) {
			return false
		}
		f.due = time.Time{}
	}
	return true
}

// nextAttempt is the earliest time a failed entry may be tried again.
func (s *pendingScan) nextAttempt() (time.Time, bool) {
	var at time.Time
	for _, f := range s.entries {
		if !f.due.IsZero() && (at.IsZero() || f.due.Before(at)) {
			at = f.due
		}
	}
	return at, !at.IsZero()
}

// fail records a failed attempt at an entry and returns how many it has had
// and whether to give up on it (afterFailure). Until it is given up (and
// then settled), the entry waits for its next attempt.
func (s *pendingScan) fail(entryID string, now time.Time, p attempts) (count int, giveUp bool) {
	f := s.memory(entryID)
	f.count++
	giveUp, f.due = afterFailure(p, f.count, now)
	return f.count, giveUp
}

// wait passes over an entry until due without counting a failure against
// it (see submitter.entryWaits).
func (s *pendingScan) wait(entryID string, due time.Time) {
	s.memory(entryID).due = due
}

// forget drops an entry's memory: it went through (submitted, adopted) or
// was settled.
func (s *pendingScan) forget(entryID string) { delete(s.entries, entryID) }

// deferEntry notes an entry waiting for a flight with the same signature.
func (s *pendingScan) deferEntry() { s.deferred = true }

// released is called when the tracker removes an application's flight.
// requeue: the application goes back to the queue (a transient revert, a
// lost nonce), so a scan is requested. Otherwise it was settled: remember it
// while a page is read, and request a scan if an entry was deferred.
func (s *pendingScan) released(entryID string, requeue bool) {
	if !requeue && s.reading {
		s.settled[entryID] = struct{}{}
	}
	if requeue || s.deferred {
		s.deferred, s.requested = false, true
	}
}
