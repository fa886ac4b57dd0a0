package stream

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// FieldRelayReverts is a field the relay adds to a PendingApplication hash
// (the contract allows added fields: docs/design.md, "The fixed contracts"): how often the application's
// transaction was mined and reverted for a cause that can pass (the product
// paused, out of gas). It lives in the application's own hash so that it
// goes when the hash is purged, and survives restarts and a change of
// processor.
const FieldRelayReverts = "relayTransientReverts"

// countRevertScript increments the count only in an existing hash: HINCRBY
// alone would recreate a purged application as a hash holding nothing but
// the count, which the frontend could take for a live application. One key,
// so it runs on Redis Cluster as well.
var countRevertScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
`)

// CountRevert adds one to the application's transient revert count and
// returns the new count, or -1 when the application hash no longer exists
// (its entry was settled already).
func (q *Queue) CountRevert(ctx context.Context, entityID string) (int64, error) {
	n, err := countRevertScript.Run(ctx, q.rdb, []string{ApplicationKey(entityID)}, FieldRelayReverts).Int64()
	if err != nil {
		return 0, fmt.Errorf("count revert of %s: %w", entityID, err)
	}
	return n, nil
}
