package main

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/oncall"
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
// rules and the dashboard (deploy/) are written against this set.
func registerMonitor(reg prometheus.Registerer, cfg config.Config, checker *monitor.Checker) {
	reg.MustRegister(
		monitor.NewCheckCollector(checker, 2*cfg.MonitorCheckTimeout),
		monitor.NewLimitsCollector(monitor.Limits{
			AlertBalance: cfg.ProcessorAlertBalance, MinBalance: cfg.ProcessorMinBalance,
			LoopMaxAge: cfg.ListenerLoopMaxTimeout, MaxWaitAge: checker.MaxWaitAge(),
			MaxPending: cfg.MaxNonAckPendingMessages, MaxInFlight: cfg.MaxInFlight,
		}),
	)
}

// consoleParts are what the console reads beyond the service's own parts.
type consoleParts struct {
	checker *monitor.Checker
	intake  *api.IntakeConfig
	rdb     redis.Cmdable
	queue   *stream.Queue
	status  *stream.StatusStore
	client  *chain.Client
	wallet  common.Address
	history *monitor.BalanceHistory
	recent  *monitor.RecentConfirmations
	// keys are the pool's keys this process serves, in order; chainID the
	// node's.
	keys    []*keyPart
	chainID *big.Int
}

// newConsole builds the operator's page from the parts the service already
// has: the monitor's checker, the intake's status look-up and dead-letter
// operator (the replay button is the admin route's replay), the journal read
// without side effects, and the node.
func newConsole(cfg config.Config, log zerolog.Logger, p consoleParts) (*console.Console, error) {
	wallets := []console.Wallet{{Address: p.wallet, History: p.history}}
	journals := []*stream.Queue{p.queue}
	if len(p.keys) > 0 {
		wallets, journals = nil, nil
		for _, k := range p.keys {
			wallets = append(wallets, console.Wallet{Address: k.signer.Address(), History: p.history})
			journals = append(journals, k.queue)
		}
	}
	// Every key's journal, each record with its wallet.
	inFlight := func(ctx context.Context) ([]console.Flight, error) {
		var out []console.Flight
		for i, q := range journals {
			fs, err := inspect.Journal(ctx, p.rdb, q.JournalKey())
			if err != nil {
				return nil, err
			}
			for _, f := range fs {
				out = append(out, console.Flight{Wallet: wallets[i].Address, Flight: f})
			}
		}
		return out, nil
	}
	// The search finds a transaction of any key, and calls it the relay's.
	var pool []common.Address
	for _, w := range wallets {
		pool = append(pool, w.Address)
	}
	allJournals := func(ctx context.Context) ([]inspect.Flight, error) {
		fs, err := inFlight(ctx)
		out := make([]inspect.Flight, len(fs))
		for i, f := range fs {
			out[i] = f.Flight
		}
		return out, err
	}
	header := console.Header{Product: cfg.DepegProductAddress, Version: oncall.BuildVersion(), Started: time.Now(),
		Head: func(ctx context.Context) (uint64, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			defer cancel()
			return p.client.BlockNumber(ctx)
		}}
	if p.chainID != nil {
		header.ChainID = p.chainID.String()
	}
	return console.New(console.Config{
		Health:      p.checker,
		Wallets:     wallets,
		Header:      header,
		MinBalance:  cfg.ProcessorMinBalance,
		Recent:      p.recent.Recent,
		InFlight:    inFlight,
		DeadLetters: p.intake.DeadLetters,
		Finder: &inspect.Finder{
			Status: p.intake.Service, Holders: p.status, DeadLetters: p.queue, Journal: allJournals,
			Recent: p.recent.Recent, Chain: p.client, Product: cfg.DepegProductAddress, Wallet: p.wallet,
			Pool: pool, RPCTimeout: cfg.RPCTimeout,
		},
		AdminToken:  cfg.AdminToken.Reveal(),
		ExplorerURL: cfg.ExplorerURL,
		Names: console.Names{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
			DeadLetter: cfg.DeadLetterStreamKey},
		Log: log.With().Str("component", "console").Logger(),
	})
}
