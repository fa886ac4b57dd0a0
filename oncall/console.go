package oncall

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// ConsoleParts are what the operator's page reads of a running service.
type ConsoleParts struct {
	Checker *monitor.Checker
	Intake  *api.IntakeConfig // its status look-up and dead-letter operator
	RDB     redis.Cmdable
	Status  *stream.StatusStore
	Client  *chain.Client
	History *monitor.BalanceHistory
	Recent  *monitor.RecentConfirmations
	// Keys are the pool's keys this process serves, in order (at least
	// one); the first's queue reads the dead letters. ChainID is the
	// node's.
	Keys    []ConsoleKey
	ChainID *big.Int
}

// ConsoleKey is one key of the pool as the console reads it.
type ConsoleKey struct {
	Wallet common.Address
	Queue  *stream.Queue
}

// NewConsole builds the operator's page at /console from the parts the
// service already has: the monitor's checker, the intake's status look-up
// and dead-letter operator (the replay button is the admin route's
// replay), every key's journal read without side effects, as the
// commands read them, and the node.
func NewConsole(cfg config.Config, log zerolog.Logger, p ConsoleParts) (*console.Console, error) {
	keys := make([]opsKey, len(p.Keys))
	var wallets []console.Wallet
	var pool []common.Address
	for i, k := range p.Keys {
		keys[i] = opsKey{wallet: k.Wallet, queue: k.Queue}
		wallets = append(wallets, console.Wallet{Address: k.Wallet, History: p.History})
		pool = append(pool, k.Wallet)
	}
	first := p.Keys[0]
	// Every key's journal, each record with its wallet.
	inFlight := func(ctx context.Context) ([]console.Flight, error) {
		wfs, err := readJournals(ctx, p.RDB, keys)
		if err != nil {
			return nil, err
		}
		var out []console.Flight
		for _, f := range wfs {
			out = append(out, console.Flight{Wallet: f.Wallet, Flight: f.Flight})
		}
		return out, nil
	}
	// The search finds a transaction of any key, and calls it the relay's.
	allJournals := func(ctx context.Context) ([]inspect.Flight, error) {
		wfs, err := readJournals(ctx, p.RDB, keys)
		out := make([]inspect.Flight, len(wfs))
		for i, f := range wfs {
			out[i] = f.Flight
		}
		return out, err
	}
	header := console.Header{Product: cfg.DepegProductAddress, Version: BuildVersion(), Started: time.Now(),
		Head: func(ctx context.Context) (uint64, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			defer cancel()
			return p.Client.BlockNumber(ctx)
		}}
	if p.ChainID != nil {
		header.ChainID = p.ChainID.String()
	}
	return console.New(console.Config{
		Health:      p.Checker,
		Wallets:     wallets,
		Header:      header,
		MinBalance:  cfg.ProcessorMinBalance,
		Recent:      p.Recent.Recent,
		InFlight:    inFlight,
		DeadLetters: p.Intake.DeadLetters,
		Finder: &inspect.Finder{
			Status: p.Intake.Service, Holders: p.Status, DeadLetters: first.Queue, Journal: allJournals,
			Recent: p.Recent.Recent, Chain: p.Client, Product: cfg.DepegProductAddress, Wallet: first.Wallet,
			Pool: pool, RPCTimeout: cfg.RPCTimeout,
		},
		AdminToken:  cfg.AdminToken.Reveal(),
		ExplorerURL: cfg.ExplorerURL,
		Names: console.Names{Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: cfg.ConsumerName,
			DeadLetter: cfg.DeadLetterStreamKey},
		Log: log.With().Str("component", "console").Logger(),
	})
}
