package stream_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

func TestDeadLetterReadsItsPlaceBack(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	q := stream.NewQueue(rdb, stream.Keys{Stream: "s", Group: "g", Consumer: "c", DeadLetter: "s:dead", Wallet: "0xabc"})
	for _, d := range []stream.DeadLetter{
		{EntryID: "1-0", EntityID: "a", Class: stream.ClassReverted, Reason: "in a batch", BatchIndex: 3, BatchSize: 12},
		{EntryID: "2-0", EntityID: "b", Class: stream.ClassReverted, Reason: "alone"},
	} {
		if err := q.DeadLetter(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	// A hand-written entry with a place outside its batch reads as none.
	if err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: "s:dead", Values: map[string]any{
		"entryId": "3-0", "batchIndex": "12", "batchSize": "12"}}).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := q.DeadLetters(t.Context(), "", 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("dead letters %+v (%v), want 3", got, err)
	}
	want := map[string][2]int{"1-0": {3, 12}, "2-0": {0, 0}, "3-0": {0, 0}}
	for _, d := range got {
		if w := want[d.EntryID]; d.BatchIndex != w[0] || d.BatchSize != w[1] {
			t.Errorf("dead letter of %s read back at %d of %d, want %d of %d", d.EntryID, d.BatchIndex, d.BatchSize, w[0], w[1])
		}
	}
}
