package monitor

import (
	"sync"
	"time"
)

// DefaultRecentConfirmations is how many confirmations the console lists:
// enough to see the relay work, few enough for one screen.
const DefaultRecentConfirmations = 20

// Confirmation is one application confirmed on chain, as the console lists
// it. The fields are strings and numbers rather than the stream's types so
// that monitor stays free of the other packages (docs/design.md, "One
// direction of dependencies").
type Confirmation struct {
	EntityID  string
	EntryID   string
	TxHash    string
	Block     uint64
	ProcessID string // empty when the creation event was not found
	At        time.Time
}

// RecentConfirmations remembers the last confirmations of this process, for
// the console. It lives in memory only: the outcome of every application is
// kept in Redis by the status records, this is just the "what happened
// lately" list, and it starts empty after a restart. A nil
// *RecentConfirmations records nothing. Safe for concurrent use.
type RecentConfirmations struct {
	mu   sync.Mutex
	ring *timeRing[Confirmation]
}

// NewRecentConfirmations keeps the last n confirmations (n <= 0: the default).
func NewRecentConfirmations(n int) *RecentConfirmations {
	if n <= 0 {
		n = DefaultRecentConfirmations
	}
	return &RecentConfirmations{ring: newTimeRing[Confirmation](n)}
}

// Add records confirmations; one without a time gets at.
func (r *RecentConfirmations) Add(at time.Time, cs ...Confirmation) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		if c.At.IsZero() {
			c.At = at
		}
		r.ring.push(c.At, c)
	}
}

// Recent returns the remembered confirmations, newest first.
func (r *RecentConfirmations) Recent() []Confirmation {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Confirmation, 0, r.ring.n)
	r.ring.each(func(s sample[Confirmation]) { out = append(out, s.v) })
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
