package relay

import (
	"context"
	"fmt"

	"github.com/etherisc/depeg-relay/stream"
)

// Entries between consumers (docs/design.md, "Several keys, several
// processes"). Each key's relay reads under a consumer name of its own, and
// only the holder of the key's lease runs it, so:
//   - at start it takes over what the key's previous consumer had read
//     (takeOver), and claims its journal's entries from wherever they are
//     pending (touch, in recover);
//   - while it runs it touches its in-flight entries every quarter of
//     ClaimIdle, so that they never look idle to another relay;
//   - when it has room it claims entries left idle under silent consumers
//     (claimIdle): a process that died before journaling what it read, one
//     whose keys are no longer configured, the old processor.

// takeOver claims the entries the key's previous consumer left pending.
func (r *core) takeOver(ctx context.Context) error {
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	n, err := r.queue.TakeOver(c)
	if err != nil {
		r.metrics.RedisError("take_over")
		return err
	}
	if n > 0 {
		r.log.Info().Int("entries", n).Msg("took over the entries the key's previous consumer had read")
	}
	return nil
}

// touch claims the in-flight entries for this consumer, wherever they are
// pending, and resets the idle time of every entry pending under this
// consumer: whatever holds an entry back (the hold on unknown transactions,
// the fee cap, the node window, a signature another key owns, confirmations
// still to come, a requeue), it is this relay's, and it must never look
// idle to another key, which would claim it and sign a second transaction.
func (r *tracker) touch(ctx context.Context) error {
	ids := r.w.entryIDs()
	r.touchedAt = r.clock.Now()
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	if len(ids) > 0 {
		if err := r.queue.Touch(c, ids...); err != nil {
			r.metrics.RedisError("touch")
			return fmt.Errorf("touch %d in-flight entries: %w", len(ids), err)
		}
	}
	if _, err := r.queue.KeepOwnAlive(c); err != nil {
		r.metrics.RedisError("touch")
		return err
	}
	return nil
}

// touchDue touches the in-flight entries if a quarter of ClaimIdle has
// passed since the last time. Called by the tracker.
func (r *tracker) touchDue(ctx context.Context) {
	if r.cfg.ClaimIdle <= 0 || r.clock.Now().Sub(r.touchedAt) < r.cfg.ClaimIdle/4 {
		return
	}
	if err := r.touch(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Msg("touch in-flight entries failed")
	}
}

// claimIdle claims up to free idle entries of silent consumers, at most once
// per quarter of ClaimIdle, and makes the next read start at the beginning
// of this consumer's pending list, where they now are. Entries claimed more
// than MaxClaims times are remembered, to be dead-lettered when read.
func (r *submitter) claimIdle(ctx context.Context, free int) {
	now := r.clock.Now()
	if r.cfg.ClaimIdle <= 0 || free <= 0 || now.Sub(r.claimedAt) < r.cfg.ClaimIdle/4 {
		return
	}
	r.claimedAt = now
	c, cancel := r.rpcCtx(ctx)
	defer cancel()
	claimed, err := r.queue.ClaimIdle(c, r.cfg.ClaimIdle, free)
	if err != nil {
		if ctx.Err() == nil {
			r.metrics.RedisError("claim_idle")
			r.log.Warn().Err(err).Msg("claim idle entries failed")
		}
		// A claim whose reply was lost may have landed: the entries
		// are then in this consumer's pending list.
		r.rescanFromStart()
		return
	}
	if len(claimed) == 0 {
		return
	}
	for _, e := range claimed {
		if e.Claims > int64(r.cfg.MaxClaims) {
			r.w.overClaimed(e.ID, e.Claims)
		}
	}
	r.metrics.EntriesClaimed(len(claimed))
	r.log.Info().Int("entries", len(claimed)).Dur("idle", r.cfg.ClaimIdle).
		Msg("claimed entries left idle by a consumer that stopped")
	r.rescanFromStart()
}

// rejectOverClaimed dead-letters the entries claimed more than MaxClaims
// times and returns the others. Such an entry has been read by that many
// processes that then stopped without finishing it: whatever it is, it is
// not to be read again.
func (r *submitter) rejectOverClaimed(ctx context.Context, entries []stream.Entry) ([]stream.Entry, error) {
	rest := entries[:0:0]
	for _, e := range entries {
		n, over := r.w.claims(e.ID)
		if !over {
			rest = append(rest, e)
			continue
		}
		var fields map[string]string
		if e.EntityID != "" {
			loaded, _, err := r.queue.LoadApplications(ctx, []string{e.EntityID})
			if err != nil {
				r.metrics.RedisError("load")
				return nil, err
			}
			fields = loaded[0]
		}
		if err := r.deadLetter(ctx, stream.DeadLetter{EntryID: e.ID, EntityID: e.EntityID, Class: stream.ClassFailing,
			Reason: fmt.Sprintf("claimed too many times: %d times from consumers that stopped before finishing it (MAX_ENTRY_CLAIMS %d)",
				n, r.cfg.MaxClaims), Fields: fields}); err != nil {
			return nil, err
		}
	}
	return rest, nil
}
