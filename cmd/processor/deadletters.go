package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// errUsage marks a command line the deadletters subcommand cannot run.
var errUsage = errors.New("usage")

const deadLettersUsage = `usage:
  processor deadletters list [-limit N] [-before ID]   dead letters, newest first (JSON)
  processor deadletters show ID                        one dead letter (JSON)
  processor deadletters replay ID                      re-queue its application, once (JSON)`

// deadLetters is the operator's subcommand, the same as the admin routes
// (intake.Operator): it needs only Redis, and writes its answer as JSON to
// out. Replaying twice queues once: the second answer says "existing".
func deadLetters(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := checkRedis(ctx, rdb); err != nil {
		return err
	}
	queue := stream.NewQueue(rdb, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName,
		Consumer: cfg.ConsumerName, DeadLetter: cfg.DeadLetterStreamKey})
	op := newOperator(cfg, rdb, queue)
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.RPCTimeout+5*time.Second)
	defer cancel()

	var v any
	switch cmd, rest := args[0], args[1:]; cmd {
	case "list":
		fs := flag.NewFlagSet("deadletters list", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limit := fs.Int("limit", 20, "how many")
		before := fs.String("before", "", "cursor: the next field of the previous page")
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			return errUsage
		}
		v, err = op.List(ctx, *before, *limit)
	case "show", "replay":
		if len(rest) != 1 || stream.EntryTime(rest[0]).IsZero() {
			return errUsage
		}
		if cmd == "show" {
			v, err = op.Show(ctx, rest[0])
		} else {
			v, err = op.Replay(ctx, rest[0])
		}
	default:
		return errUsage
	}
	if err != nil {
		return orRedisUnreachable(ctx, rdb, fmt.Errorf("deadletters %s: %w", args[0], err))
	}
	return writeJSON(out, v)
}

// deadLettersExit maps the subcommand's outcome to an exit code: 0 done,
// 2 usage, 3 no such dead letter, 4 not replayable, 1 anything else.
func deadLettersExit(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, intake.ErrDeadLetterNotFound):
		return 3
	case errors.Is(err, intake.ErrNotReplayable):
		return 4
	default:
		return 1
	}
}
