package fakeclock

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New(t0)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("after 10 concurrent Advance(1s): %v", got)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Set: %v", c.Now())
	}
}

func TestAfter(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New(t0)
	if got := <-c.After(0); !got.Equal(t0) {
		t.Fatalf("After(0) fired with %v, want at once with the clock's time", got)
	}
	a, b := c.After(time.Second), c.After(time.Minute)
	if c.Waiters() != 2 {
		t.Fatalf("waiters %d, want 2", c.Waiters())
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-a:
		t.Fatal("fired before it was due")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-a; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("fired with %v", got)
	}
	select {
	case <-b:
		t.Fatal("the later one fired too")
	default:
	}
	c.Set(t0.Add(time.Hour))
	<-b
	if c.Waiters() != 0 {
		t.Fatalf("waiters %d after all fired", c.Waiters())
	}
}
