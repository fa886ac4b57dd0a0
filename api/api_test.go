package api

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/logbuf"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/monitor"
)

const (
	streamKey = "application:signatures"
	group     = "depeg-backend-processor"
)

// fakeBalance counts BalanceAt calls so tests can prove probes make none.
type fakeBalance struct {
	wei   atomic.Pointer[big.Int]
	calls atomic.Int64
}

func (f *fakeBalance) BalanceAt(context.Context, common.Address, *big.Int) (*big.Int, error) {
	f.calls.Add(1)
	return new(big.Int).Set(f.wei.Load()), nil
}

func milliEth(n int64) *big.Int {
	return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether/1000))
}

// env is the processor's HTTP side on a real redis-server: a monitor.Checker
// and Metrics behind the router, served by httptest.
type env struct {
	redis   *redistest.Server
	rdb     *redis.Client
	clock   *fakeclock.Clock
	bal     *fakeBalance
	hb      *monitor.Heartbeat
	metrics *monitor.Metrics
	checker *monitor.Checker
	srv     *httptest.Server
	// balanceMaxAge is the checker's: 3 x config's BALANCE_REFRESH_INTERVAL
	// (CheckerConfig.BalanceMaxAge).
	balanceMaxAge time.Duration
}

// checkTimeout is the test's MONITOR_CHECK_TIMEOUT, shorter than config's
// so that TestMonitorRedisStopped answers quickly.
const checkTimeout = 500 * time.Millisecond

func newEnv(tb testing.TB) *env {
	tb.Helper()
	rs := redistest.Start(tb)
	e := &env{
		redis: rs,
		rdb:   rs.Client(),
		clock: fakeclock.New(time.Now().UTC().Truncate(time.Second)),
		bal:   &fakeBalance{},
		hb:    &monitor.Heartbeat{},
	}
	e.bal.wei.Store(milliEth(2000))
	if err := e.rdb.XGroupCreateMkStream(tb.Context(), streamKey, group, "0").Err(); err != nil {
		tb.Fatalf("create group: %v", err)
	}
	reg := prometheus.NewRegistry()
	e.metrics = monitor.NewMetrics(reg, monitor.WithClock(e.clock.Now))
	defaults := configtest.Unwired(tb) // the balance and the clock are fakes
	e.balanceMaxAge = 3 * defaults.BalanceRefreshInterval
	c, err := monitor.NewChecker(monitor.CheckerConfig{
		Wallet:           common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		AlertBalance:     milliEth(1000),
		LoopMaxAge:       60 * time.Second,
		MaxPending:       10,
		StreamKey:        streamKey,
		Group:            group,
		DeadLetterStream: "application:dead-letters",
		CheckTimeout:     checkTimeout,
		BalanceRefresh:   defaults.BalanceRefreshInterval,
		FeeCapGrace:      defaults.ErrorTimeout,
		Balance:          e.bal,
		Redis:            e.rdb,
		Heartbeat:        e.hb,
		Metrics:          e.metrics,
		Now:              e.clock.Now,
	})
	if err != nil {
		tb.Fatalf("new checker: %v", err)
	}
	e.checker = c
	e.hb.Beat(e.clock.Now())
	if err := c.RefreshBalance(tb.Context()); err != nil {
		tb.Fatalf("refresh balance: %v", err)
	}
	e.srv = httptest.NewServer(NewRouter(Config{Health: c, Gatherer: reg, Log: zerolog.New(io.Discard).Level(zerolog.DebugLevel)}))
	tb.Cleanup(func() {
		e.srv.Close()
		c.Close()
	})
	return e
}

// get fetches path and decodes the JSON body into a map.
func (e *env) get(tb testing.TB, path string) (int, map[string]any) {
	tb.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("GET %s: content type %q", path, ct)
	}
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		tb.Fatalf("GET %s: decode: %v", path, err)
	}
	return res.StatusCode, body
}

func TestMonitorHealthy(t *testing.T) {
	e := newEnv(t)
	code, body := e.get(t, "/api/monitor")
	if code != http.StatusOK {
		t.Fatalf("status %d, body %v", code, body)
	}
	for _, k := range []string{"balance", "processor", "nonAckPendingTx"} {
		if body[k] != "ok" {
			t.Errorf("%s = %v, want ok", k, body[k])
		}
	}
	if body["balanceEth"] != "2" || body["pendingCount"] != 0.0 || body["runway"] != "no recent spend" {
		t.Errorf("figures = %v", body)
	}
	if _, ok := body["runwayHours"]; ok {
		t.Errorf("runwayHours present without spend: %v", body["runwayHours"])
	}
}

func TestMonitorFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, e *env)
		key   string
		want  string
	}{
		{
			name: "balance below alert",
			setup: func(t *testing.T, e *env) {
				e.bal.wei.Store(milliEth(500))
				if err := e.checker.RefreshBalance(t.Context()); err != nil {
					t.Fatal(err)
				}
			},
			key: "balance", want: "error - balance 0.5 ETH below alert 1 ETH",
		},
		{
			name: "loop stalled",
			setup: func(t *testing.T, e *env) {
				e.clock.Advance(75 * time.Second)
			},
			key: "processor", want: "error - last loop iteration {{last}}, 75s ago (max 60s)",
		},
		{
			name: "pending above threshold",
			setup: func(t *testing.T, e *env) {
				for range 12 {
					if err := e.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: streamKey, Values: []any{"entityId", "01J"}}).Err(); err != nil {
						t.Fatal(err)
					}
				}
				if err := e.rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{
					Group: group, Consumer: "c", Streams: []string{streamKey, ">"}, Block: -1,
				}).Err(); err != nil {
					t.Fatal(err)
				}
			},
			key: "nonAckPendingTx", want: "error - 12 read and not yet sent > 10",
		},
		{
			name: "stale balance",
			setup: func(t *testing.T, e *env) {
				e.clock.Advance(e.balanceMaxAge + 10*time.Second)
				e.hb.Beat(e.clock.Now())
			},
			key: "balance", want: "error - balance 2 ETH is {{stale}} old (max {{maxAge}})",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			last := e.clock.Now().Format(time.RFC3339)
			tc.setup(t, e)
			code, body := e.get(t, "/api/monitor")
			if code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", code)
			}
			secs := func(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }
			want := strings.NewReplacer("{{last}}", last, "{{stale}}", secs(e.balanceMaxAge+10*time.Second),
				"{{maxAge}}", secs(e.balanceMaxAge)).Replace(tc.want)
			if body[tc.key] != want {
				t.Errorf("%s = %v, want %q", tc.key, body[tc.key], want)
			}
		})
	}
}

func TestMonitorRedisStopped(t *testing.T) {
	e := newEnv(t)
	e.redis.Stop()
	start := time.Now()
	code, body := e.get(t, "/api/monitor")
	// The bound is the point; the margin is generous so CI noise cannot
	// fail it. Latency targets belong to BenchmarkMonitor.
	if el := time.Since(start); el > checkTimeout+2*time.Second {
		t.Errorf("request took %s with Redis stopped, want about %s at most", el, checkTimeout)
	}
	if code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", code)
	}
	if s, _ := body["nonAckPendingTx"].(string); !strings.HasPrefix(s, "error - redis: ") {
		t.Errorf("nonAckPendingTx = %q, want a redis error", s)
	}
	// Balance readiness does not depend on Redis.
	if code, body := e.get(t, "/api/monitor/readiness"); code != http.StatusOK {
		t.Errorf("readiness status %d with Redis stopped, body %v", code, body)
	}
	if code, _ := e.get(t, "/api/monitor/liveness"); code != http.StatusInternalServerError {
		t.Errorf("liveness status %d with Redis stopped, want 500", code)
	}
}

func TestProbesDoNotCallRPC(t *testing.T) {
	e := newEnv(t)
	before := e.bal.calls.Load()
	for range 100 {
		if code, _ := e.get(t, "/api/monitor"); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if d := e.bal.calls.Load() - before; d != 0 {
		t.Fatalf("100 probes made %d BalanceAt calls, want 0", d)
	}
}

func TestLivenessReadinessSplit(t *testing.T) {
	e := newEnv(t)
	e.bal.wei.Store(milliEth(100))
	if err := e.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, live := e.get(t, "/api/monitor/liveness")
	if code != http.StatusOK || live["processor"] != "ok" || live["nonAckPendingTx"] != "ok" {
		t.Errorf("liveness %d %v, want 200 with processor and nonAckPendingTx ok", code, live)
	}
	if _, ok := live["balance"]; ok {
		t.Errorf("liveness carries balance: %v", live)
	}
	code, ready := e.get(t, "/api/monitor/readiness")
	if code != http.StatusInternalServerError || ready["balance"] != "error - balance 0.1 ETH below alert 1 ETH" {
		t.Errorf("readiness %d %v, want 500 with the balance error", code, ready)
	}
	for _, k := range []string{"processor", "nonAckPendingTx"} {
		if _, ok := ready[k]; ok {
			t.Errorf("readiness carries %s: %v", k, ready)
		}
	}
}

func TestRunwayInBody(t *testing.T) {
	e := newEnv(t)
	e.bal.wei.Store(milliEth(3000))
	t0 := e.clock.Now()
	e.clock.Advance(30 * time.Minute)
	e.metrics.Confirmed(t0, e.clock.Now(), milliEth(30))
	e.hb.Beat(e.clock.Now())
	if err := e.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, body := e.get(t, "/api/monitor")
	if body["runwayHours"] != 50.0 || body["spendWeiPerHour"] != "60000000000000000" {
		t.Fatalf("runway figures = %v %v", body["runwayHours"], body["spendWeiPerHour"])
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.metrics.EntryReceived()
	e.metrics.DeadLettered(monitor.ClassSignature)
	res, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	for _, name := range []string{
		"depeg_relay_stream_entries_received_total 1",
		`depeg_relay_stream_dead_lettered_total{class="signature"} 1`,
		"depeg_relay_tx_enqueue_to_confirmation_seconds_bucket",
		"depeg_relay_wallet_balance_eth 2",
		"depeg_relay_tx_reverted_last_24h",
		"depeg_relay_loop_last_iteration_timestamp_seconds",
	} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}

func TestHeadAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	res, err := e.srv.Client().Head(e.srv.URL + "/api/monitor")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("HEAD status %d, want 200", res.StatusCode)
	}
	res, err = e.srv.Client().Get(e.srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown route status %d, want 404", res.StatusCode)
	}
}

// panicky is a HealthChecker that panics, standing in for a bug.
type panicky struct{}

func (panicky) Check(context.Context) monitor.Report     { panic("boom") }
func (panicky) Liveness(context.Context) monitor.Report  { panic("boom") }
func (panicky) Readiness(context.Context) monitor.Report { panic("boom") }

// deadline reports whether the request context carried a deadline.
type deadline struct{ got chan time.Duration }

func (d deadline) Check(ctx context.Context) monitor.Report {
	if dl, ok := ctx.Deadline(); ok {
		d.got <- time.Until(dl)
	} else {
		d.got <- -1
	}
	return monitor.Report{Processor: monitor.StatusOK}
}
func (d deadline) Liveness(ctx context.Context) monitor.Report  { return d.Check(ctx) }
func (d deadline) Readiness(ctx context.Context) monitor.Report { return d.Check(ctx) }

func TestMiddleware(t *testing.T) {
	t.Run("recoverer", func(t *testing.T) {
		var logs logbuf.Buffer
		h := NewRouter(Config{Health: panicky{}, Log: zerolog.New(&logs)})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/monitor", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("status %d after panic, want 500", rec.Code)
		}
		// One error line carries the panic, the path and the stack.
		var got []map[string]any
		lines, err := logs.JSONLines()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if _, ok := l["panic"]; ok {
				got = append(got, l)
			}
		}
		if len(got) != 1 || got[0]["level"] != "error" || got[0]["path"] != "/api/monitor" || got[0]["stack"] == "" {
			t.Errorf("panic not logged with its path and stack: %q", logs.String())
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		d := deadline{got: make(chan time.Duration, 1)}
		h := NewRouter(Config{Health: d, RequestTimeout: 3 * time.Second})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/monitor", nil))
		if got := <-d.got; got <= 0 || got > 3*time.Second {
			t.Errorf("handler deadline in %s, want within 3s", got)
		}
	})
	t.Run("access log at debug", func(t *testing.T) {
		var logs logbuf.Buffer
		h := NewRouter(Config{Health: deadline{got: make(chan time.Duration, 1)}, Log: zerolog.New(&logs).Level(zerolog.DebugLevel)})
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/monitor/liveness", nil))
		if s := logs.String(); !strings.Contains(s, `"path":"/api/monitor/liveness"`) || !strings.Contains(s, `"status":200`) {
			t.Errorf("access log = %q", s)
		}
		logs.Reset()
		h = NewRouter(Config{Health: deadline{got: make(chan time.Duration, 1)}, Log: zerolog.New(&logs).Level(zerolog.InfoLevel)})
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/monitor/liveness", nil))
		if logs.Len() != 0 {
			t.Errorf("access log at info level: %q", logs.String())
		}
	})
}

func TestNewServerLimits(t *testing.T) {
	s := NewServer(":3000", http.NotFoundHandler())
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Fatalf("server has unset limits: %+v", s)
	}
	if s.WriteTimeout <= DefaultRequestTimeout {
		t.Errorf("write timeout %s does not leave room for the request timeout %s", s.WriteTimeout, DefaultRequestTimeout)
	}
}

// Serve must let a request in progress finish when ctx is cancelled, then
// return nil and stop accepting connections.
func TestServeGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), h)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel()
	// Shutdown is now waiting for the handler; let it finish.
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the request finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestListenAndServeBadAddr(t *testing.T) {
	err := ListenAndServe(t.Context(), NewServer("256.0.0.1:99999", http.NotFoundHandler()))
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("err = %v", err)
	}
}
