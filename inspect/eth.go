package inspect

import (
	"math/big"
	"strings"
)

// ReadableEth renders an exact ETH amount as the monitor reports it
// ("999.999873452000000001") for people, in the console and the CLI alike:
// four decimals, rounded, trailing zeros dropped, "< 0.0001" for a dust
// balance that would read as zero, and "unknown" when there is none.
func ReadableEth(eth string) string {
	r, ok := new(big.Rat).SetString(eth)
	if eth == "" || !ok {
		return "unknown"
	}
	s := r.FloatString(4)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "0" && r.Sign() > 0 {
		s = "< 0.0001"
	}
	return s + " ETH"
}
