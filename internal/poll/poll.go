// Package poll waits for a condition with a deadline, the one way tests (and
// the helpers that start servers for them) wait for something to happen:
// never a fixed sleep, which is too short on a slow machine and wasted time
// on a fast one.
package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Every is how often Until and UntilNil test their condition.
const Every = 10 * time.Millisecond

// Until tests cond every 10 ms until it holds, failing the test after within
// with what it was waiting for.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	UntilNil(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("condition not met")

// UntilNil tests cond every 10 ms until it returns nil, failing the test
// after within with what it was waiting for and cond's last error.
func UntilNil(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Wait(context.Background(), within, Every, cond); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", within, what, err)
	}
}

// Wait tests cond every period until it returns nil, and returns cond's last
// error once within has passed or ctx is done (with ctx's error then). The
// first test is immediate. A condition that can never hold any more (the
// process it waits for exited) returns Final(err) to end the wait at once.
func Wait(ctx context.Context, within, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var f final
		if errors.As(err, &f) {
			return f.err
		}
		if !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// Final marks err as the end of a wait: Wait returns err at once instead of
// testing again.
func Final(err error) error { return final{err} }

type final struct{ err error }

func (f final) Error() string { return f.err.Error() }
func (f final) Unwrap() error { return f.err }
