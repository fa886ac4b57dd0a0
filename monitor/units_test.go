package monitor

import (
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFormatEth(t *testing.T) {
	for _, tc := range []struct {
		wei  string
		want string
	}{
		{"0", "0"},
		{"1", "0.000000000000000001"},
		{"500000000000000000", "0.5"},
		{"1000000000000000000", "1"},
		{"1234567890123456789", "1.234567890123456789"},
		{"-250000000000000000", "-0.25"},
		{"123000000000000000000000", "123000"},
	} {
		w, _ := new(big.Int).SetString(tc.wei, 10)
		if got := formatEth(w); got != tc.want {
			t.Errorf("formatEth(%s) = %q, want %q", tc.wei, got, tc.want)
		}
	}
	if got := formatEth(nil); got != "" {
		t.Errorf("formatEth(nil) = %q", got)
	}
}

func TestFormatAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{1500 * time.Millisecond, "1.5s"},
		{60 * time.Second, "60s"},
		{75*time.Second + 400*time.Millisecond, "75s"},
		{2 * time.Hour, "7200s"},
	} {
		if got := formatAge(tc.d); got != tc.want {
			t.Errorf("formatAge(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestDescribeErrorHidesCredentials(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		secrets []string
		keeps   []string
	}{
		{
			name:    "rpc url with key in path",
			err:     fmt.Errorf("balance: %w", &url.Error{Op: "Post", URL: "https://mainnet.infura.io/v3/KEY123", Err: errors.New("dial tcp: i/o timeout")}),
			secrets: []string{"KEY123"},
			keeps:   []string{"mainnet.infura.io", "i/o timeout", "Post"},
		},
		{
			name:    "redis url with password",
			err:     errors.New("connect redis://default:hunter2@cache:6379/0: refused"),
			secrets: []string{"hunter2", "default:"},
			keeps:   []string{"cache:6379", "refused"},
		},
		{
			name:    "query token",
			err:     &url.Error{Op: "Get", URL: "wss://node.example/ws?token=abc", Err: errors.New("bad handshake")},
			secrets: []string{"abc"},
			keeps:   []string{"node.example", "bad handshake"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describeError(tc.err)
			for _, s := range tc.secrets {
				if strings.Contains(got, s) {
					t.Errorf("%q leaks %q", got, s)
				}
			}
			for _, s := range tc.keeps {
				if !strings.Contains(got, s) {
					t.Errorf("%q lost %q", got, s)
				}
			}
		})
	}
	long := describeError(errors.New(strings.Repeat("x", 5000)))
	if len(long) > maxErrText+3 {
		t.Errorf("long error kept %d bytes", len(long))
	}
}

func TestHeartbeat(t *testing.T) {
	var h Heartbeat
	if !h.Last().IsZero() {
		t.Fatalf("zero heartbeat Last = %v, want zero", h.Last())
	}
	at := time.Date(2026, 11, 23, 18, 0, 0, 123, time.UTC)
	h.Beat(at)
	if got := h.Last(); !got.Equal(at) {
		t.Fatalf("Last = %v, want %v", got, at)
	}
}

func TestReportHealthy(t *testing.T) {
	for _, tc := range []struct {
		r    Report
		want bool
	}{
		{Report{Balance: StatusOK, Processor: StatusOK, NonAckPendingTx: StatusOK}, true},
		{Report{Processor: StatusOK, NonAckPendingTx: StatusOK}, true},
		{Report{Balance: "error - x", Processor: StatusOK}, false},
		{Report{NonAckPendingTx: "error - redis: down"}, false},
	} {
		if got := tc.r.Healthy(); got != tc.want {
			t.Errorf("%+v.Healthy() = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// TestFormatGwei: fees in the CLI's views, exact, without trailing zeros.
func TestFormatGwei(t *testing.T) {
	for _, tc := range []struct {
		wei  *big.Int
		want string
	}{
		{nil, ""},
		{big.NewInt(0), "0 gwei"},
		{big.NewInt(30_000_000_000), "30 gwei"},
		{big.NewInt(1_500_000_000), "1.5 gwei"},
		{big.NewInt(1), "0.000000001 gwei"},
	} {
		if got := FormatGwei(tc.wei); got != tc.want {
			t.Errorf("FormatGwei(%v) = %q, want %q", tc.wei, got, tc.want)
		}
	}
}
