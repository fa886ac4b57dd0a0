package stream_test

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/stream"
)

// TestStatusStoreBatchPlace: a confirmation or rejection inside a batch
// transaction keeps its place (issue 22) through a round trip on a real
// redis-server; an outcome of a transaction of its own clears a place left
// by an earlier one, and records written before batching (no fields) or
// damaged ones read as not a batch.
func TestStatusStoreBatchPlace(t *testing.T) {
	rdb := intakeRedis(t)
	ss := stream.NewStatusStore(rdb, intakeStream, time.Hour)
	keys := stream.NewIntakeKeys(intakeStream)
	ctx := t.Context()
	read := func(id string) stream.StatusRecord {
		t.Helper()
		rec, found, _, err := ss.Read(ctx, id)
		if err != nil || !found {
			t.Fatalf("read %s: found %v, %v", id, found, err)
		}
		return rec
	}
	tx := common.Hash{0xba}

	// Confirmed in a batch: the place is stored and read back.
	if err := ss.Confirmed(ctx,
		stream.Confirmation{EntityID: "C0", EntryID: "1-0", TxHash: tx, Block: 9, BatchIndex: 0, BatchSize: 3},
		stream.Confirmation{EntityID: "C2", EntryID: "3-0", TxHash: tx, Block: 9, BatchIndex: 2, BatchSize: 3},
		stream.Confirmation{EntityID: "S", EntryID: "4-0", TxHash: common.Hash{0x51}, Block: 9},
	); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id          string
		index, size int
	}{{"C0", 0, 3}, {"C2", 2, 3}, {"S", 0, 0}} {
		rec := read(tc.id)
		if rec.State != stream.StateConfirmed || rec.BatchIndex != tc.index || rec.BatchSize != tc.size {
			t.Errorf("%s: record %+v, want confirmed, batch place %d of %d", tc.id, rec, tc.index, tc.size)
		}
	}
	if n := rdb.HExists(ctx, keys.Status("S"), "batchSize").Val(); n {
		t.Error("a confirmation of a transaction of its own wrote batchSize")
	}

	// Confirmed again by a transaction of its own (a later, single
	// transaction after a crash): the batch place goes.
	if err := ss.Confirmed(ctx, stream.Confirmation{EntityID: "C2", EntryID: "3-0", TxHash: common.Hash{0x52}, Block: 10}); err != nil {
		t.Fatal(err)
	}
	if rec := read("C2"); rec.BatchSize != 0 || rec.BatchIndex != 0 || rec.TxHash != (common.Hash{0x52}).Hex() {
		t.Errorf("C2 after a single confirmation: %+v, want no batch place", rec)
	}

	// Rejected inside a batch: state, transaction and place.
	if err := ss.Rejected(ctx, stream.DeadLetter{EntityID: "R1", EntryID: "5-0", Class: stream.ClassReverted,
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", TxHash: tx.Hex(), BatchIndex: 1, BatchSize: 3}); err != nil {
		t.Fatal(err)
	}
	rec := read("R1")
	if rec.State != stream.StateRejected || rec.TxHash != tx.Hex() || rec.BatchIndex != 1 || rec.BatchSize != 3 ||
		rec.Class != stream.ClassReverted {
		t.Errorf("R1: %+v, want rejected in %s, batch place 1 of 3", rec, tx.Hex())
	}
	// Rejected again outside a batch (replayed, then rejected by the
	// intake's simulation): no transaction, no place.
	if err := ss.Rejected(ctx, stream.DeadLetter{EntityID: "R1", EntryID: "6-0", Class: "funds", Reason: "DP-014"}); err != nil {
		t.Fatal(err)
	}
	if rec := read("R1"); rec.TxHash != "" || rec.BatchSize != 0 || rec.BatchIndex != 0 || rec.Class != "funds" {
		t.Errorf("R1 rejected outside a batch: %+v, want no transaction and no place", rec)
	}
	// A rejection never hides a confirmation, place included.
	if err := ss.Rejected(ctx, stream.DeadLetter{EntityID: "C0", Class: "malformed", Reason: "hash missing"}); err != nil {
		t.Fatal(err)
	}
	if rec := read("C0"); rec.State != stream.StateConfirmed || rec.BatchIndex != 0 || rec.BatchSize != 3 {
		t.Errorf("C0 after a late rejection: %+v, want confirmed, batch place 0 of 3", rec)
	}

	// Old and damaged records read as not a batch.
	for id, fields := range map[string][]any{
		"old":      {"state", "confirmed", "entityId", "old", "transactionHash", tx.Hex(), "block", "3"},
		"no size":  {"state", "confirmed", "batchIndex", "1"},
		"outside":  {"state", "confirmed", "batchIndex", "3", "batchSize", "3"},
		"negative": {"state", "rejected", "batchIndex", "-1", "batchSize", "3"},
		"garbage":  {"state", "rejected", "batchIndex", "x", "batchSize", "3"},
	} {
		if err := rdb.HSet(ctx, keys.Status(id), fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if rec := read(id); rec.BatchIndex != 0 || rec.BatchSize != 0 {
			t.Errorf("%s: read %+v, want no batch place", id, rec)
		}
	}
}

// TestDeadLetterBatchFields: a dead letter of an application that failed
// inside a batch carries batchIndex and batchSize; one of a transaction of
// its own has exactly the fields it always had.
func TestDeadLetterBatchFields(t *testing.T) {
	rdb := intakeRedis(t)
	keys := stream.Keys{Stream: intakeStream, Group: "g", Consumer: "c", DeadLetter: "dead", Wallet: "w"}
	q := stream.NewQueue(rdb, keys)
	ctx := t.Context()
	if err := q.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	for _, d := range []stream.DeadLetter{
		{EntryID: "1-0", EntityID: "B", Class: stream.ClassReverted, Reason: "r", TxHash: "0xab", At: at, BatchIndex: 4, BatchSize: 7},
		{EntryID: "2-0", EntityID: "S", Class: stream.ClassReverted, Reason: "r", TxHash: "0xcd", At: at},
	} {
		if err := q.DeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := rdb.XRange(ctx, "dead", "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("dead letters %v (%v), want 2", msgs, err)
	}
	if v := msgs[0].Values; v["batchIndex"] != "4" || v["batchSize"] != "7" {
		t.Errorf("batch dead letter %v, want batchIndex 4, batchSize 7", v)
	}
	want := map[string]bool{"entryId": true, "entityId": true, "class": true, "reason": true, "time": true, "transactionHash": true}
	for k := range msgs[1].Values {
		if !want[k] {
			t.Errorf("dead letter of a transaction of its own has field %q", k)
		}
	}
	if len(msgs[1].Values) != len(want) {
		t.Errorf("dead letter of a transaction of its own: %v, want the fields %v", msgs[1].Values, want)
	}
}
