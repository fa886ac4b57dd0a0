package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// LiveStore keeps what each running process says of itself (its version,
// since when it runs, and what only its memory knows: each key's runway and
// node window), so that the on-call commands, which run in a process of
// their own (dokku run), can show it. Each process's entry expires unless
// it is written again, so a dead process drops out by itself. The entries
// and their index share the hash tag {depeg-relay}.
type LiveStore struct {
	rdb    redis.Cmdable
	stream string
}

// NewLiveStore is the live store of the processes reading streamKey. It
// touches nothing in Redis.
func NewLiveStore(rdb redis.Cmdable, streamKey string) *LiveStore {
	return &LiveStore{rdb: rdb, stream: streamKey}
}

func (s *LiveStore) index() string { return "{depeg-relay}:" + s.stream + ":live" }

func (s *LiveStore) key(process string) string { return s.index() + ":" + process }

// Put records process's report (JSON) for ttl, in one round trip.
func (s *LiveStore) Put(ctx context.Context, process string, report []byte, ttl time.Duration) error {
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, s.key(process), report, ttl)
	pipe.SAdd(ctx, s.index(), process)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record live status of %s: %w", process, err)
	}
	return nil
}

// List returns the reports of the processes whose entry has not expired,
// by process name, and drops expired ones from the index.
func (s *LiveStore) List(ctx context.Context) (map[string][]byte, error) {
	names, err := s.rdb.SMembers(ctx, s.index()).Result()
	if err != nil {
		return nil, fmt.Errorf("read live processes: %w", err)
	}
	out := make(map[string][]byte, len(names))
	if len(names) == 0 {
		return out, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.key(n)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read live status: %w", err)
	}
	var gone []any
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[names[i]] = []byte(str)
		} else {
			gone = append(gone, names[i])
		}
	}
	if len(gone) > 0 {
		// Only bookkeeping: a failure leaves the names for the next List.
		_ = s.rdb.SRem(ctx, s.index(), gone...).Err()
	}
	return out, nil
}
