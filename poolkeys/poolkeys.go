// Package poolkeys owns the pool's keys as the configuration names them:
// derived from PROCESSOR_MNEMONIC at the PROCESSOR_ACCOUNT_INDEX indexes
// (SIGNER=mnemonic), or held in AWS KMS (SIGNER=aws-kms, AWS_KMS_KEY_IDS).
// It opens them for the service, checks them for -check, gives the first to
// deploy-batch, and derives the wallets the on-call commands and dev mode
// show; so a wallet is derived from the mnemonic in this one place.
// Key derivation itself is chain.DeriveKey's, and KMS signing chain/kms'.
package poolkeys

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/config"
)

// Derive derives the keys at indexes of mnemonic, in their order. An error
// names PROCESSOR_MNEMONIC, never the phrase.
func Derive(mnemonic string, indexes []uint32) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, len(indexes))
	for i, idx := range indexes {
		k, err := chain.DeriveKey(mnemonic, idx)
		if err != nil {
			return nil, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		keys[i] = k
	}
	return keys, nil
}

// Wallets are the addresses of Derive's keys, in the same order.
func Wallets(mnemonic string, indexes []uint32) ([]common.Address, error) {
	keys, err := Derive(mnemonic, indexes)
	if err != nil {
		return nil, err
	}
	wallets := make([]common.Address, len(keys))
	for i, k := range keys {
		wallets[i] = crypto.PubkeyToAddress(k.PublicKey)
	}
	return wallets, nil
}

// Key is one key of the pool, however it signs: derived from the mnemonic,
// or held by AWS KMS.
type Key struct {
	index uint32            // its PROCESSOR_ACCOUNT_INDEX entry (SIGNER=mnemonic)
	local *ecdsa.PrivateKey // SIGNER=mnemonic
	kms   *kms.Key          // SIGNER=aws-kms
}

// Address is the key's wallet.
func (k Key) Address() common.Address {
	if k.kms != nil {
		return k.kms.Address()
	}
	return crypto.PubkeyToAddress(k.local.PublicKey)
}

// Name says which key this is in logs: "kms alias/relay-1" or "index 3".
func (k Key) Name() string {
	if k.kms != nil {
		return "kms " + k.kms.ID()
	}
	return fmt.Sprintf("index %d", k.index)
}

// SignDigest signs a 32-byte digest with the key: [R || S || V], V 0 or 1.
func (k Key) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if k.kms != nil {
		return k.kms.SignDigest(ctx, digest)
	}
	return crypto.Sign(digest, k.local)
}

// Signer binds the key to the chain. A KMS key that KMS refuses to sign
// with (kms.ErrKeyUnusable: disabled, deleted, no longer allowed) halts its
// relay through halt; nil halts nothing.
func (k Key) Signer(chainID *big.Int, halt *Halt) *chain.Signer {
	if k.kms == nil {
		return chain.NewSigner(k.local, chainID)
	}
	key := k.kms
	return chain.NewRemoteSigner(key.Address(), chainID, func(ctx context.Context, digest []byte) ([]byte, error) {
		// The relay's Sign carries no context: the key's relay context
		// bounds the KMS calls instead, so a stop does not wait out their
		// retries (nothing signed is nothing journaled: no nonce is lost).
		if halt != nil {
			if rc := halt.relayContext(); rc != nil {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				defer context.AfterFunc(rc, cancel)()
			}
		}
		sig, err := key.SignDigest(ctx, digest)
		if errors.Is(err, kms.ErrKeyUnusable) && halt != nil {
			halt.Halt(err)
		}
		return sig, err
	})
}

// Halt stops one key's relay, and only that one, once its key cannot sign
// any more: the relay would otherwise keep reading entries it cannot send.
// Stopped, the key is released (its lease with it), so the pool treats it
// as a key no live process holds: its journal is finished and its entries
// and claims go to the other keys (docs/design.md 2.7). It stays stopped
// until the process restarts. The zero value is ready to use.
type Halt struct {
	mu     sync.Mutex
	ctx    context.Context // the key's relay context, nil before Context
	cancel context.CancelCauseFunc
	err    error
}

// Context derives the key's relay context from parent; done releases it.
func (h *Halt) Context(parent context.Context) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ctx, h.cancel = ctx, cancel
	if h.err != nil {
		cancel(h.err)
	}
	return ctx, func() { cancel(nil) }
}

// Halt stops the key's relay with err (the first one is kept).
func (h *Halt) Halt(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
	}
	if h.cancel != nil {
		h.cancel(h.err)
	}
}

// relayContext is the key's relay context (nil before Context).
func (h *Halt) relayContext() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctx
}

// Err is why the key was halted, nil while it was not.
func (h *Halt) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Open returns every key of the pool, in its configured order: with
// SIGNER=mnemonic the keys PROCESSOR_ACCOUNT_INDEX lists; with
// SIGNER=aws-kms the keys AWS_KMS_KEY_IDS lists, each opened once (its
// public key read and checked, retried while KMS throttles or times out). A
// KMS key that cannot sign (disabled, deleted, wrong type:
// kms.ErrKeyUnusable) is left out with an error naming it, and the others
// go on; no key usable, or KMS unreachable, is an error.
func Open(ctx context.Context, cfg config.Config, log zerolog.Logger) ([]Key, error) {
	if cfg.Signer != config.SignerAWSKMS {
		derived, err := Derive(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndexes)
		if err != nil {
			return nil, err
		}
		keys := make([]Key, len(derived))
		for i, k := range derived {
			keys[i] = Key{index: cfg.ProcessorAccountIndexes[i], local: k}
		}
		return keys, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return nil, err
	}
	var keys []Key
	var unusable error
	for _, id := range cfg.KMSKeyIDs {
		k, err := ks.Open(ctx, id)
		switch {
		case errors.Is(err, kms.ErrKeyUnusable):
			log.Error().Err(err).Str("kms_key", id).Msg("kms key cannot sign, leaving it out of the pool")
			unusable = err
			continue
		case err != nil:
			return nil, fmt.Errorf("AWS_KMS_KEY_IDS: %w", err)
		}
		keys = append(keys, Key{kms: k})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("AWS_KMS_KEY_IDS: no key can sign: %w", unusable)
	}
	return keys, nil
}

// First is the pool's first key: PROCESSOR_ACCOUNT_INDEX's first index, or
// AWS_KMS_KEY_IDS' first key, opened alone (an unusable first key is
// refused, not replaced by the next).
func First(ctx context.Context, cfg config.Config) (Key, error) {
	if cfg.Signer != config.SignerAWSKMS {
		k, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndex)
		if err != nil {
			return Key{}, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		return Key{index: cfg.ProcessorAccountIndex, local: k}, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return Key{}, err
	}
	k, err := ks.Open(ctx, cfg.KMSKeyIDs[0])
	if err != nil {
		return Key{}, fmt.Errorf("AWS_KMS_KEY_IDS: %w", err)
	}
	return Key{kms: k}, nil
}

// Checked is a key Check found able to sign.
type Checked struct {
	Address common.Address
	Name    string // "index 3", "kms alias/relay-1"
}

// Check verifies the pool's keys without signing anything (the -check
// preflight). Mnemonic keys are derived. Each KMS key is described (spec
// ECC_SECG_P256K1, usage SIGN_VERIFY, state Enabled) and its public key
// read (the address); without kms:DescribeKey, which the relay itself does
// not need, the spec and usage are checked from GetPublicKey and the state
// is not. Unlike Open, which leaves an unusable KMS key out and goes on
// with the others, Check fails on one: a release should not go out with a
// key list that is wrong.
func Check(ctx context.Context, cfg config.Config, log zerolog.Logger) ([]Checked, error) {
	if cfg.Signer != config.SignerAWSKMS {
		wallets, err := Wallets(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndexes)
		if err != nil {
			return nil, err
		}
		out := make([]Checked, len(wallets))
		for i, w := range wallets {
			out[i] = Checked{Address: w, Name: fmt.Sprintf("index %d", cfg.ProcessorAccountIndexes[i])}
		}
		return out, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return nil, err
	}
	var out []Checked
	var problems []error
	for _, id := range cfg.KMSKeyIDs {
		info, err := ks.Describe(ctx, id)
		var ke *kms.KeyError
		switch {
		case errors.As(err, &ke) && ke.Code == "AccessDeniedException":
			log.Warn().Str("kms_key", id).Msg("preflight: kms:DescribeKey not allowed, key state not checked (spec and usage are, from GetPublicKey)")
		case err != nil:
			problems = append(problems, err)
			continue
		default:
			if why := info.Usable(); why != "" {
				problems = append(problems, fmt.Errorf("kms key %s cannot sign: %s", id, why))
				continue
			}
		}
		k, err := ks.Open(ctx, id)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		log.Info().Str("kms_key", id).Str("wallet", k.Address().Hex()).Str("key_spec", info.Spec).Str("key_usage", info.Usage).
			Str("key_state", info.State).Msg("preflight: kms key can sign")
		out = append(out, Checked{Address: k.Address(), Name: "kms " + id})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("AWS_KMS_KEY_IDS: %w", errors.Join(problems...))
	}
	return out, nil
}

// openKMS builds the KMS client the standard AWS way (chain/kms).
func openKMS(ctx context.Context) (*kms.Keys, error) {
	client, err := kms.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("SIGNER=aws-kms: %w", err)
	}
	return kms.New(client, kms.Options{}), nil
}
