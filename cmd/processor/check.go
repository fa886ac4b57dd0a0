package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/config"
)

// preflight is the -check mode: it verifies, without writing anything, that
// a processor with this configuration could work (Redis answers, the node
// answers, the product has code, BATCH_CONTRACT_ADDRESS (when batching) is
// a batch contract for the product, each KMS key with SIGNER=aws-kms is an
// enabled ECC_SECG_P256K1 SIGN_VERIFY key, and a wallet holds at least
// PROCESSOR_MIN_BALANCE). Dokku runs it as the Procfile's release command, so
// a deploy that cannot reach Redis or the chain stops before the running
// container is replaced.
func preflight(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.RPCTimeout)
	defer cancel()
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	client, err := dialChain(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("chain node does not answer: %w", err)
	}
	code, err := client.CodeAt(ctx, cfg.DepegProductAddress, nil)
	if err != nil {
		return fmt.Errorf("read product code: %w", err)
	}
	if len(code) == 0 {
		return fmt.Errorf("no contract at DEPEG_PRODUCT_ADDRESS %s on chain %s", cfg.DepegProductAddress.Hex(), chainID)
	}
	if b := batching(cfg); b != nil {
		if err := batchdeploy.Check(ctx, client, b.Contract, cfg.DepegProductAddress); err != nil {
			return err
		}
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("read latest block: %w", err)
	}
	for _, w := range feeCapWarnings(cfg.MaxFeePerGas, head.BaseFee) {
		log.Warn().Str("max_fee_per_gas_wei", cfg.MaxFeePerGas.String()).Stringer("base_fee_wei", head.BaseFee).Msg(w)
	}
	wallets, err := checkKeys(ctx, cfg, log)
	if err != nil {
		return err
	}
	// A key below the minimum takes no work while the others go on, so the
	// check fails only when no key could work.
	funded := 0
	var low error
	for _, w := range wallets {
		wallet := w.address
		balance, err := client.BalanceAt(ctx, wallet, nil)
		if err != nil {
			return fmt.Errorf("read wallet balance: %w", err)
		}
		if balance.Cmp(cfg.ProcessorMinBalance) < 0 {
			low = fmt.Errorf("wallet %s holds %s wei, below PROCESSOR_MIN_BALANCE %s wei", wallet.Hex(), balance, cfg.ProcessorMinBalance)
			log.Warn().Str("wallet", wallet.Hex()).Str("key", w.name).Str("balance_wei", balance.String()).Msg("preflight: key below PROCESSOR_MIN_BALANCE takes no work")
			continue
		}
		funded++
		log.Info().Str("chain_id", chainID.String()).Str("wallet", wallet.Hex()).Str("key", w.name).Str("balance_wei", balance.String()).
			Msg("preflight ok: redis, chain, product and wallet balance")
	}
	if funded == 0 {
		return low
	}
	return nil
}

// checkedWallet is a key -check found able to sign.
type checkedWallet struct {
	address common.Address
	name    string // "index 3", "kms alias/relay-1"
}

// checkKeys verifies the pool's keys. Mnemonic keys are derived. Each KMS
// key is described (spec ECC_SECG_P256K1, usage SIGN_VERIFY, state Enabled)
// and its public key read (the address); without kms:DescribeKey, which
// the relay itself does not need, the spec and usage are checked from
// GetPublicKey and the state is not. Unlike the service, which leaves an
// unusable KMS key out and goes on with the others, the check fails on one:
// a release should not go out with a key list that is wrong.
func checkKeys(ctx context.Context, cfg config.Config, log zerolog.Logger) ([]checkedWallet, error) {
	if cfg.Signer != config.SignerAWSKMS {
		keys, err := poolKeys(cfg)
		if err != nil {
			return nil, err
		}
		out := make([]checkedWallet, len(keys))
		for i, k := range keys {
			out[i] = checkedWallet{address: crypto.PubkeyToAddress(k.PublicKey), name: fmt.Sprintf("index %d", cfg.ProcessorAccountIndexes[i])}
		}
		return out, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return nil, err
	}
	var out []checkedWallet
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
		out = append(out, checkedWallet{address: k.Address(), name: "kms " + id})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("AWS_KMS_KEY_IDS: %w", errors.Join(problems...))
	}
	return out, nil
}

// The warnings of feeCapWarnings. A cap below the base fee lets nothing be
// sent (the relay waits, and the monitor turns red after ERROR_TIMEOUT); a
// cap below 1 gwei was most likely meant in gwei. Neither fails the check:
// the base fee moves, and a test chain may run at a fraction of a gwei.
const (
	warnCapBelowBaseFee = "preflight: MAX_FEE_PER_GAS is below the current base fee: nothing can be sent while it is"
	warnCapBelowOneGwei = "preflight: MAX_FEE_PER_GAS is below 1 gwei: it is in wei (30 gwei is 30000000000)"
)

// feeCapWarnings judges MAX_FEE_PER_GAS against the latest block's base fee
// (nil before London).
func feeCapWarnings(maxFee, baseFee *big.Int) []string {
	var w []string
	if baseFee != nil && maxFee.Cmp(baseFee) < 0 {
		w = append(w, warnCapBelowBaseFee)
	}
	if maxFee.Cmp(big.NewInt(params.GWei)) < 0 {
		w = append(w, warnCapBelowOneGwei)
	}
	return w
}
