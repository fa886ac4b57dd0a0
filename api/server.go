package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// maxConnections bounds the connections served at once, and with them
	// the goroutines and buffers: a flood of idle or slow clients (each
	// held for at most ReadHeaderTimeout) costs at most this many. The
	// uptime checker, the frontend's posts and Prometheus need a handful.
	maxConnections = 1024
	// ShutdownTimeout bounds the graceful shutdown in Server.Close (and
	// Serve, ListenAndServe). Requests here are short, and Dokku kills the
	// container soon after SIGTERM anyway.
	ShutdownTimeout = 5 * time.Second
)

// Limits bound what clients can hold of the server: how long a request may
// take to arrive, how long an answer may take to leave, how long an idle
// keep-alive connection stays open, how large the request headers may be,
// and how many connections are served at once.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConnections: a connection beyond it is closed as soon as it is
	// accepted, before anything is read from it.
	MaxConnections int
}

// DefaultLimits are NewServer's.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, MaxConnections: maxConnections}
}

// NewServer returns an http.Server for h on addr (":3000") with every
// timeout, the header size limit and the connection limit set.
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
	if l.MaxConnections > 0 {
		srv.ConnState = (&connLimit{max: int64(l.MaxConnections)}).track
	}
	return srv
}

// connLimit counts the server's open connections through ConnState and
// closes the ones beyond max on arrival. net/http then ends their
// goroutine at once (the first read fails) and reports them closed, which
// counts them out again.
type connLimit struct {
	max  int64
	open atomic.Int64
}

func (l *connLimit) track(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if l.open.Add(1) > l.max {
			_ = c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		l.open.Add(-1)
	}
}

// Server is the HTTP server as a lifecycle.Part (package lifecycle):
// Start binds the port, so a caller logs "serving" only once it is bound and
// a taken port is Start's error; Close shuts down gracefully and returns once
// the serving goroutine has. Done is closed if serving ends on its own (the
// listener failed); Close then reports why. Its methods may be called
// concurrently.
type Server struct {
	srv *http.Server

	// closeMu makes a second Close wait for the first to finish.
	closeMu  sync.Mutex
	mu       sync.Mutex
	started  bool
	closed   bool
	addr     net.Addr
	serveErr error // set before done is closed
	closeErr error
	done     chan struct{}
}

// NewHTTPServer returns the server for h on addr (":3000"; ":0" picks a free
// port, see Addr) with limits l (DefaultLimits in production). It binds
// nothing until Start.
func NewHTTPServer(addr string, h http.Handler, l Limits) *Server {
	return newPart(NewServerWithLimits(addr, h, l))
}

func newPart(srv *http.Server) *Server {
	return &Server{srv: srv, done: make(chan struct{})}
}

// Start binds the server's address and serves it in a goroutine that Close
// waits for. ctx bounds the bind only. A bind error (the port taken, a bad
// address) is returned, and the server then holds nothing.
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
	ln, err := lc.Listen(ctx, "tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
	}
	s.serve(ln)
	return nil
}

// serve serves ln in a goroutine that closes s.done. Called with s.mu held.
func (s *Server) serve(ln net.Listener) {
	s.started, s.addr = true, ln.Addr()
	go func() {
		defer close(s.done)
		// Serve closes ln when it returns.
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.serveErr = fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
			s.mu.Unlock()
		}
	}()
}

// Addr is the bound address once Start succeeded (the port chosen for
// ":0"), else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Handler is what the server serves, for tests that serve it through
// httptest instead.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Done is closed when serving has ended, on its own or through Close.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops accepting, gives in-flight requests up to ShutdownTimeout,
// then cuts the connections still open, and returns once the serving
// goroutine has. The port is free when it returns. It returns the error
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
	shutdownErr := s.srv.Shutdown(sctx)
	if shutdownErr != nil {
		// Deadline passed with requests still running: cut them off.
		_ = s.srv.Close()
		shutdownErr = fmt.Errorf("shut down http server: %w", shutdownErr)
	}
	// Serve returns as soon as Shutdown starts; waiting for it makes Close
	// the goroutine's owner.
	<-s.done
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
	s.serve(ln)
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
