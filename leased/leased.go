// Package leased runs a part only while this process holds a lease
// (invariant 8; docs/design.md, "Invariants"). It owns the loop around a
// relay's lease term: stand by while another process holds the key's lease,
// take it over the moment it is free, run a part built anew for the term, and
// stop that part as soon as the lease is lost. Package lease owns the Redis
// key and its rules; package keyrelay builds a Runner per key of the pool.
package leased

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/monitor"
)

// Lease is what a Runner needs of a lease (*lease.Lease).
type Lease interface {
	Wait(ctx context.Context, period time.Duration, waiting func(holder string, err error)) error
	Keep(ctx context.Context) error
	Release(ctx context.Context) error
	Token() string
	TTL() time.Duration
}

// Config is a Runner's parts.
type Config struct {
	Lease Lease
	// Build returns a new part for each lease term (a relay recovers from
	// the journal when it starts).
	Build func() lifecycle.Part
	// Beat is called on every try while standing by, so that a healthy
	// standby passes the monitor (a zero-downtime deploy starts the new
	// container beside the old one). Optional.
	Beat func(time.Time)
	Log  zerolog.Logger
}

// Runner runs one part under one lease.
type Runner struct {
	cfg    Config
	status atomic.Value // string
}

// New returns a Runner. It starts nothing.
func New(cfg Config) *Runner { return &Runner{cfg: cfg} }

// Status is the monitor's lease line: "" while this process holds the
// lease and runs the part, else who holds it or why it is not held.
func (r *Runner) Status() string {
	s, _ := r.status.Load().(string)
	return s
}

func (r *Runner) setStatus(s string) { r.status.Store(s) }

// Run runs the part only while this process holds the lease, until ctx ends
// or the part ends on its own (its error is returned). It takes the lease
// over the moment it is free (the old process released it on SIGTERM, or
// died and it expired after LEASE_TTL) and closes the part as soon as the
// lease is lost. After a loss it goes back to standby, and a new part is
// built once the lease is taken again: a Redis failover that outlasts half
// the TTL costs a pause, not a restart.
func (r *Runner) Run(ctx context.Context) error {
	for {
		lost, err := r.term(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !lost {
			return err
		}
	}
}

// pollPeriod is how often a standby tries the lease: every TTL/6, at most
// every second. A key gone with its holder is taken half a TTL after it was
// first seen gone (lease.Wait), so the takeover after a crash elsewhere
// stays within 2 x LEASE_TTL (REDIS_QUEUE_CLAIM_IDLE's lower bound).
func pollPeriod(ttl time.Duration) time.Duration { return min(ttl/6, time.Second) }

// term waits for the lease, runs a new part while it is held, and releases
// it. lost reports that the lease was lost while the part ran.
func (r *Runner) term(ctx context.Context) (lost bool, err error) {
	l, log := r.cfg.Lease, r.cfg.Log
	var lastLog time.Time
	var lastErr bool
	err = l.Wait(ctx, pollPeriod(l.TTL()), func(holder string, err error) {
		if r.cfg.Beat != nil {
			r.cfg.Beat(time.Now())
		}
		r.setStatus(waitingStatus(holder, err))
		if time.Since(lastLog) < 30*time.Second && (err != nil) == lastErr {
			return
		}
		lastLog, lastErr = time.Now(), err != nil
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("redis unreachable: cannot read the wallet's lease")
		case holder == "":
			log.Warn().Msg("standby: the wallet's lease key is gone, waiting for its holder to set it again")
		default:
			log.Info().Str("holder", holder).Msg("standby: another process holds the wallet's lease")
		}
	})
	if err != nil {
		return false, nil // ctx ended while waiting
	}
	r.setStatus("")
	log.Info().Str("lease", l.Token()).Msg("wallet lease taken, relaying")
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kept := make(chan error, 1)
	go func() {
		err := l.Keep(kctx)
		cancel() // a lost lease stops the part at its next safe point
		kept <- err
	}()
	runErr := runPart(ctx, kctx, r.cfg.Build())
	cancel()
	keepErr := <-kept
	// Released after the part's last safe point, on a context of its own:
	// the next process then starts at once instead of after LEASE_TTL.
	rc, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer rcancel()
	if err := l.Release(rc); err != nil {
		log.Warn().Err(err).Msg("release wallet lease failed; it expires after LEASE_TTL")
	} else if keepErr == nil {
		log.Info().Msg("wallet lease released")
	}
	if keepErr != nil {
		log.Error().Err(keepErr).Msg("wallet lease lost, stopped relaying; back in standby")
		r.setStatus(lostStatus(keepErr))
		return true, keepErr
	}
	return false, runErr
}

// runPart starts p and closes it once it ended on its own, ctx ended, or
// the lease was lost (kctx ends when Keep returns, see term), and returns
// Close's error: the part's own failure, nil when it was stopped.
func runPart(ctx, kctx context.Context, p lifecycle.Part) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	var done <-chan struct{}
	if d, ok := p.(lifecycle.Doner); ok {
		done = d.Done()
	}
	select {
	case <-done:
	case <-kctx.Done():
	}
	return p.Close()
}

// waitingStatus is the monitor's lease line for one failed try of
// lease.Wait. Redis unreachable is said as such: nothing is known of the
// holder then, and calling it a standby would hide the outage. The error
// shows only as its category (public answer); the log has it whole.
func waitingStatus(holder string, err error) string {
	switch {
	case err != nil:
		return "redis unreachable - cannot read the wallet's lease: " + monitor.ErrorCategory(err)
	case holder == "":
		return "standby - the wallet's lease key is gone (redis lost it?); waiting for its holder to set it again"
	}
	return "standby - the wallet's lease is held by " + holder
}

// lostStatus is the monitor's lease line after Keep gave the lease up: its
// error whole would put the lease key and Redis's error text in a public
// answer.
func lostStatus(err error) string {
	if errors.Is(err, lease.ErrTakenOver) {
		return "standby - the wallet's lease was taken over by another process"
	}
	return "standby - the wallet's lease was lost, not renewed in time: " + monitor.ErrorCategory(err)
}
