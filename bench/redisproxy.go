package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RedisCounts is a snapshot of the Redis traffic that went through a
// RedisProxy.
type RedisCounts struct {
	// Connections opened by the client.
	Connections int64 `json:"connections"`
	// RoundTrips counts client write bursts: one command, or one pipeline
	// flushed at once, that the client then waits on.
	RoundTrips int64 `json:"roundTrips"`
	// Commands counts commands, each command of a pipeline counted.
	Commands int64 `json:"commands"`
	// ByCommand counts commands by lower-case name ("client|setinfo" for
	// commands with a subcommand, as INFO commandstats names them).
	ByCommand map[string]int64 `json:"byCommand"`
}

// Sub returns c - o.
func (c RedisCounts) Sub(o RedisCounts) RedisCounts {
	return RedisCounts{
		Connections: c.Connections - o.Connections, RoundTrips: c.RoundTrips - o.RoundTrips,
		Commands: c.Commands - o.Commands, ByCommand: subMap(c.ByCommand, o.ByCommand),
	}
}

// RedisProxy is a TCP proxy in front of redis-server that parses the client
// side of the RESP protocol to count commands and round trips. Replies are
// copied through untouched. It exists so that the processor's own Redis
// traffic can be counted apart from the harness's (INFO commandstats counts
// every client together).
type RedisProxy struct {
	// Addr is host:port of the proxy.
	Addr string

	target string
	delay  time.Duration
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	counts RedisCounts
	conns  map[net.Conn]struct{}
	closed bool
}

// StartRedisProxy listens on a free loopback port and forwards to target
// (host:port). delay is added to every round trip, to play a Redis that is
// not on the same machine (a managed Redis is about 1 ms away).
func StartRedisProxy(target string, delay time.Duration) (*RedisProxy, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redis proxy listen: %w", err)
	}
	p := &RedisProxy{Addr: ln.Addr().String(), target: target, delay: delay, ln: ln,
		counts: RedisCounts{ByCommand: map[string]int64{}}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.accept()
	}()
	return p, nil
}

func (p *RedisProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *RedisProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *RedisProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *RedisProxy) serve(client net.Conn) {
	server, err := (&net.Dialer{}).Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client)
	defer p.untrack(server)
	p.mu.Lock()
	p.counts.Connections++
	p.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { // replies: copied verbatim
		defer wg.Done()
		_, _ = io.Copy(client, server)
		client.Close()
	}()

	r := bufio.NewReaderSize(client, 64<<10)
	var out []byte
	var names []string
	for {
		raw, name, err := readCommand(r)
		if err != nil {
			server.Close()
			return
		}
		out = append(out, raw...)
		names = append(names, name)
		// Everything the client wrote in one go is forwarded in one go and
		// counted as one round trip: go-redis flushes a pipeline at once.
		if r.Buffered() > 0 {
			continue
		}
		p.mu.Lock()
		p.counts.RoundTrips++
		for _, n := range names {
			p.counts.Commands++
			p.counts.ByCommand[n]++
		}
		p.mu.Unlock()
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		if _, err := server.Write(out); err != nil {
			return
		}
		out, names = out[:0], names[:0]
	}
}

// withSubcommand are the commands INFO commandstats reports as cmd|sub.
var withSubcommand = map[string]bool{
	"client": true, "config": true, "xgroup": true, "xinfo": true, "command": true, "object": true,
	"memory": true, "script": true, "function": true, "cluster": true, "acl": true, "pubsub": true,
	"latency": true, "slowlog": true, "module": true,
}

// readCommand reads one client command (a RESP array of bulk strings, or an
// inline command) and returns its raw bytes and its name.
func readCommand(r *bufio.Reader) (raw []byte, name string, err error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, "", err
	}
	raw = line
	if len(line) < 3 || line[0] != '*' {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			return raw, "<empty>", nil
		}
		return raw, strings.ToLower(f[0]), nil
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, "", fmt.Errorf("bad array header %q", line)
	}
	var args []string
	for i := range n {
		hdr, err := r.ReadBytes('\n')
		if err != nil {
			return nil, "", err
		}
		if len(hdr) < 3 || hdr[0] != '$' {
			return nil, "", fmt.Errorf("bad bulk header %q", hdr)
		}
		size, err := strconv.Atoi(string(hdr[1 : len(hdr)-2]))
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("bad bulk size %q", hdr)
		}
		body := make([]byte, size+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, "", err
		}
		raw = append(append(raw, hdr...), body...)
		if i < 2 {
			args = append(args, strings.ToLower(string(body[:size])))
		}
	}
	switch {
	case len(args) == 0:
		return raw, "<empty>", nil
	case len(args) > 1 && withSubcommand[args[0]]:
		return raw, args[0] + "|" + args[1], nil
	default:
		return raw, args[0], nil
	}
}

// Counts returns a snapshot of the counters.
func (p *RedisProxy) Counts() RedisCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	c.ByCommand = maps.Clone(p.counts.ByCommand)
	return c
}

// Close stops accepting, cuts open connections and waits for every goroutine
// of the proxy.
func (p *RedisProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
