package monitor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/redis/go-redis/v9"
)

// ErrorCategory names the kind of a Redis or node failure for the public
// monitor answers ("connection refused", "host not found"): the uptime
// checker and the console say what is wrong, and nobody learns the host,
// port or URL of the processor's dependencies from them. The whole error
// goes to the log, where the operator reads it (describeError).
func ErrorCategory(err error) string {
	var (
		dns     *net.DNSError
		httpErr rpc.HTTPError
		rpcErr  rpc.Error
		netErr  net.Error
		certErr x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrClosed):
		return "checker closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "host not found"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &recErr):
		return "tls handshake failed"
	case errors.Is(err, redis.ErrClosed), errors.Is(err, net.ErrClosed):
		return "client closed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case redis.HasErrorPrefix(err, "NOAUTH"), redis.HasErrorPrefix(err, "WRONGPASS"):
		return "authentication failed"
	case redis.IsLoadingError(err):
		return "loading its data"
	case redis.IsReadOnlyError(err):
		return "read-only replica"
	case redis.HasErrorPrefix(err, "MASTERDOWN"), redis.HasErrorPrefix(err, "CLUSTERDOWN"):
		return "no primary"
	case errors.As(err, &httpErr):
		return "http status " + strconv.Itoa(httpErr.StatusCode)
	case errors.As(err, &rpcErr):
		return "node error " + strconv.Itoa(rpcErr.ErrorCode())
	case errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case errors.As(err, &netErr):
		return "network error"
	}
	return "unexpected error (see the log)"
}
