package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/internal/opsworld"
)

// opsWorld is the shared test world (package internal/opsworld) with this
// package's helpers on it.
type opsWorld struct{ *opsworld.World }

func newOpsWorld(t *testing.T, env ...string) *opsWorld {
	t.Helper()
	return &opsWorld{opsworld.New(t, testMnemonic, env...)}
}

// TestStatusSaysRedisUnreachable: with Redis down, the built binary's
// status says "redis unreachable" and why on stderr, prints nothing on
// stdout, and exits 1 (oncall's tests hold every command to it in process).
func TestStatusSaysRedisUnreachable(t *testing.T) {
	w := newOpsWorld(t)
	w.Srv.Stop()
	cmd := exec.Command(processorBinary(t), "status")
	cmd.Env = append(os.Environ(), "REDIS_URL="+w.Cfg.RedisURL.Reveal(), "CHAIN_RPC_URL="+w.DC.URL,
		"DEPEG_PRODUCT_ADDRESS="+w.DC.Product.Hex(), "PROCESSOR_MNEMONIC="+testMnemonic)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "redis unreachable: connection refused") {
		t.Fatalf("processor status with Redis down: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
}
