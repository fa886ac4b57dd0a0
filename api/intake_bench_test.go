package api_test

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/frontend"
)

// BenchmarkPostApplication posts valid, distinct applications from
// concurrent clients to the real router, intake, redis-server and EVM (over
// HTTP JSON-RPC), without the relay. It reports requests/s, p50/p99 latency
// and the RPC calls per accepted application (the domain is read once, so
// this tends to 1: the simulation).
//
//	go test -run '^$' -bench PostApplication -benchtime 2000x ./api/
func BenchmarkPostApplication(b *testing.B) {
	benchPosts(b, func(g *gateway, n int) [][]byte {
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = mustJSON(b, body(g.newApp(1)))
		}
		return bodies
	}, http.StatusOK)
}

// BenchmarkPostInvalidSignature is the flood case: well-formed posts whose
// signature is not the policy holder's. They are refused before any RPC
// call or Redis command, which is what keeps a flood off the relay's node
// and Redis.
func BenchmarkPostInvalidSignature(b *testing.B) {
	benchPosts(b, func(g *gateway, n int) [][]byte {
		other, _ := crypto.GenerateKey()
		bodies := make([][]byte, n)
		for i := range bodies {
			app := g.newApp(1)
			holder := app.PolicyHolder
			if err := frontend.Sign(other, g.chain.ChainID, g.chain.Helper, app); err != nil {
				b.Fatal(err)
			}
			app.PolicyHolder = holder
			bodies[i] = mustJSON(b, body(app))
		}
		return bodies
	}, http.StatusBadRequest)
}

func benchPosts(b *testing.B, build func(*gateway, int) [][]byte, want int) {
	g := newGateway(b, gwOptions{})
	// Warm the domain cache and the connection pool outside the timing.
	g.post(body(g.newApp(1)))
	bodies := build(g, b.N)
	calls0 := g.rpc.calls.Load()
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	client := g.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.SetParallelism(8) // 16 clients on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 64)
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, g.srv.URL+"/api/application", bytesReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			drain(res)
			local = append(local, time.Since(t0))
			if res.StatusCode != want {
				b.Errorf("status %d, want %d", res.StatusCode, want)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if want == http.StatusOK {
		b.ReportMetric(float64(g.rpc.calls.Load()-calls0)/float64(len(lat)), "rpc/accepted")
	} else {
		b.ReportMetric(float64(g.rpc.calls.Load()-calls0)/float64(len(lat)), "rpc/refused")
	}
}
