package batch

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain"
)

func TestGasFor(t *testing.T) {
	tests := []struct {
		name    string
		limits  []uint64
		dataLen int
		want    uint64
	}{
		{"empty batch costs its base", nil, 0, txBase},
		{"one application: limit, 1/63 rounded up, reserve", []uint64{63_000}, 0, txBase + 63_000 + 1_000 + reserve},
		{"rounding up: 1/63 of 63,001 is 1,001", []uint64{63_001}, 0, txBase + 63_001 + 1_001 + reserve},
		{"calldata at 16 per byte", []uint64{63_000}, 100, txBase + 1_600 + 63_000 + 1_000 + reserve},
		{"two applications", []uint64{63_000, 126_000}, 0, txBase + 63_000 + 1_000 + 126_000 + 2_000 + 2*reserve},
	}
	for _, tt := range tests {
		if got := GasFor(tt.limits, tt.dataLen); got != tt.want {
			t.Errorf("%s: GasFor = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	l := uint64(300_000)
	one := GasFor([]uint64{l}, batchDataLen(1))
	three := GasFor([]uint64{l, l, l}, batchDataLen(3))
	tests := []struct {
		name    string
		limits  []uint64
		maxApps int
		budget  uint64
		want    [][]int
	}{
		{"nothing", nil, 8, 10_000_000, nil},
		{"a lone application is not held back", []uint64{l}, 8, 10_000_000, [][]int{{0}}},
		{"all in one within both limits", []uint64{l, l, l}, 8, 10_000_000, [][]int{{0, 1, 2}}},
		{"max applications splits, in order", []uint64{l, l, l, l, l}, 2, 10_000_000, [][]int{{0, 1}, {2, 3}, {4}}},
		{"budget exactly three", []uint64{l, l, l, l}, 8, three, [][]int{{0, 1, 2}, {3}}},
		{"budget one gas short of three", []uint64{l, l, l, l}, 8, three - 1, [][]int{{0, 1}, {2, 3}}},
		{"an application over the budget goes alone", []uint64{l, 5_000_000, l}, 8, one + 1, [][]int{{0}, {1}, {2}}},
		{"maxApps 0 means no batching", []uint64{l, l}, 0, 10_000_000, [][]int{{0}, {1}}},
	}
	for _, tt := range tests {
		if got := Plan(tt.limits, tt.maxApps, tt.budget); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Plan = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestBatchDataLen: the calldata a batch's applications take, as packed.
func TestBatchDataLen(t *testing.T) {
	b := NewDepegApplicationBatch()
	for _, n := range []int{1, 2, 7} {
		apps := make([]DepegApplicationBatchApplication, n)
		for i := range apps {
			apps[i] = DepegApplicationBatchApplication{ProtectedBalance: bigOne(), Duration: bigOne(), BundleId: bigOne(),
				GasLimit: bigOne(), Signature: make([]byte, 65)}
		}
		if got := len(b.PackApplyBatch(apps)); got != batchDataLen(n) {
			t.Errorf("%d applications pack to %d bytes, batchDataLen says %d", n, got, batchDataLen(n))
		}
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func TestDecodeRoundTrip(t *testing.T) {
	apps := []chain.ApplicationArgs{
		{PolicyHolder: common.HexToAddress("0x01"), ProtectedWallet: common.HexToAddress("0x02"), ProtectedBalance: big.NewInt(3),
			Duration: big.NewInt(4), BundleID: big.NewInt(5), SignatureID: [32]byte{6}, Signature: bytes.Repeat([]byte{7}, 65)},
		{PolicyHolder: common.HexToAddress("0x11"), ProtectedWallet: common.HexToAddress("0x12"), ProtectedBalance: big.NewInt(13),
			Duration: big.NewInt(14), BundleID: big.NewInt(15), SignatureID: [32]byte{16}, Signature: bytes.Repeat([]byte{17}, 65)},
	}
	limits := []uint64{300_000, 450_000}
	call := Call(common.HexToAddress("0xbb"), apps, limits)
	gotApps, gotLimits, err := Decode(call.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotApps, apps) || !reflect.DeepEqual(gotLimits, limits) {
		t.Fatalf("round trip:\n got %+v %v\nwant %+v %v", gotApps, gotLimits, apps, limits)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, call.Data[:4], append([]byte{0, 0, 0, 0}, call.Data[4:]...), call.Data[:len(call.Data)-40]} {
		if _, _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%x...) accepted calldata that is not a whole batch", bad[:min(len(bad), 8)])
		}
	}
}
