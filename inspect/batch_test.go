package inspect

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

func TestPlaceString(t *testing.T) {
	if got := (Place{Index: 3, Size: 12}).String(); got != "#4 of 12" {
		t.Fatalf("Place{3, 12} = %q, want #4 of 12 (counted from 1)", got)
	}
}

func TestBatchPlaces(t *testing.T) {
	cur, old := common.Hash{1}, common.Hash{0xab}
	flights := []Flight{
		{Field: "1", Record: stream.TxRecord{Nonce: 1, EntityID: "S", Hashes: []string{common.Hash{9}.Hex()}}},
		{Field: "2", Record: stream.TxRecord{Nonce: 2, Kind: stream.KindBatch, Hashes: []string{old.Hex(), cur.Hex()},
			Batch: []stream.RecordApp{{EntityID: "A"}, {EntityID: "B"}, {EntityID: "C"}}}},
		{Field: "3", Record: stream.TxRecord{Nonce: 3, Kind: stream.KindGapFill, Hashes: []string{common.Hash{8}.Hex()}}},
		{Field: "x", Unreadable: "not a journal record"},
	}
	places := BatchPlaces(flights)
	if len(places) != 3 {
		t.Fatalf("places = %+v, want A, B and C only", places)
	}
	for id, i := range map[string]int{"A": 0, "B": 1, "C": 2} {
		p := places[id]
		if p.Index != i || p.Size != 3 || len(p.Hashes) != 2 || p.Hashes[0] != cur {
			t.Errorf("place of %s = %+v, want %d of 3, current hash first", id, p, i)
		}
	}

	seven := 7
	tests := []struct {
		name      string
		st        intake.Status
		wantIndex int // -1: none
		wantSize  int
	}{
		{"current hash", intake.Status{EntityID: "B", TransactionHash: cur.Hex()}, 1, 3},
		{"earlier hash, other case", intake.Status{EntityID: "C", TransactionHash: "0xAB" + old.Hex()[4:]}, 2, 3},
		{"moved on to another transaction", intake.Status{EntityID: "A", TransactionHash: common.Hash{5}.Hex()}, -1, 0},
		{"no transaction yet", intake.Status{EntityID: "A"}, -1, 0},
		{"not in a batch", intake.Status{EntityID: "S", TransactionHash: common.Hash{9}.Hex()}, -1, 0},
		{"the status tells it already", intake.Status{EntityID: "A", TransactionHash: cur.Hex(), BatchIndex: &seven, BatchSize: 9}, 7, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sts := []intake.Status{tt.st}
			placeStatuses(sts, places)
			got := sts[0]
			if tt.wantIndex < 0 {
				if got.BatchIndex != nil || got.BatchSize != 0 {
					t.Fatalf("placed at %d of %d, want no place", *got.BatchIndex, got.BatchSize)
				}
				return
			}
			if got.BatchIndex == nil || *got.BatchIndex != tt.wantIndex || got.BatchSize != tt.wantSize {
				t.Fatalf("place = %v of %d, want %d of %d", got.BatchIndex, got.BatchSize, tt.wantIndex, tt.wantSize)
			}
		})
	}
}
