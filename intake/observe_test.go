package intake

import (
	"slices"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/stream"
)

func TestSubmissions(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	h := "0x" + "ab"
	single := stream.TxRecord{Nonce: 1, EntryID: "1-0", EntityID: "A", Hashes: []string{h}, SignedAt: at}
	batch := stream.TxRecord{Nonce: 2, Kind: stream.KindBatch, Hashes: []string{h}, SignedAt: at,
		Batch: []stream.RecordApp{{EntryID: "2-0", EntityID: "B"}, {EntryID: "3-0", EntityID: "C"}, {EntryID: "4-0", EntityID: "D"}}}
	bumped := batch
	bumped.Hashes = []string{h, h + "cd"}
	replacing := batch
	replacing.NextRawTx = "0x02"
	current := batch
	current.Current = h
	gap := stream.TxRecord{Nonce: 3, Kind: stream.KindGapFill, Hashes: []string{h}}
	tests := []struct {
		name string
		recs []stream.TxRecord
		want []string // entity ids told submitted, in order
	}{
		{"single", []stream.TxRecord{single}, []string{"A"}},
		{"batch: every application", []stream.TxRecord{batch}, []string{"B", "C", "D"}},
		{"single and batch in one write", []stream.TxRecord{single, batch}, []string{"A", "B", "C", "D"}},
		{"batch replacement signed", []stream.TxRecord{bumped}, nil},
		{"batch replacement under way", []stream.TxRecord{replacing}, nil},
		{"batch replacement's outcome", []stream.TxRecord{current}, nil},
		{"gap fill", []stream.TxRecord{gap}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := submissions(tt.recs)
			var ids []string
			for _, c := range got {
				ids = append(ids, c.EntityID)
				if c.State != stream.StateSubmitted || c.TxHash != h || !c.At.Equal(at) || c.EntryID == "" {
					t.Errorf("change %+v: want submitted in %s at %v with its entry", c, h, at)
				}
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("submitted %v, want %v", ids, tt.want)
			}
		})
	}
}
