package main

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// opsWorld is a relay's Redis and chain in a known state: a real
// redis-server and the embedded EVM over HTTP, a fixed clock, and the
// configuration the subcommands read, loaded from the environment as the
// binary loads it.
type opsWorld struct {
	t      *testing.T
	dc     *devchain.Chain
	client *chain.Client
	srv    *redistest.Server
	rdb    *redis.Client
	cfg    config.Config
	signer *chain.Signer
	queue  *stream.Queue
	now    time.Time
}

func newOpsWorld(t *testing.T, env ...string) *opsWorld {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	signer := chain.NewSigner(key, big.NewInt(devchain.ChainID))
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{signer.Address()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	srv := redistest.Start(t)
	for _, kv := range append([]string{"REDIS_URL=" + srv.URL(), "CHAIN_RPC_URL=" + dc.URL,
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic}, env...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := &opsWorld{t: t, dc: dc, client: client, srv: srv, rdb: srv.Client(), cfg: cfg, signer: signer,
		now: time.Date(2026, 11, 23, 18, 40, 16, 0, time.UTC)}
	w.queue = stream.NewQueue(w.rdb, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
		DeadLetter: cfg.DeadLetterStreamKey, Wallet: strings.ToLower(signer.Address().Hex())})
	return w
}

// TestStatusSaysRedisUnreachable: with Redis down, the built binary's
// status says "redis unreachable" and why on stderr, prints nothing on
// stdout, and exits 1 (oncall's tests hold every command to it in process).
func TestStatusSaysRedisUnreachable(t *testing.T) {
	w := newOpsWorld(t)
	w.srv.Stop()
	cmd := exec.Command(processorBinary(t), "status")
	cmd.Env = append(os.Environ(), "REDIS_URL="+w.cfg.RedisURL.Reveal(), "CHAIN_RPC_URL="+w.dc.URL,
		"DEPEG_PRODUCT_ADDRESS="+w.dc.Product.Hex(), "PROCESSOR_MNEMONIC="+testMnemonic)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "redis unreachable: connection refused") {
		t.Fatalf("processor status with Redis down: %v\nstdout %s\nstderr %s", err, stdout.String(), stderr.String())
	}
}
