package faults

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/chainaudit"
	"github.com/etherisc/depeg-relay/stream"
)

// row is one line of the suite's table.
type row struct {
	scenario string
	lost     int
	twice    int
	reverted int
	wasted   uint64
	monitor  string
	recovery string
	notes    []string
}

// table collects the rows of the scenarios run, in order.
var table struct {
	sync.Mutex
	rows []row
}

// finish waits until the processor is done with every entry, then checks the
// invariants of DESIGN.md section 5 against the chain and Redis and adds the
// scenario's row to the table.
func (h *harness) finish() {
	h.t.Helper()
	if ok, status := h.drain(); !ok {
		// Judge what is there anyway: the row says what went wrong.
		h.t.Errorf("not finished %v after the fault: %s", drainTimeout, status)
	}
	if h.sampler != nil {
		h.sampler.stop()
	}
	// The acknowledgements are judged from what the watcher recorded, which
	// follows Redis behind it (MONITOR, and a chain read for each XACK): the
	// XACK that ended the drain may not be recorded yet (CI: "no application
	// that arrived during the fault was acknowledged", for the two that the
	// drain had just seen acknowledged).
	h.watch.CatchUp(h.t)
	r := row{scenario: h.title, monitor: h.sampler.summary(), recovery: "—"}
	if !h.faultEnd.IsZero() {
		if d, flowing, ok := h.recovery(); flowing {
			r.recovery = "0 (kept flowing)"
		} else if ok {
			r.recovery = fmt.Sprintf("%.1f s", d.Seconds())
			if d > recoverGoal {
				r.recovery += fmt.Sprintf(" (over the %.1f s goal)", recoverGoal.Seconds())
			}
			if d > recoverLimit {
				h.t.Errorf("the queue flowed again %v after the fault ended, want within %v (goal %v)", d, recoverLimit, recoverGoal)
			}
		} else {
			r.recovery = "no application that arrived during the fault acknowledged"
			h.t.Errorf("no application that arrived during the fault was acknowledged")
		}
	}

	audit, err := chainaudit.Wallet(h.ctx, h.dc.Client, h.dc.ChainID, h.wallet, h.product)
	if err != nil {
		h.t.Fatal(err)
	}
	r.reverted, r.wasted = len(audit.Reverted), audit.Wasted
	if len(audit.Reverted) > 0 {
		var nonces []uint64
		for _, m := range audit.Reverted {
			nonces = append(nonces, m.Nonce)
		}
		h.note("our reverted transactions: nonces %v, %d gas in all", nonces, audit.Wasted)
	}
	// Gas spent for nothing: a successful transaction that created no
	// application is never explained, a reverted one only by the fault.
	for _, m := range audit.Useless {
		h.t.Errorf("transaction of ours created nothing: %s", m)
	}
	if len(audit.Reverted) > h.explains.reverted {
		h.t.Errorf("%d of our transactions reverted (%d gas wasted), the fault explains %d", len(audit.Reverted), audit.Wasted, h.explains.reverted)
	}
	// Same-nonce replacements, counted from what reached the node: distinct
	// transactions signed for one nonce beyond the first (a restarted
	// process re-broadcasts the journaled bytes, the same transaction).
	byNonce := map[uint64]map[common.Hash]bool{}
	for _, tx := range h.rpc.Sent() {
		if byNonce[tx.Nonce()] == nil {
			byNonce[tx.Nonce()] = map[common.Hash]bool{}
		}
		byNonce[tx.Nonce()][tx.Hash()] = true
	}
	replacements := 0
	for _, hs := range byNonce {
		replacements += len(hs) - 1
	}
	if replacements > 0 {
		h.note("%d same-nonce replacement(s) reached the node", replacements)
	}
	if replacements > h.explains.replacements {
		h.t.Errorf("%d same-nonce replacements reached the node, the fault explains %d", replacements, h.explains.replacements)
	}
	h.mu.Lock()
	apps := append([]*app(nil), h.apps...)
	acks := make(map[string]ack, len(h.acks))
	for k, v := range h.acks {
		acks[k] = v
	}
	dead := make(map[string]time.Time, len(h.dead))
	for k, v := range h.dead {
		dead[k] = v
	}
	h.mu.Unlock()

	// Invariants 1, 2 and 5: each valid application created exactly once,
	// by at most one successful transaction of ours.
	for _, a := range apps {
		if a.poison != "" {
			continue
		}
		n, err := h.dc.ApplicationsBySignatureID(h.ctx, a.sigID)
		if err != nil {
			h.t.Fatal(err)
		}
		switch {
		case n == 0:
			r.lost++
			h.t.Errorf("application %s (entries %v) was never created", a.signed.SignatureID, a.entries)
		case n > 1:
			r.twice++
			h.t.Errorf("application %s created %d times", a.signed.SignatureID, n)
		}
		ok := 0
		for _, m := range audit.BySignature[a.sigHex] {
			if m.Status == 1 {
				ok++
			}
		}
		if ok > 1 {
			h.t.Errorf("application %s carried by %d successful transactions of ours", a.signed.SignatureID, ok)
		}
	}
	// Invariant 1: nothing acknowledged before its outcome was final.
	for id, k := range acks {
		a := h.byID[id]
		if a == nil {
			h.t.Errorf("entry %s acknowledged, but the test never wrote it", id)
			continue
		}
		if at, ok := dead[id]; ok && !at.After(k.at) {
			continue // dead-lettered first, then acknowledged
		}
		if a.poison != "" {
			h.t.Errorf("poison entry %s (%s) acknowledged without a dead letter", id, a.poison)
			continue
		}
		tx, ok := audit.Created(a.sigHex)
		if !ok {
			h.t.Errorf("entry %s acknowledged, but no transaction of ours created its application", id)
			continue
		}
		if k.head+1 < tx.Block+confirmations {
			h.t.Errorf("entry %s acknowledged at head %d, its application mined in block %d: %d confirmation(s), want %d",
				id, k.head, tx.Block, k.head+1-tx.Block, confirmations)
		}
	}
	// Invariant 3: nothing signed above MAX_FEE_PER_GAS, sent or mined.
	for _, tx := range h.rpc.Sent() {
		if tx.GasFeeCap().Cmp(h.maxFee) > 0 {
			h.t.Errorf("transaction %s (nonce %d) signed with maxFeePerGas %s above MAX_FEE_PER_GAS %s",
				tx.Hash(), tx.Nonce(), tx.GasFeeCap(), h.maxFee)
		}
	}
	for nonce, n := range audit.PerNonce {
		if n != 1 {
			h.t.Errorf("nonce %d mined %d times", nonce, n)
		}
	}
	if c := h.rpc.Counts(); c.Statuses+c.Garbled+c.Lagged+c.Rejected > 0 {
		h.note("of the processor's %d requests to the node, the proxy answered %d with 429/5xx, garbled %d, "+
			"answered %d as the lagging backend and refused %d calls", c.Requests, c.Statuses, c.Garbled, c.Lagged, c.Rejected)
	}
	// Invariants 4 and 6: dead letters for the poison entries only.
	h.checkDeadLetters(apps)
	h.checkLogs()

	r.notes = h.notes
	table.Lock()
	table.rows = append(table.rows, r)
	table.Unlock()
	h.t.Logf("| %s | %d | %d | %d | %d | %s | %s |", r.scenario, r.lost, r.twice, r.reverted, r.wasted, r.monitor, r.recovery)
	for _, n := range r.notes {
		h.t.Logf("  note: %s", n)
	}
}

// recovery is the time from the end of the fault until the queue flows
// again: the first acknowledgement, after the fault, of a valid application
// that arrived during it. flowing reports that every such application was
// acknowledged while the fault lasted: the queue never stopped.
func (h *harness) recovery() (d time.Duration, flowing, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var first time.Time
	arrived, waited := 0, 0
	for _, a := range h.apps {
		if a.poison != "" {
			continue
		}
		for _, e := range a.entries {
			if e.at.Before(h.faultStart) || !e.at.Before(h.faultEnd) {
				continue
			}
			arrived++
			k, acked := h.acks[e.id]
			if acked && !k.at.After(h.faultEnd) {
				continue
			}
			waited++
			if acked && (first.IsZero() || k.at.Before(first)) {
				first = k.at
			}
		}
	}
	switch {
	case arrived > 0 && waited == 0:
		return 0, true, true
	case first.IsZero():
		return 0, false, false
	}
	return first.Sub(h.faultEnd), false, true
}

// drain waits until the processor is done: every valid application on chain
// and its hash purged, every poison entry dead-lettered, every entry
// delivered and acknowledged, the journal empty. Once the queue flows again
// the monitor is no longer watched.
func (h *harness) drain() (bool, string) {
	h.t.Helper()
	deadline := time.Now().Add(drainTimeout)
	for {
		if _, flowing, ok := h.recovery(); (ok || flowing) && h.sampler != nil && !h.watchToTheEnd {
			h.sampler.stop()
		}
		done, status := h.drained()
		if done || time.Now().After(deadline) || h.ctx.Err() != nil {
			return done, status
		}
		if p := h.current(); p != nil && !p.Running() {
			return false, fmt.Sprintf("processor exited (%v): %s", p.Err(), status)
		}
		pause(h.ctx, 50*time.Millisecond)
	}
}

func (h *harness) drained() (bool, string) {
	h.mu.Lock()
	apps := append([]*app(nil), h.apps...)
	h.mu.Unlock()
	waiting, poisonLeft, hashes := 0, 0, 0
	for _, a := range apps {
		if a.poison != "" {
			h.mu.Lock()
			_, ok := h.dead[a.entries[0].id]
			h.mu.Unlock()
			if !ok {
				poisonLeft++
			}
			continue
		}
		if n, err := h.dc.ApplicationsBySignatureID(h.ctx, a.sigID); err != nil || n == 0 {
			waiting++
		}
		for _, e := range a.entries {
			if e.vanished { // its hash, if kept, is no one's (CI saw one)
				continue
			}
			if n, err := h.rdb.Exists(h.ctx, stream.ApplicationKey(e.entity)).Result(); err != nil || n != 0 {
				hashes++
			}
		}
	}
	groups, err := h.rdb.XInfoGroups(h.ctx, streamKey).Result()
	if err != nil {
		return false, fmt.Sprintf("xinfo groups: %v", err)
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == groupName {
			g = &groups[i]
		}
	}
	if g == nil {
		return false, "no consumer group"
	}
	last, err := h.rdb.XRevRangeN(h.ctx, streamKey, "+", "-", 1).Result()
	if err != nil || len(last) == 0 {
		return false, fmt.Sprintf("read last entry: %v", err)
	}
	journal, err := h.rdb.HLen(h.ctx, journalKey(h.wallet)).Result()
	if err != nil {
		return false, fmt.Sprintf("hlen journal: %v", err)
	}
	status := fmt.Sprintf("%d applications not on chain, %d poison entries not dead-lettered, %d hashes left, "+
		"pending %d, last delivered %s of %s, journal %d", waiting, poisonLeft, hashes, g.Pending, g.LastDeliveredID, last[0].ID, journal)
	return waiting == 0 && poisonLeft == 0 && hashes == 0 && g.Pending == 0 && g.LastDeliveredID == last[0].ID && journal == 0, status
}

// checkDeadLetters: a valid application is never dead-lettered (its outcome
// is final only when its cause is), and each poison entry is, with a
// reason.
func (h *harness) checkDeadLetters(apps []*app) {
	h.t.Helper()
	dead, err := h.rdb.XRange(h.ctx, deadLetterKey, "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	byEntity := map[string]*app{}
	lost := map[string]bool{}
	for _, a := range apps {
		for _, e := range a.entries {
			byEntity[e.entity] = a
			lost[e.entity] = e.lost
		}
	}
	got := map[*app]bool{}
	for _, d := range dead {
		entity := fmt.Sprint(d.Values["entityId"])
		a := byEntity[entity]
		switch {
		case a == nil:
			h.t.Errorf("dead letter %s for an entry the test never wrote: %v", d.ID, d.Values)
		case a.poison == "" && lost[entity] && strings.Contains(fmt.Sprint(d.Values["reason"]), "missing"):
			// Read just before Redis lost its data, loaded just after: the
			// entry's application is gone, and the test enqueued it again.
			h.note("entry %v, read before Redis lost its data, was dead-lettered: %q", d.Values["entryId"], d.Values["reason"])
		case a.poison == "":
			h.t.Errorf("valid application dead-lettered: %s %v", d.ID, d.Values)
		default:
			got[a] = true
			h.note("%s dead-lettered: class %v, %q", a.poison, d.Values["class"], d.Values["reason"])
		}
	}
	for _, a := range apps {
		if a.poison != "" && !got[a] {
			h.t.Errorf("poison entry %s (%s) not in the dead-letter stream", a.entries[0].id, a.poison)
		}
	}
}

// checkLogs: no incarnation wrote anything but JSON log lines (a panic, a
// race report, runtime output).
func (h *harness) checkLogs() {
	h.t.Helper()
	entries, err := os.ReadDir(h.logDir)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".stderr") {
			continue
		}
		raw, err := os.ReadFile(h.logDir + "/" + e.Name())
		if err != nil {
			h.t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		for i, l := range lines {
			if l == "" || strings.HasPrefix(l, "{") {
				continue
			}
			if i == len(lines)-1 && strings.HasPrefix(l, "{") { // cut by a SIGKILL
				continue
			}
			h.t.Errorf("%s wrote a non-log line (panic or runtime error?): %s", e.Name(), l)
		}
	}
}

// printTable logs the table, and writes it to $FAULTS_TABLE when set.
func printTable(t *testing.T, took time.Duration) {
	table.Lock()
	defer table.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | lost | created twice | our reverted txs | gas wasted | what the monitor said during it | time to recover |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|\n")
	for _, r := range table.rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s |\n", r.scenario, r.lost, r.twice, r.reverted, r.wasted, r.monitor, r.recovery)
	}
	var notes []string
	for _, r := range table.rows {
		for _, n := range r.notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", r.scenario, n))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\nNotes:\n%s\n", strings.Join(notes, "\n"))
	}
	fmt.Fprintf(&b, "\n%d scenarios in %.0f s; blocks every %v, %d confirmations, ERROR_TIMEOUT %v, recovery goal %.2f s "+
		"(ERROR_TIMEOUT + two blocks + one poll).\n", len(table.rows), took.Seconds(), blockTime, confirmations, errorTimeout,
		recoverGoal.Seconds())
	t.Logf("fault table:\n%s", b.String())
	if path := os.Getenv("FAULTS_TABLE"); path != "" {
		doc := "# Fault suite: the table of the last run\n\n" +
			"Written by `FAULTS_TABLE=$PWD/e2e/faults/TABLE.md go test -race -count=1 -run TestFaultSuite ./e2e/faults/`\n" +
			"(e2e/faults/doc.go and faults_test.go say what each scenario does). \"lost\" counts applications never\n" +
			"created on chain, \"created twice\" those created more than once, \"gas wasted\" the gas of our mined\n" +
			"transactions that reverted or created nothing; \"time to recover\" runs from the end of the fault to the\n" +
			"acknowledgement of the first application that arrived during it.\n\n" + b.String()
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Errorf("write %s: %v", path, err)
		}
	}
}
