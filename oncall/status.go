package oncall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// statusReport is the monitor as the status subcommand sees it from outside
// the service: the checks and figures of /api/monitor, every key of the
// pool, plus what only the node and Redis tell directly.
type statusReport struct {
	monitor.Report
	Header statusHeader `json:"header"`
	// Wallet is the first key's; Pool has them all.
	Wallet string              `json:"wallet"`
	Pool   []inspect.KeyStatus `json:"pool"`
	// LastCheck is the relay loop's last-check key (RFC 3339); empty when
	// no relay wrote it.
	LastCheck   string `json:"lastCheck,omitempty"`
	BaseFeeGwei string `json:"baseFeeGwei,omitempty"`
	MaxFeeGwei  string `json:"maxFeeGwei"`
	// MinBalanceEth is PROCESSOR_MIN_BALANCE: below it a key submits
	// nothing new.
	MinBalanceEth string `json:"minBalanceEth"`
	Stream        string `json:"stream"`
	Group         string `json:"group"`
	Consumer      string `json:"consumer"`
	DeadLetter    string `json:"deadLetterStream"`
}

// statusHeader is the line above the checks: which chain, which product,
// how far the node is, which build reads it. "unknown" where the node did
// not answer.
type statusHeader struct {
	ChainID   string `json:"chainId"`
	Product   string `json:"product"`
	HeadBlock string `json:"headBlock"`
	Version   string `json:"version"`
	// Processes are the running processes of the pool (stream.LiveStore):
	// each one's name, version and uptime. nil where the command does not
	// read them (inflight).
	Processes []liveProcess `json:"processes,omitempty"`
}

// statusCmd runs the monitor's checks against the same Redis and node as
// the service, for every key of the pool. The loop's heartbeat is the
// last-check key the relays write every iteration (the service's in-memory
// heartbeats are out of reach); in flight is each journal's length; waiting
// at the fee cap is the head's base fee above MAX_FEE_PER_GAS.
func (e *opsEnv) statusCmd(ctx context.Context, out io.Writer, asJSON bool) error {
	rep := statusReport{Wallet: e.wallet().Hex(), MaxFeeGwei: monitor.FormatGwei(e.cfg.MaxFeePerGas), Pool: []inspect.KeyStatus{},
		MinBalanceEth: monitor.FormatEth(e.cfg.ProcessorMinBalance),
		Stream:        e.cfg.StreamKey, Group: e.cfg.GroupName, Consumer: e.cfg.ConsumerName, DeadLetter: e.cfg.DeadLetterStreamKey,
		Header: statusHeader{ChainID: "unknown", Product: e.cfg.DepegProductAddress.Hex(), HeadBlock: "unknown", Version: BuildVersion()}}

	// The consumer the first key's relay reads under is recorded at its
	// start (it is "<host>-<pid>/<wallet>" by default, so not this
	// process's).
	switch c, err := e.rdb.Get(ctx, e.queue.ConsumerKey()).Result(); {
	case err == nil:
		rep.Consumer = c
	case !errors.Is(err, redis.Nil):
		return fmt.Errorf("read %s: %w", e.queue.ConsumerKey(), err)
	case rep.Consumer == "":
		rep.Consumer = "-"
	}

	hb := &monitor.Heartbeat{}
	last, err := e.rdb.Get(ctx, stream.LastCheckKey).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return fmt.Errorf("read %s: %w", stream.LastCheckKey, err)
	default:
		if t, perr := time.Parse(time.RFC3339Nano, last); perr == nil {
			hb.Beat(t)
			rep.LastCheck = t.UTC().Format(time.RFC3339)
		}
	}
	live := readLive(ctx, stream.NewLiveStore(e.rdb, e.cfg.StreamKey), e.now(), zerolog.Nop())
	rep.Header.Processes = append([]liveProcess{}, live.processes...) // non-nil: status says when none runs
	var keyChecks []monitor.KeyConfig
	for _, k := range e.keys {
		obs, err := e.readKey(ctx, k)
		if err != nil {
			return err
		}
		if lk, ok := live.keys[k.wallet.Hex()]; ok {
			obs.Live = &lk
		}
		ks := inspect.NewKeyStatus(obs)
		rep.Pool = append(rep.Pool, ks)
		n := ks.InFlight
		keyChecks = append(keyChecks, monitor.KeyConfig{Wallet: k.wallet, Heartbeat: hb, InFlight: func() int { return n }})
	}
	c, cancel := e.rpcCtx(ctx)
	head, herr := e.client.HeaderByNumber(c, nil)
	cancel()
	atCap := false
	if herr == nil {
		rep.Header.HeadBlock = head.Number.String()
		if head.BaseFee != nil {
			rep.BaseFeeGwei = monitor.FormatGwei(head.BaseFee)
			atCap = head.BaseFee.Cmp(e.cfg.MaxFeePerGas) > 0
		}
	}
	rep.Header.ChainID = e.chainID(ctx)
	for i := range keyChecks {
		keyChecks[i].WaitingAtFeeCap = func() bool { return atCap }
	}

	checker, err := monitor.NewChecker(monitor.CheckerConfig{
		Wallet: e.wallet(), AlertBalance: e.cfg.ProcessorAlertBalance, Keys: keyChecks, Heartbeat: hb,
		LoopMaxAge: e.cfg.ListenerLoopMaxTimeout, MaxPending: e.cfg.MaxNonAckPendingMessages,
		MaxWaitAge: e.cfg.MonitorMaxWaitAge, StreamKey: e.cfg.StreamKey, Group: e.cfg.GroupName,
		DeadLetterStream: e.cfg.DeadLetterStreamKey, CheckTimeout: e.cfg.MonitorCheckTimeout,
		BalanceRefresh: e.cfg.BalanceRefreshInterval, BalanceTimeout: e.cfg.RPCTimeout,
		FeeCapGrace: e.cfg.ErrorTimeout, Balance: e.client, Redis: e.rdb,
		InFlight:        func() int { return inspect.SumInFlight(rep.Pool) },
		WaitingAtFeeCap: func() bool { return atCap },
		Now:             e.now,
	})
	if err != nil {
		return fmt.Errorf("build monitor: %w", err)
	}
	defer checker.Close()
	_ = checker.RefreshBalance(ctx) // a failure is the balance check's to report
	rep.Report = checker.Check(ctx)
	if rep.LastCheck == "" {
		// A fresh Checker counts its own start as the loop's, which only
		// suits a fresh process.
		rep.Processor = "error - no loop iteration recorded (" + stream.LastCheckKey + " is not set): is a relay running on this Redis?"
	}
	if herr != nil {
		rep.BaseFeeGwei = "unknown: " + herr.Error()
	}

	if asJSON {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else if err := writeStatus(out, rep); err != nil {
		return err
	}
	if !rep.Healthy() {
		return errUnhealthy
	}
	return nil
}

// chainID is the node's chain id, "unknown" when it does not answer.
func (e *opsEnv) chainID(ctx context.Context) string {
	c, cancel := e.rpcCtx(ctx)
	defer cancel()
	if id, err := e.client.ChainID(c); err == nil {
		return id.String()
	}
	return "unknown"
}

// header is the line above status' and inflight's tables.
func (e *opsEnv) header(ctx context.Context) statusHeader {
	h := statusHeader{ChainID: e.chainID(ctx), Product: e.cfg.DepegProductAddress.Hex(), HeadBlock: "unknown", Version: BuildVersion()}
	c, cancel := e.rpcCtx(ctx)
	defer cancel()
	if n, err := e.client.BlockNumber(c); err == nil {
		h.HeadBlock = strconv.FormatUint(n, 10)
	}
	return h
}

// writeHeader prints h as one line (and a line of the running processes
// when it has them), then a blank one.
func writeHeader(out io.Writer, h statusHeader) {
	fmt.Fprintf(out, "chain %s · product %s · head block %s · processor %s\n",
		inspect.Printable(h.ChainID), h.Product, inspect.Printable(h.HeadBlock), inspect.Printable(h.Version))
	if h.Processes != nil {
		if len(h.Processes) == 0 {
			fmt.Fprintln(out, "running: no process reports itself (none runs, or it has not written for 30 s)")
		}
		for _, p := range h.Processes {
			fmt.Fprintf(out, "running: %s · version %s · up %s\n", inspect.Printable(p.Name), inspect.Printable(p.Version), inspect.Printable(p.Uptime))
		}
	}
	fmt.Fprintln(out)
}

// readKey reads one key: its journal, its lease, its balance and nonces.
// What the node does not answer stays nil.
func (e *opsEnv) readKey(ctx context.Context, k opsKey) (inspect.KeyObs, error) {
	obs := inspect.KeyObs{Wallet: k.wallet}
	var err error
	if obs.Flights, err = inspect.Journal(ctx, e.rdb, k.queue.JournalKey()); err != nil {
		return obs, err
	}
	obs.LeaseToken, err = e.rdb.Get(ctx, lease.Key(strings.ToLower(k.wallet.Hex()))).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return obs, fmt.Errorf("read the lease of %s: %w", k.wallet.Hex(), err)
	}
	c, cancel := e.rpcCtx(ctx)
	if bal, err := e.client.BalanceAt(c, k.wallet, nil); err == nil {
		obs.Balance = bal
	}
	cancel()
	c, cancel = e.rpcCtx(ctx)
	if mined, pending, err := e.client.Nonces(c, k.wallet, nil); err == nil {
		obs.Mined, obs.Pending = &mined, &pending
	}
	cancel()
	return obs, nil
}

// writeStatus prints the header, the checks, every key, then the figures.
func writeStatus(out io.Writer, r statusReport) error {
	writeHeader(out, r.Header)
	t := newTable(out, "CHECK", "STATUS", "WHY")
	for _, c := range []struct{ name, status string }{
		{"balance", r.Balance}, {"processor", r.Processor}, {"nonAckPendingTx", r.NonAckPendingTx},
		{"redis", r.Redis}, {"chain", r.Chain}, {"fees", r.Fees},
	} {
		switch {
		case c.status == "":
			continue // not part of this report
		case c.status == monitor.StatusOK:
			t.row(c.name, "ok", "")
		default:
			t.row(c.name, "FAILING", strings.TrimPrefix(c.status, "error - "))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if len(r.Pool) == 0 {
		fmt.Fprintln(out, "no key: none is registered in Redis (set PROCESSOR_MNEMONIC and PROCESSOR_ACCOUNT_INDEX to name them)")
	} else {
		t = newTable(out, "WALLET", "BALANCE", "RUNWAY", "LEASE", "IN FLIGHT", "NODE NONCES", "NODE WINDOW")
		for _, k := range r.Pool {
			nonces := "unknown"
			if k.MinedNonce != nil && k.PendingNonce != nil {
				nonces = fmt.Sprintf("mined %d, pending %d (holds %d)", *k.MinedNonce, *k.PendingNonce,
					*k.PendingNonce-min(*k.MinedNonce, *k.PendingNonce))
			}
			inFlight := strconv.Itoa(k.InFlight)
			if k.InFlightApplications > k.InFlight { // a batch in flight
				inFlight += fmt.Sprintf(" (%d applications)", k.InFlightApplications)
			}
			t.row(k.Wallet, inspect.ReadableEth(k.BalanceEth), inspect.Printable(k.Runway), k.Lease, inFlight, nonces,
				inspect.Printable(k.NodeWindow))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	t = newTable(out, "FIGURE", "VALUE")
	t.row("balance (pool)", inspect.ReadableEth(r.BalanceEth))
	t.row("alert balance", orUnknown(r.AlertBalanceEth, " ETH")+" per key")
	t.row("submitting stops below", r.MinBalanceEth+" ETH per key (PROCESSOR_MIN_BALANCE)")
	t.row("last loop iteration", ageAt(r.LastCheck, r.LastLoopAgeSeconds))
	if r.InFlight != nil {
		t.row("in flight (journals)", strconv.Itoa(*r.InFlight))
	}
	t.row("base fee", orUnknown(r.BaseFeeGwei, "")+" (cap "+r.MaxFeeGwei+")")
	if r.FeeCap != "" {
		t.row("waiting at fee cap", "yes")
	} else {
		t.row("waiting at fee cap", "no")
	}
	t.row("pending", intString(r.PendingCount))
	t.row("lag", intString(r.Lag))
	t.row("oldest pending", secondsString(r.OldestPendingAgeSeconds))
	t.row("oldest not delivered", secondsString(r.OldestUndeliveredAgeSeconds))
	t.row("dead letters", intString(r.DeadLetterCount))
	t.row("stream", r.Stream+" (group "+r.Group+", consumer "+r.Consumer+")")
	t.row("dead-letter stream", r.DeadLetter)
	return t.flush()
}

func orUnknown(s, unit string) string {
	if s == "" {
		return "unknown"
	}
	return s + unit
}

func intString(n *int64) string {
	if n == nil {
		return "unknown"
	}
	return strconv.FormatInt(*n, 10)
}

// secondsString renders an age in whole seconds; "none" when nothing waits.
func secondsString(s *float64) string {
	if s == nil {
		return "none"
	}
	return (time.Duration(*s*float64(time.Second)) / time.Second * time.Second).String()
}

func ageAt(at string, age *float64) string {
	if at == "" {
		return "never"
	}
	return at + " (" + secondsString(age) + " ago)"
}
