// Package preflight is the processor's -check: it verifies, without writing
// anything, that a processor with this configuration could work. Dokku runs
// it as the Procfile's release command, so a deploy that cannot reach Redis
// or the chain stops before the running container is replaced.
package preflight

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/params"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/backend"
	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/poolkeys"
)

// Run checks that Redis answers, the node answers, the product has code,
// BATCH_CONTRACT_ADDRESS is a batch contract for the product (when batching,
// the processor's rule, says the relay batches), each KMS key with
// SIGNER=aws-kms is an enabled ECC_SECG_P256K1 SIGN_VERIFY key
// (poolkeys.Check), and a wallet holds at least PROCESSOR_MIN_BALANCE. It
// warns, without failing, about a fee cap that looks wrong
// (FeeCapWarnings). The whole check takes at most twice RPC_TIMEOUT.
func Run(ctx context.Context, cfg config.Config, batching bool, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.RPCTimeout)
	defer cancel()
	rdb, err := backend.Redis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	client, err := backend.Chain(ctx, cfg)
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
	if batching {
		if err := batchdeploy.Check(ctx, client, cfg.BatchContract, cfg.DepegProductAddress); err != nil {
			return err
		}
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("read latest block: %w", err)
	}
	for _, w := range FeeCapWarnings(cfg.MaxFeePerGas, head.BaseFee) {
		log.Warn().Str("max_fee_per_gas_wei", cfg.MaxFeePerGas.String()).Stringer("base_fee_wei", head.BaseFee).Msg(w)
	}
	wallets, err := poolkeys.Check(ctx, cfg, log)
	if err != nil {
		return err
	}
	// A key below the minimum takes no work while the others go on, so the
	// check fails only when no key could work.
	funded := 0
	var low error
	for _, w := range wallets {
		wallet := w.Address
		balance, err := client.BalanceAt(ctx, wallet, nil)
		if err != nil {
			return fmt.Errorf("read wallet balance: %w", err)
		}
		if balance.Cmp(cfg.ProcessorMinBalance) < 0 {
			low = fmt.Errorf("wallet %s holds %s wei, below PROCESSOR_MIN_BALANCE %s wei", wallet.Hex(), balance, cfg.ProcessorMinBalance)
			log.Warn().Str("wallet", wallet.Hex()).Str("key", w.Name).Str("balance_wei", balance.String()).Msg("preflight: key below PROCESSOR_MIN_BALANCE takes no work")
			continue
		}
		funded++
		log.Info().Str("chain_id", chainID.String()).Str("wallet", wallet.Hex()).Str("key", w.Name).Str("balance_wei", balance.String()).
			Msg("preflight ok: redis, chain, product and wallet balance")
	}
	if funded == 0 {
		return low
	}
	return nil
}

// The warnings of FeeCapWarnings. A cap below the base fee lets nothing be
// sent (the relay waits, and the monitor turns red after ERROR_TIMEOUT); a
// cap below 1 gwei was most likely meant in gwei. Neither fails the check:
// the base fee moves, and a test chain may run at a fraction of a gwei.
const (
	WarnCapBelowBaseFee = "preflight: MAX_FEE_PER_GAS is below the current base fee: nothing can be sent while it is"
	WarnCapBelowOneGwei = "preflight: MAX_FEE_PER_GAS is below 1 gwei: it is in wei (30 gwei is 30000000000)"
)

// FeeCapWarnings judges MAX_FEE_PER_GAS against the latest block's base fee
// (nil before London).
func FeeCapWarnings(maxFee, baseFee *big.Int) []string {
	var w []string
	if baseFee != nil && maxFee.Cmp(baseFee) < 0 {
		w = append(w, WarnCapBelowBaseFee)
	}
	if maxFee.Cmp(big.NewInt(params.GWei)) < 0 {
		w = append(w, WarnCapBelowOneGwei)
	}
	return w
}
