package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/redisconn"
)

// The service, -check and the subcommands reach Redis, the node and the
// keys the same way, through these three.

// openRedis opens a client for REDIS_MODE and REDIS_URL.
func openRedis(cfg config.Config) (redis.UniversalClient, error) {
	return redisconn.Open(cfg.RedisMode, cfg.RedisURL.Reveal())
}

// dialChain dials CHAIN_RPC_URL; errors never show its secret parts.
func dialChain(ctx context.Context, cfg config.Config) (*chain.Client, error) {
	return chain.Dial(ctx, cfg.ChainRPCURL.Reveal())
}

// poolKeys derives every key PROCESSOR_ACCOUNT_INDEX lists, in its order.
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
