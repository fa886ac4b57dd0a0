// Package chainaudit reads back, from the canonical chain, everything a
// wallet did: every mined transaction with its receipt, which of them
// created an application and which reverted, and per nonce and per
// application signature how often. Tests judge the relay by this, not by its
// own word.
package chainaudit

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
)

// Tx is one of the wallet's transactions as the canonical chain holds it.
type Tx struct {
	Hash     common.Hash
	Nonce    uint64
	Block    uint64
	BaseFee  *big.Int
	GasUsed  uint64
	Price    *big.Int // effective gas price paid
	Status   uint64
	Creates  bool // emitted the product's application-created event
	FeeCap   *big.Int
	TipCap   *big.Int
	GasLimit uint64
	// Signature is the application signature the call carries (hex,
	// without 0x), empty for a transaction that is not a product call.
	Signature string
}

func (m Tx) String() string {
	return fmt.Sprintf("nonce %d tx %s block %d status %d gas %d", m.Nonce, m.Hash.Hex(), m.Block, m.Status, m.GasUsed)
}

// Audit is everything the wallet did on chain, read block by block
// (receipts, not the relay's word).
type Audit struct {
	Head     uint64
	Mined    []Tx
	GasUsed  uint64   // by all of the wallet's transactions
	FeesWei  *big.Int // gasUsed * effective price, summed
	Wasted   uint64   // gas of mined transactions that created no application
	Reverted []Tx
	Useless  []Tx // successful but created nothing (e.g. a nonce filler)
	PerNonce map[uint64]int
	// BySignature lists the mined transactions carrying each application
	// signature (hex, without 0x), in chain order.
	BySignature map[string][]Tx
	Blocks      int // blocks holding at least one of the wallet's transactions
	MaxInBlock  int // most of the wallet's transactions in one block
	// Batches counts successful batch transactions (WalletBatched) and
	// Carried the applications they carried; FailedInBatch lists the
	// applications (signature hex) that failed inside one, each a call the
	// wallet paid for that created nothing.
	Batches       int
	Carried       int
	FailedInBatch []string
}

// Wallet scans blocks 1..head for the wallet's transactions.
func Wallet(ctx context.Context, c *ethclient.Client, chainID *big.Int, wallet common.Address, product *chain.Product) (Audit, error) {
	return WalletBatched(ctx, c, chainID, wallet, product, common.Address{})
}

// WalletBatched is Wallet for a relay that also sends batches to
// batchContract (package chain/batch): each application a batch carried is
// listed under its signature, created or not as its own event says.
func WalletBatched(ctx context.Context, c *ethclient.Client, chainID *big.Int, wallet common.Address, product *chain.Product, batchContract common.Address) (Audit, error) {
	a := Audit{FeesWei: new(big.Int), PerNonce: map[uint64]int{}, BySignature: map[string][]Tx{}}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return a, fmt.Errorf("read head: %w", err)
	}
	a.Head = head
	signer := types.LatestSignerForChainID(chainID)
	for n := uint64(1); n <= head; n++ {
		block, err := c.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			return a, fmt.Errorf("read block %d: %w", n, err)
		}
		inBlock := 0
		for _, tx := range block.Transactions() {
			from, err := types.Sender(signer, tx)
			if err != nil {
				return a, fmt.Errorf("sender of %s in block %d: %w", tx.Hash(), n, err)
			}
			if from != wallet {
				continue
			}
			rcpt, err := c.TransactionReceipt(ctx, tx.Hash())
			if err != nil {
				return a, fmt.Errorf("receipt of %s in block %d: %w", tx.Hash(), n, err)
			}
			inBlock++
			m := Tx{Hash: tx.Hash(), Nonce: tx.Nonce(), Block: n, BaseFee: block.BaseFee(),
				GasUsed: rcpt.GasUsed, Price: rcpt.EffectiveGasPrice, Status: rcpt.Status,
				FeeCap: tx.GasFeeCap(), TipCap: tx.GasTipCap(), GasLimit: tx.Gas()}
			if tx.To() != nil && *tx.To() == product.Address {
				if sig, err := product.SignatureOf(tx.Data()); err == nil {
					m.Signature = hex.EncodeToString(sig)
				}
			}
			a.PerNonce[m.Nonce]++
			a.GasUsed += m.GasUsed
			a.FeesWei.Add(a.FeesWei, new(big.Int).Mul(new(big.Int).SetUint64(m.GasUsed), m.Price))
			switch {
			case rcpt.Status != types.ReceiptStatusSuccessful:
				a.Wasted += m.GasUsed
				a.Reverted = append(a.Reverted, m)
			case product.ApplicationCreated(rcpt):
				m.Creates = true
			default:
				a.Wasted += m.GasUsed
				a.Useless = append(a.Useless, m)
			}
			if m.Signature != "" {
				a.BySignature[m.Signature] = append(a.BySignature[m.Signature], m)
			}
			if batchContract != (common.Address{}) && tx.To() != nil && *tx.To() == batchContract {
				a.auditBatch(tx, rcpt, m, batchContract)
			}
			a.Mined = append(a.Mined, m)
		}
		if inBlock > 0 {
			a.Blocks++
			a.MaxInBlock = max(a.MaxInBlock, inBlock)
		}
	}
	return a, nil
}

// auditBatch lists each application of a batch transaction under its
// signature with its own outcome.
func (a *Audit) auditBatch(tx *types.Transaction, rcpt *types.Receipt, m Tx, contract common.Address) {
	apps, _, err := batch.Decode(tx.Data())
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		return
	}
	a.Batches++
	a.Carried += len(apps)
	outs := batch.Outcomes(contract, rcpt)
	for _, app := range apps {
		sig := hex.EncodeToString(app.Signature)
		one := m
		one.Signature, one.Creates = sig, outs[crypto.Keccak256Hash(app.Signature)].Applied
		if !one.Creates {
			a.FailedInBatch = append(a.FailedInBatch, sig)
		}
		a.BySignature[sig] = append(a.BySignature[sig], one)
	}
}

// Created returns the transaction that created the application with this
// signature (hex, without 0x), if one of the wallet's did.
func (a Audit) Created(signature string) (Tx, bool) {
	for _, m := range a.BySignature[signature] {
		if m.Creates {
			return m, true
		}
	}
	return Tx{}, false
}
