package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfigurationExitsWithOneMessage runs the built binary with several
// bad variables: it must exit non-zero with one message naming each of them,
// and never print the mnemonic or the Redis password.
func TestBadConfigurationExitsWithOneMessage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "processor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
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
