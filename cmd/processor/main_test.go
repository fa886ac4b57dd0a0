package main

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

// TestBadConfigurationExitsWithOneMessage runs the built binary with several
// bad variables: it must exit non-zero with one message naming each of them,
// and never print the mnemonic or the Redis password.
func TestBadConfigurationExitsWithOneMessage(t *testing.T) {
	bin := processorBinary(t)
	badMnemonic := "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zoo"
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PROCESSOR_MNEMONIC="+badMnemonic,
		"DEPEG_PRODUCT_ADDRESS=0x1234",
		"CHAIN_RPC_URL=",
		"REDIS_URL=redis://:hunter2secret@localhost:6379",
		"MAX_FEE_PER_GAS=abc",
		"PROCESSOR_MIN_BALANCE=2000000000000000000",
		"PROCESSOR_ALERT_BALANCE=1000000000000000000",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit code", err)
	}
	out := stderr.String()
	for _, name := range []string{"PROCESSOR_MNEMONIC", "DEPEG_PRODUCT_ADDRESS", "CHAIN_RPC_URL", "MAX_FEE_PER_GAS", "PROCESSOR_ALERT_BALANCE"} {
		if !strings.Contains(out, name) {
			t.Errorf("output does not name %s:\n%s", name, out)
		}
	}
	for _, secret := range []string{"abandon", "zoo", "hunter2secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("output leaks %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
		t.Errorf("want one message line, got %d lines:\n%s", n+1, out)
	}
}

// TestCheckMode runs -check against a real redis-server and an EVM over HTTP:
// it passes when everything answers and fails, naming the cause, when Redis
// is gone or the wallet is below PROCESSOR_MIN_BALANCE.
func TestCheckMode(t *testing.T) {
	bin := processorBinary(t)
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	srv := redistest.Start(t)
	run := func(extra ...string) (int, string) {
		cmd := exec.Command(bin, "-check")
		cmd.Env = append(os.Environ(), "CHAIN_RPC_URL="+dc.URL, "DEPEG_PRODUCT_ADDRESS="+dc.Product.Hex(),
			"PROCESSOR_MNEMONIC="+testMnemonic, "REDIS_URL="+srv.URL(), "RPC_TIMEOUT=2000")
		cmd.Env = append(cmd.Env, extra...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := run(); code != 0 || !strings.Contains(out, "preflight ok") {
		t.Fatalf("healthy: exit %d\n%s", code, out)
	}
	if code, out := run("PROCESSOR_MIN_BALANCE=2000000000000000000000", "PROCESSOR_ALERT_BALANCE=2000000000000000000000"); code == 0 || !strings.Contains(out, "below PROCESSOR_MIN_BALANCE") {
		t.Fatalf("poor wallet: exit %d\n%s", code, out)
	}
	// A fee cap meant in gwei and given in wei: a warning, not a failure.
	if code, out := run("MAX_FEE_PER_GAS=30", "MAX_PRIORITY_FEE_PER_GAS=1"); code != 0 ||
		!strings.Contains(out, warnCapBelowBaseFee) || !strings.Contains(out, warnCapBelowOneGwei) {
		t.Fatalf("cap of 30 wei: exit %d\n%s", code, out)
	}
	if _, out := run(); strings.Contains(out, "MAX_FEE_PER_GAS is below") {
		t.Fatalf("default cap warned:\n%s", out)
	}
	srv.Stop()
	if code, out := run(); code == 0 || !strings.Contains(out, "redis does not answer") {
		t.Fatalf("redis down: exit %d\n%s", code, out)
	}
}

const testMnemonic = "test test test test test test test test test test test junk"

func TestFeeCapWarnings(t *testing.T) {
	gwei := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.GWei)) }
	for _, tc := range []struct {
		name         string
		cap, baseFee *big.Int
		want         []string
	}{
		{"default cap, low base fee", gwei(30), gwei(7), nil},
		{"cap at the base fee", gwei(7), gwei(7), nil},
		{"cap below the base fee", gwei(7), gwei(8), []string{warnCapBelowBaseFee}},
		{"30 wei meant as gwei", big.NewInt(30), gwei(7), []string{warnCapBelowBaseFee, warnCapBelowOneGwei}},
		{"below a gwei on a cheap chain", big.NewInt(500_000_000), big.NewInt(7), []string{warnCapBelowOneGwei}},
		{"no base fee (before London)", gwei(30), nil, nil},
	} {
		if got := feeCapWarnings(tc.cap, tc.baseFee); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
