package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// The EIP-712 domain and type the deployed message helper checks a policy
// signature against (docs/design.md, "The fixed contracts"). They are a contract with the
// deployed helper and with every wallet that signed: never change them.
const (
	PolicyDomainName    = "EtheriscDepeg"
	PolicyDomainVersion = "1"
	PolicyPrimaryType   = "Policy"
)

// Revert reasons the message helper gives for a bad signature; an off-chain
// check answers with the same text, so a refusal at the door reads exactly
// like the revert the relay would otherwise have paid gas to see.
const (
	ReasonSignatureInvalid = "ERROR:DMH-002:SIGNATURE_INVALID"
	reasonECDSALength      = "ECDSA: invalid signature length"
	reasonECDSAS           = "ECDSA: invalid signature 's' value"
	reasonECDSA            = "ECDSA: invalid signature"
)

// secp256k1HalfOrder is the largest s the helper accepts (EIP-2: a
// signature and its malleable twin must not both be valid).
var secp256k1HalfOrder = new(big.Int).Rsh(crypto.S256().Params().N, 1)

// PolicyDomain is the chain-specific part of the EIP-712 domain: the chain
// id and the message helper's address (getMessageHelperAddress()), which is
// the verifyingContract.
type PolicyDomain struct {
	ChainID           *big.Int
	VerifyingContract common.Address
}

// PolicyTypedData is the EIP-712 message a policy holder signs for a, in the
// form go-ethereum's apitypes hashes. The message's "wallet" is the
// protected wallet; the policy holder is the signer and is not part of it.
func PolicyTypedData(d PolicyDomain, a ApplicationArgs) (apitypes.TypedData, error) {
	if d.ChainID == nil || a.ProtectedBalance == nil || a.Duration == nil || a.BundleID == nil {
		return apitypes.TypedData{}, errors.New("policy typed data: chain id, protectedBalance, duration and bundleId must be set")
	}
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"},
				{Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			PolicyPrimaryType: {
				{Name: "wallet", Type: "address"},
				{Name: "protectedBalance", Type: "uint256"},
				{Name: "duration", Type: "uint256"},
				{Name: "bundleId", Type: "uint256"},
				{Name: "signatureId", Type: "bytes32"},
			},
		},
		PrimaryType: PolicyPrimaryType,
		Domain: apitypes.TypedDataDomain{
			Name:              PolicyDomainName,
			Version:           PolicyDomainVersion,
			ChainId:           (*math.HexOrDecimal256)(new(big.Int).Set(d.ChainID)),
			VerifyingContract: d.VerifyingContract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			// apitypes takes an address as a hex string and bytes32 as a
			// byte slice; it copies nothing, hence the fresh values.
			"wallet":           a.ProtectedWallet.Hex(),
			"protectedBalance": new(big.Int).Set(a.ProtectedBalance),
			"duration":         new(big.Int).Set(a.Duration),
			"bundleId":         new(big.Int).Set(a.BundleID),
			"signatureId":      append([]byte(nil), a.SignatureID[:]...),
		},
	}, nil
}

// PolicyDigest is the EIP-712 hash of a's Policy message under d: what the
// helper recovers the signer from.
func PolicyDigest(d PolicyDomain, a ApplicationArgs) (common.Hash, error) {
	td, err := PolicyTypedData(d, a)
	if err != nil {
		return common.Hash{}, err
	}
	hash, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		return common.Hash{}, fmt.Errorf("hash policy typed data: %w", err)
	}
	return common.BytesToHash(hash), nil
}

// VerifyPolicySignature checks a.Signature the way the message helper does
// before it registers the signature: 65 bytes r||s||v, s in the lower half
// of the curve order, v 27 or 28, and a recovered signer equal to
// a.PolicyHolder. A failure is a *RevertError with the reason and class the
// contract's revert would carry, so callers classify it like a simulated
// revert. Whether the signature was already used is the chain's to say
// (simulation), not this function's.
func VerifyPolicySignature(d PolicyDomain, a ApplicationArgs) error {
	sig := a.Signature
	if len(sig) != crypto.SignatureLength {
		return &RevertError{Reason: reasonECDSALength, Class: RevertSignature}
	}
	if new(big.Int).SetBytes(sig[32:64]).Cmp(secp256k1HalfOrder) > 0 {
		return &RevertError{Reason: reasonECDSAS, Class: RevertSignature}
	}
	v := sig[crypto.RecoveryIDOffset]
	if v != 27 && v != 28 {
		// ecrecover returns address(0) for any other v.
		return &RevertError{Reason: reasonECDSA, Class: RevertSignature}
	}
	digest, err := PolicyDigest(d, a)
	if err != nil {
		return err
	}
	rsv := append([]byte(nil), sig...)
	rsv[crypto.RecoveryIDOffset] = v - 27
	pub, err := crypto.SigToPub(digest[:], rsv)
	if err != nil {
		return &RevertError{Reason: reasonECDSA, Class: RevertSignature}
	}
	if crypto.PubkeyToAddress(*pub) != a.PolicyHolder {
		return &RevertError{Reason: ReasonSignatureInvalid, Class: RevertSignature}
	}
	return nil
}

// MessageHelperCall packs getMessageHelperAddress(), whose answer is the
// EIP-712 verifyingContract of the policy signatures.
func (p *Product) MessageHelperCall() Call {
	return Call{To: p.Address, Data: p.binding.PackGetMessageHelperAddress()}
}

// DecodeMessageHelper unpacks the answer of MessageHelperCall. The zero
// address is refused: no signature can be checked against it, and an
// account without code answers eth_call with empty data, which must not
// become a domain.
func (p *Product) DecodeMessageHelper(out []byte) (common.Address, error) {
	addr, err := p.binding.UnpackGetMessageHelperAddress(out)
	if err != nil {
		return common.Address{}, fmt.Errorf("decode getMessageHelperAddress: %w", err)
	}
	if addr == (common.Address{}) {
		return common.Address{}, errors.New("getMessageHelperAddress returned the zero address")
	}
	return addr, nil
}
