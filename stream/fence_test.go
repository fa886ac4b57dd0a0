package stream_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/stream"
)

// fixedFence is a lease that never renews: what a fenced write sees of a
// holder whose last renewal is older than half the TTL (restore false).
type fixedFence struct {
	key, token string
	restore    bool
}

func (f fixedFence) Fence() (string, string, time.Duration, bool) {
	return f.key, f.token, time.Minute, f.restore
}

// TestRecordIsFenced is issue 18, finding 4: a journal write (and so a
// broadcast) succeeds only while this process holds the wallet's lease. A
// refused write leaves neither a record nor a transactionHash for a
// transaction that is never broadcast, and Forget cannot delete the new
// holder's records.
func TestRecordIsFenced(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := t.Context()
	key := lease.Key(testKeys.Wallet)
	l, err := lease.New(rdb, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	q := stream.NewQueueWithOptions(rdb, testKeys, stream.Options{Fence: l})
	if got, want := key[:strings.Index(key, "}")+1], q.JournalKey()[:strings.Index(q.JournalKey(), "}")+1]; got != want {
		t.Fatalf("lease key %s and journal %s on different hash tags", key, q.JournalKey())
	}
	rec := func(nonce uint64, entity string) stream.TxRecord {
		return stream.TxRecord{Nonce: nonce, EntryID: "1-" + strconv.FormatUint(nonce, 10), EntityID: entity,
			Hashes: []string{"0x" + strconv.FormatUint(nonce, 16)}, RawTx: "0x01"}
	}
	journal := func() map[string]string {
		t.Helper()
		m, err := rdb.HGetAll(ctx, q.JournalKey()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	txHash := func(entity string) string {
		v, _ := rdb.HGet(ctx, stream.ApplicationKey(entity), stream.FieldTransactionHash).Result()
		return v
	}

	// Held: written, transactionHash set.
	if err := q.Record(ctx, rec(1, "a"), rec(2, "b")); err != nil {
		t.Fatalf("Record while holding the lease: %v", err)
	}
	if j := journal(); len(j) != 2 || txHash("a") != "0x1" || txHash("b") != "0x2" {
		t.Fatalf("journal %v, transactionHash a=%q b=%q", j, txHash("a"), txHash("b"))
	}

	// Another process holds it: refused, nothing written, nothing deleted.
	if err := rdb.Set(ctx, key, "elsewhere/1/cafe", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, rec(3, "c")); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("Record under another holder's lease = %v, want ErrFenced", err)
	}
	if err := q.Forget(ctx, 1); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("Forget under another holder's lease = %v, want ErrFenced", err)
	}
	if j := journal(); len(j) != 2 || j["3"] != "" || j["1"] == "" || txHash("c") != "" {
		t.Fatalf("a fenced write changed the journal %v or set transactionHash %q", j, txHash("c"))
	}

	// Released: refused too.
	if err := rdb.Set(ctx, key, lease.Released, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, rec(3, "c")); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("Record under a released lease = %v, want ErrFenced", err)
	}

	// Gone (Redis lost it) while the holder renewed in time: the write
	// restores the key, as Keep would.
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, rec(3, "c")); err != nil {
		t.Fatalf("Record with the key lost, holder renewed in time: %v", err)
	}
	if v, _ := rdb.Get(ctx, key).Result(); v != l.Token() {
		t.Fatalf("lease key after the restoring write = %q, want %q", v, l.Token())
	}
	if err := q.Forget(ctx, 3); err != nil || journal()["3"] != "" {
		t.Fatalf("Forget while holding: %v, journal %v", err, journal())
	}

	// Gone, and the holder's last renewal too old to restore it: refused,
	// the key stays gone for a waiter to take.
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	stale := stream.NewQueueWithOptions(rdb, testKeys, stream.Options{Fence: fixedFence{key: key, token: l.Token()}})
	if err := stale.Record(ctx, rec(4, "d")); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("Record with the key gone and no right to restore = %v, want ErrFenced", err)
	}
	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("a refused write set the lease key: %v", err)
	}
	if j := journal(); j["4"] != "" || txHash("d") != "" {
		t.Fatalf("a refused write left record %q, transactionHash %q", j["4"], txHash("d"))
	}

	// After Release this holder may restore nothing.
	if err := rdb.Set(ctx, key, lease.Released, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, rec(5, "e")); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("Record after Release = %v, want ErrFenced", err)
	}
}

// TestJournalWritesLargeBatches: a fenced write passes its fields to one
// HSET or HDEL a chunk, and a chunk must stay inside the Lua stack (8,000
// values) with its pairs whole. 5,000 records (10,000 arguments, two
// chunks, the second starting on a field) are written and forgotten, fenced
// and not, and every record reads back as written.
func TestJournalWritesLargeBatches(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := t.Context()
	l, err := lease.New(rdb, lease.Key(testKeys.Wallet), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	const n = 5000
	recs := make([]stream.TxRecord, n)
	nonces := make([]uint64, n)
	for i := range recs {
		nonces[i] = uint64(i)
		recs[i] = stream.TxRecord{Nonce: uint64(i), EntryID: "1-" + strconv.Itoa(i), Hashes: []string{"0x" + strconv.FormatInt(int64(i)+1, 16)}, RawTx: "0x01"}
	}
	for _, tc := range []struct {
		name string
		q    *stream.Queue
	}{
		{"fenced", stream.NewQueueWithOptions(rdb, testKeys, stream.Options{Fence: l})},
		{"unfenced", stream.NewQueue(rdb, testKeys)},
	} {
		if err := tc.q.Record(ctx, recs...); err != nil {
			t.Fatalf("%s: Record %d: %v", tc.name, n, err)
		}
		got, err := tc.q.Journal(ctx)
		if err != nil || len(got) != n {
			t.Fatalf("%s: journal holds %d records (%v), want %d", tc.name, len(got), err, n)
		}
		for _, r := range got {
			if r.CurrentHash() != recs[r.Nonce].CurrentHash() {
				t.Fatalf("%s: record %d reads back hash %s, want %s", tc.name, r.Nonce, r.CurrentHash(), recs[r.Nonce].CurrentHash())
			}
		}
		if err := tc.q.Forget(ctx, nonces...); err != nil {
			t.Fatalf("%s: Forget %d: %v", tc.name, n, err)
		}
		if left, err := rdb.HLen(ctx, tc.q.JournalKey()).Result(); err != nil || left != 0 {
			t.Fatalf("%s: %d records left after Forget (%v)", tc.name, left, err)
		}
	}
}
