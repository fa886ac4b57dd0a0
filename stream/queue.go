// Package stream owns everything the relay keeps in Redis: the consumer group
// on the frontend's stream, the PendingApplication hashes, the dead-letter
// stream, the transaction journal and the last-check heartbeat key. It knows
// nothing of the chain; the relay joins the two.
package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys and names of the Redis layout. The first three are the old
// processor's contract (docs/design.md, "The fixed contracts"); the others are the relay's own
// (docs/design.md, "Redis keys the relay adds").
type Keys struct {
	Stream     string // REDIS_QUEUE_STREAM_KEY
	Group      string // REDIS_QUEUE_APPLICATION_ID
	Consumer   string // REDIS_QUEUE_CONSUMER_ID
	DeadLetter string // DEAD_LETTER_STREAM_KEY
	// Wallet is the relay's address (lower-case hex); it scopes the journal,
	// because each wallet has its own nonce sequence (docs/design.md, "Redis
	// keys the relay adds").
	Wallet string
}

// ApplicationKey is the frontend's hash key for an application.
func ApplicationKey(entityID string) string { return "PendingApplication:" + entityID }

// LastCheckKey is where the old processor wrote an ISO-8601 time on every loop
// iteration; dashboards may still read it.
const LastCheckKey = "last-check"

// FieldEntityID is the only field of a stream entry written by the frontend.
const FieldEntityID = "entityId"

// Entry is one stream entry delivered to this consumer.
type Entry struct {
	ID       string
	EntityID string // empty when the entry has no entityId field
	// Fields is nil (or empty) when Trimmed is set.
	Fields map[string]any
	// Trimmed reports an entry that is still in this consumer's pending
	// list but whose payload is gone: the frontend's XTRIM (or XADD MAXLEN)
	// deleted it before it was acknowledged, and Redis then delivers the
	// id with no fields. Nothing can be processed for it; the relay should
	// dead-letter it (which acks it) so it does not stay pending forever.
	// XADD refuses an entry without fields, so an empty payload can only
	// mean this.
	Trimmed bool
}

// EntryTime is the enqueue time a stream id encodes ("<ms>-<seq>", both
// decimal); zero for an id that is not of that form. Stream ids come from
// Redis, but the relay treats them as outside input: a malformed one yields
// no time (and so no latency sample), never a made-up one.
func EntryTime(id string) time.Time {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || !isDecimal(ms) || !isDecimal(seq) {
		return time.Time{}
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// isDecimal reports a non-empty run of ASCII digits (strconv alone would
// also accept a sign).
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Options tunes a Queue. The zero value is the behaviour of NewQueue: no
// cap on the dead-letter stream and no callbacks.
type Options struct {
	// DeadLetterMaxLen caps the dead-letter stream at about this many
	// entries (XADD MAXLEN ~ N): Redis trims whole macro nodes, so the
	// stream may hold somewhat more, and trimming costs next to nothing.
	// The oldest rejections go first. 0 means no cap; a negative value is
	// treated as 0.
	DeadLetterMaxLen int64

	// OnGroupRecreated is called each time the read path found the
	// consumer group missing (NOGROUP) and created it again (or found that
	// another consumer had just done so: both saw the loss). That happens
	// when Redis lost its data (FLUSHALL, a restart without persistence)
	// and the frontend's XADD recreated the stream without the group. It
	// is worth an alert: whatever was pending in the old group is gone from
	// Redis. Called from the reading goroutine; it must not block.
	OnGroupRecreated func()

	// OnJournalQuarantined is called for each journal record that Journal
	// moved to the quarantine hash, with its field (the nonce, as stored)
	// and why it was unreadable. Called from Journal's goroutine; it must
	// not block.
	OnJournalQuarantined func(field string, err error)

	// Fence, when set, is the wallet's lease: Record and Forget then write
	// the journal only while this process holds it (invariant 8), in one
	// script with the lease check, and fail with ErrFenced otherwise. nil
	// writes unfenced (tests, tools that never sign).
	Fence Fence
}

// Fence is the lease a journal write must hold. *lease.Lease satisfies it.
type Fence interface {
	// Fence names the lease key (it must share the journal's hash tag,
	// JournalKey), this holder's token, the lease's TTL, and whether a lease
	// key Redis lost may be set again by the write (the holder renewed it
	// less than half the TTL ago: the rule of lease.Keep).
	Fence() (key, token string, ttl time.Duration, mayRestore bool)
}

// Queue is the consumer-group view of the frontend's stream plus the
// application hashes it points to. Its methods may be called concurrently.
type Queue struct {
	rdb  redis.Cmdable
	keys Keys
	opts Options

	groupRecreations   atomic.Uint64
	journalQuarantined atomic.Uint64
}

// NewQueue returns a Queue with default Options; it does not touch Redis
// until used.
func NewQueue(rdb redis.Cmdable, keys Keys) *Queue {
	return NewQueueWithOptions(rdb, keys, Options{})
}

// NewQueueWithOptions returns a Queue tuned by opts; it does not touch Redis
// until used.
func NewQueueWithOptions(rdb redis.Cmdable, keys Keys, opts Options) *Queue {
	opts.DeadLetterMaxLen = max(opts.DeadLetterMaxLen, 0)
	return &Queue{rdb: rdb, keys: keys, opts: opts}
}

// GroupRecreations counts how often the read path recreated a lost consumer
// group since the Queue was built (see Options.OnGroupRecreated). Safe to
// call from any goroutine, e.g. a monitor.
func (q *Queue) GroupRecreations() uint64 { return q.groupRecreations.Load() }

// JournalQuarantined counts the journal records moved to quarantine since
// the Queue was built (see Journal). Safe to call from any goroutine.
func (q *Queue) JournalQuarantined() uint64 { return q.journalQuarantined.Load() }

// EnsureGroup creates the consumer group from id 0 with MKSTREAM, so entries
// written before the first start are processed too. An existing group is fine.
func (q *Queue) EnsureGroup(ctx context.Context) error {
	err := q.rdb.XGroupCreateMkStream(ctx, q.keys.Stream, q.keys.Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on %s: %w", q.keys.Group, q.keys.Stream, err)
	}
	return nil
}

// ReadOwnPending returns up to count entries already delivered to this
// consumer but not acknowledged, with ids strictly after afterID ("0" to start).
// These are the entries a previous run (or a transient error) left behind.
func (q *Queue) ReadOwnPending(ctx context.Context, afterID string, count int) ([]Entry, error) {
	return q.read(ctx, afterID, count, -1)
}

// ReadNew blocks up to block for entries never delivered to the group.
// It returns no entries and no error when the block time passes.
func (q *Queue) ReadNew(ctx context.Context, count int, block time.Duration) ([]Entry, error) {
	return q.read(ctx, ">", count, block)
}

// read runs XREADGROUP. When the group is missing (NOGROUP), it recreates
// it like EnsureGroup and reads once more: the group only disappears when
// Redis lost its data, and without this the relay would fail every read
// until someone restarts it. One retry is enough; a second NOGROUP (the
// data lost again in between) is returned and retried by the caller's loop.
func (q *Queue) read(ctx context.Context, id string, count int, block time.Duration) ([]Entry, error) {
	args := &redis.XReadGroupArgs{
		Group:    q.keys.Group,
		Consumer: q.keys.Consumer,
		Streams:  []string{q.keys.Stream, id},
		Count:    int64(count),
		Block:    block,
	}
	res, err := q.rdb.XReadGroup(ctx, args).Result()
	if redis.HasErrorPrefix(err, "NOGROUP") {
		if gerr := q.EnsureGroup(ctx); gerr != nil {
			return nil, fmt.Errorf("xreadgroup %s from %s: recreate lost group: %w", q.keys.Stream, id, gerr)
		}
		q.groupRecreations.Add(1)
		if q.opts.OnGroupRecreated != nil {
			q.opts.OnGroupRecreated()
		}
		res, err = q.rdb.XReadGroup(ctx, args).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("xreadgroup %s from %s: %w", q.keys.Stream, id, err)
	}
	var out []Entry
	for _, s := range res {
		for _, m := range s.Messages {
			e := Entry{ID: m.ID, Fields: m.Values, Trimmed: len(m.Values) == 0}
			if v, ok := m.Values[FieldEntityID].(string); ok {
				e.EntityID = v
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ErrNotAHash marks an application key that holds another Redis type than
// a hash (HGETALL answers WRONGTYPE): nothing the frontend wrote can be read
// from it. It is an error of that one entry, not of Redis.
var ErrNotAHash = errors.New("application key is not a hash")

// LoadApplications reads several application hashes in one round trip
// (a pipeline; no MULTI, since the keys may live on different cluster
// slots). fields[i] is nil when the hash of entityIDs[i] does not exist.
//
// errs[i] is set, wrapping ErrNotAHash, when only that key could not be
// read because it holds another type: the relay then deals with that entry
// alone instead of failing the whole read. Every other failure (the
// connection, a timeout, a Redis that is loading or down) is about Redis,
// not the entry, and fails the call as a whole with err: counting it
// against each entry would dead-letter valid applications during an outage.
func (q *Queue) LoadApplications(ctx context.Context, entityIDs []string) (fields []map[string]string, errs []error, err error) {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(entityIDs))
	for i, id := range entityIDs {
		cmds[i] = pipe.HGetAll(ctx, ApplicationKey(id))
	}
	// Exec reports the first failed command; each command's own error is
	// read below, so a WRONGTYPE of one key does not hide the others.
	_, _ = pipe.Exec(ctx)
	fields = make([]map[string]string, len(entityIDs))
	errs = make([]error, len(entityIDs))
	for i, c := range cmds {
		switch err := c.Err(); {
		case err == nil:
			if m := c.Val(); len(m) > 0 {
				fields[i] = m
			}
		case redis.HasErrorPrefix(err, "WRONGTYPE"):
			errs[i] = fmt.Errorf("load application %s: %w (%w)", ApplicationKey(entityIDs[i]), ErrNotAHash, err)
		default:
			return nil, nil, fmt.Errorf("load %d applications (at %s): %w", len(entityIDs), ApplicationKey(entityIDs[i]), err)
		}
	}
	return fields, errs, nil
}

// Settled names a stream entry whose outcome is final.
type Settled struct {
	EntryID  string
	EntityID string // empty for an entry that had none
}

// Ack acknowledges entries and purges their application hashes in one round
// trip. It is called only once an outcome is final (confirmed, or
// dead-lettered). In the pipeline the acks come first: a crash part-way
// leaves a purged-late hash, never an acked entry whose application is lost
// without a record. Every command is idempotent.
func (q *Queue) Ack(ctx context.Context, entries ...Settled) error {
	if len(entries) == 0 {
		return nil
	}
	ids := make([]string, len(entries))
	var keys []string
	for i, e := range entries {
		ids[i] = e.EntryID
		if e.EntityID != "" {
			keys = append(keys, ApplicationKey(e.EntityID))
		}
	}
	pipe := q.rdb.Pipeline()
	pipe.XAck(ctx, q.keys.Stream, q.keys.Group, ids...)
	pipe.HDel(ctx, ClaimsKey(q.keys.Stream), ids...)
	for _, k := range keys {
		// One DEL per key: the frontend's keys carry no hash tag and may
		// live on different cluster slots.
		pipe.Del(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ack %d entries (first %s): %w", len(ids), ids[0], err)
	}
	return nil
}

// Beat records a loop iteration in the old processor's last-check key.
func (q *Queue) Beat(ctx context.Context, now time.Time) error {
	if err := q.rdb.Set(ctx, LastCheckKey, now.UTC().Format(time.RFC3339Nano), 0).Err(); err != nil {
		return fmt.Errorf("write %s: %w", LastCheckKey, err)
	}
	return nil
}
