package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/etherisc/depeg-relay/stream"
)

func TestClassify(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}
	for _, tc := range []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, ResultOK},
		{204, nil, ResultOK},
		{299, nil, ResultOK},
		{301, nil, ResultRedirect},
		{308, nil, ResultRedirect},
		{400, nil, ResultClientError},
		{401, nil, ResultClientError},
		{404, nil, ResultClientError},
		{429, nil, ResultThrottled},
		{500, nil, ResultServerError},
		{503, nil, ResultServerError},
		{100, nil, ResultServerError},
		{0, refused, ResultRefused},
		{0, fmt.Errorf("post: %w", context.DeadlineExceeded), ResultTimeout},
		{0, &url.Error{Op: "Post", URL: "http://x", Err: timeoutErr{}}, ResultTimeout},
		{0, errors.New("tls: handshake failure"), ResultUnreachable},
		{0, &url.Error{Op: "Post", URL: "http://x", Err: errors.New("no such host")}, ResultUnreachable},
	} {
		if got := classify(tc.status, tc.err); got != tc.want {
			t.Errorf("classify(%d, %v) = %s, want %s", tc.status, tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"junk", 0},
		{"7", 7 * time.Second},
		{"3600", time.Minute}, // capped
		{"99999999999999", time.Minute},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second},
		{"Thu, 01 Jan 2026 01:00:00 GMT", time.Minute},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0}, // past
	} {
		if got := retryAfter(tc.h, now, time.Minute); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestEventID(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	base := stream.StatusChange{State: stream.StateConfirmed, EntityID: "01J", EntryID: "1-0", TxHash: "0xAB", Block: 7, At: at}
	same := base
	same.At, same.Block, same.TxHash = at.Add(time.Hour), 9, "0xab" // repeated step: new time, a reorg's block
	if EventID(base) != EventID(same) {
		t.Errorf("a repeated change got a new id")
	}
	for name, mut := range map[string]func(*stream.StatusChange){
		"state":   func(c *stream.StatusChange) { c.State = stream.StateSubmitted },
		"entity":  func(c *stream.StatusChange) { c.EntityID = "01K" },
		"entry":   func(c *stream.StatusChange) { c.EntryID = "2-0" },
		"tx":      func(c *stream.StatusChange) { c.TxHash = "0xcd" },
		"class":   func(c *stream.StatusChange) { c.Class = "funds" },
		"reverts": func(c *stream.StatusChange) { c.Reverts = 2 },
	} {
		c := base
		mut(&c)
		if EventID(c) == EventID(base) {
			t.Errorf("a change of %s kept the id", name)
		}
	}
	if n := len(EventID(base)); n != 32 {
		t.Errorf("id has %d characters, want 32", n)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
