package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
)

// The pool of keys is one relayer (invariant 9): before a key signs for an
// application it takes a pool-wide claim on the application's signature,
// the owner key, and keeps it until the outcome is settled. A second entry
// carrying the same signature (a frontend retry, a duplicate entry) or
// another key that reads it finds the claim taken and waits for the owner's
// outcome instead of signing a second transaction. The claim names a
// signature, not a transaction, so one transaction may later carry the
// claims of several applications.
//
// Owner keys share the hash tag {depeg-relay} with the wallets set and the
// claim counts, so one script can claim a whole batch at once.

// OwnerTTL bounds how long a claim nobody released stays: longer than any
// outcome takes (a transaction waiting at the fee cap for days still
// renews it when its entry is touched), short enough that a leaked claim
// (a crash between acknowledging and releasing) does not pile up.
const OwnerTTL = 7 * 24 * time.Hour

// OwnerKey is the pool-wide claim on the application whose signature hashes
// to sigHash (keccak256 of the signature bytes, as the product keys "used").
func OwnerKey(streamKey string, sigHash common.Hash) string {
	return OwnerKeys(streamKey) + sigHash.Hex()[2:]
}

// OwnerKeys is the prefix of every claim key of streamKey: with a "*", the
// pattern that finds them all (an operator's SCAN, a test's count).
func OwnerKeys(streamKey string) string { return "{depeg-relay}:" + streamKey + ":owner:" }

// Owner is who holds the claim on an application: the wallet (lower-case
// hex) whose relay signs for it, and the stream entry it signs for.
type Owner struct {
	Wallet  string
	EntryID string
}

func (o Owner) value() string { return o.Wallet + " " + o.EntryID }

func parseOwner(v string) Owner {
	w, e, _ := strings.Cut(v, " ")
	return Owner{Wallet: w, EntryID: e}
}

// OwnerClaim asks for the claim on one signature for one entry.
type OwnerClaim struct {
	SigHash common.Hash
	EntryID string
}

// claimOwnersScript takes each claim (KEYS[i], for entry ARGV[i+2]) for
// wallet ARGV[1] when it is free or already this wallet's, renewing its
// TTL (ARGV[2], ms), and returns, per key, the value that holds it now.
// A claim of this wallet for another entry moves to the new entry: a key
// never has two entries with one signature in flight (its relay defers the
// second), so the claim follows the one it signs for.
var claimOwnersScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local want = ARGV[1] .. ' ' .. ARGV[i + 2]
  local v = redis.call('GET', k)
  if (not v) or string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('SET', k, want, 'PX', ARGV[2])
    v = want
  end
  out[i] = v
end
return out
`)

// ClaimOwners takes the pool-wide claims of wallet (lower-case hex) on the
// given signatures in one round trip. It returns, per claim, the owner that
// holds it now: this wallet (taken or renewed), or another one, in which
// case the caller must not sign for that application.
func (q *Queue) ClaimOwners(ctx context.Context, wallet string, claims ...OwnerClaim) ([]Owner, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	keys := make([]string, len(claims))
	args := make([]any, 0, len(claims)+2)
	args = append(args, wallet, OwnerTTL.Milliseconds())
	for i, c := range claims {
		keys[i] = OwnerKey(q.keys.Stream, c.SigHash)
		args = append(args, c.EntryID)
	}
	res, err := claimOwnersScript.Run(ctx, q.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim %d applications for %s: %w", len(claims), wallet, err)
	}
	if len(res) != len(claims) {
		return nil, fmt.Errorf("claim %d applications for %s: %d answers", len(claims), wallet, len(res))
	}
	out := make([]Owner, len(res))
	for i, v := range res {
		out[i] = parseOwner(v)
	}
	return out, nil
}

// takeOwnerScript moves a claim from a stale holder (ARGV[1], the value read)
// to ARGV[2], only if it still holds ARGV[1] (or nothing).
var takeOwnerScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

// TakeOwner moves the claim on sigHash from stale (an owner found stale by
// OwnerStale) to wallet for entryID. It reports false when the claim changed
// since it was read: someone else moved it first.
func (q *Queue) TakeOwner(ctx context.Context, sigHash common.Hash, stale Owner, wallet, entryID string) (bool, error) {
	n, err := takeOwnerScript.Run(ctx, q.rdb, []string{OwnerKey(q.keys.Stream, sigHash)},
		stale.value(), Owner{Wallet: wallet, EntryID: entryID}.value(), OwnerTTL.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("take claim %s from %s: %w", sigHash.Hex(), stale.Wallet, err)
	}
	return n == 1, nil
}

// releaseOwnersScript deletes each claim only if wallet ARGV[1] holds it.
var releaseOwnersScript = redis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    n = n + redis.call('DEL', k)
  end
end
return n
`)

// ReleaseOwners gives up wallet's claims on the given signatures, once the
// applications' outcomes are settled (confirmed, dead-lettered, or handed on
// to the pool). Claims held by another wallet are left alone.
func (q *Queue) ReleaseOwners(ctx context.Context, wallet string, sigHashes ...common.Hash) error {
	if len(sigHashes) == 0 {
		return nil
	}
	keys := make([]string, len(sigHashes))
	for i, h := range sigHashes {
		keys[i] = OwnerKey(q.keys.Stream, h)
	}
	if err := releaseOwnersScript.Run(ctx, q.rdb, keys, wallet).Err(); err != nil {
		return fmt.Errorf("release %d claims of %s: %w", len(sigHashes), wallet, err)
	}
	return nil
}

// OwnerStale reports whether owner's claim no longer guards anything: its
// entry is no longer pending in the group (acknowledged; a crash between the
// ack and the release left the claim); or its journal records no transaction
// for the entry and either its wallet is held by no live process (live
// reports that: the holder died between claiming and journaling) or the
// entry is pending under a consumer other than the owner key's. A key reads
// only its own consumer's pending list, so an owner whose entry moved to
// another key (claimed while its relay was stopped by a lost lease, which
// forgets what it had read) never comes back to it: its claim, live as it
// is, would keep every other key waiting on an application nobody signs
// (e2e/fence saw one after 8 lease-key losses). A journaled claim is not
// stale: its owner, or the pool for a wallet nobody holds (package pool),
// follows the transaction to its end, which releases the claim.
func (q *Queue) OwnerStale(ctx context.Context, owner Owner, live func(context.Context, string) (bool, error)) (bool, error) {
	if owner.EntryID == "" || owner.Wallet == "" {
		return true, nil
	}
	pend, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: q.keys.Stream, Group: q.keys.Group, Start: owner.EntryID, End: owner.EntryID, Count: 1,
	}).Result()
	if err != nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		return false, fmt.Errorf("is entry %s pending: %w", owner.EntryID, err)
	}
	if len(pend) == 0 {
		return true, nil
	}
	ownerConsumer, err := q.rdb.Get(ctx, consumerKey(owner.Wallet)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("consumer of %s: %w", owner.Wallet, err)
	}
	if pend[0].Consumer == ownerConsumer {
		alive, err := live(ctx, owner.Wallet)
		if err != nil {
			return false, err
		}
		if alive {
			return false, nil
		}
	}
	ids, err := q.entryIDsOf(ctx, owner.Wallet)
	if err != nil {
		return false, err
	}
	return !ids[owner.EntryID], nil
}

// ForWallet is a queue on the same stream and group for another wallet's
// journal, without a consumer: for reading and settling the journal of a
// key no live process holds (package pool), fenced by fence (the pool's
// lease on that key; nil for reading only). It reads no entries.
func (q *Queue) ForWallet(wallet string, fence Fence) *Queue {
	keys := q.keys
	keys.Wallet, keys.Consumer = wallet, ""
	opts := q.opts
	opts.Fence = fence
	return NewQueueWithOptions(q.rdb, keys, opts)
}

// JournalLen counts the records of this queue's journal (HLEN), readable
// or not, without reading them.
func (q *Queue) JournalLen(ctx context.Context) (int, error) {
	n, err := q.rdb.HLen(ctx, q.JournalKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("count journal of %s: %w", q.keys.Wallet, err)
	}
	return int(n), nil
}

// Wallets reads the wallets registered on the stream (TakeOver registers
// each key whose relay ever ran on it), lower-case hex.
func (q *Queue) Wallets(ctx context.Context) ([]string, error) {
	ws, err := q.rdb.SMembers(ctx, WalletsKey(q.keys.Stream)).Result()
	if err != nil {
		return nil, fmt.Errorf("read wallets of %s: %w", q.keys.Stream, err)
	}
	out := ws[:0]
	for _, w := range ws {
		if common.IsHexAddress(w) {
			out = append(out, w)
		}
	}
	return out, nil
}

// KeepOwnAlive re-reads every entry pending under this queue's consumer
// (XREADGROUP from its pending history, in pages), which resets their idle
// time, and returns how many there are. The relay keeps all of them alive
// this way: an entry it holds back (the pool holds unknown transactions of
// its wallet, the fee cap, the node window, a signature owned elsewhere) is
// still its own and must not look idle to another key. Unlike XCLAIM, a
// history read leaves an entry trimmed from the stream in the pending list,
// where the relay finds it and dead-letters it as trimmed.
func (q *Queue) KeepOwnAlive(ctx context.Context) (int, error) {
	n := 0
	for after := "0"; ; {
		page, err := q.ReadOwnPending(ctx, after, claimPage)
		if err != nil {
			return n, fmt.Errorf("keep own pending entries alive: %w", err)
		}
		n += len(page)
		if len(page) < claimPage {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}
