package stream

import (
	"context"
	"fmt"
)

// FieldRelayReverts is a field the relay adds to a PendingApplication hash
// (the contract allows added fields: docs/design.md, "The fixed contracts"): how often the application's
// transaction was mined and reverted for a cause that can pass (the product
// paused, out of gas). It lives in the application's own hash so that it
// goes when the hash is purged, and survives restarts and a change of
// processor.
const FieldRelayReverts = "relayTransientReverts"

// CountRevert adds one to the application's transient revert count and
// returns the new count.
func (q *Queue) CountRevert(ctx context.Context, entityID string) (int64, error) {
	n, err := q.rdb.HIncrBy(ctx, ApplicationKey(entityID), FieldRelayReverts, 1).Result()
	if err != nil {
		return 0, fmt.Errorf("count revert of %s: %w", entityID, err)
	}
	return n, nil
}
