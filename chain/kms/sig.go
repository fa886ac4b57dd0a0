package kms

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// The pure half of the adapter: KMS speaks DER and X.509, Ethereum speaks
// (r, s, v) and addresses.

var (
	// secp256k1N is the order of the curve, secp256k1HalfN half of it: an
	// Ethereum signature (EIP-2) has s <= N/2, and KMS returns either half.
	secp256k1N     = crypto.S256().Params().N
	secp256k1HalfN = new(big.Int).Rsh(secp256k1N, 1)

	// oidSecp256k1 is the named curve of an ECC_SECG_P256K1 public key.
	oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	// oidECPublicKey is id-ecPublicKey, the algorithm of every EC key.
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// ErrBadSignature is a KMS answer that is not a usable signature for the
// key: malformed DER, r or s out of range, or no recovery id giving the key's
// address.
var ErrBadSignature = errors.New("kms signature unusable")

// ErrBadPublicKey is a GetPublicKey answer that is not a secp256k1 key.
var ErrBadPublicKey = errors.New("kms public key is not a secp256k1 key")

// ecdsaSig is the DER structure KMS returns for ECDSA_SHA_256 (RFC 3279).
type ecdsaSig struct {
	R, S *big.Int
}

// subjectPublicKeyInfo is the DER structure GetPublicKey returns (RFC 5280);
// crypto/x509 cannot parse it, since it does not know secp256k1.
type subjectPublicKeyInfo struct {
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.ObjectIdentifier
	}
	PublicKey asn1.BitString
}

// ParsePublicKey reads the DER SubjectPublicKeyInfo of a secp256k1 key.
func ParsePublicKey(der []byte) (*ecdsa.PublicKey, error) {
	var spki subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo", ErrBadPublicKey)
	}
	if !spki.Algorithm.Algorithm.Equal(oidECPublicKey) || !spki.Algorithm.Parameters.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: algorithm %v, curve %v", ErrBadPublicKey, spki.Algorithm.Algorithm, spki.Algorithm.Parameters)
	}
	pub, err := crypto.UnmarshalPubkey(spki.PublicKey.RightAlign())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPublicKey, err)
	}
	return pub, nil
}

// EthereumSignature turns a DER ECDSA signature of digest into Ethereum's
// 65-byte [R || S || V]: s is moved to the lower half of the curve order
// (s and N-s are both valid ECDSA signatures; Ethereum accepts only the
// lower), and V is the recovery id (0 or 1) under which the signature
// recovers to want. KMS does not return a recovery id, so both are tried.
func EthereumSignature(der, digest []byte, want common.Address) ([]byte, error) {
	var sig ecdsaSig
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
		return nil, fmt.Errorf("%w: not a DER ECDSA signature", ErrBadSignature)
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.Cmp(secp256k1N) >= 0 || sig.S.Cmp(secp256k1N) >= 0 {
		return nil, fmt.Errorf("%w: r or s out of range", ErrBadSignature)
	}
	s := sig.S
	if s.Cmp(secp256k1HalfN) > 0 {
		s = new(big.Int).Sub(secp256k1N, s)
	}
	out := make([]byte, crypto.SignatureLength)
	sig.R.FillBytes(out[0:32])
	s.FillBytes(out[32:64])
	for v := byte(0); v <= 1; v++ {
		out[64] = v
		pub, err := crypto.SigToPub(digest, out)
		if err == nil && crypto.PubkeyToAddress(*pub) == want {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: recovers to no address of %s", ErrBadSignature, want.Hex())
}
