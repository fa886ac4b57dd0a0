package poll

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	n := 0
	if err := Wait(t.Context(), time.Minute, time.Millisecond, func() error {
		n++
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Wait = %v after %d tests, want nil after 3", err, n)
	}

	last := errors.New("still not")
	start := time.Now()
	if err := Wait(t.Context(), 30*time.Millisecond, time.Millisecond, func() error { return last }); !errors.Is(err, last) {
		t.Fatalf("Wait past its deadline = %v, want the last error", err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("Wait gave up before its deadline")
	}

	gone := errors.New("gone")
	n = 0
	if err := Wait(t.Context(), time.Minute, time.Millisecond, func() error { n++; return Final(gone) }); !errors.Is(err, gone) || n != 1 {
		t.Fatalf("Wait on a final error = %v after %d tests, want it at once", err, n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Wait(ctx, time.Minute, time.Millisecond, func() error { return last }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v", err)
	}
}
