package relay_test

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// Tests of batching (issue 22) on the EVM and a real redis-server: the
// relay carries several applications per transaction through the batch
// contract, and each keeps its own fate.

// carriedBy reads, from the status records, the transaction that carried
// each application, and returns per transaction how many applications its
// batch events name as applied (0 for an application's own product call).
func (e *env) carriedBy(st *stream.StatusStore, apps []enqueued) map[common.Hash]int {
	e.t.Helper()
	out := map[common.Hash]int{}
	for _, a := range apps {
		rec, ok, _, err := st.Read(e.t.Context(), a.entityID)
		if err != nil || !ok || rec.State != stream.StateConfirmed || rec.ProcessID == "" {
			e.t.Fatalf("status of %s: %+v found=%v err=%v; want confirmed with a processId", a.entityID, rec, ok, err)
		}
		h := common.HexToHash(rec.TxHash)
		if _, ok := out[h]; ok {
			continue
		}
		rc, err := e.client.TransactionReceipt(e.t.Context(), h)
		if err != nil {
			e.t.Fatalf("receipt of %s (application %s): %v", h.Hex(), a.entityID, err)
		}
		n := 0
		for _, o := range batch.Outcomes(e.chain.Batch, rc) {
			if o.Applied {
				n++
			}
		}
		out[h] = n
	}
	return out
}

// TestBatchDrainsBacklogOnce: a backlog is carried in batch transactions,
// each application created exactly once, acknowledged, with its
// confirmation (transaction, block, processId) recorded; the wallet sent
// far fewer transactions than there were applications, and the journal is
// empty at the end.
func TestBatchDrainsBacklogOnce(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, batch: 8})
	st := stream.NewStatusStore(e.rdb, e.keys.Stream, time.Hour)
	e.cfg.Status = st
	apps := e.enqueue(40)
	e.start()
	// The ack comes before the journal record is forgotten: wait for both.
	e.mineUntil(60*time.Second, "every application acknowledged and forgotten", func() bool {
		return e.queueLen() == int64(len(apps)) && e.pending() == 0 && len(e.journal()) == 0
	})
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application %s created %d times, want 1", a.entityID, n)
		}
	}
	txs := e.walletNonce()
	if txs >= uint64(len(apps))/2 {
		t.Fatalf("%d transactions for %d applications: not batched", txs, len(apps))
	}
	applied, batches := 0, 0
	for _, n := range e.carriedBy(st, apps) {
		applied += n
		if n > 1 {
			batches++
		}
	}
	// A lone application at the tail may go in its own product call, which
	// names no batch event.
	if applied < len(apps)-int(txs) || batches == 0 {
		t.Fatalf("batch events name %d applied applications in %d batches; want most of %d", applied, batches, len(apps))
	}
	if len(e.deadLetters()) != 0 || len(e.journal()) != 0 {
		t.Fatalf("dead letters %v, journal %v: want none", e.deadLetters(), e.journal())
	}
	if n := metricValue(t, e, "depeg_relay_tx_confirmed_total"); n != float64(len(apps)) {
		t.Fatalf("confirmed_total %v, want %d", n, len(apps))
	}
	t.Logf("%d applications in %d transactions (%d batches)", len(apps), txs, batches)
}

// TestBatchPausedMidBatch: the product is paused while a batch waits in the
// pool; the batch is mined, succeeds as a transaction, and every application
// of it fails inside with PRODUCT_NOT_ACTIVE: each goes back to the queue,
// none is dead-lettered, and after the unpause each is created once.
// On the fake clock: an application simulated again while the product is
// still paused backs off ERROR_TIMEOUT, and each look of the test lets one
// back-off pass.
func TestBatchPausedMidBatch(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, batch: 16, fakeClock: true})
	e.step = e.cfg.ErrorBackoff
	apps := e.enqueue(10)
	e.start()
	e.waitBroadcast(len(apps))
	if n := len(e.journal()); n != 1 {
		t.Fatalf("%d journal records for %d applications read at once, want one batch", n, len(apps))
	}
	// The owner's pause tips more than ours, so it is mined first in the
	// block that also carries the batch.
	if err := e.chain.SetActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(30*time.Second, "every application put back in the queue", func() bool {
		return metricValue(t, e, "depeg_relay_tx_revert_requeued_total", "cause", "product_inactive") == float64(len(apps))
	})
	if e.pending() != int64(len(apps)) || len(e.deadLetters()) != 0 {
		t.Fatalf("pending %d, dead letters %d: want every application kept in the queue", e.pending(), len(e.deadLetters()))
	}
	if err := e.chain.SetActive(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(60*time.Second, "all acknowledged and forgotten after unpause", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application created %d times, want 1", n)
		}
	}
	if len(e.deadLetters()) != 0 || len(e.journal()) != 0 {
		t.Fatalf("dead letters %v, journal %v: want none", e.deadLetters(), e.journal())
	}
}

// TestBatchMixedOutcomes: an outsider applies one application of a batch
// in the same block, ahead of it. The batch succeeds; its other
// applications are created once and acknowledged, and the one whose
// signature the outsider used fails inside the batch, goes back to the
// queue, and is dead-lettered as used by a transaction not ours. On the
// fake clock: the requeued application's SIGNATURE_USED is looked at again
// ERROR_TIMEOUT later; each look of the test lets that wait pass.
func TestBatchMixedOutcomes(t *testing.T) {
	outsider := keyAddress(t, 9)
	e := newEnv(t, envOptions{confirmations: 2, batch: 16, alsoFund: []common.Address{outsider}, fakeClock: true})
	e.cfg.Pool = e.identity()
	e.step = e.cfg.ErrorBackoff
	var signed []*frontend.Application
	var apps []enqueued
	for range 6 {
		app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, app)
		apps = append(apps, e.enqueueApp(app))
	}
	e.start()
	e.waitBroadcast(len(apps))
	recs := e.journal()
	if len(recs) != 1 || recs[0].Kind != stream.KindBatch || len(recs[0].Applications()) != len(apps) {
		t.Fatalf("journal %+v: want one batch of %d", recs, len(apps))
	}
	batchTx := common.HexToHash(recs[0].CurrentHash())
	// The outsider tips more than the relay, so its transaction goes first.
	foreign := e.sendFrom(e.newPoolKey(9).signer, signed[3])
	e.mineUntil(60*time.Second, "five acknowledged, one dead-lettered", func() bool {
		return e.pending() == 0 && len(e.deadLetters()) == 1
	})
	rc, err := e.client.TransactionReceipt(t.Context(), foreign.Hash())
	if err != nil || rc.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("outsider's transaction: %v %v", rc, err)
	}
	brc, err := e.client.TransactionReceipt(t.Context(), batchTx)
	if err != nil || brc.BlockNumber.Cmp(rc.BlockNumber) != 0 || brc.TransactionIndex <= rc.TransactionIndex {
		t.Fatalf("batch %s mined at %v/%d, outsider at %v/%d: the test wants the outsider first in the same block",
			batchTx.Hex(), brc.BlockNumber, brc.TransactionIndex, rc.BlockNumber, rc.TransactionIndex)
	}
	outs := batch.Outcomes(e.chain.Batch, brc)
	if o := outs[crypto.Keccak256Hash(signed[3].Signature)]; o.Applied || o.Class().String() != "signature_used" {
		t.Fatalf("outcome of the outsider's application in the batch: %+v (class %s), want failed with signature used", o, o.Class())
	}
	for i, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application %d created %d times, want 1", i, n)
		}
		if i != 3 && !outs[crypto.Keccak256Hash(signed[i].Signature)].Applied {
			t.Fatalf("application %d not applied by the batch", i)
		}
	}
	d := e.deadLetters()[0].Values
	if d["entityId"] != apps[3].entityID || d["class"] != stream.ClassSignatureUsed || !strings.Contains(d["reason"].(string), "not ours") {
		t.Fatalf("dead letter %v: want application 3, class %s, the outsider named", d, stream.ClassSignatureUsed)
	}
	if e.walletNonce() != 1 {
		t.Fatalf("the relay mined %d transactions, want its one batch", e.walletNonce())
	}
}

// TestBatchSurvivesRestart: a batch journaled and broadcast, then the relay
// stops (as after a kill: nothing settles on the way out). A new relay
// rebuilds the batch from its record, tracks it, and settles each
// application; with the journal record lost instead, a new relay finds the
// batch through the applications' transactionHash and its events. Either
// way each application is created once by the one batch transaction.
func TestBatchSurvivesRestart(t *testing.T) {
	for _, lose := range []bool{false, true} {
		name := "journal kept"
		if lose {
			name = "journal record lost"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{confirmations: 2, batch: 16})
			apps := e.enqueue(7)
			stop := e.start()
			e.waitBroadcast(len(apps))
			stop()
			recs := e.journal()
			if len(recs) != 1 || recs[0].Kind != stream.KindBatch {
				t.Fatalf("journal %+v: want one batch", recs)
			}
			if lose {
				if err := e.queue.Forget(t.Context(), recs[0].Nonce); err != nil {
					t.Fatal(err)
				}
				e.chain.Commit() // mined while no relay runs
			}
			e.start()
			e.mineUntil(30*time.Second, "acknowledged and forgotten", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
			for _, a := range apps {
				if n := e.created(a.signatureID); n != 1 {
					t.Fatalf("application created %d times, want 1", n)
				}
			}
			if e.walletNonce() != 1 || len(e.deadLetters()) != 0 || len(e.journal()) != 0 {
				t.Fatalf("transactions %d, dead letters %v, journal %v; want 1 batch, none, none",
					e.walletNonce(), e.deadLetters(), e.journal())
			}
		})
	}
}

// TestBatchOnStrictNode: one key on a node that keeps 16 pending
// transactions per sender drains a backlog larger than 16 blocks' worth of
// single transactions would carry at that limit, each application once.
func TestBatchOnStrictNode(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, batch: 16, poolSlots: 16, maxInFlight: 64})
	apps := e.enqueue(300)
	e.start()
	e.mineUntil(120*time.Second, "every application acknowledged", func() bool {
		return e.queueLen() == int64(len(apps)) && e.pending() == 0
	})
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application %s created %d times, want 1", a.entityID, n)
		}
	}
	if txs := e.walletNonce(); txs > uint64(len(apps))/8 {
		t.Fatalf("%d transactions for %d applications: want batches of about 16", txs, len(apps))
	}
	if len(e.deadLetters()) != 0 {
		t.Fatalf("dead letters: %v", e.deadLetters())
	}
}

// TestStuckBatchIsReplaced: a batch whose tip is below what the miner takes
// is replaced as one transaction (same nonce, same applications, higher
// fees), journaled with every application before it is sent; the
// replacement is mined and each application is created once.
func TestStuckBatchIsReplaced(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, batch: 16})
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip * 9 / 10)
	e.cfg.StuckBlocks, e.cfg.FeeBumpPercent = 2, 15
	apps := e.enqueue(5)
	e.start()
	e.waitBroadcast(len(apps))
	var recs []stream.TxRecord
	e.mineUntil(20*time.Second, "a replacement journaled and accepted", func() bool {
		recs = e.journal()
		return len(recs) == 1 && len(recs[0].Hashes) >= 2 && recs[0].NextRawTx == ""
	})
	if recs[0].Kind != stream.KindBatch || len(recs[0].Applications()) != len(apps) {
		t.Fatalf("journal %+v: want the batch of %d kept across the replacement", recs[0], len(apps))
	}
	replacement := decodeRaw(t, recs[0].RawTx)
	carried, _, err := batch.Decode(replacement.Data())
	if err != nil || len(carried) != len(apps) || replacement.Nonce() != 0 {
		t.Fatalf("replacement nonce %d carries %d applications (%v); want nonce 0 and the same %d", replacement.Nonce(), len(carried), err, len(apps))
	}
	e.mineUntil(20*time.Second, "acknowledged", func() bool { return e.pending() == 0 })
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application created %d times, want 1", n)
		}
	}
	if e.walletNonce() != 1 {
		t.Fatalf("%d transactions mined, want the one batch", e.walletNonce())
	}
}

// TestBatchRecordOutlivesNoRequeue: a batch's applications fail inside it
// (the product paused) while its journal record cannot be forgotten. The
// flight stays, and none of its applications is journaled again under a
// new nonce while the old record still names it (a restart would resume
// both: review of issue 22); once Redis forgets the record, they go back
// to the queue and, after the unpause, each is created once.
// On the fake clock: an application simulated again while the product is
// still paused backs off ERROR_TIMEOUT, and each look of the test lets one
// back-off pass.
func TestBatchRecordOutlivesNoRequeue(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, batch: 16, fakeClock: true})
	e.step = e.cfg.ErrorBackoff
	q := &failingForget{Queue: e.queue}
	apps := e.enqueue(4)
	e.startWith(e.client, q)
	e.waitBroadcast(len(apps))
	q.failing.Store(true)
	if err := e.chain.SetActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(30*time.Second, "the batch's record failed to be forgotten twice", func() bool { return q.failed.Load() >= 2 })
	for range 3 {
		e.chain.Commit()
		e.passes(2)
		if recs := e.journal(); len(recs) != 1 || recs[0].Nonce != 0 {
			t.Fatalf("journal %+v while the batch's record stays: want it alone (no application journaled again)", recs)
		}
	}
	q.failing.Store(false)
	if err := e.chain.SetActive(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(60*time.Second, "all acknowledged", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application created %d times, want 1", n)
		}
	}
	if len(e.deadLetters()) != 0 {
		t.Fatalf("dead letters: %v", e.deadLetters())
	}
}
