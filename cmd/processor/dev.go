//go:build !nodev

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devchain"
)

// devMnemonic is the well-known hardhat/anvil test phrase. It is used only in
// dev mode, against the embedded chain, when PROCESSOR_MNEMONIC is unset.
const devMnemonic = "test test test test test test test test test test test junk"

// devEnv is what dev mode started: an embedded chain producing blocks, and a
// Redis server when REDIS_URL did not answer.
type devEnv struct {
	log       zerolog.Logger
	chain     *devchain.Chain
	redis     *exec.Cmd            // redis-server child, when one was started
	redisDir  string               // its scratch directory
	embedded  *miniredis.Miniredis // in-process server, when redis-server is missing
	redisURL  string
	redisKind string // how Redis was found, for the banner
	blockTime time.Duration
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// startDev starts the embedded chain (on 127.0.0.1 only: dev mode never talks
// to another chain), deploys the test product, funds the wallet, finds or
// starts Redis, and points the configuration at them through the
// environment, so the processor then starts exactly as in production.
func startDev(ctx context.Context, log zerolog.Logger) (*devEnv, error) {
	port, err := envInt("DEV_CHAIN_PORT", 8545)
	if err != nil {
		return nil, err
	}
	blockMs, err := envInt("DEV_BLOCK_TIME", 1000)
	if err != nil || blockMs <= 0 {
		return nil, fmt.Errorf("DEV_BLOCK_TIME: want a positive number of milliseconds")
	}
	if os.Getenv("PROCESSOR_MNEMONIC") == "" {
		os.Setenv("PROCESSOR_MNEMONIC", devMnemonic)
	}
	if os.Getenv("CHAIN_RPC_URL") != "" {
		log.Warn().Msg("dev mode ignores CHAIN_RPC_URL and uses its embedded chain")
	}
	index, err := envInt("PROCESSOR_ACCOUNT_INDEX", 0)
	if err != nil {
		return nil, err
	}
	key, err := chain.DeriveKey(os.Getenv("PROCESSOR_MNEMONIC"), uint32(index))
	if err != nil {
		return nil, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)

	d := &devEnv{log: log, blockTime: time.Duration(blockMs) * time.Millisecond}
	d.chain, err = devchain.Start(devchain.Options{Port: port, Fund: []common.Address{wallet}})
	if err != nil {
		return nil, fmt.Errorf("start embedded chain on 127.0.0.1:%d (set DEV_CHAIN_PORT to change): %w", port, err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.chain.Produce(pctx, d.blockTime)
	}()

	if err := d.findRedis(ctx); err != nil {
		d.Close()
		return nil, err
	}
	defaults := map[string]string{
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "2",
		"CHAIN_POLL_INTERVAL":                  "500",
		"ERROR_TIMEOUT":                        "3000",
		"BALANCE_REFRESH_INTERVAL":             "5000",
		"INTAKE_ENABLED":                       "true",
	}
	for k, v := range defaults {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	os.Setenv("CHAIN_RPC_URL", d.chain.URL)
	os.Setenv("DEPEG_PRODUCT_ADDRESS", d.chain.Product.Hex())
	os.Setenv("REDIS_URL", d.redisURL)
	return d, nil
}

// findRedis picks the Redis dev mode runs against, in this order:
//
//  1. REDIS_URL (default redis://localhost:6379) when it answers a PING;
//  2. a redis-server child on a free loopback port, when one is installed;
//  3. an embedded Redis-protocol server (miniredis) on a free loopback port.
//
// The embedded server is for dev mode only: it speaks everything the relay
// uses (consumer groups, XREADGROUP with BLOCK, XPENDING, pipelines) but is
// not Redis, so the tests keep using a real redis-server. Neither 2 nor 3
// keeps data across restarts.
func (d *devEnv) findRedis(ctx context.Context) error {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://localhost:6379"
	}
	if opts, err := redis.ParseURL(url); err == nil {
		if ping(ctx, opts, time.Second) == nil {
			d.redisURL, d.redisKind = url, "from REDIS_URL"
			return nil
		}
	}
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return d.startRedisServer(ctx, bin)
	}
	return d.startEmbeddedRedis()
}

// startRedisServer runs redis-server on a free loopback port without
// persistence and waits until it answers.
func (d *devEnv) startRedisServer(ctx context.Context, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	if d.redisDir, err = os.MkdirTemp("", "depeg-relay-dev-redis"); err != nil {
		return fmt.Errorf("temp dir for redis: %w", err)
	}
	d.redis = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", d.redisDir, "--logfile", filepath.Join(d.redisDir, "redis.log"))
	if err := d.redis.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	d.redisURL, d.redisKind = fmt.Sprintf("redis://127.0.0.1:%d", port), "redis-server started by dev mode, not persisted"
	opts, err := redis.ParseURL(d.redisURL)
	if err != nil {
		return fmt.Errorf("parse own redis URL: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ping(ctx, opts, time.Second) == nil {
			d.log.Info().Str("redis_url", d.redisURL).Msg("started redis-server for dev mode")
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server on port %d did not answer (log: %s)", port, filepath.Join(d.redisDir, "redis.log"))
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startEmbeddedRedis serves the Redis protocol from this process on a free
// loopback port. miniredis starts its own accept loop; Close stops it.
func (d *devEnv) startEmbeddedRedis() error {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("no Redis answers at REDIS_URL, redis-server is not installed, and the embedded Redis did not start: %w", err)
	}
	d.embedded = m
	d.redisURL, d.redisKind = "redis://"+m.Addr(), "embedded in this process, dev mode only, not persisted"
	d.log.Warn().Str("redis_url", d.redisURL).
		Msg("no Redis answers at REDIS_URL and redis-server is not installed: using an embedded Redis-protocol server (dev mode only)")
	return nil
}

// ping reports whether the server at opts answers a PING within timeout. A
// plain dial comes first: when nothing listens, go-redis would otherwise log
// its own dial retries to stderr, which only confuses a newcomer.
func ping(ctx context.Context, opts *redis.Options, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, opts.Network, opts.Addr)
	if err != nil {
		return err
	}
	_ = conn.Close()
	c := redis.NewClient(opts)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// PrintBanner tells a newcomer where everything is and what to do next, and
// logs the same as one "dev mode ready" line for scripts and tests (its
// fields: chain_rpc, chain_id, product, helper, wallet, redis_url, monitor).
// The Redis URL is shown with its password, if any, redacted.
func (d *devEnv) PrintBanner(w io.Writer, cfg config.Config, wallet common.Address) {
	redisURL, _ := cfg.LogFields()["REDIS_URL"].(string)
	monitorURL := fmt.Sprintf("http://127.0.0.1:%d/api/monitor", cfg.Port)
	d.log.Info().Str("chain_rpc", d.chain.URL).Str("chain_id", d.chain.ChainID.String()).
		Str("product", d.chain.Product.Hex()).Str("helper", d.chain.Helper.Hex()).
		Str("wallet", wallet.Hex()).Str("redis_url", redisURL).Str("monitor", monitorURL).
		Msg("dev mode ready")
	fmt.Fprintf(w, `
depeg relay dev mode
  chain RPC        %s  (chain id %s, a block every %s)
  DepegProduct     %s
  message helper   %s  (EIP-712 verifyingContract)
  relay wallet     %s  (funded with 1000 ETH)
  Redis            %s  (%s; stream %s)
  monitor          %s
  metrics          http://127.0.0.1:%d/metrics
  intake           http://127.0.0.1:%d/api/application  (POST the frontend's JSON; API: /api/openapi.json)

Enqueue signed sample applications, as the frontend does (in another shell):
  go run ./cmd/enqueue -redis %s -rpc %s -product %s -n 5
Add -bad to also enqueue the malformed cases (they end in %s):
  redis-cli -u %s XRANGE %s - +

Stop with Ctrl-C; nothing of the chain is kept.

`, d.chain.URL, d.chain.ChainID, d.blockTime, d.chain.Product.Hex(), d.chain.Helper.Hex(), wallet.Hex(),
		redisURL, d.redisKind, cfg.StreamKey, monitorURL, cfg.Port, cfg.Port,
		redisURL, d.chain.URL, d.chain.Product.Hex(), cfg.DeadLetterStreamKey, redisURL, cfg.DeadLetterStreamKey)
}

// Close stops block production, the chain and any Redis dev mode started.
func (d *devEnv) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.chain != nil {
		_ = d.chain.Close()
	}
	if d.redis != nil && d.redis.Process != nil {
		_ = d.redis.Process.Kill()
		_ = d.redis.Wait()
	}
	if d.redisDir != "" {
		_ = os.RemoveAll(d.redisDir)
	}
	if d.embedded != nil {
		d.embedded.Close()
	}
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, v)
	}
	return n, nil
}

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
