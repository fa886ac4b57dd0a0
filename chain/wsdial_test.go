package chain_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// TestWebsocketErrorsNeverShowTheKey is TestClientErrorsNeverShowTheKey
// over ws: a JSON-RPC error echoing the URL, of a call, a batch and a
// batch's calls, keeps its code and data but not the keys; a refused dial
// names the host, a refused handshake its status only. Dial itself never fails: the
// node is reached by the first call.
func TestWebsocketErrorsNeverShowTheKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	unauthorized := startNode(t, echo(http.StatusUnauthorized))
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			_, err := dial(t, s.build("ws://"+refused)).ChainID(t.Context())
			assertRedacted(t, err, refused)
			_, err = dial(t, s.build("ws://"+unauthorized.host())).ChainID(t.Context())
			assertRedacted(t, err, "")

			var echoed string
			n := startNode(t, rpcServer(t, eth{fail: &echoed}).WebsocketHandler([]string{"*"}))
			raw := s.build("ws://" + n.host())
			u, _ := url.Parse(raw)
			pass, _ := u.User.Password()
			echoed = strings.Join([]string{raw, u.Path, u.RawQuery, u.User.String(), pass}, " ")
			c := dial(t, raw)
			_, err = c.ChainID(t.Context())
			assertRedacted(t, err, "")
			var re rpc.Error
			var de rpc.DataError
			if !errors.As(err, &re) || re.ErrorCode() != -32099 || !errors.As(err, &de) {
				t.Errorf("JSON-RPC error lost its code or data: %#v", err)
			} else if data := fmt.Sprint(de.ErrorData()); strings.Contains(data, s.keys[0]) || !strings.Contains(data, "over its limit") {
				t.Errorf("error data %q", data)
			}
			_, err = c.Receipts(t.Context(), someHashes)
			assertRedacted(t, err, "")
			_, errs, err := c.EstimateGasBatch(t.Context(), []ethereum.CallMsg{{}, {}})
			if err != nil || len(errs) != 2 {
				t.Fatalf("estimate batch: %v %v", errs, err)
			}
			for _, e := range errs {
				assertRedacted(t, e, "")
				if chain.AsRevert(e) == nil {
					t.Errorf("scrubbed revert no longer recognised: %v", e)
				}
			}
		})
	}
}

// TestWebsocketWaitsForTheNode: Dial over ws succeeds with the node down;
// calls fail while it is down and succeed once it is up, without a new
// Dial; a websocket dropped mid-run (toxiproxy closes it and refuses new
// ones) fails calls until the node is back, then calls succeed again on a
// new websocket, and a newHeads subscription can be made on it.
func TestWebsocketWaitsForTheNode(t *testing.T) {
	dc, err := devchain.Start(devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "node", fmt.Sprintf("127.0.0.1:%d", freeport.Get(t)), strings.TrimPrefix(dc.WSURL, "ws://"))
	if err := srv.Collection.Add(p, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)

	c := dial(t, "ws://"+p.Listen)
	if _, err := c.ChainID(t.Context()); err == nil {
		t.Fatal("chain id with the node down: want an error")
	}
	if _, err := c.ChainID(t.Context()); err == nil {
		t.Fatal("chain id with the node down, twice: want an error")
	}
	// Each call has its deadline, as the relay's do (RPC_TIMEOUT): a call
	// written just before go-ethereum's client saw the websocket fail is
	// left waiting for an answer that cannot come (rpc's handler spares
	// the request in flight), and fails at its deadline; the call after it
	// dials again.
	answers := func(want bool) func() error {
		return func() error {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := c.ChainID(ctx)
			switch {
			case want && err != nil:
				return err
			case !want && err == nil:
				return errors.New("still answers")
			}
			return nil
		}
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	poll.UntilNil(t, 10*time.Second, "the node answers once up", answers(true))

	p.Stop() // closes the websocket and refuses new ones
	poll.UntilNil(t, 10*time.Second, "calls fail with the websocket cut", answers(false))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	poll.UntilNil(t, 10*time.Second, "the node answers again", answers(true))
	sub, err := c.SubscribeHeads(t.Context(), make(chan *types.Header, 1))
	if err != nil {
		t.Fatalf("subscribe after the redial: %v", err)
	}
	sub.Unsubscribe()
}

// silent is an eth service whose newHeads subscribe request is never
// answered (until the test ends).
type silent struct{ until chan struct{} }

func (s silent) NewHeads(context.Context) (*rpc.Subscription, error) {
	<-s.until
	return nil, errors.New("too late")
}

// TestSubscribeHeadsIsBounded: a subscribe request the node never answers
// fails within subscribeTimeout (10 s) even when the caller's ctx has no
// deadline, as the relay's does.
func TestSubscribeHeadsIsBounded(t *testing.T) {
	until := make(chan struct{})
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", silent{until}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	t.Cleanup(func() { close(until) })
	c := dial(t, "ws://"+startNode(t, srv.WebsocketHandler([]string{"*"})).host())
	done := make(chan error, 1)
	go func() {
		_, err := c.SubscribeHeads(context.Background(), make(chan *types.Header))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("subscribe: %v, want a deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a subscribe request the node never answers is still waiting after 30 s")
	}
}
