// Package oncall is the on-call engineer's read-only view from outside the
// service, and the dead-letter operator's command: status (the monitor's
// checks, every key of the pool, the live processes' reports), inflight
// (every key's journal), app (what became of one application) and
// deadletters (list, show, replay). Each reads Redis and the node as the
// service names them, writes nothing but a replay, and renders aligned text
// or JSON with foreign text escaped. cmd/processor parses the top-level
// command line, prints the usage and exits with the code Exit or
// DeadLettersExit gives.
//
// A running service uses it too: it publishes the live report status
// reads (LivePublisher), and its /console page is built here (NewConsole),
// reading the journals as the commands read them.
package oncall

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/backend"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/poolkeys"
	"github.com/etherisc/depeg-relay/stream"
)

// OpsUsage lists the on-call's subcommands besides deadletters.
const OpsUsage = `  processor status [-json]                             the monitor's checks, every key of the pool, the figures
  processor inflight [-json]                           every key's journal: one line per nonce, age, fees, hashes
  processor app [-json] ENTITYID|TX|ADDRESS            what became of an application`

// errUnhealthy: status found a failing check (exit 3, as /api/monitor's 500).
var errUnhealthy = errors.New("a check fails")

// errNothing: app found nothing of the query (exit 3).
var errNothing = errors.New("nothing found")

// errRedisUnreachable: Redis did not answer a PING (exit 1). Without it the
// commands would print what they could not read as an empty queue, an
// empty journal or "nothing found".
var errRedisUnreachable = errors.New("redis unreachable")

// redisPingTimeout bounds the PING that tells whether Redis answers.
const redisPingTimeout = 5 * time.Second

// checkRedis PINGs Redis and, when it does not answer, says so in one line:
// "redis unreachable: <category>" (monitor.ErrorCategory, as the monitor
// says it), followed by the client's error for the operator's log.
func checkRedis(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %s (%w)", errRedisUnreachable, monitor.ErrorCategory(err), err)
	}
	return nil
}

// orRedisUnreachable replaces a command's failure by errRedisUnreachable
// when Redis no longer answers: a read that failed half-way through is
// then told as what it is.
func orRedisUnreachable(ctx context.Context, rdb redis.UniversalClient, err error) error {
	if err == nil || errors.Is(err, ErrUsage) || errors.Is(err, errUnhealthy) || errors.Is(err, errNothing) {
		return err
	}
	if rerr := checkRedis(context.WithoutCancel(ctx), rdb); rerr != nil {
		return rerr
	}
	return err
}

// opsEnv is what the on-call's subcommands read: the Redis and the node the
// service reads, the pool's keys, and a clock. They write nothing: the
// journals are read without the relay's quarantine, the holder index
// without pruning, and nothing is acknowledged or sent.
type opsEnv struct {
	cfg    config.Config
	rdb    redis.UniversalClient
	client *chain.Client
	// keys are the pool's: those PROCESSOR_ACCOUNT_INDEX names when the
	// mnemonic is given, else every wallet registered in Redis.
	keys []opsKey
	// queue is the first key's (a queue without a wallet when there is
	// none): the dead letters and the status records are the stream's.
	queue  *stream.Queue
	status *stream.StatusStore
	now    func() time.Time
}

// opsKey is one key of the pool as the subcommands read it.
type opsKey struct {
	wallet common.Address
	queue  *stream.Queue
}

// wallet is the first key's address (the zero address without keys).
func (e *opsEnv) wallet() common.Address {
	if len(e.keys) == 0 {
		return common.Address{}
	}
	return e.keys[0].wallet
}

// openOps connects to Redis and the node named by cfg; now nil is time.Now.
// Without the mnemonic (cfg.ProcessorMnemonic empty) the keys are the
// wallets the pool registered in Redis, in address order.
func openOps(ctx context.Context, cfg config.Config, now func() time.Time) (*opsEnv, error) {
	if now == nil {
		now = time.Now
	}
	var wallets []common.Address
	if cfg.ProcessorMnemonic.Reveal() != "" {
		var err error
		if wallets, err = poolkeys.Wallets(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndexes); err != nil {
			return nil, err
		}
	}
	e := &opsEnv{cfg: cfg, now: now}
	var err error
	if e.rdb, err = backend.Redis(cfg); err != nil {
		return nil, err
	}
	if err := checkRedis(ctx, e.rdb); err != nil {
		_ = e.rdb.Close()
		return nil, err
	}
	keys := func(wallet string) stream.Keys {
		return stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
			DeadLetter: cfg.DeadLetterStreamKey, Wallet: wallet}
	}
	if cfg.ProcessorMnemonic.Reveal() == "" {
		registered, err := stream.NewQueue(e.rdb, keys("")).Wallets(ctx)
		if err != nil {
			_ = e.rdb.Close()
			return nil, orRedisUnreachable(ctx, e.rdb, fmt.Errorf("read the pool's wallets: %w", err))
		}
		for _, w := range registered {
			wallets = append(wallets, common.HexToAddress(w))
		}
		slices.SortFunc(wallets, func(a, b common.Address) int { return a.Cmp(b) })
	}
	if e.client, err = backend.Chain(ctx, cfg); err != nil {
		_ = e.rdb.Close()
		return nil, err
	}
	for _, w := range wallets {
		e.keys = append(e.keys, opsKey{wallet: w, queue: stream.NewQueue(e.rdb, keys(strings.ToLower(w.Hex())))})
	}
	e.queue = stream.NewQueue(e.rdb, keys(""))
	if len(e.keys) > 0 {
		e.queue = e.keys[0].queue
	}
	e.status = stream.NewStatusStore(e.rdb, cfg.StreamKey, cfg.ApplicationStatusTTL)
	return e, nil
}

// Close releases the clients.
func (e *opsEnv) Close() {
	e.client.Close()
	_ = e.rdb.Close()
}

// journals reads every key's journal without writing, each record with the
// wallet it belongs to, keys in order.
func (e *opsEnv) journals(ctx context.Context) ([]walletFlight, error) {
	return readJournals(ctx, e.rdb, e.keys)
}

// readJournals reads the journals of keys without writing, each record
// with the wallet it belongs to, keys in order: for the commands and the
// console alike.
func readJournals(ctx context.Context, rdb inspect.HashReader, keys []opsKey) ([]walletFlight, error) {
	var out []walletFlight
	for _, k := range keys {
		fs, err := inspect.Journal(ctx, rdb, k.queue.JournalKey())
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			out = append(out, walletFlight{Wallet: k.wallet, Flight: f})
		}
	}
	return out, nil
}

// walletFlight is a journal record with its key's wallet.
type walletFlight struct {
	Wallet common.Address
	inspect.Flight
}

// rpcCtx bounds one node call.
func (e *opsEnv) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.RPCTimeout)
}

// opsArgs is a parsed command line of status, inflight or app.
type opsArgs struct {
	json  bool
	query string // app's argument
}

// parseOpsArgs checks a command line of status, inflight or app before
// anything is read or connected, and says why it refuses one.
func parseOpsArgs(cmd string, args []string) (opsArgs, error) {
	var a opsArgs
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&a.json, "json", false, "JSON instead of aligned text")
	if err := parseFlags(fs, cmd, args); err != nil {
		return a, err
	}
	switch {
	case cmd != "app" && fs.NArg() > 0:
		return a, usageErrorf("%s takes no argument, got %q", cmd, inspect.Printable(fs.Arg(0)))
	case cmd == "app" && fs.NArg() != 1:
		return a, usageErrorf("app takes one argument, an entityId, a transaction hash or a policy holder's address; got %d", fs.NArg())
	case cmd == "app" && inspect.Classify(strings.TrimSpace(fs.Arg(0))) == "":
		return a, usageErrorf("app: %q is neither an entityId (26 characters), a transaction hash (0x and 64 hex digits) "+
			"nor an address (0x and 40 hex digits)", inspect.Printable(fs.Arg(0)))
	}
	a.query = fs.Arg(0)
	return a, nil
}

// Run runs one of status, inflight and app and maps its outcome to an
// exit code: 0 done, 2 usage, 3 unhealthy (status) or nothing found (app),
// 1 anything else, such as "redis unreachable: <category>".
func Run(ctx context.Context, cfg config.Config, cmd string, args []string, out io.Writer, now func() time.Time) error {
	a, err := parseOpsArgs(cmd, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 4*cfg.RPCTimeout+10*time.Second)
	defer cancel()
	e, err := openOps(ctx, cfg, now)
	if err != nil {
		return err
	}
	defer e.Close()
	switch cmd {
	case "status":
		err = e.statusCmd(ctx, out, a.json)
	case "inflight":
		err = e.inflightCmd(ctx, out, a.json)
	default:
		err = e.appCmd(ctx, a.query, out, a.json)
	}
	return orRedisUnreachable(ctx, e.rdb, err)
}

// parseFlags parses a subcommand's flags and says why it refuses them: an
// unknown flag, or a flag after the argument (the flag package stops at the
// first argument and would take the flag for a second one). -h is
// flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, cmd string, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%s: %s", cmd, err)
	}
	for _, a := range fs.Args() {
		if len(a) > 1 && strings.HasPrefix(a, "-") && stream.EntryTime(a).IsZero() {
			return usageErrorf("%s: flag %s after the argument: flags come first (processor %s %s ...)", cmd, a, cmd, a)
		}
	}
	return nil
}

// readOnlyVars are, per read-only command, the required variables it does
// not read: a placeholder stands in for each when it is unset, so that an
// on-call engineer needs neither the mnemonic nor the node for what reads
// only Redis. Commands that write or run the relay get none.
var readOnlyVars = map[string][]string{
	"status":      {"PROCESSOR_MNEMONIC"},
	"inflight":    {"PROCESSOR_MNEMONIC"},
	"app":         {"PROCESSOR_MNEMONIC"},
	"deadletters": {"PROCESSOR_MNEMONIC", "CHAIN_RPC_URL", "DEPEG_PRODUCT_ADDRESS"},
}

// placeholders are values config accepts and nothing uses: the commands
// given them never derive a key (the mnemonic is cleared after loading)
// nor dial the node.
var placeholders = map[string]string{
	"PROCESSOR_MNEMONIC":    "test test test test test test test test test test test junk",
	"CHAIN_RPC_URL":         "http://127.0.0.1:1",
	"DEPEG_PRODUCT_ADDRESS": "0x0000000000000000000000000000000000000001",
}

// CheckArgs checks the arguments of status, inflight, app or deadletters
// before any configuration is read or anything connected; a refusal
// satisfies errors.Is(err, ErrUsage), -h is flag.ErrHelp.
func CheckArgs(cmd string, args []string) error {
	if cmd == "deadletters" {
		_, err := parseDeadLetterArgs(args)
		return err
	}
	_, err := parseOpsArgs(cmd, args)
	return err
}

// ReadOnlyLookup wraps lookup with cmd's placeholders, and says which it
// put in.
func ReadOnlyLookup(cmd string, lookup func(string) (string, bool)) (func(string) (string, bool), map[string]bool) {
	used := map[string]bool{}
	vars := readOnlyVars[cmd]
	if len(vars) == 0 {
		return lookup, used
	}
	for _, name := range vars {
		if v, _ := lookup(name); strings.TrimSpace(v) == "" {
			used[name] = true
		}
	}
	return func(name string) (string, bool) {
		if used[name] {
			return placeholders[name], true
		}
		return lookup(name)
	}, used
}

// Exit maps a subcommand's outcome to an exit code.
func Exit(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, errUnhealthy), errors.Is(err, errNothing):
		return 3
	default:
		return 1
	}
}

// writeJSON writes v indented, for scripts, with every character a
// terminal would act on escaped (inspect.PrintableJSON): the values decode
// unchanged, and piping the output to a terminal is as safe as the table.
func writeJSON(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = out.Write(append(inspect.PrintableJSON(b), '\n'))
	return err
}

// table writes aligned columns for people: two spaces between columns, a
// header line in capitals. Every cell is escaped (inspect.Printable): the
// values come from Redis and the chain, where anyone who can post an
// application or write to Redis chooses the bytes, and a tab or an escape
// sequence must neither break the columns nor reach the terminal.
type table struct{ w *tabwriter.Writer }

func newTable(out io.Writer, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[i] = inspect.Printable(c)
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.w.Flush() }
