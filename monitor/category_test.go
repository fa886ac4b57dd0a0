package monitor

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/redis/go-redis/v9"
)

// TestErrorCategory: every category hides the address the error carries.
func TestErrorCategory(t *testing.T) {
	dial := func(err error) error {
		return fmt.Errorf("xpending: %w", &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 6379}, Err: os.NewSyscallError("connect", err)})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{dial(syscall.ECONNREFUSED), "connection refused"},
		{dial(syscall.ECONNRESET), "connection reset"},
		{dial(syscall.EHOSTUNREACH), "host unreachable"},
		{&net.DNSError{Err: "no such host", Name: "redis.internal.example"}, "host not found"},
		{fmt.Errorf("probe: %w", context.DeadlineExceeded), "no answer in time"},
		{fmt.Errorf("x: %w", ErrClosed), "checker closed"},
		{redis.ErrClosed, "client closed"},
		{io.EOF, "connection closed by the server"},
		{redis.ErrPoolTimeout, "unexpected error (see the log)"},
		{&url.Error{Op: "Post", URL: "https://node.example/v3/key", Err: x509.UnknownAuthorityError{}}, "tls handshake failed"},
		{rpc.HTTPError{StatusCode: 429, Status: "429 Too Many Requests", Body: []byte("slow down")}, "http status 429"},
		{errors.New("WRONGPASS at 10.1.2.3"), "unexpected error (see the log)"},
	} {
		got := ErrorCategory(tc.err)
		if got != tc.want {
			t.Errorf("ErrorCategory(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
