package chain

import (
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// rpcDataError is a JSON-RPC error as go-ethereum's client returns it: a
// message and the error object's data (rpc.DataError).
type rpcDataError struct {
	msg  string
	data any
}

func (e rpcDataError) Error() string          { return e.msg }
func (e rpcDataError) ErrorData() interface{} { return e.data }

// revertData packs Error(string), what a require() reverts with.
func revertData(reason string) string {
	typ, err := abi.NewType("string", "", nil)
	if err != nil {
		panic(err)
	}
	packed, err := abi.Arguments{{Type: typ}}.Pack(reason)
	if err != nil {
		panic(err)
	}
	return hexutil.Encode(append([]byte{0x08, 0xc3, 0x79, 0xa0}, packed...))
}

// A require with an empty message reads like a bare revert: a dead letter
// never carries an empty reason (found by FuzzAsRevert).
func TestAsRevertEmptyReason(t *testing.T) {
	for _, err := range []error{
		rpcDataError{msg: "execution reverted", data: revertData("")},
		rpcDataError{msg: "execution reverted", data: "0x"},
		rpcDataError{msg: "execution reverted"},
	} {
		rev := AsRevert(err)
		if rev == nil || rev.Reason != "no reason given" || rev.Class != RevertUnknown {
			t.Errorf("AsRevert(%v) = %+v, want reason %q, class unknown", err, rev, "no reason given")
		}
	}
	if rev := AsRevert(rpcDataError{msg: "execution reverted", data: revertData("ERROR:DP-010:PRODUCT_NOT_ACTIVE")}); rev == nil ||
		rev.Reason != "ERROR:DP-010:PRODUCT_NOT_ACTIVE" || rev.Class != RevertProductInactive {
		t.Errorf("Error(string) revert decoded as %+v", rev)
	}
}
