package main

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// recordingStatus is the relay's status recorder with the console's list of
// recent confirmations fed from the same call, so the relay needs no hook of
// its own: a confirmation is listed once its record is written.
type recordingStatus struct {
	store  *stream.StatusStore
	recent *monitor.RecentConfirmations
}

// Confirmed records as stream.StatusStore.Confirmed does, then lists them.
func (r recordingStatus) Confirmed(ctx context.Context, cs ...stream.Confirmation) error {
	if err := r.store.Confirmed(ctx, cs...); err != nil {
		return err
	}
	now := time.Now()
	for _, c := range cs {
		mc := monitor.Confirmation{EntityID: c.EntityID, EntryID: c.EntryID, TxHash: c.TxHash.Hex(), Block: c.Block, At: now}
		if c.ProcessID != (common.Hash{}) {
			mc.ProcessID = c.ProcessID.Hex()
		}
		r.recent.Add(now, mc)
	}
	return nil
}

// registerMonitor adds the checks, queue figures and configured limits to
// the registry /metrics serves, beside the relay's own metrics: the alert
// rules and the dashboard (deploy/) are written against this set. A scrape's
// check may take twice MONITOR_CHECK_TIMEOUT, the Checker's own bound plus a
// margin.
func registerMonitor(reg prometheus.Registerer, cfg config.Config, checker *monitor.Checker) error {
	checks, err := monitor.NewCheckCollector(checker, 2*cfg.MonitorCheckTimeout)
	if err != nil {
		return err
	}
	reg.MustRegister(
		checks,
		monitor.NewLimitsCollector(monitor.Limits{
			AlertBalance: cfg.ProcessorAlertBalance, MinBalance: cfg.ProcessorMinBalance,
			LoopMaxAge: cfg.ListenerLoopMaxTimeout, MaxWaitAge: checker.MaxWaitAge(),
			MaxPending: cfg.MaxNonAckPendingMessages, MaxInFlight: cfg.MaxInFlight,
		}),
	)
	return nil
}
