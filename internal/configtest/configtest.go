// Package configtest loads the processor's configuration for a test as the
// processor loads it, from an environment that sets only what config
// requires. Every other setting is then config's default, written once in
// config's table of variables, so a test runs with the values production
// runs with unless it chooses otherwise, instead of a second copy of the
// defaults (or zeros) written out by hand.
package configtest

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/config"
)

// Defaults is the configuration of a processor on rpcURL relaying for
// product with keys from mnemonic, every other variable unset. Its
// REBROADCAST_INTERVAL, ERROR_TIMEOUT and BALANCE_TOO_LOW_TIMEOUT are a
// minute or so: a test that waits for one of them moves a fake clock.
func Defaults(t testing.TB, rpcURL string, product common.Address, mnemonic string) config.Config {
	t.Helper()
	env := map[string]string{"CHAIN_RPC_URL": rpcURL, "DEPEG_PRODUCT_ADDRESS": product.Hex(),
		"PROCESSOR_MNEMONIC": mnemonic}
	c, err := config.LoadFrom(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		t.Fatalf("load config's defaults: %v", err)
	}
	return c
}

// Unwired is Defaults for a test that never dials a chain nor signs (a
// monitor on a fake balance reader, a page on a fake report): the three
// required variables hold placeholders, a loopback URL nothing is asked
// of, the address 0x…01 and the well-known test mnemonic, so such a test
// still reads every other setting from config's defaults instead of
// writing them out again.
func Unwired(t testing.TB) config.Config {
	t.Helper()
	return Defaults(t, "http://127.0.0.1:8545", common.HexToAddress("0x0000000000000000000000000000000000000001"),
		"test test test test test test test test test test test junk")
}
