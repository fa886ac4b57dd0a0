package relay

import (
	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
)

// Settings is the relay's Config from the loaded configuration, field by
// field: every value as the operator set it or as config's table of
// variables defaults it, the one place a default is written (New takes its
// Config as given). The processor adds what is its own per key (Balance,
// Pool, Status) and tests change what their case needs; a Config written
// out by hand would take each field it forgets as zero.
func Settings(c config.Config) Config {
	return Config{
		Confirmations: c.RequiredConfirmations, MaxInFlight: c.MaxInFlight,
		ReadBlock: c.RedisReadBlockTimeout, ErrorBackoff: c.ErrorTimeout,
		BalanceTooLowWait: c.BalanceTooLowTimeout, PollInterval: c.ChainPollInterval,
		RPCTimeout: c.RPCTimeout, RebroadcastInterval: c.RebroadcastInterval,
		MinBalance:          c.ProcessorMinBalance,
		Fees:                chain.FeePolicy{MaxFee: c.MaxFeePerGas, MaxTip: c.MaxPriorityFeePerGas},
		GasMarginPercent:    c.GasLimitMarginPercent,
		StuckBlocks:         c.StuckTxBlocks,
		FeeBumpPercent:      int64(c.FeeBumpPercent),
		MaxTransientReverts: c.MaxTransientReverts,
		SignatureLookback:   c.SignatureLookbackBlocks,
		MaxEntryAttempts:    c.MaxEntryAttempts,
		ClaimIdle:           c.ClaimIdle,
		MaxClaims:           c.MaxEntryClaims,
		Keys:                len(c.ProcessorAccountIndexes),
		Batch:               BatchingOf(c),
	}
}

// BatchingOf is the relay's batching from BATCH_CONTRACT_ADDRESS,
// BATCH_MAX_APPLICATIONS and BATCH_GAS_BUDGET (issue 22): nil, one
// application per transaction, unless the contract is set and a batch may
// carry at least two.
func BatchingOf(c config.Config) *Batching {
	if c.BatchContract == (common.Address{}) || c.BatchMaxApplications < 2 {
		return nil
	}
	return &Batching{Contract: c.BatchContract, MaxApplications: c.BatchMaxApplications, GasBudget: c.BatchGasBudget}
}
