package chain

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// DecodeRawTx decodes a signed transaction as the journal keeps it (a
// record's rawTx and nextRawTx: 0x hex of the binary encoding). It is the one
// decoder of those bytes: the relay's recovery and the on-call's look
// (package inspect) read them alike.
func DecodeRawTx(raw string) (*types.Transaction, error) {
	b, err := hexutil.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("decode raw transaction: %w", err)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("decode raw transaction: %w", err)
	}
	return tx, nil
}

// errNotApply: the calldata is not an applyForPolicyWithBundleAndSignature
// call.
var errNotApply = errors.New("not an applyForPolicyWithBundleAndSignature call")

// DecodeApply decodes applyForPolicyWithBundleAndSignature calldata into
// its arguments: the one decoder of the product's calldata (Apply packs
// it), used to match a transaction to the signature it carries and to show
// whose application it applied.
func (p *Product) DecodeApply(data []byte) (ApplicationArgs, error) {
	m := p.binding.GetABI().Methods["applyForPolicyWithBundleAndSignature"]
	if len(data) < 4 || !bytes.Equal(data[:4], m.ID) {
		return ApplicationArgs{}, errNotApply
	}
	args, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		return ApplicationArgs{}, fmt.Errorf("unpack application call: %w", err)
	}
	var a ApplicationArgs
	ok := len(args) == 7
	if ok {
		var oks [7]bool
		a.PolicyHolder, oks[0] = args[0].(common.Address)
		a.ProtectedWallet, oks[1] = args[1].(common.Address)
		a.ProtectedBalance, oks[2] = args[2].(*big.Int)
		a.Duration, oks[3] = args[3].(*big.Int)
		a.BundleID, oks[4] = args[4].(*big.Int)
		a.SignatureID, oks[5] = args[5].([32]byte)
		a.Signature, oks[6] = args[6].([]byte)
		for _, o := range oks {
			ok = ok && o
		}
	}
	if !ok {
		return ApplicationArgs{}, errors.New("unpack application call: unexpected argument types")
	}
	return a, nil
}

// AppliedBy decodes tx as an application call to this product; ok is false
// for any other transaction.
func (p *Product) AppliedBy(tx *types.Transaction) (ApplicationArgs, bool) {
	if tx == nil || tx.To() == nil || *tx.To() != p.Address {
		return ApplicationArgs{}, false
	}
	a, err := p.DecodeApply(tx.Data())
	return a, err == nil
}
