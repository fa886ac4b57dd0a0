package batch

import (
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Outcome is what one application of a batch came to, from its event.
type Outcome struct {
	Index     uint64      // position in the batch
	Applied   bool        // ApplicationApplied: the product created a policy application
	ProcessID common.Hash // set when Applied
	// Reason is the product's revert reason (Error(string)) when it failed
	// with one; RevertData the raw revert data, empty when the call ran out
	// of its own gas limit.
	Reason     string
	RevertData []byte
}

// Outcomes reads the outcome of every application of a batch transaction
// from its receipt: keyed by keccak256 of the application's signature, as
// the contract names them. Logs of other contracts (the product's own
// creation events) and of other addresses are skipped. A receipt that
// failed as a whole has no logs: every application of it went back.
func Outcomes(contract common.Address, r *types.Receipt) map[common.Hash]Outcome {
	b := NewDepegApplicationBatch()
	out := map[common.Hash]Outcome{}
	for _, l := range r.Logs {
		if l.Address != contract || len(l.Topics) == 0 {
			continue
		}
		if ev, err := b.UnpackApplicationAppliedEvent(l); err == nil {
			out[ev.SignatureHash] = Outcome{Index: ev.Index.Uint64(), Applied: true, ProcessID: ev.ProcessId}
			continue
		}
		if ev, err := b.UnpackApplicationFailedEvent(l); err == nil {
			o := Outcome{Index: ev.Index.Uint64(), RevertData: ev.Reason}
			if reason, err := abi.UnpackRevert(ev.Reason); err == nil {
				o.Reason = reason
			}
			out[ev.SignatureHash] = o
		}
	}
	return out
}
