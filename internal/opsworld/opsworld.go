// Package opsworld is, for tests, a relay's Redis and chain in a known
// state: a real redis-server and the embedded EVM over HTTP, a fixed clock,
// and the configuration the on-call commands and the binary read, loaded
// from the environment as the binary loads it. The on-call commands'
// tests (package oncall) and the binary's (cmd/processor) share it.
package opsworld

import (
	"math/big"
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

// World is the state a test builds on; everything it started stops when
// the test ends.
type World struct {
	T      *testing.T
	DC     *devchain.Chain
	Client *chain.Client
	Srv    *redistest.Server
	RDB    *redis.Client
	Cfg    config.Config
	Signer *chain.Signer // key 0 of the mnemonic, funded on the chain
	Queue  *stream.Queue // the relay's queue for Signer's wallet
	Now    time.Time     // the fixed clock of the golden outputs
}

// New starts the world for mnemonic, with env (KEY=value) set on top of
// the variables that point the configuration at it.
func New(t *testing.T, mnemonic string, env ...string) *World {
	t.Helper()
	key, err := chain.DeriveKey(mnemonic, 0)
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
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + mnemonic}, env...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := &World{T: t, DC: dc, Client: client, Srv: srv, RDB: srv.Client(), Cfg: cfg, Signer: signer,
		Now: time.Date(2026, 11, 23, 18, 40, 16, 0, time.UTC)}
	w.Queue = stream.NewQueue(w.RDB, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
		DeadLetter: cfg.DeadLetterStreamKey, Wallet: strings.ToLower(signer.Address().Hex())})
	return w
}
