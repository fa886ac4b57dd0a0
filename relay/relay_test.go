package relay_test

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// TestEndToEnd enqueues more applications than the in-flight window holds,
// exactly as the frontend does, and mines blocks by hand so the test can see
// that nothing is acknowledged before the required confirmations.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 3, maxInFlight: 8})
	apps := e.enqueue(12)
	e.start()

	// The first window of 8 is broadcast without waiting for any block.
	eventually(t, 20*time.Second, "8 transactions recorded", func() bool {
		n := 0
		for _, a := range apps {
			if e.txHash(a.entityID) != "" {
				n++
			}
		}
		return n == 8
	})
	// Only the window was read from the stream; nothing is acknowledged.
	if got := e.pending(); got != 8 {
		t.Fatalf("pending %d before any block, want 8 (the window)", got)
	}
	recorded := map[string]string{}
	for _, a := range apps {
		recorded[a.entityID] = e.txHash(a.entityID)
	}

	// One block: mined with 1 confirmation, still not acknowledged after
	// several tracker passes that saw it, each a chance to ack too early.
	e.chain.Commit()
	e.passes(5)
	if got := e.pending(); got < 8 {
		t.Fatalf("pending %d after 1 confirmation, want >= 8 (acked before 3 confirmations)", got)
	}
	for _, a := range apps {
		if recorded[a.entityID] != "" && !e.exists(stream.ApplicationKey(a.entityID)) {
			t.Fatalf("hash of %s purged before confirmations", a.entityID)
		}
	}

	// Keep mining until everything is through: all 12 read, acknowledged,
	// then their journal records removed (in that order, so wait for all).
	eventually(t, 60*time.Second, "all entries acknowledged and forgotten", func() bool {
		e.chain.Commit()
		return e.queueLen() == int64(len(apps)) && e.pending() == 0 && len(e.journal()) == 0
	})
	for _, a := range apps {
		if got := e.created(a.signatureID); got != 1 {
			t.Errorf("application %s created %d times on chain, want 1", a.entityID, got)
		}
		if e.exists(stream.ApplicationKey(a.entityID)) {
			t.Errorf("hash of %s not purged", a.entityID)
		}
	}
	// The old processor's heartbeat key is kept up to date.
	if ts, err := e.rdb.Get(t.Context(), stream.LastCheckKey).Result(); err != nil {
		t.Errorf("last-check: %v", err)
	} else if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(at) > time.Minute {
		t.Errorf("last-check %q is not a recent ISO-8601 time (%v)", ts, err)
	}
	if n := e.walletNonce(); n != 12 {
		t.Errorf("wallet sent %d transactions, want 12", n)
	}
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Errorf("unexpected dead letters: %v", dl)
	}
	journal, err := e.queue.Journal(t.Context())
	if err != nil || len(journal) != 0 {
		t.Errorf("journal not empty after confirmations: %v %v", journal, err)
	}
	// The recorded hashes are the ones that were mined.
	for id, h := range recorded {
		if h == "" {
			continue
		}
		rc, err := e.client.TransactionReceipt(t.Context(), common.HexToHash(h))
		if err != nil || rc.Status != 1 {
			t.Errorf("recorded tx %s of %s: receipt %v, err %v", h, id, rc, err)
		}
	}
}

// TestBadInput: each malformed or rejected application ends as a dead letter
// with a readable reason, and the loop goes on to process a valid one.
func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	cases, err := frontend.BadCases(e.chain.ChainID, e.chain.Helper)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // entry id -> reason word
	for _, bc := range cases {
		id, err := frontend.EnqueueBadCase(t.Context(), e.rdb, e.keys.Stream, bc)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = bc.WantReasonContains
	}
	// The same signed application stored twice: the second entry is the
	// same application, which our transaction for the first created, so its
	// SIGNATURE_USED is success (docs/design.md, "Mined reverts"), not a
	// rejection.
	twice, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := e.enqueueApp(twice)
	second := e.enqueueApp(twice)
	// Other final reverts of the contract.
	foreign, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want[e.enqueueApp(foreign).entryID] = "RISKPOOL_MISMATCH"
	// A valid application after all the bad ones.
	good := e.enqueue(1)[0]

	e.produce(100 * time.Millisecond)
	e.start()
	eventually(t, 60*time.Second, "all entries settled", func() bool { return e.pending() == 0 && e.created(good.signatureID) == 1 })

	got := map[string]string{}
	for _, m := range e.deadLetters() {
		id, _ := m.Values["entryId"].(string)
		got[id], _ = m.Values["reason"].(string)
		if _, ok := m.Values["time"]; !ok {
			t.Errorf("dead letter %s has no time", id)
		}
	}
	for id, word := range want {
		reason, ok := got[id]
		if !ok {
			t.Errorf("entry %s (want %q) not dead-lettered", id, word)
			continue
		}
		if !strings.Contains(reason, word) {
			t.Errorf("entry %s: reason %q does not mention %q", id, reason, word)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d dead letters, want %d: %v", len(got), len(want), got)
	}
	if e.created(first.signatureID) != 1 {
		t.Errorf("first use of the signature not created")
	}
	if e.exists(stream.ApplicationKey(second.entityID)) {
		t.Errorf("the duplicate of a created application was not acknowledged and purged")
	}
	if e.walletNonce() != 2 {
		t.Errorf("wallet nonce %d, want 2: one transaction for the duplicated application, one for the good one", e.walletNonce())
	}
	for _, bc := range cases {
		if bc.EntityID != "" && e.exists(stream.ApplicationKey(bc.EntityID)) {
			t.Errorf("hash of bad case %s not purged", bc.Name)
		}
	}
	// Dead letters keep what the user signed.
	for _, m := range e.deadLetters() {
		if m.Values["entityId"] == first.entityID {
			t.Errorf("the first use was dead-lettered")
		}
	}
}

// TestPausedProductStaysPending: PRODUCT_NOT_ACTIVE is transient. The entry
// stays pending while the product is paused and goes through after unpause.
// Each refused simulation waits one ERROR_TIMEOUT before the next, and the
// first after the unpause comes one ERROR_TIMEOUT after the last refusal:
// not sooner (no hammering of a paused product), and not a second back-off
// later. The fault suite measures the same recovery on the wall clock of a
// busy machine, where only a gross delay can fail it.
// On the fake clock, "not sooner" is the time between two simulations,
// exact whatever the machine's load. "Not a second back-off later" is
// counted, not timed: between two simulations the relay began one wait of
// ERROR_TIMEOUT and no other of a second or more (the loop's other waits
// are a poll interval or a blocked read, 50 and 200 ms here). Timed, it
// hung on the load: each look of the test moves the clock a tenth of the
// back-off, so a loop iteration that took ten looks of wall time from the
// back-off's end to the simulation's answer read as a second back-off.
func TestPausedProductStaysPending(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	e.step = e.cfg.ErrorBackoff / 10
	if err := e.chain.SetActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	e.produce(100 * time.Millisecond)
	app := e.enqueue(1)[0]
	e.start()
	e.until(20*time.Second, "pre-flight refused while paused", func() bool {
		return e.probe.simulatedReverts("PRODUCT_NOT_ACTIVE") >= 1
	})
	// A few more refused simulations, each after a back-off: the entry is
	// kept through all of them.
	e.until(20*time.Second, "three more refusals", func() bool {
		return e.probe.simulatedReverts("PRODUCT_NOT_ACTIVE") >= 4
	})
	if e.pending() != 1 || len(e.deadLetters()) != 0 || e.txHash(app.entityID) != "" {
		t.Fatalf("paused product: pending=%d dead=%d tx=%q; want still pending, untouched", e.pending(), len(e.deadLetters()), e.txHash(app.entityID))
	}
	if err := e.chain.SetActive(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	e.until(30*time.Second, "application created after unpause", func() bool {
		return e.pending() == 0 && e.created(app.signatureID) == 1
	})
	sims := e.probe.simulations()
	resumed := slices.IndexFunc(sims, func(s simulation) bool { return !s.paused })
	if resumed < 4 {
		t.Fatalf("simulations %v: want four or more refused, then one that passed", sims)
	}
	backoff := e.cfg.ErrorBackoff
	for i := 1; i <= resumed; i++ {
		if gap := sims[i].at.Sub(sims[i-1].at); gap < backoff {
			t.Fatalf("simulation %d came %v after the refused one before it, want one ERROR_TIMEOUT (%v) at least", i, gap, backoff)
		}
		if waits := e.probe.waitsBetween(i, time.Second); !slices.Equal(waits, []time.Duration{backoff}) {
			t.Fatalf("between simulations %d and %d the relay waited %v, want one ERROR_TIMEOUT (%v)", i, i+1, waits, backoff)
		}
	}
}

// TestRestartBetweenBroadcastAndAck stops the relay after its transactions are
// broadcast but before any is mined, starts a new one, and checks that each
// application is created once and no second transaction was ever signed.
func TestRestartBetweenBroadcastAndAck(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2})
	apps := e.enqueue(5)
	stop := e.start()
	eventually(t, 20*time.Second, "all broadcast", func() bool {
		for _, a := range apps {
			if e.txHash(a.entityID) == "" {
				return false
			}
		}
		return true
	})
	stop()
	journal, err := e.queue.Journal(t.Context())
	if err != nil || len(journal) != 5 {
		t.Fatalf("journal after stop: %d records, err %v; want 5", len(journal), err)
	}
	e.start()
	eventually(t, 60*time.Second, "all acknowledged after restart", func() bool {
		e.chain.Commit()
		return e.pending() == 0
	})
	for _, a := range apps {
		if got := e.created(a.signatureID); got != 1 {
			t.Errorf("application %s created %d times", a.entityID, got)
		}
	}
	if n := e.walletNonce(); n != 5 {
		t.Errorf("wallet sent %d transactions, want 5 (no second transaction per application)", n)
	}
}

// TestBalanceGate: below PROCESSOR_MIN_BALANCE nothing is submitted, the
// balance gauge shows the balance, and the loop keeps beating and reading
// the balance again. On the fake clock: each look of the test lets one
// BALANCE_TOO_LOW_TIMEOUT pass.
func TestBalanceGate(t *testing.T) {
	e := newEnv(t, envOptions{fund: new(big.Int).Div(big.NewInt(params.Ether), big.NewInt(2)), fakeClock: true})
	e.step = e.cfg.BalanceTooLowWait
	app := e.enqueue(1)[0]
	e.start()
	e.until(10*time.Second, "balance read", func() bool { return e.probe.balances.Load() >= 1 })
	if got := metricValue(t, e, "depeg_relay_wallet_balance_eth"); got != 0.5 {
		t.Fatalf("balance gauge %v, want 0.5 ETH", got)
	}
	// Several gated iterations, each reading the balance again after
	// BALANCE_TOO_LOW_TIMEOUT: none submitted anything.
	balances, loops, before := e.probe.balances.Load(), e.probe.loops.Load(), e.hb.Last()
	e.until(10*time.Second, "three more gated iterations", func() bool {
		return e.probe.balances.Load() >= balances+3 && e.probe.loops.Load() >= loops+3
	})
	if !e.hb.Last().After(before) {
		t.Fatal("no heartbeat while gated")
	}
	if e.txHash(app.entityID) != "" || e.walletNonce() != 0 || e.probe.estimates.Load() != 0 || e.probe.sends.Load() != 0 {
		t.Fatalf("submitted below minimum balance: %d simulations, %d broadcasts", e.probe.estimates.Load(), e.probe.sends.Load())
	}
}

// TestTrimmedEntryIsNamed: an entry delivered to this consumer and then
// trimmed from the stream (XTRIM by the frontend) reads back with no fields;
// its dead letter says so instead of "no entityId field".
func TestTrimmedEntryIsNamed(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	q := e.enqueue(1)[0]
	if err := e.queue.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.queue.ReadNew(t.Context(), 10, time.Millisecond); err != nil { // delivered, then the relay "crashed"
		t.Fatal(err)
	}
	if err := e.rdb.XTrimMaxLen(t.Context(), e.keys.Stream, 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.start()
	// The dead letter is written before the entry is acknowledged (a crash
	// between leaves it pending, never acked without a record): wait for
	// both, not for the first alone.
	eventually(t, 10*time.Second, "dead-lettered and acknowledged", func() bool {
		return len(e.deadLetters()) == 1 && e.pending() == 0
	})
	dl := e.deadLetters()[0].Values
	if dl["entryId"] != q.entryID || !strings.Contains(dl["reason"].(string), "trimmed") {
		t.Fatalf("dead letter %v: want entry %s with a reason naming the trim", dl, q.entryID)
	}
}
