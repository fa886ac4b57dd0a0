package main

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/backend"
	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/keyrelay"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/oncall"
	"github.com/etherisc/depeg-relay/pool"
	"github.com/etherisc/depeg-relay/poolkeys"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
	"github.com/etherisc/depeg-relay/webhook"
)

// service is the processor's parts, built in dependency order.
type service struct {
	log     zerolog.Logger
	cfg     config.Config
	rdb     redis.UniversalClient
	client  *chain.Client
	keys    []*keyrelay.Key // one per key of the pool (PROCESSOR_ACCOUNT_INDEX or AWS_KMS_KEY_IDS), in order
	checker *monitor.Checker
	metrics *monitor.Metrics
	console *console.Console // nil with CONSOLE_ENABLED=false
	front   *frontdoor.Door  // the HTTP server, bound before the service was built
	// finisher finishes the journals of the pool's keys no live process
	// holds (package pool).
	finisher *pool.Finisher
	// webhooks delivers status changes to WEBHOOK_URL; nil without it.
	webhooks *webhook.Deliverer
}

// newService connects to Redis and the chain and builds every part. It waits
// (with ERROR_TIMEOUT back-off) until Redis answers and the node tells its
// chain id, so a processor started before them does not crash-loop; the
// front door, already bound, answers the monitor meanwhile and is switched
// to the full router at the end. On error (ctx ended included) it closes
// what it opened and returns a nil service.
func newService(ctx context.Context, cfg config.Config, log zerolog.Logger, front *frontdoor.Door) (_ *service, err error) {
	// s is not the named result: a "return nil, err" must not leave the
	// deferred Close with a nil service (it panicked on every error path).
	s := &service{log: log, cfg: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.rdb, err = backend.Redis(cfg); err != nil {
		return nil, err
	}

	if s.client, err = backend.Chain(ctx, cfg); err != nil {
		return nil, err
	}
	signerKeys, err := poolkeys.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	chainID, ok := backend.WaitReady(ctx, cfg, log, front.Boot, s.rdb, s.client)
	if !ok {
		return nil, ctx.Err()
	}

	if b := relay.BatchingOf(cfg); b != nil {
		// A batch contract for another product would apply every batch to
		// that product: refuse to start rather than relay through it.
		c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
		err := batchdeploy.Check(c, s.client, b.Contract, cfg.DepegProductAddress)
		cancel()
		if err != nil {
			return nil, err
		}
		log.Info().Str("batch_contract", b.Contract.Hex()).Int("max_applications", b.MaxApplications).
			Uint64("gas_budget", b.GasBudget).Msg("batching applications")
	}

	reg := front.Reg
	metrics := monitor.NewMetrics(reg)
	s.metrics = metrics
	history, recent := monitor.NewBalanceHistory(0, 0), monitor.NewRecentConfirmations(0)
	product := chain.NewProduct(cfg.DepegProductAddress)
	status := stream.NewStatusStore(s.rdb, cfg.StreamKey, cfg.ApplicationStatusTTL)
	outbox, deliverer, err := newWebhooks(cfg, log, s.rdb, reg)
	if err != nil {
		return nil, fmt.Errorf("build webhooks: %w", err)
	}
	if outbox != nil {
		status.Notifier = outbox
	}
	s.webhooks = deliverer
	queueOpts := stream.Options{
		DeadLetterMaxLen: cfg.DeadLetterMaxLen,
		OnGroupRecreated: func() {
			metrics.GroupRecreated()
			log.Error().Str("stream", cfg.StreamKey).Str("group", cfg.GroupName).
				Msg("consumer group was missing (redis lost its data?), created it again: entries pending in the old group are gone")
		},
		OnJournalQuarantined: func(field string, err error) {
			metrics.JournalQuarantined()
			log.Error().Err(err).Str("field", field).
				Msg("unreadable journal record moved to quarantine: check its transaction by hand")
		},
	}

	// The pool's view of the stream: which wallets are ours, which keys are
	// held, and the journals of those that are not.
	poolQueue := stream.NewQueueWithOptions(s.rdb, stream.Keys{Stream: cfg.StreamKey, Group: cfg.GroupName,
		DeadLetter: cfg.DeadLetterStreamKey}, queueOpts)
	identity := pool.NewIdentity(s.rdb, poolQueue, cfg.LegacyProcessorAddresses)
	own := map[string]bool{}
	var keyChecks []monitor.KeyConfig
	var groupRecreations []func() uint64
	for _, pk := range signerKeys {
		halt := &poolkeys.Halt{}
		signer := pk.Signer(chainID, halt)
		addr := signer.Address()
		wallet := strings.ToLower(addr.Hex())
		own[wallet] = true
		klog := log.With().Str("wallet", addr.Hex()).Logger()
		l, err := lease.New(s.rdb, lease.Key(wallet), cfg.LeaseTTL)
		if err != nil {
			return nil, err
		}
		// The lease is the journal's fence (invariant 8): a relay whose
		// process lost it can journal, and so broadcast, nothing.
		fenced := queueOpts
		fenced.Fence = l
		queue := stream.NewQueueWithOptions(s.rdb, stream.Keys{
			Stream: cfg.StreamKey, Group: cfg.GroupName, Consumer: keyConsumer(cfg.ConsumerName, wallet),
			DeadLetter: cfg.DeadLetterStreamKey, Wallet: wallet,
		}, fenced)
		groupRecreations = append(groupRecreations, queue.GroupRecreations)
		// The relay reads and dead-letters through the intake's
		// ObservedQueue, which indexes every application it loads under its
		// policy holder and records every rejection; everything else is the
		// queue's own.
		observed := &intake.ObservedQueue{Queue: queue, Status: status, OnError: func(op string, err error) {
			klog.Warn().Err(err).Str("op", op).Msg("intake bookkeeping failed")
		}}
		if outbox != nil {
			observed.Notify, observed.MaxTransientReverts = outbox, cfg.MaxTransientReverts
		}
		km := metrics.Wallet(addr)
		heartbeat := &monitor.Heartbeat{}
		k := keyrelay.New(keyrelay.Config{Signer: signer, Queue: queue, Lease: l, Halt: halt, Heartbeat: heartbeat, Log: klog,
			Build: func() *relay.Relay {
				rc := relay.Settings(cfg)
				rc.Balance = func(context.Context) (*big.Int, error) { return s.checker.BalanceOf(addr) }
				rc.Pool = identity
				rc.Status = recordingStatus{store: status, recent: recent}
				return relay.New(rc, klog, s.client, observed, signer, product, km, heartbeat)
			}})
		keyChecks = append(keyChecks, monitor.KeyConfig{
			Wallet: addr, Heartbeat: heartbeat, InFlight: k.InFlight, NodeWindow: k.NodeWindow,
			HeldByUnknown: k.HeldByUnknown, Standby: k.Status, WaitingAtFeeCap: k.WaitingAtFeeCap,
			Consumer: keyConsumer(cfg.ConsumerName, wallet), Entries: k.Entries,
			Metrics: km,
		})
		s.keys = append(s.keys, k)
	}
	first := s.keys[0]
	log.Info().Str("wallet", first.Signer.Address().Hex()).Int("keys", len(s.keys)).Str("chain_id", chainID.String()).
		Str("product", cfg.DepegProductAddress.Hex()).Str("consumer", cfg.ConsumerName).Msg("wallets ready")

	s.finisher = pool.NewFinisher(finisherConfig(cfg, own, status, product), log, s.rdb, identity, s.client, poolQueue)
	s.checker, err = monitor.NewChecker(monitor.CheckerConfig{
		Orphans:  s.orphans,
		Webhooks: webhookFigure(s.webhooks),
		Wallet:   first.Signer.Address(), AlertBalance: cfg.ProcessorAlertBalance,
		LoopMaxAge: cfg.ListenerLoopMaxTimeout, MaxPending: cfg.MaxNonAckPendingMessages,
		StreamKey: cfg.StreamKey, Group: cfg.GroupName, DeadLetterStream: cfg.DeadLetterStreamKey,
		CheckTimeout: cfg.MonitorCheckTimeout, BalanceRefresh: cfg.BalanceRefreshInterval,
		Balance: s.client, Redis: s.rdb, Keys: keyChecks,
		GroupRecreations: func() uint64 {
			var n uint64
			for _, f := range groupRecreations {
				n += f()
			}
			return n
		},
		MaxWaitAge: cfg.MonitorMaxWaitAge,
		// The relay reads the fee again an ERROR_TIMEOUT after the cap
		// stopped it: a base fee still above the cap then fails the check.
		FeeCapGrace: cfg.ErrorTimeout,
		Metrics:     metrics, History: history, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("build monitor: %w", err)
	}
	if err := registerMonitor(reg, cfg, s.checker); err != nil {
		return nil, fmt.Errorf("build monitor: %w", err)
	}
	// The intake simulates as the first key: who simulates does not change
	// whether the application would pass.
	ic := intakeConfig(cfg, log, s.client, s.rdb, first.Queue, status, product, first.Signer.Address(), chainID, reg)
	rc := api.Config{Health: s.checker, Gatherer: reg, Log: log, Intake: ic}
	if cfg.ConsoleEnabled {
		ck := make([]oncall.ConsoleKey, len(s.keys))
		for i, k := range s.keys {
			ck[i] = oncall.ConsoleKey{Wallet: k.Signer.Address(), Queue: k.Queue}
		}
		if s.console, err = oncall.NewConsole(cfg, log, oncall.ConsoleParts{Checker: s.checker, Intake: ic, RDB: s.rdb,
			Status: status, Client: s.client, History: history, Recent: recent, Keys: ck, ChainID: chainID}); err != nil {
			return nil, fmt.Errorf("build console: %w", err)
		}
		rc.Console = s.console.Handler()
	}
	front.Serve(api.NewRouter(rc))
	s.front = front
	return s, nil
}

// intakeConfig builds the intake gateway's routes: the application intake
// (off unless INTAKE_ENABLED), status and listing, and the dead-letter admin
// routes (only with ADMIN_TOKEN).
func intakeConfig(cfg config.Config, log zerolog.Logger, c *chain.Client, rdb redis.Cmdable, queue *stream.Queue,
	status *stream.StatusStore, product *chain.Product, wallet common.Address, chainID *big.Int, reg prometheus.Registerer) *api.IntakeConfig {
	ilog := log.With().Str("component", "intake").Logger()
	pub := stream.NewPublisher(rdb, cfg.StreamKey, stream.PublishOptions{
		ClaimTTL: cfg.ApplicationStatusTTL, StatusTTL: cfg.ApplicationStatusTTL,
	})
	svc := intake.New(intake.Config{Product: product, From: wallet, ChainID: chainID, RPCTimeout: cfg.RPCTimeout,
		BatchContract: cfg.BatchContract},
		ilog, c, pub, status, queue, intake.NewMetrics(reg))
	return &api.IntakeConfig{
		Service: svc, Enabled: cfg.IntakeEnabled, AllowedOrigins: cfg.IntakeCORSOrigins,
		MaxBodyBytes: cfg.IntakeMaxBodyBytes, RateLimit: cfg.IntakeRateLimit, RateWindow: cfg.IntakeRateWindow,
		TrustedProxies: cfg.IntakeTrustedProxies,
		DeadLetters:    oncall.NewOperator(cfg, rdb, queue),
		AdminToken:     cfg.AdminToken.Reveal(),
	}
}

// Wallet is the first key's address.
func (s *service) Wallet() common.Address { return s.keys[0].Signer.Address() }

// Run runs the parts until ctx is done or one of them ends, then closes
// them in reverse order: the relays first (each reaches its safe point and
// releases its lease; a blocking read lasts at most a couple of seconds),
// then the HTTP server, so the monitor answers until the relays have
// stopped, then the monitor's checker. The checker starts first: its Start
// reads the balance once, since the relays' minimum-balance gate reads its
// cache. "serving" is logged once the port is bound.
func (s *service) Run(ctx context.Context) error {
	g := lifecycle.NewGroup(
		lifecycle.Named{Name: "monitor", Part: s.checker},
		lifecycle.Named{Name: "http server", Part: s.front.Part()},
		lifecycle.Named{Name: "pool finisher", Part: s.finisher},
		lifecycle.Named{Name: "live status", Part: lifecycle.NewFunc(oncall.LivePublisher{
			Store: stream.NewLiveStore(s.rdb, s.cfg.StreamKey), Process: s.cfg.ConsumerName, Wallet: s.Wallet().Hex(),
			Check: s.checker.Check, Timeout: s.cfg.RPCTimeout, Log: s.log}.Run)},
		lifecycle.Named{Name: "webhook deliverer", Part: webhookPart(s.webhooks)},
		lifecycle.Named{Name: "relays", Part: lifecycle.NewFunc(func(ctx context.Context) error { return keyrelay.Run(ctx, s.keys) })},
	)
	if err := g.Start(ctx); err != nil {
		return err
	}
	s.log.Info().Str("addr", s.front.Server.Addr().String()).Bool("intake", s.cfg.IntakeEnabled).Bool("admin", s.cfg.AdminToken.Reveal() != "").
		Bool("console", s.console != nil).Msg("serving /api/monitor, /metrics, /api/application, /api/openapi.json and /console")
	return g.Wait(ctx)
}

// orphans is what the pool's finisher last found, for the monitor.
func (s *service) orphans() []monitor.OrphanedKey {
	var out []monitor.OrphanedKey
	for _, o := range s.finisher.Orphans() {
		out = append(out, monitor.OrphanedKey{Wallet: o.Wallet, Entries: o.Entries, Since: o.Since.UTC().Format(time.RFC3339)})
	}
	return out
}

// Close releases the clients. Safe on a partly built service and on nil.
// The parts Run started are Run's to close (the checker among them).
func (s *service) Close() {
	if s == nil {
		return
	}
	if s.console != nil {
		s.console.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
}
