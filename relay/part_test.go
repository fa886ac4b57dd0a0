package relay_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/relay"
)

var _ interface {
	lifecycle.Part
	lifecycle.Doner
} = (*relay.Relay)(nil)

// TestRelayIsALifecyclePart: Start returns at once and the relay works
// (an application is confirmed); Close stops it at its next safe point and
// waits for it, Done is closed, and a closed relay does not start again.
func TestRelayIsALifecyclePart(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	apps := e.enqueue(1)
	r := relay.New(e.cfg, zerolog.New(e.log), e.client, e.queue, e.signer, e.product, e.probe, e.hb)
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, lifecycle.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	e.mineUntil(20*time.Second, "the application confirmed", func() bool {
		return e.created(apps[0].signatureID) == 1 && e.pending() == 0
	})
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("Close returned before the relay stopped")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
}
