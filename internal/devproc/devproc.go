// Package devproc runs the processor's dev mode (`processor -dev`) as a
// subprocess for end-to-end tests, as a newcomer runs it: it builds the
// binaries, reads the "dev mode ready" log line for where everything is, and
// parses what cmd/enqueue printed. e2e/dev and e2e/console share it.
package devproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Ready is the "dev mode ready" log line dev mode writes once it serves.
type Ready struct {
	Message  string `json:"message"`
	ChainRPC string `json:"chain_rpc"`
	Product  string `json:"product"`
	Wallet   string `json:"wallet"`
	RedisURL string `json:"redis_url"`
	// RedisShared, Stream, Group, Consumer and DeadLetter: on a Redis it
	// shares, dev mode uses names of its own.
	RedisShared bool   `json:"redis_shared"`
	Stream      string `json:"stream"`
	Group       string `json:"group"`
	Consumer    string `json:"consumer"`
	DeadLetter  string `json:"dead_letter"`
	Monitor     string `json:"monitor"`
	Console     string `json:"console"`
}

// Proc is one `processor -dev` subprocess.
type Proc struct {
	cmd     *exec.Cmd
	ready   chan Ready
	done    chan struct{} // closed when the process has exited
	waitErr error         // Wait's result, set before done is closed

	mu    sync.Mutex
	lines []string // stderr (JSON logs), then stdout (the banner) at exit
}

// Start runs `processor -dev` with a minimal environment plus env, so no
// setting of the machine running the test leaks in. Its output is kept and
// printed when the test fails; the process is killed when the test ends.
func Start(t *testing.T, bin string, env []string) *Proc {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, "-dev")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	cmd.WaitDelay = 5 * time.Second
	// A process group of its own, as a shell gives a foreground job:
	// Interrupt then reaches it and its children as Ctrl-C does, and never
	// the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start processor: %v", err)
	}
	p := &Proc{cmd: cmd, ready: make(chan Ready, 1), done: make(chan struct{})}
	go func() { // owned by p: the cleanup waits on done
		defer close(p.done)
		p.scan(stderr)
		p.waitErr = cmd.Wait()
		p.mu.Lock()
		p.lines = append(p.lines, "--- stdout ---", stdout.String())
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		// t.Context is cancelled by now, which kills a process still
		// running; wait for it so its goroutine ends with the test.
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("processor did not exit after being killed")
		}
		if t.Failed() {
			t.Logf("processor output:\n%s", p.LogTail())
		}
	})
	return p
}

// scan keeps every stderr line and announces the ready line.
func (p *Proc) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	announced := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		var rl Ready
		if !announced && json.Unmarshal([]byte(line), &rl) == nil && rl.Message == "dev mode ready" {
			p.ready <- rl
			announced = true
		}
	}
}

// WaitReady returns the ready line, failing the test if the process exits
// first or bound passes.
func (p *Proc) WaitReady(t *testing.T, bound time.Duration) Ready {
	t.Helper()
	select {
	case rl := <-p.ready:
		if !common.IsHexAddress(rl.Product) || rl.ChainRPC == "" || rl.RedisURL == "" {
			t.Fatalf("dev mode ready line lacks product, chain_rpc or redis_url: %+v", rl)
		}
		return rl
	case <-p.done:
		t.Fatalf("processor exited before dev mode was ready: %v", p.waitErr)
	case <-time.After(bound):
		t.Fatalf("dev mode not ready within %s", bound)
	}
	return Ready{}
}

// Signal sends sig to the process (SIGTERM for a graceful stop).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Interrupt is Ctrl-C in the terminal: SIGINT to the process's whole
// group, children included.
func (p *Proc) Interrupt() error { return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT) }

// Lines is the output so far: stderr's JSON log lines, then, once the
// process exited, stdout.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// Done is closed when the process has exited; Err is then Wait's result.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, valid once Done is closed.
func (p *Proc) Err() error { return p.waitErr }

// LogTail returns the last lines of output, enough to see why.
func (p *Proc) LogTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-200):], "\n")
}

// Eventually polls cond every every until it returns nil, failing the test
// with cond's last error after bound or when the processor exits.
func Eventually(t *testing.T, p *Proc, bound, every time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, bound, err)
		}
		select {
		case <-p.done:
			t.Fatalf("%s: processor exited (%v) while waiting; last: %v", what, p.waitErr, err)
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// Get fetches url and returns its status and (at most 1 MiB of) body.
func Get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// Run runs a command to completion and returns its stdout.
func Run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// Valid is a valid application cmd/enqueue enqueued.
type Valid struct {
	EntryID, EntityID string
	PolicyHolder      common.Address
}

// Bad is a bad case cmd/enqueue enqueued, and what its dead letter must say.
type Bad struct {
	EntryID, Name, WantReason string
}

var (
	validLine = regexp.MustCompile(`^enqueued (\S+) entityId=(\S+) signatureId=\S+ policyHolder=(0x[0-9a-fA-F]{40})$`)
	badLine   = regexp.MustCompile(`^enqueued (\S+) bad case (\S+) \(expect a dead letter mentioning (".*")\)$`)
)

// ParseEnqueued reads what cmd/enqueue printed for each entry; any other
// non-empty line fails the test.
func ParseEnqueued(t *testing.T, out string) ([]Valid, []Bad) {
	t.Helper()
	var valid []Valid
	var bad []Bad
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if m := validLine.FindStringSubmatch(line); m != nil {
			valid = append(valid, Valid{EntryID: m[1], EntityID: m[2], PolicyHolder: common.HexToAddress(m[3])})
			continue
		}
		if m := badLine.FindStringSubmatch(line); m != nil {
			want, err := strconv.Unquote(m[3])
			if err != nil {
				t.Fatalf("enqueue line %q: %v", line, err)
			}
			bad = append(bad, Bad{EntryID: m[1], Name: m[2], WantReason: want})
			continue
		}
		if line != "" {
			t.Fatalf("unexpected enqueue output line %q", line)
		}
	}
	return valid, bad
}

// BuildBinaries builds the module's packages into one temporary directory,
// with the race detector when the tests run with it (so the build reuses
// what `go test -race` compiled, and races in the binaries show up).
func BuildBinaries(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := Build(t.Context(), dir, pkgs...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Build is BuildBinaries into dir, outside a test's lifetime: a package
// whose tests share the binaries builds them once (a sync.Once and its
// TestMain removing dir).
func Build(ctx context.Context, dir string, pkgs ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", slices.Concat(args, pkgs)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return nil
}

// moduleRoot is the nearest directory above the working directory (a test's
// package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
