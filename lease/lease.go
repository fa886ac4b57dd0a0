// Package lease keeps a signing key to one live process at a time
// (invariant 8; docs/design.md, "Invariants"): a Redis key with a TTL that
// its holder renews. A process that dies stops renewing, and the lease
// expires after its TTL; a process that stops gracefully releases it, so the
// next one takes over at once, and so does a process restarted on the same
// host after a crash (the holder's pid no longer runs). Whoever takes the
// lease takes the wallet's journal with it: the journal is keyed by wallet,
// not by process.
//
// A lease is no fence: a holder cut off from Redis keeps signing until it
// notices that it cannot renew. Run therefore gives the lease up (cancels its
// work) once renewals have failed for half the TTL, well before another
// process may take it.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key is the lease key of a wallet (lower-case hex address). It shares the
// journal's hash tag (stream.Queue.JournalKey), so both live on one Redis
// Cluster slot.
func Key(wallet string) string { return "{depeg-relay:" + wallet + "}:lease" }

// ErrLost is Run's error when the lease was taken over or could not be
// renewed in time: the holder must stop signing.
var ErrLost = errors.New("lease lost")

// Lease is one process's claim on one wallet.
type Lease struct {
	rdb   redis.Cmdable
	key   string
	token string
	ttl   time.Duration
	now   func() time.Time

	restored atomic.Uint64
}

// New prepares a lease on key with time to live ttl. The token names the
// holder (host, pid and a random part) so that an operator reading the key
// sees who holds it. It touches nothing in Redis.
func New(rdb redis.Cmdable, key string, ttl time.Duration) (*Lease, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("lease token: %w", err)
	}
	host, _ := os.Hostname()
	return &Lease{rdb: rdb, key: key, ttl: ttl, now: time.Now,
		token: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))}, nil
}

// Restored is how often Keep set the lease key again after Redis lost it.
func (l *Lease) Restored() uint64 { return l.restored.Load() }

// Token is this holder's value of the lease key.
func (l *Lease) Token() string { return l.token }

// TryAcquire takes the lease if nobody holds it (or this holder already
// does); it reports whether this holder has it now.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	if ok {
		return true, nil
	}
	return l.Renew(ctx)
}

// renewScript extends the lease only for its holder.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// keepScript is renewScript that also restores a lease key that is gone
// (ARGV[3] = "1"): Keep passes that only while its last renewal is younger
// than half the TTL, when the key cannot have expired, so a missing key
// means Redis lost it (a failover to a replica that had not received it, a
// restart without persistence), not that another process held it since.
var keepScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not v and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`)

// releaseScript deletes the lease only for its holder.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Renew extends the lease by its TTL; false means someone else holds it.
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	return n == 1, nil
}

// Release gives the lease up if this holder has it, so the next process
// takes over without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// Holder is the token of whoever holds the lease, "" when nobody does.
func (l *Lease) Holder(ctx context.Context) (string, error) {
	v, err := l.rdb.Get(ctx, l.key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read lease %s: %w", l.key, err)
	}
	return v, nil
}

// stealScript hands a dead holder's lease over: only if it still holds it.
var stealScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false
`)

// takeOverDead takes the lease from holder when holder is a process of this
// host that no longer runs (a crash restarted on the same machine), instead
// of waiting out the TTL. A holder on another host, or whose pid runs (even
// a reused pid), is waited for.
func (l *Lease) takeOverDead(ctx context.Context, holder string) (bool, error) {
	host, pid, ok := parseToken(holder)
	me, _ := os.Hostname()
	if !ok || host != me || pid == os.Getpid() || alive(pid) {
		return false, nil
	}
	err := stealScript.Run(ctx, l.rdb, []string{l.key}, holder, l.token, l.ttl.Milliseconds()).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take over lease %s: %w", l.key, err)
	}
	return true, nil
}

// parseToken splits a holder token "host/pid/random".
func parseToken(tok string) (host string, pid int, ok bool) {
	parts := strings.Split(tok, "/")
	if len(parts) != 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return parts[0], pid, err == nil && pid > 0
}

// alive reports whether a process with pid runs on this host (signal 0:
// EPERM means it runs under another user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Wait blocks until this holder has the lease or ctx ends, trying every
// period. waiting is called with the current holder on every failed try
// (for the log and the monitor); it must not block.
func (l *Lease) Wait(ctx context.Context, period time.Duration, waiting func(holder string, err error)) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		ok, err := l.TryAcquire(ctx)
		if ok {
			return nil
		}
		holder := ""
		if err == nil {
			holder, err = l.Holder(ctx)
		}
		if err == nil && holder != "" {
			if ok, err = l.takeOverDead(ctx, holder); ok {
				return nil
			}
		}
		if waiting != nil {
			waiting(holder, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Keep renews the lease every TTL/3 until ctx ends, and returns ErrLost
// when another process holds it or renewals failed for half the TTL: the
// caller must stop signing at once. A nil return means ctx ended. A lease
// key Redis lost while this holder renewed it in time is set again (see
// keepScript): a Sentinel failover that lost the last writes does not stop
// every relay.
//
// Restored counts those restorations.
func (l *Lease) Keep(ctx context.Context) error {
	every := max(l.ttl/3, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	lastOK := l.now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c, cancel := context.WithTimeout(ctx, every)
		restore := "0"
		if l.now().Sub(lastOK) < l.ttl/2 {
			restore = "1"
		}
		n, err := keepScript.Run(c, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds(), restore).Int64()
		cancel()
		if err != nil {
			err = fmt.Errorf("renew lease %s: %w", l.key, err)
		}
		ok := n > 0
		if n == 2 {
			l.restored.Add(1)
		}
		switch {
		case err == nil && ok:
			lastOK = l.now()
		case err == nil:
			return fmt.Errorf("%w: %s is held by another process", ErrLost, l.key)
		case ctx.Err() != nil:
			return nil
		case l.now().Sub(lastOK) >= l.ttl/2:
			return fmt.Errorf("%w: not renewed for %v: %v", ErrLost, l.now().Sub(lastOK).Round(time.Millisecond), err)
		}
	}
}
