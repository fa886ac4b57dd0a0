package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/redisconn"
)

// The service, -check and the subcommands reach Redis, the node and the
// keys the same way, through these.

// openRedis opens a client for REDIS_MODE and REDIS_URL.
func openRedis(cfg config.Config) (redis.UniversalClient, error) {
	return redisconn.Open(cfg.RedisMode, cfg.RedisURL.Reveal())
}

// dialChain dials CHAIN_RPC_URL; errors never show its secret parts.
func dialChain(ctx context.Context, cfg config.Config) (*chain.Client, error) {
	return chain.Dial(ctx, cfg.ChainRPCURL.Reveal())
}

// poolKey is one key of the pool, however it signs: derived from the
// mnemonic, or held by AWS KMS.
type poolKey struct {
	index uint32            // its PROCESSOR_ACCOUNT_INDEX entry (SIGNER=mnemonic)
	local *ecdsa.PrivateKey // SIGNER=mnemonic
	kms   *kms.Key          // SIGNER=aws-kms
}

// Address is the key's wallet.
func (k poolKey) Address() common.Address {
	if k.kms != nil {
		return k.kms.Address()
	}
	return crypto.PubkeyToAddress(k.local.PublicKey)
}

// Signer binds the key to the chain. A KMS key that KMS refuses to sign
// with (kms.ErrKeyUnusable: disabled, deleted, no longer allowed) halts its
// relay through halt; nil halts nothing.
func (k poolKey) Signer(chainID *big.Int, halt *keyHalt) *chain.Signer {
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

// keyHalt stops one key's relay, and only that one, once its key cannot
// sign any more: the relay would otherwise keep reading entries it cannot
// send. Stopped, the key is released (its lease with it), so the pool
// treats it as a key no live process holds: its journal is finished and
// its entries and claims go to the other keys (docs/design.md 2.7). It
// stays stopped until the process restarts.
type keyHalt struct {
	mu     sync.Mutex
	ctx    context.Context // the key's relay context, nil before Context
	cancel context.CancelCauseFunc
	err    error
}

// Context derives the key's relay context from parent; done releases it.
func (h *keyHalt) Context(parent context.Context) (ctx context.Context, done func()) {
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
func (h *keyHalt) Halt(err error) {
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
func (h *keyHalt) relayContext() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctx
}

// Err is why the key was halted, nil while it was not.
func (h *keyHalt) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Name says which key this is in logs: "kms alias/relay-1" or "index 3".
func (k poolKey) Name() string {
	if k.kms != nil {
		return "kms " + k.kms.ID()
	}
	return fmt.Sprintf("index %d", k.index)
}

// poolKeys derives every key PROCESSOR_ACCOUNT_INDEX lists, in its order
// (SIGNER=mnemonic; the subcommands and dev mode read wallets through it).
func poolKeys(cfg config.Config) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, len(cfg.ProcessorAccountIndexes))
	for i, idx := range cfg.ProcessorAccountIndexes {
		k, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), idx)
		if err != nil {
			return nil, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		keys[i] = k
	}
	return keys, nil
}

// openPoolKeys returns every key of the pool, in its configured order:
// with SIGNER=mnemonic the keys PROCESSOR_ACCOUNT_INDEX lists; with
// SIGNER=aws-kms the keys AWS_KMS_KEY_IDS lists, each opened once (its
// public key read and checked, retried while KMS throttles or times out). A
// KMS key that cannot sign (disabled, deleted, wrong type:
// kms.ErrKeyUnusable) is left out with an error naming it, and the others
// go on; no key usable, or KMS unreachable, is an error.
func openPoolKeys(ctx context.Context, cfg config.Config, log zerolog.Logger) ([]poolKey, error) {
	if cfg.Signer != config.SignerAWSKMS {
		derived, err := poolKeys(cfg)
		if err != nil {
			return nil, err
		}
		keys := make([]poolKey, len(derived))
		for i, k := range derived {
			keys[i] = poolKey{index: cfg.ProcessorAccountIndexes[i], local: k}
		}
		return keys, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return nil, err
	}
	var keys []poolKey
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
		keys = append(keys, poolKey{kms: k})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("AWS_KMS_KEY_IDS: no key can sign: %w", unusable)
	}
	return keys, nil
}

// openKMS builds the KMS client the standard AWS way (chain/kms).
func openKMS(ctx context.Context) (*kms.Keys, error) {
	client, err := kms.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("SIGNER=aws-kms: %w", err)
	}
	return kms.New(client, kms.Options{}), nil
}
