// Package devchaintest starts the embedded chain for a test: started with
// the given options, sealing a block every period until the test ends (0:
// none, the test seals them), and closed then.
package devchaintest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/devchain"
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
