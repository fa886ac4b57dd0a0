package batch

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"

	"github.com/etherisc/depeg-relay/chain"
)

// errNotBatch: the calldata is not an applyBatch call.
var errNotBatch = errors.New("not an applyBatch call")

// Decode is the one decoder of applyBatch calldata (Call packs it): the
// applications in the batch's order and each one's gas limit. The relay
// rebuilds a journaled batch from it after a restart; inspect shows whose
// applications a batch carried.
func Decode(data []byte) ([]chain.ApplicationArgs, []uint64, error) {
	m := NewDepegApplicationBatch().GetABI().Methods["applyBatch"]
	if len(data) < 4 || !bytes.Equal(data[:4], m.ID) {
		return nil, nil, errNotBatch
	}
	vals, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		return nil, nil, fmt.Errorf("unpack batch call: %w", err)
	}
	var packed []DepegApplicationBatchApplication
	if err := abiCopy(m.Inputs, vals, &packed); err != nil {
		return nil, nil, fmt.Errorf("unpack batch call: %w", err)
	}
	apps := make([]chain.ApplicationArgs, len(packed))
	limits := make([]uint64, len(packed))
	for i, a := range packed {
		if a.ProtectedBalance == nil || a.Duration == nil || a.BundleId == nil || a.GasLimit == nil || !a.GasLimit.IsUint64() {
			return nil, nil, fmt.Errorf("unpack batch call: application %d has a missing or oversized number", i)
		}
		apps[i] = chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
			ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleID: a.BundleId,
			SignatureID: a.SignatureId, Signature: a.Signature}
		limits[i] = a.GasLimit.Uint64()
	}
	return apps, limits, nil
}

// abiCopy copies the unpacked values of a one-argument method into out.
func abiCopy(args abi.Arguments, vals []any, out any) error {
	if len(vals) != 1 {
		return fmt.Errorf("%d arguments, want 1", len(vals))
	}
	return args.Copy(out, vals)
}
