package oncall

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/backend"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

const DeadLettersUsage = `  processor deadletters list [-limit N] [-before ID]   dead letters, newest first (JSON)
  processor deadletters show ID                        one dead letter, by its id or its entry's (JSON)
  processor deadletters replay ID                      re-queue its application, once (JSON); exit 4
                                                       when it can never pass (signature, malformed)`

// DeadLetters is the operator's subcommand, the same as the admin routes
// (intake.Operator): it needs only Redis, and writes its answer as JSON to
// out. Replaying twice queues once: the second answer says "existing".
// deadLetterArgs is a parsed deadletters command line.
type deadLetterArgs struct {
	cmd    string // list, show or replay
	id     string
	limit  int
	before string
}

// parseDeadLetterArgs checks a deadletters command line before anything is
// connected, and says why it refuses one.
func parseDeadLetterArgs(args []string) (deadLetterArgs, error) {
	var a deadLetterArgs
	if len(args) == 0 {
		return a, usageErrorf("deadletters needs list, show or replay")
	}
	a.cmd = args[0]
	rest := args[1:]
	switch a.cmd {
	case "list":
		fs := flag.NewFlagSet("deadletters list", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.IntVar(&a.limit, "limit", 20, "how many")
		fs.StringVar(&a.before, "before", "", "cursor: the next field of the previous page")
		if err := parseFlags(fs, "deadletters list", rest); err != nil {
			return a, err
		}
		if fs.NArg() != 0 {
			return a, usageErrorf("deadletters list takes no argument, got %q", inspect.Printable(fs.Arg(0)))
		}
	case "show", "replay":
		if slices.Contains(rest, "-h") || slices.Contains(rest, "-help") {
			return a, flag.ErrHelp
		}
		switch {
		case len(rest) != 1:
			return a, usageErrorf("deadletters %s takes one id (the dead letter's or its rejected entry's), got %d arguments", a.cmd, len(rest))
		case stream.EntryTime(rest[0]).IsZero():
			return a, usageErrorf("deadletters %s: %q is not a stream id (like 1764614416000-0)", a.cmd, inspect.Printable(rest[0]))
		}
		a.id = rest[0]
	default:
		return a, usageErrorf("deadletters: unknown subcommand %q (list, show or replay)", inspect.Printable(a.cmd))
	}
	return a, nil
}

// DeadLetters is the operator's subcommand, the same as the admin routes
// (intake.Operator): it needs only Redis, and writes its answer as JSON to
// out. Replaying twice queues once: the second answer says "existing".
func DeadLetters(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	a, err := parseDeadLetterArgs(args)
	if err != nil {
		return err
	}
	rdb, err := backend.Redis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := checkRedis(ctx, rdb); err != nil {
		return err
	}
	queue := stream.NewQueue(rdb, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName,
		Consumer: cfg.ConsumerName, DeadLetter: cfg.DeadLetterStreamKey})
	op := NewOperator(cfg, rdb, queue)
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.RPCTimeout+5*time.Second)
	defer cancel()

	var v any
	switch a.cmd {
	case "list":
		v, err = op.List(ctx, a.before, a.limit)
	case "show":
		v, err = op.Show(ctx, a.id)
	default:
		v, err = op.Replay(ctx, a.id)
	}
	if err != nil {
		return orRedisUnreachable(ctx, rdb, fmt.Errorf("deadletters %s: %w", a.cmd, err))
	}
	return writeJSON(out, v)
}

// DeadLettersExit maps the subcommand's outcome to an exit code: 0 done,
// 2 usage, 3 no such dead letter, 4 not replayable, 1 anything else.
func DeadLettersExit(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, intake.ErrDeadLetterNotFound):
		return 3
	case errors.Is(err, intake.ErrNotReplayable):
		return 4
	default:
		return 1
	}
}

// NewOperator is the dead-letter operator over queue, replaying into the
// configured stream: the one the service's admin routes and console use
// and the deadletters command, so a replay is the same from either.
func NewOperator(cfg config.Config, rdb redis.Cmdable, queue *stream.Queue) *intake.Operator {
	return intake.NewOperator(queue, stream.NewPublisher(rdb, cfg.StreamKey, stream.PublishOptions{
		ClaimTTL: intake.ReplayClaimTTL, StatusTTL: cfg.ApplicationStatusTTL,
	}))
}
