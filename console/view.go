package console

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// page is what the template renders. Every string in it is plain text that
// html/template escapes; nothing is marked safe.
type page struct {
	Path           string
	Generated      string
	RefreshSeconds int
	// RefreshURL is what the script reloads; empty (after a POST) stops it.
	RefreshURL string
	Notice     *notice
	Healthy    bool
	Failing    int
	Checks     []check
	Notes      []string
	Names      Names
	Header     headerView
	Wallets    []walletView
	// Pool is the pool's total balance and runway (several keys only), and
	// Chart its balance chart.
	Pool    *walletView
	Orphans []orphanView
	Queue   []figure

	HasInFlight   bool
	InFlight      section[flightView]
	HasRecent     bool
	Confirmations []confirmationView
	HasDead       bool
	DeadLetters   section[deadLetterView]
	Admin         bool
	// Unlocked: the browser showed ADMIN_TOKEN (see unlock); only then are
	// dead letters read and shown.
	Unlocked bool
	// RedisDown says, from the monitor's report, that Redis does not answer
	// and why (a category, never an address); the figures read from Redis
	// then show as unknown.
	RedisDown string

	SearchEnabled bool
	Query         string
	Search        *searchView
}

type notice struct {
	OK   bool
	Text string
}

type check struct {
	Name, About string
	OK          bool
	Status      string // "ok", "failing" or "not checked"
	Why         string
	// Runbook links to README's section on what to do when it fails.
	Runbook string
}

// headerView is the header line: "unknown" where the page could not tell.
type headerView struct {
	ChainID, Head, Version, Uptime string
	Product                        link
}

// orphanView is a key no live process holds, with its journal records.
type orphanView struct {
	Wallet         link
	Entries, Since string
}

// figure is one labelled value; Warn marks one that needs a look.
type figure struct {
	Label, Value string
	Warn         bool
}

// link is a value that may link to the block explorer; Href is empty
// without EXPLORER_URL. Title carries the full value when Text is cut short.
type link struct {
	Text, Title, Href string
}

type walletView struct {
	Address                                   link
	Balance, Alert, Age, Runway, Spend, Empty string
	// MinBalance is where a key stops submitting (pool view only).
	MinBalance string
	// Lease says who relays the key: this process, or (standby) another.
	Lease            string
	Standby          bool
	InFlight, Window string
	Processor        string
	Low, LoopFailing bool
	Chart            *chart
}

// section is a list read from Redis: Err says, in words fit for the page,
// why it could not be read.
type section[T any] struct {
	Rows []T
	Err  string
	More bool
}

type flightView struct {
	Wallet                                            link
	Nonce, Entity, Entry, Age, MaxFee, Tip, Gas, Kind string
	Hash                                              link
	Earlier                                           []link
	Unreadable                                        string
	// Batch ("batch of 12") and Apps (their entityIds, in the batch's
	// order) are set for a batch transaction.
	Batch string
	Apps  []string
}

type confirmationView struct {
	At, Entity string
	Tx, Block  link
}

type deadLetterView struct {
	ID, At, Entity, Entry, Class, Reason string
	Tx, Holder                           link
	Replayed                             string
	Replayable                           bool
}

type searchView struct {
	Err  string
	Kind string
	Apps []appView
	Tx   *txView
}

type appView struct {
	Entity, Status, Entry, Class, Reason, Updated, ProcessID string
	Tx, Block                                                link
	// Batch is the application's place in its batch transaction ("#4 of
	// 12"), empty for a transaction of its own.
	Batch string
}

type txView struct {
	Hash, Block, From, Holder                                  link
	State, Nonce, Confirmations, Outcome, Ours, Sig, ProcessID string
	// Batch ("12 applications") and Apps are set for a batch transaction.
	Batch string
	Apps  []batchAppView
}

// batchAppView is one application of a batch transaction as its calldata
// and events tell it.
type batchAppView struct {
	Place, Sig, Outcome, ProcessID, Reason string
	Holder                                 link
}

// Page sizes: one screen each.
const (
	deadLetterRows = 20
	inFlightRows   = 25
)

// errNoAnswer is a section that did not answer within SectionTimeout.
var errNoAnswer = errors.New("no answer")

// result is a section's outcome, passed from its goroutine.
type result[T any] struct {
	v   T
	err error
}

// start runs fn in a goroutine the Console owns, bounded by SectionTimeout.
func start[T any](c *Console, ctx context.Context, fn func(context.Context) (T, error)) <-chan result[T] {
	ch := make(chan result[T], 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		sctx, cancel := context.WithTimeout(ctx, c.cfg.SectionTimeout)
		defer cancel()
		v, err := fn(sctx)
		ch <- result[T]{v, err}
	}()
	return ch
}

// await takes a section's outcome, or errNoAnswer once deadline passed.
func await[T any](ch <-chan result[T], deadline <-chan time.Time) (T, error) {
	select {
	case r := <-ch:
		return r.v, r.err
	case <-deadline:
		var zero T
		return zero, errNoAnswer
	}
}

// build gathers every section at once, so the slowest bounds the page, and
// a Redis that hangs costs SectionTimeout, after which the sections still
// missing say so.
func (c *Console) build(ctx context.Context, query string, unlocked bool) page {
	now := c.cfg.Now()
	p := page{
		Path: Path, Generated: now.UTC().Format(time.RFC3339), RefreshSeconds: int(c.cfg.Refresh / time.Second),
		Names: c.cfg.Names, Admin: c.cfg.AdminToken != "" && c.cfg.DeadLetters != nil, Unlocked: unlocked,
		SearchEnabled: c.cfg.Finder != nil, Query: inspect.Printable(query),
	}
	health := start(c, ctx, func(ctx context.Context) (monitor.Report, error) { return c.cfg.Health.Check(ctx), nil })
	var dead <-chan result[intake.Page]
	if c.cfg.DeadLetters != nil && unlocked {
		dead = start(c, ctx, func(ctx context.Context) (intake.Page, error) {
			return c.cfg.DeadLetters.List(ctx, "", deadLetterRows)
		})
	}
	var head <-chan result[uint64]
	if c.cfg.Header.Head != nil {
		head = start(c, ctx, c.cfg.Header.Head)
	}
	var flights <-chan result[[]Flight]
	if c.cfg.InFlight != nil {
		flights = start(c, ctx, c.cfg.InFlight)
	}
	var found <-chan result[inspect.Result]
	if query != "" && c.cfg.Finder != nil {
		found = start(c, ctx, func(ctx context.Context) (inspect.Result, error) { return c.cfg.Finder.Find(ctx, query) })
	}
	timer := time.NewTimer(c.cfg.SectionTimeout + 250*time.Millisecond)
	defer timer.Stop()

	rep, err := await(health, timer.C)
	if err != nil {
		rep = monitor.Report{NonAckPendingTx: "error - the monitor did not answer in time"}
	}
	c.health(&p, rep)
	c.header(&p, head, timer.C, now)
	c.wallets(&p, rep, now)
	c.orphans(&p, rep)
	c.queue(&p, rep)
	p.HasDead = c.cfg.DeadLetters != nil
	if dead != nil {
		pg, err := await(dead, timer.C)
		p.DeadLetters = c.deadLetters(pg, err, now)
	}
	if flights != nil {
		p.HasInFlight = true
		fs, err := await(flights, timer.C)
		p.InFlight = c.inFlight(fs, err, now)
	}
	if c.cfg.Recent != nil {
		p.HasRecent = true
		for _, cf := range c.cfg.Recent() {
			p.Confirmations = append(p.Confirmations, confirmationView{
				At: age(now.Sub(cf.At)) + " ago", Entity: inspect.Printable(cf.EntityID),
				Tx: c.link("tx", cf.TxHash), Block: c.link("block", strconv.FormatUint(cf.Block, 10)),
			})
		}
	}
	if found != nil {
		res, err := await(found, timer.C)
		p.Search = c.search(res, err)
	}
	return p
}

// sectionError says in words why a section is missing; the error's own
// text (which may name hosts) goes to the log only.
func (c *Console) sectionError(what string, err error) string {
	if errors.Is(err, errNoAnswer) || errors.Is(err, context.DeadlineExceeded) {
		return what + ": Redis did not answer within " + age(c.cfg.SectionTimeout) + "."
	}
	c.cfg.Log.Warn().Err(err).Str("section", what).Msg("console section failed")
	return what + ": Redis did not answer."
}

func (c *Console) health(p *page, r monitor.Report) {
	p.Checks = []check{
		newCheck("balance", "The wallet balance is known, fresh and at least PROCESSOR_ALERT_BALANCE.", r.Balance),
		newCheck("processor", "The relay loop completed an iteration within PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT.", r.Processor),
		newCheck("nonAckPendingTx", "Redis answers, at most MAX_NON_ACK_PENDING_MESSAGES entries read are not yet sent, and no entry waits longer than MONITOR_MAX_WAIT_AGE.", r.NonAckPendingTx),
	}
	// The checks the report carries only in some states (Redis and the
	// node while the process starts, the fees when the relay reports them).
	for _, opt := range []struct{ name, about, status string }{
		{"redis", "Redis answers the monitor.", r.Redis},
		{"chain", "The node answers.", r.Chain},
		{"fees", "The base fee has not stayed above MAX_FEE_PER_GAS for longer than a few blocks.", r.Fees},
	} {
		if opt.status != "" {
			p.Checks = append(p.Checks, newCheck(opt.name, opt.about, opt.status))
		}
	}
	if why, down := redisDown(r); down {
		p.RedisDown = "Redis unreachable: " + inspect.Printable(why) + ". The queue, in-flight and dead-letter figures below are unknown until it answers."
	}
	p.Healthy = true
	for _, ch := range p.Checks {
		if !ch.OK {
			p.Healthy = false
			p.Failing++
		}
	}
	if r.Starting != "" {
		p.Notes = append(p.Notes, "Starting: "+inspect.Printable(r.Starting))
	}
	if r.FeeCap != "" {
		p.Notes = append(p.Notes, "Fee cap: "+inspect.Printable(r.FeeCap))
	}
	if r.Holding != "" {
		p.Notes = append(p.Notes, "Holding: "+inspect.Printable(r.Holding))
	}
	if r.Lease != "" {
		p.Notes = append(p.Notes, "Standby: "+inspect.Printable(r.Lease))
	}
	if r.GroupRecreated > 0 {
		p.Notes = append(p.Notes, "The consumer group was lost and created again "+strconv.FormatUint(r.GroupRecreated, 10)+
			" time(s) since start: Redis lost its data, entries pending in the old group are gone.")
	}
}

// runbooks are README's sections on what to do when a check fails, by
// anchor (TestRunbooksExist keeps them pointing at headings).
var runbooks = map[string]string{
	"balance":         "when-the-balance-alert-fires",
	"processor":       "runbook-loop-stalled",
	"nonAckPendingTx": "runbook-queue-not-draining",
	"redis":           "redis-beyond-one-node",
	"chain":           "runbook-loop-stalled",
	"fees":            "when-a-transaction-is-stuck",
}

// Runbooks are the checks' README anchors, for the test that keeps them
// true.
func Runbooks() map[string]string { return maps.Clone(runbooks) }

func newCheck(name, about, status string) check {
	c := check{Name: name, About: about}
	if a, ok := runbooks[name]; ok {
		c.Runbook = RunbookBase + "#" + a
	}
	switch {
	case status == monitor.StatusOK:
		c.OK, c.Status = true, "ok"
	case status == "":
		c.Status, c.Why = "not checked", "no answer"
	default:
		c.Status, c.Why = "failing", inspect.Printable(strings.TrimPrefix(status, "error - "))
	}
	return c
}

// redisDown reads from the report whether Redis answered the monitor, and
// if not why: the redis check, or (from a monitor without it) the queue
// check's "redis: ..." error. The text is the monitor's category
// ("redis: connection refused since ..."), which names no host.
func redisDown(r monitor.Report) (string, bool) {
	if r.Redis != "" && r.Redis != monitor.StatusOK {
		return strings.TrimPrefix(r.Redis, "error - "), true
	}
	if why, ok := strings.CutPrefix(r.NonAckPendingTx, "error - redis: "); ok && r.Redis == "" {
		return "redis: " + why, true
	}
	return "", false
}

// header fills the header line; what it cannot tell says "unknown".
func (c *Console) header(p *page, head <-chan result[uint64], deadline <-chan time.Time, now time.Time) {
	h := c.cfg.Header
	p.Header = headerView{ChainID: orUnknown(h.ChainID), Version: orUnknown(h.Version), Head: "unknown", Uptime: "unknown"}
	if h.Product != (common.Address{}) {
		p.Header.Product = c.link("address", h.Product.Hex())
	} else {
		p.Header.Product = link{Text: "unknown"}
	}
	if !h.Started.IsZero() {
		p.Header.Uptime = age(now.Sub(h.Started))
	}
	if head != nil {
		if n, err := await(head, deadline); err == nil {
			p.Header.Head = strconv.FormatUint(n, 10)
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// wallets gives every key its row, from the report's line of the key (the
// report's own figures when the process has one key), and the pool's total
// with the balance chart.
func (c *Console) wallets(p *page, r monitor.Report, now time.Time) {
	var chartOf *monitor.BalanceHistory
	for _, w := range c.cfg.Wallets {
		if w.History != nil {
			chartOf = w.History
			break
		}
	}
	total := walletView{Balance: inspect.ReadableEth(r.BalanceEth), Alert: r.AlertBalanceEth, Runway: orUnknown(r.Runway)}
	if r.BalanceAgeSeconds != nil {
		total.Age = age(time.Duration(*r.BalanceAgeSeconds*float64(time.Second))) + " ago"
	}
	if r.SpendWeiPerHour != "" {
		if wei, ok := new(big.Int).SetString(r.SpendWeiPerHour, 10); ok {
			total.Spend = ethString(wei) + " ETH/hour"
		}
	}
	total.Low = r.Balance != monitor.StatusOK
	if c.cfg.MinBalance != nil {
		total.MinBalance = ethString(c.cfg.MinBalance) + " ETH"
	}
	if chartOf != nil {
		alert, hasAlert := parseEth(total.Alert)
		total.Chart = newChart(chartOf.Samples(now), alert, hasAlert, now, chartOf.Span())
	}
	if total.Chart == nil {
		total.Empty = "No balance read yet."
	}
	p.Pool = &total

	for i, w := range c.cfg.Wallets {
		v := walletView{Address: c.link("address", w.Address.Hex()), Balance: "unknown", Runway: "unknown",
			Lease: "unknown", InFlight: "unknown", Window: "unknown", Processor: "unknown"}
		var k *monitor.KeyReport
		if i < len(r.Keys) && strings.EqualFold(r.Keys[i].Wallet, w.Address.Hex()) {
			k = &r.Keys[i]
		}
		if len(c.cfg.Wallets) == 1 {
			// One key: the report's own figures are the key's.
			v.Balance, v.Runway = inspect.ReadableEth(r.BalanceEth), orUnknown(r.Runway)
			v.Low = r.Balance != monitor.StatusOK && r.Balance != ""
		}
		if k != nil {
			if k.BalanceEth != "" {
				v.Balance = inspect.ReadableEth(k.BalanceEth)
			}
			if k.Runway != "" {
				v.Runway = k.Runway
			}
			if k.Balance != "" {
				v.Low = k.Balance != monitor.StatusOK
			}
			switch {
			case k.Lease == "":
				v.Lease = "held by this process"
			default:
				v.Lease, v.Standby = inspect.Printable(k.Lease), true
			}
			if k.InFlight != nil {
				v.InFlight = strconv.Itoa(*k.InFlight)
			}
			if k.NodeHeld != nil && k.NodeWindow != nil {
				v.Window = strconv.FormatUint(*k.NodeHeld, 10) + " / " + strconv.FormatUint(*k.NodeWindow, 10)
			}
			if k.Processor != "" {
				v.Processor, v.LoopFailing = "ok", k.Processor != monitor.StatusOK
				if v.LoopFailing {
					v.Processor = inspect.Printable(strings.TrimPrefix(k.Processor, "error - "))
				}
			}
		}
		p.Wallets = append(p.Wallets, v)
	}
}

// orphans lists the keys of the pool no live process holds (the pool's
// finisher settles their journals).
func (c *Console) orphans(p *page, r monitor.Report) {
	for _, o := range r.OrphanedKeys {
		p.Orphans = append(p.Orphans, orphanView{Wallet: c.link("address", o.Wallet), Entries: strconv.Itoa(o.Entries),
			Since: inspect.Printable(o.Since)})
	}
}

func (c *Console) queue(p *page, r monitor.Report) {
	add := func(label, value string, warn bool) {
		p.Queue = append(p.Queue, figure{Label: label, Value: value, Warn: warn})
	}
	// Without Redis nothing below is known: "none waiting" or an empty
	// queue would read as all clear.
	unknown := "unknown"
	_, down := redisDown(r)
	if down {
		unknown = "unknown (Redis unreachable)"
	}
	intOr := func(n *int64) string {
		if n == nil {
			return unknown
		}
		return strconv.FormatInt(*n, 10)
	}
	ageOr := func(s *float64) string {
		switch {
		case s != nil:
			return age(time.Duration(*s * float64(time.Second)))
		case down:
			return unknown
		}
		return "none waiting"
	}
	queueOK := r.NonAckPendingTx == monitor.StatusOK
	if r.UnsentCount != nil || down {
		add("Read, not yet sent", intOr(r.UnsentCount), !queueOK && r.UnsentCount != nil)
	}
	if r.AwaitingConfirmations != nil {
		add("Sent, awaiting confirmations", intOr(r.AwaitingConfirmations), false)
	}
	if r.PendingElsewhere != nil {
		add("Pending under other consumers", intOr(r.PendingElsewhere), false)
	}
	add("Pending (delivered, not acknowledged)", intOr(r.PendingCount), !queueOK && r.PendingCount != nil && r.UnsentCount == nil)
	add("Group lag (not yet delivered)", intOr(r.Lag), false)
	add("Oldest pending entry", ageOr(r.OldestPendingAgeSeconds), false)
	add("Oldest entry not yet delivered", ageOr(r.OldestUndeliveredAgeSeconds), false)
	if r.InFlight != nil {
		add("In flight", strconv.Itoa(*r.InFlight), false)
	}
	if r.NodeHeld != nil && r.NodeWindow != nil {
		add("Node holds / window", strconv.FormatUint(*r.NodeHeld, 10)+" / "+strconv.FormatUint(*r.NodeWindow, 10), false)
	}
	if r.FeeCap != "" {
		add("Waiting at the fee cap", "yes: "+inspect.Printable(strings.TrimPrefix(r.FeeCap, "waiting - ")), true)
	} else {
		add("Waiting at the fee cap", "no", false)
	}
	if r.LastLoopIteration != "" && r.LastLoopAgeSeconds != nil {
		add("Last loop iteration", age(time.Duration(*r.LastLoopAgeSeconds*float64(time.Second)))+" ago ("+r.LastLoopIteration+")",
			r.Processor != monitor.StatusOK)
	}
	add("Dead letters (total)", intOr(r.DeadLetterCount), false)
	if w := r.Webhooks; w != nil {
		// WEBHOOK_URL is set: what the receiver has not got yet, and why.
		add("Webhook events waiting / dropped", intOr(w.Pending)+" / "+intOr(w.Dropped), w.Failing != "")
		if w.Failing != "" {
			add("Webhook receiver failing", inspect.Printable(w.Failing), true)
		}
	}
}

func (c *Console) deadLetters(pg intake.Page, err error, now time.Time) section[deadLetterView] {
	if err != nil {
		return section[deadLetterView]{Err: c.sectionError("Dead letters", err)}
	}
	s := section[deadLetterView]{More: pg.Next != ""}
	for _, d := range pg.DeadLetters {
		v := deadLetterView{ID: inspect.Printable(d.ID), Entity: inspect.Printable(d.EntityID), Entry: inspect.Printable(d.EntryID),
			Class: inspect.Printable(d.Class), Reason: inspect.Printable(d.Reason),
			Holder: c.link("address", d.Application[stream.FieldPolicyHolder]), Replayed: inspect.Printable(d.Replayed),
			Replayable: intake.Replayable(d)}
		if d.Time != nil {
			v.At = age(now.Sub(*d.Time)) + " ago"
		}
		if d.TransactionHash != "" {
			v.Tx = c.link("tx", d.TransactionHash)
		}
		s.Rows = append(s.Rows, v)
	}
	return s
}

func (c *Console) inFlight(fs []Flight, err error, now time.Time) section[flightView] {
	if err != nil {
		return section[flightView]{Err: c.sectionError("In flight", err)}
	}
	s := section[flightView]{More: len(fs) > inFlightRows}
	for _, f := range fs[:min(len(fs), inFlightRows)] {
		v := flightView{Wallet: c.link("address", f.Wallet.Hex()), Nonce: inspect.Printable(f.Field), Entity: inspect.Printable(f.Record.EntityID),
			Entry: inspect.Printable(f.Record.EntryID), Kind: inspect.Printable(f.Record.Kind), Unreadable: inspect.Printable(f.Unreadable)}
		if f.Unreadable == "" && f.Record.Kind == stream.KindBatch {
			apps := f.Record.Applications()
			v.Batch = fmt.Sprintf("batch of %d", len(apps))
			for _, a := range apps {
				v.Apps = append(v.Apps, inspect.Printable(a.EntityID))
			}
		}
		if f.Unreadable == "" {
			v.Age = age(f.Age(now))
			hs := f.Hashes()
			for i, h := range hs {
				if i == 0 {
					v.Hash = c.link("tx", h.Hex())
				} else {
					v.Earlier = append(v.Earlier, c.link("tx", h.Hex()))
				}
			}
			if f.Tx != nil {
				v.MaxFee, v.Tip, v.Gas = gwei(f.Tx.GasFeeCap()), gwei(f.Tx.GasTipCap()), strconv.FormatUint(f.Tx.Gas(), 10)
			}
		}
		s.Rows = append(s.Rows, v)
	}
	return s
}

func (c *Console) search(res inspect.Result, err error) *searchView {
	switch {
	case errors.Is(err, inspect.ErrQuery):
		return &searchView{Err: "Type an entityId (26 characters), a transaction hash (0x and 64 hex digits) or a policy holder's address (0x and 40)."}
	case errors.Is(err, errNoAnswer):
		return &searchView{Err: "The search did not finish within " + age(c.cfg.SectionTimeout) + "."}
	case err != nil:
		c.cfg.Log.Warn().Err(err).Msg("console search failed")
		return &searchView{Err: "The search failed: Redis or the node did not answer."}
	}
	v := &searchView{Kind: res.Kind}
	for _, a := range res.Applications {
		av := appView{Entity: inspect.Printable(a.EntityID), Status: inspect.Printable(a.Status), Entry: inspect.Printable(a.EntryID),
			Class: inspect.Printable(a.Class), Reason: inspect.Printable(a.Reason), ProcessID: inspect.Printable(a.ProcessID)}
		if a.TransactionHash != "" {
			av.Tx = c.link("tx", a.TransactionHash)
		}
		if a.Block != 0 {
			av.Block = c.link("block", strconv.FormatUint(a.Block, 10))
		}
		if a.UpdatedAt != nil {
			av.Updated = a.UpdatedAt.UTC().Format(time.RFC3339)
		}
		if a.BatchIndex != nil {
			av.Batch = inspect.Place{Index: *a.BatchIndex, Size: a.BatchSize}.String()
		}
		v.Apps = append(v.Apps, av)
	}
	if t := res.Transaction; t != nil {
		tv := &txView{Hash: c.link("tx", t.Hash), State: t.State, Sig: inspect.Printable(t.SignatureID), ProcessID: inspect.Printable(t.ProcessID)}
		if t.Nonce != nil {
			tv.Nonce = strconv.FormatUint(*t.Nonce, 10)
		}
		if t.Block != 0 {
			tv.Block = c.link("block", strconv.FormatUint(t.Block, 10))
			tv.Confirmations = strconv.FormatUint(t.Confirmations, 10)
		}
		if t.Succeeded != nil {
			tv.Outcome = map[bool]string{true: "succeeded", false: "reverted"}[*t.Succeeded]
		}
		if t.From != "" {
			tv.From = c.link("address", t.From)
		}
		tv.Ours = map[bool]string{true: "yes, the relay's wallet", false: "no"}[t.Ours]
		if t.PolicyHolder != "" {
			tv.Holder = c.link("address", t.PolicyHolder)
		}
		if t.BatchSize > 0 {
			tv.Batch = fmt.Sprintf("%d applications", t.BatchSize)
		}
		for _, a := range t.Batch {
			tv.Apps = append(tv.Apps, batchAppView{Place: inspect.Place{Index: a.Index, Size: len(t.Batch)}.String(),
				Holder: c.link("address", a.PolicyHolder), Sig: inspect.Printable(a.SignatureID), Outcome: a.Outcome,
				ProcessID: inspect.Printable(a.ProcessID), Reason: inspect.Printable(a.Reason)})
		}
		v.Tx = tv
	}
	return v
}

// link renders a hash, block or address, linked to the explorer when one
// is configured. Only values of the expected shape are linked.
func (c *Console) link(kind, value string) link {
	value = inspect.Printable(value)
	l := link{Text: value}
	if r := []rune(value); len(r) > 20 {
		l.Text, l.Title = string(r[:10])+"…"+string(r[len(r)-6:]), value
	}
	if c.cfg.ExplorerURL != "" && value != "" && strings.Trim(strings.TrimPrefix(value, "0x"), "0123456789abcdefABCDEF") == "" {
		l.Href = c.cfg.ExplorerURL + "/" + kind + "/" + value
	}
	return l
}
