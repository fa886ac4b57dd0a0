// Package chain owns everything the relay does with Ethereum: the hot wallet's
// key, the DepegProduct binding, EIP-1559 fees under a hard cap, signing, and
// reading what a node says (revert reasons, pool errors, receipts). It knows
// nothing of Redis; the relay joins the two.
package chain

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/tyler-smith/go-bip39"
)

// ErrBadMnemonic is returned for a phrase that is not a valid BIP39 mnemonic.
// The phrase itself is never part of an error.
var ErrBadMnemonic = errors.New("not a valid BIP39 mnemonic")

// DeriveKey returns the key at m/44'/60'/0'/0/index of a BIP39 mnemonic with
// an empty passphrase: index 0 is the address ethers' Wallet.fromMnemonic
// gives, which the old processor used. BIP32 derivation comes from btcd's
// hdkeychain (well kept, and already in go-ethereum's dependency tree) rather
// than being hand-rolled.
func DeriveKey(mnemonic string, index uint32) (*ecdsa.PrivateKey, error) {
	mnemonic = strings.Join(strings.Fields(mnemonic), " ")
	seed, err := bip39.NewSeedWithErrorChecking(mnemonic, "")
	if err != nil {
		return nil, ErrBadMnemonic
	}
	key, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("derive master key: %w", err)
	}
	const hardened = hdkeychain.HardenedKeyStart
	for _, step := range []uint32{44 + hardened, 60 + hardened, 0 + hardened, 0, index} {
		if key, err = key.Derive(step); err != nil {
			return nil, fmt.Errorf("derive child key: %w", err)
		}
	}
	priv, err := key.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("extract private key: %w", err)
	}
	return crypto.ToECDSA(priv.Serialize())
}
