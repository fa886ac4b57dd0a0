package monitor

import (
	"sync/atomic"
	"time"
)

// Heartbeat records when the relay loop last completed an iteration. The loop
// beats it and the Checker reads it; both sides may run concurrently. The zero
// value is ready to use and reports that no iteration has happened yet.
type Heartbeat struct {
	// unixNano is 0 until the first Beat. time.Time itself cannot be stored
	// atomically, and a mutex on the loop's hot path would be overkill.
	unixNano atomic.Int64
}

// Beat records t as the time of the latest completed loop iteration.
func (h *Heartbeat) Beat(t time.Time) {
	h.unixNano.Store(t.UnixNano())
}

// Last returns the time of the latest Beat, or the zero time when Beat has
// never been called.
func (h *Heartbeat) Last() time.Time {
	n := h.unixNano.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
