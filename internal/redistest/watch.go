package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/poll"
)

// Watcher follows every command the server executes (MONITOR), across
// restarts: a test sees what the code under test did to Redis, and when,
// without a proxy in the way.
//
// Commands executed while the watcher is reconnecting after a restart are
// not seen. A test that must see everything keeps clients away from the
// server until Sync returns (e.g. behind a proxy it disables meanwhile).
type Watcher struct {
	s  *Server
	fn func(args []string)
	// gen is the server generation the current MONITOR connection watches.
	gen    atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// marks are the CatchUp markers not seen yet, each with the channel
	// closed when the watcher reaches it.
	mu    sync.Mutex
	marks map[string]chan struct{}
	seq   atomic.Int64
}

// markPrefix starts the key of a CatchUp marker, a command fn never sees.
const markPrefix = "redistest:catch-up:"

// CatchUp waits until fn has returned for every command the server executed
// before this call. MONITOR streams behind the server, and fn itself may
// take time (a test that reads the chain for each acknowledgement), so a
// test that judges what fn recorded right after it saw the end in Redis
// itself would judge too early: the last commands may not have reached fn.
// CatchUp sends a marker command (EXISTS of a key nobody writes) and waits
// until the watcher reaches it; it sends the marker again every second, in
// case the watcher was reconnecting after a restart when it ran.
func (w *Watcher) CatchUp(t testing.TB) {
	t.Helper()
	key := markPrefix + strconv.FormatInt(w.seq.Add(1), 10)
	seen := make(chan struct{})
	w.mu.Lock()
	if w.marks == nil {
		w.marks = map[string]chan struct{}{}
	}
	w.marks[key] = seen
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.marks, key)
		w.mu.Unlock()
	}()
	c := w.s.newClient()
	defer c.Close()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Exists(ctx, key).Err() // a server down now is retried below
		cancel()
		select {
		case <-seen:
			return
		case <-time.After(time.Second):
		case <-deadline.C:
			t.Fatalf("redis watcher did not catch up with the server on port %d within 30s", w.s.Port)
		}
	}
}

// marked reports whether args is a CatchUp marker, and releases its waiter.
func (w *Watcher) marked(args []string) bool {
	if len(args) != 2 || args[0] != "EXISTS" || !strings.HasPrefix(args[1], markPrefix) {
		return false
	}
	w.mu.Lock()
	if ch, ok := w.marks[args[1]]; ok {
		close(ch)
		delete(w.marks, args[1])
	}
	w.mu.Unlock()
	return true
}

// Watch calls fn with the arguments of every command the server executes
// from now on ("XACK", key, group, id ...; the command name upper-cased,
// whatever the client sent), in order, on one goroutine, until
// the test ends. fn should return quickly: the server queues the stream
// meanwhile.
func (s *Server) Watch(t testing.TB, fn func(args []string)) *Watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{s: s, fn: fn, cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx)
	}()
	t.Cleanup(func() { cancel(); w.wg.Wait() })
	w.Sync(t)
	return w
}

// Sync waits until the watcher follows the server as (re)started last.
func (w *Watcher) Sync(t testing.TB) {
	t.Helper()
	err := poll.Wait(context.Background(), 10*time.Second, 5*time.Millisecond, func() error {
		if w.gen.Load() != w.s.gen.Load() {
			return errors.New("still on an earlier process")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redis watcher did not reconnect to the server on port %d: %v", w.s.Port, err)
	}
}

func (w *Watcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := w.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		_ = err // the server went away (a restart): connect again
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// follow runs one MONITOR connection until it breaks.
func (w *Watcher) follow(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", w.s.Addr())
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	rd := bufio.NewReaderSize(conn, 1<<16)
	if w.s.opts.Password != "" {
		if err := command(conn, rd, "AUTH", w.s.opts.Password); err != nil {
			return err
		}
	}
	if err := command(conn, rd, "MONITOR"); err != nil {
		return err
	}
	w.gen.Store(w.s.gen.Load())
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if !strings.HasPrefix(line, "+") {
			continue
		}
		if args, ok := parseMonitorLine(line[1:]); ok && len(args) > 0 {
			args[0] = strings.ToUpper(args[0])
			if !w.marked(args) {
				w.fn(args)
			}
		}
	}
}

// command sends one command in RESP and expects +OK.
func command(conn net.Conn, rd *bufio.Reader, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+OK") {
		return errors.New("redis answered " + strings.TrimSpace(line))
	}
	return nil
}

// parseMonitorLine splits `1700000000.123456 [0 127.0.0.1:5555] "XACK" "k" ...`
// into its quoted arguments, unescaped as Redis escapes them (sdscatrepr).
func parseMonitorLine(s string) ([]string, bool) {
	i := strings.Index(s, "] ")
	if i < 0 {
		return nil, false
	}
	s = s[i+2:]
	var args []string
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] != '"' {
			return nil, false
		}
		var b strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] != '\\' || j+1 >= len(s) {
				b.WriteByte(s[j])
				continue
			}
			j++
			switch s[j] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if j+2 < len(s) {
					if v, err := strconv.ParseUint(s[j+1:j+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						j += 2
						continue
					}
				}
				b.WriteByte('x')
			default:
				b.WriteByte(s[j])
			}
		}
		if j >= len(s) {
			return nil, false
		}
		args = append(args, b.String())
		s = s[j+1:]
	}
	return args, true
}
