package batchdeploy

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain/batch"
)

// ErrWrongContract: BATCH_CONTRACT_ADDRESS holds no batch contract, or
// one deployed for another product. Relaying through it would apply the
// applications to that other product (or fail every batch), so the
// processor refuses to start, and -check fails.
var ErrWrongContract = errors.New("BATCH_CONTRACT_ADDRESS is not a batch contract for DEPEG_PRODUCT_ADDRESS")

// ContractCaller is what Check reads from the node.
type ContractCaller interface {
	CodeAt(ctx context.Context, account common.Address, block *big.Int) ([]byte, error)
	CallContract(ctx context.Context, msg ethereum.CallMsg, block *big.Int) ([]byte, error)
}

// Check verifies that addr holds code and that its product()
// is product: the batch contract forwards every application to the product
// it was deployed for, so one deployed for another product (a testnet's, a
// previous deployment's) must not be used.
func Check(ctx context.Context, c ContractCaller, addr, product common.Address) error {
	code, err := c.CodeAt(ctx, addr, nil)
	if err != nil {
		return fmt.Errorf("read code at BATCH_CONTRACT_ADDRESS %s: %w", addr.Hex(), err)
	}
	if len(code) == 0 {
		return fmt.Errorf("%w: no contract at %s", ErrWrongContract, addr.Hex())
	}
	b := batch.NewDepegApplicationBatch()
	to := addr
	out, err := c.CallContract(ctx, ethereum.CallMsg{To: &to, Data: b.PackProduct()}, nil)
	if err != nil {
		return fmt.Errorf("%w: product() at %s failed: %w", ErrWrongContract, addr.Hex(), err)
	}
	got, err := b.UnpackProduct(out)
	if err != nil {
		return fmt.Errorf("%w: product() at %s answered %d bytes that are no address", ErrWrongContract, addr.Hex(), len(out))
	}
	if got != product {
		return fmt.Errorf("%w: the contract at %s applies to %s, not to %s", ErrWrongContract, addr.Hex(), got.Hex(), product.Hex())
	}
	return nil
}
