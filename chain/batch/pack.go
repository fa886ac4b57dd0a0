package batch

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain"
)

// Call is the batch transaction's call: apps applied through the batch
// contract at contract, each with its own gas limit (limits[i] for apps[i]).
func Call(contract common.Address, apps []chain.ApplicationArgs, limits []uint64) chain.Call {
	packed := make([]DepegApplicationBatchApplication, len(apps))
	for i, a := range apps {
		packed[i] = DepegApplicationBatchApplication{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
			ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleId: a.BundleID, SignatureId: a.SignatureID,
			Signature: a.Signature, GasLimit: new(big.Int).SetUint64(limits[i])}
	}
	return chain.Call{To: contract, Data: NewDepegApplicationBatch().PackApplyBatch(packed)}
}

// Class is the revert class of a failed application, as the relay decides
// on a single transaction's revert (chain.ClassifyRevert): final, or one
// that can pass (the product paused).
func (o Outcome) Class() chain.RevertClass {
	return chain.ClassifyRevert(o.Reason)
}

// OutOfGas reports a failed application that carries no revert data: its
// call ran out of its own gas limit (a cause that can pass with a higher
// limit, as for a single transaction), not a revert of the product.
func (o Outcome) OutOfGas() bool { return !o.Applied && len(o.RevertData) == 0 }
