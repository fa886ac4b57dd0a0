package preflight

import (
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/params"
)

// TestFeeCapWarnings: a cap below the base fee, or below a gwei, is warned
// about; a cap at or above both is not, and no base fee (before London) is
// no warning of its own.
func TestFeeCapWarnings(t *testing.T) {
	gwei := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.GWei)) }
	for _, tc := range []struct {
		name         string
		cap, baseFee *big.Int
		want         []string
	}{
		{"default cap, low base fee", gwei(30), gwei(7), nil},
		{"cap at the base fee", gwei(7), gwei(7), nil},
		{"cap below the base fee", gwei(7), gwei(8), []string{WarnCapBelowBaseFee}},
		{"30 wei meant as gwei", big.NewInt(30), gwei(7), []string{WarnCapBelowBaseFee, WarnCapBelowOneGwei}},
		{"below a gwei on a cheap chain", big.NewInt(500_000_000), big.NewInt(7), []string{WarnCapBelowOneGwei}},
		{"no base fee (before London)", gwei(30), nil, nil},
	} {
		if got := FeeCapWarnings(tc.cap, tc.baseFee); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
