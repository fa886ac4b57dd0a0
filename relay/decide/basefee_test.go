package decide

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestNextBaseFee pins the EIP-1559 arithmetic the replacement rule relies
// on, with the figures worked by hand: a full block raises the base fee by
// 1/8, an empty one lowers it by 1/8, one at the target (half the gas limit)
// keeps it, and a rise is at least 1 wei.
func TestNextBaseFee(t *testing.T) {
	head := func(baseFee int64, used, limit uint64) *types.Header {
		return &types.Header{Number: big.NewInt(100), BaseFee: big.NewInt(baseFee), GasUsed: used, GasLimit: limit}
	}
	tests := []struct {
		name string
		head *types.Header
		want *big.Int
	}{
		{"full block: +12.5%", head(800_000_000, 30_000_000, 30_000_000), big.NewInt(900_000_000)},
		{"empty block: -12.5%", head(800_000_000, 0, 30_000_000), big.NewInt(700_000_000)},
		{"at the target: unchanged", head(800_000_000, 15_000_000, 30_000_000), big.NewInt(800_000_000)},
		{"half-way above the target: +6.25%", head(800_000_000, 22_500_000, 30_000_000), big.NewInt(850_000_000)},
		{"one gas over the target: +1 wei at least", head(7, 15_000_001, 30_000_000), big.NewInt(8)},
		{"full at the floor, rounded down to 0: +1 wei", head(7, 30_000_000, 30_000_000), big.NewInt(8)},
		{"empty at 7 wei: rounded down to no change", head(7, 0, 30_000_000), big.NewInt(7)},
		{"before London", &types.Header{Number: big.NewInt(100), GasLimit: 30_000_000}, nil},
		{"no header", nil, nil},
		{"gas limit 1 (no target): kept, no division by zero", head(1000, 1, 1), big.NewInt(1000)},
		{"gas limit 0: kept", head(1000, 0, 0), big.NewInt(1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NextBaseFee(tc.head)
			if (got == nil) != (tc.want == nil) || (got != nil && got.Cmp(tc.want) != 0) {
				t.Fatalf("NextBaseFee = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNextBaseFeeDoesNotAlias: the result is a value of its own, so a caller
// adding a tip to it cannot change the header's base fee.
func TestNextBaseFeeDoesNotAlias(t *testing.T) {
	for _, used := range []uint64{0, 15_000_000, 30_000_000} {
		h := &types.Header{Number: big.NewInt(1), BaseFee: big.NewInt(1000), GasUsed: used, GasLimit: 30_000_000}
		NextBaseFee(h).SetInt64(1)
		if h.BaseFee.Int64() != 1000 {
			t.Fatalf("gas used %d: the header's base fee changed to %v", used, h.BaseFee)
		}
	}
	h := &types.Header{Number: big.NewInt(1), BaseFee: big.NewInt(1000), GasLimit: 1}
	NextBaseFee(h).SetInt64(1)
	if h.BaseFee.Int64() != 1000 {
		t.Fatalf("gas limit 1: the header's base fee changed to %v", h.BaseFee)
	}
}
