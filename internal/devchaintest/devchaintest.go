// Package devchaintest starts the embedded chain for a test: started with
// the given options, sealing a block every period until the test ends (0:
// none, the test seals them), and closed then.
package devchaintest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// Start starts a devchain for t, producing a block every period (0: none).
// The producer stops and the chain closes when the test ends.
func Start(t testing.TB, opts devchain.Options, every time.Duration) *devchain.Chain {
	t.Helper()
	dc, err := devchain.Start(opts)
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	if every > 0 {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { dc.Produce(ctx, every) })
		t.Cleanup(func() { stop(); wg.Wait() })
	}
	return dc
}

// PendingNoncer reads an account's pending nonce (an ethclient, a
// chain.Client).
type PendingNoncer interface {
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
}

// Pooled waits until the node counts tx as pending. geth's pool puts a
// sent transaction in its queue and promotes it to pending on its own
// goroutine, so right after SendTransaction the pending nonce may not count
// it yet: a test that reads the pool then, or starts a relay that does,
// sees no transaction. A transaction the pool never promotes fails the test.
func Pooled(t testing.TB, c PendingNoncer, tx *types.Transaction) {
	t.Helper()
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		t.Fatalf("sender of %s: %v", tx.Hash().Hex(), err)
	}
	poll.UntilNil(t, 10*time.Second, fmt.Sprintf("transaction %s pending in the node's pool", tx.Hash().Hex()), func() error {
		n, err := c.PendingNonceAt(t.Context(), from)
		if err != nil || n <= tx.Nonce() {
			return fmt.Errorf("pending nonce %d (%v), want past %d", n, err, tx.Nonce())
		}
		return nil
	})
}
