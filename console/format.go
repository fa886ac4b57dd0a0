package console

import (
	"fmt"
	"html/template"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{}

// age renders a duration for people: "4.2 s", "35 s", "12 min", "3.5 h",
// "2.1 d".
func age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < 2*time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case d < 2*time.Hour:
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	case d < 48*time.Hour:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	}
	return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " d"
}

// weiPerEth is 10^18, built per call so no shared *big.Int can be mutated.
func weiPerEth() *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil) }

// ethFloat converts wei for the chart, where 16 digits are plenty.
func ethFloat(wei *big.Int) float64 {
	f, _ := new(big.Rat).SetFrac(wei, weiPerEth()).Float64()
	return f
}

// ethString renders wei as ETH with four significant digits.
func ethString(wei *big.Int) string {
	return strconv.FormatFloat(ethFloat(wei), 'g', 4, 64)
}

// parseEth reads a decimal ETH amount of the report ("1", "0.5").
func parseEth(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// gwei renders a fee in gwei.
func gwei(wei *big.Int) string {
	if wei == nil {
		return ""
	}
	f, _ := new(big.Rat).SetFrac(wei, big.NewInt(1e9)).Float64()
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".") + " gwei"
}
