package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backlog is what the consumer group has not finished: the figures the
// monitor shows and alerts on. Times are the entries' enqueue times (their
// ids, EntryTime).
type Backlog struct {
	// Pending is how many entries the group delivered and nobody acked,
	// by consumer in Consumers.
	Pending   int64
	Consumers map[string]int64
	// OldestPending is the enqueue time of the oldest pending entry; zero
	// when none is pending.
	OldestPending time.Time
	// Lag is the group's lag (XINFO GROUPS, Redis >= 7.0): entries in the
	// stream not yet delivered to it; -1 when Redis cannot tell.
	Lag int64
	// FirstUndelivered is the enqueue time of the oldest entry not yet
	// delivered to the group; zero when there is none.
	FirstUndelivered time.Time
	// DeadLetters is the dead-letter stream's length, when DeadLettersErr
	// is nil and the stream is configured. A failure there is a figure
	// missing, not a failed read: the pending list proved Redis answers.
	DeadLetters    int64
	DeadLettersErr error
	// DeadLettersOK is whether DeadLetters was read.
	DeadLettersOK bool
}

// BacklogError is a failed read of the backlog. Op names the Redis command
// for metrics ("xpending", "xinfo_groups", "xrange", "xlen"), never error
// text.
type BacklogError struct {
	Op  string
	Err error
}

func (e *BacklogError) Error() string { return e.Err.Error() }
func (e *BacklogError) Unwrap() error { return e.Err }

// BacklogReader reads the group's backlog (the monitor's pending, lag and
// dead-letter figures): stream is the one owner of Redis's stream commands.
type BacklogReader struct {
	rdb  redis.Cmdable
	keys Keys
}

// NewBacklogReader reads the backlog of keys.Group on keys.Stream and the
// length of keys.DeadLetter (skipped when empty).
func NewBacklogReader(rdb redis.Cmdable, keys Keys) *BacklogReader {
	return &BacklogReader{rdb: rdb, keys: keys}
}

// ReadBacklog reads the pending summary, the group's lag and oldest
// undelivered entry, and the dead-letter length, in four round trips. Its
// errors are *BacklogError; a failed dead-letter length is only
// Backlog.DeadLettersErr.
func (b *BacklogReader) ReadBacklog(ctx context.Context) (Backlog, error) {
	k := b.keys
	res := Backlog{Lag: -1}
	xp, err := b.rdb.XPending(ctx, k.Stream, k.Group).Result()
	if err != nil {
		return Backlog{}, &BacklogError{"xpending", fmt.Errorf("xpending %s %s: %w", k.Stream, k.Group, err)}
	}
	res.Pending, res.Consumers = xp.Count, xp.Consumers
	if xp.Count > 0 {
		res.OldestPending = EntryTime(xp.Lower)
	}
	if err := b.readUndelivered(ctx, &res); err != nil {
		return Backlog{}, err
	}
	if k.DeadLetter != "" {
		n, err := b.rdb.XLen(ctx, k.DeadLetter).Result()
		if err != nil {
			res.DeadLettersErr = &BacklogError{"xlen", fmt.Errorf("xlen %s: %w", k.DeadLetter, err)}
		} else {
			res.DeadLetters, res.DeadLettersOK = n, true
		}
	}
	return res, nil
}

// readUndelivered reads the group's lag and the oldest entry it has not
// been delivered yet: the first entry after its last-delivered-id. That entry
// is looked up whatever the lag says, because Redis reports no lag before
// 7.0 and none it can compute after deletions in the stream.
func (b *BacklogReader) readUndelivered(ctx context.Context, res *Backlog) error {
	k := b.keys
	groups, err := b.rdb.XInfoGroups(ctx, k.Stream).Result()
	if err != nil {
		return &BacklogError{"xinfo_groups", fmt.Errorf("xinfo groups %s: %w", k.Stream, err)}
	}
	last := ""
	for _, g := range groups {
		if g.Name == k.Group {
			last, res.Lag = g.LastDeliveredID, g.Lag
			break
		}
	}
	if last == "" {
		return nil // deleted since XPENDING answered; the next read says so
	}
	msgs, err := b.rdb.XRangeN(ctx, k.Stream, "("+last, "+", 1).Result()
	if err != nil {
		return &BacklogError{"xrange", fmt.Errorf("xrange %s after %s: %w", k.Stream, last, err)}
	}
	if len(msgs) > 0 {
		res.FirstUndelivered = EntryTime(msgs[0].ID)
	}
	return nil
}
