package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// statusReport is the monitor as the status subcommand sees it from outside
// the service: the checks and figures of /api/monitor, plus what only the
// node and Redis tell directly.
type statusReport struct {
	monitor.Report
	Wallet string `json:"wallet"`
	// LastCheck is the relay loop's last-check key (RFC 3339); empty when
	// no relay wrote it.
	LastCheck    string  `json:"lastCheck,omitempty"`
	MinedNonce   *uint64 `json:"minedNonce,omitempty"`
	PendingNonce *uint64 `json:"pendingNonce,omitempty"`
	BaseFeeGwei  string  `json:"baseFeeGwei,omitempty"`
	MaxFeeGwei   string  `json:"maxFeeGwei"`
	Stream       string  `json:"stream"`
	Group        string  `json:"group"`
	Consumer     string  `json:"consumer"`
	DeadLetter   string  `json:"deadLetterStream"`
}

// statusCmd runs the monitor's three checks against the same Redis and node
// as the service. The loop's heartbeat is the last-check key the relay
// writes every iteration (the service's in-memory heartbeat is out of
// reach); in flight is the journal's length; waiting at the fee cap is the
// head's base fee above MAX_FEE_PER_GAS. The runway needs the service's
// spend history and is left to /api/monitor.
func (e *opsEnv) statusCmd(ctx context.Context, out io.Writer, asJSON bool) error {
	rep := statusReport{Wallet: e.wallet.Hex(), MaxFeeGwei: gweiString(e.cfg.MaxFeePerGas),
		Stream: e.cfg.StreamKey, Group: e.cfg.GroupName, Consumer: e.cfg.ConsumerName, DeadLetter: e.cfg.DeadLetterStreamKey}

	// The consumer the key's relay reads under is recorded at its start
	// (it is "<host>-<pid>/<wallet>" by default, so not this process's).
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
	flights, err := e.journal(ctx)
	if err != nil {
		return err
	}
	inFlight := 0
	for _, f := range flights {
		if f.Unreadable == "" {
			inFlight++
		}
	}
	c, cancel := e.rpcCtx(ctx)
	head, herr := e.client.HeaderByNumber(c, nil)
	cancel()
	atCap := false
	if herr == nil && head.BaseFee != nil {
		rep.BaseFeeGwei = gweiString(head.BaseFee)
		atCap = head.BaseFee.Cmp(e.cfg.MaxFeePerGas) > 0
	}
	c, cancel = e.rpcCtx(ctx)
	mined, pending, nerr := e.client.Nonces(c, e.wallet, nil)
	cancel()
	if nerr == nil {
		rep.MinedNonce, rep.PendingNonce = &mined, &pending
	}

	checker, err := monitor.NewChecker(monitor.CheckerConfig{
		Wallet: e.wallet, AlertBalance: e.cfg.ProcessorAlertBalance,
		LoopMaxAge: e.cfg.ListenerLoopMaxTimeout, MaxPending: e.cfg.MaxNonAckPendingMessages,
		MaxWaitAge: e.cfg.MonitorMaxWaitAge, StreamKey: e.cfg.StreamKey, Group: e.cfg.GroupName,
		DeadLetterStream: e.cfg.DeadLetterStreamKey, CheckTimeout: e.cfg.MonitorCheckTimeout,
		BalanceRefresh: e.cfg.BalanceRefreshInterval, BalanceTimeout: e.cfg.RPCTimeout,
		Balance: e.client, Redis: e.rdb, Heartbeat: hb,
		InFlight:        func() int { return inFlight },
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

// writeStatus prints the checks, then the figures.
func writeStatus(out io.Writer, r statusReport) error {
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
	t = newTable(out, "FIGURE", "VALUE")
	t.row("wallet", r.Wallet)
	t.row("balance", orUnknown(r.BalanceEth, " ETH"))
	t.row("alert balance", orUnknown(r.AlertBalanceEth, " ETH"))
	t.row("last loop iteration", ageAt(r.LastCheck, r.LastLoopAgeSeconds))
	if r.InFlight != nil {
		t.row("in flight (journal)", strconv.Itoa(*r.InFlight))
	}
	if r.MinedNonce != nil && r.PendingNonce != nil {
		t.row("node nonces", fmt.Sprintf("mined %d, pending %d (holds %d)", *r.MinedNonce, *r.PendingNonce,
			*r.PendingNonce-min(*r.MinedNonce, *r.PendingNonce)))
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

// gweiString renders wei in gwei without trailing zeros.
func gweiString(wei *big.Int) string {
	if wei == nil {
		return ""
	}
	r := new(big.Rat).SetFrac(wei, big.NewInt(1e9))
	s := strings.TrimRight(strings.TrimRight(r.FloatString(9), "0"), ".")
	return s + " gwei"
}
