package bench

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
	"sort"
	"strings"
	"syscall"
	"time"
)

// BuildProcessor compiles cmd/processor into dir. With rev empty it builds the
// working tree of the module that contains the current directory; otherwise
// it builds that git revision, exported with git archive into a temporary
// directory, so uncommitted work in the tree cannot leak into the figures.
// It returns the binary's path and a description of what was built.
func BuildProcessor(ctx context.Context, dir, rev string) (bin, built string, err error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", "", fmt.Errorf("run from inside the depeg-relay module (go env GOMOD: %v)", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	src := root
	built = "working tree"
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		built = "working tree at " + strings.TrimSpace(string(out))
	}
	if rev != "" {
		full, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", rev+"^{commit}").Output()
		if err != nil {
			return "", "", fmt.Errorf("git rev-parse %s: %w", rev, err)
		}
		src = filepath.Join(dir, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", "", err
		}
		archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, strings.TrimSpace(string(full)), src)
		if out, err := archive.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("git archive %s: %w\n%s", rev, err, out)
		}
		built = "commit " + strings.TrimSpace(string(full))[:12]
	}
	bin = filepath.Join(dir, "processor")
	// -tags nodev: measure the binary the production image ships (Dockerfile).
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "nodev", "-o", bin, "./cmd/processor")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/processor: %w\n%s", err, out)
	}
	return bin, built, nil
}

// processor is the running processor binary. Its stderr (JSON logs, since it
// is not a terminal) goes to a file.
type processor struct {
	cmd     *exec.Cmd
	logPath string
	port    int
	exited  chan struct{}
	err     error
	logFile *os.File
}

// startProcessor runs bin with exactly env: nothing is inherited from the
// harness's environment, so a developer's REDIS_URL cannot leak in.
func startProcessor(bin, logDir string, port int, env []string) (*processor, error) {
	p := &processor{logPath: filepath.Join(logDir, "processor.log"), port: port, exited: make(chan struct{})}
	f, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.logFile = f
	p.cmd = exec.Command(bin)
	p.cmd.Env = env
	p.cmd.Stderr, p.cmd.Stdout = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start processor: %w", err)
	}
	go func() { // owned by p: stop waits on exited
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *processor) pid() int { return p.cmd.Process.Pid }

// waitReady polls /api/monitor until the HTTP server answers (any status:
// the point is that the service is built and serving).
func (p *processor) waitReady(ctx context.Context, within time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/api/monitor", p.port)
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("processor exited during start-up (%v); see %s", p.err, p.logPath)
		default:
		}
		if res, err := client.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processor did not serve %s within %v; see %s", url, within, p.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// running reports whether the process has not exited.
func (p *processor) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits; after timeout it kills.
func (p *processor) stop(timeout time.Duration) error {
	defer p.logFile.Close()
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("processor did not stop within %v of SIGTERM", timeout)
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		return p.err
	}
	return nil
}

// scrapeMetrics reads selected series from /metrics.
func (p *processor) scrapeMetrics(names ...string) map[string]float64 {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.port))
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(val, &v); err == nil {
			out[name] = v
		}
	}
	return out
}

// LogSummary counts the processor's log lines.
type LogSummary struct {
	Lines int `json:"lines"`
	// ByMessage counts lines by "level: message".
	ByMessage map[string]int `json:"byMessage"`
}

// summariseLog reads the processor's JSON log.
func summariseLog(path string) (LogSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return LogSummary{}, err
	}
	defer f.Close()
	s := LogSummary{ByMessage: map[string]int{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Level   string `json:"level"`
			Message string `json:"message"`
		}
		s.Lines++
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			s.ByMessage["(not json)"]++
			continue
		}
		s.ByMessage[l.Level+": "+l.Message]++
	}
	return s, sc.Err()
}

// problems lists the warning and error messages of a log summary.
func (s LogSummary) problems() []string {
	var out []string
	for k, n := range s.ByMessage {
		if strings.HasPrefix(k, "warn") || strings.HasPrefix(k, "error") || strings.HasPrefix(k, "fatal") || strings.HasPrefix(k, "panic") {
			out = append(out, fmt.Sprintf("%d x %s", n, k))
		}
	}
	sort.Strings(out)
	return out
}
