//go:build !nodev

package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// Redis server of its own unless REDIS_URL was set.
type devEnv struct {
	log       zerolog.Logger
	chain     *devchain.Chain
	redis     *exec.Cmd            // redis-server child, when one was started
	redisDir  string               // its scratch directory
	embedded  *miniredis.Miniredis // in-process server, when redis-server is missing
	redisURL  string
	redisKind string // how Redis was found, for the banner
	// shared: REDIS_URL was set, so the Redis may serve others (a frontend
	// on localhost, another dev mode); isolation says what dev mode did
	// about it, for the banner.
	shared    bool
	isolation string
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
	d := &devEnv{log: log, blockTime: time.Duration(blockMs) * time.Millisecond,
		shared: strings.TrimSpace(os.Getenv("REDIS_URL")) != ""}
	if d.shared {
		if err := d.isolate(); err != nil {
			return nil, err
		}
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

// devNamespace prefixes the Redis names of a dev mode that shares its Redis;
// the suffix is random per run because each run has a fresh chain, so what
// an earlier run left in Redis (pending entries, a journal) means nothing to
// it.
const devNamespace = "dev-"

// isolate gives a dev mode on a shared Redis (REDIS_URL set) names of its own
// for whatever the environment does not name explicitly: the stream, group,
// consumer and dead-letter stream, and a wallet index of its own, since the
// journal key is the wallet's. Without it two dev modes on one machine, or a
// dev mode and a frontend's local Redis, share one consumer and take each
// other's entries: each simulates against its own chain and dead-letters the
// other's valid applications as SIGNATURE_INVALID.
func (d *devEnv) isolate() error {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("dev mode names: %w", err)
	}
	ns := devNamespace + hex.EncodeToString(b[:]) + ":"
	var own []string
	for _, v := range []struct{ name, def string }{
		{"REDIS_QUEUE_STREAM_KEY", "application:signatures"},
		{"REDIS_QUEUE_APPLICATION_ID", "depeg-backend-processor"},
		{"REDIS_QUEUE_CONSUMER_ID", "depeg-backend-processor-consumer"},
		{"DEAD_LETTER_STREAM_KEY", "application:signatures:dead"},
	} {
		if strings.TrimSpace(os.Getenv(v.name)) == "" {
			os.Setenv(v.name, ns+v.def)
			own = append(own, v.name)
		}
	}
	if strings.TrimSpace(os.Getenv("PROCESSOR_ACCOUNT_INDEX")) == "" {
		// Non-hardened BIP32 indexes are below 2^31; 0 is the index others
		// default to.
		os.Setenv("PROCESSOR_ACCOUNT_INDEX", strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])%(1<<31-1))+1, 10))
		own = append(own, "PROCESSOR_ACCOUNT_INDEX")
	}
	if len(own) == 0 {
		d.isolation = "every name set explicitly: shared with whoever else uses them"
	} else {
		d.isolation = "shared: dev mode uses names of its own (" + ns + "...) for " + strings.Join(own, ", ")
	}
	return nil
}

// findRedis picks the Redis dev mode runs against:
//
//  1. REDIS_URL when it is set (it must answer a PING: asked for explicitly,
//     it is not replaced by another);
//  2. else a redis-server child on a free loopback port, when one is installed;
//  3. else an embedded Redis-protocol server (miniredis) on a free loopback port.
//
// So dev mode never joins a Redis that merely happens to answer on
// localhost:6379 (a frontend's, another dev mode's). The embedded server is
// for dev mode only: it speaks everything the relay uses (consumer groups,
// XREADGROUP with BLOCK, XPENDING, pipelines) but is not Redis, so the tests
// keep using a real redis-server. Neither 2 nor 3 keeps data across restarts.
func (d *devEnv) findRedis(ctx context.Context) error {
	if d.shared {
		url := strings.TrimSpace(os.Getenv("REDIS_URL"))
		opts, err := redis.ParseURL(url)
		if err != nil {
			return errors.New("REDIS_URL is not a valid redis URL") // the URL may hold a password
		}
		if err := ping(ctx, opts, time.Second); err != nil {
			return fmt.Errorf("REDIS_URL does not answer (unset it and dev mode starts a Redis of its own): %w", err)
		}
		d.redisURL, d.redisKind = url, "from REDIS_URL, "+d.isolation
		return nil
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
	d.redisURL, d.redisKind = fmt.Sprintf("redis://127.0.0.1:%d", port), "its own redis-server, not persisted; set REDIS_URL to share one"
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
		return fmt.Errorf("redis-server is not installed and the embedded Redis did not start: %w", err)
	}
	d.embedded = m
	d.redisURL, d.redisKind = "redis://"+m.Addr(), "embedded in this process, dev mode only, not persisted; set REDIS_URL to share one"
	d.log.Warn().Str("redis_url", d.redisURL).
		Msg("redis-server is not installed: using an embedded Redis-protocol server (dev mode only)")
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
// fields: chain_rpc, chain_id, product, helper, wallet, redis_url,
// redis_shared, stream, group, consumer, dead_letter, monitor, console).
// The Redis URL is shown with its password, if any, redacted.
func (d *devEnv) PrintBanner(w io.Writer, cfg config.Config, wallet common.Address) {
	redisURL, _ := cfg.LogFields()["REDIS_URL"].(string)
	base := fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
	d.log.Info().Str("chain_rpc", d.chain.URL).Str("chain_id", d.chain.ChainID.String()).
		Str("product", d.chain.Product.Hex()).Str("helper", d.chain.Helper.Hex()).
		Str("wallet", wallet.Hex()).Str("redis_url", redisURL).Bool("redis_shared", d.shared).
		Str("stream", cfg.StreamKey).Str("group", cfg.GroupName).Str("consumer", cfg.ConsumerName).
		Str("dead_letter", cfg.DeadLetterStreamKey).Str("monitor", base+"/api/monitor").Str("console", base+"/console").
		Msg("dev mode ready")
	stream := ""
	if cfg.StreamKey != "application:signatures" {
		stream = " -stream " + cfg.StreamKey
	}
	fmt.Fprintf(w, `
depeg relay dev mode
  chain RPC        %s  (chain id %s, a block every %s)
  DepegProduct     %s
  message helper   %s  (EIP-712 verifyingContract)
  relay wallet     %s  (index %d, funded with 1000 ETH)
  Redis            %s  (%s)
    stream         %s  (group %s, consumer %s)
    dead letters   %s
  console          %s/console
  monitor          %s/api/monitor
  metrics          %s/metrics
  intake           %s/api/application  (POST the frontend's JSON; API: /api/openapi.json)

Enqueue signed sample applications, as the frontend does (in another shell):
  go run ./cmd/enqueue -redis %s%s -rpc %s -product %s -n 5
Add -bad to also enqueue the malformed cases (they end in %s):
  redis-cli -u %s XRANGE %s - +

Stop with Ctrl-C; nothing of the chain is kept.

`, d.chain.URL, d.chain.ChainID, d.blockTime, d.chain.Product.Hex(), d.chain.Helper.Hex(), wallet.Hex(), cfg.ProcessorAccountIndex,
		redisURL, d.redisKind, cfg.StreamKey, cfg.GroupName, cfg.ConsumerName, cfg.DeadLetterStreamKey,
		base, base, base, base,
		redisURL, stream, d.chain.URL, d.chain.Product.Hex(), cfg.DeadLetterStreamKey, redisURL, cfg.DeadLetterStreamKey)
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
