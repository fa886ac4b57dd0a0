package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/preflight"
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
		!strings.Contains(out, preflight.WarnCapBelowBaseFee) || !strings.Contains(out, preflight.WarnCapBelowOneGwei) {
		t.Fatalf("cap of 30 wei: exit %d\n%s", code, out)
	}
	if _, out := run(); strings.Contains(out, "MAX_FEE_PER_GAS is below") {
		t.Fatalf("default cap warned:\n%s", out)
	}
	// A batch contract address without a batch contract for the product.
	if code, out := run("BATCH_CONTRACT_ADDRESS=0x00000000000000000000000000000000000000b1"); code == 0 || !strings.Contains(out, batchdeploy.ErrWrongContract.Error()) {
		t.Fatalf("no batch contract: exit %d\n%s", code, out)
	}
	srv.Stop()
	if code, out := run(); code == 0 || !strings.Contains(out, "redis does not answer") {
		t.Fatalf("redis down: exit %d\n%s", code, out)
	}
}

const testMnemonic = "test test test test test test test test test test test junk"

// TestRefusalsSayWhy: every command line the binary cannot run is refused
// with exit 2 and a first line that says why, then the usage once; no
// refusal needs Redis, the node or the mnemonic.
func TestRefusalsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		args []string
		why  string
	}{
		{[]string{"hello"}, `unknown command "hello"`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-check", "status"}, "-check runs alone"},
		{[]string{"app"}, "app takes one argument"},
		{[]string{"app", "hello"}, `app: "hello" is neither an entityId`},
		{[]string{"app", "01M84VAXA3ENVW6NN6H78HSK7Z", "-json"}, "app: flag -json after the argument: flags come first"},
		{[]string{"app", "-x", "01M84VAXA3ENVW6NN6H78HSK7Z"}, "app: flag provided but not defined: -x"},
		{[]string{"status", "now"}, `status takes no argument, got "now"`},
		{[]string{"inflight", "-dev"}, "inflight: flag provided but not defined: -dev"},
		{[]string{"deadletters"}, "deadletters needs list, show or replay"},
		{[]string{"deadletters", "bogus"}, `deadletters: unknown subcommand "bogus"`},
		{[]string{"deadletters", "show"}, "deadletters show takes one id"},
		{[]string{"deadletters", "show", "abc"}, `deadletters show: "abc" is not a stream id`},
		{[]string{"deadletters", "list", "-limit", "5", "x"}, `deadletters list takes no argument, got "x"`},
		{[]string{"deadletters", "list", "x", "-limit", "5"}, "deadletters list: flag -limit after the argument"},
		{[]string{"deploy-batch", "0x1"}, `deploy-batch takes no argument (it reads the configuration), got "0x1"`},
		{[]string{"-check", "deploy-batch"}, "-check runs alone"},
	} {
		cmd := exec.Command(processorBinary(t), tc.args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // nothing configured
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit 2\n%s", tc.args, err, stderr.String())
			continue
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if !strings.HasPrefix(first, "processor: ") || !strings.Contains(first, tc.why) {
			t.Errorf("%v: first line %q, want the reason %q", tc.args, first, tc.why)
		}
		if n := strings.Count(stderr.String(), "usage:"); n != 1 || stdout.Len() != 0 {
			t.Errorf("%v: usage printed %d times, stdout %q", tc.args, n, stdout.String())
		}
	}
}

// TestHelpOnce: -h (alone or after a command) prints the usage once on
// stdout and exits 0, and its -dev line says what README says of dev mode.
func TestHelpOnce(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-h"}, {"-help"}, {"status", "-h"}, {"deadletters", "list", "-h"}} {
		cmd := exec.Command(processorBinary(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if n := strings.Count(string(out), "usage:"); n != 1 {
			t.Fatalf("%v: usage printed %d times:\n%s", args, n, out)
		}
		for _, cmd := range []string{"processor -dev", "processor status", "processor inflight", "processor app",
			"processor deadletters list", "processor deadletters show", "processor deadletters replay"} {
			if !strings.Contains(string(out), cmd) {
				t.Fatalf("%v: usage does not name %q:\n%s", args, cmd, out)
			}
		}
	}
	// README's claims about dev mode, which the -dev line must not contradict.
	for _, claim := range []string{"a `redis-server` it starts itself or else an embedded Redis-protocol server",
		"with\n`REDIS_URL` set it uses that one, under names of its own"} {
		if !strings.Contains(string(readme), claim) {
			t.Fatalf("README no longer says %q: update the usage's -dev line with it", claim)
		}
	}
	if strings.Contains(usage, "if none answers") || !strings.Contains(usage, "a redis-server it starts") ||
		!strings.Contains(usage, "under names\n") && !strings.Contains(usage, "under names of its own") {
		t.Fatalf("the -dev line contradicts README:\n%s", usage)
	}
}

// TestReadOnlyNeedsNoMnemonic: deadletters list and show run with REDIS_URL
// alone; a command that runs the relay still asks for everything.
func TestReadOnlyNeedsNoMnemonic(t *testing.T) {
	srv := redistest.Start(t)
	for _, args := range [][]string{{"deadletters", "list"}} {
		cmd := exec.Command(processorBinary(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "REDIS_URL=" + srv.URL()}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"deadLetters"`) {
			t.Fatalf("%v with REDIS_URL only: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(processorBinary(t), "-check")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "REDIS_URL=" + srv.URL()}
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "PROCESSOR_MNEMONIC: required") {
		t.Fatalf("-check without the mnemonic:\n%s", out)
	}
}
