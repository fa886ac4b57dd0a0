package main

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/relay"
)

// batching is the relay's batching from BATCH_CONTRACT_ADDRESS,
// BATCH_MAX_APPLICATIONS and BATCH_GAS_BUDGET (issue 22): nil, one
// application per transaction as before, unless the contract is set and a
// batch may carry at least two.
func batching(cfg config.Config) *relay.Batching {
	if cfg.BatchContract == (common.Address{}) || cfg.BatchMaxApplications < 2 {
		return nil
	}
	return &relay.Batching{Contract: cfg.BatchContract, MaxApplications: cfg.BatchMaxApplications, GasBudget: cfg.BatchGasBudget}
}
