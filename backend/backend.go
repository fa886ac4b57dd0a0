// Package backend reaches the relay's two backends as the configuration
// names them, Redis (REDIS_MODE, REDIS_URL) and the node (CHAIN_RPC_URL),
// with the secret parts of their URLs kept out of every error
// (redisconn.Open, chain.Dial); the service, -check, deploy-batch and the
// on-call commands all open them here. WaitReady is the service's start:
// it waits until both answer instead of crash-looping.
package backend

import (
	"context"
	"math/big"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/redisconn"
)

// Redis opens a client for REDIS_MODE and REDIS_URL. It does not connect:
// the first command does.
func Redis(cfg config.Config) (redis.UniversalClient, error) {
	return redisconn.Open(cfg.RedisMode, cfg.RedisURL.Reveal())
}

// Chain builds the client of CHAIN_RPC_URL; errors never show its secret
// parts. It does not reach the node, over http(s) or ws(s): the first call
// does, so a node down now fails that call (WaitReady's chain id) and not
// the start.
func Chain(ctx context.Context, cfg config.Config) (*chain.Client, error) {
	return chain.Dial(ctx, cfg.ChainRPCURL.Reveal())
}

// WaitReady tries Redis and the node every ERROR_TIMEOUT until both
// answered once (a PING, the chain id), telling boot each outcome, and
// returns the chain id; false when ctx ended first. A processor started
// before its Redis or its node waits here, answering the monitor, instead
// of crash-looping.
func WaitReady(ctx context.Context, cfg config.Config, log zerolog.Logger, boot *monitor.Startup,
	rdb redis.UniversalClient, client *chain.Client) (*big.Int, bool) {
	var chainID *big.Int
	redisOK := false
	for {
		if !redisOK {
			c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			err := rdb.Ping(c).Err()
			cancel()
			if ctx.Err() != nil {
				return nil, false
			}
			boot.Set(monitor.PartRedis, err)
			if redisOK = err == nil; !redisOK {
				log.Warn().Err(err).Dur("retry_in", cfg.ErrorTimeout).Msg("redis does not answer, retrying")
			}
		}
		if chainID == nil {
			c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			id, err := client.ChainID(c)
			cancel()
			if ctx.Err() != nil {
				return nil, false
			}
			boot.Set(monitor.PartChain, err)
			if err != nil {
				log.Warn().Err(err).Dur("retry_in", cfg.ErrorTimeout).Msg("read chain id failed, retrying")
			} else {
				chainID = id
			}
		}
		if redisOK && chainID != nil {
			return chainID, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(cfg.ErrorTimeout):
		}
	}
}
