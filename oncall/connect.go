package oncall

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/redisconn"
	"github.com/etherisc/depeg-relay/stream"
)

// ErrUsage marks a command line that cannot run; errors.Is(err, ErrUsage)
// holds for every refusal Usagef makes, whose text says why.
var ErrUsage = errors.New("usage")

// usageError is a command line that cannot run, and why.
type usageError struct{ why string }

func (e usageError) Error() string        { return e.why }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Usagef is a refusal of a command line, saying why.
func Usagef(format string, args ...any) error {
	return usageError{why: fmt.Sprintf(format, args...)}
}

// usageErrorf is Usagef, under the name the commands' parsers use.
func usageErrorf(format string, args ...any) error { return Usagef(format, args...) }

// openRedis opens a client for REDIS_MODE and REDIS_URL, as the service does.
func openRedis(cfg config.Config) (redis.UniversalClient, error) {
	return redisconn.Open(cfg.RedisMode, cfg.RedisURL.Reveal())
}

// dialChain dials CHAIN_RPC_URL; errors never show its secret parts.
func dialChain(ctx context.Context, cfg config.Config) (*chain.Client, error) {
	return chain.Dial(ctx, cfg.ChainRPCURL.Reveal())
}

// poolWallets are the addresses of the keys PROCESSOR_ACCOUNT_INDEX lists,
// derived from the mnemonic, in their configured order.
func poolWallets(cfg config.Config) ([]common.Address, error) {
	wallets := make([]common.Address, len(cfg.ProcessorAccountIndexes))
	for i, idx := range cfg.ProcessorAccountIndexes {
		k, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), idx)
		if err != nil {
			return nil, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		wallets[i] = crypto.PubkeyToAddress(k.PublicKey)
	}
	return wallets, nil
}

// NewOperator is the dead-letter operator over queue, replaying into the
// configured stream: the one the service's admin routes and console use
// and the deadletters command, so a replay is the same from either.
func NewOperator(cfg config.Config, rdb redis.Cmdable, queue *stream.Queue) *intake.Operator {
	return intake.NewOperator(queue, stream.NewPublisher(rdb, cfg.StreamKey, stream.PublishOptions{
		ClaimTTL: intake.ReplayClaimTTL, StatusTTL: cfg.ApplicationStatusTTL,
	}))
}
