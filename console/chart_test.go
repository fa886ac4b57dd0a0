package console

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/monitor"
)

func ethWei(eth int64) *big.Int { return new(big.Int).Mul(big.NewInt(eth), weiPerEth()) }

func TestChart(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	span := 6 * time.Hour
	if newChart(nil, 1, true, now, span) != nil {
		t.Fatal("chart without samples")
	}
	samples := []monitor.BalanceSample{
		{At: now.Add(-5 * time.Hour), Wei: ethWei(20)},
		{At: now.Add(-time.Hour), Wei: ethWei(12)},
		{At: now, Wei: ethWei(10)},
	}
	c := newChart(samples, 8, true, now, span)
	if !c.HasAlert || len(strings.Fields(c.Line)) != 3 || c.Last != "10 ETH" {
		t.Fatalf("chart %+v", c)
	}
	for _, p := range strings.Fields(c.Line + " " + c.Area) {
		var x, y float64
		if _, err := fmt.Sscanf(p, "%g,%g", &x, &y); err != nil || x < 0 || x > chartW || y < 0 || y > chartH {
			t.Fatalf("point %q outside the viewBox", p)
		}
	}
	// The newest sample is at the right edge, the alert line below the line.
	if last := strings.Fields(c.Line)[2]; !strings.HasPrefix(last, coord(chartW-padR)+",") {
		t.Fatalf("last point %s not at the right edge", last)
	}
	// An alert far below the balance is named, not drawn.
	rich := []monitor.BalanceSample{{At: now.Add(-time.Hour), Wei: ethWei(1000)}, {At: now, Wei: ethWei(998)}}
	far := newChart(rich, 1, true, now, span)
	if far.HasAlert || !strings.Contains(far.AlertLabel, "far below") {
		t.Fatalf("far alert %+v", far)
	}
	// One reading draws a level line to now.
	one := newChart(samples[:1], 0, false, now, span)
	if n := len(strings.Fields(one.Line)); n != 2 {
		t.Fatalf("single reading: %d points", n)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4200 * time.Millisecond: "4.2 s", 35 * time.Second: "35 s", 12 * time.Minute: "12 min",
		210 * time.Minute: "3.5 h", 50 * time.Hour: "2.1 d", -time.Second: "0.0 s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if got := gwei(big.NewInt(1_500_000_000)); got != "1.5 gwei" {
		t.Errorf("gwei %q", got)
	}
}
