package chain

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// sampleReceipt is a receipt as a node sends it for one application: three
// logs with data, the block fields set.
func sampleReceipt(logs int) *types.Receipt {
	r := &types.Receipt{Type: types.DynamicFeeTxType, Status: types.ReceiptStatusSuccessful,
		CumulativeGasUsed: 5_533_160, TxHash: crypto.Keccak256Hash([]byte("tx")), GasUsed: 276_658,
		EffectiveGasPrice: big.NewInt(1_234_567_890), BlockHash: crypto.Keccak256Hash([]byte("block")),
		BlockNumber: big.NewInt(4242), TransactionIndex: 19, Logs: []*types.Log{}}
	for i := range logs {
		l := &types.Log{Address: common.HexToAddress("0xD82ECD693B6223a5A6fFA82536CB47D01C6EeA3e"),
			Topics:      []common.Hash{crypto.Keccak256Hash([]byte{byte(i)}), crypto.Keccak256Hash([]byte{1, byte(i)})},
			Data:        []byte(strings.Repeat("\x01\x02\x03", 64+i)),
			BlockNumber: 4242, TxHash: r.TxHash, TxIndex: 19, BlockHash: r.BlockHash, BlockTimestamp: 1_796_633_638, Index: uint(100 + i), Removed: i == 2}
		r.Logs = append(r.Logs, l)
	}
	r.Bloom = types.CreateBloom(r)
	return r
}

// decodeBoth decodes raw as Receipts did with go-ethereum's type and as it
// does now.
func decodeBoth(t *testing.T, raw string) (want *types.Receipt, wantErr error, got *types.Receipt, gotErr error) {
	t.Helper()
	// As byHash decoded it: into a *types.Receipt, which stays nil for null.
	if wantErr = json.Unmarshal([]byte(raw), &want); wantErr != nil {
		want = nil
	}
	var d *rpcReceipt
	if gotErr = json.Unmarshal([]byte(raw), &d); gotErr == nil && d != nil {
		got, gotErr = d.receipt()
	}
	return want, wantErr, got, gotErr
}

// sameTypes names rpcReceipt's types in errors as go-ethereum's are named.
var sameTypes = strings.NewReplacer("rpcReceipt", "Receipt", "rpcLog", "Log")

// TestReceiptDecodesAsGoEthereum: the one-pass decoding gives the receipt
// (logs and all) and the errors that types.Receipt.UnmarshalJSON gives, for
// receipts of every shape a node sends and with each required field gone.
func TestReceiptDecodesAsGoEthereum(t *testing.T) {
	var cases []string
	for _, r := range []*types.Receipt{
		sampleReceipt(0), sampleReceipt(3),
		{Type: types.LegacyTxType, PostState: common.Hash{1}.Bytes(), CumulativeGasUsed: 21_000, GasUsed: 21_000,
			TxHash: common.Hash{2}, ContractAddress: common.Address{3}, Logs: []*types.Log{}},
		{Type: types.BlobTxType, Status: types.ReceiptStatusFailed, CumulativeGasUsed: 1, GasUsed: 1,
			BlobGasUsed: 131072, BlobGasPrice: big.NewInt(7), TxHash: common.Hash{4}, Logs: []*types.Log{},
			BlockHash: common.Hash{5}, BlockNumber: big.NewInt(1)},
	} {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(raw))
	}
	full := cases[1]
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(full), &fields); err != nil {
		t.Fatal(err)
	}
	for name := range fields { // each field gone in turn
		without := map[string]json.RawMessage{}
		for k, v := range fields {
			if k != name {
				without[k] = v
			}
		}
		raw, _ := json.Marshal(without)
		cases = append(cases, string(raw))
	}
	var logFields map[string]json.RawMessage
	var logs []json.RawMessage
	_ = json.Unmarshal(fields["logs"], &logs)
	_ = json.Unmarshal(logs[1], &logFields)
	for name := range logFields { // each field of the second log gone in turn
		without := map[string]json.RawMessage{}
		for k, v := range logFields {
			if k != name {
				without[k] = v
			}
		}
		l, _ := json.Marshal(without)
		cases = append(cases, strings.Replace(full, string(logs[1]), string(l), 1))
	}
	cases = append(cases,
		strings.Replace(full, string(logs[1]), "null", 1), // a null log
		strings.Replace(full, `"status":"0x1"`, `"status":1`, 1),
		`{}`, `null`)

	for _, raw := range cases {
		want, wantErr, got, gotErr := decodeBoth(t, raw)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && sameTypes.Replace(gotErr.Error()) != wantErr.Error()) {
			t.Errorf("%.120s...: error %v, go-ethereum's %v", raw, gotErr, wantErr)
			continue
		}
		if raw == "null" {
			if got != nil {
				t.Errorf("null: receipt %v", got)
			}
			continue
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%.120s...:\n got %+v\nwant %+v", raw, got, want)
		}
	}
}

// BenchmarkReceiptDecode decodes one receipt with three logs from the JSON
// a batch element's result holds: go-ethereum's types.Receipt against the
// one-pass rpcReceipt.
func BenchmarkReceiptDecode(b *testing.B) {
	raw, err := json.Marshal(sampleReceipt(3))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("types.Receipt", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var r *types.Receipt
			if err := json.Unmarshal(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rpcReceipt", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var d *rpcReceipt
			if err := json.Unmarshal(raw, &d); err != nil {
				b.Fatal(err)
			}
			if _, err := d.receipt(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
