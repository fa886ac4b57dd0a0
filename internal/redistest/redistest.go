// Package redistest starts real redis-server processes for tests. Behaviour
// that Redis decides (consumer groups, pending lists, BLOCK timeouts) is never
// mocked: each test gets its own server on a free loopback port, which it may
// stop, restart, wipe, snapshot and restore without disturbing other tests.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/redisproc"
)

// Persistence is how a Server keeps its data across a restart.
type Persistence int

const (
	// NoPersistence: a restart comes back empty (the default).
	NoPersistence Persistence = iota
	// AOFAlways: append-only file, fsync after every write. A restart, even
	// after a kill -9, comes back with every acknowledged write.
	AOFAlways
	// AOFEverySec: append-only file, fsync once a second, as most
	// deployments run. A kill -9 of the process loses nothing (the writes
	// are in the page cache); only a machine crash loses the last second,
	// which Snapshot and RestoreSnapshot play instead.
	AOFEverySec
)

// Options configure StartWith and Launch. The zero value is what Start runs.
type Options struct {
	Persistence Persistence
	// Password, when set, is required from every client (requirepass);
	// URL and Client carry it.
	Password string
	// Args are more redis-server arguments, such as
	// "--notify-keyspace-events", "Eg".
	Args []string
}

// Server is one redis-server child process bound to 127.0.0.1.
type Server struct {
	// t fails the test when Restart, Wipe or a snapshot fails; nil for a
	// server from Launch, whose methods then panic instead.
	t    testing.TB
	Port int
	opts Options
	dir  string
	// ownDir: dir was made by Launch and is removed by Close.
	ownDir bool
	proc   *redisproc.Process
	// gen counts the processes started, so a Watcher can tell whether it
	// watches the current one.
	gen   atomic.Int64
	snaps int
}

// Start launches redis-server on a free loopback port and stops it when the
// test ends. The test fails at once when redis-server is not installed: CI
// installs it (see .ci/run), and a skipped test would prove nothing.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with persistence, a password or more arguments.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, Port: port, opts: opts, dir: t.TempDir()}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts redis-server on a free loopback port outside a test (the
// benchmark); the caller must Close it. Its data and log live in a temporary
// directory that Close removes.
func Launch(opts Options) (*Server, error) {
	port, err := freeport.Pick()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "depeg-relay-redis")
	if err != nil {
		return nil, fmt.Errorf("temp dir for redis: %w", err)
	}
	s := &Server{Port: port, opts: opts, dir: dir, ownDir: true}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Close stops the server (Stop) and removes the directory Launch made.
func (s *Server) Close() error {
	s.Stop()
	if s.ownDir {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// fatal ends the test, or panics for a server from Launch.
func (s *Server) fatal(err error) {
	if s.t == nil {
		panic(err)
	}
	s.t.Helper()
	s.t.Fatal(err)
}

func (s *Server) args() []string {
	args := []string{"--save", ""}
	switch s.opts.Persistence {
	case AOFAlways:
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	case AOFEverySec:
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	default:
		args = append(args, "--appendonly", "no")
	}
	if s.opts.Password != "" {
		args = append(args, "--requirepass", s.opts.Password)
	}
	return append(args, s.opts.Args...)
}

func (s *Server) start() error {
	// Counted before the process exists: a watcher that connects reads
	// the generation of the process it reached.
	s.gen.Add(1)
	p, err := redisproc.Start(context.Background(), redisproc.Options{Port: s.Port, Dir: s.dir, Password: s.opts.Password, Args: s.args()})
	if err != nil {
		return err
	}
	s.proc = p
	return nil
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// URL is the redis:// URL of the server, as REDIS_URL would carry it, with
// the password when there is one.
func (s *Server) URL() string { return s.URLFor(s.Addr()) }

// URLFor is URL for another host:port, such as a proxy in front of the
// server.
func (s *Server) URLFor(addr string) string {
	u := url.URL{Scheme: "redis", Host: addr}
	if s.opts.Password != "" {
		u.User = url.UserPassword("", s.opts.Password)
	}
	return u.String()
}

func (s *Server) newClient() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.opts.Password})
}

// Client returns a new client, closed at the end of the test (for a server
// from Launch, the caller closes it).
func (s *Server) Client() *redis.Client {
	c := s.newClient()
	if s.t != nil {
		s.t.Cleanup(func() { c.Close() })
	}
	return c
}

// Pid is the running process's id, 0 when stopped.
func (s *Server) Pid() int {
	return s.proc.Pid()
}

// Stop kills the server with SIGKILL, as a crash would: what it had not
// persisted is gone. Safe to call twice.
func (s *Server) Stop() {
	_ = s.proc.Kill()
	s.proc = nil
}

// Restart kills the server and starts it again on the same port and data
// directory: without persistence it comes back empty, with AOF it reloads
// every write it had made.
func (s *Server) Restart() {
	if s.t != nil {
		s.t.Helper()
	}
	s.Stop()
	if err := s.start(); err != nil {
		s.fatal(err)
	}
}

// Wipe deletes every key (FLUSHALL), as an operator's mistake or a restart
// without persistence would, without cutting connections.
func (s *Server) Wipe() {
	if s.t != nil {
		s.t.Helper()
	}
	c := s.newClient()
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		s.fatal(fmt.Errorf("flushall: %w", err))
	}
}

// Snapshot writes the data set as it is now (SAVE) to a file of its own and
// returns the file's path, for RestoreSnapshot.
func (s *Server) Snapshot() string {
	if s.t != nil {
		s.t.Helper()
	}
	c := s.newClient()
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		s.fatal(fmt.Errorf("save: %w", err))
	}
	s.snaps++
	path := filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.rdb", s.snaps))
	// Renamed away, so that a later Restart of a server without
	// persistence does not load it.
	if err := os.Rename(filepath.Join(s.dir, "dump.rdb"), path); err != nil {
		s.fatal(fmt.Errorf("keep snapshot: %w", err))
	}
	return path
}

// RestoreSnapshot kills the server and starts it again from a Snapshot: every
// write made since is lost, as after a failover to a lagging replica or a
// restore from backup. Only for servers without AOF, which would replay
// their log instead.
func (s *Server) RestoreSnapshot(path string) {
	if s.t != nil {
		s.t.Helper()
	}
	if s.opts.Persistence != NoPersistence {
		s.fatal(errors.New("RestoreSnapshot: the server persists with AOF, which would win over the snapshot"))
	}
	s.Stop()
	dump := filepath.Join(s.dir, "dump.rdb")
	if err := copyFile(path, dump); err != nil {
		s.fatal(fmt.Errorf("restore snapshot: %w", err))
	}
	if err := s.start(); err != nil {
		s.fatal(err)
	}
	// Loaded; removed so that a later Restart comes back empty again.
	if err := os.Remove(dump); err != nil {
		s.fatal(fmt.Errorf("restore snapshot: %w", err))
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
