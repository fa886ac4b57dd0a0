package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// hostileLimits are short versions of the production limits, so that the
// test sees each one act within a second or two.
var hostileLimits = api.Limits{
	ReadHeaderTimeout: 300 * time.Millisecond,
	ReadTimeout:       time.Second,
	WriteTimeout:      2 * time.Second,
	IdleTimeout:       500 * time.Millisecond,
	MaxHeaderBytes:    8 << 10,
	MaxConnections:    64,
}

// hostileServer serves the real router (monitor, metrics, OpenAPI, the
// intake on real Redis and an EVM, the admin routes) through the real
// server (api.NewServerWithLimits, api.Serve) on a loopback port.
func hostileServer(t *testing.T) (addr string, g *gateway) {
	t.Helper()
	g = newGateway(t, gwOptions{adminToken: strings.Repeat("k", 32), maxBody: 16 << 10, rateLimit: 0})
	return limitServer(t, g.srv.Config.Handler, hostileLimits), g
}

// limitServer serves h through the real server (api.NewServerWithLimits,
// api.Serve) on limits, on a loopback port of its own, until the test ends.
// A test of one timeout sets that one short and the others long, so that
// nothing else closes the connection while it waits: only the timeout under
// test can end the wait within the test's bound.
func limitServer(t *testing.T, h http.Handler, limits api.Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServerWithLimits(ln.Addr().String(), h, limits)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, srv, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// quietLimits is hostileLimits with every timeout a minute: a test of one
// timeout sets that one short and sees no other act.
func quietLimits() api.Limits {
	l := hostileLimits
	l.ReadHeaderTimeout, l.ReadTimeout, l.WriteTimeout, l.IdleTimeout = time.Minute, time.Minute, time.Minute, time.Minute
	return l
}

// acceptCalls counts the calls to Accept. Past n calls, the server's accept
// loop has taken n connections and run the connection limit's StateNew hook
// on each: http.Server runs it before it calls Accept again.
type acceptCalls struct {
	net.Listener
	n atomic.Int64
}

func (l *acceptCalls) Accept() (net.Conn, error) {
	l.n.Add(1)
	return l.Listener.Accept()
}

// goroutines waits until the goroutine count stops falling and returns it.
// It is TestHostileHTTP's baseline after the warm-up request, which counts
// the gateway's own goroutines (Redis pool, chain client connections, the
// monitor's probe) that no state of the test tells finished. It can only
// err high (a goroutine still exiting, one starting), which makes the later
// waitGoroutines more lenient, never fail for no defect.
func goroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// waitGoroutines waits until at most want goroutines run: a leak detector,
// so within is generous (the handlers of closed connections end at once,
// but a loaded machine schedules them late).
func waitGoroutines(t *testing.T, want int, within time.Duration, what string) {
	t.Helper()
	poll.Until(t, within, fmt.Sprintf("%s: at most %d goroutines", what, want), func() bool { return runtime.NumGoroutine() <= want })
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// raw sends bytes on a fresh connection and returns the status line of the
// answer ("" when the server closed the connection without one) and how
// long it took.
func raw(t *testing.T, addr, request string) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil && !errors.Is(err, net.ErrClosed) {
		// The server may answer and close before reading everything.
		t.Logf("write: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer and no close within 5s to %.60q", request)
		}
		return "", time.Since(start)
	}
	return strings.TrimSpace(line), time.Since(start)
}

// sendBody sends a request with a body of n bytes, written while the answer
// is read (the server may answer before taking it all, and then close), and
// returns the status line.
func sendBody(t *testing.T, addr, method, path string, n int, chunked bool) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", method, path)
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", n)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for sent := 0; sent < n; sent += len(chunk) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = c.Write(chunk)
			}
			if err != nil {
				return // the server answered and closed
			}
		}
		if chunked {
			_, _ = io.WriteString(c, "0\r\n\r\n")
		}
	}()
	line, _ := bufio.NewReader(c).ReadString('\n')
	_ = c.Close()
	wg.Wait()
	return strings.TrimSpace(line)
}

// closedWithin reads from c until the server closes it, failing after within.
func closedWithin(t *testing.T, c net.Conn, within time.Duration, what string) time.Duration {
	t.Helper()
	_, took := readUntilClosed(t, c, within, what)
	return took
}

// readUntilClosed is closedWithin that also returns what the server sent.
func readUntilClosed(t *testing.T, c net.Conn, within time.Duration, what string) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	var got bytes.Buffer
	_, err := io.Copy(&got, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open after %v", what, within)
	}
	return got.Bytes(), time.Since(start)
}

var plain = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// TestHostileHTTP: the real router and server against oversized headers and
// bodies, slowloris clients, a flood of idle connections, unknown paths and
// methods, and a burst of requests. Every hostile request gets an answer or
// a closed connection within the limits, the goroutines return to what they
// were, the heap does not grow, and nothing panics.
func TestHostileHTTP(t *testing.T) {
	for name, v := range map[string]time.Duration{"ReadHeaderTimeout": api.DefaultLimits().ReadHeaderTimeout,
		"ReadTimeout": api.DefaultLimits().ReadTimeout, "WriteTimeout": api.DefaultLimits().WriteTimeout,
		"IdleTimeout": api.DefaultLimits().IdleTimeout} {
		if v <= 0 {
			t.Errorf("default %s unset", name)
		}
	}
	if d := api.DefaultLimits(); d.MaxHeaderBytes <= 0 || d.MaxConnections <= 0 {
		t.Errorf("default limits %+v: header size or connections unbounded", d)
	}

	addr, g := hostileServer(t)
	url := "http://" + addr
	if res, err := plain.Get(url + "/api/monitor"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("warm-up: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	baseG, baseHeap := goroutines(), heap()

	t.Run("oversized headers", func(t *testing.T) {
		big := strings.Repeat("a", 64<<10)
		many := strings.Repeat("X-H: v\r\n", 4000)
		for _, req := range []string{
			"GET /api/monitor HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
			"GET /api/monitor HTTP/1.1\r\nHost: x\r\n" + many + "\r\n",
			"GET /api/monitor?" + big + " HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /" + big + " HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			if status, took := raw(t, addr, req); !strings.Contains(status, " 431 ") && !strings.Contains(status, " 414 ") {
				t.Errorf("%.50q...: %q after %v, want 431", req, status, took)
			}
		}
	})

	t.Run("oversized bodies", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			chunked      bool
			want         string
		}{
			{http.MethodPost, "/api/application", false, " 413 "},
			{http.MethodPost, "/api/application", true, " 413 "},
			{http.MethodPost, "/api/monitor", false, " 405 "},
			{http.MethodGet, "/api/monitor", false, " 200 "},
			{http.MethodPost, "/api/admin/deadletters/1-0/replay", false, " 401 "},
		} {
			if status := sendBody(t, addr, tc.method, tc.path, 4<<20, tc.chunked); !strings.Contains(status+" ", tc.want) {
				t.Errorf("%s %s with a 4 MiB body (chunked %t): %q, want%s", tc.method, tc.path, tc.chunked, status, tc.want)
			}
		}
	})

	// Slowloris headers, slowloris body and idle keep-alive each run on a
	// server of their own whose other timeouts are a minute (quietLimits):
	// the connection closing at all within the test's wait proves the
	// timeout under test closed it, and the elapsed bound only detects a
	// hang, several times that timeout, so a loaded machine does not break
	// it. On the shared server ReadTimeout (1 s) would also end a header or
	// an idle wait without the timeout under test, and a bound below it left
	// a margin of 700 or 500 ms.
	t.Run("slowloris headers", func(t *testing.T) {
		const timeout, hang = 300 * time.Millisecond, 10 * 300 * time.Millisecond
		limits := quietLimits()
		limits.ReadHeaderTimeout = timeout
		c, err := net.Dial("tcp", limitServer(t, g.srv.Config.Handler, limits))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // one header line every 100 ms, for ever
			defer wg.Done()
			_, _ = io.WriteString(c, "GET /api/monitor HTTP/1.1\r\nHost: x\r\n")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(c, "X-%d: y\r\n", i); err != nil {
					return
				}
			}
		}()
		took := closedWithin(t, c, 2*hang, "slowloris")
		close(stop)
		wg.Wait()
		if took > hang {
			t.Errorf("slowloris connection closed after %v, want about ReadHeaderTimeout %v", took, timeout)
		}
	})

	t.Run("slowloris body", func(t *testing.T) {
		// The intake reads the body; a read cut by ReadTimeout answers 400.
		// The router's request timeout (10 s) does not cut a body read,
		// and the wait stays under it anyway.
		const timeout, hang = time.Second, 5 * time.Second
		limits := quietLimits()
		limits.ReadTimeout = timeout
		c, err := net.Dial("tcp", limitServer(t, g.srv.Config.Handler, limits))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "POST /api/application HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // one byte of body every 100 ms
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := io.WriteString(c, " "); err != nil {
					return
				}
			}
		}()
		answer, took := readUntilClosed(t, c, hang+3*time.Second, "slow body")
		close(stop)
		wg.Wait()
		if took > hang {
			t.Errorf("slow body answered or cut after %v, want about ReadTimeout %v", took, timeout)
		}
		if a := string(answer); !strings.HasPrefix(a, "HTTP/1.1 400 ") || !strings.Contains(a, "body could not be read") {
			t.Errorf("slow body answered %.120q, want 400 'body could not be read'", a)
		}
	})

	t.Run("connections beyond the limit", func(t *testing.T) {
		// Its own server, whose ReadHeaderTimeout (a minute) closes
		// nothing while the test runs: only the limit can. Each open
		// connection costs the server a goroutine, up to the limit; those
		// beyond it are closed on arrival, so the count falls back to the
		// limit while the client still holds every connection. (On the
		// shared server, ReadHeaderTimeout closes them all within 300 ms
		// anyway, and a count read then says nothing of the limit.)
		limits := hostileLimits
		limits.ReadHeaderTimeout = time.Minute
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepts := &acceptCalls{Listener: ln}
		srv := api.NewServerWithLimits(ln.Addr().String(), http.NotFoundHandler(), limits)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- api.Serve(ctx, srv, accepts) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}()
		// The server's accept loop waits in its first Accept: every
		// goroutine of this server is running, and none of a connection.
		poll.Until(t, 10*time.Second, "the server accepting", func() bool { return accepts.n.Load() >= 1 })
		base := runtime.NumGoroutine()
		const n = 300
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		// A dial returns once the kernel has the connection, before the
		// server accepts it; one not yet accepted looks open (no close to
		// read). The count waits for the accept loop to have taken all n.
		poll.Until(t, 10*time.Second, fmt.Sprintf("the server accepted all %d connections", n),
			func() bool { return accepts.n.Load() > n })
		waitGoroutines(t, base+limits.MaxConnections+20, 10*time.Second,
			fmt.Sprintf("%d idle connections held, limit %d", n, limits.MaxConnections))
		// The server closed those beyond the limit as it accepted them, but
		// on a loaded machine the kernel can deliver a close to the client
		// end a little later: a read that times out may still end in EOF.
		// So the count waits until no more than the limit look open; a
		// limit that does not hold times it out, and one that closed too
		// many fails the count below.
		closed := make([]bool, len(conns))
		open := len(conns)
		_ = poll.Wait(t.Context(), 10*time.Second, 10*time.Millisecond, func() error {
			open = 0
			for i, c := range conns {
				if closed[i] {
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
				var ne net.Error
				if _, err := c.Read(make([]byte, 1)); errors.As(err, &ne) && ne.Timeout() {
					open++
				} else {
					closed[i] = true
				}
			}
			if open > limits.MaxConnections {
				return fmt.Errorf("%d open", open)
			}
			return nil
		})
		if open != limits.MaxConnections {
			t.Errorf("%d of %d connections left open, want the limit %d", open, n, limits.MaxConnections)
		}
	})

	t.Run("idle connections", func(t *testing.T) {
		const n = 300
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i, c := range conns {
			closedWithin(t, c, hostileLimits.ReadHeaderTimeout+2*time.Second, fmt.Sprintf("idle connection %d", i))
		}
		waitGoroutines(t, baseG+5, 10*time.Second, "after the idle connections")
		if res, err := plain.Get(url + "/api/monitor"); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("monitor after the idle flood: %v %v", res, err)
		} else {
			res.Body.Close()
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		const timeout, hang = 500 * time.Millisecond, 10 * 500 * time.Millisecond
		limits := quietLimits()
		limits.IdleTimeout = timeout
		c, err := net.Dial("tcp", limitServer(t, g.srv.Config.Handler, limits))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "GET /api/monitor HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("keep-alive request: %v %v", res, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		if took := closedWithin(t, c, 2*hang, "idle keep-alive"); took > hang {
			t.Errorf("idle keep-alive closed after %v, want about IdleTimeout %v", took, timeout)
		}
	})

	t.Run("unknown paths and methods", func(t *testing.T) {
		for _, tc := range []struct{ req, want string }{
			{"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", " 404 "},
			// Served only by a -tags faulthook build (internal/testhook).
			{"GET /internal/test/panic HTTP/1.1\r\nHost: x\r\n\r\n", " 404 "},
			{"GET /api/monitor/nope HTTP/1.1\r\nHost: x\r\n\r\n", " 404 "},
			{"DELETE /api/monitor HTTP/1.1\r\nHost: x\r\n\r\n", " 405 "},
			{"BREW /api/monitor HTTP/1.1\r\nHost: x\r\n\r\n", " 405 "},
			{"PUT /api/openapi.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", " 405 "},
			{"GET /api/../metrics HTTP/1.1\r\nHost: x\r\n\r\n", " 404 "},
			{"GET //api//monitor HTTP/1.1\r\nHost: x\r\n\r\n", " 404 "},
			{"GET /api/application/%00 HTTP/1.1\r\nHost: x\r\n\r\n", " 400 "},
			{"GET /api/admin/deadletters HTTP/1.1\r\nHost: x\r\n\r\n", " 401 "},
			{"GET /api/admin/deadletters HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n", " 401 "},
			{"GET /api/admin/deadletters/..%2f..%2fmetrics HTTP/1.1\r\nHost: x\r\n\r\n", " 401 "},
			{"GET /api/monitor HTTP/1.1\r\n\r\n", " 400 "},               // no Host
			{"GET /api/monitor HTTP/9.9\r\nHost: x\r\n\r\n", " 505 "},    // unknown version
			{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", " 405 "},                // an HTTP/2 preface without TLS
			{"G\x00T /api/monitor HTTP/1.1\r\nHost: x\r\n\r\n", " 400 "}, // a NUL in the method
			{"garbage\r\n\r\n", " 400 "},
			{"GET /api/monitor HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", " 400 "},
			{"GET /api/monitor HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", " 501 "},
		} {
			status, took := raw(t, addr, tc.req)
			if !strings.Contains(status+" ", tc.want) {
				t.Errorf("%.50q: %q after %v, want%s", tc.req, status, took, tc.want)
			}
		}
	})

	t.Run("burst of requests", func(t *testing.T) {
		const n = 300
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := plain.Get(url + "/api/monitor")
				if err != nil {
					codes <- 0 // shed by the connection limit
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				codes <- res.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		ok := 0
		for c := range codes {
			if c == http.StatusOK {
				ok++
			} else if c != 0 {
				t.Errorf("burst answer %d", c)
			}
		}
		if ok < hostileLimits.MaxConnections {
			t.Errorf("only %d of %d concurrent requests answered, want at least the connection limit %d", ok, n, hostileLimits.MaxConnections)
		}
	})

	// Everything the hostile clients held is given back.
	plain.CloseIdleConnections()
	waitGoroutines(t, baseG+5, 10*time.Second, "after the hostile clients")
	if grown := int64(heap()) - int64(baseHeap); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	lines, err := g.log.JSONLines()
	if err != nil {
		t.Error(err)
	}
	for _, l := range lines {
		if _, ok := l["panic"]; ok {
			t.Errorf("a handler panicked: %v", l)
		}
	}
}
