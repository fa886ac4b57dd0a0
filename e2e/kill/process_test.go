package kill

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/internal/chainaudit"
	"github.com/etherisc/depeg-relay/internal/proctest"
)

// incarnation is one run of the processor binary (internal/proctest), with
// its number; its stderr (JSON logs) and stdout go to files named after it.
type incarnation struct {
	*proctest.Proc
	n       int
	logPath string // stderr: the JSON log
}

// startIncarnation runs the binary with exactly env (nothing is inherited
// from the test's environment, so a developer's REDIS_URL or LOG_LEVEL cannot
// leak in). The process is killed and reaped at the end of the test if it is
// still running.
func startIncarnation(t *testing.T, bin, logDir string, n int, env []string) *incarnation {
	t.Helper()
	p := proctest.Start(t, bin, proctest.Options{Env: env, Name: fmt.Sprintf("processor-%02d", n), LogDir: logDir})
	return &incarnation{Proc: p, n: n, logPath: p.StderrPath()}
}

// logLine is the part of a zerolog JSON line the test reads.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"message"`
	Tx    string `json:"tx"`
	// FeeCap and Tip are logged with each broadcast and replacement.
	FeeCap string  `json:"fee_cap_wei"`
	Tip    string  `json:"tip_wei"`
	Nonce  *uint64 `json:"-"`
}

// readLog parses an incarnation's stderr. Lines that are not JSON (a panic,
// a race report, Go runtime output) are returned in foreign.
func readLog(path string) (lines []logLine, foreign []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		var l struct {
			logLine
			Nonce json.RawMessage `json:"nonce"`
		}
		if !strings.HasPrefix(text, "{") || json.Unmarshal([]byte(text), &l) != nil {
			foreign = append(foreign, text)
			continue
		}
		if len(l.Nonce) > 0 {
			if n, err := strconv.ParseUint(string(bytes.Trim(l.Nonce, `"`)), 10, 64); err == nil {
				l.logLine.Nonce = &n
			}
		}
		lines = append(lines, l.logLine)
	}
	// A line cut by SIGKILL in the middle of a write is not an error.
	if err := sc.Err(); err != nil && err != io.ErrUnexpectedEOF {
		return lines, foreign, err
	}
	return lines, foreign, nil
}

// logSummary is what all incarnations logged, in figures.
type logSummary struct {
	// hashesByNonce is every transaction hash logged next to a nonce: the
	// transactions signed (and possibly broadcast) for it.
	hashesByNonce map[uint64]map[string]bool
	// firstByNonce is the first transaction logged for each nonce, with its
	// fees when a line logged them.
	firstByNonce map[uint64]signedTx
	// messages counts warn and error messages by text (messages are
	// constant, data is in fields).
	messages map[string]int
	// foreign are lines that are not JSON logs, with their incarnation.
	foreign []string
}

func summarizeLogs(paths []string) (logSummary, error) {
	s := logSummary{hashesByNonce: map[uint64]map[string]bool{}, firstByNonce: map[uint64]signedTx{},
		messages: map[string]int{}}
	fees := map[string]signedTx{}
	for i, path := range paths {
		lines, foreign, err := readLog(path)
		if err != nil {
			return s, err
		}
		for j, f := range foreign {
			// The last line of a killed process may be cut short.
			if j == len(foreign)-1 && strings.HasPrefix(f, "{") {
				continue
			}
			s.foreign = append(s.foreign, fmt.Sprintf("incarnation %d: %s", i+1, f))
		}
		for _, l := range lines {
			if l.Tx != "" && l.Nonce != nil {
				if s.hashesByNonce[*l.Nonce] == nil {
					s.hashesByNonce[*l.Nonce] = map[string]bool{}
				}
				s.hashesByNonce[*l.Nonce][l.Tx] = true
				if _, ok := s.firstByNonce[*l.Nonce]; !ok {
					s.firstByNonce[*l.Nonce] = signedTx{hash: l.Tx}
				}
				if feeCap, ok := new(big.Int).SetString(l.FeeCap, 10); ok {
					if tip, ok := new(big.Int).SetString(l.Tip, 10); ok {
						fees[l.Tx] = signedTx{hash: l.Tx, feeCap: feeCap, tip: tip}
					}
				}
			}
			if l.Level == "warn" || l.Level == "error" {
				s.messages[l.Level+": "+l.Msg]++
			}
		}
	}
	for n, first := range s.firstByNonce {
		if f, ok := fees[first.hash]; ok {
			s.firstByNonce[n] = f
		}
	}
	return s, nil
}

// signedTx is a transaction as the processor logged it.
type signedTx struct {
	hash        string
	feeCap, tip *big.Int
}

// replacements is how many extra hashes were signed for nonces: fee bumps.
func (s logSummary) replacements() int {
	n := 0
	for _, hs := range s.hashesByNonce {
		n += len(hs) - 1
	}
	return n
}

func (s logSummary) sortedMessages() []string {
	out := make([]string, 0, len(s.messages))
	for m, n := range s.messages {
		out = append(out, fmt.Sprintf("%5d  %s", n, m))
	}
	sort.Strings(out)
	return out
}

// lastMessage is the last complete log message of an incarnation: where the
// kill found it.
func lastMessage(path string) string {
	lines, _, err := readLog(path)
	if err != nil || len(lines) == 0 {
		return "(no log line)"
	}
	return lines[len(lines)-1].Msg
}

// tail returns the last n lines of a file, for failure reports.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unexplainedReplacements lists the nonces signed more often than this
// scenario explains. The scenario replaces a transaction only once it has
// waited stuck blocks unmined (STUCK_TX_BLOCKS; blocks too small for the
// window make that happen while the backlog lasts), and the window signs
// nonce n no earlier than the block that mined nonce n-window. So nonce n,
// mined in block B(n), may carry at most (B(n) - B(n-window) + 1) / stuck
// replacements (B of a nonce below 0 is block 0). A kill does not explain
// one: a restarted process re-broadcasts the journaled bytes.
func unexplainedReplacements(a chainaudit.Audit, logs logSummary, window, stuck uint64) []string {
	block := make(map[uint64]uint64, len(a.Mined))
	for _, m := range a.Mined {
		block[m.Nonce] = m.Block
	}
	var out []string
	for _, m := range a.Mined {
		replaced := len(logs.hashesByNonce[m.Nonce]) - 1
		var from uint64
		if m.Nonce >= window {
			from = block[m.Nonce-window]
		}
		waited := m.Block + 1 - min(from, m.Block)
		if allowed := waited / stuck; uint64(max(replaced, 0)) > allowed {
			out = append(out, fmt.Sprintf("nonce %d replaced %d times, mined in block %d: it can have waited at most %d blocks (nonce %d mined in block %d), which explains %d",
				m.Nonce, replaced, m.Block, waited, m.Nonce-min(m.Nonce, window), from, allowed))
		}
	}
	return out
}

// replacementCost compares each mined replacement with the first
// transaction signed for its nonce: premiumWei is what the replacement paid
// above what the first one would have paid in the same block (zero when the
// first could not have been included there at all, its fee cap being under
// the base fee: then the bump was needed, not wasted).
func replacementCost(a chainaudit.Audit, logs logSummary) (mined int, premiumWei *big.Int) {
	premiumWei = new(big.Int)
	for _, m := range a.Mined {
		first, ok := logs.firstByNonce[m.Nonce]
		if !ok || first.hash == m.Hash.Hex() {
			continue
		}
		mined++
		if first.feeCap == nil || first.tip == nil || first.feeCap.Cmp(m.BaseFee) < 0 {
			continue
		}
		would := new(big.Int).Add(m.BaseFee, first.tip)
		if would.Cmp(first.feeCap) > 0 {
			would.Set(first.feeCap)
		}
		if d := new(big.Int).Sub(m.Price, would); d.Sign() > 0 {
			premiumWei.Add(premiumWei, d.Mul(d, new(big.Int).SetUint64(m.GasUsed)))
		}
	}
	return mined, premiumWei
}

// TestUnexplainedReplacements pins the kill test's bound on replacements:
// a nonce may be replaced once per block it can have waited, counted from
// the block that mined the nonce one window below it.
func TestUnexplainedReplacements(t *testing.T) {
	var a chainaudit.Audit
	for n := range uint64(20) {
		a.Mined = append(a.Mined, chainaudit.Tx{Nonce: n, Block: 10 + n/4}) // 4 per block
	}
	logs := logSummary{hashesByNonce: map[uint64]map[string]bool{}}
	sign := func(nonce uint64, hashes int) {
		logs.hashesByNonce[nonce] = map[string]bool{}
		for i := range hashes {
			logs.hashesByNonce[nonce][fmt.Sprint(nonce, "/", i)] = true
		}
	}
	for n := range uint64(20) {
		sign(n, 1)
	}
	if got := unexplainedReplacements(a, logs, 8, 1); len(got) != 0 {
		t.Fatalf("no replacement: %v", got)
	}
	// Nonce 17 is mined in block 14, nonce 9 (a window of 8 below) in block
	// 12: it can have waited 3 blocks, so 3 replacements are explained...
	sign(17, 4)
	if got := unexplainedReplacements(a, logs, 8, 1); len(got) != 0 {
		t.Fatalf("3 replacements in 3 blocks: %v", got)
	}
	// ...and a fourth is not; nor are 2 with STUCK_TX_BLOCKS=2.
	sign(17, 5)
	if got := unexplainedReplacements(a, logs, 8, 1); len(got) != 1 {
		t.Fatalf("4 replacements in 3 blocks: %v", got)
	}
	sign(17, 3)
	if got := unexplainedReplacements(a, logs, 8, 2); len(got) != 1 {
		t.Fatalf("2 replacements in 3 blocks, stuck after 2: %v", got)
	}
}
