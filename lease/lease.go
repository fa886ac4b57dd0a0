// Package lease keeps a signing key to one live process at a time
// (invariant 8; docs/design.md, "Invariants"): a Redis key with a TTL that
// its holder renews. A process that dies stops renewing, and the lease
// expires after its TTL (the next process takes it half a TTL later, see
// below); a process that stops gracefully releases it, so the next one takes
// over at once, and so does a process restarted on the same
// host after a crash (the holder's pid no longer runs). Whoever takes the
// lease takes the wallet's journal with it: the journal is keyed by wallet,
// not by process.
//
// The lease is also a fence: every journal write, and so every broadcast,
// runs in one script that checks the lease key holds this holder's token
// (stream.Options.Fence, which *Lease satisfies through Fence). A holder cut
// off from Redis, or paused past its TTL, can therefore sign nothing new once
// another process holds the key. Keep gives the lease up (cancels its work)
// once renewals have failed for half the TTL.
//
// A key Redis lost (FLUSHALL, a restart without persistence, a failover to a
// replica that missed the write) is set again by its live holder within one
// renewal interval (TTL/3). A waiter that finds a key gone therefore takes it
// only once it has seen it gone for longer than half the TTL (mayTakeMissing):
// by then the holder's own right to restore it, half the TTL since its last
// renewal, has run out. A graceful Release leaves the value Released instead
// of deleting the key, which a waiter takes at once.
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key is the lease key of a wallet (lower-case hex address). It shares the
// journal's hash tag (stream.Queue.JournalKey), so both live on one Redis
// Cluster slot.
func Key(wallet string) string { return "{depeg-relay:" + wallet + "}:lease" }

// ErrLost is Keep's error when the lease was taken over or could not be
// renewed in time: the holder must stop signing.
var ErrLost = errors.New("lease lost")

// ErrTakenOver is the ErrLost of a lease another process holds now (as
// against one this holder could not renew in time).
var ErrTakenOver = fmt.Errorf("%w: held by another process", ErrLost)

// Released is the value Release leaves in the lease key (for one TTL): the
// holder let go on purpose, so a waiter may take the key at once. A key that
// is simply gone may have been lost by Redis under a live holder, which is
// about to restore it (see mayTakeMissing).
const Released = "released"

// Lease is one process's claim on one wallet.
type Lease struct {
	rdb   redis.Cmdable
	key   string
	token string
	ttl   time.Duration
	now   func() time.Time

	restored atomic.Uint64
	// renewed is when this holder last took or renewed the lease (unix
	// nanoseconds); 0 while it does not hold it. Keep and the fence restore
	// a lost key only while it is younger than half the TTL.
	renewed atomic.Int64

	// What Wait has seen of the key, for mayTakeMissing.
	mu          sync.Mutex
	seen        bool      // a look found the key set (by anyone), or this holder held it
	absentSince time.Time // first of the current run of looks that found it gone
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

// TTL is the lease's time to live (LEASE_TTL).
func (l *Lease) TTL() time.Duration { return l.ttl }

// Token is this holder's value of the lease key.
func (l *Lease) Token() string { return l.token }

// renewEvery is Keep's renewal interval.
func (l *Lease) renewEvery() time.Duration { return max(l.ttl/3, 10*time.Millisecond) }

// MayRestore reports whether this holder may set its lease key again should
// Redis have lost it: it holds the lease and renewed it less than half the
// TTL ago, so the key cannot have expired and no waiter may have taken it
// since (a waiter waits longer than that, mayTakeMissing). Keep and the
// journal's fence (Fence) follow this one rule.
func (l *Lease) MayRestore() bool {
	at := l.renewed.Load()
	return at != 0 && l.now().Sub(time.Unix(0, at)) < l.ttl/2
}

// Fence is what a fenced journal write checks (stream.Options.Fence): the
// lease key must hold token, or be gone while mayRestore, in which case the
// write sets it again for ttl.
func (l *Lease) Fence() (key, token string, ttl time.Duration, mayRestore bool) {
	return l.key, l.token, l.ttl, l.MayRestore()
}

func (l *Lease) markRenewed() { l.renewed.Store(l.now().UnixNano()) }

// markHeld notes that this holder has the lease now.
func (l *Lease) markHeld() {
	l.markRenewed()
	l.mu.Lock()
	l.seen, l.absentSince = true, time.Time{}
	l.mu.Unlock()
}

// mayTakeMissing decides whether a waiter may take a lease key it finds
// gone. A live holder whose key Redis lost sets it again at its next renewal
// (every TTL/3), and may do so until half the TTL has passed since its last
// renewal, which came before the loss. So the waiter takes a gone key only
// once it has seen it gone, look after look, for longer than half the TTL
// (absentSince is the first of those looks): then that holder can no longer
// restore it, and a holder alive and connected would have. A waiter that has
// never seen the key set (its first look) takes it at once: a process that
// starts on a fresh Redis does not wait, and should a holder be alive after
// all, the fence keeps it from journaling (and so from broadcasting) anything
// more, and its Keep stops it.
func mayTakeMissing(seen bool, absentSince, now time.Time, ttl time.Duration) bool {
	if !seen {
		return true
	}
	return !absentSince.IsZero() && now.Sub(absentSince) > ttl/2
}

// acquireScript takes or renews the lease (KEYS[1]; ARGV[1] token, ARGV[2]
// TTL in ms, ARGV[3] '1' when a missing key may be taken). It answers {1}
// when the token holds the key now, {0} when the key is gone and was left
// so, and {0, value} when someone else holds it.
var acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
if v == '` + Released + `' or (not v and ARGV[3] == '1') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
if not v then
  return {0}
end
return {0, v}
`)

// TryAcquire takes the lease if nobody holds it (or this holder already
// does); it reports whether this holder has it now. A released key is taken
// at once; a key that is gone only as mayTakeMissing allows.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	ok, _, err := l.tryAcquire(ctx)
	return ok, err
}

// tryAcquire is TryAcquire that also returns who holds the key ("" when it
// is gone).
func (l *Lease) tryAcquire(ctx context.Context) (ok bool, holder string, err error) {
	now := l.now()
	l.mu.Lock()
	take := mayTakeMissing(l.seen, l.absentSince, now, l.ttl)
	l.mu.Unlock()
	arg := "0"
	if take {
		arg = "1"
	}
	res, err := acquireScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds(), arg).Slice()
	if err != nil {
		return false, "", fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	if len(res) > 0 && res[0] == int64(1) {
		l.markHeld()
		return true, "", nil
	}
	if len(res) > 1 {
		holder, _ = res[1].(string)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case holder != "":
		l.seen, l.absentSince = true, time.Time{}
	case l.absentSince.IsZero():
		l.absentSince = now
	}
	return false, holder, nil
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

// releaseScript replaces the lease by the Released marker (for ARGV[2] ms)
// only for its holder.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], '` + Released + `', 'PX', ARGV[2])
  return 1
end
return 0
`)

// Renew extends the lease by its TTL; false means someone else holds it.
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	if n == 1 {
		l.markRenewed()
	}
	return n == 1, nil
}

// Release gives the lease up if this holder has it, so the next process
// takes over without waiting for the TTL: the key then holds Released for
// one TTL, which a waiter takes at once. From here on this holder neither
// restores the key nor passes the fence.
func (l *Lease) Release(ctx context.Context) error {
	l.renewed.Store(0)
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// Holder is the token of whoever holds the lease, "" when nobody does (the
// key is gone or Released).
func (l *Lease) Holder(ctx context.Context) (string, error) {
	v, err := l.rdb.Get(ctx, l.key).Result()
	if errors.Is(err, redis.Nil) || v == Released {
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
	l.markHeld()
	return true, nil
}

// HolderOf names the process a lease key's value says holds it, "host/pid"
// (the random part is the fence's, not for people), and whether one does:
// an empty key or Released means nobody; a value of another shape is "held"
// by someone this version cannot name.
func HolderOf(token string) (holder string, held bool) {
	if token == "" || token == Released {
		return "", false
	}
	if parts := strings.Split(token, "/"); len(parts) == 3 {
		return parts[0] + "/" + parts[1], true
	}
	return "", true
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
// period. waiting is called on every failed try (for the log and the
// monitor) with the current holder, "" when the key is gone (then this
// waiter gives a live holder time to restore it, mayTakeMissing), or with
// the error that kept it from reading the key (Redis unreachable: nothing
// is known about the holder then). It must not block.
func (l *Lease) Wait(ctx context.Context, period time.Duration, waiting func(holder string, err error)) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		ok, holder, err := l.tryAcquire(ctx)
		if ok {
			return nil
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
// Restored counts those restorations. After ErrLost this holder neither
// restores the key nor passes the fence until it takes the lease again.
func (l *Lease) Keep(ctx context.Context) error {
	every := l.renewEvery()
	t := time.NewTicker(every)
	defer t.Stop()
	if l.renewed.Load() == 0 {
		l.markRenewed() // called right after taking the lease
	}
	lastOK := time.Unix(0, l.renewed.Load())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		c, cancel := context.WithTimeout(ctx, every)
		restore := "0"
		if l.MayRestore() {
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
			l.markRenewed()
			lastOK = time.Unix(0, l.renewed.Load())
		case err == nil:
			l.renewed.Store(0)
			return fmt.Errorf("%w (%s)", ErrTakenOver, l.key)
		case ctx.Err() != nil:
			return nil
		case l.now().Sub(lastOK) >= l.ttl/2:
			l.renewed.Store(0)
			return fmt.Errorf("%w: not renewed for %v: %w", ErrLost, l.now().Sub(lastOK).Round(time.Millisecond), err)
		}
	}
}
