package frontend

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
)

// Trickle signs n fresh applications and enqueues them as the frontend
// does, in bursts of burst with a pause after each, the pace of users
// arriving rather than a backlog. It returns at once: sids fills as it
// goes (index i is the i-th application's on-chain signature id), and done
// receives nil after the last one, or the first error.
func Trickle(ctx context.Context, rdb redis.Cmdable, streamKey string, chainID *big.Int, helper common.Address,
	n, burst int, pause time.Duration) (sids [][32]byte, done <-chan error) {
	sids = make([][32]byte, n)
	out := make(chan error, 1)
	go func() {
		for i := range n {
			app, err := NewSigned(chainID, helper, 1)
			if err == nil {
				sids[i], err = SignatureIDToBytes32(app.SignatureID)
			}
			if err == nil {
				_, err = Enqueue(ctx, rdb, streamKey, NewEntityID(), Fields(app))
			}
			if err != nil {
				out <- err
				return
			}
			if burst > 0 && i%burst == burst-1 {
				select {
				case <-ctx.Done():
					out <- ctx.Err()
					return
				case <-time.After(pause):
				}
			}
		}
		out <- nil
	}()
	return sids, out
}
