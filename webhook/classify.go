package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Attempt outcomes: the bounded label values of
// depeg_relay_webhook_attempts_total and the words the monitor and the log
// use for a failing receiver.
const (
	ResultOK          = "ok"           // 2xx
	ResultRedirect    = "redirect"     // 3xx: redirects are not followed (the signature would travel elsewhere)
	ResultThrottled   = "throttled"    // 429
	ResultClientError = "client_error" // other 4xx
	ResultServerError = "server_error" // 5xx
	ResultTimeout     = "timeout"      // no answer within the timeout
	ResultRefused     = "refused"      // connection refused: nothing listens
	ResultUnreachable = "unreachable"  // any other transport failure (DNS, TLS, reset)
)

// classify names the outcome of one attempt from the answer's status code
// (0 without an answer) and the transport error.
func classify(status int, err error) string {
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)):
		return ResultTimeout
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		return ResultRefused
	case err != nil:
		return ResultUnreachable
	case status >= 200 && status < 300:
		return ResultOK
	case status >= 300 && status < 400:
		return ResultRedirect
	case status == http.StatusTooManyRequests:
		return ResultThrottled
	case status >= 400 && status < 500:
		return ResultClientError
	default:
		return ResultServerError
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) as a wait
// from now, capped at max; 0 when absent, unreadable or past.
func retryAfter(h string, now time.Time, max time.Duration) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(max/time.Second) {
			return max
		}
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, max)
}
