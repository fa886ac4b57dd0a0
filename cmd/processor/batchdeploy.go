package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
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
	client, err := dialChain(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	addr, err := batchdeploy.Deploy(ctx, client, batchdeploy.Options{
		Product:             cfg.DepegProductAddress,
		OpenKey:             func(ctx context.Context) (batchdeploy.Key, error) { return firstKey(ctx, cfg) },
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

// firstKey is the pool's first key: PROCESSOR_ACCOUNT_INDEX's first index,
// or AWS_KMS_KEY_IDS' first key, opened alone (an unusable first key is
// refused, not replaced by the next).
func firstKey(ctx context.Context, cfg config.Config) (batchdeploy.Key, error) {
	if cfg.Signer != config.SignerAWSKMS {
		k, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndex)
		if err != nil {
			return batchdeploy.Key{}, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		return batchdeploy.Key{Address: crypto.PubkeyToAddress(k.PublicKey), Name: fmt.Sprintf("index %d", cfg.ProcessorAccountIndex),
			Sign: func(_ context.Context, digest []byte) ([]byte, error) { return crypto.Sign(digest, k) }}, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return batchdeploy.Key{}, err
	}
	id := cfg.KMSKeyIDs[0]
	k, err := ks.Open(ctx, id)
	if err != nil {
		return batchdeploy.Key{}, fmt.Errorf("AWS_KMS_KEY_IDS: %w", err)
	}
	return batchdeploy.Key{Address: k.Address(), Name: "kms " + id, Sign: k.SignDigest}, nil
}
