package oncall

import (
	"context"
	"encoding/json"
	"os"
	"runtime/debug"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// LiveEvery is how often a running process records what only its memory
// knows (stream.LiveStore); its entry lives three times as long, so one
// missed write does not make it look gone.
const LiveEvery = 10 * time.Second

// LiveReport is what a running process says of itself for the on-call
// commands: who it is, since when it runs, and each of its keys as its
// monitor sees them (runway from its own spend, node window, lease).
type LiveReport struct {
	Process   string              `json:"process"`
	Version   string              `json:"version"`
	StartedAt time.Time           `json:"startedAt"`
	UpdatedAt time.Time           `json:"updatedAt"`
	Keys      []monitor.KeyReport `json:"keys"`
}

// liveKeys are the report's keys: the pool's, or the one key's figures of
// a single-key report.
func liveKeys(r monitor.Report, wallet string) []monitor.KeyReport {
	if len(r.Keys) > 0 {
		return r.Keys
	}
	return []monitor.KeyReport{{Wallet: wallet, Balance: r.Balance, Processor: r.Processor, BalanceEth: r.BalanceEth,
		RunwayHours: r.RunwayHours, Runway: r.Runway, LastLoopIteration: r.LastLoopIteration,
		LastLoopAgeSeconds: r.LastLoopAgeSeconds, InFlight: r.InFlight, NodeHeld: r.NodeHeld, NodeWindow: r.NodeWindow,
		FeeCap: r.FeeCap, Holding: r.Holding, Lease: r.Lease}}
}

// LivePublisher records a running process's live report (LiveReport) for
// the on-call commands, from its monitor's report.
type LivePublisher struct {
	Store   *stream.LiveStore
	Process string                               // the process's consumer name
	Wallet  string                               // the first key's, for a single-key report
	Check   func(context.Context) monitor.Report // the process's monitor
	Timeout time.Duration                        // for each write (RPC_TIMEOUT)
	Log     zerolog.Logger
}

// Run records the report every LiveEvery until ctx ends. A failed write is
// logged at debug level: the monitor reports Redis.
func (p LivePublisher) Run(ctx context.Context) error {
	started := time.Now().UTC()
	for {
		rep := p.Check(ctx)
		body, err := json.Marshal(LiveReport{Process: p.Process, Version: BuildVersion(), StartedAt: started,
			UpdatedAt: time.Now().UTC(), Keys: liveKeys(rep, p.Wallet)})
		if err == nil {
			c, cancel := context.WithTimeout(ctx, p.Timeout)
			err = p.Store.Put(c, p.Process, body, 3*LiveEvery)
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			p.Log.Debug().Err(err).Msg("record live status failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(LiveEvery):
		}
	}
}

// liveView is what the status command learns from the running processes:
// each key's report from the process that holds its lease, and each
// process with its version and uptime.
type liveView struct {
	keys      map[string]monitor.KeyReport // by wallet (checksummed hex)
	processes []liveProcess
}

type liveProcess struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Uptime  string `json:"uptime"`
}

// readLive reads every live report. A key's report counts only from a
// process relaying it (no standby line), so a standby's empty figures never
// hide the holder's.
func readLive(ctx context.Context, store *stream.LiveStore, now time.Time, log zerolog.Logger) liveView {
	v := liveView{keys: map[string]monitor.KeyReport{}}
	all, err := store.List(ctx)
	if err != nil {
		log.Debug().Err(err).Msg("read live status failed")
		return v
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := all[n]
		var r LiveReport
		if json.Unmarshal(body, &r) != nil {
			continue
		}
		v.processes = append(v.processes, liveProcess{Name: r.Process, Version: r.Version,
			Uptime: now.Sub(r.StartedAt).Round(time.Second).String()})
		for _, k := range r.Keys {
			if k.Lease == "" {
				v.keys[k.Wallet] = k
			}
		}
	}
	return v
}

// BuildVersion names the running build: the VCS revision Go stamped into
// it, else GIT_REV (Dokku sets it on every git deploy; the Dockerfile
// builds with -buildvcs=false), else "devel".
func BuildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	if rev := os.Getenv("GIT_REV"); rev != "" {
		return rev[:min(len(rev), 12)]
	}
	return "devel"
}
