// Package batchdeploy deploys the batch contract (chain/batch,
// DepegApplicationBatch) for a product from one key of the pool, and checks
// that an address holds a batch contract for the product. cmd/processor's
// deploy-batch reads the configuration, opens the key and prints the
// address; the checks, the lease, the send and the wait are here.
package batchdeploy

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/lease"
)

// The refusals of Deploy that send nothing.
var (
	// ErrUnderfunded: the key cannot pay for the deployment at its fee cap.
	ErrUnderfunded = errors.New("the first key cannot pay for the deployment")
	// ErrKeyBusy: the key is held by a running processor, or has
	// transactions pending: a deployment from it would take a nonce its
	// relay owns.
	ErrKeyBusy = errors.New("the first key is in use")
)

// Key is the key a deployment is signed with.
type Key struct {
	Address common.Address
	Name    string                                                   // "index 0", "kms alias/relay-1", for the logs
	Sign    func(ctx context.Context, digest []byte) ([]byte, error) // [R || S || V]
}

// Options are what Deploy needs besides the node.
type Options struct {
	// Product is the DepegProduct the contract will forward to.
	Product common.Address
	// OpenKey opens the signing key; it is called once the product is
	// known to have code, before anything else is read of the key.
	OpenKey func(ctx context.Context) (Key, error)
	// Redis holds the key's lease (lease.Key of its address), taken for
	// LeaseTTL and renewed for as long as the deployment is not mined.
	Redis    redis.UniversalClient
	LeaseTTL time.Duration
	// Fees prices the deployment; GasMarginPercent is added to the
	// estimated gas.
	Fees             chain.FeePolicy
	GasMarginPercent uint64
	// RPCTimeout bounds every node and Redis call; PollInterval is how
	// often the receipt is read, RebroadcastInterval how long a deployment
	// without receipt waits before it is sent again, and Confirmations the
	// depth (the including block counts as one) the deployment must reach.
	RPCTimeout          time.Duration
	PollInterval        time.Duration
	RebroadcastInterval time.Duration
	Confirmations       uint64
}

// Deploy deploys the batch contract for o.Product from the key o.OpenKey
// opens and returns its address, once the deployment has o.Confirmations
// and the contract answers product() with the product. Everything besides
// the address goes to log.
//
// Nothing is signed before every check passed: the product has code, the
// key's lease is free (no running processor signs with it: the deployment
// takes the key's next nonce, which its relay owns otherwise) and it has no
// transaction pending, the base fee is under the fee policy's cap, and the
// balance covers the estimated gas (plus GasMarginPercent) at the
// transaction's maxFeePerGas, which never exceeds that cap. The fees are
// not bumped: a deployment left unmined is sent again every
// RebroadcastInterval and waited for until ctx ends.
func Deploy(ctx context.Context, client *chain.Client, o Options, log zerolog.Logger) (common.Address, error) {
	call := func(f func(context.Context) error) error {
		c, cancel := context.WithTimeout(ctx, o.RPCTimeout)
		defer cancel()
		return f(c)
	}
	var chainID *big.Int
	var code []byte
	if err := call(func(c context.Context) (err error) {
		if chainID, err = client.ChainID(c); err != nil {
			return fmt.Errorf("read chain id: %w", err)
		}
		if code, err = client.CodeAt(c, o.Product, nil); err != nil {
			return fmt.Errorf("read product code: %w", err)
		}
		return nil
	}); err != nil {
		return common.Address{}, err
	}
	if len(code) == 0 {
		return common.Address{}, fmt.Errorf("no contract at DEPEG_PRODUCT_ADDRESS %s on chain %s", o.Product.Hex(), chainID)
	}

	key, err := o.OpenKey(ctx)
	if err != nil {
		return common.Address{}, err
	}
	from := key.Address
	log = log.With().Str("wallet", from.Hex()).Str("key", key.Name).Str("chain_id", chainID.String()).Logger()

	// The key's lease, as a relay takes it (invariant 8), for as long as
	// the deployment is not mined.
	l, err := lease.New(o.Redis, lease.Key(strings.ToLower(from.Hex())), o.LeaseTTL)
	if err != nil {
		return common.Address{}, err
	}
	var held bool
	if err := call(func(c context.Context) (err error) { held, err = l.TryAcquire(c); return err }); err != nil {
		return common.Address{}, fmt.Errorf("take the key's lease: %w", err)
	}
	if !held {
		return common.Address{}, fmt.Errorf("%w: a running processor holds wallet %s (its lease); stop it, or deploy from a key no process uses (PROCESSOR_ACCOUNT_INDEX)", ErrKeyBusy, from.Hex())
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
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.RPCTimeout)
		defer cancel()
		if err := l.Release(c); err != nil {
			log.Warn().Err(err).Msg("release the key's lease")
		}
	}()

	data := append(common.FromHex(batch.DepegApplicationBatchMetaData.Bin), batch.NewDepegApplicationBatch().PackConstructor(o.Product)...)
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
		return common.Address{}, err
	}
	if pending != mined {
		return common.Address{}, fmt.Errorf("%w: wallet %s has %d transaction(s) pending (nonces %d..%d); wait until they are mined", ErrKeyBusy, from.Hex(), pending-mined, mined, pending-1)
	}
	gas := estimate + estimate*o.GasMarginPercent/100
	fees, err := o.Fees.Fees(head.BaseFee, tip)
	if err != nil {
		return common.Address{}, fmt.Errorf("price the deployment: %w", err)
	}
	need := new(big.Int).Mul(new(big.Int).SetUint64(gas), fees.FeeCap)
	if balance.Cmp(need) < 0 {
		return common.Address{}, fmt.Errorf("%w: wallet %s holds %s ETH and the deployment may cost up to %s ETH (%d gas at %s wei/gas): short by %s ETH",
			ErrUnderfunded, from.Hex(), FormatETH(balance), FormatETH(need), gas, fees.FeeCap, FormatETH(new(big.Int).Sub(need, balance)))
	}

	unsigned := types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: mined, GasTipCap: fees.TipCap, GasFeeCap: fees.FeeCap, Gas: gas, Data: data})
	tx, err := key.signCreate(ctx, chainID, unsigned)
	if err != nil {
		return common.Address{}, err
	}
	addr := crypto.CreateAddress(from, mined)
	log = log.With().Stringer("tx", tx.Hash()).Uint64("nonce", mined).Str("contract", addr.Hex()).Logger()
	// The lease must still be this process's when the transaction goes out.
	var still bool
	if err := call(func(c context.Context) (err error) { still, err = l.Renew(c); return err }); err != nil || !still {
		return common.Address{}, fmt.Errorf("%w: lost the key's lease before sending (%v)", ErrKeyBusy, err)
	}
	// An answer that leaves open whether the node took it (a timeout) is
	// waited on: the transaction is sent again if no receipt comes.
	err = call(func(c context.Context) error { return client.SendTransaction(c, tx) })
	if a := chain.ClassifySendError(err); a != chain.SendOK && a != chain.SendUnknown {
		return common.Address{}, fmt.Errorf("send the deployment: %w", err)
	}
	log.Info().Uint64("gas", gas).Stringer("max_fee_per_gas_wei", fees.FeeCap).Msg("batch contract deployment sent")

	receipt, err := o.waitDeployed(ctx, log, client, tx)
	if err != nil {
		return common.Address{}, err
	}
	if keepErr := stopKeeping(); keepErr != nil {
		// Mined already: the lease only kept relays off the nonce meanwhile.
		log.Warn().Err(keepErr).Msg("the key's lease was lost while waiting for the deployment")
	}
	if err := call(func(c context.Context) error { return Check(c, client, addr, o.Product) }); err != nil {
		return common.Address{}, fmt.Errorf("check the deployed contract: %w", err)
	}
	log.Info().Uint64("block", receipt.BlockNumber.Uint64()).Uint64("gas_used", receipt.GasUsed).Msg("batch contract deployed")
	return addr, nil
}

// signCreate signs a contract creation, which chain.Signer does not build
// (its calls always have a recipient), and checks that the signature
// recovers to the key's address.
func (k Key) signCreate(ctx context.Context, chainID *big.Int, tx *types.Transaction) (*types.Transaction, error) {
	signer := types.LatestSignerForChainID(chainID)
	sig, err := k.Sign(ctx, signer.Hash(tx).Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign the deployment: %w", err)
	}
	signed, err := tx.WithSignature(signer, sig)
	if err != nil {
		return nil, fmt.Errorf("sign the deployment: %w", err)
	}
	if from, err := types.Sender(signer, signed); err != nil || from != k.Address {
		return nil, fmt.Errorf("sign the deployment: %w", chain.ErrSignatureMismatch)
	}
	return signed, nil
}

// waitDeployed waits until tx is mined with o.Confirmations (the including
// block counts as one), reading the receipt at every look (one reorganised
// away is waited for again), and sends tx again every RebroadcastInterval
// while no receipt is found (a node may have dropped it). A reverted
// deployment is an error.
func (o Options) waitDeployed(ctx context.Context, log zerolog.Logger, client *chain.Client, tx *types.Transaction) (*types.Receipt, error) {
	t := time.NewTicker(o.PollInterval)
	defer t.Stop()
	lastSent := time.Now()
	for {
		c, cancel := context.WithTimeout(ctx, o.RPCTimeout)
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
		case rerr == nil && herr == nil && head+1 >= receipt.BlockNumber.Uint64()+o.Confirmations:
			return receipt, nil
		case rerr == nil && herr == nil:
			log.Debug().Uint64("block", receipt.BlockNumber.Uint64()).Uint64("head", head).Msg("deployment mined, waiting for confirmations")
		case errors.Is(rerr, ethereum.NotFound) && time.Since(lastSent) >= o.RebroadcastInterval:
			c, cancel := context.WithTimeout(ctx, o.RPCTimeout)
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

// FormatETH renders wei as ETH with up to 18 decimals, trailing zeros cut:
// "0.0135", "1000".
func FormatETH(wei *big.Int) string {
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
