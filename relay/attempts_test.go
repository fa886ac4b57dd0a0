package relay

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/chain"
)

// t0 is a fixed wall-clock time for the pure tests of this file.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestSimulationOutcome(t *testing.T) {
	rev := func(c chain.RevertClass) *chain.RevertError { return &chain.RevertError{Reason: "r", Class: c} }
	errAny := errors.New("answer")
	tests := []struct {
		name string
		err  error
		rev  *chain.RevertError
		want simOutcome
	}{
		{"passes", nil, nil, simOK},
		{"gas required exceeds allowance: the entry's", errors.New("gas required exceeds allowance (30000000)"), nil, simEntryFailed},
		{"a revert format the classifier does not know: the entry's", errors.New("VM Exception while processing transaction"), nil, simEntryFailed},
		{"rate limited: the node's, not the entry's", errors.New("429 Too Many Requests"), nil, simNodeTrouble},
		{"lagging backend: the node's", errors.New("header not found"), nil, simNodeTrouble},
		{"product paused: everyone waits", errAny, rev(chain.RevertProductInactive), simTransient},
		{"signature used: resolve", errAny, rev(chain.RevertSignatureUsed), simSignatureUsed},
		{"invalid signature: final", errAny, rev(chain.RevertSignature), simFinal},
		{"unknown revert: final", errAny, rev(chain.RevertUnknown), simFinal},
		{"funds: final", errAny, rev(chain.RevertFunds), simFinal},
	}
	for _, tc := range tests {
		if got := simulationOutcome(tc.err, tc.rev); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAfterFailure(t *testing.T) {
	p := attempts{Max: 3, Delay: 30 * time.Second}
	for _, tc := range []struct {
		count  int
		giveUp bool
	}{{1, false}, {2, false}, {3, true}, {4, true}} {
		giveUp, due := afterFailure(p, tc.count, t0)
		if giveUp != tc.giveUp || !due.Equal(t0.Add(30*time.Second)) {
			t.Errorf("failure %d of max %d: giveUp %v due %v; want %v and +30s", tc.count, p.Max, giveUp, due, tc.giveUp)
		}
	}
}

// TestPendingScanPassesOverFailingEntries drives the scan protocol as the
// loop does: a failed entry is passed over until its next attempt is due,
// the scan then goes on to its end (and new entries are read), the due
// attempt starts a scan again and hands the entry out once, and an entry no
// scan finds any more is forgotten.
func TestPendingScanPassesOverFailingEntries(t *testing.T) {
	p := attempts{Max: 3, Delay: time.Minute}
	s := newPendingScan()
	page := func(now time.Time, ids ...string) (taken []string) {
		t.Helper()
		if !s.due(now) {
			t.Fatalf("no scan due at %v", now)
		}
		s.beginPage()
		for _, id := range ids {
			s.cursor = id
			if s.take(id, now) {
				taken = append(taken, id)
			}
		}
		s.endPage(false)
		s.beginPage()
		s.endPage(true) // the page after is empty: the scan ends
		return taken
	}

	if got := page(t0, "1-0", "2-0"); !reflect.DeepEqual(got, []string{"1-0", "2-0"}) {
		t.Fatalf("first scan took %v", got)
	}
	if n, giveUp := s.fail("1-0", t0, p); n != 1 || giveUp {
		t.Fatalf("first failure: %d, give up %v", n, giveUp)
	}
	if s.due(t0.Add(time.Second)) {
		t.Fatal("a scan is due before the failed entry's next attempt: new entries would not be read")
	}
	if at, ok := s.nextAttempt(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next attempt %v %v, want t0+1m", at, ok)
	}
	// A rescan for another reason (an error of a batch) passes over it.
	s.restart()
	if got := page(t0.Add(time.Second), "1-0", "2-0"); !reflect.DeepEqual(got, []string{"2-0"}) {
		t.Fatalf("rescan before the retry took %v, want only 2-0", got)
	}
	// Its attempt is due: a scan starts by itself and hands it out once.
	if got := page(t0.Add(time.Minute), "1-0", "2-0"); !reflect.DeepEqual(got, []string{"1-0", "2-0"}) {
		t.Fatalf("scan at the retry took %v", got)
	}
	if s.due(t0.Add(2 * time.Minute)) {
		t.Fatal("an entry handed out keeps asking for scans")
	}
	s.fail("1-0", t0.Add(time.Minute), p)
	if n, giveUp := s.fail("1-0", t0.Add(2*time.Minute), p); n != 3 || !giveUp {
		t.Fatalf("third failure: %d, give up %v; want 3, true", n, giveUp)
	}
	// A wait (a look-up the node could not answer) passes over an entry
	// without counting an attempt against it.
	s.wait("2-0", t0.Add(3*time.Minute))
	s.restart()
	if got := page(t0.Add(2*time.Minute), "2-0"); len(got) != 0 {
		t.Fatalf("waiting entry taken early: %v", got)
	}
	if f := s.entries["2-0"]; f == nil || f.count != 0 {
		t.Fatalf("wait recorded as %+v, want no failure counted", f)
	}
	// Settled elsewhere: a full scan that does not find it forgets it.
	page(t0.Add(3*time.Minute), "2-0")
	if _, ok := s.entries["1-0"]; ok {
		t.Fatal("an entry no longer pending is remembered")
	}
	if s.due(t0.Add(time.Hour)) {
		t.Fatal("a forgotten entry still asks for scans")
	}
}
