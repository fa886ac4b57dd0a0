package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"
)

// contractVars are the variable names the existing Dokku apps set, spelled
// as the old processor spelled them, plus the new ones. The list is written
// out here, not derived, so a renamed variable fails TestVariableNames.
var contractVars = []string{
	"REDIS_URL", "CHAIN_RPC_URL", "DEPEG_PRODUCT_ADDRESS", "PROCESSOR_MNEMONIC",
	"MAX_FEE_PER_GAS", "MAX_PRIORITY_FEE_PER_GAS", "PROCESSOR_MIN_BALANCE", "PROCESSOR_ALERT_BALANCE",
	"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS", "MAX_NON_ACK_PENDING_MESSAGES", "BALANCE_TOO_LOW_TIMEOUT",
	"ERROR_TIMEOUT", "REDIS_READ_BLOCK_TIMEOUT", "PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT", "PORT",
	"REDIS_QUEUE_STREAM_KEY", "REDIS_QUEUE_APPLICATION_ID", "REDIS_QUEUE_CONSUMER_ID", "NODE_ENV", "LOG_LEVEL",
	"DEAD_LETTER_STREAM_KEY", "MAX_IN_FLIGHT", "PROCESSOR_ACCOUNT_INDEX", "CHAIN_POLL_INTERVAL", "RPC_TIMEOUT",
	"REBROADCAST_INTERVAL", "GAS_LIMIT_MARGIN_PERCENT", "SHUTDOWN_TIMEOUT", "MONITOR_CHECK_TIMEOUT",
	"BALANCE_REFRESH_INTERVAL", "STUCK_TX_BLOCKS", "FEE_BUMP_PERCENT",
	"MAX_TRANSIENT_REVERTS", "SIGNATURE_LOOKBACK_BLOCKS", "DEAD_LETTER_MAX_LEN",
	"MONITOR_MAX_WAIT_AGE", "MAX_ENTRY_ATTEMPTS", "REDIS_MODE", "LEASE_TTL",
	"LEGACY_PROCESSOR_ADDRESSES", "ORPHAN_HANDOFF_AFTER",
	"REDIS_QUEUE_CLAIM_IDLE", "MAX_ENTRY_CLAIMS",
	"INTAKE_ENABLED", "INTAKE_CORS_ORIGINS", "INTAKE_MAX_BODY_BYTES", "INTAKE_RATE_LIMIT", "INTAKE_RATE_WINDOW",
	"INTAKE_TRUSTED_PROXIES", "APPLICATION_STATUS_TTL", "ADMIN_TOKEN",
	"METRICS_PORT", "METRICS_TOKEN",
	"CONSOLE_ENABLED", "EXPLORER_URL",
	"SIGNER", "AWS_KMS_KEY_IDS", "PROCESSOR_MNEMONIC_FILE",
	"WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_MAX_PENDING",
	"BATCH_CONTRACT_ADDRESS", "BATCH_MAX_APPLICATIONS", "BATCH_GAS_BUDGET",
}

// durationVars are the variables in integer milliseconds.
var durationVars = []string{
	"BALANCE_TOO_LOW_TIMEOUT", "ERROR_TIMEOUT", "REDIS_READ_BLOCK_TIMEOUT",
	"PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT", "CHAIN_POLL_INTERVAL", "RPC_TIMEOUT",
	"REBROADCAST_INTERVAL", "SHUTDOWN_TIMEOUT", "MONITOR_CHECK_TIMEOUT", "BALANCE_REFRESH_INTERVAL",
	"INTAKE_RATE_WINDOW", "APPLICATION_STATUS_TTL", "LEASE_TTL", "ORPHAN_HANDOFF_AFTER",
}

const (
	testMnemonic = "test test test test test test test test test test test junk"
	testRPC      = "https://mainnet.example.io/v3/APIKEY0123456789"
	testAddress  = "0x5FbDB2315678afecb367f032d93F642f64180aa3" // EIP-55 checksummed
	testBatch    = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" // EIP-55 checksummed
)

// setEnv unsets every config variable for the test, then sets the required
// ones to valid values, then applies vars. A value of "<unset>" unsets.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, name := range contractVars {
		t.Setenv(name, "") // registers the restore
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
	base := map[string]string{
		"CHAIN_RPC_URL":         testRPC,
		"DEPEG_PRODUCT_ADDRESS": testAddress,
		"PROCESSOR_MNEMONIC":    testMnemonic,
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		if v == "<unset>" {
			continue
		}
		t.Setenv(k, v)
	}
}

func mustLoad(t *testing.T, vars map[string]string) Config {
	t.Helper()
	setEnv(t, vars)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func loadErr(t *testing.T, vars map[string]string) *Error {
	t.Helper()
	setEnv(t, vars)
	_, err := Load()
	if err == nil {
		t.Fatalf("Load succeeded, want an error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("errors.As(%v, *Error) = false", err)
	}
	return ce
}

func problemVars(e *Error) []string {
	var vars []string
	for _, p := range e.Problems {
		vars = append(vars, p.Var)
	}
	return vars
}

func TestVariableNames(t *testing.T) {
	var tags []string
	for _, v := range Variables() {
		tags = append(tags, v.Name)
	}
	slices.Sort(tags)
	want := slices.Clone(contractVars)
	slices.Sort(want)
	if !slices.Equal(tags, want) {
		t.Errorf("variables = %v\nwant %v", tags, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string // for every defaulted variable
	}{
		{"unset", "<unset>"},
		{"blank", "  "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for _, v := range contractVars {
				switch v {
				case "CHAIN_RPC_URL", "DEPEG_PRODUCT_ADDRESS", "PROCESSOR_MNEMONIC":
				default:
					vars[v] = tc.value
				}
			}
			c := mustLoad(t, vars)
			oneETH, _ := new(big.Int).SetString("1000000000000000000", 10)
			want := Config{
				RedisURL:              NewSecret("redis://localhost:6379"),
				RedisMode:             "single",
				StreamKey:             "application:signatures",
				GroupName:             "depeg-backend-processor",
				ConsumerName:          "",
				ClaimIdle:             time.Minute,
				MaxEntryClaims:        5,
				DeadLetterStreamKey:   "application:signatures:dead",
				RedisReadBlockTimeout: 30 * time.Second,

				ChainRPCURL:             NewSecret(testRPC),
				DepegProductAddress:     common.HexToAddress(testAddress),
				ProcessorMnemonic:       NewSecret(testMnemonic),
				Signer:                  SignerMnemonic,
				ProcessorAccountIndex:   0,
				ProcessorAccountIndexes: []uint32{0},
				MaxFeePerGas:            big.NewInt(30_000_000_000),
				MaxPriorityFeePerGas:    nil,
				RequiredConfirmations:   6,
				ChainPollInterval:       2 * time.Second,
				RPCTimeout:              10 * time.Second,
				RebroadcastInterval:     time.Minute,
				GasLimitMarginPercent:   20,
				StuckTxBlocks:           5,
				FeeBumpPercent:          15,
				MaxTransientReverts:     3,
				SignatureLookbackBlocks: 10000,
				DeadLetterMaxLen:        100000,

				ProcessorMinBalance:    oneETH,
				ProcessorAlertBalance:  oneETH,
				BalanceTooLowTimeout:   time.Minute,
				BalanceRefreshInterval: 15 * time.Second,

				MaxInFlight:          512,
				BatchMaxApplications: 16,
				BatchGasBudget:       8_000_000,
				ErrorTimeout:         30 * time.Second,
				ShutdownTimeout:      20 * time.Second,
				LeaseTTL:             15 * time.Second,
				OrphanHandoffAfter:   10 * time.Minute,

				Port:                     3000,
				MaxNonAckPendingMessages: 10,
				ListenerLoopMaxTimeout:   time.Minute,
				MonitorCheckTimeout:      2 * time.Second,
				MaxEntryAttempts:         5,

				IntakeEnabled:        false,
				IntakeMaxBodyBytes:   16384,
				IntakeRateLimit:      60,
				IntakeRateWindow:     time.Minute,
				ApplicationStatusTTL: 7 * 24 * time.Hour,

				ConsoleEnabled: true,

				WebhookMaxPending: 10000,

				NodeEnv:  "",
				LogLevel: zerolog.DebugLevel,
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("Load() =\n%#v\nwant\n%#v", c.LogFields(), want.LogFields())
			}
		})
	}
}

func TestLoadParses(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		got  func(Config) any
		want any
	}{
		{"redis scheme rediss", map[string]string{"REDIS_URL": "rediss://:pw@redis.example:6380/1"},
			func(c Config) any { return c.RedisURL.Reveal() }, "rediss://:pw@redis.example:6380/1"},
		{"redis scheme unix", map[string]string{"REDIS_URL": "unix:///var/run/redis.sock"},
			func(c Config) any { return c.RedisURL.Reveal() }, "unix:///var/run/redis.sock"},
		{"redis value trimmed", map[string]string{"REDIS_URL": " redis://h:1\n"},
			func(c Config) any { return c.RedisURL.Reveal() }, "redis://h:1"},
		{"rpc http", map[string]string{"CHAIN_RPC_URL": "http://127.0.0.1:8545"},
			func(c Config) any { return c.ChainRPCURL.Reveal() }, "http://127.0.0.1:8545"},
		{"rpc ws", map[string]string{"CHAIN_RPC_URL": "ws://node:8546"},
			func(c Config) any { return c.ChainRPCURL.Reveal() }, "ws://node:8546"},
		{"rpc wss upper-case scheme", map[string]string{"CHAIN_RPC_URL": "WSS://node/key"},
			func(c Config) any { return c.ChainRPCURL.Reveal() }, "WSS://node/key"},
		{"address lower case", map[string]string{"DEPEG_PRODUCT_ADDRESS": strings.ToLower(testAddress)},
			func(c Config) any { return c.DepegProductAddress }, common.HexToAddress(testAddress)},
		{"address upper case", map[string]string{"DEPEG_PRODUCT_ADDRESS": "0x" + strings.ToUpper(testAddress[2:])},
			func(c Config) any { return c.DepegProductAddress }, common.HexToAddress(testAddress)},
		{"mnemonic whitespace collapsed", map[string]string{"PROCESSOR_MNEMONIC": "  test test\ttest test test test\n test test test test test   junk "},
			func(c Config) any { return c.ProcessorMnemonic.Reveal() }, testMnemonic},
		{"mnemonic 24 words", map[string]string{"PROCESSOR_MNEMONIC": strings.Repeat("abandon ", 23) + "art"},
			func(c Config) any { return len(strings.Fields(c.ProcessorMnemonic.Reveal())) }, 24},
		{"account index", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "7"},
			func(c Config) any { return c.ProcessorAccountIndex }, uint32(7)},
		{"account index max", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "2147483647"},
			func(c Config) any { return c.ProcessorAccountIndex }, uint32(1<<31 - 1)},
		{"account index list and ranges", map[string]string{"PROCESSOR_ACCOUNT_INDEX": " 5, 0-2 ,9"},
			func(c Config) any { return fmt.Sprint(c.ProcessorAccountIndexes, c.ProcessorAccountIndex) }, "[5 0 1 2 9] 5"},
		{"account index single range", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "3-3"},
			func(c Config) any { return fmt.Sprint(c.ProcessorAccountIndexes) }, "[3]"},
		{"claim idle", map[string]string{"REDIS_QUEUE_CLAIM_IDLE": "45000", "MAX_ENTRY_CLAIMS": "2"},
			func(c Config) any { return fmt.Sprint(c.ClaimIdle, c.MaxEntryClaims) }, "45s 2"},
		{"account range of 64 keys, the most", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-63"},
			func(c Config) any { return len(c.ProcessorAccountIndexes) }, 64},
		{"64 keys across items", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-61,100-101"},
			func(c Config) any { return len(c.ProcessorAccountIndexes) }, 64},
		{"consumer name of 64 characters", map[string]string{"REDIS_QUEUE_CONSUMER_ID": strings.Repeat("c", 64)},
			func(c Config) any { return len(c.ConsumerName) }, 64},
		{"claim idle exactly twice the lease", map[string]string{"REDIS_QUEUE_CLAIM_IDLE": "30000", "LEASE_TTL": "15000"},
			func(c Config) any { return fmt.Sprint(c.ClaimIdle, c.LeaseTTL) }, "30s 15s"},
		{"max fee", map[string]string{"MAX_FEE_PER_GAS": "100000000000000000000000000000"},
			func(c Config) any { return c.MaxFeePerGas.String() }, "100000000000000000000000000000"},
		{"priority fee set", map[string]string{"MAX_PRIORITY_FEE_PER_GAS": "2000000000"},
			func(c Config) any { return c.MaxPriorityFeePerGas.String() }, "2000000000"},
		{"priority fee zero", map[string]string{"MAX_PRIORITY_FEE_PER_GAS": "0"},
			func(c Config) any { return c.MaxPriorityFeePerGas.String() }, "0"},
		{"priority fee equal to max", map[string]string{"MAX_FEE_PER_GAS": "5", "MAX_PRIORITY_FEE_PER_GAS": "5"},
			func(c Config) any { return c.MaxPriorityFeePerGas.String() }, "5"},
		{"priority fee blank is unset", map[string]string{"MAX_PRIORITY_FEE_PER_GAS": " "},
			func(c Config) any { return c.MaxPriorityFeePerGas == nil }, true},
		{"min balance zero", map[string]string{"PROCESSOR_MIN_BALANCE": "0", "PROCESSOR_ALERT_BALANCE": "0"},
			func(c Config) any { return c.ProcessorMinBalance.Sign() }, 0},
		{"alert above min", map[string]string{"PROCESSOR_MIN_BALANCE": "10", "PROCESSOR_ALERT_BALANCE": "11"},
			func(c Config) any { return c.ProcessorAlertBalance.String() + "/" + c.ProcessorMinBalance.String() }, "11/10"},
		{"alert equal to min", map[string]string{"PROCESSOR_MIN_BALANCE": "10", "PROCESSOR_ALERT_BALANCE": "10"},
			func(c Config) any { return c.ProcessorAlertBalance.String() }, "10"},
		{"confirmations one", map[string]string{"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "1"},
			func(c Config) any { return c.RequiredConfirmations }, uint64(1)},
		{"non-ack zero", map[string]string{"MAX_NON_ACK_PENDING_MESSAGES": "0"},
			func(c Config) any { return c.MaxNonAckPendingMessages }, int64(0)},
		{"port min", map[string]string{"PORT": "1"},
			func(c Config) any { return c.Port }, 1},
		{"port max", map[string]string{"PORT": "65535"},
			func(c Config) any { return c.Port }, 65535},
		{"metrics on PORT by default", nil,
			func(c Config) any { return fmt.Sprintf("%d %q", c.MetricsPort, c.MetricsAddr()) }, `0 ""`},
		{"metrics port", map[string]string{"METRICS_PORT": "9464"},
			func(c Config) any { return fmt.Sprintf("%d %q", c.MetricsPort, c.MetricsAddr()) }, `9464 ":9464"`},
		{"metrics token", map[string]string{"METRICS_TOKEN": strings.Repeat("m", 32), "ADMIN_TOKEN": strings.Repeat("a", 32)},
			func(c Config) any { return c.MetricsToken.Reveal() }, strings.Repeat("m", 32)},
		{"in flight bounds", map[string]string{"MAX_IN_FLIGHT": "1024"},
			func(c Config) any { return c.MaxInFlight }, 1024},
		{"batching off by default", nil,
			func(c Config) any { return c.BatchContract }, common.Address{}},
		{"batch contract", map[string]string{"BATCH_CONTRACT_ADDRESS": " " + strings.ToLower(testBatch) + " "},
			func(c Config) any { return c.BatchContract }, common.HexToAddress(testBatch)},
		{"batch contract logged", map[string]string{"BATCH_CONTRACT_ADDRESS": strings.ToLower(testBatch)},
			func(c Config) any { return c.LogFields()["BATCH_CONTRACT_ADDRESS"] }, testBatch},
		{"batching off logged as unset", nil,
			func(c Config) any { return c.LogFields()["BATCH_CONTRACT_ADDRESS"] }, ""},
		{"batch contract blank is off", map[string]string{"BATCH_CONTRACT_ADDRESS": "  "},
			func(c Config) any { return c.BatchContract }, common.Address{}},
		{"batch of one", map[string]string{"BATCH_MAX_APPLICATIONS": "1"},
			func(c Config) any { return c.BatchMaxApplications }, 1},
		{"batch of 128, the most", map[string]string{"BATCH_MAX_APPLICATIONS": "128"},
			func(c Config) any { return c.BatchMaxApplications }, 128},
		{"batch gas budget least", map[string]string{"BATCH_GAS_BUDGET": "1000000"},
			func(c Config) any { return c.BatchGasBudget }, uint64(1_000_000)},
		{"batch gas budget at EIP-7825's cap", map[string]string{"BATCH_GAS_BUDGET": "16777216"},
			func(c Config) any { return c.BatchGasBudget }, uint64(1 << 24)},
		{"gas margin zero", map[string]string{"GAS_LIMIT_MARGIN_PERCENT": "0"},
			func(c Config) any { return c.GasLimitMarginPercent }, uint64(0)},
		{"gas margin max", map[string]string{"GAS_LIMIT_MARGIN_PERCENT": "200"},
			func(c Config) any { return c.GasLimitMarginPercent }, uint64(200)},
		{"stuck blocks", map[string]string{"STUCK_TX_BLOCKS": "1"},
			func(c Config) any { return c.StuckTxBlocks }, uint64(1)},
		{"fee bump minimum", map[string]string{"FEE_BUMP_PERCENT": "11"},
			func(c Config) any { return c.FeeBumpPercent }, uint64(11)},
		{"stream keys", map[string]string{"REDIS_QUEUE_STREAM_KEY": "s", "DEAD_LETTER_STREAM_KEY": "d", "REDIS_QUEUE_APPLICATION_ID": "g", "REDIS_QUEUE_CONSUMER_ID": "c"},
			func(c Config) any { return c.StreamKey + c.DeadLetterStreamKey + c.GroupName + c.ConsumerName }, "sdgc"},
		{"production logs at info", map[string]string{"NODE_ENV": "production"},
			func(c Config) any { return c.LogLevel }, zerolog.InfoLevel},
		{"development logs at debug", map[string]string{"NODE_ENV": "development"},
			func(c Config) any { return c.LogLevel }, zerolog.DebugLevel},
		{"LOG_LEVEL overrides production", map[string]string{"NODE_ENV": "production", "LOG_LEVEL": "trace"},
			func(c Config) any { return c.LogLevel }, zerolog.TraceLevel},
		{"LOG_LEVEL warn", map[string]string{"LOG_LEVEL": "warn"},
			func(c Config) any { return c.LogLevel }, zerolog.WarnLevel},
		{"LOG_LEVEL case-insensitive", map[string]string{"LOG_LEVEL": "ERROR"},
			func(c Config) any { return c.LogLevel }, zerolog.ErrorLevel},
		{"LOG_LEVEL info", map[string]string{"NODE_ENV": "test", "LOG_LEVEL": "info"},
			func(c Config) any { return c.LogLevel }, zerolog.InfoLevel},
		{"LOG_LEVEL debug", map[string]string{"NODE_ENV": "production", "LOG_LEVEL": "debug"},
			func(c Config) any { return c.LogLevel }, zerolog.DebugLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.vars)
			if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestLoadDurations(t *testing.T) {
	for _, name := range durationVars {
		t.Run(name, func(t *testing.T) {
			c := mustLoad(t, map[string]string{name: "1234"})
			fields := c.LogFields()
			if got := fields[name]; got != (1234 * time.Millisecond).String() {
				t.Errorf("%s = %v, want 1.234s", name, got)
			}
			for _, bad := range []string{"0", "-1", "1.5", "30s", "1e3", "abc", "99999999999999999999"} {
				e := loadErr(t, map[string]string{name: bad})
				if len(e.Problems) != 1 || e.Problems[0].Var != name || !strings.Contains(e.Problems[0].Reason, "milliseconds") {
					t.Errorf("%s=%q: problems %+v, want one naming %s and milliseconds", name, bad, e.Problems, name)
				}
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantVar string
		reason  string // substring of the reason
	}{
		{"rpc required", map[string]string{"CHAIN_RPC_URL": "<unset>"}, "CHAIN_RPC_URL", "required"},
		{"rpc blank", map[string]string{"CHAIN_RPC_URL": " "}, "CHAIN_RPC_URL", "required"},
		{"address required", map[string]string{"DEPEG_PRODUCT_ADDRESS": "<unset>"}, "DEPEG_PRODUCT_ADDRESS", "required"},
		{"mnemonic required", map[string]string{"PROCESSOR_MNEMONIC": "<unset>"}, "PROCESSOR_MNEMONIC", "required"},

		{"redis bad scheme", map[string]string{"REDIS_URL": "http://localhost:6379"}, "REDIS_URL", `scheme "http"`},
		{"redis no scheme", map[string]string{"REDIS_URL": "/tmp/redis.sock"}, "REDIS_URL", "no scheme"},
		{"redis host:port", map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL", `scheme "localhost"`},
		{"redis unparsable", map[string]string{"REDIS_URL": "redis://h:port"}, "REDIS_URL", "not a valid URL"},
		{"redis opaque", map[string]string{"REDIS_URL": "redis:pw@host"}, "REDIS_URL", "redis://"},

		{"rpc bad scheme", map[string]string{"CHAIN_RPC_URL": "ftp://node"}, "CHAIN_RPC_URL", `scheme "ftp"`},
		{"rpc ipc path", map[string]string{"CHAIN_RPC_URL": "/data/geth.ipc"}, "CHAIN_RPC_URL", "no scheme"},
		{"rpc no host", map[string]string{"CHAIN_RPC_URL": "https:///v3/key"}, "CHAIN_RPC_URL", "no host"},
		{"rpc unparsable", map[string]string{"CHAIN_RPC_URL": "https://[::1/key"}, "CHAIN_RPC_URL", "not a valid URL"},

		{"address no 0x", map[string]string{"DEPEG_PRODUCT_ADDRESS": testAddress[2:]}, "DEPEG_PRODUCT_ADDRESS", "0x followed by 40 hex"},
		{"address short", map[string]string{"DEPEG_PRODUCT_ADDRESS": testAddress[:41]}, "DEPEG_PRODUCT_ADDRESS", "0x followed by 40 hex"},
		{"address non-hex", map[string]string{"DEPEG_PRODUCT_ADDRESS": "0x" + strings.Repeat("g", 40)}, "DEPEG_PRODUCT_ADDRESS", "0x followed by 40 hex"},
		{"address bad checksum", map[string]string{"DEPEG_PRODUCT_ADDRESS": "0x5fbDB2315678afecb367f032d93F642f64180aa3"}, "DEPEG_PRODUCT_ADDRESS", "EIP-55 checksum " + testAddress},
		{"address zero", map[string]string{"DEPEG_PRODUCT_ADDRESS": "0x" + strings.Repeat("0", 40)}, "DEPEG_PRODUCT_ADDRESS", "zero address"},

		{"mnemonic word count", map[string]string{"PROCESSOR_MNEMONIC": "test test test"}, "PROCESSOR_MNEMONIC", "has 3 words"},
		{"mnemonic unknown word", map[string]string{"PROCESSOR_MNEMONIC": "test test xyzzy test test test test test test test test junk"}, "PROCESSOR_MNEMONIC", "position 3 not in"},
		{"mnemonic checksum", map[string]string{"PROCESSOR_MNEMONIC": strings.TrimSpace(strings.Repeat("test ", 12))}, "PROCESSOR_MNEMONIC", "checksum"},
		{"mnemonic upper case", map[string]string{"PROCESSOR_MNEMONIC": strings.ToUpper(testMnemonic)}, "PROCESSOR_MNEMONIC", "not in the English word list"},

		{"account index negative", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "-1"}, "PROCESSOR_ACCOUNT_INDEX", "between 0 and 2147483647"},
		{"account index hardened", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "2147483648"}, "PROCESSOR_ACCOUNT_INDEX", "between 0 and 2147483647"},
		{"account index twice", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-3,2"}, "PROCESSOR_ACCOUNT_INDEX", "listed twice"},
		{"account range backwards", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "5-2"}, "PROCESSOR_ACCOUNT_INDEX", "runs backwards"},
		{"account range too large", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-64"}, "PROCESSOR_ACCOUNT_INDEX", "more than 64 keys"},
		{"account range huge", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-2147483647"}, "PROCESSOR_ACCOUNT_INDEX", "more than 64 keys"},
		{"account list empty item", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "1,,2"}, "PROCESSOR_ACCOUNT_INDEX", "between 0 and"},
		{"account list junk", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "1;2"}, "PROCESSOR_ACCOUNT_INDEX", "not an index"},
		{"consumer name with space", map[string]string{"REDIS_QUEUE_CONSUMER_ID": "a b"}, "REDIS_QUEUE_CONSUMER_ID", "without spaces"},
		{"consumer name of 65 characters", map[string]string{"REDIS_QUEUE_CONSUMER_ID": strings.Repeat("c", 65)}, "REDIS_QUEUE_CONSUMER_ID", "at most 64 characters"},
		{"65 keys across items", map[string]string{"PROCESSOR_ACCOUNT_INDEX": "0-62,100-101"}, "PROCESSOR_ACCOUNT_INDEX", "more than 64 keys"},
		{"claim idle below lease", map[string]string{"REDIS_QUEUE_CLAIM_IDLE": "20000", "LEASE_TTL": "15000"}, "REDIS_QUEUE_CLAIM_IDLE", "twice LEASE_TTL"},
		{"claim idle one millisecond short of twice the lease", map[string]string{"REDIS_QUEUE_CLAIM_IDLE": "29999", "LEASE_TTL": "15000"}, "REDIS_QUEUE_CLAIM_IDLE", "twice LEASE_TTL"},
		// A bad value is reported once, not again by the cross-check.
		{"claim idle zero", map[string]string{"REDIS_QUEUE_CLAIM_IDLE": "0"}, "REDIS_QUEUE_CLAIM_IDLE", "must be > 0 milliseconds"},
		{"lease ttl zero", map[string]string{"LEASE_TTL": "0"}, "LEASE_TTL", "must be > 0 milliseconds"},
		{"legacy address not hex", map[string]string{"LEGACY_PROCESSOR_ADDRESSES": "0x5FbDB2315678afecb367f032d93F642f64180aa3, 0x12"}, "LEGACY_PROCESSOR_ADDRESSES", "40 hex digits"},
		{"orphan handoff not ms", map[string]string{"ORPHAN_HANDOFF_AFTER": "10m"}, "ORPHAN_HANDOFF_AFTER", ""},

		{"max fee not integer", map[string]string{"MAX_FEE_PER_GAS": "abc"}, "MAX_FEE_PER_GAS", `"abc" is not an integer amount of wei`},
		{"max fee fraction", map[string]string{"MAX_FEE_PER_GAS": "1.5"}, "MAX_FEE_PER_GAS", "not an integer amount of wei"},
		{"max fee exponent", map[string]string{"MAX_FEE_PER_GAS": "3e10"}, "MAX_FEE_PER_GAS", "not an integer amount of wei"},
		{"max fee hex", map[string]string{"MAX_FEE_PER_GAS": "0x10"}, "MAX_FEE_PER_GAS", "not an integer amount of wei"},
		{"max fee plus sign", map[string]string{"MAX_FEE_PER_GAS": "+10"}, "MAX_FEE_PER_GAS", "not an integer amount of wei"},
		{"max fee zero", map[string]string{"MAX_FEE_PER_GAS": "0"}, "MAX_FEE_PER_GAS", "must be > 0 wei"},
		{"max fee negative", map[string]string{"MAX_FEE_PER_GAS": "-1"}, "MAX_FEE_PER_GAS", "must be > 0 wei"},
		{"priority fee negative", map[string]string{"MAX_PRIORITY_FEE_PER_GAS": "-1"}, "MAX_PRIORITY_FEE_PER_GAS", "must be >= 0 wei"},
		{"priority fee above max", map[string]string{"MAX_FEE_PER_GAS": "100", "MAX_PRIORITY_FEE_PER_GAS": "101"}, "MAX_PRIORITY_FEE_PER_GAS", "101 must be <= MAX_FEE_PER_GAS (100)"},
		{"min balance garbage", map[string]string{"PROCESSOR_MIN_BALANCE": "1 ETH"}, "PROCESSOR_MIN_BALANCE", "not an integer amount of wei"},
		{"alert balance negative", map[string]string{"PROCESSOR_ALERT_BALANCE": "-5"}, "PROCESSOR_ALERT_BALANCE", "must be >= 0 wei"},
		{"alert below min", map[string]string{"PROCESSOR_MIN_BALANCE": "1000", "PROCESSOR_ALERT_BALANCE": "999"}, "PROCESSOR_ALERT_BALANCE", "999 must be >= PROCESSOR_MIN_BALANCE (1000)"},
		{"alert default below raised min", map[string]string{"PROCESSOR_MIN_BALANCE": "2000000000000000000"}, "PROCESSOR_ALERT_BALANCE", "must be >= PROCESSOR_MIN_BALANCE"},

		{"confirmations zero", map[string]string{"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "0"}, "CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS", "must be >= 1"},
		{"confirmations garbage", map[string]string{"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "six"}, "CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS", `"six" is not an integer`},
		{"non-ack negative", map[string]string{"MAX_NON_ACK_PENDING_MESSAGES": "-1"}, "MAX_NON_ACK_PENDING_MESSAGES", "must be >= 0"},
		{"non-ack overflow", map[string]string{"MAX_NON_ACK_PENDING_MESSAGES": "9223372036854775808"}, "MAX_NON_ACK_PENDING_MESSAGES", "out of range"},
		{"port zero", map[string]string{"PORT": "0"}, "PORT", "between 1 and 65535"},
		{"port too big", map[string]string{"PORT": "65536"}, "PORT", "between 1 and 65535"},
		{"port name", map[string]string{"PORT": "http"}, "PORT", "not an integer"},
		{"metrics port too big", map[string]string{"METRICS_PORT": "65536"}, "METRICS_PORT", "between 0 and 65535"},
		{"metrics port is PORT", map[string]string{"PORT": "5000", "METRICS_PORT": "5000"}, "METRICS_PORT", "must differ from PORT (5000)"},
		{"metrics token short", map[string]string{"METRICS_TOKEN": "short"}, "METRICS_TOKEN", "at least 32 characters (got 5)"},
		{"metrics token is the admin token", map[string]string{"METRICS_TOKEN": strings.Repeat("t", 32), "ADMIN_TOKEN": strings.Repeat("t", 32)},
			"METRICS_TOKEN", "must differ from ADMIN_TOKEN"},
		{"in flight zero", map[string]string{"MAX_IN_FLIGHT": "0"}, "MAX_IN_FLIGHT", "between 1 and 1024"},
		{"in flight too many", map[string]string{"MAX_IN_FLIGHT": "1025"}, "MAX_IN_FLIGHT", "between 1 and 1024"},
		{"batch contract not hex", map[string]string{"BATCH_CONTRACT_ADDRESS": "0x1234"}, "BATCH_CONTRACT_ADDRESS", "0x followed by 40 hex"},
		{"batch contract no 0x", map[string]string{"BATCH_CONTRACT_ADDRESS": testBatch[2:]}, "BATCH_CONTRACT_ADDRESS", "0x followed by 40 hex"},
		{"batch contract zero", map[string]string{"BATCH_CONTRACT_ADDRESS": "0x" + strings.Repeat("0", 40)}, "BATCH_CONTRACT_ADDRESS", "zero address"},
		{"batch contract bad checksum", map[string]string{"BATCH_CONTRACT_ADDRESS": "0xE7f1725e7734ce288f8367e1bb143e90bb3f0512"},
			"BATCH_CONTRACT_ADDRESS", "EIP-55 checksum"},
		{"batch contract is the product", map[string]string{"BATCH_CONTRACT_ADDRESS": testAddress}, "BATCH_CONTRACT_ADDRESS", "must differ from DEPEG_PRODUCT_ADDRESS"},
		{"batch of none", map[string]string{"BATCH_MAX_APPLICATIONS": "0"}, "BATCH_MAX_APPLICATIONS", "between 1 and 128, got 0"},
		{"batch of 129", map[string]string{"BATCH_MAX_APPLICATIONS": "129"}, "BATCH_MAX_APPLICATIONS", "between 1 and 128, got 129"},
		{"batch size word", map[string]string{"BATCH_MAX_APPLICATIONS": "many"}, "BATCH_MAX_APPLICATIONS", `"many" is not an integer`},
		{"batch gas budget below the least", map[string]string{"BATCH_GAS_BUDGET": "999999"}, "BATCH_GAS_BUDGET", "between 1000000 and 16777216, got 999999"},
		{"batch gas budget above EIP-7825's cap", map[string]string{"BATCH_GAS_BUDGET": "16777217"}, "BATCH_GAS_BUDGET", "between 1000000 and 16777216, got 16777217"},
		{"batch gas budget in millions", map[string]string{"BATCH_GAS_BUDGET": "8M"}, "BATCH_GAS_BUDGET", `"8M" is not an integer`},
		{"gas margin too big", map[string]string{"GAS_LIMIT_MARGIN_PERCENT": "201"}, "GAS_LIMIT_MARGIN_PERCENT", "between 0 and 200"},
		{"gas margin negative", map[string]string{"GAS_LIMIT_MARGIN_PERCENT": "-1"}, "GAS_LIMIT_MARGIN_PERCENT", "between 0 and 200"},
		{"stuck blocks zero", map[string]string{"STUCK_TX_BLOCKS": "0"}, "STUCK_TX_BLOCKS", "must be >= 1"},
		{"fee bump ten", map[string]string{"FEE_BUMP_PERCENT": "10"}, "FEE_BUMP_PERCENT", "must be >= 11"},
		{"fee bump fraction", map[string]string{"FEE_BUMP_PERCENT": "12.5"}, "FEE_BUMP_PERCENT", "not an integer"},
		{"dead letters into the input stream", map[string]string{"DEAD_LETTER_STREAM_KEY": "application:signatures"}, "DEAD_LETTER_STREAM_KEY", "must differ from REDIS_QUEUE_STREAM_KEY"},
		{"webhook without secret", map[string]string{"WEBHOOK_URL": "https://hooks.example/x"}, "WEBHOOK_SECRET", "required with WEBHOOK_URL"},
		{"webhook secret short", map[string]string{"WEBHOOK_URL": "https://hooks.example/x", "WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET", "at least 32"},
		{"webhook bad scheme", map[string]string{"WEBHOOK_URL": "ftp://hooks.example/x", "WEBHOOK_SECRET": strings.Repeat("s", 32)}, "WEBHOOK_URL", "http or https"},
		{"webhook no host", map[string]string{"WEBHOOK_URL": "https:///x", "WEBHOOK_SECRET": strings.Repeat("s", 32)}, "WEBHOOK_URL", "no host"},
		{"webhook max pending zero", map[string]string{"WEBHOOK_MAX_PENDING": "0"}, "WEBHOOK_MAX_PENDING", "between 1 and 10000000"},
		{"log level unknown", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL", `"verbose" is not one of`},
		{"log level fatal not offered", map[string]string{"LOG_LEVEL": "fatal"}, "LOG_LEVEL", "is not one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadErr(t, tc.vars)
			if len(e.Problems) != 1 {
				t.Fatalf("problems = %+v, want exactly one", e.Problems)
			}
			p := e.Problems[0]
			if p.Var != tc.wantVar || !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("problem = %s: %s, want %s: ...%s...", p.Var, p.Reason, tc.wantVar, tc.reason)
			}
			if want := "invalid configuration: " + p.Var + ": " + p.Reason; e.Error() != want {
				t.Errorf("Error() = %q, want %q", e.Error(), want)
			}
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	e := loadErr(t, map[string]string{
		"CHAIN_RPC_URL":            "<unset>",
		"DEPEG_PRODUCT_ADDRESS":    "0x1234",
		"PROCESSOR_MNEMONIC":       "<unset>",
		"REDIS_URL":                "http://localhost",
		"MAX_FEE_PER_GAS":          "abc",
		"MAX_PRIORITY_FEE_PER_GAS": "1.5",
		"PROCESSOR_MIN_BALANCE":    "10",
		"PROCESSOR_ALERT_BALANCE":  "9",
		"ERROR_TIMEOUT":            "30s",
		"RPC_TIMEOUT":              "0",
		"PORT":                     "99999",
		"FEE_BUMP_PERCENT":         "5",
		"LOG_LEVEL":                "loud",
	})
	want := []string{
		"REDIS_URL", "CHAIN_RPC_URL", "DEPEG_PRODUCT_ADDRESS", "PROCESSOR_MNEMONIC", "MAX_FEE_PER_GAS",
		"MAX_PRIORITY_FEE_PER_GAS", "RPC_TIMEOUT", "FEE_BUMP_PERCENT", "ERROR_TIMEOUT", "PORT", "LOG_LEVEL",
		"PROCESSOR_ALERT_BALANCE", // cross-checks come last
	}
	if got := problemVars(e); !slices.Equal(got, want) {
		t.Errorf("problem vars = %v\nwant %v", got, want)
	}
	msg := e.Error()
	t.Log(msg)
	if strings.Count(msg, "invalid configuration") != 1 {
		t.Errorf("message %q should be one error", msg)
	}
	for _, w := range []string{
		"CHAIN_RPC_URL: required",
		`MAX_FEE_PER_GAS: "abc" is not an integer amount of wei`,
		"PROCESSOR_ALERT_BALANCE: 9 must be >= PROCESSOR_MIN_BALANCE (10)",
		"ERROR_TIMEOUT: \"30s\" is not an integer number of milliseconds",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
}

func TestLoadNeverPrintsSecrets(t *testing.T) {
	const apiKey = "APIKEY0123456789"
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		secrets []string
	}{
		{"mnemonic bad checksum", map[string]string{"PROCESSOR_MNEMONIC": "zoo zebra zero zone zoo zebra zero zone zoo zebra zero zone"},
			[]string{"zoo", "zebra", "zero", "zone"}},
		{"mnemonic unknown word", map[string]string{"PROCESSOR_MNEMONIC": "zoo zebra zero zone zoo zebra zero zone zoo zebra zero qwertyuiop"},
			[]string{"zoo", "zebra", "zero", "zone", "qwertyuiop"}},
		{"mnemonic wrong count", map[string]string{"PROCESSOR_MNEMONIC": "zoo zebra zero zone zoo"},
			[]string{"zoo", "zebra", "zone"}},
		{"mnemonic in a numeric var", map[string]string{"MAX_FEE_PER_GAS": testMnemonic, "PORT": "junk test"},
			[]string{"test", "junk"}},
		{"redis password, bad scheme", map[string]string{"REDIS_URL": "http://user:s3cret@host:6379"},
			[]string{"s3cret"}},
		{"redis password, unparsable", map[string]string{"REDIS_URL": "redis://:s3cret@host:port"},
			[]string{"s3cret"}},
		{"redis password, opaque", map[string]string{"REDIS_URL": "redis:s3cret@host"},
			[]string{"s3cret"}},
		{"redis password beside other problems", map[string]string{"REDIS_URL": "redis://:s3cret@host:6379", "PORT": "x"},
			[]string{"s3cret"}},
		{"rpc key, bad scheme", map[string]string{"CHAIN_RPC_URL": "ftp://node/" + apiKey},
			[]string{apiKey}},
		{"rpc key, no host", map[string]string{"CHAIN_RPC_URL": "https:///" + apiKey},
			[]string{apiKey}},
		{"rpc key, unparsable", map[string]string{"CHAIN_RPC_URL": "https://[::1/" + apiKey},
			[]string{apiKey}},
		{"rpc key in numeric var", map[string]string{"RPC_TIMEOUT": apiKey + apiKey},
			[]string{apiKey}},
		{"metrics token short", map[string]string{"METRICS_TOKEN": "s3cr3tT"}, []string{"s3cr3tT"}},
		{"webhook secret short", map[string]string{"WEBHOOK_URL": "https://h.example/x", "WEBHOOK_SECRET": "s3cr3tW"}, []string{"s3cr3tW"}},
		{"webhook credentials, bad scheme", map[string]string{"WEBHOOK_URL": "ftp://u:s3cr3tW@h.example/" + apiKey}, []string{"s3cr3tW", apiKey}},
		{"webhook credentials, unparsable", map[string]string{"WEBHOOK_URL": "https://u:s3cr3tW@[::1/" + apiKey}, []string{"s3cr3tW", apiKey}},
		{"metrics token is the admin token", map[string]string{"METRICS_TOKEN": apiKey + apiKey, "ADMIN_TOKEN": apiKey + apiKey},
			[]string{apiKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadErr(t, tc.vars)
			for _, s := range tc.secrets {
				if strings.Contains(e.Error(), s) {
					t.Errorf("error %q contains secret %q", e.Error(), s)
				}
			}
		})
	}
}

func TestLogFieldsRedact(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"REDIS_URL":     "redis://default:s3cret@redis.example:6379/2?password=s3cret&dial_timeout=3s",
		"CHAIN_RPC_URL": "wss://user:s3cret@node.example:8546/v3/APIKEY?key=APIKEY",
		"METRICS_TOKEN": "s3cret-metrics-token-0123456789abcdef",
	})
	f := c.LogFields()
	for k, want := range map[string]any{
		"REDIS_URL":                "redis://default:xxxxx@redis.example:6379/2?dial_timeout=3s&password=xxxxx",
		"CHAIN_RPC_URL":            "wss://node.example:8546",
		"PROCESSOR_MNEMONIC":       "[redacted]",
		"DEPEG_PRODUCT_ADDRESS":    testAddress,
		"MAX_FEE_PER_GAS":          "30000000000",
		"MAX_PRIORITY_FEE_PER_GAS": "node suggestion",
		"PROCESSOR_MIN_BALANCE":    "1000000000000000000",
		"ERROR_TIMEOUT":            "30s",
		"PORT":                     3000,
		"METRICS_PORT":             0,
		"METRICS_TOKEN":            "[redacted]",
		"LOG_LEVEL":                "debug",
	} {
		if f[k] != want {
			t.Errorf("LogFields()[%s] = %#v, want %#v", k, f[k], want)
		}
	}
	if len(f) != len(contractVars) {
		t.Errorf("LogFields has %d entries, want one per variable (%d)", len(f), len(contractVars))
	}

	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Fields(f).Msg("config")
	log.Info().Object("config", c).Msg("config")
	log.Info().Interface("config", c).Msg("config")
	dump := buf.String() + fmt.Sprint(f)
	for _, s := range []string{"s3cret", "APIKEY", "junk"} {
		if strings.Contains(dump, s) {
			t.Errorf("log output contains %q:\n%s", s, dump)
		}
	}
	if !strings.Contains(buf.String(), `"CHAIN_RPC_URL":"wss://node.example:8546"`) {
		t.Errorf("log output lacks the RPC origin:\n%s", buf.String())
	}
}

func TestRedactHelpers(t *testing.T) {
	for _, tc := range []struct{ in, redis, rpc string }{
		{"", "", ""},
		{"redis://localhost:6379", "redis://localhost:6379", "redis://localhost:6379"},
		// A lone userinfo may be a password (found by FuzzParse).
		{"redis://user@host", "redis://xxxxx@host", "redis://host"},
		{"rediss://:s3cret@host:6380", "rediss://:xxxxx@host:6380", "rediss://host:6380"},
		{"unix:///tmp/r.sock?db=1&password=s3cret", "unix:///tmp/r.sock?db=1&password=xxxxx", redacted},
		{"redis:s3cret@host", redacted, redacted},
		{"redis://:s3cret@host:port", redacted, redacted},
		// A password with an unescaped '/', '?' or '#': the URL parses,
		// with pieces of the password as a port, a path or a fragment
		// (found by FuzzParse).
		{"redis://user:7306/s3cret@host:6379", redacted, redacted},
		{"redis://:7306/s3cret@host", redacted, redacted},
		{"redis://:7306?s3cret@host", redacted, redacted},
		{"rediss://:pw@host:6380/0#s3cret", redacted, redacted},
		{"https://user:12/s3cret@node.example", redacted, redacted},
	} {
		if got := redactRedisURL(tc.in); got != tc.redis {
			t.Errorf("redactRedisURL(%q) = %q, want %q", tc.in, got, tc.redis)
		}
		if got := rpcOrigin(tc.in); got != tc.rpc {
			t.Errorf("rpcOrigin(%q) = %q, want %q", tc.in, got, tc.rpc)
		}
	}
}

func TestSecretRedacts(t *testing.T) {
	s := NewSecret(testMnemonic)
	if s.Reveal() != testMnemonic {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	type holder struct {
		M Secret
		P *Secret
	}
	h := holder{M: s, P: &s}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &s))
	}
	outputs = append(outputs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(s))
	j, _ := json.Marshal(h)
	txt, _ := s.MarshalText()
	outputs = append(outputs, string(j), string(txt))

	var zbuf bytes.Buffer
	zl := zerolog.New(&zbuf)
	zl.Info().Interface("m", s).Any("h", h).Stringer("s", s).Fields(map[string]any{"f": s}).Msgf("%v %s", s, s)
	outputs = append(outputs, zbuf.String())

	var sbuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&sbuf, nil)).Info("x", "m", s)
	outputs = append(outputs, sbuf.String())

	c := mustLoad(t, map[string]string{"REDIS_URL": "redis://:s3cret@host:6379"})
	cj, _ := json.Marshal(c)
	outputs = append(outputs, fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(cj))

	for _, out := range outputs {
		for _, secret := range []string{"test", "junk", "s3cret", "APIKEY", "7465737420"} { // last: hex of "test "
			if strings.Contains(out, secret) {
				t.Errorf("output %q contains %q", out, secret)
			}
		}
	}
	if !strings.Contains(string(j), `"M":"[redacted]"`) || !strings.Contains(zbuf.String(), `"m":"[redacted]"`) {
		t.Errorf("want plain \"[redacted]\" strings, got %s and %s", j, zbuf.String())
	}
}

// TestSigner: SIGNER=aws-kms takes the pool from AWS_KMS_KEY_IDS (ids, ARNs,
// aliases, in order) and needs no mnemonic; a missing, repeated or
// malformed key id, or another SIGNER, is named, and a credential pasted
// into AWS_KMS_KEY_IDS is not echoed.
func TestSigner(t *testing.T) {
	c := mustLoad(t, nil)
	if c.Signer != SignerMnemonic || c.KMSKeyIDs != nil || c.ProcessorMnemonic.Reveal() != testMnemonic {
		t.Fatalf("default signer %q, keys %v; want mnemonic with the phrase", c.Signer, c.KMSKeyIDs)
	}
	ids := "alias/relay-1, arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab,1234abcd-12ab-34cd-56ef-1234567890ac"
	c = mustLoad(t, map[string]string{"SIGNER": "aws-kms", "AWS_KMS_KEY_IDS": ids, "PROCESSOR_MNEMONIC": "<unset>"})
	want := []string{"alias/relay-1", "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"1234abcd-12ab-34cd-56ef-1234567890ac"}
	if c.Signer != SignerAWSKMS || !slices.Equal(c.KMSKeyIDs, want) || c.ProcessorMnemonic.Reveal() != "" {
		t.Fatalf("aws-kms: signer %q keys %v mnemonic set %v", c.Signer, c.KMSKeyIDs, c.ProcessorMnemonic.Reveal() != "")
	}
	if f := c.LogFields(); f["SIGNER"] != "aws-kms" || f["AWS_KMS_KEY_IDS"] != strings.Join(want, ",") {
		t.Fatalf("LogFields SIGNER %v, AWS_KMS_KEY_IDS %v", f["SIGNER"], f["AWS_KMS_KEY_IDS"])
	}
	// A mnemonic given beside aws-kms is not used (nor derived from).
	c = mustLoad(t, map[string]string{"SIGNER": "aws-kms", "AWS_KMS_KEY_IDS": "alias/a"})
	if c.ProcessorMnemonic.Reveal() != "" {
		t.Fatal("SIGNER=aws-kms kept the mnemonic")
	}

	pasted := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+secret"
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"no keys":       {map[string]string{"SIGNER": "aws-kms"}, "AWS_KMS_KEY_IDS: required with SIGNER=aws-kms"},
		"repeated":      {map[string]string{"SIGNER": "aws-kms", "AWS_KMS_KEY_IDS": "alias/a,alias/b,alias/a"}, `AWS_KMS_KEY_IDS: "alias/a" is listed twice`},
		"pasted secret": {map[string]string{"SIGNER": "aws-kms", "AWS_KMS_KEY_IDS": pasted}, "AWS_KMS_KEY_IDS: value (47 characters, not shown) is not a KMS key id, key ARN or alias"},
		"other signer":  {map[string]string{"SIGNER": "vault"}, `SIGNER: "vault" is not one of mnemonic, aws-kms`},
	} {
		e := loadErr(t, tc.vars)
		if !strings.Contains(e.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, e, tc.want)
		}
		if strings.Contains(e.Error(), "EXAMPLEKEY") {
			t.Errorf("%s: error shows the pasted value: %v", name, e)
		}
	}
}

// TestMnemonicFile: PROCESSOR_MNEMONIC_FILE is read instead of
// PROCESSOR_MNEMONIC (whitespace and a trailing newline collapse as in the
// variable); an unreadable file is named with its path, a bad phrase in it
// without its words, and LogFields shows the path only.
func TestMnemonicFile(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/mnemonic"
	if err := os.WriteFile(good, []byte("  "+strings.ReplaceAll(testMnemonic, " ", "  ")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, map[string]string{"PROCESSOR_MNEMONIC": "<unset>", "PROCESSOR_MNEMONIC_FILE": good})
	if c.ProcessorMnemonic.Reveal() != testMnemonic {
		t.Fatal("mnemonic not read from PROCESSOR_MNEMONIC_FILE")
	}
	if f := c.LogFields(); f["PROCESSOR_MNEMONIC_FILE"] != good || strings.Contains(fmt.Sprint(f), "junk") {
		t.Fatalf("LogFields: %v", f)
	}

	bad := dir + "/bad"
	if err := os.WriteFile(bad, []byte("secretword "+testMnemonic), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file of exactly 4096 bytes is read; one byte more is refused.
	full := dir + "/full"
	if err := os.WriteFile(full, []byte(testMnemonic+strings.Repeat(" ", 4096-len(testMnemonic))), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := mustLoad(t, map[string]string{"PROCESSOR_MNEMONIC": "<unset>", "PROCESSOR_MNEMONIC_FILE": full}); c.ProcessorMnemonic.Reveal() != testMnemonic {
		t.Error("a mnemonic file of 4096 bytes was not read")
	}
	over := dir + "/over"
	if err := os.WriteFile(over, []byte(testMnemonic+strings.Repeat(" ", 4097-len(testMnemonic))), 0o600); err != nil {
		t.Fatal(err)
	}
	// A path of 512 characters is shown, one of 513 described.
	path := func(n int) string {
		p := dir + "/"
		for len(p) < n-1 {
			p += "d/"
		}
		return (p + "xx")[:n]
	}
	p512, p513 := path(512), path(513)
	for name, tc := range map[string]struct {
		file string
		want string
	}{
		"4097 bytes":             {over, "PROCESSOR_MNEMONIC_FILE: " + strconv.Quote(over) + " is larger than 4096 bytes"},
		"path of 512 characters": {p512, "PROCESSOR_MNEMONIC_FILE: cannot read " + strconv.Quote(p512) + ":"},
		"path of 513 characters": {p513, "PROCESSOR_MNEMONIC_FILE: cannot read value (513 characters, not shown)"},
		"missing":                {dir + "/none", `PROCESSOR_MNEMONIC_FILE: cannot read "` + dir + `/none": no such file or directory`},
		"directory":              {dir, `PROCESSOR_MNEMONIC_FILE: cannot read "` + dir + `": is a directory`},
		"bad words":              {bad, "PROCESSOR_MNEMONIC_FILE: is not a valid BIP39 mnemonic: it has 13 words"},
		"a phrase":               {testMnemonic, "PROCESSOR_MNEMONIC_FILE: cannot read value (59 characters, not shown)"},
	} {
		e := loadErr(t, map[string]string{"PROCESSOR_MNEMONIC": "<unset>", "PROCESSOR_MNEMONIC_FILE": tc.file})
		if !strings.Contains(e.Error(), tc.want) || strings.Contains(e.Error(), "secretword") || strings.Contains(e.Error(), "junk") {
			t.Errorf("%s: %v; want %q and no word of the file", name, e, tc.want)
		}
	}
}

func TestLoadWebhook(t *testing.T) {
	const url = "https://hookuser:s3cr3tW@hooks.example:8443/in/T0KEN?key=QK3Y"
	secret := "whsec-" + strings.Repeat("0123456789", 4)
	c := mustLoad(t, map[string]string{"WEBHOOK_URL": url, "WEBHOOK_SECRET": secret, "WEBHOOK_MAX_PENDING": "250"})
	if c.WebhookURL.Reveal() != url || c.WebhookSecret.Reveal() != secret || c.WebhookMaxPending != 250 {
		t.Errorf("webhook settings = %q, %q, %d", c.WebhookURL.Reveal(), c.WebhookSecret.Reveal(), c.WebhookMaxPending)
	}
	f := c.LogFields()
	if f["WEBHOOK_URL"] != "https://hooks.example:8443" || f["WEBHOOK_SECRET"] != "[redacted]" || f["WEBHOOK_MAX_PENDING"] != int64(250) {
		t.Errorf("LogFields = %v, %v, %v; want the origin only, [redacted], 250", f["WEBHOOK_URL"], f["WEBHOOK_SECRET"], f["WEBHOOK_MAX_PENDING"])
	}
	dump := fmt.Sprint(f) + fmt.Sprintf("%v %+v %#v", c, c, c)
	for _, s := range []string{"s3cr3tW", "T0KEN", "QK3Y", "hookuser", secret} {
		if strings.Contains(dump, s) {
			t.Errorf("%q printed: %s", s, dump)
		}
	}
	if off := mustLoad(t, nil); off.WebhookURL.Reveal() != "" || off.LogFields()["WEBHOOK_URL"] != "" || off.LogFields()["WEBHOOK_SECRET"] != "" {
		t.Errorf("unset WEBHOOK_URL: %v", off.LogFields()["WEBHOOK_URL"])
	}
}
