package chain_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
)

// TestBatchedLookupsSplitLargeBatches asks for more receipts and block hashes
// than one JSON-RPC batch may carry (geth refuses more than 1000 calls).
func TestBatchedLookupsSplitLargeBatches(t *testing.T) {
	dc, err := devchain.Start(devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	c, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	hashes := make([]common.Hash, 1500)
	for i := range hashes {
		hashes[i] = crypto.Keccak256Hash([]byte{byte(i), byte(i >> 8)})
	}
	rcpts, err := c.Receipts(t.Context(), hashes)
	if err != nil || len(rcpts) != len(hashes) {
		t.Fatalf("receipts: %d, %v", len(rcpts), err)
	}
	for _, r := range rcpts {
		if r != nil {
			t.Fatalf("receipt for an unknown hash")
		}
	}
	head := dc.Commit()
	n, err := c.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.BlockHashes(t.Context(), []uint64{n, n + 1000})
	if err != nil || got[0] != head || got[1] != (common.Hash{}) {
		t.Fatalf("block hashes %v (head %s), err %v", got, head, err)
	}
}
