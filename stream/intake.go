package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
)

// IntakeKeys names the keys the relay adds for its intake gateway: claims
// (idempotency records), their leases, application statuses and the
// per-policy-holder index. They all carry one hash tag, so the Lua scripts
// below may touch several of them at once on Redis Cluster (docs/design.md,
// "Redis keys the relay adds"); none of them is ever combined with the frontend's keys
// (PendingApplication:*, the stream) in one script or MULTI. The stream key
// is part of the tag, so two deployments sharing a Redis do not share claims.
type IntakeKeys struct{ tag string }

// NewIntakeKeys returns the intake's key names for the frontend's stream.
func NewIntakeKeys(streamKey string) IntakeKeys {
	return IntakeKeys{tag: "{depeg-relay:intake:" + streamKey + "}"}
}

// Claim is the idempotency record of a publication (a hash: entityId,
// claimedAt in Redis-clock milliseconds, entryId once published).
func (k IntakeKeys) Claim(id string) string { return k.tag + ":claim:" + id }

// Lease is held by the one caller that may write a claimed publication.
func (k IntakeKeys) Lease(id string) string { return k.tag + ":lease:" + id }

// Status is an application's status record (see StatusStore).
func (k IntakeKeys) Status(entityID string) string { return k.tag + ":status:" + entityID }

// Holder is the set of entity ids known for a policy holder.
func (k IntakeKeys) Holder(addr common.Address) string {
	return k.tag + ":holder:" + strings.ToLower(addr.Hex())
}

// SignatureClaimID is the claim id of an application posted to the intake:
// keccak256 of its signature bytes, the key the message helper marks "used"
// by, so one claim stands for exactly one possible on-chain application.
func SignatureClaimID(sigHash common.Hash) string { return "sig:" + sigHash.Hex()[2:] }

// ReplayClaimID is the claim id of re-queueing a dead letter: one replay per
// dead-letter entry, however often it is asked for.
func ReplayClaimID(deadLetterID string) string { return "replay:" + deadLetterID }

// PublishOptions tunes a Publisher. Zero values get the defaults noted.
type PublishOptions struct {
	// ClaimTTL is how long a claim is remembered (default 7 days). A repeat
	// within it gets the first answer; after it, a repeat is treated as new
	// (for a signature the chain then says whether it was used; a second
	// entry for a still pending application is harmless, the relay defers
	// an in-flight signature and adopts its own transaction).
	ClaimTTL time.Duration
	// StatusTTL is how long a status record lives after its last update
	// (default 7 days).
	StatusTTL time.Duration
	// Lease is how long the caller that claimed a publication has to write
	// it before another caller may take over (default 5 s). It must exceed
	// two Redis round trips by far: a writer stalled past it may race a
	// taker, and then one of the two entries is removed again (see Publish).
	Lease time.Duration
	// Poll is how often a caller waiting for another's publication looks
	// again (default 25 ms).
	Poll time.Duration
	// ScanLimit bounds how many stream entries a taker reads to find an
	// entry the crashed writer may have added (default 10000).
	ScanLimit int64
}

const (
	defaultClaimTTL  = 7 * 24 * time.Hour
	defaultLease     = 5 * time.Second
	defaultPoll      = 25 * time.Millisecond
	defaultScanLimit = 10_000
	scanPage         = 500
)

func (o *PublishOptions) fill() {
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = defaultClaimTTL
	}
	if o.StatusTTL <= 0 {
		o.StatusTTL = defaultClaimTTL
	}
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.Poll <= 0 {
		o.Poll = defaultPoll
	}
	if o.ScanLimit <= 0 {
		o.ScanLimit = defaultScanLimit
	}
}

// Publisher writes applications the way the frontend does (HSET
// PendingApplication:<entityId>, then XADD {entityId}), exactly once per
// claim id, however many callers publish the same claim concurrently and
// wherever one of them crashes. Its methods may be called concurrently.
type Publisher struct {
	rdb    redis.Cmdable
	stream string
	keys   IntakeKeys
	opts   PublishOptions
}

// NewPublisher returns a Publisher onto streamKey; it touches nothing yet.
func NewPublisher(rdb redis.Cmdable, streamKey string, opts PublishOptions) *Publisher {
	opts.fill()
	return &Publisher{rdb: rdb, stream: streamKey, keys: NewIntakeKeys(streamKey), opts: opts}
}

// Keys are the publisher's key names.
func (p *Publisher) Keys() IntakeKeys { return p.keys }

// Publication is one application to publish once.
type Publication struct {
	// ClaimID identifies the publication (SignatureClaimID, ReplayClaimID).
	ClaimID string
	// EntityID is used if this call is the first to claim; otherwise the
	// first caller's entity id wins and is returned.
	EntityID string
	// Fields is the PendingApplication hash, in the frontend's layout.
	Fields map[string]string
	// StampTimestamp sets Fields[timestamp] from the claim time (Redis
	// clock), so every caller completing the claim writes the same hash.
	StampTimestamp bool
	// Holder, when set, indexes the entity under its policy holder.
	Holder common.Address
}

// Published is the outcome of a publication.
type Published struct {
	EntityID string
	EntryID  string // the stream entry id
	// Existing is set when an earlier call had already published it.
	Existing bool
}

// ErrInProgress means another caller holds the claim and did not finish
// before ctx ended; retrying later returns its result.
var ErrInProgress = errors.New("publication in progress elsewhere")

// Lookup returns the claim of claimID, if there is one. Its EntryID is
// empty while the publication is unfinished (in progress elsewhere, or left
// by a crash): Publish then completes it.
func (p *Publisher) Lookup(ctx context.Context, claimID string) (Published, bool, error) {
	vals, err := p.rdb.HMGet(ctx, p.keys.Claim(claimID), "entityId", "entryId").Result()
	if err != nil {
		return Published{}, false, fmt.Errorf("read claim %s: %w", claimID, err)
	}
	entity, _ := vals[0].(string)
	entry, _ := vals[1].(string)
	if entity == "" {
		return Published{}, false, nil
	}
	return Published{EntityID: entity, EntryID: entry, Existing: true}, true, nil
}

// claimScript claims a publication or reports who has it. A fresh claim
// records the entity id and the Redis clock, takes the lease and indexes the
// holder, all in one step: a crash can only happen before or after it.
//
// KEYS: claim, lease, holder index (optional). ARGV: entityId, lease token,
// lease ms, claim ttl ms, status ttl ms.
// Returns {state, entityId, entryId, claimedAt}; state is won, done,
// takeover (the claim's writer is gone, this caller now holds the lease) or
// busy (someone holds the lease).
var claimScript = redis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'entityId', 'entryId', 'claimedAt')
if rec[1] then
  if rec[2] then return {'done', rec[1], rec[2], rec[3] or ''} end
  if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
    return {'takeover', rec[1], '', rec[3] or ''}
  end
  return {'busy', rec[1], '', rec[3] or ''}
end
local t = redis.call('TIME')
local ms = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], 'entityId', ARGV[1], 'claimedAt', ms)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if KEYS[3] then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return {'won', ARGV[1], '', ms}
`)

// finishScript records the entry id of a publication unless another writer
// recorded one first (then that one is returned and the caller's entry is a
// duplicate), releases the caller's lease and sets the status to queued.
//
// KEYS: claim, lease, status. ARGV: entryId, lease token, status ttl ms,
// entityId, claim ttl ms, policy holder (may be empty).
var finishScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'entryId')
if cur then return cur end
redis.call('HSET', KEYS[1], 'entryId', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
local t = redis.call('TIME')
redis.call('HDEL', KEYS[3], 'transactionHash', 'block', 'processId', 'class', 'reason')
redis.call('HSET', KEYS[3], 'state', 'queued', 'entityId', ARGV[4], 'entryId', ARGV[1],
  'updatedAt', t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)))
if ARGV[6] ~= '' then redis.call('HSET', KEYS[3], 'policyHolder', ARGV[6]) end
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return ARGV[1]
`)

// Publish writes pub's application hash and stream entry once per claim id.
//
// The steps, and what a crash (or a lost reply) after each one leaves:
//
//  1. claim (one script: claim record with entity id and claim time, a lease
//     of PublishOptions.Lease, the holder index). After it: a claim without
//     an entry id. A retry finds it, waits for the lease to lapse, takes it
//     over and goes on from step 2 with the first caller's entity id.
//  2. HSET PendingApplication:<entityId> (the frontend's layout; with
//     StampTimestamp the timestamp is the claim time, so every writer
//     writes the same hash). After it: a hash without a stream entry; the
//     relay never sees it, the frontend's own search would show it as
//     pending. A retry rewrites the same hash and goes on.
//  3. XADD {entityId}. After it: an entry the relay processes, and a claim
//     that does not know it. A retry that takes over first reads the stream
//     from the claim time for an entry of this entity id (at most
//     ScanLimit entries) and, finding it, only records it: no second entry.
//  4. finish (one script: entry id into the claim, lease released, status
//     queued). After it: done; a retry answers with the recorded entry.
//
// Concurrent callers converge on the first claim: the others wait (polling
// every Poll) until its entry id is recorded, or take over once its lease
// lapsed; if ctx ends first they return ErrInProgress. The one remaining
// race, a writer stalled between steps 1 and 3 for longer than the lease
// while a taker publishes, is resolved in step 4: the later writer finds an
// entry id recorded and deletes its own entry again (XDEL; if the relay had
// read it already, it sees a trimmed entry and dead-letters it without an
// entity id, so the application is still processed exactly once).
func (p *Publisher) Publish(ctx context.Context, pub Publication) (Published, error) {
	token, err := newToken()
	if err != nil {
		return Published{}, err
	}
	keys := []string{p.keys.Claim(pub.ClaimID), p.keys.Lease(pub.ClaimID)}
	holder := ""
	if pub.Holder != (common.Address{}) {
		keys = append(keys, p.keys.Holder(pub.Holder))
		holder = pub.Holder.Hex()
	}
	var wait *time.Timer
	for {
		res, err := claimScript.Run(ctx, p.rdb, keys, pub.EntityID, token,
			p.opts.Lease.Milliseconds(), p.opts.ClaimTTL.Milliseconds(), p.opts.StatusTTL.Milliseconds()).StringSlice()
		if err != nil {
			return Published{}, fmt.Errorf("claim %s: %w", pub.ClaimID, err)
		}
		if len(res) != 4 {
			return Published{}, fmt.Errorf("claim %s: unexpected answer %q", pub.ClaimID, res)
		}
		state, entity, entry, claimedAt := res[0], res[1], res[2], res[3]
		switch state {
		case "done":
			return Published{EntityID: entity, EntryID: entry, Existing: true}, nil
		case "won", "takeover":
			return p.write(ctx, pub, token, entity, holder, claimedAt, state == "takeover")
		}
		// busy: someone else writes it; look again shortly.
		if wait == nil {
			wait = time.NewTimer(p.opts.Poll)
			defer wait.Stop()
		} else {
			wait.Reset(p.opts.Poll)
		}
		select {
		case <-ctx.Done():
			return Published{}, fmt.Errorf("claim %s: %w", pub.ClaimID, ErrInProgress)
		case <-wait.C:
		}
	}
}

// write runs steps 2 to 4 of Publish for the holder of the lease.
func (p *Publisher) write(ctx context.Context, pub Publication, token, entity, holder, claimedAt string, takeover bool) (Published, error) {
	fields := pub.Fields
	if pub.StampTimestamp {
		fields = make(map[string]string, len(pub.Fields)+1)
		for k, v := range pub.Fields {
			fields[k] = v
		}
		if ms, err := strconv.ParseInt(claimedAt, 10, 64); err == nil {
			fields[FieldTimestamp] = strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
		}
	}
	entry := ""
	if takeover {
		found, err := p.findEntry(ctx, entity, claimedAt)
		if err != nil {
			return Published{}, err
		}
		entry = found
	}
	if entry == "" {
		if err := p.rdb.HSet(ctx, ApplicationKey(entity), fields).Err(); err != nil {
			return Published{}, fmt.Errorf("publish %s: hset: %w", entity, err)
		}
		id, err := p.rdb.XAdd(ctx, &redis.XAddArgs{Stream: p.stream, Values: map[string]any{FieldEntityID: entity}}).Result()
		if err != nil {
			return Published{}, fmt.Errorf("publish %s: xadd %s: %w", entity, p.stream, err)
		}
		entry = id
	}
	keys := []string{p.keys.Claim(pub.ClaimID), p.keys.Lease(pub.ClaimID), p.keys.Status(entity)}
	recorded, err := finishScript.Run(ctx, p.rdb, keys, entry, token, p.opts.StatusTTL.Milliseconds(),
		entity, p.opts.ClaimTTL.Milliseconds(), holder).Text()
	if err != nil {
		return Published{}, fmt.Errorf("publish %s: record entry %s: %w", entity, entry, err)
	}
	if recorded != entry {
		// Another writer recorded its entry first: ours is the duplicate.
		_ = p.rdb.XDel(ctx, p.stream, entry).Err()
		return Published{EntityID: entity, EntryID: recorded, Existing: true}, nil
	}
	return Published{EntityID: entity, EntryID: entry}, nil
}

// findEntry looks for a stream entry of entityID added since the claim
// time. Stream ids carry the Redis clock's milliseconds (never less than
// the last id's), the same clock the claim time came from, so an entry
// added after the claim has an id at or after it.
func (p *Publisher) findEntry(ctx context.Context, entityID, claimedAt string) (string, error) {
	start := "-"
	if _, err := strconv.ParseInt(claimedAt, 10, 64); err == nil {
		start = claimedAt
	}
	var read int64
	for read < p.opts.ScanLimit {
		msgs, err := p.rdb.XRangeN(ctx, p.stream, start, "+", scanPage).Result()
		if err != nil {
			return "", fmt.Errorf("look for an entry of %s in %s: %w", entityID, p.stream, err)
		}
		for _, m := range msgs {
			if v, _ := m.Values[FieldEntityID].(string); v == entityID {
				return m.ID, nil
			}
		}
		if len(msgs) < scanPage {
			return "", nil
		}
		read += int64(len(msgs))
		start = "(" + msgs[len(msgs)-1].ID
	}
	return "", nil
}

func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lease token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
