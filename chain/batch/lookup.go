package batch

import (
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
)

// AppliedQuery is the log filter for the batch contract's
// ApplicationApplied events naming one application (keccak256 of its
// signature, the event's indexed topic) in blocks [from, to]: how the relay
// finds the batch transaction that applied a signature reported as used,
// where the product's creation event alone cannot tell which application a
// batch created.
func AppliedQuery(contract common.Address, sigHash common.Hash, from, to uint64) ethereum.FilterQuery {
	return ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		ToBlock:   new(big.Int).SetUint64(to),
		Addresses: []common.Address{contract},
		Topics:    [][]common.Hash{{NewDepegApplicationBatch().GetABI().Events["ApplicationApplied"].ID}, {sigHash}},
	}
}
