package relay_test

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// Tests of the transaction lifecycle against nodes as real deployments have
// them (issue "Transaction lifecycle on real nodes"): a product paused with
// transactions in flight, a pool that keeps only so many per sender, a
// replacement rule stricter than ours, a nonce gap, a recorded hash that
// carries another application, a backend that lags.

// metricValue sums a counter or gauge family, optionally one label value.
func metricValue(t *testing.T, e *env, name string, label ...string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(label) == 2 {
				match := false
				for _, l := range m.GetLabel() {
					match = match || (l.GetName() == label[0] && l.GetValue() == label[1])
				}
				if !match {
					continue
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestPausedWithFullWindow: the product is paused while a window of
// transactions waits in the pool. They are mined and revert with
// ERROR:DP-010:PRODUCT_NOT_ACTIVE, which can pass: every application goes
// back to the queue, is submitted again once the product is active, and is
// created exactly once. None is dead-lettered; the gas wasted is reported.
// On the fake clock: an application simulated again while the product is
// still paused backs off ERROR_TIMEOUT, and each look of the test lets one
// back-off pass.
func TestPausedWithFullWindow(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, maxInFlight: 8, fakeClock: true})
	e.step = e.cfg.ErrorBackoff
	apps := e.enqueue(6)
	e.start()
	e.waitBroadcast(len(apps))
	// The owner's pause tips more than ours, so it is mined first in the
	// block that also carries our six transactions.
	if err := e.chain.SetActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(30*time.Second, "every revert put back in the queue", func() bool {
		return metricValue(t, e, "depeg_relay_tx_revert_requeued_total", "cause", "product_inactive") == float64(len(apps))
	})
	if got := metricValue(t, e, "depeg_relay_tx_reverted_total"); got != float64(len(apps)) {
		t.Fatalf("%v reverts counted, want %d", got, len(apps))
	}
	wasted := metricValue(t, e, "depeg_relay_tx_reverted_gas_wei_total")
	if wasted <= 0 {
		t.Fatalf("gas wasted on reverts not reported")
	}
	if e.pending() != int64(len(apps)) || len(e.deadLetters()) != 0 {
		t.Fatalf("pending %d, dead letters %d: want every application kept in the queue", e.pending(), len(e.deadLetters()))
	}
	if err := e.chain.SetActive(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	// The ack comes before the journal record is forgotten: wait for both.
	e.mineUntil(60*time.Second, "all acknowledged and forgotten after unpause", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application created %d times, want 1", n)
		}
	}
	if len(e.deadLetters()) != 0 || len(e.journal()) != 0 {
		t.Fatalf("dead letters %v, journal %v: want none", e.deadLetters(), e.journal())
	}
	t.Logf("paused with %d in flight: %d reverted, %.0f wei of gas wasted, %d transactions in all",
		len(apps), len(apps), wasted, e.walletNonce())
}

// TestTransientRevertsAreBounded: an application whose transaction keeps
// reverting for a cause that can pass is dead-lettered after
// MAX_TRANSIENT_REVERTS, with that reason, instead of spending gas forever.
// On the fake clock: an application simulated again while the product is
// still paused backs off ERROR_TIMEOUT, and each look of the test lets one
// back-off pass.
func TestTransientRevertsAreBounded(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	e.step = e.cfg.ErrorBackoff
	e.cfg.MaxTransientReverts = 1
	app := e.enqueue(1)[0]
	e.start()
	for round := 1; round <= 2; round++ {
		e.waitBroadcast(round)
		if err := e.chain.SetActive(t.Context(), false); err != nil { // mines ours, reverted
			t.Fatal(err)
		}
		if err := e.chain.SetActive(t.Context(), true); err != nil {
			t.Fatal(err)
		}
	}
	// Dead letter first, ack second: wait for both.
	e.mineUntil(30*time.Second, "dead-lettered and acknowledged", func() bool { return len(e.deadLetters()) == 1 && e.pending() == 0 })
	dl := e.deadLetters()[0].Values
	if dl["class"] != "reverted" || !containsAll(dl["reason"].(string), "2 times", "PRODUCT_NOT_ACTIVE") {
		t.Fatalf("dead letter %v: want class reverted, reason naming 2 reverts and PRODUCT_NOT_ACTIVE", dl)
	}
	if e.created(app.signatureID) != 0 || e.pending() != 0 {
		t.Fatalf("created %d, pending %d", e.created(app.signatureID), e.pending())
	}
}

// TestStrictPoolDrainsAtItsLimit: the node keeps only K of a sender's
// transactions and drops the rest without telling. The relay learns K,
// keeps K outstanding, re-sends what was dropped as soon as there is room,
// and the backlog drains at K per block: nothing lost, nothing twice, and no
// storm of re-sends.
func TestStrictPoolDrainsAtItsLimit(t *testing.T) {
	const k, n = 4, 40
	e := newEnv(t, envOptions{confirmations: 1, maxInFlight: 64, poolSlots: k})
	apps := e.enqueue(n)
	e.start()
	start, err := e.client.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e.produce(300 * time.Millisecond) // blocks slower than the tracker's poll, as on a real chain
	eventually(t, 60*time.Second, "backlog drained", func() bool { return e.queueLen() == n && e.pending() == 0 })
	end, err := e.client.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Blocks that carried ours: a block sealed while a loaded machine kept
	// the relay from refilling carries none and says nothing of the window
	// (CI once counted 20 blocks from head to head, 10 with ours).
	blocks := e.blocksWithOurs(t, start+1, end)
	for _, a := range apps {
		if c := e.created(a.signatureID); c != 1 {
			t.Fatalf("application created %d times, want 1", c)
		}
	}
	if e.walletNonce() != n || len(e.deadLetters()) != 0 {
		t.Fatalf("wallet nonce %d, dead letters %d: want %d and 0", e.walletNonce(), len(e.deadLetters()), n)
	}
	window := metricValue(t, e, "depeg_relay_chain_node_window_transactions")
	if window < k || window > k+k/4+1 {
		t.Fatalf("node window %v, want about the node's limit %d", window, k)
	}
	// With the window at K, each block takes K: n/K blocks, and a few more
	// for learning K at the start and for the last confirmation. Without
	// the prompt re-send, the relay waits for REBROADCAST_INTERVAL between
	// re-sends and needs many more.
	if perBlock := e.maxPerBlock(t); perBlock != k {
		t.Fatalf("at most %d of ours in a block, want the node's limit %d", perBlock, k)
	}
	if blocks > n/k+4 {
		t.Fatalf("drained in %d blocks, want about %d (the node's limit per block)", blocks, n/k)
	}
	resent := metricValue(t, e, "depeg_relay_tx_resent_total")
	if resent > 3*n {
		t.Fatalf("%v re-sends for %d applications: a storm", resent, n)
	}
	t.Logf("node keeping %d: %d applications in %d blocks, %v re-sends, window %v", k, n, blocks, resent, window)
}

// maxPerBlock is the largest number of the wallet's transactions in one block.
func (e *env) maxPerBlock(t *testing.T) int {
	t.Helper()
	head, err := e.client.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for b := uint64(1); b <= head; b++ {
		blk, err := e.client.BlockByNumber(t.Context(), new(big.Int).SetUint64(b))
		if err != nil {
			t.Fatal(err)
		}
		ours := 0
		for _, tx := range blk.Transactions() {
			if from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx); err == nil && from == e.signer.Address() {
				ours++
			}
		}
		most = max(most, ours)
	}
	return most
}

// blocksWithOurs counts the blocks in [from, to] that hold a transaction of
// the relay's wallet.
func (e *env) blocksWithOurs(t *testing.T, from, to uint64) uint64 {
	t.Helper()
	var n uint64
	for b := from; b <= to; b++ {
		blk, err := e.client.BlockByNumber(t.Context(), new(big.Int).SetUint64(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range blk.Transactions() {
			if from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx); err == nil && from == e.signer.Address() {
				n++
				break
			}
		}
	}
	return n
}

// TestRefusedReplacementKeepsTheHeldTransaction: the node wants more than our
// bump for a replacement (its rule is +50%). The refused replacement never
// becomes current: the journal keeps the bytes the pool holds, they are what
// gets re-broadcast, and the user sees their hash. A later, large enough bump
// is accepted and mined once.
func TestRefusedReplacementKeepsTheHeldTransaction(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, priceBump: 50})
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip * 9 / 10) // stuck: below the miner's minimum
	e.cfg.StuckBlocks, e.cfg.FeeBumpPercent = 1, 15
	app := e.enqueue(1)[0]
	stop := e.start()
	e.waitBroadcast(1)
	held := e.txHash(app.entityID)
	e.mineUntil(20*time.Second, "a replacement refused", func() bool {
		return metricValue(t, e, "depeg_relay_tx_replacements_refused_total") >= 1
	})
	stop()
	recs := e.journal()
	if len(recs) != 1 || len(recs[0].Hashes) < 2 {
		t.Fatalf("journal %+v: want one record listing the refused hash too", recs)
	}
	if got := decodeRaw(t, recs[0].RawTx).Hash().Hex(); got != held || recs[0].NextRawTx != "" {
		t.Fatalf("journal's current transaction %s (next %q), want the held %s", got, recs[0].NextRawTx, held)
	}
	if got := e.txHash(app.entityID); got != held {
		t.Fatalf("application shows %s, want the held transaction %s", got, held)
	}
	// A bump that clears the node's rule.
	e.cfg.FeeBumpPercent = 60
	e.cfg.Fees.MaxTip = nil
	e.start()
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	if e.created(app.signatureID) != 1 || e.walletNonce() != 1 {
		t.Fatalf("created %d with %d transactions; want 1 and 1", e.created(app.signatureID), e.walletNonce())
	}
}

// TestNonceGapIsFilled: the journal lost the record of nonce 0 and the node
// never had that transaction, so nothing holds nonce 0 and nonce 1 waits
// behind it forever. The relay fills the gap with a zero-value self-transfer,
// journaled and counted, and everything behind it is mined.
func TestNonceGapIsFilled(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	e.cfg.StuckBlocks = 2
	apps := e.enqueue(2)
	dropped := &lostSend{Client: e.client}
	stop := e.startWith(dropped, e.queue)
	eventually(t, 10*time.Second, "both journaled", func() bool { return len(e.journal()) == 2 })
	stop()
	if err := e.queue.Forget(t.Context(), 0); err != nil { // the lost record
		t.Fatal(err)
	}
	e.start()
	e.mineUntil(30*time.Second, "all acknowledged", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
	for _, a := range apps {
		if c := e.created(a.signatureID); c != 1 {
			t.Fatalf("application created %d times, want 1", c)
		}
	}
	if got := metricValue(t, e, "depeg_relay_tx_gap_fills_total"); got != 1 {
		t.Fatalf("%v gap fills, want 1", got)
	}
	// Nonce 0: the fill; 1: the recovered transaction; 2: the application
	// whose record was lost, submitted again.
	if e.walletNonce() != 3 || len(e.deadLetters()) != 0 {
		t.Fatalf("wallet nonce %d, dead letters %d; want 3 and 0", e.walletNonce(), len(e.deadLetters()))
	}
}

// TestAdoptionChecksTheInput: an application's transactionHash names a
// successful transaction of ours that created *another* application. It is
// a foreign hash: the application is submitted and created on its own,
// not acknowledged on someone else's receipt.
func TestAdoptionChecksTheInput(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	other, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	tx := e.sendOutside(other)
	e.chain.Commit()
	mine, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	fields := frontend.Fields(mine)
	fields[stream.FieldTransactionHash] = tx.Hash().Hex() // another application's transaction
	id := frontend.NewEntityID()
	if _, err := frontend.Enqueue(t.Context(), e.rdb, e.keys.Stream, id, fields); err != nil {
		t.Fatal(err)
	}
	sid, _ := frontend.SignatureIDToBytes32(mine.SignatureID)
	e.start()
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.queueLen() == 1 && e.pending() == 0 })
	if e.created(sid) != 1 || e.walletNonce() != 2 {
		t.Fatalf("application created %d times, wallet nonce %d: want 1 and 2 (acknowledged on another's receipt?)", e.created(sid), e.walletNonce())
	}
}

// laggingReceipts answers receipt look-ups like a load-balanced backend one
// block behind the one that answered the nonce: a receipt in the newest block
// is not there yet.
type laggingReceipts struct {
	*chain.Client
	mu     sync.Mutex
	hidden int // receipts hidden so far
}

func (l *laggingReceipts) head(ctx context.Context) uint64 {
	n, err := l.Client.BlockNumber(ctx)
	if err != nil {
		return 0
	}
	return n
}

func (l *laggingReceipts) Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error) {
	out, err := l.Client.Receipts(ctx, hashes)
	if err != nil {
		return nil, err
	}
	head := l.head(ctx)
	for i, r := range out {
		if r != nil && r.BlockNumber.Uint64() >= head {
			out[i] = nil
			l.mu.Lock()
			l.hidden++
			l.mu.Unlock()
		}
	}
	return out, nil
}

func (l *laggingReceipts) TransactionReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	r, err := l.Client.TransactionReceipt(ctx, h)
	if err == nil && r.BlockNumber.Uint64() >= l.head(ctx) {
		l.mu.Lock()
		l.hidden++
		l.mu.Unlock()
		return nil, ethereum.NotFound
	}
	return r, err
}

// TestLaggingBackendIsNotALostNonce: the mined nonce says our nonce is used
// while the receipts come from a backend a block behind. Taken on one pass,
// that looks like a foreign transaction took the nonce, and the relay would
// build a second transaction for an application already created. The
// condition must hold in two blocks: one transaction, one creation.
func TestLaggingBackendIsNotALostNonce(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2})
	apps := e.enqueue(3)
	lag := &laggingReceipts{Client: e.client}
	e.startWith(lag, e.queue)
	e.waitBroadcast(len(apps))
	e.chain.Commit()
	eventually(t, 10*time.Second, "a receipt hidden by the lag", func() bool {
		lag.mu.Lock()
		defer lag.mu.Unlock()
		return lag.hidden > 0
	})
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	for _, a := range apps {
		if c := e.created(a.signatureID); c != 1 {
			t.Fatalf("application created %d times, want 1", c)
		}
	}
	if e.walletNonce() != uint64(len(apps)) || len(e.deadLetters()) != 0 {
		t.Fatalf("wallet nonce %d, dead letters %d: want %d and 0 (a second transaction was built)", e.walletNonce(), len(e.deadLetters()), len(apps))
	}
	if lost := metricValue(t, e, "depeg_relay_tx_nonces_lost_total"); lost != 0 {
		t.Fatalf("%v nonces taken for lost on a lagging answer", lost)
	}
}

func containsAll(s string, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestUnusableJournalRecordIsQuarantined: a journal record whose signed
// transaction does not decode cannot be re-broadcast. It is moved to the
// quarantine hash with its raw value (it may be the only copy of a
// transaction in some pool), the relay starts, and the application is
// simulated and created once.
func TestUnusableJournalRecordIsQuarantined(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	app := e.enqueue(1)[0]
	if err := e.queue.Record(t.Context(), stream.TxRecord{Nonce: 0, EntryID: app.entryID, EntityID: app.entityID,
		Hashes: []string{common.Hash{1}.Hex()}, RawTx: "0xdeadbeef"}); err != nil {
		t.Fatal(err)
	}
	if err := e.queue.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.queue.ReadNew(t.Context(), 1, time.Millisecond); err != nil { // delivered before the "crash"
		t.Fatal(err)
	}
	e.start()
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	q, err := e.queue.JournalQuarantine(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || !strings.Contains(q["0"], "0xdeadbeef") {
		t.Fatalf("quarantine %v: want the record of nonce 0 with its raw value", q)
	}
	if e.created(app.signatureID) != 1 || len(e.deadLetters()) != 0 {
		t.Fatalf("created %d, dead letters %d: want 1 and 0", e.created(app.signatureID), len(e.deadLetters()))
	}
}
