package monitor

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/params"
)

// weiPerEther and weiPerGwei are functions, not package variables, so that no
// caller can mutate a shared *big.Int by accident.
func weiPerEther() *big.Int { return big.NewInt(params.Ether) }
func weiPerGwei() *big.Int  { return big.NewInt(params.GWei) }

// formatEth renders wei as an exact decimal ETH amount without trailing
// zeros ("0.5", "1", "0.000000000000000001"). Exact, because the monitor body
// is read by people comparing it with a block explorer.
func formatEth(wei *big.Int) string {
	if wei == nil {
		return ""
	}
	sign := ""
	abs := new(big.Int).Set(wei)
	if abs.Sign() < 0 {
		sign = "-"
		abs.Neg(abs)
	}
	whole, frac := new(big.Int).QuoRem(abs, weiPerEther(), new(big.Int))
	if frac.Sign() == 0 {
		return sign + whole.String()
	}
	f := strings.TrimRight(fmt.Sprintf("%018s", frac.String()), "0")
	return sign + whole.String() + "." + f
}

// FormatEth is formatEth for the other views of the same amounts (the CLI's
// status), so they show what the monitor shows.
func FormatEth(wei *big.Int) string { return formatEth(wei) }

// FormatGwei renders wei exactly in gwei without trailing zeros ("1.5
// gwei"); "" for nil.
func FormatGwei(wei *big.Int) string {
	if wei == nil {
		return ""
	}
	r := new(big.Rat).SetFrac(wei, weiPerGwei())
	return strings.TrimRight(strings.TrimRight(r.FloatString(9), "0"), ".") + " gwei"
}

// ratioFloat returns num/den as a float64 for gauges, where a rounding error
// in the 16th digit does not matter but an overflow of int64 would.
func ratioFloat(num, den *big.Int) float64 {
	f, _ := new(big.Rat).SetFrac(num, den).Float64()
	return f
}

// toFloat converts x for a gauge or counter; float64 holds any wei amount
// within its 15-16 significant digits.
func toFloat(x *big.Int) float64 {
	f, _ := new(big.Float).SetInt(x).Float64()
	return f
}

func weiToEth(wei *big.Int) float64  { return ratioFloat(wei, weiPerEther()) }
func weiToGwei(wei *big.Int) float64 { return ratioFloat(wei, weiPerGwei()) }

// formatAge renders a duration the way the monitor messages do: whole seconds
// ("75s") for anything a person would read as seconds, finer only below 10s
// when the value is not whole.
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d >= 10*time.Second || d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.Round(time.Millisecond).String()
}

// seconds returns d in seconds rounded to milliseconds, as a pointer because
// report figures are omitted when unknown but shown when zero.
func seconds(d time.Duration) *float64 {
	if d < 0 {
		d = 0
	}
	s := math.Round(d.Seconds()*1000) / 1000
	return &s
}

// userinfoRE matches the credentials part of a URL ("redis://:secret@host",
// "https://user:key@node").
var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@"']*@`)

const maxErrText = 300

// describeError renders err for the public monitor body and logs. RPC URLs
// often carry an API key in their path (Infura, Alchemy) and Redis URLs carry
// a password, and net/http puts the whole URL into its errors, so URLs are
// cut down to scheme and host and any userinfo is masked. The text is also
// bounded, because a node may answer with a whole HTML page.
func describeError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = strings.ReplaceAll(msg, ue.URL, redactURL(ue.URL))
	}
	msg = userinfoRE.ReplaceAllString(msg, "${1}***@")
	if len(msg) > maxErrText {
		msg = msg[:maxErrText] + "..."
	}
	return msg
}

// redactURL keeps scheme and host of raw, which is enough to tell which
// endpoint failed, and drops path, query and credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/..."
	}
	return s
}
