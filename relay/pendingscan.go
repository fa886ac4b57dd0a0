package relay

// pendingScan owns the protocol by which the submitting loop reads its own
// pending entries (delivered to this consumer, not acknowledged) before new
// ones: at start (a previous run's entries), after a transient error (the
// entries it left), and when the tracker puts an application back in the
// queue or frees a signature a deferred entry waits for.
//
// The submitting loop drives it (start, page, finish); the tracker calls
// released. All methods must be called with Relay.mu held, since the two
// sides run in different goroutines.
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
}

func newPendingScan() pendingScan {
	return pendingScan{active: true, cursor: "0", settled: make(map[string]struct{})}
}

// restart makes the next read start again at the beginning of the pending
// list, where an entry left by an error now waits.
func (s *pendingScan) restart() { s.active, s.cursor = true, "0" }

// due reports whether the next read is a page of the pending list, taking up
// a scan the tracker requested.
func (s *pendingScan) due() bool {
	if s.requested {
		s.requested = false
		s.restart()
	}
	return s.active
}

// beginPage marks a page read as under way.
func (s *pendingScan) beginPage() {
	clear(s.settled)
	s.reading = true
}

// endPage ends a page read. An empty page ends the scan: new entries are
// read next.
func (s *pendingScan) endPage(empty bool) {
	s.reading = false
	if empty {
		s.active, s.cursor = false, "0"
	}
}

// skip reports whether an entry of the page just read must not be processed:
// it was settled while the page was read. busy entries (in flight) are
// checked by the caller.
func (s *pendingScan) skip(entryID string) bool {
	_, done := s.settled[entryID]
	return done
}

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
