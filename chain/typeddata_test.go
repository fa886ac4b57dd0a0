package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/frontend"
)

func argsOf(t *testing.T, app *frontend.Application) ApplicationArgs {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return ApplicationArgs{
		PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
		SignatureID: sid, Signature: append([]byte(nil), app.Signature...),
	}
}

// TestPolicyDigestMatchesFrontend pins the digest to the one the frontend
// stand-in signs, which the devchain contract accepts (relay tests).
func TestPolicyDigestMatchesFrontend(t *testing.T) {
	helper := common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
	chainID := big.NewInt(1337)
	app, err := frontend.NewSigned(chainID, helper, 7)
	if err != nil {
		t.Fatal(err)
	}
	want, err := frontend.Digest(chainID, helper, app)
	if err != nil {
		t.Fatal(err)
	}
	got, err := PolicyDigest(PolicyDomain{ChainID: chainID, VerifyingContract: helper}, argsOf(t, app))
	if err != nil {
		t.Fatal(err)
	}
	if got != common.BytesToHash(want) {
		t.Fatalf("digest %s, frontend signs %x", got, want)
	}
}

func TestVerifyPolicySignature(t *testing.T) {
	helper := common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
	chainID := big.NewInt(1337)
	domain := PolicyDomain{ChainID: chainID, VerifyingContract: helper}
	app, err := frontend.NewSigned(chainID, helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(a *ApplicationArgs, d *PolicyDomain)
		want   string // "" = valid
	}{
		{"valid", func(*ApplicationArgs, *PolicyDomain) {}, ""},
		{"other policy holder", func(a *ApplicationArgs, _ *PolicyDomain) {
			a.PolicyHolder = crypto.PubkeyToAddress(other.PublicKey)
		}, ReasonSignatureInvalid},
		{"other balance", func(a *ApplicationArgs, _ *PolicyDomain) {
			a.ProtectedBalance = new(big.Int).Add(a.ProtectedBalance, big.NewInt(1))
		}, ReasonSignatureInvalid},
		{"other chain", func(_ *ApplicationArgs, d *PolicyDomain) { d.ChainID = big.NewInt(1) }, ReasonSignatureInvalid},
		{"other helper", func(_ *ApplicationArgs, d *PolicyDomain) { d.VerifyingContract = common.Address{1} }, ReasonSignatureInvalid},
		{"v as 0/1", func(a *ApplicationArgs, _ *PolicyDomain) { a.Signature[64] -= 27 }, reasonECDSA},
		{"high s", func(a *ApplicationArgs, _ *PolicyDomain) {
			s := new(big.Int).SetBytes(a.Signature[32:64])
			s.Sub(crypto.S256().Params().N, s) // the malleable twin
			s.FillBytes(a.Signature[32:64])
		}, reasonECDSAS},
		{"short", func(a *ApplicationArgs, _ *PolicyDomain) { a.Signature = a.Signature[:64] }, reasonECDSALength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, d := argsOf(t, app), domain
			tc.mutate(&a, &d)
			err := VerifyPolicySignature(d, a)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid signature refused: %v", err)
				}
				return
			}
			rev, ok := err.(*RevertError)
			if !ok || rev.Reason != tc.want || rev.Class != RevertSignature {
				t.Fatalf("got %v, want revert %q of class signature", err, tc.want)
			}
		})
	}
}

func TestDecodeMessageHelper(t *testing.T) {
	p := NewProduct(common.Address{9})
	call := p.MessageHelperCall()
	if call.To != p.Address || len(call.Data) != 4 {
		t.Fatalf("call %+v", call)
	}
	if _, err := p.DecodeMessageHelper(nil); err == nil {
		t.Fatal("empty answer (no code) accepted")
	}
	if _, err := p.DecodeMessageHelper(make([]byte, 32)); err == nil {
		t.Fatal("zero address accepted")
	}
	word := common.LeftPadBytes(common.Address{7}.Bytes(), 32)
	if got, err := p.DecodeMessageHelper(word); err != nil || got != (common.Address{7}) {
		t.Fatalf("got %v, %v", got, err)
	}
}
