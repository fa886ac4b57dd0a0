package relay_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/stream"
)

// minerMinTip is the simulated backend's minimum tip: transactions tipping
// less stay in the pool and are never mined, which makes them "stuck".
const minerMinTip = 1_000_000

func (e *env) journal() []stream.TxRecord {
	e.t.Helper()
	recs, err := e.queue.Journal(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// mineUntil commits blocks until cond holds: a block once the tracker has
// made a pass over the previous one (or at once while nothing is in flight,
// when it makes none), so the relay sees every block.
func (e *env) mineUntil(within time.Duration, what string, cond func() bool) {
	e.t.Helper()
	seen := int64(-1)
	e.until(within, what, func() bool {
		if cond() {
			return true
		}
		if p := e.probe.passes.Load(); p > seen || e.probe.inFlight.Load() == 0 {
			// +1: the pass counted now may have read the head before the
			// block below.
			seen = p + 1
			e.chain.Commit()
		}
		return cond()
	})
}

func decodeRaw(t *testing.T, raw string) *types.Transaction {
	t.Helper()
	b, err := hexutil.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestStuckTransactionIsReplaced: a transaction whose tip is below what the
// miner takes is replaced after STUCK_TX_BLOCKS blocks, and a replacement
// still stuck is replaced STUCK_TX_BLOCKS blocks after it was sent, not in
// every block after the first (decide's stuck rule counts from SentAtBlock),
// each time with fees raised enough for the pool to accept it, same nonce;
// exactly one transaction is mined. Blocks are sealed one at a time, each
// after a tracker pass over the one before, so the head at which each
// replacement is taken is known.
func TestStuckTransactionIsReplaced(t *testing.T) {
	const stuck = 2
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	// Tips of 0.6, 0.69, 0.79 and 0.91 of the miner's minimum stay in the
	// pool: three replacements stuck in turn before a fourth is mined.
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip * 6 / 10)
	e.cfg.StuckBlocks, e.cfg.FeeBumpPercent = stuck, 15
	app := e.enqueue(1)[0]
	e.start()
	e.waitBroadcast(1)
	first := e.txHash(app.entityID)
	e.passes(3) // the tracker saw it unmined at the head it was sent at
	head := func() uint64 {
		n, err := e.client.BlockNumber(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The head of the first send, then those at which the journal's list
	// of hashes grew: a replacement journaled and taken by the node.
	sentAt, hashes := []uint64{head()}, 1
	for len(sentAt) < 4 {
		if head() > sentAt[len(sentAt)-1]+4*stuck {
			t.Fatalf("sent at heads %v and not replaced since: want a replacement every %d blocks", sentAt, stuck)
		}
		e.chain.Commit()
		e.passes(3)
		recs := e.journal()
		if len(recs) != 1 || recs[0].NextRawTx != "" {
			t.Fatalf("journal %+v: want one record, its replacement answered", recs)
		}
		if n := len(recs[0].Hashes); n > hashes {
			if n > hashes+1 {
				t.Fatalf("%d replacements in the block at %d", n-hashes, head())
			}
			hashes = n
			sentAt = append(sentAt, head())
		}
	}
	for i, at := range sentAt[1:] {
		if at-sentAt[i] != stuck {
			t.Fatalf("sent, then replaced, at heads %v: want every %d blocks (STUCK_TX_BLOCKS from the last send)", sentAt, stuck)
		}
	}
	recs := e.journal()
	if recs[0].Hashes[0] != first || recs[0].Nonce != 0 {
		t.Fatalf("journal %+v does not keep the first hash %s at nonce 0", recs[0], first)
	}
	replacement := decodeRaw(t, recs[0].RawTx)
	if replacement.Nonce() != 0 || replacement.GasTipCap().Int64() < minerMinTip*6/10*115/100*115/100*115/100 {
		t.Fatalf("replacement nonce %d tip %s: want nonce 0 and the tip raised >= 15%% three times", replacement.Nonce(), replacement.GasTipCap())
	}
	if replacement.GasFeeCap().Cmp(e.cfg.Fees.MaxFee) > 0 {
		t.Fatalf("replacement fee cap %s above MAX_FEE_PER_GAS", replacement.GasFeeCap())
	}
	e.mineUntil(20*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	if e.created(app.signatureID) != 1 || e.walletNonce() != 1 {
		t.Fatalf("created %d times with %d transactions mined; want 1 and 1", e.created(app.signatureID), e.walletNonce())
	}
}

// TestStuckAtFeeCapWaits: when MAX_FEE_PER_GAS leaves no room to raise the
// fees, the relay never signs above it, does not give up on the application,
// and says it is waiting at the cap.
func TestStuckAtFeeCapWaits(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	for range 170 { // empty blocks take the base fee down to its floor of 7 wei
		e.chain.Commit()
	}
	e.cfg.Fees.MaxFee = big.NewInt(minerMinTip * 95 / 100)
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip * 9 / 10)
	e.cfg.StuckBlocks = 1
	e.enqueue(1)
	e.start()
	e.waitBroadcast(1)
	e.mineUntil(20*time.Second, "gauge says waiting at the cap", func() bool {
		return metricValue(t, e, "depeg_relay_chain_waiting_at_fee_cap") == 1
	})
	hashes := len(e.journal()[0].Hashes)
	// Five more blocks, each seen by tracker passes that could have
	// replaced the transaction.
	for range 5 {
		e.chain.Commit()
		e.passes(3)
	}
	recs := e.journal()
	if len(recs) != 1 || len(recs[0].Hashes) != hashes {
		t.Fatalf("journal changed while at the cap: %+v (had %d hashes)", recs, hashes)
	}
	if fc := decodeRaw(t, recs[0].RawTx).GasFeeCap(); fc.Cmp(e.cfg.Fees.MaxFee) > 0 {
		t.Fatalf("fee cap %s above MAX_FEE_PER_GAS %s", fc, e.cfg.Fees.MaxFee)
	}
	if e.pending() != 1 || len(e.deadLetters()) != 0 || e.walletNonce() != 0 {
		t.Fatalf("pending=%d dead=%d mined=%d; want the application kept pending", e.pending(), len(e.deadLetters()), e.walletNonce())
	}
}

// TestReorgBeforeConfirmations: the block with our receipt is reorganised away
// before the required confirmations; the entry is not acknowledged on the
// orphaned receipt, the transaction gets mined again, and the application is
// created once on the canonical chain.
func TestReorgBeforeConfirmations(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 3})
	app := e.enqueue(1)[0]
	e.start()
	e.waitBroadcast(1)
	parent, err := e.client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.chain.Commit()
	eventually(t, 10*time.Second, "relay saw the receipt", func() bool { return e.probe.receipts.Load() >= 1 })

	// A longer side chain without our transaction becomes canonical.
	if err := e.chain.Backend.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	e.chain.Backend.Rollback() // the fork's blocks must not carry our transaction
	sends := e.probe.sends.Load()
	e.chain.Commit()
	e.chain.Commit()
	// The relay notices and broadcasts the transaction again.
	eventually(t, 10*time.Second, "reorg noticed", func() bool { return e.probe.sends.Load() > sends })
	e.passes(3)
	if e.pending() != 1 {
		t.Fatalf("entry acknowledged on an orphaned receipt")
	}
	e.mineUntil(30*time.Second, "acknowledged after re-inclusion", func() bool { return e.pending() == 0 })
	if e.created(app.signatureID) != 1 || e.walletNonce() != 1 {
		t.Fatalf("created %d, mined nonce %d; want 1 and 1", e.created(app.signatureID), e.walletNonce())
	}
}

// lostSend journals like the real chain but drops broadcasts: the state of a
// relay killed between recording a transaction and sending it.
type lostSend struct {
	*chain.Client
	dropped atomic.Int32
}

func (l *lostSend) SendTransactions(_ context.Context, txs []*types.Transaction) ([]error, error) {
	l.dropped.Add(int32(len(txs)))
	return make([]error, len(txs)), nil
}

// failingAck acknowledges nothing: the state of a relay killed after
// confirmation but before XACK.
type failingAck struct {
	*stream.Queue
	tries atomic.Int32
}

func (f *failingAck) Ack(context.Context, ...stream.Settled) error {
	f.tries.Add(1)
	return errors.New("injected: redis gone")
}

// TestRestartRecoversEveryJournalState restarts the relay with its journal in
// each state a crash can leave, and checks the application is created once
// and no second, different transaction is ever built.
func TestRestartRecoversEveryJournalState(t *testing.T) {
	t.Run("signed, not sent", func(t *testing.T) {
		e := newEnv(t, envOptions{confirmations: 2})
		app := e.enqueue(1)[0]
		lost := &lostSend{Client: e.client}
		stop := e.startWith(lost, e.queue)
		eventually(t, 10*time.Second, "journaled", func() bool { return len(e.journal()) == 1 && lost.dropped.Load() > 0 })
		stop()
		hash := common.HexToHash(e.journal()[0].Hashes[0])
		if _, _, err := e.client.TransactionByHash(t.Context(), hash); !errors.Is(err, ethereum.NotFound) {
			t.Fatalf("node knows the unsent transaction: %v", err)
		}
		e.start()
		e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
		if e.created(app.signatureID) != 1 || e.walletNonce() != 1 {
			t.Fatalf("created %d, transactions %d; want 1, 1", e.created(app.signatureID), e.walletNonce())
		}
		if rc, err := e.client.TransactionReceipt(t.Context(), hash); err != nil || rc.Status != 1 {
			t.Fatalf("the journaled transaction was not the one mined: %v %v", rc, err)
		}
	})
	t.Run("mined, not confirmed", func(t *testing.T) {
		e := newEnv(t, envOptions{confirmations: 4})
		app := e.enqueue(1)[0]
		stop := e.start()
		e.waitBroadcast(1)
		e.chain.Commit()
		eventually(t, 10*time.Second, "mined", func() bool { return e.probe.receipts.Load() >= 1 })
		stop()
		if e.pending() != 1 {
			t.Fatalf("acknowledged with 1 of 4 confirmations")
		}
		e.start()
		e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
		if e.created(app.signatureID) != 1 || e.walletNonce() != 1 {
			t.Fatalf("created %d, transactions %d; want 1, 1", e.created(app.signatureID), e.walletNonce())
		}
	})
	t.Run("confirmed, not acknowledged", func(t *testing.T) {
		e := newEnv(t, envOptions{confirmations: 1})
		app := e.enqueue(1)[0]
		fa := &failingAck{Queue: e.queue}
		stop := e.startWith(e.client, fa)
		e.mineUntil(20*time.Second, "ack attempted", func() bool { return fa.tries.Load() >= 1 })
		stop()
		if e.pending() != 1 || len(e.journal()) != 1 {
			t.Fatalf("pending=%d journal=%d before restart; want 1, 1", e.pending(), len(e.journal()))
		}
		e.start()
		eventually(t, 20*time.Second, "acknowledged", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
		if e.created(app.signatureID) != 1 || e.walletNonce() != 1 || e.exists(stream.ApplicationKey(app.entityID)) {
			t.Fatalf("created %d, transactions %d, hash left %v", e.created(app.signatureID), e.walletNonce(), e.exists(stream.ApplicationKey(app.entityID)))
		}
	})
}

// TestNonceTakenByForeignTransaction: someone else uses the wallet and their
// transaction takes the nonce of ours (which can then never be mined). The
// relay notices, resynchronises its nonce and submits the application again.
func TestNonceTakenByForeignTransaction(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1})
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip / 2) // ours stays in the pool
	e.cfg.StuckBlocks = 1000                        // and is not bumped in this test
	app := e.enqueue(1)[0]
	stop := e.start()
	e.waitBroadcast(1)
	stop()
	// The operator sends a plain transfer with nonce 0 and a real tip; it
	// replaces ours in the pool and is mined.
	head, err := e.client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	foreign, err := e.signer.Sign(chain.Call{To: to}, 0, 21000, chain.Fees{
		FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(3)), big.NewInt(minerMinTip*10)),
		TipCap: big.NewInt(minerMinTip * 10)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	e.chain.Commit()
	e.cfg.Fees.MaxTip = nil
	e.start()
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	if e.created(app.signatureID) != 1 || e.walletNonce() != 2 {
		t.Fatalf("created %d, wallet nonce %d; want 1, 2", e.created(app.signatureID), e.walletNonce())
	}
	if got := metricValue(t, e, "depeg_relay_tx_nonces_lost_total"); got != 1 {
		t.Fatalf("nonces lost counter %v, want 1: the foreign nonce use was not reported", got)
	}
}

// heldPending holds the submitting loop's first read of its own pending list
// once Redis has answered it with entries, until the tracker has settled and
// released every flight (the in-flight gauge at 0): the read then hands the
// loop entries settled while it was under way. That is the race of
// TestSettledWhileReadingPendingIsNotReprocessed, made certain instead of
// widened by sleeps.
type heldPending struct {
	*stream.Queue
	inFlight *atomic.Int64 // the probe's last SetInFlight
	read     chan struct{} // closed once the first read with entries got Redis's answer
	once     sync.Once
	settled  atomic.Bool  // the tracker settled everything while that read was held
	reads    atomic.Int32 // completed reads
}

func (h *heldPending) ReadOwnPending(ctx context.Context, after string, n int) ([]stream.Entry, error) {
	entries, err := h.Queue.ReadOwnPending(ctx, after, n)
	first := false
	if len(entries) > 0 {
		h.once.Do(func() { first = true; close(h.read) })
	}
	if first {
		held := poll.Wait(ctx, 20*time.Second, poll.Every, func() error {
			if n := h.inFlight.Load(); n != 0 {
				return fmt.Errorf("%d flights not settled", n)
			}
			return nil
		})
		h.settled.Store(held == nil)
	}
	h.reads.Add(1)
	return entries, err
}

// receiptsAfterRead answers the tracker's receipt look-ups only once the
// loop's read of its pending list has Redis's answer, so that the tracker
// settles the entries that read returns.
type receiptsAfterRead struct {
	*chain.Client
	read <-chan struct{}
}

func (r receiptsAfterRead) Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error) {
	select {
	case <-r.read:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r.Client.Receipts(ctx, hashes)
}

// TestSettledWhileReadingPendingIsNotReprocessed: after a restart with mined
// transactions in the journal, the tracker acknowledges entries while the
// loop is reading its pending list; those entries must not be processed again
// (their hash is purged, so they would be dead-lettered as missing).
func TestSettledWhileReadingPendingIsNotReprocessed(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, maxInFlight: 8})
	apps := e.enqueue(4)
	stop := e.start()
	eventually(t, 10*time.Second, "all broadcast", func() bool { return len(e.journal()) == 4 })
	stop()
	e.chain.Commit()
	e.chain.Commit()
	q := &heldPending{Queue: e.queue, inFlight: &e.probe.inFlight, read: make(chan struct{})}
	e.startWith(receiptsAfterRead{Client: e.client, read: q.read}, q)
	// The second read starts only after the first one's entries were
	// filtered and processed.
	e.mineUntil(30*time.Second, "all acknowledged and the racing read handled", func() bool {
		return e.pending() == 0 && e.queueLen() == 4 && q.reads.Load() >= 2
	})
	if !q.settled.Load() {
		t.Fatal("the tracker did not settle the entries while the loop's read held them: the race was not run")
	}
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Fatalf("confirmed applications dead-lettered: %v", dl)
	}
	for _, a := range apps {
		if e.created(a.signatureID) != 1 {
			t.Fatalf("application %s not created once", a.entityID)
		}
	}
}

// lostReply journals like the real queue but, once, reports a failure after
// the write landed (a reply lost on the way back), and runs hook then.
type lostReply struct {
	*stream.Queue
	failed atomic.Bool
	hook   func()
}

func (l *lostReply) Record(ctx context.Context, recs ...stream.TxRecord) error {
	if err := l.Queue.Record(ctx, recs...); err != nil {
		return err
	}
	if l.failed.CompareAndSwap(false, true) {
		l.hook()
		return errors.New("injected: reply lost")
	}
	return nil
}

// TestLostJournalReplyLeavesNoStaleRecord: a journal write whose reply is
// lost may have landed. When the retry no longer needs every nonce of that
// write (here one application's hash vanished meanwhile), the records of the
// unused nonces must not stay in the journal: a restart would broadcast them.
// On the fake clock: the retry follows ERROR_TIMEOUT after the failed write,
// and each look of the test lets one pass.
func TestLostJournalReplyLeavesNoStaleRecord(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	e.step = e.cfg.ErrorBackoff
	apps := e.enqueue(2)
	q := &lostReply{Queue: e.queue, hook: func() {
		// The second application is withdrawn before the retry.
		if err := e.rdb.Del(context.Background(), stream.ApplicationKey(apps[1].entityID)).Err(); err != nil {
			t.Error(err)
		}
	}}
	e.startWith(e.client, q)
	// The first one's own record goes with its settlement, after the
	// acknowledgement (the ack pipeline, then the journal's HDEL): waited
	// for, so that what the journal keeps after it can only be stale.
	settled := func() bool {
		for _, r := range e.journal() {
			if r.EntryID == apps[0].entryID {
				return false
			}
		}
		return true
	}
	e.mineUntil(30*time.Second, "first created and settled, second dead-lettered", func() bool {
		return e.pending() == 0 && e.created(apps[0].signatureID) == 1 && len(e.deadLetters()) == 1 && settled()
	})
	if !q.failed.Load() {
		t.Fatal("the injected failure never happened")
	}
	if recs := e.journal(); len(recs) != 0 {
		t.Fatalf("journal keeps %d records of transactions never broadcast: %+v", len(recs), recs)
	}
	if e.created(apps[1].signatureID) != 0 || e.walletNonce() != 1 {
		t.Fatalf("withdrawn application created %d times; wallet nonce %d, want 1", e.created(apps[1].signatureID), e.walletNonce())
	}
}
