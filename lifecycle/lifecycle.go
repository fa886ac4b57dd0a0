// Package lifecycle gives every long-running part of the processor one shape,
// start then close, so the wiring in cmd/processor starts them in dependency
// order, rolls back a half-started set in reverse order, and stops them the
// same way whichever part it is. It is a small cousin of Chainlink's
// pkg/services.
//
// The contract of a Part:
//
//   - Start returns promptly, once the part is ready to be used: a server has
//     bound its port, a child process answers. An error from Start means the
//     part holds nothing: Start has undone what it did, and Close need not
//     be called (it may be, and then does nothing).
//   - The ctx given to Start bounds starting only; it is not the part's
//     lifetime. A part runs until Close, so cancelling the caller's context
//     does not stop it behind the owner's back. A part may keep ctx's values.
//   - Close stops the part and returns only after every goroutine the part
//     started has returned. It is safe to call more than once and on a part
//     that never started; later calls do nothing more and return the first
//     call's result.
//   - A part that can end on its own (a loop that failed, a server whose
//     listener broke) also implements Doner: Done is closed when it has ended,
//     and Close then reports why.
//
// Group starts several parts in order and closes them in reverse; Func turns
// a func(ctx) error loop into a Part.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Part is a long-running component with the contract in the package doc.
type Part interface {
	Start(ctx context.Context) error
	Close() error
}

// Doner is a Part that can end without being closed. Done is closed once it
// has; Close must still be called, and returns the reason (nil when it simply
// finished).
type Doner interface {
	Done() <-chan struct{}
}

// ErrStarted is returned by Start on a part that was already started.
var ErrStarted = errors.New("already started")

// ErrClosed is returned by Start on a part that was closed.
var ErrClosed = errors.New("closed")

// Named is a Part with the name its errors carry ("start http server: ...").
type Named struct {
	Name string
	Part Part
}

// Group runs parts as one: Start starts them in the order given, Close closes
// those started in reverse order. A Group is itself a Part and a Doner, so
// groups nest. Its methods may be called concurrently.
type Group struct {
	parts []Named

	// closeMu makes a second Close wait for the first to finish.
	closeMu  sync.Mutex
	mu       sync.Mutex
	state    state
	started  []Named
	closeErr error

	// done is closed when a started Doner part ends on its own; stop ends
	// the watchers that wait for that, and watchers is their WaitGroup.
	done     chan struct{}
	doneOnce sync.Once
	stop     chan struct{}
	watchers sync.WaitGroup
}

type state int

const (
	idle state = iota
	starting
	running
	closed
)

// NewGroup returns a group of parts, started in this order. It starts nothing.
func NewGroup(parts ...Named) *Group {
	return &Group{parts: parts, done: make(chan struct{}), stop: make(chan struct{})}
}

// Start starts each part in order. When one fails, the parts started before
// it are closed in reverse order and Start returns the failure, wrapped with
// the part's name, joined with any error those closes returned. The group is
// then closed: it cannot be started again.
func (g *Group) Start(ctx context.Context) error {
	g.mu.Lock()
	switch g.state {
	case starting, running:
		g.mu.Unlock()
		return ErrStarted
	case closed:
		g.mu.Unlock()
		return ErrClosed
	}
	g.state = starting
	g.mu.Unlock()

	for _, p := range g.parts {
		if err := p.Part.Start(ctx); err != nil {
			startErr := fmt.Errorf("start %s: %w", p.Name, err)
			// Close may be racing us; whoever closes first does the work.
			return errors.Join(startErr, g.Close())
		}
		g.mu.Lock()
		if g.state == closed {
			// Closed while starting: this part was started after Close
			// closed the others, so it is closed here.
			g.mu.Unlock()
			return errors.Join(ErrClosed, closeNamed(p))
		}
		g.started = append(g.started, p)
		g.watch(p)
		g.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == closed {
		return ErrClosed
	}
	g.state = running
	return nil
}

// watch closes g.done once p, if it is a Doner, ends on its own. Called with
// g.mu held.
func (g *Group) watch(p Named) {
	d, ok := p.Part.(Doner)
	if !ok {
		return
	}
	g.watchers.Add(1)
	go func() {
		defer g.watchers.Done()
		select {
		case <-d.Done():
			g.doneOnce.Do(func() { close(g.done) })
		case <-g.stop:
		}
	}()
}

// Done is closed when one of the started Doner parts has ended: on its own
// while running (the group goes on running the others until Close), or while
// Close closes it.
func (g *Group) Done() <-chan struct{} { return g.done }

// Close closes the started parts in reverse order of starting, every one even
// when some fail, and returns their errors joined, each wrapped with its
// part's name. Later calls return the same result.
func (g *Group) Close() error {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	g.mu.Lock()
	if g.state == closed {
		defer g.mu.Unlock()
		return g.closeErr
	}
	g.state = closed
	started := g.started
	g.started = nil
	close(g.stop)
	g.mu.Unlock()

	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := closeNamed(started[i]); err != nil {
			errs = append(errs, err)
		}
	}
	g.watchers.Wait()
	err := errors.Join(errs...)
	g.mu.Lock()
	g.closeErr = err
	g.mu.Unlock()
	return err
}

func closeNamed(p Named) error {
	if err := p.Part.Close(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	return nil
}

// Wait blocks until ctx is done or a part has ended on its own, then closes
// the group and returns Close's result: nil after a clean stop on ctx, the
// failed part's error (and any other close errors) otherwise. Call it after
// Start.
func (g *Group) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-g.done:
	}
	return g.Close()
}

// Run starts the group, then Waits: it runs the parts until ctx is done or
// one of them ends, then closes them all in reverse order.
func (g *Group) Run(ctx context.Context) error {
	if err := g.Start(ctx); err != nil {
		return err
	}
	return g.Wait(ctx)
}

// Func runs a loop as a Part: Start launches fn in a goroutine with a context
// of its own (carrying the values of Start's ctx, not its cancellation), Close
// cancels that context and waits for fn to return. Done is closed when fn has
// returned, so an owner notices a loop that ended while running; Err and
// Close then report fn's error. An error that only says the context was
// cancelled (errors.Is context.Canceled) after Close asked fn to stop is
// not an error: it is how the loop was told to stop.
type Func struct {
	fn func(context.Context) error

	mu      sync.Mutex
	state   state
	cancel  context.CancelFunc
	stopped bool // Close cancelled fn's context
	err     error
	done    chan struct{}
}

// NewFunc returns fn as a Part. It starts nothing.
func NewFunc(fn func(ctx context.Context) error) *Func {
	return &Func{fn: fn, done: make(chan struct{})}
}

// Start launches the loop. It returns at once.
func (f *Func) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.state {
	case running:
		return ErrStarted
	case closed:
		return ErrClosed
	}
	f.state = running
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	go func() {
		err := f.fn(rctx)
		f.mu.Lock()
		if f.stopped && errors.Is(err, context.Canceled) {
			err = nil
		}
		f.err = err
		f.mu.Unlock()
		close(f.done)
	}()
	return nil
}

// Done is closed when the loop has returned, whether it ended on its own or
// because of Close.
func (f *Func) Done() <-chan struct{} { return f.done }

// Err is the loop's error once Done is closed, nil before.
func (f *Func) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close cancels the loop's context and waits for the loop to return, then
// returns its error. On a Func never started it does nothing.
func (f *Func) Close() error {
	f.mu.Lock()
	wasRunning := f.state == running
	f.state = closed
	if wasRunning && !f.stopped {
		f.stopped = true
		f.cancel()
	}
	f.mu.Unlock()
	if !wasRunning && f.cancel == nil {
		return nil
	}
	<-f.done
	return f.Err()
}
