package relay_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/stream"
)

// readAs delivers every new entry to consumer, as a process that then died
// (or the old processor) would have read them.
func (e *env) readAs(consumer string) {
	e.t.Helper()
	if err := e.queue.EnsureGroup(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	if err := e.rdb.XReadGroup(e.t.Context(), &redis.XReadGroupArgs{Group: e.keys.Group, Consumer: consumer,
		Streams: []string{e.keys.Stream, ">"}, Count: 1000, Block: -1}).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// counterValue reads a counter of the env's registry; 0 if absent.
func (e *env) counterValue(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestClaimsEntriesOfSilentConsumer: entries the old processor (or a
// process that died) read and never journaled are claimed after
// REDIS_QUEUE_CLAIM_IDLE and relayed, each once.
func TestClaimsEntriesOfSilentConsumer(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	e.cfg.ClaimIdle = 300 * time.Millisecond
	apps := e.enqueue(3)
	e.readAs("depeg-backend-processor-consumer-of-the-old-processor")
	e.start()
	e.mineUntil(20*time.Second, "the claimed applications confirmed", func() bool {
		for _, a := range apps {
			if e.created(a.signatureID) != 1 {
				return false
			}
		}
		return e.pending() == 0
	})
	if got := e.counterValue("depeg_relay_stream_entries_claimed_total"); got != 3 {
		t.Errorf("entries claimed = %v, want 3", got)
	}
	if n, err := e.rdb.HLen(t.Context(), stream.ClaimsKey(e.keys.Stream)).Result(); err != nil || n != 0 {
		t.Errorf("claim counts left after the acks: %d (%v)", n, err)
	}
	if d := e.deadLetters(); len(d) != 0 {
		t.Errorf("dead letters: %v", d)
	}
}

// TestEntryClaimedTooOftenIsDeadLettered: an entry that consumer after
// consumer read and left is dead-lettered once MAX_ENTRY_CLAIMS is passed,
// with its application, and nothing is signed for it.
func TestEntryClaimedTooOftenIsDeadLettered(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	e.cfg.ClaimIdle, e.cfg.MaxClaims = 300*time.Millisecond, 2
	apps := e.enqueue(1)
	e.readAs("crashed-process")
	// Two earlier claims already happened; this relay's makes three.
	if err := e.rdb.HSet(t.Context(), stream.ClaimsKey(e.keys.Stream), apps[0].entryID, 2).Err(); err != nil {
		t.Fatal(err)
	}
	e.start()
	// The dead letter is written before the ack and the purge: wait for all.
	e.mineUntil(20*time.Second, "the entry dead-lettered, acknowledged and purged", func() bool {
		return len(e.deadLetters()) == 1 && e.pending() == 0 && !e.exists("PendingApplication:"+apps[0].entityID)
	})
	d := e.deadLetters()[0].Values
	if d["entryId"] != apps[0].entryID || d["class"] != "failing" || d["application"] == nil {
		t.Fatalf("dead letter = %v, want entry %s, class failing, with its application", d, apps[0].entryID)
	}
	if e.walletNonce() != 0 || e.created(apps[0].signatureID) != 0 {
		t.Error("a transaction was signed for an entry claimed too often")
	}
}
