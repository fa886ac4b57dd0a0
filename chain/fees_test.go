package chain

import (
	"math/big"
	"testing"
)

// The replacement rule in wei, where rounding shows: a node takes a
// same-nonce replacement only when both fees are at least +10%, and a
// fraction of a wei short is short.
func TestClearsReplacementBoundary(t *testing.T) {
	for _, tc := range []struct {
		name      string
		old, next int64
		want      bool
	}{
		{"exactly +10%", 100, 110, true},
		{"one wei short of +10%", 100, 109, false},
		{"+10% is 111.1: 111 is short", 101, 111, false},
		{"+10% is 111.1, rounded up to 112", 101, 112, true},
		{"equal", 100, 100, false},
		{"lower", 100, 90, false},
		{"zero to zero is not higher", 0, 0, false},
		{"zero to one wei", 0, 1, true},
		{"one to two wei (+10% of 1 rounds up to 2)", 1, 2, true},
		{"one to one wei", 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clearsReplacement(big.NewInt(tc.old), big.NewInt(tc.next)); got != tc.want {
				t.Fatalf("clearsReplacement(%d, %d) = %v, want %v", tc.old, tc.next, got, tc.want)
			}
		})
	}
}

// Bump rounds up: a +10% of 101 wei that rounded down (111) would be
// refused by geth, which wants 111.1.
func TestBumpRoundsUp(t *testing.T) {
	p := FeePolicy{MaxFee: big.NewInt(1000)}
	for _, tc := range []struct {
		in, percent, want int64
	}{
		{101, 10, 112},
		{100, 10, 110},
		{1, 10, 2},
		{0, 10, 0},
		{50, 1, 51},
	} {
		b, capped := p.Bump(Fees{FeeCap: big.NewInt(tc.in), TipCap: big.NewInt(tc.in)}, tc.percent)
		if capped || b.FeeCap.Int64() != tc.want || b.TipCap.Int64() != tc.want {
			t.Errorf("Bump(%d, +%d%%) = cap %s tip %s capped %v, want %d", tc.in, tc.percent, b.FeeCap, b.TipCap, capped, tc.want)
		}
	}
	// One wei over the cap is capped; exactly at the cap is not.
	if b, capped := p.Bump(Fees{FeeCap: big.NewInt(910), TipCap: big.NewInt(1)}, 10); !capped || b.FeeCap.Int64() != 1000 {
		t.Errorf("Bump(910) = %s capped %v, want 1000 capped", b.FeeCap, capped)
	}
	if b, capped := p.Bump(Fees{FeeCap: big.NewInt(909), TipCap: big.NewInt(1)}, 10); capped || b.FeeCap.Int64() != 1000 {
		t.Errorf("Bump(909) = %s capped %v, want 1000 not capped", b.FeeCap, capped)
	}
	// A tip bumped above the (capped) fee cap is held to it.
	if b, _ := p.Bump(Fees{FeeCap: big.NewInt(950), TipCap: big.NewInt(950)}, 10); b.TipCap.Int64() != 1000 {
		t.Errorf("tip %s, want held to the fee cap 1000", b.TipCap)
	}
}

// Replacement rows that sit exactly on the node's rule, where a threshold
// of > instead of >=, or a bump rounded down, turns the answer.
func TestReplacementOnTheThreshold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFee   int64
		accepted Fees
		market   *Fees
		percent  int64
		want     Fees
		ok       bool
	}{
		{"+10% exactly, under the cap", 1000, fees(100, 10), nil, 10, fees(110, 11), true},
		{"the cap leaves exactly +10%", 110, fees(100, 10), nil, 20, fees(110, 12), true},
		{"the cap leaves one wei less than +10%", 109, fees(100, 10), nil, 20, fees(109, 12), false},
		{"percent below the node's rule is raised to it", 1000, fees(100, 10), nil, 5, fees(110, 11), true},
		{"+10% of 101 rounds up to 112", 1000, fees(101, 11), nil, 10, fees(112, 13), true},
		{"the cap cuts 112 to 111: short of 111.1", 111, fees(101, 11), nil, 10, fees(111, 13), false},
		{"market above the bump on both fees", 1000, fees(100, 10), ptr(fees(300, 30)), 10, fees(300, 30), true},
		{"market equal to the bump changes nothing", 1000, fees(100, 10), ptr(fees(110, 11)), 10, fees(110, 11), true},
		{"market fee cap above the cap is clipped", 200, fees(100, 10), ptr(fees(300, 30)), 10, fees(200, 30), true},
		{"market tip above the clipped fee cap is held to it", 120, fees(100, 10), ptr(fees(100, 500)), 10, fees(110, 110), true},
		{"zero tip becomes one wei", 1000, fees(100, 0), nil, 10, fees(110, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := FeePolicy{MaxFee: big.NewInt(tc.maxFee)}
			got, ok := p.Replacement(tc.accepted, tc.market, tc.percent)
			if ok != tc.ok || got.FeeCap.Cmp(tc.want.FeeCap) != 0 || got.TipCap.Cmp(tc.want.TipCap) != 0 {
				t.Fatalf("Replacement = %v/%v ok %v, want %v/%v ok %v", got.FeeCap, got.TipCap, ok, tc.want.FeeCap, tc.want.TipCap, tc.ok)
			}
		})
	}
}

// Fees at the edges of MAX_FEE_PER_GAS, in wei: a base fee equal to the cap
// still sends (with no tip); one wei above waits.
func TestFeesAtTheCap(t *testing.T) {
	p := FeePolicy{MaxFee: big.NewInt(100)}
	f, err := p.Fees(big.NewInt(100), big.NewInt(5))
	if err != nil || f.FeeCap.Int64() != 100 || f.TipCap.Int64() != 0 {
		t.Fatalf("base fee at the cap: %v/%v %v, want 100/0 and no error", f.FeeCap, f.TipCap, err)
	}
	if _, err := p.Fees(big.NewInt(101), big.NewInt(5)); err == nil {
		t.Fatal("base fee one wei above the cap: no error")
	}
	// 2*base + tip exactly at the cap is kept whole.
	if f, err := p.Fees(big.NewInt(45), big.NewInt(10)); err != nil || f.FeeCap.Int64() != 100 || f.TipCap.Int64() != 10 {
		t.Fatalf("2*45+10: %v/%v %v, want 100/10", f.FeeCap, f.TipCap, err)
	}
	// A tip that exactly fills the room under the cap is kept whole.
	if f, err := p.Fees(big.NewInt(90), big.NewInt(10)); err != nil || f.FeeCap.Int64() != 100 || f.TipCap.Int64() != 10 {
		t.Fatalf("base 90 tip 10: %v/%v %v, want 100/10", f.FeeCap, f.TipCap, err)
	}
	// A negative suggestion is no tip; a zero one stays zero.
	if f, err := p.Fees(big.NewInt(10), big.NewInt(-3)); err != nil || f.TipCap.Sign() != 0 || f.FeeCap.Int64() != 20 {
		t.Fatalf("negative tip: %v/%v %v, want 20/0", f.FeeCap, f.TipCap, err)
	}
}

func fees(feeCap, tip int64) Fees { return Fees{FeeCap: big.NewInt(feeCap), TipCap: big.NewInt(tip)} }

func ptr(f Fees) *Fees { return &f }
