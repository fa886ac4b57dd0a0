// Package fakeclock is a settable clock for tests: code under test takes a
// now func() time.Time (or a clock with Now and After), and the test passes
// Clock.Now (or the Clock) and advances time instead of sleeping.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a time that only moves when Advance or Set is called. It may be
// read and moved from several goroutines. The zero value reads the zero time.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

// waiter is a channel of After, due at a time.
type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// After returns a channel that receives the clock's time once it has been
// moved to d after now, as time.After does with the wall clock. A d <= 0
// fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.t.Add(d), ch: ch})
	return ch
}

// Waiters is how many After channels have not fired yet: a test can wait
// until the code under test waits before it moves the clock.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Advance moves the clock forward by d (backward for a negative d) and
// fires the After channels now due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.fire()
}

// Set moves the clock to t and fires the After channels now due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	c.fire()
}

// fire sends on every channel due at the clock's time; called with mu held.
func (c *Clock) fire() {
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t // buffered, sent once
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
}
