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

// runLeased runs the relay only while this process holds the wallet's
// lease (invariant 8): it waits in standby while another process holds it,
// beating the heartbeat so that a healthy standby passes the monitor (a
// zero-downtime deploy starts the new container beside the old one), takes
// the lease over the moment it is free (the old process released it on
// SIGTERM, or died and it expired after LEASE_TTL), and stops the relay as
// soon as the lease is lost. A lost lease is an error: the process exits
// and comes back in standby, rather than sign beside the new holder.
func (s *service) runLeased(ctx context.Context, k *keyPart) error {
	l, hb, sb, log := k.lease, k.heartbeat, k.standby, k.log
	var lastLog time.Time
	err := l.Wait(ctx, min(s.cfg.LeaseTTL/3, time.Second), func(holder string, err error) {
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
		return nil // ctx ended while waiting
	}
	sb.set("")
	log.Info().Str("lease", l.Token()).Msg("wallet lease taken, relaying")
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kept := make(chan error, 1)
	go func() {
		err := l.Keep(rctx)
		cancel() // a lost lease stops the relay at its next safe point
		kept <- err
	}()
	runErr := k.relay.Run(rctx)
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
		log.Error().Err(keepErr).Msg("wallet lease lost, stopped relaying")
		return keepErr
	}
	return runErr
}
