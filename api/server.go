package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	// ShutdownTimeout bounds the graceful shutdown in Serve. Requests here
	// are short, and Dokku kills the container soon after SIGTERM anyway.
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

// Serve serves srv on ln until ctx is done, then shuts down gracefully:
// in-flight requests get up to ShutdownTimeout, after which connections are
// closed. It returns nil after a shutdown triggered by ctx, and the error
// otherwise. ln is closed when Serve returns.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if shutdownErr != nil {
		// Deadline passed with requests still running: cut them off.
		_ = srv.Close()
	}
	// Serve returns as soon as Shutdown starts; waiting for it makes the
	// goroutine's owner this function.
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shut down http server: %w", shutdownErr)
	}
	return nil
}

// ListenAndServe listens on srv.Addr and calls Serve.
func ListenAndServe(ctx context.Context, srv *http.Server) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	return Serve(ctx, srv, ln)
}
