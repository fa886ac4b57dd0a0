package pool_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/pool"
	"github.com/etherisc/depeg-relay/stream"
)

// enqueueRead enqueues app and reads it as the dead key; it returns the
// journal's view of it and its claim.
func (e *orphanEnv) enqueueRead(app *frontend.Application) (stream.RecordApp, stream.OwnerClaim) {
	e.t.Helper()
	entityID := frontend.NewEntityID()
	entryID, err := frontend.Enqueue(e.t.Context(), e.rdb, e.keys.Stream, entityID, frontend.Fields(app))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.q.ReadNew(e.t.Context(), 1, time.Millisecond); err != nil {
		e.t.Fatal(err)
	}
	return stream.RecordApp{EntryID: entryID, EntityID: entityID, EnqueuedAt: e.clock.Now()},
		stream.OwnerClaim{SigHash: crypto.Keccak256Hash(app.Signature), EntryID: entryID}
}

func applicationArgs(t *testing.T, a *frontend.Application) chain.ApplicationArgs {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(a.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
		ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleID: a.BundleID,
		SignatureID: sid, Signature: a.Signature}
}

// TestFinisherSettlesBatchOfDeadKey: a key no live process holds journaled
// one batch transaction carrying two applications, broadcast it and died;
// it mined with the first application applied and the second failed (a
// signature of someone else). Once deep, the pool confirms the first
// (status record with the event's processId, entry acknowledged, hash
// purged), hands the second on (entry still pending, its hash kept), releases
// both claims and forgets the record.
func TestFinisherSettlesBatchOfDeadKey(t *testing.T) {
	e := newOrphanEnv(t)
	contract := e.dc.Batch
	ctx := t.Context()

	good, err := frontend.NewSigned(e.dc.ChainID, e.dc.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := frontend.NewSigned(e.dc.ChainID, e.dc.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	forged.PolicyHolder = common.HexToAddress("0x000000000000000000000000000000000000dEaD") // signed by someone else
	goodApp, goodClaim := e.enqueueRead(good)
	badApp, badClaim := e.enqueueRead(forged)
	if _, err := e.q.ClaimOwners(ctx, e.keys.Wallet, goodClaim, badClaim); err != nil {
		t.Fatal(err)
	}
	call := batch.Call(contract, []chain.ApplicationArgs{applicationArgs(t, good), applicationArgs(t, forged)},
		[]uint64{500_000, 500_000})
	head, err := e.client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := e.signer.Sign(call, 0, 2_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	if err := e.q.Record(ctx, stream.TxRecord{Nonce: 0, Kind: stream.KindBatch, Batch: []stream.RecordApp{goodApp, badApp},
		Hashes: []string{tx.Hash().Hex()}, RawTx: hexutil.Encode(raw), SignedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	e.dc.Commit()
	var rc *types.Receipt
	poll.Until(t, 10*time.Second, "batch mined", func() bool {
		rc, err = e.client.TransactionReceipt(ctx, tx.Hash())
		return err == nil
	})
	out := batch.Outcomes(contract, rc)
	if rc.Status != types.ReceiptStatusSuccessful || !out[goodClaim.SigHash].Applied || out[badClaim.SigHash].Applied {
		t.Fatalf("batch status %d, outcomes %+v: want the first applied and the second failed", rc.Status, out)
	}

	status := stream.NewStatusStore(e.rdb, e.keys.Stream, time.Hour)
	live := stream.NewQueue(e.rdb, stream.Keys{Stream: e.keys.Stream, Group: e.keys.Group, Consumer: "live/0x00",
		DeadLetter: e.keys.DeadLetter, Wallet: "0x0000000000000000000000000000000000000001"})
	f := pool.NewFinisher(pool.FinisherConfig{Confirmations: 2, HandOnAfter: 10 * time.Minute, LeaseTTL: 15 * time.Second,
		RPCTimeout: 5 * time.Second, Now: e.clock.Now, Product: e.prod, Status: status, BatchContract: contract},
		zerolog.Nop(), e.rdb, pool.NewIdentity(e.rdb, live, nil), e.client, live)

	// One confirmation only: nothing is decided yet.
	f.Pass(ctx)
	e.clock.Advance(10 * time.Second)
	f.Pass(ctx)
	if n := e.journalLen(); n != 1 || e.claims() != 2 {
		t.Fatalf("before the batch is deep: journal %d, claims %d; want 1 and 2", n, e.claims())
	}
	e.dc.Commit()
	f.Pass(ctx)
	if n := e.journalLen(); n != 0 {
		t.Fatalf("journal after the batch is settled = %d records, want 0", n)
	}
	if n := e.claims(); n != 0 {
		t.Fatalf("claims after settling = %d, want 0", n)
	}
	pend := e.pendingIDs()
	if pend[goodApp.EntryID] || !pend[badApp.EntryID] {
		t.Fatalf("pending = %v; want %s acknowledged and %s handed on (pending)", pend, goodApp.EntryID, badApp.EntryID)
	}
	rec, found, hash, err := status.Read(ctx, goodApp.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	if !found || rec.State != stream.StateConfirmed || rec.TxHash != tx.Hash().Hex() ||
		rec.ProcessID != out[goodClaim.SigHash].ProcessID.Hex() || out[goodClaim.SigHash].ProcessID == (common.Hash{}) {
		t.Fatalf("status of the applied application = %+v (found %v), want confirmed in %s with processId %s",
			rec, found, tx.Hash().Hex(), out[goodClaim.SigHash].ProcessID.Hex())
	}
	if hash != nil {
		t.Errorf("applied application's hash not purged: %v", hash)
	}
	if _, found, hash, err := status.Read(ctx, badApp.EntityID); err != nil || found || hash == nil {
		t.Fatalf("failed application: record found %v, hash %v (%v); want no record and its hash kept for a live key", found, hash, err)
	}
	if got := f.Orphans(); len(got) != 0 {
		t.Fatalf("orphans after settling = %+v, want none", got)
	}
}
