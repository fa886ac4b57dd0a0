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
	redis     *exec.Cmd
	redisDir  string
	redisURL  string
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

// findRedis uses REDIS_URL (default redis://localhost:6379) when it answers;
// otherwise it starts redis-server on a free loopback port.
func (d *devEnv) findRedis(ctx context.Context) error {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://localhost:6379"
	}
	if opts, err := redis.ParseURL(url); err == nil {
		c := redis.NewClient(opts)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = c.Ping(pctx).Err()
		cancel()
		c.Close()
		if err == nil {
			d.redisURL = url
			return nil
		}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("no Redis answers at REDIS_URL and redis-server is not installed (apt-get install redis-server)")
	}
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
	d.redisURL = fmt.Sprintf("redis://127.0.0.1:%d", port)
	opts, _ := redis.ParseURL(d.redisURL)
	c := redis.NewClient(opts)
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c.Ping(ctx).Err() == nil {
			d.log.Info().Str("redis_url", d.redisURL).Msg("started redis-server for dev mode")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PrintBanner tells a newcomer where everything is and what to do next.
func (d *devEnv) PrintBanner(w io.Writer, cfg config.Config, wallet common.Address) {
	fmt.Fprintf(w, `
depeg relay dev mode
  chain RPC        %s  (chain id %s, a block every %s)
  DepegProduct     %s
  message helper   %s  (EIP-712 verifyingContract)
  relay wallet     %s  (funded with 1000 ETH)
  Redis            %s  (stream %s)
  monitor          http://127.0.0.1:%d/api/monitor
  metrics          http://127.0.0.1:%d/metrics

Enqueue signed sample applications, as the frontend does:
  go run ./cmd/enqueue -redis %s -rpc %s -product %s -n 5
Add -bad to also enqueue the malformed cases (they end in %s).

`, d.chain.URL, d.chain.ChainID, d.blockTime, d.chain.Product.Hex(), d.chain.Helper.Hex(), wallet.Hex(),
		d.redisURL, cfg.StreamKey, cfg.Port, cfg.Port, d.redisURL, d.chain.URL, d.chain.Product.Hex(), cfg.DeadLetterStreamKey)
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
