package stream_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/stream"
)

// consumerQueue is a queue on the test stream for another wallet and
// consumer, as a second key's relay (or another process) has.
func consumerQueue(rdb redis.Cmdable, consumer, wallet string) *stream.Queue {
	k := testKeys
	k.Consumer, k.Wallet = consumer, wallet
	return stream.NewQueue(rdb, k)
}

// pendingBy maps each pending entry id to its consumer.
func pendingBy(t *testing.T, rdb redis.Cmdable) map[string]string {
	t.Helper()
	pend, err := rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{
		Stream: testKeys.Stream, Group: testKeys.Group, Start: "-", End: "+", Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, p := range pend {
		out[p.ID] = p.Consumer
	}
	return out
}

func readNew(t *testing.T, q *stream.Queue, n int) []string {
	t.Helper()
	entries, err := q.ReadNew(t.Context(), n, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	if len(ids) != n {
		t.Fatalf("read %d entries, want %d", len(ids), n)
	}
	return ids
}

// TestTakeOverClaimsPreviousConsumer: the new holder of a key's lease takes
// every entry the key's previous consumer had read, at once.
func TestTakeOverClaimsPreviousConsumer(t *testing.T) {
	_, rdb, _ := newQueue(t, stream.Options{})
	old := consumerQueue(rdb, "host-1/w", testKeys.Wallet)
	if n, err := old.TakeOver(t.Context()); err != nil || n != 0 {
		t.Fatalf("first TakeOver = %d, %v; want 0, nil", n, err)
	}
	for i := range 5 {
		enqueue(t, rdb, "e"+string(rune('a'+i)))
	}
	ids := readNew(t, old, 3)
	other := consumerQueue(rdb, "host-9/x", "0xother")
	otherIDs := readNew(t, other, 2)

	next := consumerQueue(rdb, "host-2/w", testKeys.Wallet)
	n, err := next.TakeOver(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("TakeOver = %d, %v; want 3, nil", n, err)
	}
	got := pendingBy(t, rdb)
	for _, id := range ids {
		if got[id] != "host-2/w" {
			t.Errorf("entry %s pending under %q, want host-2/w", id, got[id])
		}
	}
	for _, id := range otherIDs {
		if got[id] != "host-9/x" {
			t.Errorf("another key's entry %s moved to %q", id, got[id])
		}
	}
	if c, _ := rdb.Get(t.Context(), next.ConsumerKey()).Result(); c != "host-2/w" {
		t.Errorf("recorded consumer = %q, want host-2/w", c)
	}
	if ok, _ := rdb.SIsMember(t.Context(), stream.WalletsKey(testKeys.Stream), testKeys.Wallet).Result(); !ok {
		t.Error("wallet not registered")
	}
	// The previous consumer, with nothing left pending, is gone from the group.
	cs, err := rdb.XInfoConsumers(t.Context(), testKeys.Stream, testKeys.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == "host-1/w" {
			t.Errorf("previous consumer %s kept with %d pending", c.Name, c.Pending)
		}
	}
	// Its own pending list now holds them, as the relay reads it.
	own, err := next.ReadOwnPending(t.Context(), "0", 10)
	if err != nil || len(own) != 3 {
		t.Fatalf("ReadOwnPending after TakeOver = %d entries, %v; want 3", len(own), err)
	}
}

// TestTouchMovesJournaledEntries: a relay claims its journal's entries from
// wherever they are pending; ids no longer pending are skipped.
func TestTouchMovesJournaledEntries(t *testing.T) {
	_, rdb, _ := newQueue(t, stream.Options{})
	a := consumerQueue(rdb, "dead", testKeys.Wallet)
	enqueue(t, rdb, "x")
	enqueue(t, rdb, "y")
	ids := readNew(t, a, 2)
	if err := a.Ack(t.Context(), stream.Settled{EntryID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	b := consumerQueue(rdb, "alive", testKeys.Wallet)
	if err := b.Touch(t.Context(), ids...); err != nil {
		t.Fatal(err)
	}
	got := pendingBy(t, rdb)
	if len(got) != 1 || got[ids[0]] != "alive" {
		t.Fatalf("pending = %v, want only %s under alive", got, ids[0])
	}
}

// TestClaimIdle: entries idle under a silent consumer go to a live relay,
// except the one a wallet's journal records; each claim is counted, and the
// count goes with the acknowledgement.
func TestClaimIdle(t *testing.T) {
	ctx := t.Context()
	_, rdb, _ := newQueue(t, stream.Options{})
	dead := consumerQueue(rdb, "depeg-backend-processor-consumer", testKeys.Wallet)
	if _, err := dead.TakeOver(ctx); err != nil { // registers the wallet
		t.Fatal(err)
	}
	for _, e := range []string{"a", "b", "c", "d"} {
		enqueue(t, rdb, e)
	}
	ids := readNew(t, dead, 4)
	if err := dead.Record(ctx, stream.TxRecord{Nonce: 7, EntryID: ids[0], EntityID: "a",
		Hashes: []string{"0x01"}, RawTx: "0x02", SignedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	live := consumerQueue(rdb, "host-1/0xlive", "0xlive")
	const idle = 50 * time.Millisecond
	var claimed []stream.Claimed
	eventually(t, func() bool {
		var err error
		claimed, err = live.ClaimIdle(ctx, idle, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(claimed) > 0
	})
	var got []string
	for _, c := range claimed {
		got = append(got, c.ID)
		if c.Claims != 1 {
			t.Errorf("entry %s claimed %d times, want 1", c.ID, c.Claims)
		}
	}
	if !slices.Equal(got, ids[1:]) {
		t.Fatalf("claimed %v, want %v (not the journaled %s)", got, ids[1:], ids[0])
	}
	if p := pendingBy(t, rdb); p[ids[0]] != "depeg-backend-processor-consumer" {
		t.Errorf("journaled entry moved to %q", p[ids[0]])
	}

	// Claimed again from the live relay once it fell silent: the count grows.
	third := consumerQueue(rdb, "host-3/0xthird", "0xthird")
	eventually(t, func() bool {
		claimed, _ = third.ClaimIdle(ctx, idle, 1)
		return len(claimed) == 1
	})
	if claimed[0].Claims != 2 {
		t.Errorf("second claim counted %d, want 2", claimed[0].Claims)
	}
	if err := third.Ack(ctx, stream.Settled{EntryID: claimed[0].ID}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := rdb.HExists(ctx, stream.ClaimsKey(testKeys.Stream), claimed[0].ID).Result(); ok {
		t.Error("claim count kept after the ack")
	}
}

// TestClaimIdleSparesLiveConsumer: a consumer that touches its entries more
// often than the idle time keeps them, however long it holds them; the
// control is TestClaimIdle, where the same entries are claimed.
//
// A claim is a defect only if it came less than idle after the touch before
// it: the touch reset the entries' idle time no earlier than touched, and the
// claim saw them idle for idle no later than it returned. On a loaded
// machine the gap can exceed idle, and the claim is then right: such an
// attempt proves nothing, the next touch takes the entries back, and the
// test counts only the attempts that prove something, each made once the
// entries were held longer than idle (untouched, they would be claimed).
func TestClaimIdleSparesLiveConsumer(t *testing.T) {
	ctx := t.Context()
	_, rdb, _ := newQueue(t, stream.Options{})
	owner := consumerQueue(rdb, "host-1/0xowner", "0xowner")
	enqueue(t, rdb, "a")
	enqueue(t, rdb, "b")
	ids := readNew(t, owner, 2)
	held := time.Now() // the entries were delivered before this
	other := consumerQueue(rdb, "host-2/0xother", "0xother")
	const idle = 200 * time.Millisecond
	const wantChecks = 5
	attempts, checks := 0, 0
	for checks < wantChecks || time.Since(held) < 3*idle {
		if time.Since(held) > 30*time.Second {
			t.Fatalf("%d of %d claim attempts came within %s of the touch before them, want %d", checks, attempts, idle, wantChecks)
		}
		touched := time.Now()
		if err := owner.Touch(ctx, ids...); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		claimed, err := other.ClaimIdle(ctx, idle, 10)
		if err != nil {
			t.Fatal(err)
		}
		attempts++
		if time.Since(touched) < idle {
			if len(claimed) > 0 {
				t.Fatalf("claimed %v from a live consumer %s after its touch", claimed, time.Since(touched))
			}
			if start.Sub(held) >= idle {
				checks++
			}
		}
		waitFor(ctx, idle/8)
	}
	if err := owner.Touch(ctx, ids...); err != nil { // back from a claim that came too late to count, if any
		t.Fatal(err)
	}
	if p := pendingBy(t, rdb); p[ids[0]] != "host-1/0xowner" || p[ids[1]] != "host-1/0xowner" {
		t.Fatalf("pending = %v", p)
	}
	t.Logf("%d claim attempts over %s, %d within %s of a touch and none of those claimed",
		attempts, time.Since(held).Round(time.Millisecond), checks, idle)
}

func waitFor(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failFirst fails the first command named name, as a Redis outage in the
// middle of a call would, and passes everything else.
type failFirst struct {
	name string
	once sync.Once
}

func (h *failFirst) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *failFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *failFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		failed := false
		if cmd.Name() == h.name {
			h.once.Do(func() { failed = true })
		}
		if failed {
			cmd.SetErr(errors.New("injected failure"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

// TestTakeOverRetryClaims is issue 18, finding 5: the first TakeOver fails
// at its claim; the retry still claims the previous consumer's entries and
// removes that consumer. Before, TakeOver recorded its own name first, so
// the retry read it as the previous one and claimed nothing.
func TestTakeOverRetryClaims(t *testing.T) {
	srv, rdb, _ := newQueue(t, stream.Options{})
	old := consumerQueue(rdb, "host-1/w", testKeys.Wallet)
	if _, err := old.TakeOver(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		enqueue(t, rdb, "e"+string(rune('a'+i)))
	}
	ids := readNew(t, old, 4)

	flaky := srv.Client() // a client of its own, with the failing hook
	flaky.AddHook(&failFirst{name: "xclaim"})
	next := consumerQueue(flaky, "host-2/w", testKeys.Wallet)
	if n, err := next.TakeOver(t.Context()); err == nil {
		t.Fatalf("TakeOver with a failing XCLAIM = %d, nil; want the error", n)
	}
	n, err := next.TakeOver(t.Context())
	if err != nil || n != len(ids) {
		t.Fatalf("retried TakeOver = %d, %v; want %d, nil", n, err, len(ids))
	}
	got := pendingBy(t, rdb)
	for _, id := range ids {
		if got[id] != "host-2/w" {
			t.Errorf("entry %s pending under %q after the retry, want host-2/w", id, got[id])
		}
	}
	if c, _ := rdb.Get(t.Context(), next.ConsumerKey()).Result(); c != "host-2/w" {
		t.Errorf("recorded consumer = %q, want host-2/w", c)
	}
	cs, err := rdb.XInfoConsumers(t.Context(), testKeys.Stream, testKeys.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == "host-1/w" {
			t.Errorf("previous consumer kept with %d pending", c.Pending)
		}
	}
}
