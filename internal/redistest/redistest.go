// Package redistest starts real redis-server processes for tests. Behaviour
// that Redis decides (consumer groups, pending lists, BLOCK timeouts) is never
// mocked: each test gets its own server on a free loopback port, which it may
// stop, restart, wipe, snapshot and restore without disturbing other tests.
package redistest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// Options configure StartWith. The zero value is what Start runs.
type Options struct {
	Persistence Persistence
	// Password, when set, is required from every client (requirepass);
	// URL and Client carry it.
	Password string
}

// Server is one redis-server child process bound to 127.0.0.1.
type Server struct {
	t    testing.TB
	Port int
	opts Options
	dir  string
	cmd  *exec.Cmd
	// gen counts the processes started, so a Watcher can tell whether it
	// watches the current one.
	gen   atomic.Int64
	snaps int
}

// Start launches redis-server on a free loopback port and stops it when the
// test ends. The test fails at once when redis-server is not installed: CI
// installs it (see .ci/run), and a skipped test would prove nothing.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with persistence or a password.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found in PATH (apt-get install redis-server): %v", err)
	}
	s := &Server{t: t, Port: FreePort(t), opts: opts, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) args() []string {
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}
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
	return args
}

func (s *Server) start() {
	s.t.Helper()
	// Counted before the process exists: a watcher that connects reads
	// the generation of the process it reached.
	s.gen.Add(1)
	s.cmd = exec.Command("redis-server", s.args()...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := s.newClient()
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on port %d did not answer: %v\n%s", s.Port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// Client returns a new client closed at the end of the test.
func (s *Server) Client() *redis.Client {
	c := s.newClient()
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Pid is the running process's id, 0 when stopped.
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the server with SIGKILL, as a crash would: what it had not
// persisted is gone. Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port and data
// directory: without persistence it comes back empty, with AOF it reloads
// every write it had made.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Wipe deletes every key (FLUSHALL), as an operator's mistake or a restart
// without persistence would, without cutting connections.
func (s *Server) Wipe() {
	s.t.Helper()
	c := s.newClient()
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		s.t.Fatalf("flushall: %v", err)
	}
}

// Snapshot writes the data set as it is now (SAVE) to a file of its own and
// returns the file's path, for RestoreSnapshot.
func (s *Server) Snapshot() string {
	s.t.Helper()
	c := s.newClient()
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		s.t.Fatalf("save: %v", err)
	}
	s.snaps++
	path := filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.rdb", s.snaps))
	// Renamed away, so that a later Restart of a server without
	// persistence does not load it.
	if err := os.Rename(filepath.Join(s.dir, "dump.rdb"), path); err != nil {
		s.t.Fatalf("keep snapshot: %v", err)
	}
	return path
}

// RestoreSnapshot kills the server and starts it again from a Snapshot: every
// write made since is lost, as after a failover to a lagging replica or a
// restore from backup. Only for servers without AOF, which would replay
// their log instead.
func (s *Server) RestoreSnapshot(path string) {
	s.t.Helper()
	if s.opts.Persistence != NoPersistence {
		s.t.Fatal("RestoreSnapshot: the server persists with AOF, which would win over the snapshot")
	}
	s.Stop()
	dump := filepath.Join(s.dir, "dump.rdb")
	if err := copyFile(path, dump); err != nil {
		s.t.Fatalf("restore snapshot: %v", err)
	}
	s.start()
	// Loaded; removed so that a later Restart comes back empty again.
	if err := os.Remove(dump); err != nil {
		s.t.Fatalf("restore snapshot: %v", err)
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
