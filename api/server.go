package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/etherisc/depeg-relay/internal/testhook"
)

// Server limits. Every timeout is set because the zero value means "wait
// forever", which lets slow or idle clients hold connections open
// indefinitely. WriteTimeout leaves room for DefaultRequestTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = DefaultRequestTimeout + 5*time.Second
	// idleTimeout is short: a keep-alive connection saves its client a
	// handshake only if it asks again soon, and every idle one is held
	// from the others. The uptime checker and Prometheus ask every 15 s or
	// more, so they reconnect either way.
	idleTimeout    = 10 * time.Second
	maxHeaderBytes = 64 << 10
	// maxConnections bounds the connections served at once, and with them
	// the goroutines and buffers: a flood of idle or slow clients (each
	// held for at most ReadHeaderTimeout) costs at most this many. The
	// uptime checker, the frontend's posts and Prometheus need a handful.
	maxConnections = 1024
	// maxConnectionsPerClient is far above what one honest client opens
	// (a browser opens six; the uptime checker and Prometheus one or two),
	// and far below maxConnections, so one address cannot take the rest.
	maxConnectionsPerClient = 64
	// ShutdownTimeout bounds the graceful shutdown in Server.Close (and
	// Serve, ListenAndServe). Requests here are short, and Dokku kills the
	// container soon after SIGTERM anyway.
	ShutdownTimeout = 5 * time.Second
)

// Limits bound what clients can hold of the server: how long a request may
// take to arrive, how long an answer may take to leave, how long an idle
// keep-alive connection stays open, how large the request headers may be,
// and how many connections are served at once, in all and to one client.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConnections bounds the connections open at once. A new one beyond
	// it takes the place of the connection idle the longest (a keep-alive
	// between requests, which its client reopens when it needs it), so
	// idle connections cannot keep new clients out; with none idle, it is
	// closed as soon as it is accepted, before anything is read from it.
	MaxConnections int
	// MaxConnectionsPerClient bounds the connections one client holds at
	// once: one IPv4 address, or one IPv6 /64 (as the rate limits count
	// clients). A client's new connection beyond it takes the place of
	// that client's own longest idle one, or is closed on arrival. 0: no
	// bound per client.
	MaxConnectionsPerClient int
	// SharedPeers are CIDRs of peers that carry many clients' connections,
	// such as the reverse proxy in front: MaxConnectionsPerClient does not
	// apply to them, only MaxConnections. Entries that do not parse are
	// ignored (config.Load has checked them).
	SharedPeers []string
}

// DefaultLimits are NewServer's, the production limits.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, MaxConnections: maxConnections,
		MaxConnectionsPerClient: maxConnectionsPerClient}
}

// NewServer returns an http.Server for h on addr (":3000") with every
// timeout, the header size limit and the connection limits set.
func NewServer(addr string, h http.Handler) *http.Server {
	return NewServerWithLimits(addr, h, DefaultLimits())
}

// NewServerWithLimits is NewServer with other limits (tests use short ones).
func NewServerWithLimits(addr string, h http.Handler, l Limits) *http.Server {
	srv := &http.Server{
		Addr: addr,
		// A test build (-tags faulthook) adds a route that panics; the
		// production build serves h unchanged.
		Handler:           testhook.Wrap(h),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
	if l.MaxConnections > 0 || l.MaxConnectionsPerClient > 0 {
		srv.ConnState = newConnLimit(l).track
	}
	return srv
}

// connLimit holds a server's connections to Limits.MaxConnections in all and
// MaxConnectionsPerClient per client, through ConnState. A connection that
// would exceed a bound takes the place of the longest idle one in its
// bound, which is closed; with none idle, the newcomer is closed instead.
// net/http then ends the closed connection's goroutine (its next read
// fails) and reports it closed, which track ignores: a connection leaves
// the counts the moment it is chosen to close.
type connLimit struct {
	max, perClient int
	shared         []netip.Prefix

	mu       sync.Mutex
	conns    map[net.Conn]*connEntry
	byClient map[string]int
	seq      uint64 // orders idle connections, oldest first
}

type connEntry struct {
	client string // "" for a shared peer: no per-client bound
	idle   uint64 // seq when it went idle; 0 while new or active
}

func newConnLimit(l Limits) *connLimit {
	cl := &connLimit{max: l.MaxConnections, perClient: l.MaxConnectionsPerClient,
		conns: map[net.Conn]*connEntry{}, byClient: map[string]int{}}
	for _, s := range l.SharedPeers {
		if p, err := netip.ParsePrefix(s); err == nil {
			cl.shared = append(cl.shared, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			cl.shared = append(cl.shared, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return cl
}

func (l *connLimit) track(c net.Conn, state http.ConnState) {
	var toClose []net.Conn
	l.mu.Lock()
	switch state {
	case http.StateNew:
		toClose = l.admit(c)
	case http.StateActive:
		if e := l.conns[c]; e != nil {
			e.idle = 0
		}
	case http.StateIdle:
		if e := l.conns[c]; e != nil {
			l.seq++
			e.idle = l.seq
		}
	case http.StateHijacked, http.StateClosed:
		l.drop(c)
	}
	l.mu.Unlock()
	for _, v := range toClose {
		_ = v.Close()
	}
}

// admit counts c in, making room by choosing idle connections to close, or
// chooses c itself when there is no room. It returns what to close. Called
// with l.mu held.
func (l *connLimit) admit(c net.Conn) (toClose []net.Conn) {
	client := clientKey(c.RemoteAddr(), l.shared)
	if client != "" && l.perClient > 0 && l.byClient[client] >= l.perClient {
		v := l.oldestIdle(client)
		if v == nil {
			return []net.Conn{c}
		}
		l.drop(v)
		toClose = append(toClose, v)
	}
	if l.max > 0 && len(l.conns) >= l.max {
		v := l.oldestIdle("")
		if v == nil {
			return append(toClose, c)
		}
		l.drop(v)
		toClose = append(toClose, v)
	}
	l.conns[c] = &connEntry{client: client}
	if client != "" {
		l.byClient[client]++
	}
	return toClose
}

// oldestIdle is the connection idle the longest, of client or, for "", of
// all; nil when none is idle. A scan: it runs only at a bound, over at most
// MaxConnections entries.
func (l *connLimit) oldestIdle(client string) net.Conn {
	var (
		oldest net.Conn
		at     uint64
	)
	for c, e := range l.conns {
		if e.idle != 0 && (client == "" || e.client == client) && (oldest == nil || e.idle < at) {
			oldest, at = c, e.idle
		}
	}
	return oldest
}

// drop counts c out, if it is counted. Called with l.mu held.
func (l *connLimit) drop(c net.Conn) {
	e := l.conns[c]
	if e == nil {
		return
	}
	delete(l.conns, c)
	if e.client != "" {
		if l.byClient[e.client]--; l.byClient[e.client] <= 0 {
			delete(l.byClient, e.client)
		}
	}
}

// clientKey is who a connection from addr belongs to, for the per-client
// bound: the IPv4 address, or the IPv6 /64 (one host's share of a network,
// as the rate limits count it). It is "" for a peer in shared, which
// carries many clients, and for an address that is not IP (no bound
// applies then but the total one).
func clientKey(addr net.Addr, shared []netip.Prefix) string {
	if addr == nil {
		return ""
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return ""
	}
	ip := ap.Addr().Unmap()
	for _, p := range shared {
		if p.Contains(ip) {
			return ""
		}
	}
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64) // cannot fail for a 128-bit address
		return p.String()
	}
	return ip.String()
}

// Server is the HTTP server as a lifecycle.Part (package lifecycle):
// Start binds the port (and the metrics port, see Listen), so a caller logs
// "serving" only once it is bound and a taken port is Start's error; Close
// shuts down gracefully and returns once the serving goroutines have. Done
// is closed if serving ends on its own (a listener failed); Close then
// reports why. Its methods may be called concurrently.
type Server struct {
	srvs []*http.Server // the public one first, then /metrics' own, if any

	// closeMu makes a second Close wait for the first to finish.
	closeMu  sync.Mutex
	mu       sync.Mutex
	started  bool
	closed   bool
	addrs    []net.Addr // bound, in the order of srvs
	serveErr error      // set before done is closed
	closeErr error
	done     chan struct{}
	ended    sync.Once      // closes done
	serving  sync.WaitGroup // the serving goroutines, waited for by Close
}

// NewHTTPServer returns the server for h on addr (":3000"; ":0" picks a free
// port, see Addr) with limits l (DefaultLimits in production). It binds
// nothing until Start.
func NewHTTPServer(addr string, h http.Handler, l Limits) *Server {
	return newPart(NewServerWithLimits(addr, h, l))
}

// Listen says where NewHTTPServers serves the processor's handler, and who
// may reach its /metrics.
type Listen struct {
	// Addr is the public address (":3000"; ":0" picks a free port).
	Addr string
	// MetricsAddr is the address of a listener of /metrics' own. Set,
	// /metrics is served there and nowhere else (the public port answers
	// it 404), so no client of the public port can take a scrape's place:
	// they share no connections and no request slots. Empty: /metrics is
	// served on Addr.
	MetricsAddr string
	// MetricsToken guards /metrics wherever it is served: a request
	// without "Authorization: Bearer <token>" is answered 401 before it
	// reaches the handler, so anonymous clients cannot take the few
	// scrape slots. Empty: /metrics is open.
	MetricsToken string
	// Proxies are CIDRs of the reverse proxies in front (the intake's
	// trusted proxies): every client behind one arrives from its address,
	// so it is a shared peer (Limits.SharedPeers).
	Proxies []string
	// Limits are each listener's, each with its own count of connections.
	Limits Limits
}

// metricsPath is where the handler serves Prometheus (NewRouter).
const metricsPath = "/metrics"

// NewHTTPServers returns the server of h (NewRouter's) on l.Addr, with
// h's /metrics moved to a listener of its own on l.MetricsAddr, when set,
// and behind l.MetricsToken, when set. It binds nothing until Start.
func NewHTTPServers(h http.Handler, l Listen) *Server {
	l.Limits.SharedPeers = slices.Concat(l.Limits.SharedPeers, l.Proxies)
	metrics := h
	if l.MetricsToken != "" {
		metrics = bearer(l.MetricsToken, "metrics")(h)
	}
	if l.MetricsAddr == "" {
		return newPart(NewServerWithLimits(l.Addr, metricsDoor(metrics, h), l.Limits))
	}
	return newPart(NewServerWithLimits(l.Addr, metricsDoor(http.NotFoundHandler(), h), l.Limits),
		NewServerWithLimits(l.MetricsAddr, metricsDoor(metrics, http.NotFoundHandler()), l.Limits))
}

// metricsDoor sends requests for /metrics to metrics and all others to
// rest. A request is one for /metrics when its decoded path is: whatever
// chi routes to /metrics (by the raw or the decoded path) has it.
func metricsDoor(metrics, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == metricsPath {
			metrics.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

func newPart(srvs ...*http.Server) *Server {
	return &Server{srvs: srvs, done: make(chan struct{})}
}

// Start binds the server's addresses and serves each in a goroutine that
// Close waits for. ctx bounds the binds only. A bind error (the port taken, a
// bad address) is returned, and the server then holds nothing.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("start http server: closed")
	case s.started:
		return errors.New("start http server: already started")
	}
	var lc net.ListenConfig
	lns := make([]net.Listener, 0, len(s.srvs))
	for _, srv := range s.srvs {
		ln, err := lc.Listen(ctx, "tcp", srv.Addr)
		if err != nil {
			for _, bound := range lns {
				_ = bound.Close()
			}
			return fmt.Errorf("listen on %s: %w", srv.Addr, err)
		}
		lns = append(lns, ln)
	}
	s.serve(lns)
	return nil
}

// serve serves lns[i] with s.srvs[i], each in a goroutine; the first to end
// closes s.done. Called with s.mu held.
func (s *Server) serve(lns []net.Listener) {
	s.started = true
	for i, ln := range lns {
		s.addrs = append(s.addrs, ln.Addr())
		srv := s.srvs[i]
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			defer s.ended.Do(func() { close(s.done) })
			// Serve closes ln when it returns.
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				s.mu.Lock()
				s.serveErr = errors.Join(s.serveErr, fmt.Errorf("serve http on %s: %w", ln.Addr(), err))
				s.mu.Unlock()
			}
		}()
	}
}

// Addr is the public address once Start succeeded (the port chosen for
// ":0"), else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.addrs) == 0 {
		return nil
	}
	return s.addrs[0]
}

// MetricsAddr is the address of /metrics' own listener once Start
// succeeded; nil without one (then /metrics is on Addr).
func (s *Server) MetricsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.addrs) < 2 {
		return nil
	}
	return s.addrs[1]
}

// Handler is what the server serves on its public address, for tests that
// serve it through httptest instead.
func (s *Server) Handler() http.Handler { return s.srvs[0].Handler }

// Done is closed when serving has ended, on its own or through Close.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops accepting, gives in-flight requests up to ShutdownTimeout,
// then cuts the connections still open, and returns once the serving
// goroutines have. The ports are free when it returns. It returns the error
// serving ended with, if any, and whether shutdown had to cut requests
// short. Later calls return the same result; on a server never started it
// does nothing.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		defer s.mu.Unlock()
		return s.closeErr
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}

	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	var shutdownErr error
	for _, srv := range s.srvs {
		if err := srv.Shutdown(sctx); err != nil {
			// Deadline passed with requests still running: cut them off.
			_ = srv.Close()
			shutdownErr = errors.Join(shutdownErr, fmt.Errorf("shut down http server on %s: %w", srv.Addr, err))
		}
	}
	// Serve returns as soon as Shutdown starts; waiting for it makes Close
	// the goroutines' owner.
	s.serving.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeErr = errors.Join(s.serveErr, shutdownErr)
	return s.closeErr
}

// Serve serves srv on ln until ctx is done, then shuts down gracefully:
// in-flight requests get up to ShutdownTimeout, after which connections are
// closed. It returns nil after a shutdown triggered by ctx, and the error
// otherwise. ln is closed when Serve returns. It is Server's Start and Close
// for a listener the caller bound.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	s := newPart(srv)
	s.mu.Lock()
	s.serve([]net.Listener{ln})
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return s.Close()
}

// ListenAndServe listens on srv.Addr and calls Serve: Server's Start, then
// Close when ctx is done.
func ListenAndServe(ctx context.Context, srv *http.Server) error {
	s := newPart(srv)
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return s.Close()
}
