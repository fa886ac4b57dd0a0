package chain

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

func TestDecodeApplyRoundTrip(t *testing.T) {
	p := NewProduct(common.HexToAddress("0xaaA6975B481Eb6B050f213095E368Daf00C34D03"))
	want := ApplicationArgs{
		PolicyHolder: common.HexToAddress("0x01"), ProtectedWallet: common.HexToAddress("0x02"),
		ProtectedBalance: big.NewInt(1000), Duration: big.NewInt(86400), BundleID: big.NewInt(7),
		SignatureID: [32]byte{'a', 'b', 'c'}, Signature: bytes.Repeat([]byte{0x11}, 65),
	}
	call, err := p.Apply(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecodeApply(call.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if sig, err := p.SignatureOf(call.Data); err != nil || !bytes.Equal(sig, want.Signature) {
		t.Fatalf("SignatureOf = %x, %v", sig, err)
	}
	tx := types.NewTx(&types.DynamicFeeTx{To: &p.Address, Data: call.Data})
	if a, ok := p.AppliedBy(tx); !ok || a.PolicyHolder != want.PolicyHolder {
		t.Fatalf("AppliedBy = %+v, %v", a, ok)
	}
	other := common.HexToAddress("0x03")
	if _, ok := p.AppliedBy(types.NewTx(&types.DynamicFeeTx{To: &other, Data: call.Data})); ok {
		t.Fatal("a call to another contract decoded as the product's")
	}
	for _, data := range [][]byte{nil, {1, 2, 3}, call.Data[:4], append(bytes.Clone(call.Data[:4]), 0xff)} {
		if _, err := p.DecodeApply(data); err == nil {
			t.Errorf("DecodeApply(%x) decoded", data)
		}
	}
}

func TestDecodeRawTx(t *testing.T) {
	tx := types.NewTx(&types.DynamicFeeTx{Nonce: 7, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1), Gas: 21000})
	b, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRawTx(hexutil.Encode(b))
	if err != nil || got.Hash() != tx.Hash() {
		t.Fatalf("DecodeRawTx = %v, %v", got, err)
	}
	for _, raw := range []string{"", "0x", "zz", "0x02ff"} {
		if _, err := DecodeRawTx(raw); err == nil {
			t.Errorf("DecodeRawTx(%q) decoded", raw)
		}
	}
}
