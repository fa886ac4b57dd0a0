package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
)

// TestRemoteSigner: a Signer whose signature comes from a SignDigest builds
// the same transaction as one holding the key (same fields, same sender),
// and refuses a signature by another key.
func TestRemoteSigner(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	chainID := big.NewInt(1337)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	local := chain.NewSigner(key, chainID)
	call := chain.Call{To: common.HexToAddress("0x00000000000000000000000000000000000000c0"), Data: []byte{1, 2, 3}}
	fees := chain.Fees{FeeCap: big.NewInt(3e9), TipCap: big.NewInt(1e9)}
	want, err := local.Sign(call, 7, 50_000, fees)
	if err != nil {
		t.Fatal(err)
	}

	rs := chain.NewRemoteSigner(addr, chainID, func(_ context.Context, d []byte) ([]byte, error) { return crypto.Sign(d, key) })
	got, err := rs.Sign(call, 7, 50_000, fees)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != want.Hash() {
		// crypto.Sign is deterministic (RFC 6979), so the same key gives the
		// same transaction both ways.
		t.Fatalf("remote transaction %s, local %s", got.Hash(), want.Hash())
	}
	if from, err := types.Sender(types.LatestSignerForChainID(chainID), got); err != nil || from != addr {
		t.Fatalf("sender %s, %v; want %s", from.Hex(), err, addr.Hex())
	}

	wrong := chain.NewRemoteSigner(addr, chainID, func(_ context.Context, d []byte) ([]byte, error) { return crypto.Sign(d, other) })
	if _, err := wrong.Sign(call, 7, 50_000, fees); !errors.Is(err, chain.ErrSignatureMismatch) {
		t.Fatalf("signature by another key: err %v, want ErrSignatureMismatch", err)
	}
	failing := errors.New("kms key k1: sign: DisabledException (key unusable)")
	broken := chain.NewRemoteSigner(addr, chainID, func(context.Context, []byte) ([]byte, error) { return nil, failing })
	if _, err := broken.Sign(call, 7, 50_000, fees); !errors.Is(err, failing) {
		t.Fatalf("err %v, want the SignDigest error wrapped", err)
	}
}
