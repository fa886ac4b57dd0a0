package stream

import (
	"reflect"
	"testing"
	"time"
)

func TestRecordApplications(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	batch := []RecordApp{{EntryID: "1-0", EntityID: "a"}, {EntryID: "2-0", EntityID: "b", EnqueuedAt: at}}
	for _, tc := range []struct {
		name string
		rec  TxRecord
		want []RecordApp
	}{
		{"single", TxRecord{EntryID: "1-0", EntityID: "a", EnqueuedAt: at}, []RecordApp{{EntryID: "1-0", EntityID: "a", EnqueuedAt: at}}},
		{"gap fill", TxRecord{Kind: KindGapFill}, nil},
		{"batch", TxRecord{Kind: KindBatch, Batch: batch}, batch},
		// A batch's list is what it carries, whatever the single fields say.
		{"batch ignores the single fields", TxRecord{Kind: KindBatch, EntryID: "9-0", Batch: batch}, batch},
	} {
		if got := tc.rec.Applications(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Applications() = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeTxRecordRefusesAnEmptyBatch(t *testing.T) {
	if _, err := DecodeTxRecord("7", `{"nonce":7,"kind":"batch","hashes":["0x01"]}`); err == nil {
		t.Fatal("a batch record listing no applications was accepted")
	}
	r, err := DecodeTxRecord("7", `{"nonce":7,"kind":"batch","hashes":["0x01"],"batch":[{"entryId":"1-0","entityId":"a"}]}`)
	if err != nil || len(r.Applications()) != 1 || r.Applications()[0].EntityID != "a" {
		t.Fatalf("batch record: %+v, %v", r, err)
	}
}
