package chain

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
)

// PushesHeads reports whether the endpoint can push new heads: a websocket
// (ws, wss) can, plain HTTP cannot, and the relay then polls the head
// instead (docs/design.md 4.2).
func (c *Client) PushesHeads() bool {
	return c.ep != nil && (c.ep.url.Scheme == "ws" || c.ep.url.Scheme == "wss")
}

// SubscribeHeads subscribes to the node's newHeads: every new head is sent
// on ch until the subscription is unsubscribed or fails. The caller must
// read ch without delay: go-ethereum's client drops the whole connection
// when a subscriber falls too far behind. The subscription's error (a
// dropped websocket, the node restarting) ends it, and the caller
// subscribes again; the client re-dials the websocket on the next call.
// Neither the error returned nor the one on Err names more of
// CHAIN_RPC_URL than its origin.
//
// The subscribe request itself is bounded by subscribeTimeout, whatever
// ctx's deadline: a caller that subscribes for as long as it runs passes a
// ctx without one, and go-ethereum's client leaves the request it was
// writing when the websocket failed waiting for an answer that cannot come.
func (c *Client) SubscribeHeads(ctx context.Context, ch chan<- *types.Header) (ethereum.Subscription, error) {
	// EthSubscribe's ctx bounds the request only, not the subscription.
	ctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	sub, err := c.rpc.EthSubscribe(ctx, ch, "newHeads")
	if err != nil {
		return nil, fmt.Errorf("subscribe newHeads: %w", c.ep.scrubError(err))
	}
	s := &scrubbedSub{inner: sub, err: make(chan error, 1)}
	go s.relay(c.ep)
	return s, nil
}

// subscribeTimeout bounds a newHeads subscribe request: a live node answers
// it at once.
const subscribeTimeout = 10 * time.Second

// scrubbedSub is a subscription whose error is scrubbed of the URL's
// secrets (endpoint.scrubError) before anyone sees it.
type scrubbedSub struct {
	inner ethereum.Subscription
	err   chan error
}

// relay passes the inner subscription's error on, scrubbed, and closes
// Err once the inner one ended (Unsubscribe closes it).
func (s *scrubbedSub) relay(ep *endpoint) {
	defer close(s.err)
	if err, ok := <-s.inner.Err(); ok && err != nil {
		s.err <- fmt.Errorf("newHeads subscription: %w", ep.scrubError(err))
	}
}

func (s *scrubbedSub) Unsubscribe() { s.inner.Unsubscribe() }

func (s *scrubbedSub) Err() <-chan error { return s.err }
