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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
)

func main() {
	os.Exit(run())
}

func run() int {
	dev := flag.Bool("dev", false, "start an embedded chain (and Redis if none answers) and run against them")
	check := flag.Bool("check", false, "check Redis, the chain, the product and the wallet balance, then exit (a release command)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: processor [-dev] [-check]\n%s\n%s\n", deadLettersUsage, opsUsage)
		flag.PrintDefaults()
	}
	flag.Parse()

	log := newLogger(os.Stderr)
	// go-redis logs reconnects with the standard library logger, which
	// would break the JSON log stream; route them through zerolog instead.
	redis.SetLogger(redisLogger{log.With().Str("component", "go-redis").Logger()})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var env *devEnv
	if *dev {
		var err error
		if env, err = startDev(ctx, log); err != nil {
			log.Error().Err(err).Msg("dev mode failed to start")
			return 1
		}
		defer env.Close()
	}

	// Dev mode's settings go to config through its Lookup, over the
	// process environment; production reads the environment.
	load := config.Load
	if env != nil {
		load = func() (config.Config, error) { return config.LoadFrom(env.Lookup) }
	}
	cfg, err := load()
	if err != nil {
		// The error names every bad variable and never a secret's value.
		log.Error().Err(err).Msg("configuration rejected")
		return 2
	}
	log = log.Level(cfg.LogLevel)
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = defaultConsumerBase()
	}
	if flag.Arg(0) == "deadletters" {
		err := deadLetters(ctx, cfg, flag.Args()[1:], os.Stdout)
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, deadLettersUsage)
		} else if err != nil {
			log.Error().Err(err).Msg("deadletters failed")
		}
		return deadLettersExit(err)
	}
	switch cmd := flag.Arg(0); cmd {
	case "status", "inflight", "app":
		err := runOps(ctx, cfg, cmd, flag.Args()[1:], os.Stdout, nil)
		switch {
		case errors.Is(err, errUsage):
			fmt.Fprintln(os.Stderr, "usage:\n"+opsUsage)
		case err != nil && opsExit(err) == 1:
			log.Error().Err(err).Str("command", cmd).Msg("subcommand failed")
		}
		return opsExit(err)
	}
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if *check {
		if err := preflight(ctx, cfg, log); err != nil {
			log.Error().Err(err).Msg("preflight failed")
			return 1
		}
		return 0
	}
	log.Info().Fields(cfg.LogFields()).Msg("starting processor")

	// The HTTP server binds first: the monitor answers, saying what is
	// missing, while the service waits for Redis and the node.
	front := newFrontDoor(cfg, log)
	if err := front.server.Start(ctx); err != nil {
		log.Error().Err(err).Msg("startup failed")
		return 1
	}
	log.Info().Str("addr", front.server.Addr().String()).Msg("serving /api/monitor while starting")
	svc, err := newService(ctx, cfg, log, front)
	if err != nil {
		_ = front.server.Close()
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
		env.PrintBanner(os.Stdout, cfg, svc.Wallet())
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
