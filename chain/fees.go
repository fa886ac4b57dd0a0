package chain

import (
	"errors"
	"fmt"
	"math/big"
)

// ErrBaseFeeAboveCap means no transaction under MAX_FEE_PER_GAS can be
// included right now: the caller must wait, not send.
var ErrBaseFeeAboveCap = errors.New("base fee above MAX_FEE_PER_GAS")

// Fees are the two EIP-1559 prices of a transaction.
type Fees struct {
	FeeCap *big.Int // maxFeePerGas
	TipCap *big.Int // maxPriorityFeePerGas
}

// FeePolicy turns a block's base fee and the node's tip suggestion into fees
// that never exceed MaxFee (invariant 3; docs/design.md, "Invariants").
type FeePolicy struct {
	MaxFee *big.Int // MAX_FEE_PER_GAS, hard cap on maxFeePerGas
	MaxTip *big.Int // MAX_PRIORITY_FEE_PER_GAS; nil means take the node's suggestion
}

// Fees computes fees for the next block. The fee cap is 2*baseFee + tip (room
// for six full blocks of base-fee growth), clipped to MaxFee; the tip is
// clipped so that baseFee + tip fits under the cap. A base fee above the cap
// returns ErrBaseFeeAboveCap.
func (p FeePolicy) Fees(baseFee, suggestedTip *big.Int) (Fees, error) {
	if baseFee == nil {
		baseFee = new(big.Int)
	}
	if baseFee.Cmp(p.MaxFee) > 0 {
		return Fees{}, fmt.Errorf("%w: base fee %s wei, cap %s wei", ErrBaseFeeAboveCap, baseFee, p.MaxFee)
	}
	tip := suggestedTip
	if p.MaxTip != nil {
		tip = p.MaxTip
	}
	if tip == nil || tip.Sign() < 0 {
		tip = new(big.Int)
	}
	tip = minBig(tip, new(big.Int).Sub(p.MaxFee, baseFee))
	feeCap := new(big.Int).Add(new(big.Int).Mul(baseFee, big.NewInt(2)), tip)
	feeCap = minBig(feeCap, p.MaxFee)
	return Fees{FeeCap: feeCap, TipCap: new(big.Int).Set(tip)}, nil
}

// Bump returns fees raised by percent (rounded up) for a same-nonce
// replacement, clipped to MaxFee. capped reports that the cap stopped the
// bump, so the replacement may be refused by nodes (geth wants +10% on both).
func (p FeePolicy) Bump(f Fees, percent int64) (bumped Fees, capped bool) {
	up := func(v *big.Int) *big.Int {
		n := new(big.Int).Mul(v, big.NewInt(100+percent))
		n.Add(n, big.NewInt(99))
		return n.Div(n, big.NewInt(100))
	}
	feeCap, tip := up(f.FeeCap), up(f.TipCap)
	if feeCap.Cmp(p.MaxFee) > 0 {
		feeCap, capped = new(big.Int).Set(p.MaxFee), true
	}
	if tip.Cmp(feeCap) > 0 {
		tip = new(big.Int).Set(feeCap)
	}
	return Fees{FeeCap: feeCap, TipCap: tip}, capped
}

func minBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}

// ReplacementMinPercent is how much dearer a same-nonce replacement must be
// for a node to take it: geth's txpool.pricebump (10) on both the fee cap and
// the tip, other clients the same or less. A replacement below it is refused
// ("replacement transaction underpriced") and the pool keeps the old one.
const ReplacementMinPercent = 10

// Replacement prices a same-nonce replacement of the transaction the node
// accepted: both fees raised by percent (at least ReplacementMinPercent), or
// to market (what a new transaction would pay now; may be nil) when that is
// higher, the fee cap clipped to MaxFee. ok is false when the clipped result
// no longer clears the node's replacement rule on both fees: then the
// transaction is at the cap and must wait, since a refused replacement only
// wastes a signature and a journal write.
func (p FeePolicy) Replacement(accepted Fees, market *Fees, percent int64) (next Fees, ok bool) {
	percent = max(percent, ReplacementMinPercent)
	next, _ = p.Bump(accepted, percent)
	if next.TipCap.Sign() == 0 {
		next.TipCap = big.NewInt(1) // a zero tip rounds up to zero; a node wants it higher
	}
	if market != nil {
		if market.FeeCap.Cmp(next.FeeCap) > 0 {
			next.FeeCap = minBig(market.FeeCap, p.MaxFee)
		}
		if market.TipCap.Cmp(next.TipCap) > 0 {
			next.TipCap = new(big.Int).Set(market.TipCap)
		}
	}
	if next.TipCap.Cmp(next.FeeCap) > 0 {
		next.TipCap = new(big.Int).Set(next.FeeCap)
	}
	return next, clearsReplacement(accepted.FeeCap, next.FeeCap) && clearsReplacement(accepted.TipCap, next.TipCap)
}

// clearsReplacement is geth's rule for one fee: strictly higher, and at least
// old * (100 + ReplacementMinPercent) / 100, rounded up so that no node's
// rounding can refuse it.
func clearsReplacement(old, next *big.Int) bool {
	threshold := new(big.Int).Mul(old, big.NewInt(100+ReplacementMinPercent))
	threshold.Add(threshold, big.NewInt(99))
	threshold.Div(threshold, big.NewInt(100))
	return next.Cmp(old) > 0 && next.Cmp(threshold) >= 0
}
