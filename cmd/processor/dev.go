//go:build !nodev

package main

import (
	"context"
	"io"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devmode"
	"github.com/etherisc/depeg-relay/relay"
)

// devEnv is dev mode (package devmode). This file alone imports it, so the
// production build (-tags nodev, nodev.go) links no embedded chain or Redis.
type devEnv struct{ *devmode.Env }

func startDev(ctx context.Context, log zerolog.Logger) (*devEnv, error) {
	env, err := devmode.Start(ctx, log)
	if err != nil {
		return nil, err
	}
	return &devEnv{env}, nil
}

// PrintBanner prints dev mode's banner, saying whether the relay batches.
func (d *devEnv) PrintBanner(w io.Writer, cfg config.Config) {
	d.Env.PrintBanner(w, cfg, relay.BatchingOf(cfg) != nil)
}
