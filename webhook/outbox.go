package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/stream"
)

// DefaultMaxPending is the outbox's default cap (WEBHOOK_MAX_PENDING): at
// well under 1 KiB an event, some MiB of Redis at most.
const DefaultMaxPending = 10000

// group is the consumer group the deliverers of all processes share.
const group = "webhook"

// Keys name the outbox's Redis keys. They share a hash tag of their own,
// so the enqueue script runs on Redis Cluster, and carry the queue's stream
// key, so deployments that share a Redis keep their events apart.
type Keys struct{ tag string }

// NewKeys returns the keys of the outbox for the queue streamKey.
func NewKeys(streamKey string) Keys { return Keys{tag: "{depeg-relay:webhook:" + streamKey + "}"} }

// Outbox is the stream of events not yet delivered (fields "id" and "body").
func (k Keys) Outbox() string { return k.tag + ":outbox" }

// Dropped counts the events trimmed from the outbox before delivery.
func (k Keys) Dropped() string { return k.tag + ":dropped" }

// Outbox is the Redis side of the webhooks: Notify appends events, the
// Deliverer reads them. It is a stream.Notifier. Its methods may be called
// concurrently.
type Outbox struct {
	rdb     redis.Cmdable
	keys    Keys
	max     int64
	metrics *Metrics

	mu      sync.Mutex
	figures figures
}

// figures are the outbox's last known length and drop count.
type figures struct {
	known            bool
	pending, dropped int64
}

// NewOutbox returns the outbox of the queue streamKey, capped at maxPending
// events (<= 0: DefaultMaxPending). m may be nil.
func NewOutbox(rdb redis.Cmdable, streamKey string, maxPending int64, m *Metrics) *Outbox {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	return &Outbox{rdb: rdb, keys: NewKeys(streamKey), max: maxPending, metrics: m}
}

// Keys are the outbox's Redis keys.
func (o *Outbox) Keys() Keys { return o.keys }

// enqueueScript appends events and trims the oldest beyond the cap, counting
// what it trimmed. Exact trimming (not "~"): the cap is a promise.
// KEYS: outbox, dropped. ARGV: cap, then id and body per event.
// Returns {length after, trimmed now, dropped in all}.
var enqueueScript = redis.NewScript(`
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'body', ARGV[i+1])
end
local trimmed = 0
if redis.call('XLEN', KEYS[1]) > tonumber(ARGV[1]) then
  trimmed = redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
  if trimmed > 0 then redis.call('INCRBY', KEYS[2], trimmed) end
end
return {redis.call('XLEN', KEYS[1]), trimmed, tonumber(redis.call('GET', KEYS[2]) or '0')}
`)

// Notify appends one event per change, in one round trip. When the outbox is
// full the oldest events make room and are counted as dropped: a receiver
// back after a long outage learns the latest changes, and can ask the status
// route for what it missed. An error means nothing may have been appended.
func (o *Outbox) Notify(ctx context.Context, changes ...stream.StatusChange) error {
	if len(changes) == 0 {
		return nil
	}
	args := make([]any, 0, 1+2*len(changes))
	args = append(args, o.max)
	for _, c := range changes {
		e := NewEvent(c)
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s event of %s: %w", c.State, c.EntityID, err)
		}
		args = append(args, e.ID, body)
	}
	res, err := enqueueScript.Run(ctx, o.rdb, []string{o.keys.Outbox(), o.keys.Dropped()}, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("append %d webhook events (first %s of %s): %w", len(changes), changes[0].State, changes[0].EntityID, err)
	}
	if len(res) != 3 {
		return fmt.Errorf("append webhook events: unexpected answer %v", res)
	}
	o.metrics.queued(len(changes), res[1])
	o.setFigures(res[0], res[2])
	return nil
}

func (o *Outbox) setFigures(pending, dropped int64) {
	o.mu.Lock()
	o.figures = figures{known: true, pending: pending, dropped: dropped}
	o.mu.Unlock()
	o.metrics.setPending(pending)
}

func (o *Outbox) lastFigures() figures {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.figures
}

// refresh reads the outbox's length and drop count (one round trip).
func (o *Outbox) refresh(ctx context.Context) error {
	pipe := o.rdb.Pipeline()
	n := pipe.XLen(ctx, o.keys.Outbox())
	d := pipe.Get(ctx, o.keys.Dropped())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read webhook outbox length: %w", err)
	}
	dropped, _ := strconv.ParseInt(d.Val(), 10, 64)
	o.setFigures(n.Val(), dropped)
	return nil
}

// ensureGroup creates the consumer group from the outbox's first entry, and
// the outbox with it; an existing group is not an error.
func (o *Outbox) ensureGroup(ctx context.Context) error {
	err := o.rdb.XGroupCreateMkStream(ctx, o.keys.Outbox(), group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create webhook consumer group: %w", err)
	}
	return nil
}

// readOwn returns up to count of consumer's pending events, oldest first;
// trimmed ones come with no fields.
func (o *Outbox) readOwn(ctx context.Context, consumer string, count int64) ([]redis.XMessage, error) {
	return o.read(ctx, consumer, "0", count, -1)
}

// readNew returns up to count events never delivered to the group, waiting
// up to block for one.
func (o *Outbox) readNew(ctx context.Context, consumer string, count int64, block time.Duration) ([]redis.XMessage, error) {
	return o.read(ctx, consumer, ">", count, block)
}

func (o *Outbox) read(ctx context.Context, consumer, from string, count int64, block time.Duration) ([]redis.XMessage, error) {
	res, err := o.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{o.keys.Outbox(), from}, Count: count, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook outbox: %w", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// claimIdle takes over up to count events that other consumers have held
// longer than minIdle without delivering them (their process died or
// hangs). Trimmed ones are dropped from the pending list by Redis.
func (o *Outbox) claimIdle(ctx context.Context, consumer string, minIdle time.Duration, count int64) ([]redis.XMessage, error) {
	msgs, _, err := o.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: o.keys.Outbox(), Group: group, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: count,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("claim idle webhook events: %w", err)
	}
	return msgs, nil
}

// touch resets the idle time of events consumer holds, so that no other
// process claims them while this one retries, and returns those still in
// the outbox: a trimmed event leaves the pending list here.
func (o *Outbox) touch(ctx context.Context, consumer string, ids ...string) (map[string]bool, error) {
	kept, err := o.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: o.keys.Outbox(), Group: group, Consumer: consumer, MinIdle: 0, Messages: ids,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("touch %d webhook events: %w", len(ids), err)
	}
	out := make(map[string]bool, len(kept))
	for _, id := range kept {
		out[id] = true
	}
	return out, nil
}

// done acknowledges and deletes delivered (or trimmed) events, so the
// outbox holds only what is still to deliver.
func (o *Outbox) done(ctx context.Context, ids ...string) error {
	pipe := o.rdb.Pipeline()
	pipe.XAck(ctx, o.keys.Outbox(), group, ids...)
	pipe.XDel(ctx, o.keys.Outbox(), ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("acknowledge %d webhook events: %w", len(ids), err)
	}
	return nil
}
