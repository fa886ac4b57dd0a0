package decide

import (
	"math/big"

	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// NextBaseFee is the base fee of the block after head, as EIP-1559 fixes it
// from head's base fee and gas use (Observation.NextBaseFee); nil before
// London. It is go-ethereum's own eip1559.CalcBaseFee, which asks its chain
// config only whether London is active at head, and for the elasticity
// multiplier and the change denominator, which this go-ethereum answers with
// the protocol's constants whatever the config. A head that carries a base
// fee is past London, so a config that says London from block 0 is all it
// needs: the relay knows no more of the chain than its headers. A head whose
// gas target is zero (a gas limit under 2, which no real chain has) would
// divide by zero there; its base fee is then kept as it is.
func NextBaseFee(head *types.Header) *big.Int {
	if head == nil || head.BaseFee == nil {
		return nil
	}
	if head.GasLimit/params.DefaultElasticityMultiplier == 0 {
		return new(big.Int).Set(head.BaseFee)
	}
	return eip1559.CalcBaseFee(&params.ChainConfig{LondonBlock: new(big.Int)}, head)
}
