package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// SignDigest signs a 32-byte digest with a key held outside the process (a
// key management service) and returns Ethereum's 65-byte signature
// [R || S || V], with S in the lower half of the curve order and V (0 or 1)
// the recovery id for the key's address. It may be called concurrently. Its
// errors say which key failed and whether retrying can help; they never carry
// a credential.
type SignDigest func(ctx context.Context, digest []byte) ([]byte, error)

// ErrSignatureMismatch is returned when a remote signature does not recover
// to the Signer's address: the key behind SignDigest is not the one the
// address was read from. No transaction is built from it.
var ErrSignatureMismatch = errors.New("remote signature does not recover to the wallet address")

// remoteKey is what a Signer built by NewRemoteSigner signs with.
type remoteKey struct {
	sign SignDigest
}

// NewRemoteSigner binds a remote key, whose address the caller has read from
// it (package chain/kms reads it once with GetPublicKey), to a chain id. The
// Signer it returns is used exactly as NewSigner's: Sign builds the same
// EIP-1559 transaction and asks sign for the signature of its hash.
//
// Unlike a local key, a remote signature is not deterministic (the service
// picks its own nonce k), so signing the same transaction twice gives two
// hashes; both are valid, and at most one is mined at its nonce.
func NewRemoteSigner(address common.Address, chainID *big.Int, sign SignDigest) *Signer {
	return &Signer{remote: &remoteKey{sign: sign}, address: address, signer: types.LatestSignerForChainID(chainID)}
}

// SignContext is Sign bounded by ctx: for a remote key, ctx bounds the calls
// to the service (retries included). A local key ignores it.
func (s *Signer) SignContext(ctx context.Context, call Call, nonce, gas uint64, fees Fees) (*types.Transaction, error) {
	if s.remote != nil {
		return s.signRemote(ctx, call, nonce, gas, fees)
	}
	return s.Sign(call, nonce, gas, fees)
}

// unsigned is the dynamic-fee transaction both kinds of key sign.
func (s *Signer) unsigned(call Call, nonce, gas uint64, fees Fees) *types.DynamicFeeTx {
	to := call.To
	return &types.DynamicFeeTx{
		ChainID:   s.signer.ChainID(),
		Nonce:     nonce,
		GasTipCap: fees.TipCap,
		GasFeeCap: fees.FeeCap,
		Gas:       gas,
		To:        &to,
		Data:      call.Data,
	}
}

// signRemote signs the transaction's hash through the remote key and checks,
// before returning it, that the transaction's sender is the wallet: a wrong
// signature must never reach the journal.
func (s *Signer) signRemote(ctx context.Context, call Call, nonce, gas uint64, fees Fees) (*types.Transaction, error) {
	tx := types.NewTx(s.unsigned(call, nonce, gas, fees))
	sig, err := s.remote.sign(ctx, s.signer.Hash(tx).Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign nonce %d: %w", nonce, err)
	}
	if len(sig) != crypto.SignatureLength {
		return nil, fmt.Errorf("sign nonce %d: remote signature has %d bytes, want %d", nonce, len(sig), crypto.SignatureLength)
	}
	signed, err := tx.WithSignature(s.signer, sig)
	if err != nil {
		return nil, fmt.Errorf("sign nonce %d: %w", nonce, err)
	}
	from, err := types.Sender(s.signer, signed)
	if err != nil || from != s.address {
		return nil, fmt.Errorf("sign nonce %d: %w", nonce, ErrSignatureMismatch)
	}
	return signed, nil
}
