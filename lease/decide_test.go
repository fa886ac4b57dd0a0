package lease

import (
	"testing"
	"time"
)

func TestMayTakeMissing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ttl := 3 * time.Second
	for _, tc := range []struct {
		name        string
		seen        bool
		absentSince time.Time
		now         time.Time
		want        bool
	}{
		{"first look: nobody seen, taken at once", false, time.Time{}, t0, true},
		{"seen held, first look that finds it gone", true, time.Time{}, t0, false},
		{"gone for a renewal interval (TTL/3): the holder may still restore it", true, t0, t0.Add(ttl / 3), false},
		{"gone for exactly half the TTL", true, t0, t0.Add(ttl / 2), false},
		{"gone for longer than half the TTL", true, t0, t0.Add(ttl/2 + time.Millisecond), true},
		{"clock went back", true, t0, t0.Add(-time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mayTakeMissing(tc.seen, tc.absentSince, tc.now, ttl); got != tc.want {
				t.Fatalf("mayTakeMissing = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRenewalBeforeTakeOver: for any TTL, a holder's next renewal comes
// while it may still restore a lost key, and before a waiter may take it,
// so a live, connected holder sets the key again first (the wall-clock half
// of TestStandbyDoesNotTakeLostKey).
func TestRenewalBeforeTakeOver(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ttl := range []time.Duration{30 * time.Millisecond, time.Second, 3 * time.Second, 15 * time.Second, time.Hour} {
		l := &Lease{ttl: ttl}
		every := l.renewEvery()
		// The key is lost just after a renewal at t0; the next renewal
		// comes at t0+every.
		l.renewed.Store(t0.UnixNano())
		l.now = func() time.Time { return t0.Add(every) }
		if every <= 0 || !l.MayRestore() {
			t.Errorf("TTL %v: at its next renewal (%v later) the holder may not restore the key", ttl, every)
		}
		// A waiter's first look that finds it gone is no earlier than t0.
		if mayTakeMissing(true, t0, t0.Add(every), ttl) {
			t.Errorf("TTL %v: a waiter may take a key gone for one renewal interval (%v)", ttl, every)
		}
	}
}

// TestHolderOf: the lease key's value as people read it (the CLI's status):
// host/pid of a token, nobody for an empty key or Released, and "held" by
// an unnamed holder for a value of another shape.
func TestHolderOf(t *testing.T) {
	for _, tc := range []struct {
		token, holder string
		held          bool
	}{
		{"", "", false},
		{Released, "", false},
		{"web.1/42/0123abcd", "web.1/42", true},
		{"something-else", "", true},
	} {
		if holder, held := HolderOf(tc.token); holder != tc.holder || held != tc.held {
			t.Errorf("HolderOf(%q) = %q, %v; want %q, %v", tc.token, holder, held, tc.holder, tc.held)
		}
	}
}
