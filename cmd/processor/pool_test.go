package main

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/config"
)

// TestFinisherConfig: the finisher gets the config's settings, and
// BATCH_CONTRACT_ADDRESS, without which it hands on every application of a
// dead key's batch instead of confirming those applied.
func TestFinisherConfig(t *testing.T) {
	batchAddr := common.HexToAddress("0x00000000000000000000000000000000000000ba")
	cfg := config.Config{RequiredConfirmations: 3, OrphanHandoffAfter: 7 * time.Minute, LeaseTTL: 20 * time.Second,
		RPCTimeout: 4 * time.Second, BatchContract: batchAddr}
	own := map[string]bool{"0xabc": true}
	got := finisherConfig(cfg, own, nil, nil)
	if got.BatchContract != batchAddr || got.Confirmations != 3 || got.HandOnAfter != 7*time.Minute ||
		got.LeaseTTL != 20*time.Second || got.RPCTimeout != 4*time.Second || !got.Own["0xabc"] {
		t.Fatalf("finisherConfig = %+v, want the config's settings and batch contract %s", got, batchAddr.Hex())
	}
}
