package chain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/devchain"
)

// TestSubscribeHeadsOverWebsocket: over ws every sealed block is pushed;
// over http the client says it cannot push, and a subscription fails.
func TestSubscribeHeadsOverWebsocket(t *testing.T) {
	dc, err := devchain.Start(devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	hc := dial(t, dc.URL)
	if hc.PushesHeads() {
		t.Error("an http endpoint says it pushes heads")
	}
	if _, err := hc.SubscribeHeads(ctx, make(chan *types.Header)); err == nil {
		t.Error("newHeads over http: want an error")
	}

	wc := dial(t, dc.WSURL)
	if !wc.PushesHeads() {
		t.Fatal("a ws endpoint says it cannot push heads")
	}
	heads := make(chan *types.Header, 4)
	sub, err := wc.SubscribeHeads(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		sealed := dc.Commit()
		select {
		case h := <-heads:
			if h.Hash() != sealed {
				t.Fatalf("pushed %s, sealed %s", h.Hash(), sealed)
			}
		case err := <-sub.Err():
			t.Fatalf("subscription ended: %v", err)
		case <-ctx.Done():
			t.Fatal("no head pushed")
		}
	}
	sub.Unsubscribe()
	if err, ok := <-sub.Err(); ok {
		t.Fatalf("after Unsubscribe, Err gave %v instead of closing", err)
	}
}

// pusher is an eth service with a newHeads subscription that is refused
// with a message echoing fail, or else accepted and never fed.
type pusher struct{ fail string }

func (p pusher) NewHeads(ctx context.Context) (*rpc.Subscription, error) {
	if p.fail != "" {
		return nil, echoError{"project " + p.fail + " may not subscribe"}
	}
	n, ok := rpc.NotifierFromContext(ctx)
	if !ok {
		return nil, rpc.ErrNotificationsUnsupported
	}
	return n.CreateSubscription(), nil
}

// TestSubscribeHeadsErrorsNeverShowTheKey: a refusal that echoes the key,
// and the error of a subscription whose websocket was closed, name no part of
// CHAIN_RPC_URL but its origin.
func TestSubscribeHeadsErrorsNeverShowTheKey(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			refusing := rpc.NewServer()
			t.Cleanup(refusing.Stop)
			if err := refusing.RegisterName("eth", pusher{fail: strings.Join(s.keys, " and ")}); err != nil {
				t.Fatal(err)
			}
			raw := s.build("ws://" + startNode(t, refusing.WebsocketHandler([]string{"*"})).host())
			_, err := dial(t, raw).SubscribeHeads(ctx, make(chan *types.Header))
			assertRedacted(t, err, "")

			accepting := rpc.NewServer()
			t.Cleanup(accepting.Stop)
			if err := accepting.RegisterName("eth", pusher{}); err != nil {
				t.Fatal(err)
			}
			n := startNode(t, accepting.WebsocketHandler([]string{"*"}))
			sub, err := dial(t, s.build("ws://"+n.host())).SubscribeHeads(ctx, make(chan *types.Header))
			if err != nil {
				t.Fatal(err)
			}
			accepting.Stop() // closes the websocket
			select {
			case err := <-sub.Err():
				assertRedacted(t, err, "")
			case <-ctx.Done():
				t.Fatal("a closed websocket did not end the subscription")
			}
		})
	}
}
