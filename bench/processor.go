package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/internal/proctest"
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
	// -tags nodev: measure the binary the production image ships (Dockerfile).
	bin, err = proctest.Compile(ctx, src, dir, "nodev")
	if err != nil {
		return "", "", err
	}
	return bin, built, nil
}

// stopProcessor sends SIGTERM and waits; after 30 s it kills. A non-zero
// exit status is not an error here: the report's checks judge the run.
func stopProcessor(p *proctest.Proc) error { return p.Shutdown(30 * time.Second) }

// scrapeMetrics reads selected series from the processor's /metrics; nil
// when it does not answer.
func scrapeMetrics(ctx context.Context, p *proctest.Proc, names ...string) map[string]float64 {
	all, err := p.Metrics(ctx)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, n := range names {
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

// Wallets are the addresses of the first n keys of mnemonic, as the
// processor derives them for PROCESSOR_ACCOUNT_INDEX.
func Wallets(mnemonic string, n int) ([]common.Address, error) {
	out := make([]common.Address, 0, n)
	for i := range n {
		key, err := chain.DeriveKey(mnemonic, uint32(i))
		if err != nil {
			return nil, fmt.Errorf("derive key %d: %w", i, err)
		}
		out = append(out, crypto.PubkeyToAddress(key.PublicKey))
	}
	return out, nil
}

// AccountIndexes is PROCESSOR_ACCOUNT_INDEX for the first n keys: "0" for
// one, the range "0-(n-1)" for more.
func AccountIndexes(n int) string {
	if n <= 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
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
