package chain

import (
	"bytes"
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// Nonces reads, in one JSON-RPC batch, the wallet's mined nonce at block (nil:
// latest) and the node's pending nonce. The difference is how many of the
// wallet's transactions the node holds in its pool as executable, which is
// the truth about the pool (docs/design.md, "The node window"): a node keeps
// only so many per sender and drops the rest without telling.
func (c *Client) Nonces(ctx context.Context, account common.Address, block *big.Int) (mined, pending uint64, err error) {
	at := "latest"
	if block != nil {
		at = hexutil.EncodeBig(block)
	}
	var m, p hexutil.Uint64
	err = c.batch(ctx, 2, func(i int) rpc.BatchElem {
		if i == 0 {
			return rpc.BatchElem{Method: "eth_getTransactionCount", Args: []any{account, at}, Result: &m}
		}
		return rpc.BatchElem{Method: "eth_getTransactionCount", Args: []any{account, "pending"}, Result: &p}
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read nonces: %w", err)
	}
	return uint64(m), uint64(p), nil
}

// TransactionsByHash fetches transactions in JSON-RPC batches; a nil entry
// is a hash the node does not know.
func (c *Client) TransactionsByHash(ctx context.Context, hashes []common.Hash) ([]*types.Transaction, error) {
	return byHash[types.Transaction](ctx, c, "eth_getTransactionByHash", "transactions", hashes)
}

// CreatedQuery is the log filter for the product's LogDepegApplicationCreated
// events in blocks [from, to].
func (p *Product) CreatedQuery(from, to uint64) ethereum.FilterQuery {
	return ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		ToBlock:   new(big.Int).SetUint64(to),
		Addresses: []common.Address{p.Address},
		Topics:    [][]common.Hash{{p.binding.GetABI().Events["LogDepegApplicationCreated"].ID}},
	}
}

// createdWords is the size of LogDepegApplicationCreated's data: six
// static words (processId, policyHolder, protectedWallet, protectedBalance,
// sumInsuredAmount, premiumAmount), none indexed.
const createdWords = 6

// ProcessID returns the processId of the product's creation event in a
// receipt, if it has one: the first word of the event's data. The binding's
// unpacking of the whole event (reflection into a struct, three big.Ints)
// was 2% of the relay's CPU in the 5,000 backlog bench, once per confirmed
// application, for a word it reads as is. It accepts what the binding
// accepts (TestProcessIDAsTheBinding): the event's topic alone, and data of at
// least six words, or none at all (the binding then unpacks nothing and
// returns a zero processId).
func (p *Product) ProcessID(r *types.Receipt) (common.Hash, bool) {
	for _, l := range r.Logs {
		if l.Address != p.Address || len(l.Topics) != 1 || l.Topics[0] != p.created {
			continue
		}
		switch {
		case len(l.Data) == 0:
			return common.Hash{}, true
		case len(l.Data) >= createdWords*32:
			return common.BytesToHash(l.Data[:32]), true
		}
	}
	return common.Hash{}, false
}

// Carries reports whether tx is an applyForPolicyWithBundleAndSignature call
// to this product with exactly this signature: the only proof that a
// transaction applied a given application. A receipt's creation event alone
// proves that *some* application was created.
func (p *Product) Carries(tx *types.Transaction, signature []byte) bool {
	if tx == nil || tx.To() == nil || *tx.To() != p.Address {
		return false
	}
	sig, err := p.SignatureOf(tx.Data())
	return err == nil && bytes.Equal(sig, signature)
}
