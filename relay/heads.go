package relay

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"
)

// headPusher is what the tracker needs to be woken by the node's new heads
// instead of polling for them; *chain.Client has it, and pushes over a
// ws or wss endpoint only (PushesHeads). The tracker finds it on its Chain
// by a type assertion, so a Chain without it is polled.
type headPusher interface {
	PushesHeads() bool
	SubscribeHeads(ctx context.Context, ch chan<- *types.Header) (ethereum.Subscription, error)
}

// headWatch keeps a newHeads subscription up while the tracker runs: each
// pushed head, and each change between up and down, wakes the tracker
// (woken), which then looks at the head and decides on a pass as it does
// after a poll (passDue). A subscription that fails or drops is made again
// after resubscribeDelay on the relay's clock; while it is down the tracker
// polls (lookDelay), so a dropped websocket costs the push, never a pass.
type headWatch struct {
	src   headPusher
	clock Clock
	log   zerolog.Logger
	wake  chan struct{} // capacity 1: wakes coalesce
	up    atomic.Bool
	done  sync.WaitGroup
}

// watchHeads starts the watch when the node pushes heads; nil when it
// does not (an http endpoint, or a Chain without SubscribeHeads).
func (r *tracker) watchHeads(ctx context.Context) *headWatch {
	src, ok := r.chain.(headPusher)
	if !ok || !src.PushesHeads() {
		return nil
	}
	w := &headWatch{src: src, clock: r.clock, log: r.log, wake: make(chan struct{}, 1)}
	w.done.Go(func() { w.run(ctx) })
	return w
}

// pushing reports whether the subscription is up; false for a nil watch.
func (w *headWatch) pushing() bool { return w != nil && w.up.Load() }

// woken is the channel the tracker waits on beside its timer; nil (never
// ready) for a nil watch.
func (w *headWatch) woken() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.wake
}

// wait returns once the watch has stopped (its ctx ended).
func (w *headWatch) wait() {
	if w != nil {
		w.done.Wait()
	}
}

func (w *headWatch) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run subscribes, follows the subscription until it ends, and subscribes
// again, until ctx ends. A failure is logged when the subscription goes
// down, not on every attempt; its error names no secret of CHAIN_RPC_URL
// (chain.Client scrubs it).
func (w *headWatch) run(ctx context.Context) {
	failures := 0
	for {
		if failures > 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.clock.After(resubscribeDelay(failures)):
			}
		}
		// Read at once, whatever the tracker does: go-ethereum's client
		// drops the connection of a subscriber that falls behind.
		heads := make(chan *types.Header, 16)
		sub, err := w.src.SubscribeHeads(ctx, heads)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if failures == 0 {
				w.log.Warn().Err(err).Msg("newHeads subscription failed, polling the head until it is back")
			}
			failures++
			continue
		}
		failures = 0
		w.up.Store(true)
		w.log.Info().Msg("newHeads subscription up, a pass follows every pushed head")
		w.poke() // heads may have come while it was down
		err = w.follow(ctx, sub, heads)
		sub.Unsubscribe()
		w.up.Store(false)
		w.poke() // back to polling at once
		if ctx.Err() != nil {
			return
		}
		w.log.Warn().Err(err).Msg("newHeads subscription dropped, polling the head until it is back")
	}
}

// follow wakes the tracker on every pushed head until the subscription
// ends (its error) or ctx does.
func (w *headWatch) follow(ctx context.Context, sub ethereum.Subscription, heads <-chan *types.Header) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-sub.Err():
			return err
		case <-heads:
			w.poke()
		}
	}
}
