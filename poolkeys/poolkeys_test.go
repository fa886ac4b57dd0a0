package poolkeys

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
)

const testMnemonic = "test test test test test test test test test test test junk"

// TestWallets: the wallets are the keys at the listed indexes, in the
// listed order (not sorted), and a bad phrase is refused naming
// PROCESSOR_MNEMONIC and never the phrase.
func TestWallets(t *testing.T) {
	indexes := []uint32{3, 0, 7}
	got, err := Wallets(testMnemonic, indexes)
	if err != nil {
		t.Fatal(err)
	}
	for i, idx := range indexes {
		k, err := chain.DeriveKey(testMnemonic, idx)
		if err != nil {
			t.Fatal(err)
		}
		if want := crypto.PubkeyToAddress(k.PublicKey); got[i] != want {
			t.Errorf("wallet %d (index %d) = %s, want %s", i, idx, got[i].Hex(), want.Hex())
		}
	}
	// Index 0 of the test phrase is the well-known first hardhat account.
	if got[1] != common.HexToAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266") {
		t.Errorf("index 0 = %s, want hardhat's first account", got[1].Hex())
	}

	bad := "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zoo"
	_, err = Wallets(bad, indexes)
	if !errors.Is(err, chain.ErrBadMnemonic) || !strings.Contains(err.Error(), "PROCESSOR_MNEMONIC") || strings.Contains(err.Error(), "zoo") {
		t.Fatalf("bad phrase: %v, want chain.ErrBadMnemonic naming PROCESSOR_MNEMONIC without the phrase", err)
	}
}

// TestOpenAndFirstMnemonic: with SIGNER=mnemonic, Open gives the keys of
// PROCESSOR_ACCOUNT_INDEX in its order, named by index, each signing as its
// wallet; First is the first of them.
func TestOpenAndFirstMnemonic(t *testing.T) {
	cfg := config.Config{ProcessorMnemonic: config.NewSecret(testMnemonic), ProcessorAccountIndexes: []uint32{2, 5}, ProcessorAccountIndex: 2}
	keys, err := Open(t.Context(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	wallets, err := Wallets(testMnemonic, cfg.ProcessorAccountIndexes)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Address() != wallets[0] || keys[1].Address() != wallets[1] ||
		keys[0].Name() != "index 2" || keys[1].Name() != "index 5" {
		t.Fatalf("Open = %v, want index 2 then index 5", keys)
	}
	first, err := First(t.Context(), cfg)
	if err != nil || first.Address() != wallets[0] || first.Name() != "index 2" {
		t.Fatalf("First = %s %q %v, want index 2's wallet", first.Address().Hex(), first.Name(), err)
	}
	digest := crypto.Keccak256([]byte("digest"))
	sig, err := first.SignDigest(t.Context(), digest)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypto.SigToPub(digest, sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != wallets[0] {
		t.Fatalf("SignDigest recovers %v (%v), want %s", pub, err, wallets[0].Hex())
	}
}
