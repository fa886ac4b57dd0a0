// Package proctest builds the processor binary and runs it as a subprocess,
// as Dokku runs it: configured through its environment only, JSON logs on
// stderr, its HTTP routes on PORT. Crash, fault and secrets tests drive it
// from outside (signals, HTTP, what it writes) and never reach into it.
package proctest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/poll"
)

// Build compiles github.com/etherisc/depeg-relay/cmd/processor into dir,
// with the given build tags, and returns the binary's path. It is built
// without -race: only the test process pays for the detector.
func Build(t testing.TB, dir string, tags ...string) string {
	t.Helper()
	bin, err := Compile(context.Background(), "", dir, tags...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Binary is the processor binary of one test package, built at most once
// however many of its tests run it (a build takes seconds to minutes on a
// busy machine, most of a short e2e test) and removed when they are done.
// A package declares one beside its TestMain:
//
//	var processor = proctest.NewBinary("nodev")
//
//	func TestMain(m *testing.M) { os.Exit(processor.Run(m)) }
//
// and its tests call processor.Path(t). A failed build fails every test
// that asks for the binary, with the build's output.
type Binary struct {
	tags []string
	once sync.Once
	dir  string
	path string
	err  error
}

// NewBinary describes the package's binary; nothing is built yet.
func NewBinary(tags ...string) *Binary { return &Binary{tags: tags} }

// Path builds the binary on first use and returns its path.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "proctest-processor-"); b.err != nil {
			return
		}
		b.path, b.err = Compile(context.Background(), "", b.dir, b.tags...)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Run runs the package's tests and then removes the binary; its result is
// m.Run's exit code.
func (b *Binary) Run(m *testing.M) int {
	code := m.Run()
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
	return code
}

// Compile builds cmd/processor into outDir/processor with the given build
// tags and returns the binary's path. src is the root of a copy of the
// module to build (the benchmark builds an exported git revision); empty
// builds the module the current directory belongs to.
func Compile(ctx context.Context, src, outDir string, tags ...string) (string, error) {
	bin := filepath.Join(outDir, "processor")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	pkg := "github.com/etherisc/depeg-relay/cmd/processor"
	if src != "" {
		pkg = "./cmd/processor"
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/processor: %w\n%s", err, out)
	}
	return bin, nil
}

// Options describe one run of the binary.
type Options struct {
	// Env is the whole environment: nothing is inherited from the test's,
	// so a developer's REDIS_URL or LOG_LEVEL cannot leak in. PATH is
	// added when missing. PORT, when set, is where HTTP is asked for.
	Env []string
	// Args are the command-line arguments (-check, deadletters list, ...).
	Args []string
	// Name names the run in file names and failure messages.
	Name string
	// LogDir receives <Name>.stderr and <Name>.stdout; a temporary
	// directory of the test when empty.
	LogDir string
}

// Proc is one running (or ended) processor.
type Proc struct {
	Name string
	// Port is the PORT of Env, 0 when unset.
	Port    int
	Started time.Time

	cmd                    *exec.Cmd
	stderrPath, stdoutPath string
	files                  []*os.File
	exited                 chan struct{}
	err                    error
}

// Start runs the binary. The process is killed and reaped at the end of the
// test if it is still running.
func Start(t testing.TB, bin string, opts Options) *Proc {
	t.Helper()
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	p, err := Spawn(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.Running() {
			_ = p.cmd.Process.Kill()
		}
		<-p.exited
	})
	return p
}

// Spawn runs the binary outside a test (the benchmark). opts.LogDir is
// required. The caller ends the process (Shutdown, or a signal and Exited);
// it is reaped as soon as it exits.
func Spawn(bin string, opts Options) (*Proc, error) {
	if opts.Name == "" {
		opts.Name = "processor"
	}
	if opts.LogDir == "" {
		return nil, errors.New("proctest.Spawn: no LogDir")
	}
	p := &Proc{Name: opts.Name, exited: make(chan struct{}),
		stderrPath: filepath.Join(opts.LogDir, opts.Name+".stderr"),
		stdoutPath: filepath.Join(opts.LogDir, opts.Name+".stdout")}
	env := append([]string(nil), opts.Env...)
	hasPath := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PORT="); ok {
			p.Port, _ = strconv.Atoi(v)
		}
		hasPath = hasPath || strings.HasPrefix(kv, "PATH=")
	}
	if !hasPath {
		env = append(env, "PATH="+os.Getenv("PATH"))
	}
	stderr, err := os.Create(p.stderrPath)
	if err != nil {
		return nil, err
	}
	stdout, err := os.Create(p.stdoutPath)
	if err != nil {
		stderr.Close()
		return nil, err
	}
	p.files = []*os.File{stderr, stdout}
	p.cmd = exec.Command(bin, opts.Args...)
	p.cmd.Env = env
	p.cmd.Stderr, p.cmd.Stdout = stderr, stdout
	if err := p.cmd.Start(); err != nil {
		p.closeFiles()
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.Started = time.Now()
	go func() { // owned by p: Kill, Stop, Shutdown, Wait and Start's cleanup wait on exited
		p.err = p.cmd.Wait()
		p.closeFiles()
		close(p.exited)
	}()
	return p, nil
}

// Run runs the binary to its end (within timeout) and returns its exit code,
// stdout and stderr.
func Run(t testing.TB, bin string, opts Options, timeout time.Duration) (code int, stdout, stderr string) {
	t.Helper()
	p := Start(t, bin, opts)
	code = p.Wait(t, timeout)
	return code, p.Stdout(), p.Stderr()
}

func (p *Proc) closeFiles() {
	for _, f := range p.files {
		f.Close()
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the process's result (*exec.ExitError for a non-zero exit), once
// it has exited.
func (p *Proc) Err() error {
	<-p.exited
	return p.err
}

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Wait waits for the process to end by itself and returns its exit code,
// failing the test after timeout.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v:\n%s", p.Name, timeout, p.Tail(30))
	}
	return p.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL and waits until the process is reaped.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && p.Running() {
		t.Fatalf("SIGKILL %s: %v", p.Name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die within 10s of SIGKILL", p.Name)
	}
}

// Stop sends SIGTERM and returns the exit code, failing the test if the
// process does not end within timeout.
func (p *Proc) Stop(t testing.TB, timeout time.Duration) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && p.Running() {
		t.Fatalf("SIGTERM %s: %v", p.Name, err)
	}
	return p.Wait(t, timeout)
}

// Shutdown sends SIGTERM and waits for the process to end; after timeout it
// kills it, waits until it is reaped and says so. A process that already
// exited is not signalled. The exit status is Err's.
func (p *Proc) Shutdown(timeout time.Duration) error {
	if p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %v of SIGTERM", p.Name, timeout)
	}
}

// Stderr is everything the process wrote to stderr so far (its log).
func (p *Proc) Stderr() string { return readFile(p.stderrPath) }

// Stdout is everything the process wrote to stdout so far.
func (p *Proc) Stdout() string { return readFile(p.stdoutPath) }

// StderrPath is the file holding stderr.
func (p *Proc) StderrPath() string { return p.stderrPath }

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Tail is the last n lines of stderr, for failure reports.
func (p *Proc) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Stderr(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogLine is the part of a zerolog JSON line tests read.
type LogLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// Logs parses stderr's JSON lines; lines that are not JSON (a panic, a
// race report, Go runtime output) are returned in foreign.
func (p *Proc) Logs() (lines []LogLine, foreign []string) {
	sc := bufio.NewScanner(strings.NewReader(p.Stderr()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		var l LogLine
		if !strings.HasPrefix(text, "{") || json.Unmarshal([]byte(text), &l) != nil {
			foreign = append(foreign, text)
			continue
		}
		lines = append(lines, l)
	}
	return lines, foreign
}

// URL is http://127.0.0.1:<Port><path>.
func (p *Proc) URL(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", p.Port, path) }

// client has a timeout, so a hung processor fails a request instead of the
// test's deadline.
var client = &http.Client{Timeout: 5 * time.Second}

// Do sends one request to the processor and reads (at most 4 MiB of) the
// answer.
func (p *Proc) Do(ctx context.Context, method, path string, body io.Reader, header http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.URL(path), body)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return res.StatusCode, b, err
}

// Get is Do for a GET without body.
func (p *Proc) Get(ctx context.Context, path string) (int, []byte, error) {
	return p.Do(ctx, http.MethodGet, path, nil, nil)
}

// WaitServing polls /api/monitor until the process answers HTTP (any
// status) with its full router, past its start (a report without
// "starting": the startup monitor answers while the process waits for Redis
// and the node), failing the test if it exits or does not within within.
func (p *Proc) WaitServing(t testing.TB, within time.Duration) {
	t.Helper()
	if err := p.Serving(t.Context(), within); err != nil {
		t.Fatalf("%v\n%s", err, p.Tail(40))
	}
}

// Serving is WaitServing outside a test: it returns an error when the
// process exits, ctx ends or it does not answer within within.
func (p *Proc) Serving(ctx context.Context, within time.Duration) error {
	err := poll.Wait(ctx, within, 20*time.Millisecond, func() error {
		if !p.Running() {
			return poll.Final(errExited)
		}
		_, rep, err := p.Monitor(ctx)
		if err == nil && rep["starting"] != nil {
			return fmt.Errorf("starting: %v", rep["starting"])
		}
		return err
	})
	switch {
	case errors.Is(err, errExited):
		return fmt.Errorf("%s exited (%v) before serving HTTP", p.Name, p.err)
	case err != nil:
		return fmt.Errorf("%s does not serve HTTP within %v: %w", p.Name, within, err)
	}
	return nil
}

var errExited = errors.New("exited")

// WaitAnswering polls /api/monitor until the process answers it at all,
// started or still starting (the startup monitor answers while the process
// waits for Redis and the node): for a process started while a part it needs
// is down, which WaitServing would wait for. It fails the test if the
// process exits or does not answer within within.
func (p *Proc) WaitAnswering(t testing.TB, within time.Duration) {
	t.Helper()
	err := poll.Wait(t.Context(), within, 20*time.Millisecond, func() error {
		if !p.Running() {
			return poll.Final(errExited)
		}
		_, _, err := p.Monitor(t.Context())
		return err
	})
	if err != nil {
		t.Fatalf("%s does not answer /api/monitor within %v: %v\n%s", p.Name, within, err, p.Tail(40))
	}
}

// Monitor reads /api/monitor: its status and its JSON report.
func (p *Proc) Monitor(ctx context.Context) (int, map[string]any, error) {
	code, body, err := p.Get(ctx, "/api/monitor")
	if err != nil {
		return 0, nil, err
	}
	var rep map[string]any
	if err := json.Unmarshal(body, &rep); err != nil {
		return code, nil, fmt.Errorf("monitor answered %d with %q: %w", code, body, err)
	}
	return code, rep, nil
}

// Metrics scrapes /metrics into series ("name" or `name{label="v"}`, as
// exposed) and their values.
func (p *Proc) Metrics(ctx context.Context) (map[string]float64, error) {
	code, body, err := p.Get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", code)
	}
	return ParseMetrics(string(body)), nil
}

// ParseMetrics reads Prometheus text exposition: series and values,
// comments skipped.
func ParseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}
