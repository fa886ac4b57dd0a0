package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is the shared log of what the fake parts did, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fake is a Part that records its calls and fails as told.
type fake struct {
	name     string
	rec      *recorder
	startErr error
	closeErr error
}

func (f *fake) Start(context.Context) error {
	f.rec.add("start " + f.name)
	return f.startErr
}

func (f *fake) Close() error {
	f.rec.add("close " + f.name)
	return f.closeErr
}

var (
	errStartB = errors.New("b would not start")
	errStartC = errors.New("c would not start")
	errCloseA = errors.New("a would not close")
	errCloseC = errors.New("c would not close")
)

func TestGroupStartRollsBackInReverse(t *testing.T) {
	tests := []struct {
		name       string
		startErr   map[string]error
		closeErr   map[string]error
		wantEvents []string // through Start and one Close
		wantStart  []error  // each must be in Start's error; none: Start succeeds
		wantPrefix string   // Start's error message begins so
		wantClose  []error  // each must be in Close's error; none: Close returns nil
	}{
		{
			name:       "all start, closed in reverse",
			wantEvents: []string{"start a", "start b", "start c", "close c", "close b", "close a"},
		},
		{
			name:       "first fails: nothing to close",
			startErr:   map[string]error{"a": errCloseA},
			wantEvents: []string{"start a"},
			wantStart:  []error{errCloseA},
			wantPrefix: "start a: ",
		},
		{
			name:       "middle fails: the one before it is closed",
			startErr:   map[string]error{"b": errStartB},
			wantEvents: []string{"start a", "start b", "close a"},
			wantStart:  []error{errStartB},
			wantPrefix: "start b: ",
		},
		{
			name:       "last fails: the others closed in reverse",
			startErr:   map[string]error{"c": errStartC},
			wantEvents: []string{"start a", "start b", "start c", "close b", "close a"},
			wantStart:  []error{errStartC},
			wantPrefix: "start c: ",
		},
		{
			name:       "rollback error joined to the start error",
			startErr:   map[string]error{"c": errStartC},
			closeErr:   map[string]error{"a": errCloseA},
			wantEvents: []string{"start a", "start b", "start c", "close b", "close a"},
			wantStart:  []error{errStartC, errCloseA},
			wantPrefix: "start c: ",
		},
		{
			name:       "close errors joined, every part closed",
			closeErr:   map[string]error{"a": errCloseA, "c": errCloseC},
			wantEvents: []string{"start a", "start b", "start c", "close c", "close b", "close a"},
			wantClose:  []error{errCloseC, errCloseA},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var parts []Named
			for _, n := range []string{"a", "b", "c"} {
				parts = append(parts, Named{Name: n, Part: &fake{name: n, rec: rec, startErr: tt.startErr[n], closeErr: tt.closeErr[n]}})
			}
			g := NewGroup(parts...)
			err := g.Start(t.Context())
			if len(tt.wantStart) == 0 && err != nil {
				t.Fatalf("Start: %v", err)
			}
			for _, want := range tt.wantStart {
				if !errors.Is(err, want) {
					t.Errorf("Start error %v does not hold %v", err, want)
				}
			}
			if err != nil && !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("Start error %q does not begin with %q", err, tt.wantPrefix)
			}
			closeErr := g.Close()
			if len(tt.wantStart) > 0 {
				// A failed Start already closed the group; Close reports
				// the rollback's result again and closes nothing more.
				if len(tt.closeErr) == 0 && closeErr != nil {
					t.Errorf("Close after failed Start: %v", closeErr)
				}
			} else {
				if len(tt.wantClose) == 0 && closeErr != nil {
					t.Errorf("Close: %v", closeErr)
				}
				for _, want := range tt.wantClose {
					if !errors.Is(closeErr, want) {
						t.Errorf("Close error %v does not hold %v", closeErr, want)
					}
				}
			}
			if got := rec.get(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events\n got %q\nwant %q", got, tt.wantEvents)
			}
		})
	}
}

func TestGroupCloseErrorsNamedInReverse(t *testing.T) {
	rec := &recorder{}
	g := NewGroup(
		Named{"a", &fake{name: "a", rec: rec, closeErr: errCloseA}},
		Named{"c", &fake{name: "c", rec: rec, closeErr: errCloseC}},
	)
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := g.Close()
	if want := "c: c would not close\na: a would not close"; err == nil || err.Error() != want {
		t.Errorf("Close error %q, want %q", err, want)
	}
}

func TestGroupCloseIdempotentAndStartAfterClose(t *testing.T) {
	rec := &recorder{}
	g := NewGroup(Named{"a", &fake{name: "a", rec: rec, closeErr: errCloseA}})
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	first := g.Close()
	// Concurrent and later Closes all report the first result and close
	// nothing again.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = g.Close() }()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, errCloseA) || err.Error() != first.Error() {
			t.Errorf("Close #%d: %v, want %v", i+2, err, first)
		}
	}
	if err := g.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	if got, want := rec.get(), []string{"start a", "close a"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestGroupCloseNeverStarted(t *testing.T) {
	rec := &recorder{}
	g := NewGroup(Named{"a", &fake{name: "a", rec: rec}})
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	if got := rec.get(); len(got) != 0 {
		t.Errorf("events %q, want none", got)
	}
}

// recordingLoop is a Func whose loop records when it stops, and that ends
// with err as soon as fail is closed.
func recordingLoop(rec *recorder, name string, fail <-chan struct{}, err error) *Func {
	return NewFunc(func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			rec.add("stop " + name)
			return ctx.Err()
		case <-fail:
			rec.add("fail " + name)
			return err
		}
	})
}

// closeRecorder records a Close before passing it on. It embeds *Func, not
// Part, so that it keeps Func's Done.
type closeRecorder struct {
	*Func
	name string
	rec  *recorder
}

func (c closeRecorder) Close() error {
	c.rec.add("close " + c.name)
	return c.Func.Close()
}

func TestGroupWaitStopsAllWhenOnePartFails(t *testing.T) {
	rec := &recorder{}
	fail := make(chan struct{})
	never := make(chan struct{})
	errLoop := errors.New("lease lost")
	g := NewGroup(
		Named{"server", closeRecorder{recordingLoop(rec, "server", never, nil), "server", rec}},
		Named{"relay", closeRecorder{recordingLoop(rec, "relay", fail, errLoop), "relay", rec}},
		Named{"refresher", closeRecorder{recordingLoop(rec, "refresher", never, nil), "refresher", rec}},
	)
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	close(fail)
	// The deadline only keeps a broken Group from hanging the test: Wait
	// would then return nil and the checks below fail.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := g.Wait(ctx)
	if !errors.Is(err, errLoop) || err.Error() != "relay: lease lost" {
		t.Errorf("Wait: %v, want relay: lease lost", err)
	}
	want := []string{"fail relay", "close refresher", "stop refresher", "close relay", "close server", "stop server"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

func TestGroupRunStopsCleanlyOnContext(t *testing.T) {
	rec := &recorder{}
	never := make(chan struct{})
	g := NewGroup(
		Named{"a", recordingLoop(rec, "a", never, nil)},
		Named{"b", recordingLoop(rec, "b", never, nil)},
	)
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() { res <- g.Run(ctx) }()
	cancel()
	select {
	case err := <-res:
		if err != nil {
			t.Errorf("Run: %v, want nil after the context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	got := rec.get()
	// Both were started (the context bounds starting only); b, started
	// last, is stopped first, and Close waits for it before closing a.
	if !slices.Equal(got, []string{"stop b", "stop a"}) {
		t.Errorf("events %q, want [stop b stop a]", got)
	}
}

func TestFunc(t *testing.T) {
	errLoop := errors.New("boom")
	t.Run("close cancels and waits; cancellation is no error", func(t *testing.T) {
		var returned bool
		f := NewFunc(func(ctx context.Context) error {
			<-ctx.Done()
			returned = true // written before Close returns, or -race says so
			return ctx.Err()
		})
		if err := f.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if !returned {
			t.Error("Close returned before the loop did")
		}
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := f.Start(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("a loop that fails is reported by Done, Err and Close", func(t *testing.T) {
		f := NewFunc(func(context.Context) error { return errLoop })
		if err := f.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-f.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done not closed after the loop returned")
		}
		if !errors.Is(f.Err(), errLoop) {
			t.Errorf("Err: %v", f.Err())
		}
		if err := f.Close(); !errors.Is(err, errLoop) {
			t.Errorf("Close: %v, want %v", err, errLoop)
		}
		if err := f.Close(); !errors.Is(err, errLoop) {
			t.Errorf("second Close: %v, want %v", err, errLoop)
		}
	})
	t.Run("an error on the way out is reported", func(t *testing.T) {
		f := NewFunc(func(ctx context.Context) error {
			<-ctx.Done()
			return errLoop
		})
		if err := f.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); !errors.Is(err, errLoop) {
			t.Errorf("Close: %v, want %v", err, errLoop)
		}
	})
	t.Run("the start context bounds starting only", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
		proceed := make(chan struct{})
		type seen struct {
			value any
			err   error
		}
		got := make(chan seen, 1)
		f := NewFunc(func(ctx context.Context) error {
			<-proceed
			got <- seen{ctx.Value(ctxKey{}), ctx.Err()}
			<-ctx.Done()
			return nil
		})
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		close(proceed)
		if s := <-got; s.value != "v" || s.err != nil {
			t.Errorf("loop context: value %v, err %v; want v and no error after the start context ended", s.value, s.err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Run("close before start", func(t *testing.T) {
		f := NewFunc(func(context.Context) error { return errLoop })
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := f.Start(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		f := NewFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
		if err := f.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("second Start: %v, want ErrStarted", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

type ctxKey struct{}
