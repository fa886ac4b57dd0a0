package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// standby is what the monitor shows while this process waits for the
// wallet's lease: empty once it holds it.
type standby struct{ holder atomic.Value }

func (s *standby) set(h string) { s.holder.Store(h) }

// Status is "" when this process holds the lease, else who does.
func (s *standby) Status() string {
	h, _ := s.holder.Load().(string)
	return h
}

// fencedOptions is the key's queue options with its lease as the journal's
// fence (invariant 8): a relay whose process lost the lease can journal, and
// so broadcast, nothing.
func fencedOptions(opts stream.Options, l *lease.Lease) stream.Options {
	opts.Fence = l
	return opts
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

// runLeased runs the key's relay only while this process holds the key's
// lease (invariant 8): it waits in standby while another process holds it,
// beating the heartbeat so that a healthy standby passes the monitor (a
// zero-downtime deploy starts the new container beside the old one), takes
// the lease over the moment it is free (the old process released it on
// SIGTERM, or died and it expired after LEASE_TTL), and stops the relay as
// soon as the lease is lost. After a loss it goes back to standby, and a
// new relay recovers from the journal once the lease is taken again: a
// Redis failover that outlasts half the TTL costs a pause, not a restart.
func (s *service) runLeased(ctx context.Context, k *keyPart) error {
	for {
		lost, err := s.leaseTerm(ctx, k)
		if ctx.Err() != nil {
			return nil
		}
		if !lost {
			return err
		}
	}
}

// leaseTerm waits for the lease, runs a new relay while it is held, and
// releases it. lost reports that the lease was lost while relaying.
func (s *service) leaseTerm(ctx context.Context, k *keyPart) (lost bool, err error) {
	l, hb, sb, log := k.lease, k.heartbeat, k.standby, k.log
	var lastLog time.Time
	// Tries every TTL/6 (at most every second): a key gone with its holder
	// is taken half a TTL after it was first seen gone (lease.Wait), so the
	// takeover after a crash elsewhere stays within 2 x LEASE_TTL
	// (REDIS_QUEUE_CLAIM_IDLE's lower bound).
	var lastErr bool
	err = l.Wait(ctx, min(s.cfg.LeaseTTL/6, time.Second), func(holder string, err error) {
		hb.Beat(time.Now())
		sb.set(waitingStatus(holder, err))
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
	sb.set("")
	log.Info().Str("lease", l.Token()).Msg("wallet lease taken, relaying")
	r := k.build()
	k.relay.Store(r)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kept := make(chan error, 1)
	go func() {
		err := l.Keep(rctx)
		cancel() // a lost lease stops the relay at its next safe point
		kept <- err
	}()
	runErr := r.Run(rctx)
	cancel()
	keepErr := <-kept
	// Released after the relay's last safe point, on a context of its own:
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
		sb.set(lostStatus(keepErr))
		return true, keepErr
	}
	return false, runErr
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

// InFlight and the other figures of the key's current relay; zero values
// while none has run.
func (k *keyPart) InFlight() int {
	if r := k.relay.Load(); r != nil {
		return r.InFlight()
	}
	return 0
}

func (k *keyPart) NodeWindow() (held, window uint64) {
	if r := k.relay.Load(); r != nil {
		return r.NodeWindow()
	}
	return 0, 0
}

func (k *keyPart) HeldByUnknown() (uint64, bool) {
	if r := k.relay.Load(); r != nil {
		return r.HeldByUnknown()
	}
	return 0, false
}

func (k *keyPart) WaitingAtFeeCap() bool {
	if r := k.relay.Load(); r != nil {
		return r.WaitingAtFeeCap()
	}
	return false
}
