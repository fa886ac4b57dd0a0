package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/etherisc/depeg-relay/lease"
)

// TestWaitingStatus: the monitor's lease line says Redis unreachable when
// lease.Wait could not read the key (issue 19, finding 2: it read
// "standby - ... held by " with no holder), a standby only with a holder,
// and never carries Redis's address or the key.
func TestWaitingStatus(t *testing.T) {
	refused := fmt.Errorf("acquire lease {depeg-relay:0xabc}:lease: dial tcp 10.1.2.3:6379: %w", syscall.ECONNREFUSED)
	for _, tc := range []struct {
		name         string
		holder       string
		err          error
		want, absent string
	}{
		{"redis down", "", refused, "redis unreachable - cannot read the wallet's lease: connection refused", "10.1.2.3"},
		{"held elsewhere", "host/42/cafe", nil, "standby - the wallet's lease is held by host/42/cafe", ""},
		{"key gone", "", nil, "standby - the wallet's lease key is gone", "held by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := waitingStatus(tc.holder, tc.err)
			if !strings.HasPrefix(got, tc.want) || (tc.absent != "" && strings.Contains(got, tc.absent)) {
				t.Fatalf("waitingStatus = %q, want %q... without %q", got, tc.want, tc.absent)
			}
		})
	}
	if got := lostStatus(fmt.Errorf("%w (%s)", lease.ErrTakenOver, "{depeg-relay:0xabc}:lease")); !strings.Contains(got, "taken over") {
		t.Fatalf("lostStatus of a takeover = %q", got)
	}
	if got := lostStatus(fmt.Errorf("%w: not renewed for 1s: %w", lease.ErrLost, refused)); !strings.HasSuffix(got, "connection refused") || strings.Contains(got, "10.1.2.3") {
		t.Fatalf("lostStatus of failed renewals = %q", got)
	}
}
