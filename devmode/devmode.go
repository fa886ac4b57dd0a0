// Package devmode is dev mode's environment: an embedded chain with the test
// product and the batch contract, funded keys, and a Redis (its own
// redis-server, else an embedded one, or REDIS_URL's under names of its own),
// and the settings the processor's configuration then reads over the
// environment. The production image leaves it out: cmd/processor imports it
// only from a file built without the nodev tag, so devchain and miniredis are
// not linked into that binary.
package devmode

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/redisproc"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/poolkeys"
)

// devMnemonic is the well-known hardhat/anvil test phrase. It is used only in
// dev mode, against the embedded chain, when PROCESSOR_MNEMONIC is unset.
const devMnemonic = "test test test test test test test test test test test junk"

// devOwnerSeed makes dev mode's chain owner key (its Keccak-256): the
// product and the message helper then have the same addresses on every
// start, so README's signed example (whose EIP-712 domain names the helper)
// is accepted by any fresh dev mode. It is no index of the mnemonic, so the
// owner never shares a nonce with a relay key.
const devOwnerSeed = "depeg relay dev mode chain owner"

// Env is dev mode's environment: an embedded chain producing blocks, and a
// Redis server of its own unless REDIS_URL was set. It is a lifecycle part:
// New builds it without starting anything, Start starts the chain, then
// Redis, through a lifecycle.Group (a Redis that does not come up closes the
// chain again), and Close stops them in reverse order.
//
// It reads the environment through lookup and never writes it: what it
// decides for the processor (the chain's URL, the product, Redis, the lowered
// defaults, the isolated names) is Settings, which the configuration reads
// over the environment (Lookup).
type Env struct {
	log    zerolog.Logger
	lookup func(string) (string, bool)
	// settings are dev mode's values for config, over the environment.
	settings  map[string]string
	chain     *devChainPart
	redis     *devRedis
	group     *lifecycle.Group
	blockTime time.Duration
	// shared: REDIS_URL was set, so the Redis may serve others (a frontend
	// on localhost, another dev mode); isolation says what dev mode did
	// about it, for the banner.
	shared    bool
	isolation string
}

// New returns dev mode's environment, reading the process environment
// through lookup (os.LookupEnv). It starts nothing.
func New(log zerolog.Logger, lookup func(string) (string, bool)) *Env {
	return &Env{log: log, lookup: lookup, settings: map[string]string{}}
}

// Start starts dev mode's environment. Its settings reach the
// configuration through Lookup (config.LoadFrom), so the processor then
// starts exactly as in production, and the process environment is never
// written.
func Start(ctx context.Context, log zerolog.Logger) (*Env, error) {
	d := New(log, os.LookupEnv)
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// get is the value dev mode sees for name: its own setting, else the
// environment's.
func (d *Env) get(name string) string {
	v, _ := d.Lookup(name)
	return v
}

// Lookup is name's value for the configuration: dev mode's setting, else the
// environment's. It has the shape of os.LookupEnv.
func (d *Env) Lookup(name string) (string, bool) {
	if v, ok := d.settings[name]; ok {
		return v, true
	}
	return d.lookup(name)
}

// Settings are the variables dev mode sets for the configuration, to be read
// over the environment. Valid after Start; the map is a copy.
func (d *Env) Settings() map[string]string { return maps.Clone(d.settings) }

// Start starts the embedded chain (on 127.0.0.1 only: dev mode never talks
// to another chain), deploys the test product and the batch contract for it,
// funds the wallet, and finds or
// starts Redis. When a step fails, what the earlier ones started is stopped
// again before Start returns.
func (d *Env) Start(ctx context.Context) error {
	if d.group != nil {
		return errors.New("dev mode: already started")
	}
	port, err := d.envInt("DEV_CHAIN_PORT", 8545)
	if err != nil {
		return err
	}
	blockMs, err := d.envInt("DEV_BLOCK_TIME", 1000)
	if err != nil || blockMs <= 0 {
		return fmt.Errorf("DEV_BLOCK_TIME: want a positive number of milliseconds")
	}
	d.blockTime = time.Duration(blockMs) * time.Millisecond
	if d.get("PROCESSOR_MNEMONIC") == "" {
		d.settings["PROCESSOR_MNEMONIC"] = devMnemonic
	}
	if d.get("CHAIN_RPC_URL") != "" {
		d.log.Warn().Msg("dev mode ignores CHAIN_RPC_URL and uses its embedded chain")
	}
	d.shared = strings.TrimSpace(d.get("REDIS_URL")) != ""
	if d.shared {
		if err := d.isolate(); err != nil {
			return err
		}
	}
	// Every key of the pool is funded; a bad list is config's to report.
	indexes := []uint32{0}
	if v := strings.TrimSpace(d.get("PROCESSOR_ACCOUNT_INDEX")); v != "" {
		if indexes, err = config.ParseAccountIndexes(v); err != nil {
			return fmt.Errorf("PROCESSOR_ACCOUNT_INDEX: %w", err)
		}
	}
	wallets, err := poolkeys.Wallets(d.get("PROCESSOR_MNEMONIC"), indexes)
	if err != nil {
		return err
	}

	owner, err := crypto.ToECDSA(crypto.Keccak256([]byte(devOwnerSeed)))
	if err != nil {
		return fmt.Errorf("dev chain owner key: %w", err)
	}
	d.chain = &devChainPart{opts: devchain.Options{Port: port, Fund: wallets, OwnerKey: owner, Batch: true}, blockTime: d.blockTime}
	d.redis = &devRedis{log: d.log, url: strings.TrimSpace(d.get("REDIS_URL")), isolation: d.isolation}
	d.group = lifecycle.NewGroup(
		lifecycle.Named{Name: "embedded chain", Part: d.chain},
		lifecycle.Named{Name: "redis", Part: d.redis},
	)
	if err := d.group.Start(ctx); err != nil {
		return fmt.Errorf("dev mode: %w", err)
	}

	for k, v := range map[string]string{
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "2",
		"CHAIN_POLL_INTERVAL":                  "500",
		"ERROR_TIMEOUT":                        "3000",
		"BALANCE_REFRESH_INTERVAL":             "5000",
		"INTAKE_ENABLED":                       "true",
		// A relay reaches its safe point after its blocking read returns
		// (go-redis does not cut a BLOCK short when the context ends): a
		// short block lets Ctrl-C stop dev mode within a second.
		"REDIS_READ_BLOCK_TIMEOUT": "300",
	} {
		if d.get(k) == "" {
			d.settings[k] = v
		}
	}
	d.settings["CHAIN_RPC_URL"] = d.chain.chain.URL
	d.settings["DEPEG_PRODUCT_ADDRESS"] = d.chain.chain.Product.Hex()
	// Dev mode batches by default, through the batch contract the chain
	// deployed; BATCH_MAX_APPLICATIONS=1 turns it off.
	if strings.TrimSpace(d.get("BATCH_CONTRACT_ADDRESS")) == "" {
		d.settings["BATCH_CONTRACT_ADDRESS"] = d.chain.chain.Batch.Hex()
	}
	d.settings["REDIS_URL"] = d.redis.url
	return nil
}

// Close stops block production, the chain and any Redis dev mode started, in
// reverse order of starting. Safe to call twice and on an env that never
// started.
func (d *Env) Close() error {
	if d.group == nil {
		return nil
	}
	return d.group.Close()
}

// devChainPart is the embedded chain with its block producer, as a lifecycle
// part: Start brings the chain up and starts sealing a block every
// blockTime; Close stops the producer, waits for it, then the chain.
type devChainPart struct {
	opts      devchain.Options
	blockTime time.Duration
	chain     *devchain.Chain
	produce   *lifecycle.Func
}

func (c *devChainPart) Start(ctx context.Context) error {
	ch, err := devchain.Start(c.opts)
	if err != nil {
		return fmt.Errorf("start embedded chain on 127.0.0.1:%d (set DEV_CHAIN_PORT to change): %w", c.opts.Port, err)
	}
	c.chain = ch
	c.produce = lifecycle.NewFunc(func(ctx context.Context) error {
		ch.Produce(ctx, c.blockTime)
		return nil
	})
	if err := c.produce.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("produce blocks: %w", err), c.Close())
	}
	return nil
}

func (c *devChainPart) Close() error {
	var err error
	if c.produce != nil {
		err = c.produce.Close()
	}
	if c.chain != nil {
		if cerr := c.chain.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close embedded chain: %w", cerr))
		}
	}
	return err
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
func (d *Env) isolate() error {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("dev mode names: %w", err)
	}
	ns := devNamespace + hex.EncodeToString(b[:]) + ":"
	var own []string
	// The names after the prefix are config's defaults (written once, in
	// config); the consumer, which config derives per process, is named
	// as the old processor named it.
	def := map[string]string{"REDIS_QUEUE_CONSUMER_ID": "depeg-backend-processor-consumer"}
	for _, v := range config.Variables() {
		if v.Default != "" {
			def[v.Name] = v.Default
		}
	}
	for _, v := range []struct{ name, def string }{
		{"REDIS_QUEUE_STREAM_KEY", def["REDIS_QUEUE_STREAM_KEY"]},
		{"REDIS_QUEUE_APPLICATION_ID", def["REDIS_QUEUE_APPLICATION_ID"]},
		{"REDIS_QUEUE_CONSUMER_ID", def["REDIS_QUEUE_CONSUMER_ID"]},
		{"DEAD_LETTER_STREAM_KEY", def["DEAD_LETTER_STREAM_KEY"]},
	} {
		if strings.TrimSpace(d.get(v.name)) == "" {
			d.settings[v.name] = ns + v.def
			own = append(own, v.name)
		}
	}
	if strings.TrimSpace(d.get("PROCESSOR_ACCOUNT_INDEX")) == "" {
		// Non-hardened BIP32 indexes are below 2^31; 0 is the index others
		// default to.
		d.settings["PROCESSOR_ACCOUNT_INDEX"] = strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])%(1<<31-1))+1, 10)
		own = append(own, "PROCESSOR_ACCOUNT_INDEX")
	}
	if len(own) == 0 {
		d.isolation = "every name set explicitly: shared with whoever else uses them"
	} else {
		d.isolation = "shared: dev mode uses names of its own (" + ns + "...) for " + strings.Join(own, ", ")
	}
	return nil
}

// devRedis is the Redis dev mode runs against, as a lifecycle part. Start
// picks it:
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
// Close stops what Start started (nothing for 1).
type devRedis struct {
	log zerolog.Logger
	// url is REDIS_URL before Start, the Redis in use after.
	url       string
	isolation string
	kind      string               // how Redis was found, for the banner
	proc      *redisproc.Process   // redis-server child, when one was started
	embedded  *miniredis.Miniredis // in-process server, when redis-server is missing
}

func (r *devRedis) Start(ctx context.Context) error {
	if r.url != "" {
		opts, err := redis.ParseURL(r.url)
		if err != nil {
			return errors.New("REDIS_URL is not a valid redis URL") // the URL may hold a password
		}
		if err := redisproc.Ping(ctx, opts, time.Second); err != nil {
			return fmt.Errorf("REDIS_URL does not answer (unset it and dev mode starts a Redis of its own): %w", err)
		}
		r.kind = "from REDIS_URL, " + r.isolation
		return nil
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		if err := r.startRedisServer(ctx); err != nil {
			return errors.Join(err, r.Close())
		}
		return nil
	}
	return r.startEmbedded()
}

// startRedisServer runs redis-server on a free loopback port without
// persistence (internal/redisproc, the tests' launcher too) and waits until
// it answers.
func (r *devRedis) startRedisServer(ctx context.Context) error {
	// A process group of its own: Ctrl-C sends SIGINT to the terminal's
	// foreground group, and redis-server would quit at once while the relay
	// still reads it (connection errors, then ERROR_TIMEOUT back-offs: a
	// 4 s shutdown). Close stops it last, after the relay.
	p, err := redisproc.Start(ctx, redisproc.Options{OwnGroup: true, Args: []string{"--save", "", "--appendonly", "no"}})
	if err != nil {
		return err
	}
	r.proc = p
	r.url, r.kind = "redis://"+p.Addr(), "its own redis-server, not persisted; set REDIS_URL to share one"
	r.log.Info().Str("redis_url", r.url).Msg("started redis-server for dev mode")
	return nil
}

// startEmbedded serves the Redis protocol from this process on a free
// loopback port. miniredis starts its own accept loop; Close stops it.
func (r *devRedis) startEmbedded() error {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("redis-server is not installed and the embedded Redis did not start: %w", err)
	}
	r.embedded = m
	r.url, r.kind = "redis://"+m.Addr(), "embedded in this process, dev mode only, not persisted; set REDIS_URL to share one"
	r.log.Warn().Str("redis_url", r.url).
		Msg("redis-server is not installed: using an embedded Redis-protocol server (dev mode only)")
	return nil
}

// Close stops the redis-server child (and removes its directory) or the
// embedded server, whichever Start started. Safe to call twice.
func (r *devRedis) Close() error {
	// Nothing of it is kept: SIGKILL is as good as a shutdown and never
	// waits for a save.
	err := r.proc.Close()
	r.proc = nil
	if r.embedded != nil {
		r.embedded.Close()
		r.embedded = nil
	}
	return err
}

// PrintBanner tells a newcomer where everything is and what to do next, and
// logs the same as one "dev mode ready" line for scripts and tests (its
// fields: chain_rpc, chain_id, product, helper, wallet, redis_url,
// redis_shared, stream, group, consumer, dead_letter, monitor, console).
// The Redis URL is shown with its password, if any, redacted.
//
// batching says whether the relay batches (the processor's rule, from
// BATCH_CONTRACT_ADDRESS and BATCH_MAX_APPLICATIONS): the banner shows the
// contract, else that batching is off.
func (d *Env) PrintBanner(w io.Writer, cfg config.Config, batching bool) {
	var wallets []string
	addrs, _ := poolkeys.Wallets(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndexes)
	for _, a := range addrs {
		wallets = append(wallets, a.Hex())
	}
	wallet := ""
	if len(wallets) > 0 {
		wallet = wallets[0]
	}
	walletLines := ""
	for i, w := range wallets {
		walletLines += fmt.Sprintf("  relay wallet     %s  (index %d, funded with 1000 ETH)\n", w, cfg.ProcessorAccountIndexes[i])
	}
	redisURL, _ := cfg.LogFields()["REDIS_URL"].(string)
	base := fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
	ch := d.chain.chain
	batchLine := "off (BATCH_MAX_APPLICATIONS=1)"
	if batching {
		batchLine = fmt.Sprintf("%s  (up to %d applications a transaction)", cfg.BatchContract.Hex(), cfg.BatchMaxApplications)
	}
	d.log.Info().Str("chain_rpc", ch.URL).Str("chain_id", ch.ChainID.String()).
		Str("product", ch.Product.Hex()).Str("helper", ch.Helper.Hex()).Str("batch_contract", cfg.BatchContract.Hex()).
		Str("wallet", wallet).Strs("wallets", wallets).Str("redis_url", redisURL).Bool("redis_shared", d.shared).
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
  batch contract   %s
%s  Redis            %s  (%s)
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

`, ch.URL, ch.ChainID, d.blockTime, ch.Product.Hex(), ch.Helper.Hex(), batchLine, walletLines,
		redisURL, d.redis.kind, cfg.StreamKey, cfg.GroupName, cfg.ConsumerName, cfg.DeadLetterStreamKey,
		base, base, base, base,
		redisURL, stream, ch.URL, ch.Product.Hex(), cfg.DeadLetterStreamKey, redisURL, cfg.DeadLetterStreamKey)
}

// envInt reads name as an integer, def when it is unset or blank.
func (d *Env) envInt(name string, def int) (int, error) {
	v := strings.TrimSpace(d.get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, v)
	}
	return n, nil
}
