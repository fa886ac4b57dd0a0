// Command processor is the depeg relay: it reads gasless policy applications
// from the frontend's Redis stream, submits them to the DepegProduct from its
// hot wallet, acknowledges them once confirmed, and serves /api/monitor.
//
// With -dev it first starts an embedded chain (and Redis, when none answers)
// so the whole relay runs on a laptop with one command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/oncall"
	"github.com/etherisc/depeg-relay/preflight"
	"github.com/etherisc/depeg-relay/relay"
)

// usage is printed once, on -h (stdout) or after the reason of a refusal
// (stderr). Its -dev line says what README's "The two commands" says.
const usage = `usage:
  processor [-check]                   run the relay (the web process); -check checks Redis, the
                                       chain, the product and the balances, then exits (release)
  processor -dev                       dev mode: an embedded chain with the test product, funded
                                       keys, and a Redis of its own (a redis-server it starts, else
                                       an embedded one); with REDIS_URL set, that one, under names
                                       of its own
` + oncall.OpsUsage + `
` + oncall.DeadLettersUsage + `
` + deployBatchUsage + `
Flags come before the command's argument. Read-only commands (status, inflight, app,
deadletters list and show) need only REDIS_URL, and CHAIN_RPC_URL (status, inflight, app);
without PROCESSOR_MNEMONIC they show every key registered in Redis.
`

func main() {
	os.Exit(run())
}

func run() int {
	cl, err := parseCommandLine(os.Args[1:])
	if err == nil {
		err = checkArgs(cl)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(os.Stdout, usage)
		return 0
	case err != nil:
		fmt.Fprintf(os.Stderr, "processor: %s\n\n%s", err, usage)
		return 2
	}

	log := newLogger(os.Stderr)
	// go-redis logs reconnects with the standard library logger, which
	// would break the JSON log stream; route them through zerolog instead.
	redis.SetLogger(redisLogger{log.With().Str("component", "go-redis").Logger()})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var env *devEnv
	if cl.dev {
		var err error
		if env, err = startDev(ctx, log); err != nil {
			log.Error().Err(err).Msg("dev mode failed to start")
			return 1
		}
		defer env.Close()
	}

	// Dev mode's settings go to config through its Lookup, over the
	// process environment; production reads the environment. A read-only
	// command is given placeholders for what it does not read (see
	// readOnlyLookup), so it runs without the mnemonic.
	lookup := os.LookupEnv
	if env != nil {
		lookup = env.Lookup
	}
	lookup, placeheld := oncall.ReadOnlyLookup(cl.cmd, lookup)
	cfg, err := config.LoadFrom(lookup)
	if err != nil {
		// The error names every bad variable and never a secret's value.
		log.Error().Err(err).Msg("configuration rejected")
		return 2
	}
	if placeheld["PROCESSOR_MNEMONIC"] {
		cfg.ProcessorMnemonic = config.Secret{}
	}
	log = log.Level(cfg.LogLevel)
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = defaultConsumerBase()
	}
	switch cl.cmd {
	case "deadletters":
		err := oncall.DeadLetters(ctx, cfg, cl.args, os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stdout, usage)
			return 0
		}
		if errors.Is(err, oncall.ErrUsage) {
			fmt.Fprintf(os.Stderr, "processor: %s\n\n%s", err, usage)
		} else if err != nil {
			log.Error().Err(err).Msg("deadletters failed")
		}
		return oncall.DeadLettersExit(err)
	case "deploy-batch":
		// stdout carries the one line a script reads; the logs go to
		// stderr.
		if err := deployBatchContract(ctx, cfg, log, os.Stdout); err != nil {
			log.Error().Err(err).Msg("deploy-batch failed")
			return 1
		}
		return 0
	case "status", "inflight", "app":
		err := oncall.Run(ctx, cfg, cl.cmd, cl.args, os.Stdout, nil)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprint(os.Stdout, usage)
			return 0
		case errors.Is(err, oncall.ErrUsage):
			fmt.Fprintf(os.Stderr, "processor: %s\n\n%s", err, usage)
		case err != nil && oncall.Exit(err) == 1:
			log.Error().Err(err).Str("command", cl.cmd).Msg("subcommand failed")
		}
		return oncall.Exit(err)
	}
	if cl.check {
		if err := preflight.Run(ctx, cfg, relay.BatchingOf(cfg) != nil, log); err != nil {
			log.Error().Err(err).Msg("preflight failed")
			return 1
		}
		return 0
	}
	log.Info().Fields(cfg.LogFields()).Msg("starting processor")

	// The HTTP server binds first: the monitor answers, saying what is
	// missing, while the service waits for Redis and the node.
	front := frontdoor.New(cfg, log)
	if err := front.Server.Start(ctx); err != nil {
		log.Error().Err(err).Msg("startup failed")
		return 1
	}
	log.Info().Str("addr", front.Server.Addr().String()).Msg("serving /api/monitor while starting")
	svc, err := newService(ctx, cfg, log, front)
	if err != nil {
		_ = front.Server.Close()
		if ctx.Err() != nil {
			// SIGTERM or SIGINT while starting: a clean stop, not a failure.
			log.Info().Msg("processor stopped while starting")
			return 0
		}
		log.Error().Err(err).Msg("startup failed")
		return 1
	}
	defer svc.Close()
	if env != nil {
		env.PrintBanner(os.Stdout, cfg)
	}

	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		log.Info().Dur("timeout", cfg.ShutdownTimeout).Msg("shutting down")
		select {
		case err = <-done:
		case <-time.After(cfg.ShutdownTimeout):
			log.Error().Dur("timeout", cfg.ShutdownTimeout).Msg("shutdown timed out; unconfirmed transactions stay journaled")
			return 1
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("processor stopped")
		return 1
	}
	log.Info().Msg("processor stopped")
	return 0
}

// redisLogger adapts zerolog to go-redis' internal logging interface.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msgf(format, v...)
}

// newLogger writes human-readable lines on a terminal and JSON otherwise
// (Dokku, journald, log shippers).
func newLogger(w *os.File) zerolog.Logger {
	var out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.DateTime}
	if !isatty.IsTerminal(w.Fd()) && !isatty.IsCygwinTerminal(w.Fd()) {
		return zerolog.New(w).With().Timestamp().Logger()
	}
	return zerolog.New(out).With().Timestamp().Logger()
}

// commandLine is what the command line asks for.
type commandLine struct {
	dev, check bool
	// cmd is the subcommand ("" runs the relay), args what follows it.
	cmd  string
	args []string
}

// commands are the subcommands; anything else after the flags is refused.
var commands = map[string]bool{"status": true, "inflight": true, "app": true, "deadletters": true, "deploy-batch": true}

// parseCommandLine reads the top-level flags and the subcommand. A refusal
// is a usageError saying why; -h is flag.ErrHelp. The subcommand's own
// arguments are the subcommand's to check.
func parseCommandLine(args []string) (commandLine, error) {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var cl commandLine
	fs.BoolVar(&cl.dev, "dev", false, "dev mode")
	fs.BoolVar(&cl.check, "check", false, "check, then exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cl, err
		}
		return cl, oncall.Usagef("%s", err)
	}
	if fs.NArg() == 0 {
		return cl, nil
	}
	cl.cmd, cl.args = fs.Arg(0), fs.Args()[1:]
	switch {
	case strings.HasPrefix(cl.cmd, "-"):
		return cl, oncall.Usagef("flag %s after an argument: flags come first", cl.cmd)
	case !commands[cl.cmd]:
		return cl, oncall.Usagef("unknown command %q (the commands are status, inflight, app, deadletters and deploy-batch)", cl.cmd)
	case cl.check:
		return cl, oncall.Usagef("-check runs alone, not with %s", cl.cmd)
	}
	return cl, nil
}

// checkArgs checks the subcommand's own arguments, before any
// configuration is read: a refusal then says what is wrong with the command
// line, not which variable is missing.
func checkArgs(cl commandLine) error {
	switch cl.cmd {
	case "deadletters", "status", "inflight", "app":
		return oncall.CheckArgs(cl.cmd, cl.args)
	case "deploy-batch":
		if len(cl.args) > 0 {
			return oncall.Usagef("deploy-batch takes no argument (it reads the configuration), got %q", cl.args[0])
		}
	}
	return nil
}
