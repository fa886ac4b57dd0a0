package api_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/frontend"
)

// BenchmarkRelayUnderFlood measures the relay's own work (applications the
// frontend wrote directly, confirmed on chain) with and without a flood of
// invalid posts to the intake in the same process: the block fill (created
// applications per non-empty block) and the time until all are confirmed.
// The flood must not slow the relay: refused posts cost no RPC call and no
// Redis command, only CPU.
//
//	go test -run '^$' -bench RelayUnderFlood -benchtime 1x ./api/
func BenchmarkRelayUnderFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				relayUnderFlood(b, flood)
			}
		})
	}
}

func relayUnderFlood(b *testing.B, flood bool) {
	const apps, block = 300, 200 * time.Millisecond
	b.StopTimer()
	g := newGateway(b, gwOptions{})
	ctx := context.Background()
	ids := make([]string, apps)
	for i := range ids {
		ids[i] = frontend.NewEntityID()
		if _, err := frontend.Enqueue(ctx, g.rdb, g.keys.Stream, ids[i], frontend.Fields(g.newApp(1))); err != nil {
			b.Fatal(err)
		}
	}
	other, _ := crypto.GenerateKey()
	bad := make([][]byte, 256)
	for i := range bad {
		app := g.newApp(1)
		holder := app.PolicyHolder
		_ = frontend.Sign(other, g.chain.ChainID, g.chain.Helper, app)
		app.PolicyHolder = holder
		bad[i] = mustJSON(b, body(app))
	}
	head0, err := g.client.BlockNumber(ctx)
	if err != nil {
		b.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var posted atomic.Int64
	if flood {
		client := g.srv.Client()
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest(http.MethodPost, g.srv.URL+"/api/application", bytesReader(bad[i%len(bad)]))
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						return
					}
					drain(res)
					posted.Add(1)
				}
			}()
		}
	}
	b.StartTimer()
	start := time.Now()
	g.startRelayWith(512)
	g.produce(block)
	eventually(b, 2*time.Minute, "all confirmed", func() bool {
		n, err := g.chain.ApplicationCount(ctx)
		return err == nil && n >= apps
	})
	took := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()

	head, err := g.client.BlockNumber(ctx)
	if err != nil {
		b.Fatal(err)
	}
	logs, err := g.client.FilterLogs(ctx, g.product.CreatedQuery(head0+1, head))
	if err != nil {
		b.Fatal(err)
	}
	perBlock := map[uint64]int{}
	for _, l := range logs {
		perBlock[l.BlockNumber]++
	}
	b.ReportMetric(float64(len(logs))/float64(max(len(perBlock), 1)), "apps/block")
	b.ReportMetric(took.Seconds(), "s-to-confirm-all")
	b.ReportMetric(float64(len(perBlock)), "blocks-used")
	if flood {
		b.ReportMetric(float64(posted.Load())/took.Seconds(), "flood-req/s")
	}
}
