package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// opsUsage lists the on-call's subcommands besides deadletters.
const opsUsage = `  processor status [-json]                             the monitor's checks and figures, from Redis and the node
  processor inflight [-json]                           the journal: one line per nonce, with age, fees and hashes
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
	if err == nil || errors.Is(err, errUsage) || errors.Is(err, errUnhealthy) || errors.Is(err, errNothing) {
		return err
	}
	if rerr := checkRedis(context.WithoutCancel(ctx), rdb); rerr != nil {
		return rerr
	}
	return err
}

// opsEnv is what the on-call's subcommands read: the Redis and the node the
// service reads, the wallet its configuration names, and a clock. They write
// nothing: the journal is read without the relay's quarantine, the holder
// index without pruning, and nothing is acknowledged or sent.
type opsEnv struct {
	cfg    config.Config
	rdb    redis.UniversalClient
	client *chain.Client
	wallet common.Address
	queue  *stream.Queue
	status *stream.StatusStore
	now    func() time.Time
}

// openOps connects to Redis and the node named by cfg; now nil is time.Now.
func openOps(ctx context.Context, cfg config.Config, now func() time.Time) (*opsEnv, error) {
	if now == nil {
		now = time.Now
	}
	key, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndex)
	if err != nil {
		return nil, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
	}
	e := &opsEnv{cfg: cfg, wallet: crypto.PubkeyToAddress(key.PublicKey), now: now}
	if e.rdb, err = openRedis(cfg); err != nil {
		return nil, err
	}
	if err := checkRedis(ctx, e.rdb); err != nil {
		_ = e.rdb.Close()
		return nil, err
	}
	if e.client, err = dialChain(ctx, cfg); err != nil {
		_ = e.rdb.Close()
		return nil, err
	}
	e.queue = stream.NewQueue(e.rdb, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
		DeadLetter: cfg.DeadLetterStreamKey, Wallet: strings.ToLower(e.wallet.Hex())})
	e.status = stream.NewStatusStore(e.rdb, cfg.StreamKey, cfg.ApplicationStatusTTL)
	return e, nil
}

// Close releases the clients.
func (e *opsEnv) Close() {
	e.client.Close()
	_ = e.rdb.Close()
}

// journal reads the journal without writing.
func (e *opsEnv) journal(ctx context.Context) ([]inspect.Flight, error) {
	return inspect.Journal(ctx, e.rdb, e.queue.JournalKey())
}

// rpcCtx bounds one node call.
func (e *opsEnv) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.RPCTimeout)
}

// runOps runs one of status, inflight and app and maps its outcome to an
// exit code: 0 done, 2 usage, 3 unhealthy (status) or nothing found (app),
// 1 anything else, such as "redis unreachable: <category>".
func runOps(ctx context.Context, cfg config.Config, cmd string, args []string, out io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "JSON instead of aligned text")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	wantArgs := 0
	if cmd == "app" {
		wantArgs = 1
	}
	if fs.NArg() != wantArgs {
		return errUsage
	}
	if cmd == "app" && inspect.Classify(strings.TrimSpace(fs.Arg(0))) == "" {
		return errUsage
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
		err = e.statusCmd(ctx, out, *asJSON)
	case "inflight":
		err = e.inflightCmd(ctx, out, *asJSON)
	default:
		err = e.appCmd(ctx, fs.Arg(0), out, *asJSON)
	}
	return orRedisUnreachable(ctx, e.rdb, err)
}

// opsExit maps a subcommand's outcome to an exit code.
func opsExit(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
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
