package faults

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/proctest"
)

// sampler polls /api/monitor of whichever incarnation is current, and keeps
// what it said that was not "ok": each failing check's reason, the waiting
// figures (feeCap, holding), groupRecreated, and polls nobody answered.
type sampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	polls    int
	failing  int // polls answered 500
	silent   int // polls nobody answered
	order    []string
	seen     map[string]string // normalised -> first wording
	stopped  bool
	lastBody map[string]any
}

const samplePeriod = 100 * time.Millisecond

func startSampler(t *testing.T, current func() *proctest.Proc) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{cancel: cancel, seen: map[string]string{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(samplePeriod)
		defer tick.Stop()
		for {
			s.sample(ctx, current())
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// stop ends the polling; safe to call twice.
func (s *sampler) stop() {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

func (s *sampler) sample(ctx context.Context, p *proctest.Proc) {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	code, rep, err := p.Monitor(c)
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if err != nil {
		s.silent++
		s.add("no answer (processor down)")
		return
	}
	s.lastBody = rep
	if code != 200 {
		s.failing++
	}
	for _, check := range []string{"balance", "processor", "nonAckPendingTx"} {
		if v, _ := rep[check].(string); v != "" && v != "ok" {
			s.add(check + ": " + strings.TrimPrefix(v, "error - "))
		}
	}
	for _, fig := range []string{"feeCap", "holding"} {
		if v, _ := rep[fig].(string); v != "" {
			s.add(fig + ": " + v)
		}
	}
	if n, _ := rep["groupRecreated"].(float64); n > 0 {
		s.add(fmt.Sprintf("groupRecreated %d", int(n)))
	}
}

// numbers are the figures of a wording, with their unit ("54ms", "1.2s").
var numbers = regexp.MustCompile(`[0-9][0-9.,]*(ns|µs|ms|s|m|h)?`)

// add records one thing said, shortened to its first and last part (what
// failed, and the root cause at the end of the error chain); wordings that
// differ only in figures count once.
func (s *sampler) add(what string) {
	if parts := strings.Split(what, ": "); len(parts) > 3 {
		what = strings.Join(parts[:2], ": ") + ": … " + parts[len(parts)-1]
	}
	key := numbers.ReplaceAllString(what, "#")
	if _, ok := s.seen[key]; !ok {
		s.seen[key] = what
		s.order = append(s.order, key)
	}
}

// said reports whether some poll showed text containing sub.
func (s *sampler) said(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.seen {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// summary is the table cell: what the monitor said that was not "ok", in
// the order first seen, shortened.
func (s *sampler) summary() string {
	if s == nil {
		return "—"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return fmt.Sprintf("200, all ok (%d polls)", s.polls)
	}
	var parts []string
	for i, k := range s.order {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("+%d more", len(s.order)-4))
			break
		}
		parts = append(parts, shorten(s.seen[k], 90))
	}
	var status []string
	if s.failing > 0 {
		status = append(status, fmt.Sprintf("500 in %d", s.failing))
	}
	if s.silent > 0 {
		status = append(status, fmt.Sprintf("no answer in %d", s.silent))
	}
	if len(status) == 0 {
		status = append(status, "200 in all")
	}
	return fmt.Sprintf("%s of %d polls: %s", strings.Join(status, ", "), s.polls, strings.Join(parts, "; "))
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/") // a table cell
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut < n/2 {
		cut = n
	}
	return s[:cut] + "…"
}
