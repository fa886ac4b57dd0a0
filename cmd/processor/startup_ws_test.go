package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
)

// TestStartsWithTheWebsocketNodeDown is TestStartsInAnyOrder's node-down
// case over a ws CHAIN_RPC_URL: the binary does not exit, the monitor
// answers 500 naming the chain meanwhile, and once the node comes up (on
// the port that refused it) the same process turns 200 and relays an
// application that waited in the stream.
func TestStartsWithTheWebsocketNodeDown(t *testing.T) {
	w := newStartWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.dc.Produce(ctx, 200*time.Millisecond) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	p := proctest.Start(t, w.bin, proctest.Options{Name: "ws-node-down", Env: []string{
		"PORT=" + fmt.Sprint(freeport.Get(t)),
		"REDIS_URL=" + w.redis.URL(),
		fmt.Sprintf("CHAIN_RPC_URL=ws://127.0.0.1:%d", w.nodePort),
		"DEPEG_PRODUCT_ADDRESS=" + w.dc.Product.Hex(),
		"PROCESSOR_MNEMONIC=" + testMnemonic,
		"ERROR_TIMEOUT=300", "RPC_TIMEOUT=5000", "SHUTDOWN_TIMEOUT=5000",
		"CHAIN_POLL_INTERVAL=200", "REDIS_READ_BLOCK_TIMEOUT=500",
	}})
	monitorSays(t, p, 15*time.Second, 500, map[string]string{"chain": "error - chain: ", "redis": "ok"})
	// Several ERROR_TIMEOUTs later it still waits, and says why.
	monitorSays(t, p, 10*time.Second, 500, map[string]string{"chain": "error - chain: connection refused since ", "redis": "ok"})

	app, err := frontend.NewSigned(w.dc.ChainID, w.dc.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := frontend.Enqueue(t.Context(), w.redis.Client(), "application:signatures", frontend.NewEntityID(), frontend.Fields(app)); err != nil {
		t.Fatal(err)
	}
	sid, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		t.Fatal(err)
	}

	w.openNode()
	monitorSays(t, p, 20*time.Second, 200, map[string]string{"redis": "ok", "balance": "ok", "processor": "ok", "nonAckPendingTx": "ok"})
	poll.Until(t, 30*time.Second, "the application created on chain", func() bool {
		n, err := w.dc.ApplicationsBySignatureID(t.Context(), sid)
		return err == nil && n == 1
	})
	stopsCleanly(t, p)
}
