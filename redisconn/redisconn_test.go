package redisconn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/redisconn"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

const testMnemonic = "test test test test test test test test test test test junk"

func TestOpenNeverEchoesTheURL(t *testing.T) {
	const secret = "s3cr3t-pa55word"
	for _, tc := range []struct{ mode, url string }{
		{redisconn.Single, "redis://:" + secret + "@127.0.0.1:6379/notanumber"},
		{redisconn.Single, "ftp://:" + secret + "@host"},
		{redisconn.Sentinel, "redis://:" + secret + "@127.0.0.1:26379"}, // no master_name
		{redisconn.Sentinel, "redis://:" + secret + "@127.0.0.1:26379?master_name=m&bogus=1"},
		{redisconn.Cluster, "redis://:" + secret + "@127.0.0.1:7000?nonsense=" + secret},
		{"primary-replica", "redis://:" + secret + "@127.0.0.1:6379"},
	} {
		_, err := redisconn.Open(tc.mode, tc.url)
		if err == nil {
			t.Fatalf("Open(%s, ...) accepted a bad URL", tc.mode)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q carries the password", err)
		}
	}
	c, err := redisconn.Open(redisconn.Cluster, "redis://127.0.0.1:7000?addr=127.0.0.1:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("cluster mode gave %T", c)
	}
}

// TestRelayOnCluster runs the relay end to end on a real three-master Redis
// Cluster: the frontend's keys carry no hash tag and land on different
// slots, the relay's journal and quarantine share one; pipelines across
// slots are split by the cluster client and no script spans slots.
func TestRelayOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	rdb, err := redisconn.Open(redisconn.Cluster, cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	runRelay(t, rdb, 8)
}

// TestSentinelFailover: a master, a replica and three sentinels; the queue's
// client follows the sentinels to the promoted replica when the master is
// killed, and the consumer group's work goes on there.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinels(t)
	rdb, err := redisconn.Open(redisconn.Sentinel, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ctx := t.Context()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor", Consumer: "c1",
		DeadLetter: "application:signatures:dead", Wallet: "0xabc"}
	q := stream.NewQueue(rdb, keys)
	if err := q.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Stream, Values: map[string]any{stream.FieldEntityID: "before"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	// WAIT makes the write reach the replica before the master dies: an
	// asynchronous replica may lose the last writes otherwise (see the
	// README's Redis section for what the relay does about that).
	if err := rdb.Do(ctx, "WAIT", 1, 2000).Err(); err != nil {
		t.Fatal(err)
	}
	old := s.Master.Addr()
	s.Master.Kill()
	poll.UntilNil(t, 30*time.Second, "the sentinels promoting the replica", func() error {
		addr, err := s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if addr == old {
			return fmt.Errorf("master still %s", addr)
		}
		return nil
	})
	// The same client goes on against the new master.
	var entries []stream.Entry
	poll.UntilNil(t, 30*time.Second, "the queue readable after the failover", func() error {
		var err error
		if entries, err = q.ReadNew(ctx, 10, 100*time.Millisecond); err != nil {
			return err
		}
		if len(entries) == 0 {
			return errors.New("no entry read")
		}
		return nil
	})
	if entries[0].ID != first || entries[0].EntityID != "before" {
		t.Fatalf("read %+v after failover, want the entry written before it", entries)
	}
	if err := q.Ack(ctx, stream.Settled{EntryID: first}); err != nil {
		t.Fatal(err)
	}
	if _, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Stream, Values: map[string]any{stream.FieldEntityID: "after"}}).Result(); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	p, err := rdb.XPending(ctx, keys.Stream, keys.Group).Result()
	if err != nil || p.Count != 0 {
		t.Fatalf("pending after ack on the new master: %+v, %v", p, err)
	}
}

// runRelay runs the real relay on rdb and an embedded chain, enqueues n
// applications like the frontend and waits until each is created once and
// acknowledged.
func runRelay(t *testing.T, rdb redis.UniversalClient, n int) {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{wallet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "depeg-backend-processor-consumer", DeadLetter: "application:signatures:dead",
		Wallet: strings.ToLower(wallet.Hex())}
	queue := stream.NewQueue(rdb, keys)
	var sids [][32]byte
	for range n {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := frontend.Enqueue(t.Context(), rdb, keys.Stream, frontend.NewEntityID(), frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
		sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
		sids = append(sids, sid)
	}
	// config's defaults, with the cadence of a test: blocks every 100 ms.
	cfg := relay.Settings(configtest.Defaults(t, dc.URL, dc.Product, testMnemonic))
	cfg.Confirmations, cfg.MaxInFlight = 2, 16
	cfg.ReadBlock, cfg.ErrorBackoff, cfg.BalanceTooLowWait = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	cfg.PollInterval, cfg.RebroadcastInterval = 25*time.Millisecond, 2*time.Second
	r := relay.New(cfg, zerolog.Nop(), client, queue, chain.NewSigner(key, dc.ChainID), chain.NewProduct(dc.Product),
		monitor.NewMetrics(prometheus.NewRegistry()), &monitor.Heartbeat{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	done := make(chan error, 1)
	go func() { defer wg.Done(); done <- r.Run(ctx) }()
	go func() { defer wg.Done(); dc.Produce(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("relay: %v", err)
		}
	})
	// The journal is part of the wait: the relay forgets a confirmed
	// transaction's record after it acknowledges the entry (the ack
	// pipeline, then the HDEL), so a read right after the last ack can
	// still find it. A record that is never forgotten times the wait out.
	poll.UntilNil(t, 60*time.Second, "every application created once, acknowledged and forgotten", func() error {
		p, perr := rdb.XPending(t.Context(), keys.Stream, keys.Group).Result()
		created := 0
		for _, sid := range sids {
			if c, err := dc.ApplicationsBySignatureID(t.Context(), sid); err == nil && c == 1 {
				created++
			}
		}
		if perr != nil || p.Count != 0 || created != n {
			return fmt.Errorf("%d of %d created, pending %+v (%v)", created, n, p, perr)
		}
		if recs, err := queue.Journal(t.Context()); err != nil || len(recs) != 0 {
			return fmt.Errorf("journal %v (%v): want empty once all are acknowledged", recs, err)
		}
		return nil
	})
	for _, sid := range sids {
		if c, _ := dc.ApplicationsBySignatureID(t.Context(), sid); c != 1 {
			t.Fatalf("application created %d times", c)
		}
	}
}
