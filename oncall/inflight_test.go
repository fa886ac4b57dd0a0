package oncall

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/stream"
)

// TestInflightShowsBatch: a batch record is one line of its transaction,
// "batch of N", then one line per application with its place.
func TestInflightShowsBatch(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	h := common.Hash{0xbb}.Hex()
	f := inspect.Flight{Field: "4", Record: stream.TxRecord{Nonce: 4, Kind: stream.KindBatch, Hashes: []string{h},
		SignedAt: now.Add(-time.Minute), Batch: []stream.RecordApp{{EntryID: "1-0", EntityID: "01M84VAXA3ENVW6NN6H78HSK70"},
			{EntryID: "2-0", EntityID: "01M84VAXA3ENVW6NN6H78HSK71"}, {EntryID: "3-0", EntityID: "01M84VAXA3ENVW6NN6H78HSK72"}}}}
	mined, pending := uint64(4), uint64(5)
	l := inspect.DescribeFlight("0xw", f, now, nil, &mined, &pending)
	var out bytes.Buffer
	if err := writeInflight(&out, inflightReport{Keys: []inflightKey{{Wallet: "0xw", Records: 1}}, Flights: []inspect.FlightLine{l}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"batch of 3", "#1 of 3 01M84VAXA3ENVW6NN6H78HSK70", "#3 of 3 01M84VAXA3ENVW6NN6H78HSK72"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inflight output lacks %q:\n%s", want, out.String())
		}
	}
}
