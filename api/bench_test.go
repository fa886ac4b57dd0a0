package api

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkMonitor measures a full /api/monitor probe: a real HTTP client,
// the router, one XPENDING and one XLEN on a real redis-server. It also
// reports rpc-calls/op, which must stay 0: probes read the cached balance
// and never reach the RPC node, however often the uptime checker polls.
func BenchmarkMonitor(b *testing.B) {
	e := newEnv(b)
	client := e.srv.Client()
	url := e.srv.URL + "/api/monitor"
	before := e.bal.calls.Load()
	for b.Loop() {
		res, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	calls := e.bal.calls.Load() - before
	b.ReportMetric(float64(calls)/float64(b.N), "rpc-calls/op")
	if calls != 0 {
		b.Fatalf("%d BalanceAt calls during %d probes, want 0", calls, b.N)
	}
}

// BenchmarkMonitorParallel is the same probe from many clients at once;
// concurrent probes share one Redis round trip.
func BenchmarkMonitorParallel(b *testing.B) {
	e := newEnv(b)
	client := e.srv.Client()
	url := e.srv.URL + "/api/monitor"
	before := e.bal.calls.Load()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	calls := e.bal.calls.Load() - before
	b.ReportMetric(float64(calls)/float64(b.N), "rpc-calls/op")
	if calls != 0 {
		b.Fatalf("%d BalanceAt calls during %d probes, want 0", calls, b.N)
	}
}
