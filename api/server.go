package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
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
	// ShutdownTimeout bounds the graceful shutdown in Serve. Requests here
	// are short, and Dokku kills the container soon after SIGTERM anyway.
	ShutdownTimeout = 5 * time.Second
)

// NewServer returns an http.Server for h on addr (":3000") with every
// timeout and the header size limit set.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
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
