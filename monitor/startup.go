package monitor

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Startup parts, as Startup.Set names them.
const (
	PartRedis = "redis"
	PartChain = "chain"
)

// Startup answers the monitor routes while the process waits for Redis and
// the node, before the Checker exists: the HTTP server binds first, so the
// uptime checker hears at once what is missing and since when instead of a
// refused connection. Every report fails until both answered (the relay is
// not running yet). Liveness follows the loop rule of the Checker: a
// process gets LoopMaxAge from its start to run its relay loop, and fails
// after that, still saying what it waits for.
//
// Its methods are safe for concurrent use.
type Startup struct {
	loopMaxAge time.Duration
	now        func() time.Time
	started    time.Time

	mu    sync.Mutex
	parts map[string]*startupPart
}

type startupPart struct {
	ok    bool
	why   string    // category of the latest failure
	since time.Time // first failure of the current outage, or the start
}

// NewStartup returns the startup monitor; now defaults to time.Now.
func NewStartup(loopMaxAge time.Duration, now func() time.Time) *Startup {
	if now == nil {
		now = time.Now
	}
	s := &Startup{loopMaxAge: loopMaxAge, now: now, started: now(), parts: map[string]*startupPart{}}
	for _, p := range []string{PartRedis, PartChain} {
		s.parts[p] = &startupPart{why: "not reached yet", since: s.started}
	}
	return s
}

// Set records the outcome of an attempt to reach part (PartRedis,
// PartChain): nil means it answered. The report names the error by its
// category only (ErrorCategory); the caller logs the whole error.
func (s *Startup) Set(part string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[part]
	if p == nil {
		return
	}
	if err == nil {
		p.ok = true
		return
	}
	if p.ok {
		p.ok, p.since = false, s.now()
	}
	p.why = ErrorCategory(err)
}

// Check is the full report: every check fails while the process starts.
func (s *Startup) Check(context.Context) Report {
	r := s.report()
	r.Balance = errorStatus("not read yet: %s", r.Starting)
	return r
}

// Liveness is the loop check, redis, and nonAckPendingTx while Redis does
// not answer (its check could not run).
func (s *Startup) Liveness(context.Context) Report {
	r := s.report()
	r.Chain = ""
	if r.Redis == StatusOK {
		r.NonAckPendingTx = ""
	}
	return r
}

// Readiness fails: the balance is not read until the node answers and the
// relay starts.
func (s *Startup) Readiness(context.Context) Report {
	r := s.report()
	return Report{Balance: errorStatus("not read yet: %s", r.Starting), Chain: r.Chain, Starting: r.Starting}
}

func (s *Startup) report() Report {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Report
	var waiting []string
	status := func(name string) string {
		p := s.parts[name]
		if p.ok {
			return StatusOK
		}
		waiting = append(waiting, name)
		return errorStatus("%s: %s since %s", name, p.why, p.since.UTC().Format(time.RFC3339))
	}
	r.Redis, r.Chain = status(PartRedis), status(PartChain)
	if len(waiting) > 0 {
		r.Starting = "waiting for " + strings.Join(waiting, " and ")
	} else {
		r.Starting = "building the relay"
	}
	if r.Redis != StatusOK {
		r.NonAckPendingTx = errorStatus("redis: %s", s.parts[PartRedis].why)
	} else {
		r.NonAckPendingTx = errorStatus("not checked yet: %s", r.Starting)
	}
	if age := now.Sub(s.started); age > s.loopMaxAge {
		r.Processor = errorStatus("no loop iteration since start %s, %s ago (max %s): %s",
			s.started.UTC().Format(time.RFC3339), formatAge(age), formatAge(s.loopMaxAge), r.Starting)
	} else {
		r.Processor = StatusOK
	}
	return r
}
