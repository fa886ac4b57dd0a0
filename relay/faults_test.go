package relay_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// Faults of issue 10 ("Found in review"): a poison pending entry must not
// stop the queue (item 1), and a Redis that lost its last writes must not
// lead to a second transaction (item 3).

// failingEstimate answers the simulation of one application (recognised by
// its signatureId in the call data) with an error that is not a revert, as
// a node does with "gas required exceeds allowance", and counts how often.
type failingEstimate struct {
	*chain.Client
	marker []byte
	failed atomic.Int32
}

func (f *failingEstimate) EstimateGasBatch(ctx context.Context, msgs []ethereum.CallMsg) ([]uint64, []error, error) {
	gas, errs, err := f.Client.EstimateGasBatch(ctx, msgs)
	if err != nil {
		return gas, errs, err
	}
	for i, m := range msgs {
		if bytes.Contains(m.Data, f.marker) {
			f.failed.Add(1)
			errs[i] = errors.New("gas required exceeds allowance (30000000)")
		}
	}
	return gas, errs, nil
}

// TestPoisonEntriesDoNotStopIntake: two entries that fail every time, one
// whose PendingApplication key is a string (HGETALL answers WRONGTYPE) and
// one whose simulation the node answers with an error that is not a revert,
// are each dead-lettered after MaxEntryAttempts attempts; a valid
// application enqueued after them is created on chain before that, and new
// entries are read meanwhile. On the fake clock: the attempts are a minute
// apart, and the minutes pass only once the test lets them.
func TestPoisonEntriesDoNotStopIntake(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	e.cfg.MaxEntryAttempts = 3
	e.cfg.ErrorBackoff = time.Minute // attempts a minute apart: the valid one must not wait for them
	ctx := t.Context()

	wrongType := frontend.NewEntityID()
	if err := e.rdb.Set(ctx, stream.ApplicationKey(wrongType), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wrongEntry, err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Stream,
		Values: map[string]any{stream.FieldEntityID: wrongType}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	poison := e.enqueue(1)[0]
	good := e.enqueue(1)[0]
	c := &failingEstimate{Client: e.client, marker: poison.signatureID[:]}
	e.startWith(c, e.queue)

	e.mineUntil(20*time.Second, "the valid application created", func() bool { return e.created(good.signatureID) == 1 })
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters %v before the valid application was created: the poisons held it up", dl)
	}
	// New entries are read while the poisons wait for their next attempts.
	later := e.enqueue(1)[0]
	e.mineUntil(20*time.Second, "an application enqueued later created", func() bool { return e.created(later.signatureID) == 1 })
	if n := c.failed.Load(); n >= int32(e.cfg.MaxEntryAttempts) {
		t.Fatalf("poison simulated %d times before a later entry went through, want fewer than %d", n, e.cfg.MaxEntryAttempts)
	}

	if n := c.failed.Load(); n != 1 {
		t.Fatalf("poison simulated %d times before its next attempt was due, want 1", n)
	}
	e.step = e.cfg.ErrorBackoff // now each look lets an attempt come due
	e.mineUntil(30*time.Second, "poisons dead-lettered and everything settled", func() bool {
		return len(e.deadLetters()) == 2 && e.pending() == 0
	})
	byEntry := map[string]map[string]any{}
	for _, m := range e.deadLetters() {
		byEntry[m.Values["entryId"].(string)] = m.Values
	}
	if v := byEntry[wrongEntry]; v == nil || v["class"] != "malformed" ||
		!containsAll(v["reason"].(string), "failed 3 attempts", stream.ApplicationKey(wrongType), "not a hash", "WRONGTYPE") {
		t.Errorf("wrong-type dead letter %v: want class malformed, 3 attempts, naming the key and WRONGTYPE", v)
	}
	if v := byEntry[poison.entryID]; v == nil || v["class"] != "failing" ||
		!containsAll(v["reason"].(string), "failed 3 attempts", "gas required exceeds allowance") {
		t.Errorf("poison dead letter %v: want class failing, 3 attempts, the node's error", v)
	} else if copied, _ := v["application"].(string); !strings.Contains(copied, stream.FieldSignatureID) {
		t.Errorf("poison dead letter keeps no copy of the application: %q", copied)
	}
	if n := c.failed.Load(); n != int32(e.cfg.MaxEntryAttempts) {
		t.Errorf("poison simulated %d times, want exactly MaxEntryAttempts = %d", n, e.cfg.MaxEntryAttempts)
	}
	if got := metricValue(t, e, "depeg_relay_stream_dead_lettered_total", "class", "failing"); got != 1 {
		t.Errorf("failing dead letters counted %v, want 1", got)
	}
	if e.created(poison.signatureID) != 0 || e.walletNonce() != 2 || e.exists(stream.ApplicationKey(wrongType)) {
		t.Errorf("poison created %d, wallet nonce %d (want 0, 2), wrong-type key left %v",
			e.created(poison.signatureID), e.walletNonce(), e.exists(stream.ApplicationKey(wrongType)))
	}
}

// TestLostWritesDoNotLeadToASecondTransaction: Redis lost its last writes
// (AOF everysec, a restore, a failover to a lagging replica), so the journal
// record and transactionHash of a transaction are gone while it waits in
// the node's pool. The restarted relay must not simulate and sign a second
// transaction for the still-pending entry (it would revert with
// SIGNATURE_USED): it holds new submissions until the unknown transaction is
// mined, then resolves the entry as created by our own transaction. On the
// fake clock: while holding, the loop waits a poll interval per iteration,
// and each look of the test lets one pass.
func TestLostWritesDoNotLeadToASecondTransaction(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, fakeClock: true})
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	q := e.enqueueApp(app)
	// The transaction the lost journal record held: signed by the relay's
	// wallet, in the pool, never journaled, no transactionHash.
	e.sendOutside(app)
	if p, err := e.client.PendingNonceAt(t.Context(), e.signer.Address()); err != nil || p != 1 {
		t.Fatalf("pending nonce %d (%v), want 1: the transaction is not in the pool", p, err)
	}

	e.start()
	// Ten loop iterations, each a chance to submit: none was taken.
	e.until(10*time.Second, "ten loop iterations", func() bool { return e.probe.loops.Load() >= 10 })
	if n, s := e.probe.estimates.Load(), e.probe.sends.Load(); n != 0 || s != 0 {
		t.Fatalf("%d simulations, %d broadcasts while an unknown transaction of ours was pending", n, s)
	}
	if got := metricValue(t, e, "depeg_relay_chain_unknown_pool_transactions"); got != 1 {
		t.Fatalf("unknown pool transactions gauge %v, want 1", got)
	}
	if recs := e.journal(); len(recs) != 0 {
		t.Fatalf("journal %+v: a second transaction was signed", recs)
	}
	if p, err := e.client.PendingNonceAt(t.Context(), e.signer.Address()); err != nil || p != 1 {
		t.Fatalf("pending nonce %d (%v), want 1", p, err)
	}

	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 && !e.exists(stream.ApplicationKey(q.entityID)) })
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters %v: the application our own transaction created was rejected", dl)
	}
	if e.created(q.signatureID) != 1 || e.walletNonce() != 1 || e.probe.sends.Load() != 0 {
		t.Fatalf("created %d, wallet nonce %d, broadcasts %d; want 1, 1, 0", e.created(q.signatureID), e.walletNonce(), e.probe.sends.Load())
	}
	if got := metricValue(t, e, "depeg_relay_chain_unknown_pool_transactions"); got != 0 {
		t.Fatalf("unknown pool transactions gauge %v after they were mined, want 0", got)
	}
	if got := metricValue(t, e, "depeg_relay_tx_reverted_total"); got != 0 {
		t.Fatalf("%v of our transactions reverted", got)
	}
}

// failingReceipt fails the receipt look-up of one hash, as a node still
// indexing its transactions does, until healed.
type failingReceipt struct {
	*chain.Client
	hash   common.Hash
	healed atomic.Bool
	failed atomic.Int32
}

func (f *failingReceipt) TransactionReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	if h == f.hash && !f.healed.Load() {
		f.failed.Add(1)
		return nil, errors.New("transaction indexing is in progress")
	}
	return f.Client.TransactionReceipt(ctx, h)
}

// TestFailingLookupDoesNotStopIntake: the node cannot answer the look-up of
// one entry's recorded transactionHash. That entry waits, without an attempt
// counted against it (the failure says nothing about it), while a valid
// application enqueued after it is created; once the node answers, it goes
// through too. On the fake clock: the entry's waits pass only when the test
// lets them.
func TestFailingLookupDoesNotStopIntake(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 1, fakeClock: true})
	e.cfg.MaxEntryAttempts = 2
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	recorded := common.HexToHash("0x1234")
	fields := frontend.Fields(app)
	fields[stream.FieldTransactionHash] = recorded.Hex()
	id := frontend.NewEntityID()
	if _, err := frontend.Enqueue(t.Context(), e.rdb, e.keys.Stream, id, fields); err != nil {
		t.Fatal(err)
	}
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	good := e.enqueue(1)[0]
	c := &failingReceipt{Client: e.client, hash: recorded}
	e.startWith(c, e.queue)

	e.mineUntil(20*time.Second, "the valid application created", func() bool { return e.created(good.signatureID) == 1 })
	e.step = e.cfg.ErrorBackoff
	e.until(10*time.Second, "the look-up failed more often than MaxEntryAttempts", func() bool {
		return c.failed.Load() > int32(e.cfg.MaxEntryAttempts)
	})
	if dl := e.deadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters %v: a failing look-up was counted against the entry", dl)
	}
	c.healed.Store(true)
	e.mineUntil(30*time.Second, "all settled", func() bool { return e.pending() == 0 })
	if e.created(sid) != 1 || e.walletNonce() != 2 || len(e.deadLetters()) != 0 {
		t.Fatalf("created %d, wallet nonce %d, dead letters %d; want 1, 2, 0", e.created(sid), e.walletNonce(), len(e.deadLetters()))
	}
}
