// Package config reads the processor's settings from the environment, once,
// into typed values.
//
// The variable names, units and defaults of the old processor are a contract
// with the Dokku apps that already set them (durations are integer
// milliseconds, amounts integer wei, and CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS
// keeps its spelling). New settings all have safe defaults.
//
// A bad environment stops startup with one error naming every bad or missing
// variable, so an operator fixes the app in one round trip instead of one
// variable per deploy. Nothing secret is ever part of that error or of
// LogFields: the mnemonic, the Redis password and the RPC URL (which may
// carry an API key in its path or query) are held as Secret.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/big"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"
	"github.com/tyler-smith/go-bip39"
)

// Config is the effective configuration, parsed and validated.
//
// Build it with Load. A Config built as a literal (in tests) is not
// validated; its zero values are not the defaults.
type Config struct {
	// RedisURL is REDIS_URL (redis://, rediss:// or unix://). It is a Secret
	// because it may carry the Redis password; pass Reveal() to the client.
	RedisURL Secret
	// RedisMode is REDIS_MODE: single (default), sentinel or cluster, which
	// decides how RedisURL is read (package redisconn).
	RedisMode string
	// StreamKey is REDIS_QUEUE_STREAM_KEY, the stream the frontend writes.
	StreamKey string
	// GroupName is REDIS_QUEUE_APPLICATION_ID, the consumer group.
	GroupName string
	// ConsumerName is REDIS_QUEUE_CONSUMER_ID, the base of this process's
	// consumer names in the group; each key's relay reads as
	// "<ConsumerName>/<wallet>". Empty (the default) means "<host>-<pid>",
	// which the processor derives at start, so processes never share a
	// name. Entries left pending under any other name (a dead process, the
	// old processor's "depeg-backend-processor-consumer") are claimed after
	// ClaimIdle.
	ConsumerName string
	// ClaimIdle is REDIS_QUEUE_CLAIM_IDLE: an entry pending this long under
	// a consumer that has been silent this long is claimed by a live relay
	// (XPENDING IDLE + XCLAIM). Relays touch their own in-flight entries
	// well within it, so live work is never claimed.
	ClaimIdle time.Duration
	// MaxEntryClaims is MAX_ENTRY_CLAIMS: an entry claimed from dead
	// consumers more often than this is dead-lettered ("claimed too many
	// times"), since it evidently takes its readers down with it.
	MaxEntryClaims int
	// DeadLetterStreamKey is DEAD_LETTER_STREAM_KEY, where final rejections
	// are recorded with their reason. It differs from StreamKey.
	DeadLetterStreamKey string
	// RedisReadBlockTimeout is REDIS_READ_BLOCK_TIMEOUT: how long one loop
	// iteration waits for new entries or a free slot. The relay caps a
	// single XREADGROUP BLOCK at 2 s (relay.maxReadBlock).
	RedisReadBlockTimeout time.Duration

	// ChainRPCURL is CHAIN_RPC_URL (http, https, ws or wss). It is a Secret
	// because providers put the API key in the path or query.
	ChainRPCURL Secret
	// DepegProductAddress is DEPEG_PRODUCT_ADDRESS.
	DepegProductAddress common.Address
	// ProcessorMnemonic is PROCESSOR_MNEMONIC, a valid BIP39 English
	// mnemonic with whitespace collapsed to single spaces, which is the form
	// ethers' Wallet.fromMnemonic derives the seed from.
	ProcessorMnemonic Secret
	// ProcessorMnemonicFile is PROCESSOR_MNEMONIC_FILE: a file holding the
	// mnemonic (Docker and Dokku secrets), read at load instead of
	// PROCESSOR_MNEMONIC when set. Its path is shown; its content never.
	ProcessorMnemonicFile string
	// Signer is SIGNER: "mnemonic" (default) derives the pool's keys from
	// ProcessorMnemonic; "aws-kms" signs with the AWS KMS keys KMSKeyIDs
	// lists, and needs no mnemonic (ProcessorMnemonic stays empty).
	Signer string
	// KMSKeyIDs is AWS_KMS_KEY_IDS with SIGNER=aws-kms: the pool's keys as
	// KMS key ids, ARNs or aliases, one wallet each, in the order given,
	// without repeats, at most MaxKeys. Region and credentials come the
	// standard AWS way (package chain/kms), never through this package.
	KMSKeyIDs []string
	// ProcessorAccountIndex is the first of ProcessorAccountIndexes, for
	// the commands that look at one wallet (status, inflight, app).
	ProcessorAccountIndex uint32
	// ProcessorAccountIndexes is PROCESSOR_ACCOUNT_INDEX: a list of indexes
	// and ranges ("0", "0,2-9"), each a key at m/44'/60'/0'/0/N of the one
	// mnemonic, in the order given, without repeats, at most MaxKeys. Each
	// key is its own nonce sequence with its own journal and lease, so
	// processes may list the same keys: a key is used by one live process
	// at a time. At most 2^31-1 (non-hardened).
	ProcessorAccountIndexes []uint32
	// MaxFeePerGas is MAX_FEE_PER_GAS: no transaction is ever signed with a
	// higher maxFeePerGas, fee bumps included. Always > 0.
	MaxFeePerGas *big.Int
	// MaxPriorityFeePerGas is MAX_PRIORITY_FEE_PER_GAS. Nil means use the
	// node's suggestion. When set, it is <= MaxFeePerGas.
	MaxPriorityFeePerGas *big.Int
	// RequiredConfirmations is CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS (sic):
	// how many confirmations before XACK and purge. At least 1; with 1, the
	// block that includes the transaction is enough.
	RequiredConfirmations uint64
	// ChainPollInterval is CHAIN_POLL_INTERVAL: the longest the relay goes
	// without a tracker pass. It reads the head a quarter of the block
	// interval it learnt apart and makes a pass when a new block arrives
	// (relay, "work per block"), so this is a bound, not the cadence.
	ChainPollInterval time.Duration
	// RPCTimeout is RPC_TIMEOUT, the deadline of each single RPC call.
	RPCTimeout time.Duration
	// RebroadcastInterval is REBROADCAST_INTERVAL: a pending transaction not
	// yet seen by the node is sent again this often.
	RebroadcastInterval time.Duration
	// GasLimitMarginPercent is GAS_LIMIT_MARGIN_PERCENT, extra gas over the
	// estimate (0..200).
	GasLimitMarginPercent uint64
	// StuckTxBlocks is STUCK_TX_BLOCKS: after this many new blocks without
	// inclusion the fees are bumped. At least 1.
	StuckTxBlocks uint64
	// FeeBumpPercent is FEE_BUMP_PERCENT. At least 11, because nodes reject a
	// replacement that does not raise both fees by at least 10% and integer
	// rounding must not land just under that line.
	FeeBumpPercent uint64
	// MaxTransientReverts is MAX_TRANSIENT_REVERTS: how often an
	// application's transaction may be mined and revert for a cause that can
	// pass (the product paused, out of gas) before the application is
	// dead-lettered. Each such revert costs gas. At least 1.
	MaxTransientReverts int
	// SignatureLookbackBlocks is SIGNATURE_LOOKBACK_BLOCKS: how far back the
	// relay looks for the transaction that applied a signature reported as
	// used, to tell its own earlier transaction (success) from someone
	// else's (final). At least 1.
	SignatureLookbackBlocks uint64
	// DeadLetterMaxLen is DEAD_LETTER_MAX_LEN: the dead-letter stream is
	// trimmed to about this many entries (XADD MAXLEN ~); 0 keeps all.
	DeadLetterMaxLen int64

	// ProcessorMinBalance is PROCESSOR_MIN_BALANCE: below it the processor
	// stops submitting and waits BalanceTooLowTimeout.
	ProcessorMinBalance *big.Int
	// ProcessorAlertBalance is PROCESSOR_ALERT_BALANCE: below it the monitor
	// reports an error. It is >= ProcessorMinBalance, so the alert fires
	// before the processor stops.
	ProcessorAlertBalance *big.Int
	// BalanceTooLowTimeout is BALANCE_TOO_LOW_TIMEOUT.
	BalanceTooLowTimeout time.Duration
	// BalanceRefreshInterval is BALANCE_REFRESH_INTERVAL, how often the
	// wallet balance is read for the monitor and the min-balance check.
	BalanceRefreshInterval time.Duration

	// MaxInFlight is MAX_IN_FLIGHT, how many applications may have a
	// transaction pending at once (1..1024). The default, 512, lets a backlog
	// fill 1 s blocks of ~108 applications with 2 confirmations and a 2 s
	// poll (BENCHMARKS.md); a window of 16 fills 7% of them. It bounds how
	// many unconfirmed transactions the hot wallet has out at once.
	MaxInFlight int
	// BatchContract is BATCH_CONTRACT_ADDRESS: the DepegApplicationBatch
	// deployed for DepegProductAddress (processor deploy-batch), through
	// which one transaction carries several applications (issue 22). The
	// zero address, the default, turns batching off: one application per
	// transaction, as before.
	BatchContract common.Address
	// BatchMaxApplications is BATCH_MAX_APPLICATIONS: the most applications
	// one batch transaction carries (1..128); 1 batches nothing. A strict
	// node keeps 16 pending transactions per sender, so the default, 16,
	// lets one key fill a block of 16 x 16 applications.
	BatchMaxApplications int
	// BatchGasBudget is BATCH_GAS_BUDGET: the most gas one batch
	// transaction's limit may hold (1,000,000..16,777,216). The default,
	// 8,000,000, stays well under mainnet's block gas limit, so a batch never
	// needs a block of its own, and under the 2^24 per-transaction cap of
	// EIP-7825, above which nodes refuse a transaction outright.
	BatchGasBudget uint64
	// ErrorTimeout is ERROR_TIMEOUT, the back-off after a transient error.
	ErrorTimeout time.Duration
	// ShutdownTimeout is SHUTDOWN_TIMEOUT, how long a graceful stop may take.
	ShutdownTimeout time.Duration
	// LegacyProcessorAddresses is LEGACY_PROCESSOR_ADDRESSES: wallets
	// outside PROCESSOR_ACCOUNT_INDEX whose transactions are the pool's own
	// (the old processor's wallet after a migration), so an application one
	// of them created is confirmed, never dead-lettered as SIGNATURE_USED.
	LegacyProcessorAddresses []common.Address
	// OrphanHandoffAfter is ORPHAN_HANDOFF_AFTER: how long the pool waits
	// for an unmined transaction of a key no live process holds before it
	// hands its application to a live key (package pool).
	OrphanHandoffAfter time.Duration
	// LeaseTTL is LEASE_TTL: the lease that keeps the wallet to one live
	// process expires this long after its holder stopped renewing it (a
	// crash); a graceful stop releases it at once. A second process waits
	// in standby meanwhile.
	LeaseTTL time.Duration

	// Port is PORT, the HTTP listen port (1..65535).
	Port int
	// MetricsPort is METRICS_PORT: /metrics is served on a listener of its
	// own on this port, and not on PORT, where any client could compete
	// with the scrapes. 0, the default, serves /metrics on PORT, so an
	// existing scrape configuration keeps working. Must differ from PORT.
	MetricsPort int
	// MetricsToken is METRICS_TOKEN, the bearer token Prometheus sends to
	// /metrics (at least 32 characters, not ADMIN_TOKEN's value): without
	// it a request is refused before it takes a scrape slot. Unset: /metrics
	// is open.
	MetricsToken Secret
	// MaxNonAckPendingMessages is MAX_NON_ACK_PENDING_MESSAGES: the monitor
	// reports an error when the group's pending count exceeds it.
	MaxNonAckPendingMessages int64
	// ListenerLoopMaxTimeout is PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT:
	// the monitor reports an error when the relay loop has not completed an
	// iteration within it.
	ListenerLoopMaxTimeout time.Duration
	// MonitorCheckTimeout is MONITOR_CHECK_TIMEOUT, the deadline of each
	// check behind /api/monitor.
	MonitorCheckTimeout time.Duration
	// MonitorMaxWaitAge is MONITOR_MAX_WAIT_AGE: the queue check fails when
	// the oldest waiting entry (pending, or not yet delivered) is older.
	// 0, the default, means 10 x PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT.
	MonitorMaxWaitAge time.Duration
	// MaxEntryAttempts is MAX_ENTRY_ATTEMPTS: how many attempts, ERROR_TIMEOUT
	// apart, an entry gets that fails for a reason of its own (a key that is
	// not a hash, a simulation the node answers with an error that is not a
	// revert) before it is dead-lettered. At least 1.
	MaxEntryAttempts int

	// IntakeEnabled is INTAKE_ENABLED: POST /api/application takes
	// applications. Off by default, so an existing deployment does not
	// grow a public write route by upgrading; when off, the route answers
	// 503 while the relay and the status routes keep working.
	IntakeEnabled bool
	// IntakeCORSOrigins is INTAKE_CORS_ORIGINS, the comma-separated
	// frontend origins (scheme://host[:port]) browsers may call the
	// application routes from. Empty allows none.
	IntakeCORSOrigins []string
	// IntakeMaxBodyBytes is INTAKE_MAX_BODY_BYTES: a larger POST body is
	// refused with 413 (256..1048576).
	IntakeMaxBodyBytes int64
	// IntakeRateLimit is INTAKE_RATE_LIMIT: requests one client may make
	// per IntakeRateWindow to the application and admin routes; 0 is no
	// limit.
	IntakeRateLimit int
	// IntakeRateWindow is INTAKE_RATE_WINDOW.
	IntakeRateWindow time.Duration
	// IntakeTrustedProxies is INTAKE_TRUSTED_PROXIES, comma-separated CIDRs
	// of the reverse proxies whose X-Forwarded-For names the client (on
	// Dokku, the nginx host as the container sees it). Empty: the TCP peer
	// is the client.
	IntakeTrustedProxies []string
	// ApplicationStatusTTL is APPLICATION_STATUS_TTL: how long an
	// application's outcome stays readable after its hash was purged.
	ApplicationStatusTTL time.Duration
	// AdminToken is ADMIN_TOKEN, the bearer token of the dead-letter admin
	// routes (at least 32 characters). Unset turns the admin routes off.
	AdminToken Secret

	// ConsoleEnabled is CONSOLE_ENABLED: the operator's page at /console
	// (read-only without ADMIN_TOKEN; it shows what /api/monitor and the
	// dead-letter stream tell, never a secret). On by default.
	ConsoleEnabled bool
	// ExplorerURL is EXPLORER_URL, the block explorer the console links
	// transactions, blocks and addresses to (<url>/tx/<hash>, /block/<n>,
	// /address/<addr>, as Etherscan and Blockscout lay them out), without a
	// trailing slash. Empty: no links.
	ExplorerURL string

	// WebhookURL is WEBHOOK_URL, the receiver every status change of an
	// application is posted to (package webhook); empty turns webhooks off.
	// It is a Secret: credentials in it are sent as Basic auth, and a path
	// or query may carry a token.
	WebhookURL Secret
	// WebhookSecret is WEBHOOK_SECRET, the HMAC key of the signature header
	// (at least 32 characters); required with WEBHOOK_URL.
	WebhookSecret Secret
	// WebhookMaxPending is WEBHOOK_MAX_PENDING: the outbox keeps at most
	// this many undelivered events; beyond it the oldest are dropped and
	// counted, so a receiver that never comes back cannot fill Redis.
	WebhookMaxPending int64

	// NodeEnv is NODE_ENV, kept for its one meaning: "production" selects
	// info-level logs by default.
	NodeEnv string
	// LogLevel is the resolved level: LOG_LEVEL when set, else info when
	// NODE_ENV is "production", else debug.
	LogLevel zerolog.Level
}

// variable is one environment variable, the one place that names it, gives
// its default, parses it into Config and renders it for the startup log:
// parsing (LoadFrom), the logged configuration (LogFields), the list of
// names (Variables) and README's table (TestREADMEListsEveryVariable) all
// read this table, so no default is written twice.
//
// A variable that is set but blank counts as unset and gets its default, as
// it did in the Node processor (`process.env.X || default`). set reports a
// bad value through p, so that one error names every bad variable; it may
// read other variables from v (every value, trimmed and defaulted).
type variable struct {
	name, def string
	set       func(p *parser, n, s string, v values, c *Config)
	log       func(c Config) any
}

// values are the variables' trimmed values, defaults filled in, by name.
type values map[string]string

// Variable is an environment variable and its default ("" when it has
// none), for docs and dev mode.
type Variable struct {
	Name, Default string
}

// Variables lists every variable config reads, in parsing order.
func Variables() []Variable {
	var out []Variable
	for _, v := range variables() {
		out = append(out, Variable{Name: v.name, Default: v.def})
	}
	return out
}

// variables is the table, in parsing order (the order of Error's problems).
func variables() []variable {
	return []variable{
		{"REDIS_URL", "redis://localhost:6379",
			func(p *parser, n, s string, v values, c *Config) { c.RedisURL = p.redisURL(n, s) },
			func(c Config) any { return redactRedisURL(c.RedisURL.Reveal()) }},
		{"REDIS_MODE", "single",
			func(p *parser, n, s string, v values, c *Config) {
				c.RedisMode = p.oneOf(n, s, "single", "sentinel", "cluster")
			},
			func(c Config) any { return c.RedisMode }},
		{"REDIS_QUEUE_STREAM_KEY", "application:signatures",
			func(p *parser, n, s string, v values, c *Config) { c.StreamKey = s },
			func(c Config) any { return c.StreamKey }},
		{"REDIS_QUEUE_APPLICATION_ID", "depeg-backend-processor",
			func(p *parser, n, s string, v values, c *Config) { c.GroupName = s },
			func(c Config) any { return c.GroupName }},
		{"REDIS_QUEUE_CONSUMER_ID", "",
			func(p *parser, n, s string, v values, c *Config) { c.ConsumerName = p.consumerName(n, s) },
			func(c Config) any { return c.ConsumerName }},
		{"REDIS_QUEUE_CLAIM_IDLE", "60000",
			func(p *parser, n, s string, v values, c *Config) { c.ClaimIdle = p.duration(n, s) },
			func(c Config) any { return c.ClaimIdle.String() }},
		{"MAX_ENTRY_CLAIMS", "5",
			func(p *parser, n, s string, v values, c *Config) { c.MaxEntryClaims = int(p.integer(n, s, 1, 1000)) },
			func(c Config) any { return c.MaxEntryClaims }},
		{"DEAD_LETTER_STREAM_KEY", "application:signatures:dead",
			func(p *parser, n, s string, v values, c *Config) { c.DeadLetterStreamKey = s },
			func(c Config) any { return c.DeadLetterStreamKey }},
		{"REDIS_READ_BLOCK_TIMEOUT", "30000",
			func(p *parser, n, s string, v values, c *Config) { c.RedisReadBlockTimeout = p.duration(n, s) },
			func(c Config) any { return c.RedisReadBlockTimeout.String() }},
		{"CHAIN_RPC_URL", "",
			func(p *parser, n, s string, v values, c *Config) { c.ChainRPCURL = p.rpcURL(n, s) },
			func(c Config) any { return rpcOrigin(c.ChainRPCURL.Reveal()) }},
		{"DEPEG_PRODUCT_ADDRESS", "",
			func(p *parser, n, s string, v values, c *Config) { c.DepegProductAddress = p.address(n, s) },
			func(c Config) any { return c.DepegProductAddress.Hex() }},
		{"PROCESSOR_MNEMONIC", "",
			func(p *parser, n, s string, v values, c *Config) { c.ProcessorMnemonic = p.signerMnemonic(v) },
			func(c Config) any { return redacted }},
		{"PROCESSOR_MNEMONIC_FILE", "",
			func(p *parser, n, s string, v values, c *Config) { c.ProcessorMnemonicFile = s },
			func(c Config) any { return c.ProcessorMnemonicFile }},
		{"SIGNER", "mnemonic",
			func(p *parser, n, s string, v values, c *Config) {
				c.Signer = p.oneOf(n, s, SignerMnemonic, SignerAWSKMS)
			},
			func(c Config) any { return c.Signer }},
		{"AWS_KMS_KEY_IDS", "",
			func(p *parser, n, s string, v values, c *Config) { c.KMSKeyIDs = p.signerKMSKeys(v) },
			func(c Config) any { return strings.Join(c.KMSKeyIDs, ",") }},
		{"PROCESSOR_ACCOUNT_INDEX", "0",
			func(p *parser, n, s string, v values, c *Config) { c.ProcessorAccountIndexes = p.accountIndexes(n, s) },
			func(c Config) any { return c.ProcessorAccountIndexes }},
		{"MAX_FEE_PER_GAS", "30000000000",
			func(p *parser, n, s string, v values, c *Config) { c.MaxFeePerGas = p.wei(n, s, 1) },
			func(c Config) any { return weiString(c.MaxFeePerGas) }},
		{"MAX_PRIORITY_FEE_PER_GAS", "",
			func(p *parser, n, s string, v values, c *Config) { c.MaxPriorityFeePerGas = p.optionalWei(n, s) },
			func(c Config) any { return priorityFee(c) }},
		{"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS", "6",
			func(p *parser, n, s string, v values, c *Config) {
				c.RequiredConfirmations = uint64(p.integer(n, s, 1, math.MaxInt64))
			},
			func(c Config) any { return c.RequiredConfirmations }},
		{"CHAIN_POLL_INTERVAL", "2000",
			func(p *parser, n, s string, v values, c *Config) { c.ChainPollInterval = p.duration(n, s) },
			func(c Config) any { return c.ChainPollInterval.String() }},
		{"RPC_TIMEOUT", "10000",
			func(p *parser, n, s string, v values, c *Config) { c.RPCTimeout = p.duration(n, s) },
			func(c Config) any { return c.RPCTimeout.String() }},
		{"REBROADCAST_INTERVAL", "60000",
			func(p *parser, n, s string, v values, c *Config) { c.RebroadcastInterval = p.duration(n, s) },
			func(c Config) any { return c.RebroadcastInterval.String() }},
		{"GAS_LIMIT_MARGIN_PERCENT", "20",
			func(p *parser, n, s string, v values, c *Config) {
				c.GasLimitMarginPercent = uint64(p.integer(n, s, 0, 200))
			},
			func(c Config) any { return c.GasLimitMarginPercent }},
		{"STUCK_TX_BLOCKS", "5",
			func(p *parser, n, s string, v values, c *Config) {
				c.StuckTxBlocks = uint64(p.integer(n, s, 1, math.MaxInt64))
			},
			func(c Config) any { return c.StuckTxBlocks }},
		{"FEE_BUMP_PERCENT", "15",
			func(p *parser, n, s string, v values, c *Config) {
				c.FeeBumpPercent = uint64(p.integer(n, s, 11, math.MaxInt64))
			},
			func(c Config) any { return c.FeeBumpPercent }},
		{"MAX_TRANSIENT_REVERTS", "3",
			func(p *parser, n, s string, v values, c *Config) {
				c.MaxTransientReverts = int(p.integer(n, s, 1, 1000))
			},
			func(c Config) any { return c.MaxTransientReverts }},
		{"SIGNATURE_LOOKBACK_BLOCKS", "10000",
			func(p *parser, n, s string, v values, c *Config) {
				c.SignatureLookbackBlocks = uint64(p.integer(n, s, 1, math.MaxInt64))
			},
			func(c Config) any { return c.SignatureLookbackBlocks }},
		{"DEAD_LETTER_MAX_LEN", "100000",
			func(p *parser, n, s string, v values, c *Config) {
				c.DeadLetterMaxLen = p.integer(n, s, 0, math.MaxInt64)
			},
			func(c Config) any { return c.DeadLetterMaxLen }},
		{"PROCESSOR_MIN_BALANCE", "1000000000000000000",
			func(p *parser, n, s string, v values, c *Config) { c.ProcessorMinBalance = p.wei(n, s, 0) },
			func(c Config) any { return weiString(c.ProcessorMinBalance) }},
		{"PROCESSOR_ALERT_BALANCE", "1000000000000000000",
			func(p *parser, n, s string, v values, c *Config) { c.ProcessorAlertBalance = p.wei(n, s, 0) },
			func(c Config) any { return weiString(c.ProcessorAlertBalance) }},
		{"BALANCE_TOO_LOW_TIMEOUT", "60000",
			func(p *parser, n, s string, v values, c *Config) { c.BalanceTooLowTimeout = p.duration(n, s) },
			func(c Config) any { return c.BalanceTooLowTimeout.String() }},
		{"BALANCE_REFRESH_INTERVAL", "15000",
			func(p *parser, n, s string, v values, c *Config) { c.BalanceRefreshInterval = p.duration(n, s) },
			func(c Config) any { return c.BalanceRefreshInterval.String() }},
		{"MAX_IN_FLIGHT", "512",
			func(p *parser, n, s string, v values, c *Config) { c.MaxInFlight = int(p.integer(n, s, 1, 1024)) },
			func(c Config) any { return c.MaxInFlight }},
		{"BATCH_CONTRACT_ADDRESS", "",
			func(p *parser, n, s string, v values, c *Config) { c.BatchContract = p.optionalAddress(n, s) },
			func(c Config) any { return optionalHex(c.BatchContract) }},
		{"BATCH_MAX_APPLICATIONS", "16",
			func(p *parser, n, s string, v values, c *Config) {
				c.BatchMaxApplications = int(p.integer(n, s, 1, MaxBatchApplications))
			},
			func(c Config) any { return c.BatchMaxApplications }},
		{"BATCH_GAS_BUDGET", "8000000",
			func(p *parser, n, s string, v values, c *Config) {
				c.BatchGasBudget = uint64(p.integer(n, s, MinBatchGasBudget, MaxBatchGasBudget))
			},
			func(c Config) any { return c.BatchGasBudget }},
		{"ERROR_TIMEOUT", "30000",
			func(p *parser, n, s string, v values, c *Config) { c.ErrorTimeout = p.duration(n, s) },
			func(c Config) any { return c.ErrorTimeout.String() }},
		{"SHUTDOWN_TIMEOUT", "20000",
			func(p *parser, n, s string, v values, c *Config) { c.ShutdownTimeout = p.duration(n, s) },
			func(c Config) any { return c.ShutdownTimeout.String() }},
		{"LEASE_TTL", "15000",
			func(p *parser, n, s string, v values, c *Config) { c.LeaseTTL = p.duration(n, s) },
			func(c Config) any { return c.LeaseTTL.String() }},
		{"LEGACY_PROCESSOR_ADDRESSES", "",
			func(p *parser, n, s string, v values, c *Config) { c.LegacyProcessorAddresses = p.addresses(n, s) },
			func(c Config) any { return c.LegacyProcessorAddresses }},
		{"ORPHAN_HANDOFF_AFTER", "600000",
			func(p *parser, n, s string, v values, c *Config) { c.OrphanHandoffAfter = p.duration(n, s) },
			func(c Config) any { return c.OrphanHandoffAfter.String() }},
		{"PORT", "3000",
			func(p *parser, n, s string, v values, c *Config) { c.Port = int(p.integer(n, s, 1, 65535)) },
			func(c Config) any { return c.Port }},
		{"METRICS_PORT", "0",
			func(p *parser, n, s string, v values, c *Config) { c.MetricsPort = int(p.integer(n, s, 0, 65535)) },
			func(c Config) any { return c.MetricsPort }},
		{"METRICS_TOKEN", "",
			func(p *parser, n, s string, v values, c *Config) { c.MetricsToken = p.token(n, s) },
			func(c Config) any { return setOrNot(c.MetricsToken) }},
		{"MAX_NON_ACK_PENDING_MESSAGES", "10",
			func(p *parser, n, s string, v values, c *Config) {
				c.MaxNonAckPendingMessages = p.integer(n, s, 0, math.MaxInt64)
			},
			func(c Config) any { return c.MaxNonAckPendingMessages }},
		{"PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT", "60000",
			func(p *parser, n, s string, v values, c *Config) { c.ListenerLoopMaxTimeout = p.duration(n, s) },
			func(c Config) any { return c.ListenerLoopMaxTimeout.String() }},
		{"MONITOR_CHECK_TIMEOUT", "2000",
			func(p *parser, n, s string, v values, c *Config) { c.MonitorCheckTimeout = p.duration(n, s) },
			func(c Config) any { return c.MonitorCheckTimeout.String() }},
		{"MONITOR_MAX_WAIT_AGE", "0",
			func(p *parser, n, s string, v values, c *Config) { c.MonitorMaxWaitAge = p.durationOrZero(n, s) },
			func(c Config) any { return c.MonitorMaxWaitAge.String() }},
		{"MAX_ENTRY_ATTEMPTS", "5",
			func(p *parser, n, s string, v values, c *Config) { c.MaxEntryAttempts = int(p.integer(n, s, 1, 1000)) },
			func(c Config) any { return c.MaxEntryAttempts }},
		{"INTAKE_ENABLED", "false",
			func(p *parser, n, s string, v values, c *Config) { c.IntakeEnabled = p.boolean(n, s) },
			func(c Config) any { return c.IntakeEnabled }},
		{"INTAKE_CORS_ORIGINS", "",
			func(p *parser, n, s string, v values, c *Config) { c.IntakeCORSOrigins = p.origins(n, s) },
			func(c Config) any { return strings.Join(c.IntakeCORSOrigins, ",") }},
		{"INTAKE_MAX_BODY_BYTES", "16384",
			func(p *parser, n, s string, v values, c *Config) { c.IntakeMaxBodyBytes = p.integer(n, s, 256, 1<<20) },
			func(c Config) any { return c.IntakeMaxBodyBytes }},
		{"INTAKE_RATE_LIMIT", "60",
			func(p *parser, n, s string, v values, c *Config) {
				c.IntakeRateLimit = int(p.integer(n, s, 0, 1_000_000))
			},
			func(c Config) any { return c.IntakeRateLimit }},
		{"INTAKE_RATE_WINDOW", "60000",
			func(p *parser, n, s string, v values, c *Config) { c.IntakeRateWindow = p.duration(n, s) },
			func(c Config) any { return c.IntakeRateWindow.String() }},
		{"INTAKE_TRUSTED_PROXIES", "",
			func(p *parser, n, s string, v values, c *Config) { c.IntakeTrustedProxies = p.cidrs(n, s) },
			func(c Config) any { return strings.Join(c.IntakeTrustedProxies, ",") }},
		{"APPLICATION_STATUS_TTL", "604800000",
			func(p *parser, n, s string, v values, c *Config) { c.ApplicationStatusTTL = p.duration(n, s) },
			func(c Config) any { return c.ApplicationStatusTTL.String() }},
		{"ADMIN_TOKEN", "",
			func(p *parser, n, s string, v values, c *Config) { c.AdminToken = p.token(n, s) },
			func(c Config) any { return setOrNot(c.AdminToken) }},
		{"CONSOLE_ENABLED", "true",
			func(p *parser, n, s string, v values, c *Config) { c.ConsoleEnabled = p.boolean(n, s) },
			func(c Config) any { return c.ConsoleEnabled }},
		{"EXPLORER_URL", "",
			func(p *parser, n, s string, v values, c *Config) { c.ExplorerURL = p.explorerURL(n, s) },
			func(c Config) any { return c.ExplorerURL }},
		{"WEBHOOK_URL", "",
			func(p *parser, n, s string, v values, c *Config) { c.WebhookURL = p.webhookURL(n, s) },
			func(c Config) any { return rpcOrigin(c.WebhookURL.Reveal()) }},
		{"WEBHOOK_SECRET", "",
			func(p *parser, n, s string, v values, c *Config) { c.WebhookSecret = p.token(n, s) },
			func(c Config) any { return setOrNot(c.WebhookSecret) }},
		{"WEBHOOK_MAX_PENDING", "10000",
			func(p *parser, n, s string, v values, c *Config) {
				c.WebhookMaxPending = p.integer(n, s, 1, 10_000_000)
			},
			func(c Config) any { return c.WebhookMaxPending }},
		{"NODE_ENV", "",
			func(p *parser, n, s string, v values, c *Config) { c.NodeEnv = s },
			func(c Config) any { return c.NodeEnv }},
		{"LOG_LEVEL", "",
			func(p *parser, n, s string, v values, c *Config) { c.LogLevel = p.logLevel(n, s, v["NODE_ENV"]) },
			func(c Config) any { return c.LogLevel.String() }},
	}
}

// ErrInvalid matches, with errors.Is, every error Load returns because of a
// bad or missing variable, as opposed to a failure to read the environment.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one bad or missing variable.
type Problem struct {
	// Var is the environment variable's name.
	Var string
	// Reason says what is wrong. It never contains a secret value.
	Reason string
}

// Error lists every problem Load found, in a stable order: variables first,
// then the checks that relate two of them. errors.Is(err, ErrInvalid) holds.
type Error struct {
	Problems []Problem
}

// Error renders all problems on one line, for a single startup log entry:
// "invalid configuration: CHAIN_RPC_URL: required; PORT: ...".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Var)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Load reads the process environment and returns the parsed configuration,
// or an *Error naming every bad or missing variable.
func Load() (Config, error) { return LoadFrom(os.LookupEnv) }

// LoadFrom is Load reading each variable through lookup, which has the
// shape of os.LookupEnv, instead of the process environment: dev mode hands
// its settings over this way without writing the environment.
func LoadFrom(lookup func(name string) (string, bool)) (Config, error) {
	return parse(fill(lookup))
}

// fill reads every variable through lookup, trims it and gives a blank one
// its default, so that "set but empty" behaves like "unset".
func fill(lookup func(name string) (string, bool)) values {
	v := values{}
	for _, vr := range variables() {
		s, _ := lookup(vr.name)
		if s = strings.TrimSpace(s); s == "" {
			s = vr.def
		}
		v[vr.name] = s
	}
	return v
}

// parse turns the trimmed, defaulted strings into a Config.
func parse(v values) (Config, error) {
	var p parser
	var c Config
	for _, vr := range variables() {
		vr.set(&p, vr.name, v[vr.name], v, &c)
	}

	// Checks that relate two variables run only when both parsed, so one bad
	// value is reported once, not again as a confusing comparison.
	if c.MaxPriorityFeePerGas != nil && c.MaxFeePerGas != nil && c.MaxPriorityFeePerGas.Cmp(c.MaxFeePerGas) > 0 {
		p.addf("MAX_PRIORITY_FEE_PER_GAS", "%s must be <= MAX_FEE_PER_GAS (%s)", c.MaxPriorityFeePerGas, c.MaxFeePerGas)
	}
	if c.ProcessorAlertBalance != nil && c.ProcessorMinBalance != nil && c.ProcessorAlertBalance.Cmp(c.ProcessorMinBalance) < 0 {
		p.addf("PROCESSOR_ALERT_BALANCE", "%s must be >= PROCESSOR_MIN_BALANCE (%s)", c.ProcessorAlertBalance, c.ProcessorMinBalance)
	}
	if c.MetricsPort != 0 && c.MetricsPort == c.Port {
		p.addf("METRICS_PORT", "must differ from PORT (%d): the point of it is a listener of its own", c.Port)
	}
	if t := c.MetricsToken.Reveal(); t != "" && t == c.AdminToken.Reveal() {
		// Prometheus' configuration holds the metrics token; the admin
		// token must not travel with it.
		p.addf("METRICS_TOKEN", "must differ from ADMIN_TOKEN")
	}
	if c.BatchContract != (common.Address{}) && c.BatchContract == c.DepegProductAddress {
		p.addf("BATCH_CONTRACT_ADDRESS", "must differ from DEPEG_PRODUCT_ADDRESS: it is the batch contract deployed for that product (processor deploy-batch)")
	}
	if c.DeadLetterStreamKey == c.StreamKey {
		p.addf("DEAD_LETTER_STREAM_KEY", "must differ from REDIS_QUEUE_STREAM_KEY, or rejected entries would be read again")
	}
	if v["WEBHOOK_URL"] != "" && v["WEBHOOK_SECRET"] == "" {
		p.addf("WEBHOOK_SECRET", "required with WEBHOOK_URL: receivers verify every event's signature with it")
	}

	if len(c.ProcessorAccountIndexes) > 0 {
		c.ProcessorAccountIndex = c.ProcessorAccountIndexes[0]
	}
	if c.ClaimIdle > 0 && c.LeaseTTL > 0 && c.ClaimIdle < 2*c.LeaseTTL {
		p.addf("REDIS_QUEUE_CLAIM_IDLE", "%s must be at least twice LEASE_TTL (%s), so a key's new holder claims its journaled entries first",
			c.ClaimIdle, c.LeaseTTL)
	}

	if len(p.problems) > 0 {
		return Config{}, &Error{Problems: p.problems}
	}
	return c, nil
}

// The values of SIGNER.
const (
	SignerMnemonic = "mnemonic"
	SignerAWSKMS   = "aws-kms"
)

// signerMnemonic is the mnemonic with SIGNER=mnemonic; with another SIGNER
// it is neither required nor read.
func (p *parser) signerMnemonic(v values) Secret {
	if v["SIGNER"] != SignerMnemonic {
		return Secret{}
	}
	return p.mnemonicFrom(v["PROCESSOR_MNEMONIC"], v["PROCESSOR_MNEMONIC_FILE"])
}

// signerKMSKeys is AWS_KMS_KEY_IDS with SIGNER=aws-kms, else nil.
func (p *parser) signerKMSKeys(v values) []string {
	if v["SIGNER"] != SignerAWSKMS {
		return nil
	}
	return p.kmsKeyIDs("AWS_KMS_KEY_IDS", v["AWS_KMS_KEY_IDS"])
}

// maxMnemonicFile bounds what is read from PROCESSOR_MNEMONIC_FILE: a
// 24-word mnemonic is under 250 bytes.
const maxMnemonicFile = 4096

// mnemonicFrom reads the mnemonic from PROCESSOR_MNEMONIC_FILE when it is
// set (PROCESSOR_MNEMONIC is then not read), else from PROCESSOR_MNEMONIC.
// A problem with the file names its path and the reason, never content.
func (p *parser) mnemonicFrom(value, file string) Secret {
	if file == "" {
		return p.mnemonic("PROCESSOR_MNEMONIC", value)
	}
	const name = "PROCESSOR_MNEMONIC_FILE"
	f, err := os.Open(file)
	if err != nil {
		p.addf(name, "cannot read %s: %s", showPath(file), pathReason(err))
		return Secret{}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMnemonicFile+1))
	switch {
	case err != nil:
		p.addf(name, "cannot read %s: %s", showPath(file), pathReason(err))
		return Secret{}
	case len(b) > maxMnemonicFile:
		p.addf(name, "%s is larger than %d bytes: not a mnemonic", showPath(file), maxMnemonicFile)
		return Secret{}
	}
	return p.mnemonic(name, string(b))
}

// showPath quotes a file path for an error message, unless it looks like a
// secret pasted into the wrong variable (whitespace, '@') or is too long to
// be a path anyone typed.
func showPath(s string) string {
	if len(s) > 512 || strings.ContainsAny(s, " \t\r\n@") {
		return show(s)
	}
	return strconv.Quote(s)
}

// pathReason is the reason of a file error without the path (which the
// caller shows) or anything read.
func pathReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "read failed"
}

// kmsKeyIDs parses AWS_KMS_KEY_IDS: comma-separated key ids, key ARNs,
// aliases ("alias/relay-1") or alias ARNs; required, no repeats, at most
// MaxKeys. Only the characters these use are accepted, so a credential
// pasted here by mistake is refused without being echoed.
func (p *parser) kmsKeyIDs(name, s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ok := len(part) <= 2048 && strings.IndexFunc(part, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":/_-.", r))
		}) < 0
		switch {
		case !ok:
			p.addf(name, "%s is not a KMS key id, key ARN or alias", show(part))
			return nil
		case slices.Contains(out, part):
			p.addf(name, "%s is listed twice", show(part))
			return nil
		}
		out = append(out, part)
	}
	switch {
	case len(out) == 0:
		p.addf(name, "required with SIGNER=aws-kms")
		return nil
	case len(out) > MaxKeys:
		p.addf(name, "lists %d keys, at most %d", len(out), MaxKeys)
		return nil
	}
	return out
}

// MaxKeys bounds the key pool: every key is a relay with its own loops and
// RPC load, and a metric label value.
const MaxKeys = 64

// accountIndexes parses PROCESSOR_ACCOUNT_INDEX: comma-separated indexes and
// inclusive ranges ("0,2-9"), each in [0, 2^31-1], no index twice, at most
// MaxKeys in all.
func (p *parser) accountIndexes(name, s string) []uint32 {
	out, err := ParseAccountIndexes(s)
	if err != nil {
		p.addf(name, "%s", err)
		return nil
	}
	return out
}

// ParseAccountIndexes is the PROCESSOR_ACCOUNT_INDEX grammar (see
// accountIndexes); exported for the tools that take the same list.
func ParseAccountIndexes(s string) ([]uint32, error) {
	var out []uint32
	seen := make(map[uint32]bool)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseIndex(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseIndex(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %s runs backwards", show(part))
			}
		}
		if b-a >= MaxKeys || len(out)+int(b-a)+1 > MaxKeys {
			return nil, fmt.Errorf("more than %d keys", MaxKeys)
		}
		for i := a; ; i++ {
			if seen[i] {
				return nil, fmt.Errorf("index %d is listed twice", i)
			}
			seen[i] = true
			out = append(out, i)
			if i == b {
				break
			}
		}
	}
	return out, nil
}

// parseIndex parses one non-hardened BIP32 index.
func parseIndex(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("an index must be between 0 and %d (a list like 0,2-9), got an empty or negative one", math.MaxInt32)
	}
	if !isDigits(s) {
		return 0, fmt.Errorf("%s is not an index or a range of indexes (like 0,2-9)", show(s))
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("index %s must be between 0 and %d", show(s), math.MaxInt32)
	}
	return uint32(n), nil
}

// isDigits reports a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// consumerName checks REDIS_QUEUE_CONSUMER_ID: a name Redis and logs can
// carry as it is (no spaces or control characters, at most 64 bytes).
// Empty stays empty: the processor derives "<host>-<pid>".
func (p *parser) consumerName(name, s string) string {
	if len(s) > 64 || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		p.addf(name, "%s must be at most 64 characters without spaces", show(s))
		return ""
	}
	return s
}

// parser collects problems while parsing. Its methods return a zero value
// (nil for amounts) for a bad input, which parse never returns.
type parser struct {
	problems []Problem
}

func (p *parser) addf(name, format string, args ...any) {
	p.problems = append(p.problems, Problem{Var: name, Reason: fmt.Sprintf(format, args...)})
}

// maxShown is the longest value show echoes.
const maxShown = 24

// show quotes a rejected value for an error message, unless it might be a
// secret pasted into the wrong variable: a mnemonic has spaces, URLs with
// credentials have '@', and keys and API tokens are longer than any sensible
// number. Such values are described, not echoed.
func show(s string) string {
	if len(s) > maxShown || strings.ContainsAny(s, " \t\r\n@") {
		return fmt.Sprintf("value (%d characters, not shown)", len(s))
	}
	return strconv.Quote(s)
}

// integer parses a base-10 integer in [lo, hi].
func (p *parser) integer(name, s string, lo, hi int64) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		p.addf(name, "%s is out of range", show(s))
		return 0
	case err != nil:
		p.addf(name, "%s is not an integer", show(s))
		return 0
	case n < lo || n > hi:
		if hi == math.MaxInt64 {
			p.addf(name, "must be >= %d, got %d", lo, n)
		} else {
			p.addf(name, "must be between %d and %d, got %d", lo, hi, n)
		}
		return 0
	}
	return n
}

// maxMillis is the largest millisecond count a time.Duration holds.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// duration parses a positive integer number of milliseconds. Go-style "30s"
// and fractions are rejected rather than guessed at: the contract is ms.
func (p *parser) duration(name, s string) time.Duration {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || n > maxMillis:
		p.addf(name, "%s is not an integer number of milliseconds", show(s))
		return 0
	case n <= 0:
		p.addf(name, "must be > 0 milliseconds, got %d", n)
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// oneOf checks that s is one of the allowed words.
func (p *parser) oneOf(name, s string, allowed ...string) string {
	if slices.Contains(allowed, s) {
		return s
	}
	p.addf(name, "%s is not one of %s", show(s), strings.Join(allowed, ", "))
	return ""
}

// durationOrZero is duration that also takes 0, for a setting whose zero
// means "derived from another one".
func (p *parser) durationOrZero(name, s string) time.Duration {
	if strings.TrimSpace(s) == "0" {
		return 0
	}
	return p.duration(name, s)
}

// wei parses a non-negative integer amount of wei, at least least. Only
// plain decimal digits are accepted: "1e18", "0x..." and "1.5" are mistakes
// here, not alternative spellings.
func (p *parser) wei(name, s string, least int64) *big.Int {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		p.addf(name, "%s is not an integer amount of wei", show(s))
		return nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		p.addf(name, "%s is not an integer amount of wei", show(s))
		return nil
	}
	if v.Cmp(big.NewInt(least)) < 0 {
		if least == 0 {
			p.addf(name, "must be >= 0 wei, got %s", v)
		} else {
			p.addf(name, "must be > %d wei, got %s", least-1, v)
		}
		return nil
	}
	return v
}

// optionalWei is wei with a minimum of 0 for a variable without default:
// unset gives nil.
func (p *parser) optionalWei(name, s string) *big.Int {
	if s == "" {
		return nil
	}
	return p.wei(name, s, 0)
}

// boolean parses true/false (also 1/0, yes/no, on/off, any case).
func (p *parser) boolean(name, s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	p.addf(name, "%s is not true or false", show(s))
	return false
}

// list splits a comma-separated value, dropping blanks.
func list(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// origins parses browser origins: scheme://host[:port] with nothing after,
// as a browser sends them in Origin. "*" is refused: the application routes
// are meant for the project's own frontend, and a wildcard is easy to set
// and forget.
func (p *parser) origins(name, s string) []string {
	var out []string
	for _, o := range list(s) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			p.addf(name, "%s is not an origin like https://app.example.com", show(o))
			continue
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out
}

// cidrs parses comma-separated CIDR prefixes; a bare address counts as its
// own /32 or /128.
func (p *parser) cidrs(name, s string) []string {
	var out []string
	for _, c := range list(s) {
		if pfx, err := netip.ParsePrefix(c); err == nil {
			out = append(out, pfx.Masked().String())
		} else if addr, err := netip.ParseAddr(c); err == nil {
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()).String())
		} else {
			p.addf(name, "%s is not a CIDR prefix or an IP address", show(c))
		}
	}
	return out
}

// minToken is the shortest ADMIN_TOKEN or METRICS_TOKEN accepted: 32 random
// characters are beyond guessing even without a rate limit.
const minToken = 32

// token checks a bearer token's length (ADMIN_TOKEN, METRICS_TOKEN); the
// value is never echoed.
func (p *parser) token(name, s string) Secret {
	if s != "" && len(s) < minToken {
		p.addf(name, "must be at least %d characters (got %d)", minToken, len(s))
	}
	return NewSecret(s)
}

// webhookURL checks WEBHOOK_URL: empty, or an http(s) URL with a host. The
// URL is never echoed: it may carry credentials or a token.
func (p *parser) webhookURL(name, s string) Secret {
	if s == "" {
		return Secret{}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		p.addf(name, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		p.addf(name, "must be an http or https URL")
	case u.Host == "" || u.Opaque != "" || misread(u):
		p.addf(name, "has no host, or a password that needs escaping")
	}
	return NewSecret(s)
}

// explorerURL checks EXPLORER_URL: an http(s) base URL the console appends
// /tx/<hash> and the like to, so no query, fragment or credentials.
func (p *parser) explorerURL(name, s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		p.addf(name, "%s is not a base URL like https://etherscan.io", show(s))
		return ""
	}
	return strings.TrimRight(u.String(), "/")
}

// redisURL checks REDIS_URL's scheme only; the client's own parser checks
// the rest. The URL is never echoed: it may carry the password.
func (p *parser) redisURL(name, s string) Secret {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url.Parse's error quotes the whole URL; report without it.
		p.addf(name, "is not a valid URL")
	case u.Scheme == "":
		p.addf(name, "has no scheme, want redis://, rediss:// or unix://")
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		p.addf(name, "scheme %s is not one of redis, rediss, unix", show(u.Scheme))
	case u.Opaque != "":
		// "redis:pass@host" has no host for the client, which would then
		// silently dial localhost.
		p.addf(name, "must have the form %s://...", u.Scheme)
	}
	return NewSecret(s)
}

// rpcURL checks CHAIN_RPC_URL. The URL is never echoed: providers put the
// API key in its path or query.
func (p *parser) rpcURL(name, s string) Secret {
	if s == "" {
		p.addf(name, "required")
		return Secret{}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		p.addf(name, "is not a valid URL")
	case u.Scheme == "":
		p.addf(name, "has no scheme, want http, https, ws or wss")
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss":
		p.addf(name, "scheme %s is not one of http, https, ws, wss", show(u.Scheme))
	case u.Host == "":
		p.addf(name, "has no host")
	}
	return NewSecret(s)
}

// address parses a 0x-prefixed hex address. An all-lower or all-upper case
// address carries no checksum and is accepted as is; a mixed-case one must
// match its EIP-55 checksum, which catches a mistyped character.
func (p *parser) address(name, s string) common.Address {
	if s == "" {
		p.addf(name, "required")
		return common.Address{}
	}
	hex, ok := strings.CutPrefix(s, "0x")
	if !ok || len(hex) != 2*common.AddressLength || strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
		p.addf(name, "%s is not 0x followed by 40 hex digits", show(s))
		return common.Address{}
	}
	a := common.HexToAddress(s)
	if hex != strings.ToLower(hex) && hex != strings.ToUpper(hex) && s != a.Hex() {
		p.addf(name, "mixed-case address does not match its EIP-55 checksum %s", a.Hex())
		return common.Address{}
	}
	if a == (common.Address{}) {
		p.addf(name, "must not be the zero address")
	}
	return a
}

// optionalAddress is address for a variable without default: blank is the
// zero address (the setting is off), anything else must be an address.
func (p *parser) optionalAddress(name, s string) common.Address {
	if s == "" {
		return common.Address{}
	}
	return p.address(name, s)
}

// optionalHex is an optional address as logged: "" when unset.
func optionalHex(a common.Address) string {
	if a == (common.Address{}) {
		return ""
	}
	return a.Hex()
}

// The bounds of BATCH_MAX_APPLICATIONS and BATCH_GAS_BUDGET. A batch of 128
// applications already needs about 4,700,000 gas besides what the
// applications use (the contract's 30,000 reserve and 416 bytes of calldata
// each), and the 21,000 gas a batch saves per transaction is by then about
// 160 gas per application: larger batches gain nothing worth their size. Below 1,000,000 gas a batch holds at most a
// couple of the product's applications; above 2^24 (EIP-7825's cap on a
// transaction's gas limit) nodes refuse the transaction.
const (
	MaxBatchApplications = 128
	MinBatchGasBudget    = 1_000_000
	MaxBatchGasBudget    = 1 << 24
)

// addresses parses a comma-separated list of addresses (each as address
// does); blank means none.
func (p *parser) addresses(name, s string) []common.Address {
	var out []common.Address
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, p.address(name, part))
		}
	}
	return out
}

// mnemonic checks a BIP39 English mnemonic after collapsing whitespace, and
// keeps the collapsed form, which is what ethers derives the seed from. The
// reason for a rejection names word counts and positions, never words.
func (p *parser) mnemonic(name, s string) Secret {
	words := strings.Fields(s)
	if len(words) == 0 {
		p.addf(name, "required")
		return Secret{}
	}
	norm := strings.Join(words, " ")
	if bip39.IsMnemonicValid(norm) {
		return NewSecret(norm)
	}
	n := len(words)
	if n%3 != 0 || n < 12 || n > 24 {
		p.addf(name, "is not a valid BIP39 mnemonic: it has %d words, want 12, 15, 18, 21 or 24", n)
		return Secret{}
	}
	var unknown []string
	for i, w := range words {
		if _, ok := bip39.GetWordIndex(w); !ok {
			unknown = append(unknown, strconv.Itoa(i+1))
		}
	}
	if len(unknown) > 0 {
		p.addf(name, "is not a valid BIP39 mnemonic: word(s) at position %s not in the English word list", strings.Join(unknown, ", "))
		return Secret{}
	}
	p.addf(name, "is not a valid BIP39 mnemonic: checksum does not match (a word is wrong or out of order)")
	return Secret{}
}

// logLevel resolves LOG_LEVEL, falling back on NODE_ENV as the Node
// processor did.
func (p *parser) logLevel(name, s, nodeEnv string) zerolog.Level {
	switch strings.ToLower(s) {
	case "":
		if nodeEnv == "production" {
			return zerolog.InfoLevel
		}
		return zerolog.DebugLevel
	case "trace":
		return zerolog.TraceLevel
	case "debug":
		return zerolog.DebugLevel
	case "info":
		return zerolog.InfoLevel
	case "warn":
		return zerolog.WarnLevel
	case "error":
		return zerolog.ErrorLevel
	}
	p.addf(name, "%s is not one of trace, debug, info, warn, error", show(s))
	return zerolog.InfoLevel
}

// LogFields returns the effective configuration for the startup log line,
// keyed by environment variable name so it can be compared with the app's
// settings: `log.Info().Fields(cfg.LogFields()).Msg("config")`.
//
// Secrets are redacted: the mnemonic entirely, the Redis password (also a
// "password" query parameter) replaced by "xxxxx", and the RPC URL reduced to
// scheme://host. Amounts are decimal strings (JSON numbers lose precision
// past 2^53); durations are Go duration strings.
func (c Config) LogFields() map[string]any {
	out := map[string]any{}
	for _, vr := range variables() {
		out[vr.name] = vr.log(c)
	}
	return out
}

// priorityFee is MAX_PRIORITY_FEE_PER_GAS as logged: unset means the node's
// suggestion.
func priorityFee(c Config) string {
	if c.MaxPriorityFeePerGas == nil {
		return "node suggestion"
	}
	return c.MaxPriorityFeePerGas.String()
}

// setOrNot is a token as logged: whether it is set is worth seeing, its
// value never is.
func setOrNot(s Secret) string {
	if s.Reveal() == "" {
		return ""
	}
	return redacted
}

// MetricsAddr is the listen address of /metrics' own listener (":9464"),
// or "" with METRICS_PORT unset: /metrics is then served on PORT.
func (c Config) MetricsAddr() string {
	if c.MetricsPort == 0 {
		return ""
	}
	return ":" + strconv.Itoa(c.MetricsPort)
}

// MarshalZerologObject implements zerolog.LogObjectMarshaler with the fields
// of LogFields, so `log.Info().Object("config", cfg)` (and Interface, which
// prefers this method) is redacted too.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Fields(c.LogFields())
}

// weiString renders an amount, "" for nil (a Config built as a literal).
func weiString(v *big.Int) string {
	if v == nil {
		return ""
	}
	return v.String()
}

// redactRedisURL replaces the password of a Redis URL, in the userinfo or in
// a query parameter whose name contains "password", with "xxxxx". A URL that
// does not parse is redacted whole, since it cannot be taken apart safely,
// and so is one that parses into parts no Redis URL has: a password with an
// unescaped '/', '?' or '#' ("redis://user:7306/x@host") ends the authority
// early, and its pieces read as a port, a path, a query or a fragment.
func redactRedisURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || misread(u) {
		// An opaque URL ("redis:pass@host") has no userinfo to redact.
		return redacted
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			// A userinfo without a colon ("redis://s3cret@host") is a
			// password to several clients and providers: never shown.
			u.User = url.User("xxxxx")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// rpcOrigin reduces an RPC URL to scheme://host: enough to tell which node
// is used, without the path or query where providers put the API key.
func rpcOrigin(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || misread(u) {
		return redacted
	}
	return u.Scheme + "://" + u.Host
}

// misread reports a URL whose userinfo, had it been escaped, would have held
// what now reads as other parts: an '@' after the authority, a fragment, or
// a port with no host name before it.
func misread(u *url.URL) bool {
	return strings.Contains(u.Path, "@") || strings.Contains(u.RawQuery, "@") || u.Fragment != "" ||
		(u.Host != "" && u.Hostname() == "")
}
