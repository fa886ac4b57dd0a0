package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/lease"
)

// deployBatchUsage is deploy-batch's line in the usage.
const deployBatchUsage = `  processor deploy-batch                               deploy the batch contract for DEPEG_PRODUCT_ADDRESS from
                                                       the first key (after checking its funds) and print
                                                       BATCH_CONTRACT_ADDRESS=0x... on stdout`

// The refusals of deploy-batch that send nothing.
var (
	// errDeployUnderfunded: the first key cannot pay for the deployment at
	// its fee cap.
	errDeployUnderfunded = errors.New("the first key cannot pay for the deployment")
	// errDeployKeyBusy: the first key is held by a running processor, or
	// has transactions pending: a deployment from it would take a nonce
	// its relay owns.
	errDeployKeyBusy = errors.New("the first key is in use")
)

// deployBatchContract is the deploy-batch command: it deploys the batch
// contract (chain/batch, DepegApplicationBatch) for DEPEG_PRODUCT_ADDRESS
// from the pool's first key (the first PROCESSOR_ACCOUNT_INDEX, or the first
// AWS_KMS_KEY_IDS with SIGNER=aws-kms), and writes
// "BATCH_CONTRACT_ADDRESS=0x..." and nothing else to out, once the
// deployment has CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS and the contract
// answers product() with the product. Everything else goes to log.
//
// Nothing is signed before every check passed: the product has code, the
// key's lease is free (no running processor signs with it: the deployment
// takes the key's next nonce, which its relay owns otherwise) and it has no
// transaction pending, the base fee is under MAX_FEE_PER_GAS, and the
// balance covers the estimated gas (plus GAS_LIMIT_MARGIN_PERCENT) at the
// transaction's maxFeePerGas, which never exceeds MAX_FEE_PER_GAS. The fees
// are not bumped: a deployment left unmined is sent again every
// REBROADCAST_INTERVAL and waited for until the command is stopped.
func deployBatchContract(ctx context.Context, cfg config.Config, log zerolog.Logger, out io.Writer) error {
	client, err := dialChain(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	call := func(f func(context.Context) error) error {
		c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
		defer cancel()
		return f(c)
	}
	var chainID *big.Int
	var code []byte
	if err := call(func(c context.Context) (err error) {
		if chainID, err = client.ChainID(c); err != nil {
			return fmt.Errorf("read chain id: %w", err)
		}
		if code, err = client.CodeAt(c, cfg.DepegProductAddress, nil); err != nil {
			return fmt.Errorf("read product code: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(code) == 0 {
		return fmt.Errorf("no contract at DEPEG_PRODUCT_ADDRESS %s on chain %s", cfg.DepegProductAddress.Hex(), chainID)
	}

	key, err := firstKey(ctx, cfg)
	if err != nil {
		return err
	}
	from := key.address
	log = log.With().Str("wallet", from.Hex()).Str("key", key.name).Str("chain_id", chainID.String()).Logger()

	// The key's lease, as a relay takes it (invariant 8), for as long as
	// the deployment is not mined.
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	l, err := lease.New(rdb, lease.Key(strings.ToLower(from.Hex())), cfg.LeaseTTL)
	if err != nil {
		return err
	}
	var held bool
	if err := call(func(c context.Context) (err error) { held, err = l.TryAcquire(c); return err }); err != nil {
		return fmt.Errorf("take the key's lease: %w", err)
	}
	if !held {
		return fmt.Errorf("%w: a running processor holds wallet %s (its lease); stop it, or deploy from a key no process uses (PROCESSOR_ACCOUNT_INDEX)", errDeployKeyBusy, from.Hex())
	}
	keepCtx, stopKeep := context.WithCancel(ctx)
	var kept sync.WaitGroup
	var keepErr error
	kept.Go(func() { keepErr = l.Keep(keepCtx) })
	// stopKeeping stops renewing the lease and says whether it was lost
	// meanwhile; keepErr is read only after the goroutine ended.
	stopKeeping := func() error {
		stopKeep()
		kept.Wait()
		return keepErr
	}
	defer func() {
		_ = stopKeeping()
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RPCTimeout)
		defer cancel()
		if err := l.Release(c); err != nil {
			log.Warn().Err(err).Msg("release the key's lease")
		}
	}()

	data := append(common.FromHex(batch.DepegApplicationBatchMetaData.Bin), batch.NewDepegApplicationBatch().PackConstructor(cfg.DepegProductAddress)...)
	var (
		mined, pending uint64
		estimate       uint64
		head           *types.Header
		tip, balance   *big.Int
	)
	if err := call(func(c context.Context) (err error) {
		if mined, pending, err = client.Nonces(c, from, nil); err != nil {
			return fmt.Errorf("read the key's nonces: %w", err)
		}
		if estimate, err = client.EstimateGas(c, ethereum.CallMsg{From: from, Data: data}); err != nil {
			return fmt.Errorf("estimate the deployment's gas: %w", err)
		}
		if head, err = client.HeaderByNumber(c, nil); err != nil {
			return fmt.Errorf("read latest block: %w", err)
		}
		if tip, err = client.SuggestGasTipCap(c); err != nil {
			return fmt.Errorf("suggest tip: %w", err)
		}
		if balance, err = client.BalanceAt(c, from, nil); err != nil {
			return fmt.Errorf("read the key's balance: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	if pending != mined {
		return fmt.Errorf("%w: wallet %s has %d transaction(s) pending (nonces %d..%d); wait until they are mined", errDeployKeyBusy, from.Hex(), pending-mined, mined, pending-1)
	}
	gas := estimate + estimate*cfg.GasLimitMarginPercent/100
	fees, err := chain.FeePolicy{MaxFee: cfg.MaxFeePerGas, MaxTip: cfg.MaxPriorityFeePerGas}.Fees(head.BaseFee, tip)
	if err != nil {
		return fmt.Errorf("price the deployment: %w", err)
	}
	need := new(big.Int).Mul(new(big.Int).SetUint64(gas), fees.FeeCap)
	if balance.Cmp(need) < 0 {
		return fmt.Errorf("%w: wallet %s holds %s ETH and the deployment may cost up to %s ETH (%d gas at %s wei/gas): short by %s ETH",
			errDeployUnderfunded, from.Hex(), formatETH(balance), formatETH(need), gas, fees.FeeCap, formatETH(new(big.Int).Sub(need, balance)))
	}

	unsigned := types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: mined, GasTipCap: fees.TipCap, GasFeeCap: fees.FeeCap, Gas: gas, Data: data})
	tx, err := key.signCreate(ctx, chainID, unsigned)
	if err != nil {
		return err
	}
	addr := crypto.CreateAddress(from, mined)
	log = log.With().Stringer("tx", tx.Hash()).Uint64("nonce", mined).Str("contract", addr.Hex()).Logger()
	// The lease must still be this process's when the transaction goes out.
	var still bool
	if err := call(func(c context.Context) (err error) { still, err = l.Renew(c); return err }); err != nil || !still {
		return fmt.Errorf("%w: lost the key's lease before sending (%v)", errDeployKeyBusy, err)
	}
	// An answer that leaves open whether the node took it (a timeout) is
	// waited on: the transaction is sent again if no receipt comes.
	err = call(func(c context.Context) error { return client.SendTransaction(c, tx) })
	if a := chain.ClassifySendError(err); a != chain.SendOK && a != chain.SendUnknown {
		return fmt.Errorf("send the deployment: %w", err)
	}
	log.Info().Uint64("gas", gas).Stringer("max_fee_per_gas_wei", fees.FeeCap).Msg("batch contract deployment sent")

	receipt, err := waitDeployed(ctx, cfg, log, client, tx)
	if err != nil {
		return err
	}
	if keepErr := stopKeeping(); keepErr != nil {
		// Mined already: the lease only kept relays off the nonce meanwhile.
		log.Warn().Err(keepErr).Msg("the key's lease was lost while waiting for the deployment")
	}
	if err := call(func(c context.Context) error { return checkBatchContract(c, client, addr, cfg.DepegProductAddress) }); err != nil {
		return fmt.Errorf("check the deployed contract: %w", err)
	}
	log.Info().Uint64("block", receipt.BlockNumber.Uint64()).Uint64("gas_used", receipt.GasUsed).Msg("batch contract deployed")
	_, err = fmt.Fprintf(out, "BATCH_CONTRACT_ADDRESS=%s\n", addr.Hex())
	return err
}

// deployKey is the key deploy-batch signs with.
type deployKey struct {
	address common.Address
	name    string                                                   // "index 0", "kms alias/relay-1"
	sign    func(ctx context.Context, digest []byte) ([]byte, error) // [R || S || V]
}

// firstKey is the pool's first key: PROCESSOR_ACCOUNT_INDEX's first index,
// or AWS_KMS_KEY_IDS' first key, opened alone (an unusable first key is
// refused, not replaced by the next).
func firstKey(ctx context.Context, cfg config.Config) (deployKey, error) {
	if cfg.Signer != config.SignerAWSKMS {
		k, err := chain.DeriveKey(cfg.ProcessorMnemonic.Reveal(), cfg.ProcessorAccountIndex)
		if err != nil {
			return deployKey{}, fmt.Errorf("PROCESSOR_MNEMONIC: %w", err)
		}
		return deployKey{address: crypto.PubkeyToAddress(k.PublicKey), name: fmt.Sprintf("index %d", cfg.ProcessorAccountIndex),
			sign: func(_ context.Context, digest []byte) ([]byte, error) { return crypto.Sign(digest, k) }}, nil
	}
	ks, err := openKMS(ctx)
	if err != nil {
		return deployKey{}, err
	}
	id := cfg.KMSKeyIDs[0]
	k, err := ks.Open(ctx, id)
	if err != nil {
		return deployKey{}, fmt.Errorf("AWS_KMS_KEY_IDS: %w", err)
	}
	return deployKey{address: k.Address(), name: "kms " + id, sign: k.SignDigest}, nil
}

// signCreate signs a contract creation, which chain.Signer does not build
// (its calls always have a recipient), and checks that the signature
// recovers to the key's address.
func (k deployKey) signCreate(ctx context.Context, chainID *big.Int, tx *types.Transaction) (*types.Transaction, error) {
	signer := types.LatestSignerForChainID(chainID)
	sig, err := k.sign(ctx, signer.Hash(tx).Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign the deployment: %w", err)
	}
	signed, err := tx.WithSignature(signer, sig)
	if err != nil {
		return nil, fmt.Errorf("sign the deployment: %w", err)
	}
	if from, err := types.Sender(signer, signed); err != nil || from != k.address {
		return nil, fmt.Errorf("sign the deployment: %w", chain.ErrSignatureMismatch)
	}
	return signed, nil
}

// waitDeployed waits until tx is mined with CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS
// (the including block counts as one), reading the receipt at every look
// (one reorganised away is waited for again), and sends tx again every
// REBROADCAST_INTERVAL while no receipt is found (a node may have dropped
// it). A reverted deployment is an error.
func waitDeployed(ctx context.Context, cfg config.Config, log zerolog.Logger, client *chain.Client, tx *types.Transaction) (*types.Receipt, error) {
	t := time.NewTicker(cfg.ChainPollInterval)
	defer t.Stop()
	lastSent := time.Now()
	for {
		c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
		receipt, rerr := client.TransactionReceipt(c, tx.Hash())
		var head uint64
		var herr error
		if rerr == nil {
			head, herr = client.BlockNumber(c)
		}
		cancel()
		switch {
		case rerr == nil && receipt.Status != types.ReceiptStatusSuccessful:
			return nil, fmt.Errorf("the deployment %s reverted in block %s", tx.Hash(), receipt.BlockNumber)
		case rerr == nil && herr == nil && head+1 >= receipt.BlockNumber.Uint64()+cfg.RequiredConfirmations:
			return receipt, nil
		case rerr == nil && herr == nil:
			log.Debug().Uint64("block", receipt.BlockNumber.Uint64()).Uint64("head", head).Msg("deployment mined, waiting for confirmations")
		case errors.Is(rerr, ethereum.NotFound) && time.Since(lastSent) >= cfg.RebroadcastInterval:
			c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			if err := client.SendTransaction(c, tx); err != nil && chain.ClassifySendError(err) != chain.SendOK {
				log.Warn().Err(err).Msg("send the deployment again")
			}
			cancel()
			lastSent = time.Now()
		case rerr != nil && !errors.Is(rerr, ethereum.NotFound):
			log.Warn().Err(rerr).Msg("read the deployment's receipt")
		case herr != nil:
			log.Warn().Err(herr).Msg("read latest block")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the deployment %s (it may still be mined at %s): %w", tx.Hash(), crypto.CreateAddress(mustSender(tx), tx.Nonce()).Hex(), ctx.Err())
		case <-t.C:
		}
	}
}

// mustSender is tx's sender, which signCreate has checked; the zero
// address should it not recover.
func mustSender(tx *types.Transaction) common.Address {
	from, _ := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	return from
}

// formatETH renders wei as ETH with up to 18 decimals, trailing zeros cut:
// "0.0135", "1000".
func formatETH(wei *big.Int) string {
	q, r := new(big.Int).QuoRem(wei, big.NewInt(params.Ether), new(big.Int))
	if r.Sign() == 0 {
		return q.String()
	}
	frac := new(big.Int).Abs(r).String()
	frac = strings.Repeat("0", 18-len(frac)) + frac
	s := q.String() + "." + strings.TrimRight(frac, "0")
	if wei.Sign() < 0 && q.Sign() == 0 {
		s = "-" + s
	}
	return s
}
