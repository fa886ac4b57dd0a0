package stream_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/stream"
)

// TestOwnerStale: a claim on an application guards it while its owner can
// still sign for it: the owner key holds the entry (its consumer's pending
// list) and lives, or its journal records a transaction for it. It is
// stale once the entry is acknowledged, once the owner key is held by no
// live process and journaled nothing, and once the entry moved to another
// key's consumer and the owner journaled nothing: the owner never reads it
// again (e2e/fence once left an application unsigned behind such a claim).
func TestOwnerStale(t *testing.T) {
	_, rdb, _ := newQueue(t, stream.Options{})
	ctx := t.Context()
	const a, b = "0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000bb"
	qa, qb := consumerQueue(rdb, "p1/"+a, a), consumerQueue(rdb, "p1/"+b, b)
	for _, q := range []*stream.Queue{qa, qb} {
		if _, err := q.TakeOver(ctx); err != nil { // registers each key's consumer
			t.Fatal(err)
		}
	}
	id := enqueue(t, rdb, "app-1")
	if got := readNew(t, qa, 1); len(got) != 1 {
		t.Fatalf("key a read %v", got)
	}
	owner := stream.Owner{Wallet: a, EntryID: id}
	alive := true
	live := func(context.Context, string) (bool, error) { return alive, nil }
	stale := func(want bool, when string) {
		t.Helper()
		got, err := qb.OwnerStale(ctx, owner, live)
		if err != nil || got != want {
			t.Fatalf("%s: stale = %v (%v), want %v", when, got, err, want)
		}
	}
	stale(false, "the owner holds the entry and lives")
	alive = false
	stale(true, "the owner holds the entry, nobody holds its key, nothing journaled")
	alive = true
	if err := rdb.XClaim(ctx, &redis.XClaimArgs{Stream: testKeys.Stream, Group: testKeys.Group, Consumer: qb.Consumer(),
		Messages: []string{id}}).Err(); err != nil {
		t.Fatal(err)
	}
	stale(true, "the entry moved to key b, the owner lives, nothing journaled")
	if err := qa.Record(ctx, stream.TxRecord{Nonce: 0, EntryID: id, EntityID: "app-1", Hashes: []string{"0x01"}, RawTx: "0x01"}); err != nil {
		t.Fatal(err)
	}
	stale(false, "the entry moved to key b, the owner journaled a transaction for it")
	if err := rdb.XAck(ctx, testKeys.Stream, testKeys.Group, id).Err(); err != nil {
		t.Fatal(err)
	}
	stale(true, "the entry acknowledged")
}
