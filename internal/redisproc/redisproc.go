// Package redisproc runs a redis-server child process on a loopback port:
// the one launcher behind dev mode's own Redis (cmd/processor) and the
// tests' servers (internal/redistest). It starts the process, waits until it
// answers PING, and kills it; what the data directory holds and when to
// restart is its caller's.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/freeport"
)

// Options configure Start.
type Options struct {
	// Port is the loopback port; 0 picks a free one.
	Port int
	// Dir holds the data and the log (redis.log). "" makes a temporary
	// directory that Close removes.
	Dir string
	// Password, when set, is required from every client (requirepass is
	// the caller's argument; Start only pings with it).
	Password string
	// ConfigFile, when set, is passed first, as redis-server wants it (a
	// sentinel's configuration, which it rewrites).
	ConfigFile string
	// Args are more redis-server arguments ("--save", "", "--appendonly",
	// "no", ...).
	Args []string
	// OwnGroup starts the process in a process group of its own: a
	// terminal's Ctrl-C (SIGINT to the foreground group) then does not stop
	// it under a caller that still reads it; the caller stops it last.
	OwnGroup bool
	// ReadyWithin bounds the wait for the first PING; default 10 s.
	ReadyWithin time.Duration
}

// Process is one running redis-server.
type Process struct {
	Port    int
	Dir     string
	LogFile string
	cmd     *exec.Cmd
	ownDir  bool
}

// Start runs redis-server on 127.0.0.1 and returns once it answers PING.
// On failure nothing is left running (nor a directory it made), and the
// error carries the server's log.
func Start(ctx context.Context, opts Options) (_ *Process, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found in PATH (apt-get install redis-server): %w", err)
	}
	p := &Process{Port: opts.Port, Dir: opts.Dir}
	if p.Port == 0 {
		if p.Port, err = freeport.Pick(); err != nil {
			return nil, err
		}
	}
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", "depeg-relay-redis"); err != nil {
			return nil, fmt.Errorf("temp dir for redis: %w", err)
		}
		p.ownDir = true
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	p.LogFile = filepath.Join(p.Dir, "redis.log")
	var args []string
	if opts.ConfigFile != "" {
		args = append(args, opts.ConfigFile)
	}
	args = append(args, "--port", strconv.Itoa(p.Port), "--bind", "127.0.0.1", "--dir", p.Dir,
		"--logfile", p.LogFile)
	args = append(args, opts.Args...)
	cmd := exec.Command(bin, args...)
	if opts.OwnGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	p.cmd = cmd
	within := opts.ReadyWithin
	if within <= 0 {
		within = 10 * time.Second
	}
	if err := waitReady(ctx, p.Addr(), opts.Password, within); err != nil {
		log, _ := os.ReadFile(p.LogFile)
		return nil, fmt.Errorf("redis-server on %s did not answer: %w\n%s", p.Addr(), err, log)
	}
	return p, nil
}

// waitReady pings addr every 20 ms until it answers, within or ctx ends.
func waitReady(ctx context.Context, addr, password string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	opts := &redis.Options{Addr: addr, Password: password}
	for {
		err := Ping(ctx, opts, time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ping reports whether the server at opts answers a PING within timeout. A
// plain dial comes first: when nothing listens, go-redis would otherwise log
// its own dial retries to stderr, which only confuses a newcomer.
func Ping(ctx context.Context, opts *redis.Options, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network := opts.Network
	if network == "" {
		network = "tcp"
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, opts.Addr)
	if err != nil {
		return err
	}
	_ = conn.Close()
	c := redis.NewClient(opts)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// Addr is host:port of the server.
func (p *Process) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Pid is the process's id, 0 once killed.
func (p *Process) Pid() int {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the process with SIGKILL, as a crash would (nothing unsaved is
// kept, and no save is waited for), and reaps it. Safe to call twice and on
// nil.
func (p *Process) Kill() error {
	if p == nil || p.cmd == nil {
		return nil
	}
	var err error
	if kerr := p.cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
		err = fmt.Errorf("kill redis-server: %w", kerr)
	}
	_ = p.cmd.Wait() // "signal: killed" is the expected outcome
	p.cmd = nil
	return err
}

// Close kills the process and removes the directory Start made (none when
// Options.Dir was given). Safe to call twice and on nil.
func (p *Process) Close() error {
	if p == nil {
		return nil
	}
	err := p.Kill()
	if p.ownDir {
		if rerr := os.RemoveAll(p.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove redis-server directory: %w", rerr))
		}
		p.ownDir = false
	}
	return err
}
