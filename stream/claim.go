package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Several processes, each with several keys, read one consumer group. Each
// key's relay reads under a consumer name of its own; an entry it has read
// belongs to it until it is acknowledged. Three moves hand entries from a
// consumer that is gone to one that is alive (docs/design.md, "Several keys,
// several processes"):
//
//   - TakeOver: the new holder of a key's lease claims every entry still
//     pending under the key's previous consumer name, at once (the lease
//     proves that reader is gone);
//   - Touch: a relay claims the entries its journal records to itself, at
//     start and then regularly, which also keeps their idle time low so
//     nobody else claims them;
//   - ClaimIdle: a relay with room claims entries that have been idle under
//     a silent consumer for the claim idle time (a dead process, the old
//     processor), except those a journal records: their key's holder takes
//     them, because only it may sign for them.

// WalletsKey is the set of wallets (lower-case hex) whose relays ever ran on
// this stream: ClaimIdle reads their journals so that it never claims an
// entry a key's journal records.
func WalletsKey(streamKey string) string { return "{depeg-relay}:" + streamKey + ":wallets" }

// ClaimsKey counts, per entry id, how often ClaimIdle took the entry from a
// dead consumer; Ack deletes the count.
func ClaimsKey(streamKey string) string { return "{depeg-relay}:" + streamKey + ":claims" }

// ConsumerKey records the consumer name under which the key's relay reads,
// so the next holder of its lease knows whose pending entries to take over.
func (q *Queue) ConsumerKey() string { return consumerKey(q.keys.Wallet) }

// consumerKey is the key holding the consumer name wallet's key reads as.
func consumerKey(wallet string) string { return "{depeg-relay:" + wallet + "}:consumer" }

// Consumer is this queue's consumer name.
func (q *Queue) Consumer() string { return q.keys.Consumer }

// claimPage is how many ids one XPENDING or XCLAIM names.
const claimPage = 200

// TakeOver registers the wallet, claims every entry still pending under the
// consumer recorded for the wallet before (if another than this queue's),
// removes that consumer from the group, and only then records this queue's
// consumer as the one the wallet's relay reads under. Call it only while
// holding the wallet's lease. It returns how many entries it claimed.
//
// The name is recorded last so that TakeOver is safe to retry: a call that
// failed part-way (Redis unreachable) left the previous name recorded, and
// the retry claims whatever is still pending under it. Recording first, a
// retry would read its own name as the previous one and claim nothing.
func (q *Queue) TakeOver(ctx context.Context) (int, error) {
	if err := q.rdb.SAdd(ctx, WalletsKey(q.keys.Stream), q.keys.Wallet).Err(); err != nil {
		return 0, fmt.Errorf("register wallet %s: %w", q.keys.Wallet, err)
	}
	prev, err := q.rdb.Get(ctx, q.ConsumerKey()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read consumer of %s: %w", q.keys.Wallet, err)
	}
	n := 0
	if prev != "" && prev != q.keys.Consumer {
		if n, err = q.claimAllOf(ctx, prev); err != nil {
			return n, err
		}
	}
	if prev != q.keys.Consumer {
		if err := q.rdb.Set(ctx, q.ConsumerKey(), q.keys.Consumer, 0).Err(); err != nil {
			return n, fmt.Errorf("record consumer of %s: %w", q.keys.Wallet, err)
		}
	}
	return n, nil
}

// claimAllOf claims every entry pending under consumer name and then
// removes it (dropConsumer).
func (q *Queue) claimAllOf(ctx context.Context, name string) (int, error) {
	n := 0
	for {
		pend, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: q.keys.Stream, Group: q.keys.Group, Consumer: name, Start: "-", End: "+", Count: claimPage,
		}).Result()
		if err != nil {
			if redis.HasErrorPrefix(err, "NOGROUP") {
				return n, nil // nothing pending anywhere; the read path recreates the group
			}
			return n, fmt.Errorf("xpending of %s: %w", name, err)
		}
		if len(pend) == 0 {
			return n, q.dropConsumer(ctx, name)
		}
		ids := make([]string, len(pend))
		for i, p := range pend {
			ids[i] = p.ID
		}
		if err := q.claimTo(ctx, 0, ids); err != nil {
			return n, err
		}
		n += len(ids)
		if len(pend) < claimPage {
			return n, q.dropConsumer(ctx, name)
		}
	}
}

// dropConsumer removes a consumer the lease proved gone, once nothing is
// pending under it, so the group does not collect a name per deploy.
// XGROUP DELCONSUMER drops what is still pending without an ack, and the old
// holder's relay may still read under that name until its lease keeper
// notices the loss (up to a third of LEASE_TTL): a check and a delete in two
// commands lost an entry read in between (e2e/fence, once under load). The
// check and the delete are one script (dropIfEmpty); a read after it
// recreates the consumer, and ClaimIdle hands what it holds to a live one.
func (q *Queue) dropConsumer(ctx context.Context, name string) error {
	if err := dropIfEmpty.Run(ctx, q.rdb, []string{q.keys.Stream}, q.keys.Group, name).Err(); err != nil {
		return fmt.Errorf("remove consumer %s: %w", name, err)
	}
	return nil
}

// dropIfEmpty deletes consumer ARGV[2] of group ARGV[1] on stream KEYS[1]
// only if nothing is pending under it, in one step; -1 when it kept it.
var dropIfEmpty = redis.NewScript(`
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`)

// Touch claims ids for this consumer, wherever they are pending, and resets
// their idle time. The relay touches the entries of its journal at start
// (they may be pending under a dead process's name) and then regularly
// while they are in flight, so that ClaimIdle elsewhere never finds them
// idle. Ids no longer pending (acknowledged meanwhile) are skipped by Redis.
func (q *Queue) Touch(ctx context.Context, ids ...string) error {
	for len(ids) > 0 {
		n := min(len(ids), claimPage)
		if err := q.claimTo(ctx, 0, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// claimTo runs XCLAIM ... JUSTID, which neither returns the payloads nor
// counts a delivery.
func (q *Queue) claimTo(ctx context.Context, minIdle time.Duration, ids []string) error {
	err := q.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: q.keys.Stream, Group: q.keys.Group, Consumer: q.keys.Consumer, MinIdle: minIdle, Messages: ids,
	}).Err()
	if err != nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		return fmt.Errorf("xclaim %d entries (first %s) for %s: %w", len(ids), ids[0], q.keys.Consumer, err)
	}
	return nil
}

// Claimed is an entry ClaimIdle took over, with how often that has happened
// to it.
type Claimed struct {
	ID     string
	Claims int64
}

// ClaimIdle claims up to limit entries that have been pending for at least
// minIdle under consumers silent for at least minIdle, other than this one,
// and returns them with their claim counts. It never claims an entry that a
// registered wallet's journal records: that entry has a transaction, and
// only the holder of that wallet's lease may track it (Touch). Claiming is
// XCLAIM with MIN-IDLE, so of two relays racing for an entry only one gets
// it. The claimed entries are then in this consumer's own pending list, where
// the relay reads them like any other.
func (q *Queue) ClaimIdle(ctx context.Context, minIdle time.Duration, limit int) ([]Claimed, error) {
	if limit <= 0 || minIdle <= 0 {
		return nil, nil
	}
	consumers, err := q.rdb.XInfoConsumers(ctx, q.keys.Stream, q.keys.Group).Result()
	if err != nil {
		if redis.HasErrorPrefix(err, "NOGROUP") || redis.HasErrorPrefix(err, "ERR no such key") {
			return nil, nil
		}
		return nil, fmt.Errorf("xinfo consumers %s: %w", q.keys.Stream, err)
	}
	var silent []string
	for _, c := range consumers {
		if c.Name != q.keys.Consumer && c.Pending > 0 && c.Idle >= minIdle {
			silent = append(silent, c.Name)
		}
	}
	if len(silent) == 0 {
		return nil, nil
	}
	journaled, err := q.journaledEntries(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, name := range silent {
		// Page past journaled entries, which stay where they are.
		for from := "-"; len(ids) < limit; {
			pend, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: q.keys.Stream, Group: q.keys.Group, Consumer: name, Idle: minIdle,
				Start: from, End: "+", Count: claimPage,
			}).Result()
			if err != nil {
				return nil, fmt.Errorf("xpending of %s: %w", name, err)
			}
			for _, p := range pend {
				if !journaled[p.ID] && len(ids) < limit {
					ids = append(ids, p.ID)
				}
			}
			if len(pend) < claimPage {
				break
			}
			from = "(" + pend[len(pend)-1].ID
		}
		if len(ids) >= limit {
			break
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	got, err := q.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: q.keys.Stream, Group: q.keys.Group, Consumer: q.keys.Consumer, MinIdle: minIdle, Messages: ids,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("xclaim %d idle entries for %s: %w", len(ids), q.keys.Consumer, err)
	}
	if len(got) == 0 {
		return nil, nil
	}
	pipe := q.rdb.Pipeline()
	counts := make([]*redis.IntCmd, len(got))
	for i, id := range got {
		counts[i] = pipe.HIncrBy(ctx, ClaimsKey(q.keys.Stream), id, 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// The entries are ours now either way; without a count they are
		// processed like any other.
		return nil, fmt.Errorf("count claims of %d entries: %w", len(got), err)
	}
	out := make([]Claimed, len(got))
	for i, id := range got {
		out[i] = Claimed{ID: id, Claims: counts[i].Val()}
	}
	return out, nil
}

// journaledEntries reads the entry ids every registered wallet's journal
// records (entryIDsOf each).
func (q *Queue) journaledEntries(ctx context.Context) (map[string]bool, error) {
	wallets, err := q.Wallets(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	for _, w := range wallets {
		ids, err := q.entryIDsOf(ctx, w)
		if err != nil {
			return nil, err
		}
		for id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

// entryIDsOf reads the entry ids wallet's journal records. A record that
// cannot be decoded names none: its holder quarantines it and simulates the
// entry again.
func (q *Queue) entryIDsOf(ctx context.Context, wallet string) (map[string]bool, error) {
	other := Queue{keys: Keys{Wallet: wallet}}
	recs, err := q.rdb.HGetAll(ctx, other.JournalKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal of %s: %w", wallet, err)
	}
	out := make(map[string]bool, len(recs))
	for field, raw := range recs {
		rec, err := decodeTxRecord(field, raw)
		if err != nil {
			continue
		}
		for _, a := range rec.Applications() {
			if a.EntryID != "" {
				out[a.EntryID] = true
			}
		}
	}
	return out, nil
}
