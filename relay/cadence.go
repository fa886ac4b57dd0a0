package relay

import "time"

// The tracker works per block, not per timer (docs/design.md 4.2): it looks
// at the head often enough to see each new block soon after it arrives, and
// makes a pass (receipts, the node window, re-sends, the refill it wakes)
// when the head moved. CHAIN_POLL_INTERVAL is the bound: the head is looked
// at least that often, and a pass runs at least that often even when the
// head stands still (re-broadcasts, a node that lost its blocks).
//
// The block interval is learnt from the heads the tracker sees on the
// relay's clock, so Ethereum's 12 s, Polygon's 2 s and a rollup's 0.25 s
// all get a pass per block without a setting, at a cost of a few header
// reads per block while it has flights and none while it has none. A
// websocket endpoint (ws, wss) pushes its heads instead (newHeads,
// heads.go): each pushed head wakes the tracker at once, which then only
// waits for the bound, and falls back to polling while the subscription is
// down.

// headPollDivisor: the head is looked at this many times per block, so a
// pass follows a new block within a quarter of the block interval.
const headPollDivisor = 4

// minHeadPoll bounds how often the head is read, whatever the chain's
// block time.
const minHeadPoll = 50 * time.Millisecond

// firstHeadPoll is the head poll before any block interval is learnt: fast
// enough for one-second blocks; a slower chain is learnt within two blocks.
const firstHeadPoll = 250 * time.Millisecond

// pollDelay is how long the tracker waits before it looks at the head
// again: a fraction of the learnt block interval (firstHeadPoll while none
// is known), within minHeadPoll..bound (CHAIN_POLL_INTERVAL).
func pollDelay(interval, bound time.Duration) time.Duration {
	d := firstHeadPoll
	if interval > 0 {
		d = interval / headPollDivisor
	}
	return max(min(d, bound), min(minHeadPoll, bound))
}

// lookDelay is how long the tracker waits before it looks at the head again
// unless a pushed head wakes it first: with a live newHeads subscription
// only the bound (CHAIN_POLL_INTERVAL: a pass at least that often), else
// the poll of pollDelay.
func lookDelay(pushing bool, interval, bound time.Duration) time.Duration {
	if pushing {
		return bound
	}
	return pollDelay(interval, bound)
}

// firstResubscribe and maxResubscribe bound the wait before subscribing to
// newHeads again after a failed attempt: quick after a blip, and no more
// than one attempt every half minute while the endpoint refuses; the
// tracker polls the head meanwhile, so waiting costs only the push.
const (
	firstResubscribe = 500 * time.Millisecond
	maxResubscribe   = 30 * time.Second
)

// resubscribeDelay is the wait before the next newHeads subscription after
// failures attempts in a row failed: none after a subscription that was up
// dropped (failures 0), then doubling from firstResubscribe up to
// maxResubscribe.
func resubscribeDelay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := firstResubscribe
	for range failures - 1 {
		if d >= maxResubscribe/2 {
			return maxResubscribe
		}
		d *= 2
	}
	return d
}

// nextBlockInterval updates the learnt block interval with a new head:
// blocks is how many blocks the head moved, took how long on the relay's
// clock since the head last moved. One sample is its mean per block; the
// estimate moves a quarter of the way towards each sample, so one late
// look (a pass that took long) does not halve the cadence.
func nextBlockInterval(interval, took time.Duration, blocks uint64) time.Duration {
	if blocks == 0 || took <= 0 {
		return interval
	}
	sample := took / time.Duration(blocks)
	if interval <= 0 {
		return sample
	}
	return interval + (sample-interval)/4
}

// passDue reports whether the tracker makes a full pass now: the head
// moved since the last pass, or the last pass is bound (CHAIN_POLL_INTERVAL)
// old.
func passDue(head, lastPassHead uint64, sinceLastPass, bound time.Duration) bool {
	return head != lastPassHead || sinceLastPass >= bound
}
