package main

import (
	"context"
	"sync/atomic"
	"time"
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
	err = l.Wait(ctx, min(s.cfg.LeaseTTL/3, time.Second), func(holder string, err error) {
		hb.Beat(time.Now())
		sb.set("standby - the wallet's lease is held by " + holder)
		if time.Since(lastLog) < 30*time.Second {
			return
		}
		lastLog = time.Now()
		ev := log.Info()
		if err != nil {
			ev = log.Warn().Err(err)
		}
		ev.Str("holder", holder).Msg("standby: another process holds the wallet's lease")
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
		sb.set("standby - the wallet's lease was lost: " + keepErr.Error())
		return true, keepErr
	}
	return false, runErr
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
