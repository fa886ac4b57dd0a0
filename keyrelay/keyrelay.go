// Package keyrelay is one key of the pool as this process runs it: the
// key's relay, built anew for each term of the key's lease and run only
// while this process holds it (package leased), stopped alone when the key
// can no longer sign (poolkeys.Halt), and the figures the monitor reads of
// whichever relay runs now. cmd/processor builds one Key per key of the
// pool from the configuration and runs them all with Run.
package keyrelay

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/leased"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/poolkeys"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

// Config is one key's parts, built by the caller.
type Config struct {
	Signer *chain.Signer // the key bound to the chain
	// Queue is the key's journal and reads, fenced by Lease (invariant 8:
	// a relay whose process lost the lease can journal, and so broadcast,
	// nothing).
	Queue *stream.Queue
	Lease *lease.Lease // keeps the key to this process while it relays
	// Halt stops this key's relay when its KMS key cannot sign any more;
	// nil never halts.
	Halt *poolkeys.Halt
	// Heartbeat is beaten while this process stands by for the lease, so
	// a healthy standby passes the monitor; the relay beats it while it
	// runs (Build gives it the same one).
	Heartbeat *monitor.Heartbeat
	Log       zerolog.Logger // carries the wallet
	// Build returns a new relay for each lease term (a relay recovers from
	// the journal when it starts).
	Build func() *relay.Relay
}

// Key is one key of the pool run by this process.
type Key struct {
	Signer *chain.Signer
	Queue  *stream.Queue
	halt   *poolkeys.Halt
	log    zerolog.Logger
	leased *leased.Runner
	relay  atomic.Pointer[relay.Relay] // the current term's, nil before the first
}

// New builds the key. It starts nothing.
func New(cfg Config) *Key {
	k := &Key{Signer: cfg.Signer, Queue: cfg.Queue, halt: cfg.Halt, log: cfg.Log}
	if k.halt == nil {
		k.halt = &poolkeys.Halt{}
	}
	k.leased = leased.New(leased.Config{Lease: cfg.Lease, Beat: cfg.Heartbeat.Beat, Log: cfg.Log,
		Build: func() lifecycle.Part {
			r := cfg.Build()
			k.relay.Store(r)
			return r
		}})
	return k
}

// Run runs every key's relay under its lease until ctx ends or one fails.
// A key halted because it cannot sign stops alone: its error is logged and
// the other keys go on (the pool hands its work on).
func Run(ctx context.Context, keys []*Key) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, k := range keys {
		eg.Go(func() error { return k.run(ctx) })
	}
	return eg.Wait()
}

func (k *Key) run(ctx context.Context) error {
	kctx, done := k.halt.Context(ctx)
	err := k.leased.Run(kctx)
	done()
	if err != nil {
		return fmt.Errorf("relay %s: %w", k.Signer.Address().Hex(), err)
	}
	if herr := k.halt.Err(); herr != nil && ctx.Err() == nil {
		k.log.Error().Err(herr).Msg("key stopped: it cannot sign; enable it or take it out of AWS_KMS_KEY_IDS")
	}
	return nil
}

// Status says whether this process relays the key or stands by, and for
// whom (leased.Runner.Status).
func (k *Key) Status() string { return k.leased.Status() }

// Entries and the other figures are the key's current relay's
// (relay.Relay's methods of the same names); zero values while none has
// run.
func (k *Key) Entries() (reading, sent int) {
	if r := k.relay.Load(); r != nil {
		return r.Entries()
	}
	return 0, 0
}

func (k *Key) InFlight() int {
	if r := k.relay.Load(); r != nil {
		return r.InFlight()
	}
	return 0
}

func (k *Key) NodeWindow() (held, window uint64) {
	if r := k.relay.Load(); r != nil {
		return r.NodeWindow()
	}
	return 0, 0
}

func (k *Key) HeldByUnknown() (uint64, bool) {
	if r := k.relay.Load(); r != nil {
		return r.HeldByUnknown()
	}
	return 0, false
}

func (k *Key) WaitingAtFeeCap() bool {
	if r := k.relay.Load(); r != nil {
		return r.WaitingAtFeeCap()
	}
	return false
}
