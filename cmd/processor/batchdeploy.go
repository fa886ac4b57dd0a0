package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/backend"
	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/poolkeys"
)

// deployBatchUsage is deploy-batch's line in the usage.
const deployBatchUsage = `  processor deploy-batch                               deploy the batch contract for DEPEG_PRODUCT_ADDRESS from
                                                       the first key (after checking its funds) and print
                                                       BATCH_CONTRACT_ADDRESS=0x... on stdout`

// deployBatchContract is the deploy-batch command: batchdeploy.Deploy for
// DEPEG_PRODUCT_ADDRESS from the pool's first key (the first
// PROCESSOR_ACCOUNT_INDEX, or the first AWS_KMS_KEY_IDS with
// SIGNER=aws-kms), with the configuration's fee caps, lease TTL, timeouts
// and confirmations. It writes "BATCH_CONTRACT_ADDRESS=0x..." and nothing
// else to out once the contract is deployed and checked; everything else
// goes to log.
func deployBatchContract(ctx context.Context, cfg config.Config, log zerolog.Logger, out io.Writer) error {
	client, err := backend.Chain(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	rdb, err := backend.Redis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	addr, err := batchdeploy.Deploy(ctx, client, batchdeploy.Options{
		Product: cfg.DepegProductAddress,
		OpenKey: func(ctx context.Context) (batchdeploy.Key, error) {
			k, err := poolkeys.First(ctx, cfg)
			return batchdeploy.Key{Address: k.Address(), Name: k.Name(), Sign: k.SignDigest}, err
		},
		Redis:               rdb,
		LeaseTTL:            cfg.LeaseTTL,
		Fees:                chain.FeePolicy{MaxFee: cfg.MaxFeePerGas, MaxTip: cfg.MaxPriorityFeePerGas},
		GasMarginPercent:    cfg.GasLimitMarginPercent,
		RPCTimeout:          cfg.RPCTimeout,
		PollInterval:        cfg.ChainPollInterval,
		RebroadcastInterval: cfg.RebroadcastInterval,
		Confirmations:       cfg.RequiredConfirmations,
	}, log)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "BATCH_CONTRACT_ADDRESS=%s\n", addr.Hex())
	return err
}
