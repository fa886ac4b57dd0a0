//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
)

// The production image is built with -tags nodev: the embedded chain and
// Redis of dev mode are then left out of the binary, which halves its size
// and its resident memory (BENCHMARKS.md).
type devEnv struct{}

func startDev(context.Context, zerolog.Logger) (*devEnv, error) {
	return nil, errors.New("dev mode is not built into this binary (built with -tags nodev); use go run ./cmd/processor -dev")
}

func (*devEnv) PrintBanner(io.Writer, config.Config) {}

// Lookup is os.LookupEnv: without dev mode the configuration reads the
// environment as it is.
func (*devEnv) Lookup(name string) (string, bool) { return os.LookupEnv(name) }

func (*devEnv) Close() error { return nil }
