package kill

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/etherisc/depeg-relay/chain"
)

// minedTx is one of the wallet's transactions as the canonical chain holds it.
type minedTx struct {
	hash     common.Hash
	nonce    uint64
	block    uint64
	baseFee  *big.Int
	gasUsed  uint64
	price    *big.Int // effective gas price paid
	status   uint64
	creates  bool // emitted the product's application-created event
	feeCap   *big.Int
	tipCap   *big.Int
	gasLimit uint64
}

func (m minedTx) String() string {
	return fmt.Sprintf("nonce %d tx %s block %d status %d gas %d", m.nonce, m.hash.Hex(), m.block, m.status, m.gasUsed)
}

// chainAudit is everything the wallet did on chain, read block by block from
// the canonical chain (receipts, not the relay's word).
type chainAudit struct {
	head     uint64
	mined    []minedTx
	gasUsed  uint64   // by all of the wallet's transactions
	feesWei  *big.Int // gasUsed * effective price, summed
	wasted   uint64   // gas of mined transactions that created no application
	reverted []minedTx
	useless  []minedTx // successful but created nothing (e.g. a nonce filler)
	perNonce map[uint64]int
	blocks   int // blocks holding at least one of the wallet's transactions
	maxInBlk int // most of the wallet's transactions in one block
}

// auditChain scans blocks 1..head for the wallet's transactions.
func auditChain(ctx context.Context, c *ethclient.Client, chainID *big.Int, wallet common.Address, product *chain.Product) (chainAudit, error) {
	a := chainAudit{feesWei: new(big.Int), perNonce: map[uint64]int{}}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return a, fmt.Errorf("read head: %w", err)
	}
	a.head = head
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
			m := minedTx{hash: tx.Hash(), nonce: tx.Nonce(), block: n, baseFee: block.BaseFee(),
				gasUsed: rcpt.GasUsed, price: rcpt.EffectiveGasPrice, status: rcpt.Status,
				feeCap: tx.GasFeeCap(), tipCap: tx.GasTipCap(), gasLimit: tx.Gas()}
			a.perNonce[m.nonce]++
			a.gasUsed += m.gasUsed
			a.feesWei.Add(a.feesWei, new(big.Int).Mul(new(big.Int).SetUint64(m.gasUsed), m.price))
			switch {
			case rcpt.Status != types.ReceiptStatusSuccessful:
				a.wasted += m.gasUsed
				a.reverted = append(a.reverted, m)
			case product.ApplicationCreated(rcpt):
				m.creates = true
			default:
				a.wasted += m.gasUsed
				a.useless = append(a.useless, m)
			}
			a.mined = append(a.mined, m)
		}
		if inBlock > 0 {
			a.blocks++
			a.maxInBlk = max(a.maxInBlk, inBlock)
		}
	}
	return a, nil
}

// replacementCost compares each mined replacement with the first
// transaction signed for its nonce: premiumWei is what the replacement paid
// above what the first one would have paid in the same block (zero when the
// first could not have been included there at all, its fee cap being under
// the base fee: then the bump was needed, not wasted).
func replacementCost(a chainAudit, logs logSummary) (mined int, premiumWei *big.Int) {
	premiumWei = new(big.Int)
	for _, m := range a.mined {
		first, ok := logs.firstByNonce[m.nonce]
		if !ok || first.hash == m.hash.Hex() {
			continue
		}
		mined++
		if first.feeCap == nil || first.tip == nil || first.feeCap.Cmp(m.baseFee) < 0 {
			continue
		}
		would := new(big.Int).Add(m.baseFee, first.tip)
		if would.Cmp(first.feeCap) > 0 {
			would.Set(first.feeCap)
		}
		if d := new(big.Int).Sub(m.price, would); d.Sign() > 0 {
			premiumWei.Add(premiumWei, d.Mul(d, new(big.Int).SetUint64(m.gasUsed)))
		}
	}
	return mined, premiumWei
}
