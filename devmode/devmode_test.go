package devmode

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/internal/freeport"
)

// lookupMap is an environment for New that is not the process's.
func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDevEnvRollsBackChain: when Redis does not come up, Start stops the chain
// it already started (its port is free again) and returns the Redis error
// under its part's name; nothing of it was written to the process
// environment.
func TestDevEnvRollsBackChain(t *testing.T) {
	chainPort := closedPort(t)
	before := os.Getenv("CHAIN_RPC_URL")
	d := New(zerolog.Nop(), lookupMap(map[string]string{
		"DEV_CHAIN_PORT": strconv.Itoa(chainPort),
		// Set, so dev mode must use it, and nothing answers there.
		"REDIS_URL": "redis://127.0.0.1:" + strconv.Itoa(closedPort(t)),
	}))
	err := d.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "start redis: REDIS_URL does not answer") {
		t.Fatalf("Start = %v, want the redis part's error", err)
	}
	if d.chain == nil || d.chain.chain == nil {
		t.Fatal("the chain was never started: the test proves nothing")
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(chainPort))
	if err != nil {
		t.Fatalf("chain port still taken after the rollback: %v", err)
	}
	_ = ln.Close()
	if got := os.Getenv("CHAIN_RPC_URL"); got != before {
		t.Errorf("CHAIN_RPC_URL changed to %q", got)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after a failed Start = %v", err)
	}
}

// TestDevEnvSettings: a started env hands config its chain, Redis and lowered
// defaults through Lookup, keeps what the environment set, and Close frees
// the chain's port.
func TestDevEnvSettings(t *testing.T) {
	chainPort := closedPort(t)
	d := New(zerolog.Nop(), lookupMap(map[string]string{
		"DEV_CHAIN_PORT":      strconv.Itoa(chainPort),
		"DEV_BLOCK_TIME":      "50",
		"CHAIN_POLL_INTERVAL": "700",
	}))
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = d.Close()
		}
	})
	for name, want := range map[string]string{
		"CHAIN_RPC_URL":                        "http://127.0.0.1:" + strconv.Itoa(chainPort),
		"DEPEG_PRODUCT_ADDRESS":                d.chain.chain.Product.Hex(),
		"PROCESSOR_MNEMONIC":                   devMnemonic,
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "2",
		"CHAIN_POLL_INTERVAL":                  "700", // set: kept
	} {
		if got, _ := d.Lookup(name); got != want {
			t.Errorf("Lookup(%s) = %q, want %q", name, got, want)
		}
	}
	// Dev mode batches by default, through a batch contract of its chain's
	// product.
	batchAddr, _ := d.Lookup("BATCH_CONTRACT_ADDRESS")
	if err := batchdeploy.Check(t.Context(), d.chain.chain.Client, common.HexToAddress(batchAddr), d.chain.chain.Product); err != nil {
		t.Errorf("Lookup(BATCH_CONTRACT_ADDRESS) = %q: %v", batchAddr, err)
	}
	if got, _ := d.Lookup("REDIS_URL"); !strings.HasPrefix(got, "redis://127.0.0.1:") {
		t.Errorf("Lookup(REDIS_URL) = %q, want dev mode's own Redis", got)
	}
	if _, ok := d.Settings()["CHAIN_POLL_INTERVAL"]; ok {
		t.Error("Settings overrides CHAIN_POLL_INTERVAL, which the environment set")
	}
	closed = true
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(chainPort))
	if err != nil {
		t.Fatalf("chain port still taken after Close: %v", err)
	}
	_ = ln.Close()
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestDevEnvKeepsBatchContract: a BATCH_CONTRACT_ADDRESS the environment
// sets is the one config reads, not the contract dev mode deployed.
func TestDevEnvKeepsBatchContract(t *testing.T) {
	const set = "0x00000000000000000000000000000000000000b1"
	d := New(zerolog.Nop(), lookupMap(map[string]string{
		"DEV_CHAIN_PORT": strconv.Itoa(closedPort(t)), "DEV_BLOCK_TIME": "50", "BATCH_CONTRACT_ADDRESS": set,
	}))
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if got, _ := d.Lookup("BATCH_CONTRACT_ADDRESS"); got != set {
		t.Errorf("Lookup(BATCH_CONTRACT_ADDRESS) = %q, want the environment's %q", got, set)
	}
	if _, ok := d.Settings()["BATCH_CONTRACT_ADDRESS"]; ok {
		t.Error("Settings overrides BATCH_CONTRACT_ADDRESS, which the environment set")
	}
}
