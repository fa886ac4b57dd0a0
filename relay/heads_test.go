package relay_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/relay"
)

// startOn runs a relay on c as it is, without the chainProbe (which would
// hide chain.Client's SubscribeHeads), until the test ends; e.probe still
// counts its passes.
func (e *env) startOn(c relay.Chain) {
	e.t.Helper()
	e.run(c, e.queue)
}

// pushOnly sets a relay on a fake clock that does not move (no step: the
// env's waits leave it where it is) and a CHAIN_POLL_INTERVAL of an hour:
// nothing but a pushed head can make it look at the chain again.
func pushOnly(t *testing.T) *env {
	e := newEnv(t, envOptions{fakeClock: true, confirmations: 2})
	e.cfg.PollInterval, e.step = time.Hour, 0
	return e
}

// subscribed waits until the relay has logged its n-th newHeads
// subscription, moving the fake clock a second per look (a resubscription
// waits on the relay's clock).
func (e *env) subscribed(n int) {
	e.t.Helper()
	eventually(e.t, 20*time.Second, fmt.Sprintf("newHeads subscription number %d", n), func() bool {
		e.clock.Advance(time.Second)
		return strings.Count(e.log.String(), "newHeads subscription up") >= n
	})
}

// confirmedOnPushes enqueues n applications, waits for their broadcast,
// and seals a block at a time, each followed by a tracker pass without the
// clock moving, until the relay has confirmed and acknowledged them all,
// each created once.
func (e *env) confirmedOnPushes(n int) {
	e.t.Helper()
	// Counted before the enqueue: the relay may broadcast them before a
	// count read after it (a blocked read wakes on the XADD), and the wait
	// would then ask for n more than will ever come.
	submitted := int(metricValue(e.t, e, "depeg_relay_tx_submitted_total"))
	apps := e.enqueue(n)
	e.waitBroadcast(submitted + n)
	for range e.cfg.Confirmations {
		before := e.probe.passes.Load()
		e.chain.Commit()
		eventually(e.t, 20*time.Second, "a pass on the pushed head", func() bool { return e.probe.passes.Load() > before })
	}
	eventually(e.t, 20*time.Second, "all acknowledged", func() bool { return e.pending() == 0 })
	for _, a := range apps {
		if got := e.created(a.signatureID); got != 1 {
			e.t.Fatalf("application %s created %d times", a.entityID, got)
		}
	}
}

// TestPushedHeadsDrivePasses: on a websocket endpoint the tracker makes a
// pass on every new head the node pushes (newHeads), with neither a poll
// nor the CHAIN_POLL_INTERVAL bound able to: the relay's clock stands
// still. Polling the head, as over http, would never look again.
func TestPushedHeadsDrivePasses(t *testing.T) {
	e := pushOnly(t)
	ws, err := chain.Dial(t.Context(), e.chain.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	e.startOn(ws)
	e.subscribed(1)
	e.confirmedOnPushes(3)
}

// TestDroppedHeadsSubscriptionRecovers: a websocket cut under the relay
// ends its subscription; the relay polls meanwhile, subscribes again once
// the node is back, and its passes follow pushed heads again.
func TestDroppedHeadsSubscriptionRecovers(t *testing.T) {
	e := pushOnly(t)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "node", "127.0.0.1:0", strings.TrimPrefix(e.chain.WSURL, "ws://"))
	if err := srv.Collection.Add(p, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	ws, err := chain.Dial(t.Context(), "ws://"+p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	e.startOn(ws)
	e.subscribed(1)
	e.confirmedOnPushes(2)

	p.Stop() // closes the websocket and refuses new ones
	eventually(t, 20*time.Second, "the drop noticed", func() bool {
		return strings.Contains(e.log.String(), "newHeads subscription dropped")
	})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	e.subscribed(2)
	e.confirmedOnPushes(2)
}
