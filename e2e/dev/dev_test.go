// Package dev runs the README's first command as a newcomer would: the built
// processor in -dev mode as a subprocess, fed by the built enqueue command,
// and checks that the whole relay works: valid applications confirmed on the
// embedded chain and acknowledged, bad ones dead-lettered with their reason,
// /api/monitor answering 200, and a clean exit on SIGTERM.
package dev

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
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

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain/depeg"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// Bounds of each phase. The build is bounded by the test binary's -timeout
// (a cold build of go-ethereum takes minutes on two cores).
const (
	startBound    = 2 * time.Minute  // dev chain up, contract deployed, HTTP serving
	processBound  = 2 * time.Minute  // every entry confirmed or dead-lettered
	shutdownBound = 30 * time.Second // SHUTDOWN_TIMEOUT defaults to 20s
	pollEvery     = 100 * time.Millisecond
)

// Default names of the frontend's layout (docs/design.md, "The fixed
// contracts"). Dev mode on a Redis it shares (REDIS_URL set) must not use
// them: it takes names of its own.
const (
	defaultStream     = "application:signatures"
	defaultGroup      = "depeg-backend-processor"
	defaultConsumer   = "depeg-backend-processor-consumer"
	defaultDeadLetter = "application:signatures:dead"
)

func TestDevModeRelaysEnqueuedApplications(t *testing.T) {
	bins := buildBinaries(t, "./cmd/processor", "./cmd/enqueue")
	srv := redistest.Start(t)
	rdb := srv.Client()

	p, ready, monitorURL := startShared(t, bins, srv)
	valid, bad := enqueue(t, bins, srv, ready)
	settled(t, p, rdb, ready, monitorURL, valid, bad)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Fatalf("processor exit after SIGTERM: %v, want exit code 0\n%s", p.waitErr, p.logTail())
		}
	case <-time.After(shutdownBound):
		t.Fatalf("processor still running %s after SIGTERM\n%s", shutdownBound, p.logTail())
	}
	if tail := p.logTail(); !strings.Contains(tail, "dev mode uses names of its own") {
		t.Errorf("the banner does not say that dev mode took names of its own on a shared Redis:\n%s", tail)
	}
}

// TestTwoDevModesShareOneRedis is the case dev mode once got wrong: two dev
// modes on one Redis shared a consumer, took each other's entries and
// dead-lettered the other's valid applications as SIGNATURE_INVALID (each
// simulates against its own chain). With names and wallets of their own,
// every valid application of each is confirmed on its own chain.
func TestTwoDevModesShareOneRedis(t *testing.T) {
	bins := buildBinaries(t, "./cmd/processor", "./cmd/enqueue")
	srv := redistest.Start(t)
	rdb := srv.Client()

	p1, r1, m1 := startShared(t, bins, srv)
	p2, r2, m2 := startShared(t, bins, srv)
	if r1.Stream == r2.Stream || r1.Group == r2.Group || r1.DeadLetter == r2.DeadLetter || r1.Wallet == r2.Wallet {
		t.Fatalf("two dev modes share names or a wallet (and so a journal):\n%+v\n%+v", r1, r2)
	}
	v1, b1 := enqueue(t, bins, srv, r1)
	v2, b2 := enqueue(t, bins, srv, r2)
	settled(t, p1, rdb, r1, m1, v1, b1)
	settled(t, p2, rdb, r2, m2, v2, b2)
}

// startShared runs dev mode on srv (REDIS_URL set, so shared) and waits
// until it serves; it checks that dev mode took names of its own.
func startShared(t *testing.T, bins string, srv *redistest.Server) (*processor, readyLine, string) {
	t.Helper()
	port := redistest.FreePort(t)
	p := startProcessor(t, filepath.Join(bins, "processor"), []string{
		"PORT=" + strconv.Itoa(port),
		"DEV_CHAIN_PORT=" + strconv.Itoa(redistest.FreePort(t)),
		"DEV_BLOCK_TIME=200",
		"CHAIN_POLL_INTERVAL=200",
		"REDIS_URL=" + srv.URL(),
	})
	ready := p.waitReady(t, startBound)
	if ready.RedisURL != srv.URL() || !ready.RedisShared {
		t.Fatalf("dev mode uses Redis %q (shared %v), want the one at REDIS_URL %q", ready.RedisURL, ready.RedisShared, srv.URL())
	}
	for _, n := range []struct{ got, prod string }{
		{ready.Stream, defaultStream}, {ready.Group, defaultGroup}, {ready.Consumer, defaultConsumer}, {ready.DeadLetter, defaultDeadLetter},
	} {
		if n.got == n.prod || n.got == "" {
			t.Fatalf("dev mode on a shared Redis uses the name %q, want one of its own", n.got)
		}
	}
	monitorURL := fmt.Sprintf("http://127.0.0.1:%d/api/monitor", port)
	eventually(t, p, startBound, "/api/monitor answers", func(ctx context.Context) error {
		_, _, err := get(ctx, monitorURL)
		return err
	})
	return p, ready, monitorURL
}

// enqueue plays the frontend on dev mode's stream: five valid applications
// and the bad cases.
func enqueue(t *testing.T, bins string, srv *redistest.Server, ready readyLine) ([]validEntry, []badEntry) {
	t.Helper()
	out := run(t, filepath.Join(bins, "enqueue"),
		"-redis", srv.URL(), "-stream", ready.Stream, "-rpc", ready.ChainRPC, "-product", ready.Product, "-n", "5", "-bad")
	valid, bad := parseEnqueued(t, out)
	if len(valid) != 5 || len(bad) == 0 {
		t.Fatalf("enqueue printed %d valid and %d bad entries, want 5 and some:\n%s", len(valid), len(bad), out)
	}
	return valid, bad
}

// settled waits until every entry is settled and the monitor is healthy,
// then checks the dead letters and the chain.
func settled(t *testing.T, p *processor, rdb *redis.Client, ready readyLine, monitorURL string, valid []validEntry, bad []badEntry) {
	t.Helper()
	eventually(t, p, processBound, "every entry settled and /api/monitor healthy", func(ctx context.Context) error {
		xp, err := rdb.XPending(ctx, ready.Stream, ready.Group).Result()
		if err != nil {
			return fmt.Errorf("xpending: %w", err)
		}
		if xp.Count != 0 {
			return fmt.Errorf("%d entries pending", xp.Count)
		}
		if n, err := rdb.XLen(ctx, ready.DeadLetter).Result(); err != nil || n < int64(len(bad)) {
			return fmt.Errorf("dead letters: %d of %d (err %v)", n, len(bad), err)
		}
		for _, a := range valid {
			if n, err := rdb.Exists(ctx, stream.ApplicationKey(a.entityID)).Result(); err != nil || n != 0 {
				return fmt.Errorf("application %s not purged yet (err %v)", a.entityID, err)
			}
		}
		status, body, err := get(ctx, monitorURL)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("/api/monitor answered %d: %s", status, body)
		}
		return nil
	})

	checkDeadLetters(t, rdb, ready.DeadLetter, valid, bad)
	checkOnChain(t, ready, valid)
}

// checkDeadLetters wants one dead letter per bad case, with the reason the
// enqueue command announced, and none for a valid application.
func checkDeadLetters(t *testing.T, rdb *redis.Client, deadLetterKey string, valid []validEntry, bad []badEntry) {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), deadLetterKey, "-", "+").Result()
	if err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	byEntry := map[string]map[string]any{}
	for _, m := range msgs {
		id, _ := m.Values["entryId"].(string)
		byEntry[id] = m.Values
	}
	for _, b := range bad {
		dl, ok := byEntry[b.entryID]
		if !ok {
			t.Errorf("bad case %s (entry %s) has no dead letter", b.name, b.entryID)
			continue
		}
		reason, _ := dl["reason"].(string)
		if !strings.Contains(reason, b.wantReason) {
			t.Errorf("bad case %s: dead-letter reason %q does not mention %q", b.name, reason, b.wantReason)
		}
		for _, field := range []string{"class", "time"} {
			if s, _ := dl[field].(string); s == "" {
				t.Errorf("bad case %s: dead letter has no %s: %v", b.name, field, dl)
			}
		}
	}
	for _, a := range valid {
		if dl, ok := byEntry[a.entryID]; ok {
			t.Errorf("valid application %s was dead-lettered: %v", a.entityID, dl)
		}
	}
}

// checkOnChain wants exactly one LogDepegApplicationCreated per valid
// application on the dev chain: confirmed, and never applied twice.
func checkOnChain(t *testing.T, ready readyLine, valid []validEntry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, ready.ChainRPC)
	if err != nil {
		t.Fatalf("dial dev chain: %v", err)
	}
	defer ec.Close()
	binding := depeg.NewDepegProduct()
	event := binding.GetABI().Events[depeg.DepegProductLogDepegApplicationCreatedEventName]
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(0),
		Addresses: []common.Address{common.HexToAddress(ready.Product)},
		Topics:    [][]common.Hash{{event.ID}},
	})
	if err != nil {
		t.Fatalf("read application events: %v", err)
	}
	created := map[common.Address]int{}
	for i := range logs {
		ev, err := binding.UnpackLogDepegApplicationCreatedEvent(&logs[i])
		if err != nil {
			t.Fatalf("decode application event: %v", err)
		}
		created[ev.PolicyHolder]++
	}
	for _, a := range valid {
		if n := created[a.policyHolder]; n != 1 {
			t.Errorf("application %s (policy holder %s) created %d times on chain, want 1", a.entityID, a.policyHolder.Hex(), n)
		}
	}
}

// --- the processor subprocess ---

// readyLine is the "dev mode ready" log line dev mode writes once it serves.
type readyLine struct {
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
}

type processor struct {
	cmd     *exec.Cmd
	ready   chan readyLine
	done    chan struct{} // closed when the process has exited
	waitErr error         // Wait's result, set before done is closed

	mu    sync.Mutex
	lines []string // stderr (JSON logs), then stdout (the banner) at exit
}

// startProcessor runs `processor -dev` with a minimal environment plus env,
// so no setting of the machine running the test leaks in. Its logs are kept
// and printed when the test fails. The process is killed when the test ends.
func startProcessor(t *testing.T, bin string, env []string) *processor {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, "-dev")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start processor: %v", err)
	}
	p := &processor{cmd: cmd, ready: make(chan readyLine, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.scan(stderr)
		p.waitErr = cmd.Wait()
		p.mu.Lock()
		p.lines = append(p.lines, "--- stdout ---", stdout.String())
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		// t.Context is cancelled by now, which kills a process still running;
		// wait for it so its goroutine ends with the test.
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("processor did not exit after being killed")
		}
		if t.Failed() {
			t.Logf("processor output:\n%s", p.logTail())
		}
	})
	return p
}

// scan keeps every stderr line and announces the ready line.
func (p *processor) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	announced := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		var rl readyLine
		if !announced && json.Unmarshal([]byte(line), &rl) == nil && rl.Message == "dev mode ready" {
			p.ready <- rl
			announced = true
		}
	}
}

func (p *processor) waitReady(t *testing.T, bound time.Duration) readyLine {
	t.Helper()
	select {
	case rl := <-p.ready:
		if !common.IsHexAddress(rl.Product) || rl.ChainRPC == "" {
			t.Fatalf("dev mode ready line lacks product or chain_rpc: %+v", rl)
		}
		return rl
	case <-p.done:
		t.Fatalf("processor exited before dev mode was ready: %v", p.waitErr)
	case <-time.After(bound):
		t.Fatalf("dev mode not ready within %s", bound)
	}
	return readyLine{}
}

// logTail returns the last lines of output, enough to see why.
func (p *processor) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := p.lines[max(0, len(p.lines)-200):]
	return strings.Join(lines, "\n")
}

// --- helpers ---

// eventually polls cond until it returns nil, failing the test with cond's
// last error after bound or when the processor exits.
func eventually(t *testing.T, p *processor, bound time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	tick := time.NewTicker(pollEvery)
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

func get(ctx context.Context, url string) (int, string, error) {
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

// run runs a command to completion and returns its stdout.
func run(t *testing.T, bin string, args ...string) string {
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

type validEntry struct {
	entryID, entityID string
	policyHolder      common.Address
}

type badEntry struct {
	entryID, name, wantReason string
}

var (
	validLine = regexp.MustCompile(`^enqueued (\S+) entityId=(\S+) signatureId=\S+ policyHolder=(0x[0-9a-fA-F]{40})$`)
	badLine   = regexp.MustCompile(`^enqueued (\S+) bad case (\S+) \(expect a dead letter mentioning (".*")\)$`)
)

// parseEnqueued reads what cmd/enqueue printed for each entry.
func parseEnqueued(t *testing.T, out string) ([]validEntry, []badEntry) {
	t.Helper()
	var valid []validEntry
	var bad []badEntry
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if m := validLine.FindStringSubmatch(line); m != nil {
			valid = append(valid, validEntry{entryID: m[1], entityID: m[2], policyHolder: common.HexToAddress(m[3])})
			continue
		}
		if m := badLine.FindStringSubmatch(line); m != nil {
			want, err := strconv.Unquote(m[3])
			if err != nil {
				t.Fatalf("enqueue line %q: %v", line, err)
			}
			bad = append(bad, badEntry{entryID: m[1], name: m[2], wantReason: want})
			continue
		}
		if line != "" {
			t.Fatalf("unexpected enqueue output line %q", line)
		}
	}
	return valid, bad
}

// buildBinaries builds the packages into one temporary directory, with the
// race detector when this test runs with it (so the build reuses what
// `go test -race` already compiled, and races in the binaries show up).
func buildBinaries(t *testing.T, pkgs ...string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(t.Context(), "go", slices.Concat(args, pkgs)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return dir
}
