package monitor

import "fmt"

// StatusOK is the value of a passing check. A failing check reads
// "error - <why>" (see docs/design.md, "The fixed contracts"; the uptime checker and the people
// reading its alerts depend on that shape).
const StatusOK = "ok"

// errorStatus formats a failing check.
func errorStatus(format string, args ...any) string {
	return "error - " + fmt.Sprintf(format, args...)
}

// Report is the outcome of one health check; marshalled, it is the body of
// /api/monitor and its liveness and readiness variants.
//
// The three check fields are StatusOK or "error - <why>", and empty when the
// check is not part of the report (liveness carries no balance, readiness
// nothing else). The figures beside them are for people: they are omitted
// when unknown or when their check is not part of the report, and pointers
// distinguish "unknown" from zero.
type Report struct {
	// Balance: the wallet balance, refreshed in the background, is known, fresh
	// and at least the alert balance.
	Balance string `json:"balance,omitempty"`
	// Processor: the relay loop completed an iteration recently enough.
	Processor string `json:"processor,omitempty"`
	// NonAckPendingTx: Redis answers, the entries read and not yet sent
	// (UnsentCount) are within the limit, and the queue makes progress (no
	// entry waits too long). Entries whose transaction is out and waits for
	// its confirmations do not count: they are AwaitingConfirmations.
	NonAckPendingTx string `json:"nonAckPendingTx,omitempty"`
	// Redis: Redis answers. Its error names a category ("redis: connection
	// refused since <time>"), never the host: the detail is in the log.
	// Present in the full report and liveness.
	Redis string `json:"redis,omitempty"`
	// Chain: the node answered. Present while the process starts (it waits
	// for the chain id); afterwards the balance refresh tells of the node.
	Chain string `json:"chain,omitempty"`
	// Fees: the base fee has not stayed above MAX_FEE_PER_GAS for longer
	// than the grace (a few blocks): while it does, nothing can be sent.
	// Present in the full report and readiness when the relay reports fees.
	Fees string `json:"fees,omitempty"`
	// Starting is set until the relay runs: what the process waits for.
	Starting string `json:"starting,omitempty"`

	BalanceEth        string   `json:"balanceEth,omitempty"`
	AlertBalanceEth   string   `json:"alertBalanceEth,omitempty"`
	BalanceAgeSeconds *float64 `json:"balanceAgeSeconds,omitempty"`
	// SpendWeiPerHour is a decimal string: wei amounts overflow JSON numbers.
	SpendWeiPerHour string `json:"spendWeiPerHour,omitempty"`
	// RunwayHours is absent when there was no recent spend; Runway then says
	// so in words.
	RunwayHours *float64 `json:"runwayHours,omitempty"`
	Runway      string   `json:"runway,omitempty"`

	// LastLoopIteration is RFC 3339 in UTC.
	LastLoopIteration  string   `json:"lastLoopIteration,omitempty"`
	LastLoopAgeSeconds *float64 `json:"lastLoopAgeSeconds,omitempty"`
	InFlight           *int     `json:"inFlight,omitempty"`
	// NodeHeld is how many of our unmined transactions the node holds;
	// NodeWindow how many the relay keeps outstanding, learnt from it. A
	// node that keeps fewer than the relay sends shows here first.
	NodeHeld   *uint64 `json:"nodeHeld,omitempty"`
	NodeWindow *uint64 `json:"nodeWindow,omitempty"`
	// FeeCap is set while the relay waits because fees are at the cap.
	FeeCap string `json:"feeCap,omitempty"`
	// Holding is set while the relay signs nothing new because the node's
	// pool holds transactions of the wallet that the journal does not know.
	Holding string `json:"holding,omitempty"`
	// Lease is set while this process waits in standby because another
	// process holds the wallet's lease (a deploy's old container, until it
	// stops); its loop still beats, so a healthy standby passes the checks.
	Lease string `json:"lease,omitempty"`

	// PendingCount is the group's pending count (XPENDING): entries read
	// and not yet acknowledged, whatever they wait for.
	PendingCount *int64 `json:"pendingCount,omitempty"`
	// UnsentCount is what nonAckPendingTx counts: entries read by this
	// process's keys that have no transaction yet and are not in the batch
	// being submitted right now.
	UnsentCount *int64 `json:"unsentCount,omitempty"`
	// AwaitingConfirmations counts entries whose transaction is out and
	// waits to be mined and confirmed: a figure, not a check.
	AwaitingConfirmations *int64 `json:"awaitingConfirmations,omitempty"`
	// PendingElsewhere counts entries pending under consumers that are not
	// this process's keys (a deploy's other container, a consumer whose
	// entries the next lease holder takes over); the age check judges them.
	PendingElsewhere        *int64   `json:"pendingElsewhere,omitempty"`
	OldestPendingAgeSeconds *float64 `json:"oldestPendingAgeSeconds,omitempty"`
	// Lag is how many entries of the stream the group was not delivered
	// yet (Redis >= 7.0; absent when Redis cannot tell), and
	// OldestUndeliveredAgeSeconds how long the first of them has waited.
	Lag                         *int64   `json:"lag,omitempty"`
	OldestUndeliveredAgeSeconds *float64 `json:"oldestUndeliveredAgeSeconds,omitempty"`
	DeadLetterCount             *int64   `json:"deadLetterCount,omitempty"`
	// GroupRecreated counts, since start, the times Redis had lost the
	// consumer group and the relay created it again: whatever was pending
	// in it is gone, and the frontend may need to enqueue again.
	GroupRecreated uint64 `json:"groupRecreated,omitempty"`
	// OrphanedKeys are keys of the pool that no live process holds, with
	// the journal records the pool is still finishing (a figure).
	OrphanedKeys []OrphanedKey `json:"orphanedKeys,omitempty"`
	// Webhooks is set with WEBHOOK_URL: the outbox of status-change events
	// for the receiver (a figure, not a check).
	Webhooks *WebhookReport `json:"webhooks,omitempty"`
	// Keys is set when the process signs with several keys: each key's
	// checks and figures, in PROCESSOR_ACCOUNT_INDEX order.
	Keys []KeyReport `json:"keys,omitempty"`
}

// WebhookReport is the webhook outbox as the last read found it: events
// not yet delivered and events dropped because it was full (both for all
// processes, unknown until read), this process's deliveries, and, while
// the receiver fails, since when and how ("refused", "server_error", ...).
type WebhookReport struct {
	Pending      *int64 `json:"pending,omitempty"`
	Dropped      *int64 `json:"dropped,omitempty"`
	Delivered    uint64 `json:"delivered"`
	LastDelivery string `json:"lastDelivery,omitempty"`
	Failing      string `json:"failing,omitempty"`
}

// OrphanedKey is a key of the pool that no live process holds: its wallet,
// how many journal records it still has, and since when (RFC 3339) it has
// been seen unheld.
type OrphanedKey struct {
	Wallet  string `json:"wallet"`
	Entries int    `json:"entries"`
	Since   string `json:"since"`
}

// Healthy reports whether every check present in r passed.
func (r Report) Healthy() bool {
	for _, s := range []string{r.Balance, r.Processor, r.NonAckPendingTx, r.Redis, r.Chain, r.Fees} {
		if s != "" && s != StatusOK {
			return false
		}
	}
	return true
}

// KeyReport is one key of a pool in the report: its own balance and loop
// checks and figures. The report's top-level checks fail when any key's
// does, and its figures are the sums.
type KeyReport struct {
	Wallet             string   `json:"wallet"`
	Balance            string   `json:"balance,omitempty"`
	Processor          string   `json:"processor,omitempty"`
	BalanceEth         string   `json:"balanceEth,omitempty"`
	RunwayHours        *float64 `json:"runwayHours,omitempty"`
	Runway             string   `json:"runway,omitempty"`
	LastLoopIteration  string   `json:"lastLoopIteration,omitempty"`
	LastLoopAgeSeconds *float64 `json:"lastLoopAgeSeconds,omitempty"`
	InFlight           *int     `json:"inFlight,omitempty"`
	NodeHeld           *uint64  `json:"nodeHeld,omitempty"`
	NodeWindow         *uint64  `json:"nodeWindow,omitempty"`
	FeeCap             string   `json:"feeCap,omitempty"`
	Holding            string   `json:"holding,omitempty"`
	Lease              string   `json:"lease,omitempty"`
}

// ensureKeys gives r one KeyReport per key, in order.
func (r *Report) ensureKeys(keys []KeyConfig) {
	if len(r.Keys) == len(keys) {
		return
	}
	r.Keys = make([]KeyReport, len(keys))
	for i, k := range keys {
		r.Keys[i].Wallet = k.Wallet.Hex()
	}
}
