package api_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/monitor"
)

// doors is the processor's HTTP side as production builds it:
// api.NewHTTPServers with api.DefaultLimits, the real monitor on the
// gateway's Redis and chain with the collectors it reads at scrape time,
// and the real intake, listening on 127.0.0.1. Every test client comes from
// a loopback address; those meant as other clients bind another one
// (127.0.0.2, ...), which Linux routes to lo like 127.0.0.1.
type doors struct {
	srv     *api.Server
	public  string // base URL
	metrics string // base URL of /metrics: its own listener, or public
}

func startDoors(t *testing.T, ownMetrics bool, metricsToken string) *doors {
	t.Helper()
	g := newGateway(t, gwOptions{rateLimit: 60})
	reg := prometheus.NewRegistry()
	hb := &monitor.Heartbeat{}
	hb.Beat(time.Now())
	cfg := configtest.Defaults(t, g.chain.URL, g.chain.Product, testMnemonic)
	checker, err := monitor.NewChecker(monitor.CheckerConfig{
		Wallet: g.signer.Address(), AlertBalance: big.NewInt(1), LoopMaxAge: time.Hour, MaxPending: 10,
		StreamKey: g.keys.Stream, Group: g.keys.Group, DeadLetterStream: g.keys.DeadLetter,
		CheckTimeout: cfg.MonitorCheckTimeout, BalanceRefresh: cfg.BalanceRefreshInterval, FeeCapGrace: cfg.ErrorTimeout,
		Balance: g.client, Redis: g.rdb, Heartbeat: hb, Metrics: monitor.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = checker.Close() })
	if err := checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	checks, err := monitor.NewCheckCollector(checker, 2*cfg.MonitorCheckTimeout) // as cmd/processor registers it
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(checks)

	l := api.Listen{Addr: "127.0.0.1:0", Limits: api.DefaultLimits()}
	if ownMetrics {
		l.MetricsAddr = "127.0.0.1:0"
	}
	l.MetricsToken = metricsToken
	ic := g.intakeCfg
	l.Proxies = ic.TrustedProxies
	srv := api.NewHTTPServers(api.NewRouter(api.Config{Health: checker, Gatherer: reg, Log: zerolog.Nop(), Intake: &ic}), l)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	d := &doors{srv: srv, public: "http://" + srv.Addr().String()}
	d.metrics = d.public
	if ownMetrics {
		if srv.MetricsAddr() == nil {
			t.Fatal("no metrics listener")
		}
		d.metrics = "http://" + srv.MetricsAddr().String()
	} else if srv.MetricsAddr() != nil {
		t.Fatalf("a metrics listener on %s without MetricsAddr", srv.MetricsAddr())
	}
	return d
}

// clientFrom is a client whose connections come from the loopback address
// ip, one connection per request.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		Timeout: 10 * time.Second}
}

// scrape fetches /metrics as Prometheus would and says what went wrong, if
// anything.
func scrape(c *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "depeg_relay_monitor_check_ok") {
		return fmt.Errorf("status %d, %.80q", res.StatusCode, body)
	}
	return nil
}

// TestMetricsFlood: one client of the public port loops on /metrics with
// 32 requests at once (the client made 8 of 20 scrapes fail), and
// every one of 20 scrapes in a row succeeds, with /metrics on its own
// listener, or behind METRICS_TOKEN on the public port.
func TestMetricsFlood(t *testing.T) {
	const token = "metrics-0123456789abcdefghijklmnopqrstuv"
	for _, tc := range []struct {
		name       string
		ownMetrics bool
		token      string
		flooderGot int // what the flooder is answered on the public port
	}{
		{"own listener", true, "", http.StatusNotFound},
		{"token on the public port", false, token, http.StatusUnauthorized},
		{"own listener and token", true, token, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDoors(t, tc.ownMetrics, tc.token)
			flooder := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 10 * time.Second}
			var (
				answered atomic.Int64
				lastCode atomic.Int64
				wg       sync.WaitGroup
			)
			stop := make(chan struct{})
			for range 32 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						res, err := flooder.Get(d.public + "/metrics")
						if err != nil {
							continue
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						lastCode.Store(int64(res.StatusCode))
						answered.Add(1)
					}
				})
			}
			defer func() {
				close(stop)
				wg.Wait()
				flooder.CloseIdleConnections()
			}()
			poll.Until(t, 10*time.Second, "the flood under way", func() bool { return answered.Load() >= 200 })

			scraper := clientFrom("127.0.0.2")
			failed := 0
			for i := range 20 {
				if err := scrape(scraper, d.metrics, tc.token); err != nil {
					failed++
					t.Logf("scrape %d: %v", i, err)
				}
			}
			if failed > 0 {
				t.Errorf("%d of 20 scrapes failed during the flood", failed)
			}
			if got := lastCode.Load(); got != int64(tc.flooderGot) {
				t.Errorf("the flooder's /metrics on the public port: %d, want %d", got, tc.flooderGot)
			}
			if tc.token != "" {
				if err := scrape(scraper, d.metrics, ""); err == nil || !strings.Contains(err.Error(), "status 401") {
					t.Errorf("a scrape without the token: %v, want 401", err)
				}
			}
		})
	}
}

// floodConn is a connection of the idle flood, closed is closed once the
// server has closed it.
type floodConn struct {
	net.Conn
	closed chan struct{}
}

// idleConn opens a connection from ip, makes one request on it and reads
// the answer: a keep-alive connection left idle. It returns nil when the
// server closed the connection instead (refused at a connection bound).
func idleConn(t *testing.T, addr, ip string) *floodConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	_, err = io.WriteString(c, "GET /api/monitor/nope HTTP/1.1\r\nHost: x\r\n\r\n")
	var res *http.Response
	if err == nil {
		res, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection from %s neither answered nor closed", ip)
		}
		c.Close()
		return nil
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	_ = c.SetDeadline(time.Time{})
	fc := &floodConn{Conn: c, closed: make(chan struct{})}
	go func() { // the server sends nothing more: the read ends when it closes
		defer close(fc.closed)
		_, _ = br.ReadByte()
	}()
	t.Cleanup(func() {
		c.Close()
		<-fc.closed
	})
	return fc
}

func open(conns []*floodConn) int {
	n := 0
	for _, c := range conns {
		select {
		case <-c.closed:
		default:
			n++
		}
	}
	return n
}

// othersAnswer: clients from ip get their answers from the monitor, the
// intake and the scrape.
func (d *doors) othersAnswer(t *testing.T, ip string) {
	t.Helper()
	c := clientFrom(ip)
	res, err := c.Get(d.public + "/api/monitor")
	if err != nil {
		t.Fatalf("monitor from %s: %v", ip, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("monitor from %s: %d", ip, res.StatusCode)
	}
	// The intake's own refusal of an empty application: it was reached.
	res, err = c.Post(d.public+"/api/application", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("intake from %s: %v", ip, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("intake from %s: %d, want the intake's 400", ip, res.StatusCode)
	}
	if err := scrape(c, d.metrics, ""); err != nil {
		t.Errorf("scrape from %s: %v", ip, err)
	}
}

// TestIdleFlood: with the production limits and /metrics on the public port
// (no METRICS_PORT), idle keep-alive connections cannot lock other clients
// out. One address opening more than MaxConnections holds at most
// MaxConnectionsPerClient; many addresses, each within its bound and more
// than MaxConnections together, make room for newcomers as the longest idle
// ones are closed; and every idle connection is closed within IdleTimeout.
// Meanwhile the monitor, the intake and the scrape answer.
func TestIdleFlood(t *testing.T) {
	lim := api.DefaultLimits()
	if lim.MaxConnectionsPerClient <= 0 || lim.MaxConnectionsPerClient*4 > lim.MaxConnections {
		t.Fatalf("production limits %+v: want a per-client bound well below the total", lim)
	}
	d := startDoors(t, false, "")
	addr := d.srv.Addr().String()
	d.othersAnswer(t, "127.0.0.2")

	var one []*floodConn
	for range lim.MaxConnections + 100 {
		if c := idleConn(t, addr, "127.0.0.1"); c != nil {
			one = append(one, c)
		}
	}
	poll.Until(t, 5*time.Second, fmt.Sprintf("one address holds at most %d connections", lim.MaxConnectionsPerClient),
		func() bool { return open(one) <= lim.MaxConnectionsPerClient })
	d.othersAnswer(t, "127.0.0.2")

	var many []*floodConn
	addrs := lim.MaxConnections/lim.MaxConnectionsPerClient + 2
	for i := range addrs {
		for range lim.MaxConnectionsPerClient {
			if c := idleConn(t, addr, fmt.Sprintf("127.0.0.%d", 10+i)); c != nil {
				many = append(many, c)
			}
		}
	}
	if len(many) != addrs*lim.MaxConnectionsPerClient {
		t.Errorf("%d of %d connections within their client's bound were refused", addrs*lim.MaxConnectionsPerClient-len(many),
			addrs*lim.MaxConnectionsPerClient)
	}
	flooded := time.Now()
	d.othersAnswer(t, "127.0.0.3")
	// The server closes the connections it evicts at once, but a client
	// sees each close only when its reader goroutine runs: a count read
	// once could still hold the last ones (more than a thousand reader
	// goroutines on a loaded machine). The bound is waited for, well within
	// IdleTimeout (10 s), after which everything closes anyway.
	poll.UntilNil(t, 5*time.Second, fmt.Sprintf("at most MaxConnections (%d) flood connections open", lim.MaxConnections),
		func() error {
			if n := open(one) + open(many); n > lim.MaxConnections {
				return fmt.Errorf("%d open", n)
			}
			return nil
		})

	all := append(one, many...)
	poll.Until(t, lim.IdleTimeout+5*time.Second, "every idle connection closed", func() bool { return open(all) == 0 })
	if took := time.Since(flooded); took > 15*time.Second {
		t.Errorf("idle connections held for %v after the flood, want a short IdleTimeout", took)
	}
	d.othersAnswer(t, "127.0.0.2")
}
