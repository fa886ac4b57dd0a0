package inspect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// Place is where an application sits in a batch transaction (issue 22):
// Index from 0 (as the batch contract's events number it) of Size.
type Place struct {
	Index, Size int
	// Hashes are the hashes signed for the batch's nonce, current first:
	// a status whose transactionHash is any of them is this batch's.
	Hashes []common.Hash
}

// String is the place as a person reads it: "#4 of 12", counted from 1.
func (p Place) String() string { return fmt.Sprintf("#%d of %d", p.Index+1, p.Size) }

// BatchPlaces maps the entityId of every application a batch record of
// the journal carries to its place in that batch. Records of one
// application (and gap fills) are not batches and are left out.
func BatchPlaces(flights []Flight) map[string]Place {
	out := map[string]Place{}
	for _, f := range flights {
		if f.Unreadable != "" || f.Record.Kind != stream.KindBatch {
			continue
		}
		apps := f.Record.Applications()
		for i, a := range apps {
			if a.EntityID != "" {
				out[a.EntityID] = Place{Index: i, Size: len(apps), Hashes: f.Hashes()}
			}
		}
	}
	return out
}

// placeStatuses sets the batch place of each status whose transaction is
// the batch the journal lists it in (one that moved on to another
// transaction is left as it is), unless the status tells it already.
func placeStatuses(sts []intake.Status, places map[string]Place) {
	for i := range sts {
		p, ok := places[sts[i].EntityID]
		if !ok || sts[i].BatchIndex != nil || !slices.ContainsFunc(p.Hashes, func(h common.Hash) bool {
			return strings.EqualFold(h.Hex(), sts[i].TransactionHash)
		}) {
			continue
		}
		sts[i].InBatch(p.Index, p.Size)
	}
}

// BatchApplication is one application of a batch transaction as its
// calldata and receipt tell it.
type BatchApplication struct {
	Index        int    `json:"index"`
	PolicyHolder string `json:"policyHolder"`
	SignatureID  string `json:"signatureId"`
	// Outcome, once mined: "applied" (ProcessID set), "failed" (Reason
	// the product's revert reason, "out of gas" when none), or "none"
	// (no event: the transaction failed as a whole).
	Outcome   string `json:"outcome,omitempty"`
	ProcessID string `json:"processId,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// decodeBatch reads the applications of an applyBatch transaction and,
// with its receipt, each one's outcome from the events of the contract it
// called. false when t is not a batch call.
func decodeBatch(t *types.Transaction, r *types.Receipt) ([]BatchApplication, bool) {
	if t.To() == nil {
		return nil, false
	}
	apps, _, err := batch.Decode(t.Data())
	if err != nil {
		return nil, false
	}
	var outcomes map[common.Hash]batch.Outcome
	if r != nil && r.BlockNumber != nil {
		outcomes = batch.Outcomes(*t.To(), r)
	}
	out := make([]BatchApplication, len(apps))
	for i, a := range apps {
		out[i] = BatchApplication{Index: i, PolicyHolder: a.PolicyHolder.Hex(),
			SignatureID: string(bytes.TrimRight(a.SignatureID[:], "\x00"))}
		if outcomes == nil {
			continue
		}
		o, ok := outcomes[crypto.Keccak256Hash(a.Signature)]
		switch {
		case !ok || o.Index != uint64(i):
			out[i].Outcome = "none"
		case o.Applied:
			out[i].Outcome, out[i].ProcessID = "applied", o.ProcessID.Hex()
		default:
			out[i].Outcome, out[i].Reason = "failed", o.Reason
			if o.OutOfGas() {
				out[i].Reason = "out of gas"
			}
		}
	}
	return out, true
}
