package main

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
)

// preflight is the -check mode: it verifies, without writing anything, that
// a processor with this configuration could work (Redis answers, the node
// answers, the product has code, the wallet holds at least
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
	// A key below the minimum takes no work while the others go on, so the
	// check fails only when no key could work.
	funded := 0
	var low error
	keys, err := poolKeys(cfg)
	if err != nil {
		return err
	}
	for _, key := range keys {
		wallet := crypto.PubkeyToAddress(key.PublicKey)
		balance, err := client.BalanceAt(ctx, wallet, nil)
		if err != nil {
			return fmt.Errorf("read wallet balance: %w", err)
		}
		if balance.Cmp(cfg.ProcessorMinBalance) < 0 {
			low = fmt.Errorf("wallet %s holds %s wei, below PROCESSOR_MIN_BALANCE %s wei", wallet.Hex(), balance, cfg.ProcessorMinBalance)
			log.Warn().Str("wallet", wallet.Hex()).Str("balance_wei", balance.String()).Msg("preflight: key below PROCESSOR_MIN_BALANCE takes no work")
			continue
		}
		funded++
		log.Info().Str("chain_id", chainID.String()).Str("wallet", wallet.Hex()).Str("balance_wei", balance.String()).
			Msg("preflight ok: redis, chain, product and wallet balance")
	}
	if funded == 0 {
		return low
	}
	return nil
}
