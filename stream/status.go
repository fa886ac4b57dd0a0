package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
)

// Application states as the intake reports them.
const (
	StateQueued    = "queued"
	StateSubmitted = "submitted"
	StateConfirmed = "confirmed"
	StateRejected  = "rejected"
	// ChangeRequeued names a StatusChange, never a stored state: a mined
	// transaction reverted for a cause that can pass and the application
	// went back to the queue.
	ChangeRequeued = "requeued"
)

// StatusChange is one change of an application's state, told to a Notifier
// once it is recorded. State is StateSubmitted, StateConfirmed,
// StateRejected or ChangeRequeued; the other fields are set where they
// apply (TxHash for submitted and confirmed, Block and ProcessID for
// confirmed, Class and Reason for rejected, Reverts for requeued).
type StatusChange struct {
	State     string
	EntityID  string
	EntryID   string
	TxHash    string
	Block     uint64
	ProcessID string
	Class     string
	Reason    string
	Reverts   int64
	At        time.Time
}

// Notifier is told about status changes after they were recorded (package
// webhook's Outbox). An error means the changes were not taken: the caller
// fails its step so that the step, and the notification, are repeated. A
// change may so be told more than once, never zero times.
type Notifier interface {
	Notify(ctx context.Context, changes ...StatusChange) error
}

// ErrNotNotified marks an error of a Notifier, wrapped by the StatusStore
// and intake.ObservedQueue methods that record and then notify: the record
// was written, the notification was not.
var ErrNotNotified = errors.New("status change recorded but not notified")

// StatusRecord is what the relay remembers of an application beyond its
// PendingApplication hash, which is purged once the outcome is final.
type StatusRecord struct {
	State        string // queued, confirmed or rejected (submitted is read off the live hash)
	EntityID     string
	EntryID      string
	PolicyHolder string
	TxHash       string
	Block        uint64
	ProcessID    string
	Class        string
	Reason       string
	// BatchIndex and BatchSize place a confirmed or rejected application in
	// the batch transaction (TxHash) that carried it: its position, from 0
	// as the batch contract's events number it, and how many applications
	// that transaction carried. BatchSize 0 means not a batch, which is also
	// what a record written before batching (or a damaged one) reads as.
	BatchIndex int
	BatchSize  int
	UpdatedAt  time.Time
}

// Confirmation is an application confirmed on chain, as the relay knows it
// when it settles the entry.
type Confirmation struct {
	EntityID  string
	EntryID   string
	TxHash    common.Hash
	Block     uint64
	ProcessID common.Hash // of LogDepegApplicationCreated; zero when not found
	// BatchIndex and BatchSize: the application's place in TxHash when that
	// is a batch transaction (BatchSize > 0); BatchSize 0 for a transaction
	// of its own.
	BatchIndex int
	BatchSize  int
}

// StatusStore keeps the relay-owned status records and policy-holder index
// (keys of IntakeKeys, one hash tag). Each record expires TTL after its last
// update, so an outcome stays readable that long after the application hash
// was purged. Its methods may be called concurrently.
type StatusStore struct {
	rdb  redis.Cmdable
	keys IntakeKeys
	ttl  time.Duration
	// Notifier, when set, is told about every confirmation and rejection
	// once it is recorded (ErrNotNotified otherwise). Set it before the
	// store is used.
	Notifier Notifier
}

// NewStatusStore returns a store for the intake keys of streamKey; ttl <= 0
// means 7 days.
func NewStatusStore(rdb redis.Cmdable, streamKey string, ttl time.Duration) *StatusStore {
	if ttl <= 0 {
		ttl = defaultClaimTTL
	}
	return &StatusStore{rdb: rdb, keys: NewIntakeKeys(streamKey), ttl: ttl}
}

// Confirmed records confirmations in one round trip. The relay calls it
// when it settles confirmed entries, before it acknowledges them and purges
// their hashes, so that the outcome outlives the hash: a crash in between
// repeats both steps, and recording is idempotent. A confirmation replaces
// any earlier state (a rejection recorded just before a crash, then a retry
// that succeeded).
func (s *StatusStore) Confirmed(ctx context.Context, cs ...Confirmation) error {
	if len(cs) == 0 {
		return nil
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	pipe := s.rdb.Pipeline()
	for _, c := range cs {
		if c.EntityID == "" {
			continue
		}
		k := s.keys.Status(c.EntityID)
		values := []any{"state", StateConfirmed, "entityId", c.EntityID, "transactionHash", c.TxHash.Hex(),
			"block", strconv.FormatUint(c.Block, 10), "updatedAt", now}
		// Only fields the new state does not set are deleted, so that a
		// reader between the two commands never misses a batch place the
		// record keeps.
		if c.BatchSize > 0 {
			pipe.HDel(ctx, k, "class", "reason")
			values = append(values, "batchIndex", strconv.Itoa(c.BatchIndex), "batchSize", strconv.Itoa(c.BatchSize))
		} else {
			pipe.HDel(ctx, k, "class", "reason", "batchIndex", "batchSize")
		}
		if c.EntryID != "" {
			values = append(values, "entryId", c.EntryID)
		}
		if c.ProcessID != (common.Hash{}) {
			values = append(values, "processId", c.ProcessID.Hex())
		}
		pipe.HSet(ctx, k, values...)
		pipe.PExpire(ctx, k, s.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record %d confirmations (first %s): %w", len(cs), cs[0].EntityID, err)
	}
	if s.Notifier == nil {
		return nil
	}
	at := time.Now()
	changes := make([]StatusChange, 0, len(cs))
	for _, c := range cs {
		if c.EntityID == "" {
			continue
		}
		ch := StatusChange{State: StateConfirmed, EntityID: c.EntityID, EntryID: c.EntryID, TxHash: c.TxHash.Hex(),
			Block: c.Block, At: at}
		if c.ProcessID != (common.Hash{}) {
			ch.ProcessID = c.ProcessID.Hex()
		}
		changes = append(changes, ch)
	}
	if err := s.Notifier.Notify(ctx, changes...); err != nil {
		return fmt.Errorf("notify %d confirmations (first %s): %w: %w", len(changes), cs[0].EntityID, ErrNotNotified, err)
	}
	return nil
}

// rejectScript records a rejection unless the application is confirmed: a
// second entry of a confirmed application (a duplicate) finds its hash
// purged and is dead-lettered, which must not hide the confirmation. The
// transaction whose revert rejected it, and its place when that was a
// batch, are kept when known (issue 22: the status shows the batch
// transaction of a rejected application as of a confirmed one).
// KEYS: status. ARGV: entityId, entryId, class, reason, ttl ms, now ms,
// transactionHash ("" when none), batchIndex, batchSize ("0": not a batch).
var rejectScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') == 'confirmed' then return 0 end
redis.call('HDEL', KEYS[1], 'transactionHash', 'block', 'processId', 'batchIndex', 'batchSize')
redis.call('HSET', KEYS[1], 'state', 'rejected', 'entityId', ARGV[1], 'entryId', ARGV[2],
  'class', ARGV[3], 'reason', ARGV[4], 'updatedAt', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'transactionHash', ARGV[7]) end
if tonumber(ARGV[9]) > 0 then redis.call('HSET', KEYS[1], 'batchIndex', ARGV[8], 'batchSize', ARGV[9]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// Rejected records a final rejection (a dead letter) of an application.
// The Notifier is told unless the application was confirmed already (the
// record then stays confirmed).
func (s *StatusStore) Rejected(ctx context.Context, d DeadLetter) error {
	if d.EntityID == "" {
		return nil
	}
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	index, size := d.BatchIndex, d.BatchSize
	if size <= 0 {
		index, size = 0, 0
	}
	recorded, err := rejectScript.Run(ctx, s.rdb, []string{s.keys.Status(d.EntityID)}, d.EntityID, d.EntryID, d.Class,
		clip(d.Reason), s.ttl.Milliseconds(), at.UnixMilli(), d.TxHash, index, size).Int()
	if err != nil {
		return fmt.Errorf("record rejection of %s: %w", d.EntityID, err)
	}
	if s.Notifier == nil || recorded == 0 {
		return nil
	}
	err = s.Notifier.Notify(ctx, StatusChange{State: StateRejected, EntityID: d.EntityID, EntryID: d.EntryID,
		TxHash: d.TxHash, Class: d.Class, Reason: clip(d.Reason), At: at})
	if err != nil {
		return fmt.Errorf("notify rejection of %s: %w: %w", d.EntityID, ErrNotNotified, err)
	}
	return nil
}

// Indexed names an application under its policy holder.
type Indexed struct {
	EntityID string
	Holder   common.Address
}

// Index adds applications to their policy holders' sets in one round trip
// and refreshes each set's expiry. Members whose hash is gone are removed
// by the reader (Unindex), so the sets never need a sweep.
func (s *StatusStore) Index(ctx context.Context, items ...Indexed) error {
	if len(items) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, it := range items {
		k := s.keys.Holder(it.Holder)
		pipe.SAdd(ctx, k, it.EntityID)
		pipe.PExpire(ctx, k, s.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index %d applications: %w", len(items), err)
	}
	return nil
}

// Holder returns the entity ids indexed for a policy holder, at most limit
// of them (SSCAN order), so one address with a huge set cannot make a
// request unbounded.
func (s *StatusStore) Holder(ctx context.Context, holder common.Address, limit int) ([]string, error) {
	k := s.keys.Holder(holder)
	var out []string
	var cursor uint64
	for {
		ids, next, err := s.rdb.SScan(ctx, k, cursor, "", 256).Result()
		if err != nil {
			return nil, fmt.Errorf("read index of %s: %w", holder.Hex(), err)
		}
		out = append(out, ids...)
		if next == 0 || len(out) >= limit {
			break
		}
		cursor = next
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Unindex removes entity ids from a policy holder's set.
func (s *StatusStore) Unindex(ctx context.Context, holder common.Address, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	if err := s.rdb.SRem(ctx, s.keys.Holder(holder), members...).Err(); err != nil {
		return fmt.Errorf("unindex %d applications of %s: %w", len(ids), holder.Hex(), err)
	}
	return nil
}

// Read returns the status record of an application and, in the same round
// trip, its live PendingApplication hash (nil when purged or never there).
func (s *StatusStore) Read(ctx context.Context, entityID string) (rec StatusRecord, found bool, live map[string]string, err error) {
	pipe := s.rdb.Pipeline()
	st := pipe.HGetAll(ctx, s.keys.Status(entityID))
	app := pipe.HGetAll(ctx, ApplicationKey(entityID))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return StatusRecord{}, false, nil, fmt.Errorf("read status of %s: %w", entityID, err)
	}
	if m := app.Val(); len(m) > 0 {
		live = m
	}
	m := st.Val()
	if len(m) == 0 {
		return StatusRecord{}, false, live, nil
	}
	rec = StatusRecord{
		State: m["state"], EntityID: m["entityId"], EntryID: m["entryId"], PolicyHolder: m["policyHolder"],
		TxHash: m["transactionHash"], ProcessID: m["processId"], Class: m["class"], Reason: m["reason"],
	}
	if rec.EntityID == "" {
		rec.EntityID = entityID
	}
	rec.Block, _ = strconv.ParseUint(m["block"], 10, 64)
	rec.BatchIndex, rec.BatchSize = batchPlace(m["batchIndex"], m["batchSize"])
	if ms, err := strconv.ParseInt(m["updatedAt"], 10, 64); err == nil {
		rec.UpdatedAt = time.UnixMilli(ms)
	}
	return rec, true, live, nil
}

// batchPlace reads a record's batch place; absent, malformed or
// inconsistent fields (an index outside the batch) read as not a batch
// (0, 0), so that no reader ever shows a place the relay did not write.
func batchPlace(index, size string) (int, int) {
	i, err1 := strconv.Atoi(index)
	n, err2 := strconv.Atoi(size)
	if err1 != nil || err2 != nil || n <= 0 || i < 0 || i >= n {
		return 0, 0
	}
	return i, n
}
