package inspect_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// TestFindBatchTransaction: a batch transaction's hash lists every
// application it carries, each with its place in the batch, while in the
// journal and, once settled and forgotten, through the node's calldata
// and events; an application found by its entityId shows its place too.
func TestFindBatchTransaction(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	var ids []string
	var args []chain.ApplicationArgs
	var recApps []stream.RecordApp
	for i := range 3 {
		app, err := frontend.NewSigned(w.dc.ChainID, w.dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			app.PolicyHolder = common.HexToAddress("0x000000000000000000000000000000000000dEaD") // signed by someone else: fails
		}
		id := frontend.NewEntityID()
		if _, err := frontend.Enqueue(ctx, w.rdb, "application:signatures", id, frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
		if err := w.status.Index(ctx, stream.Indexed{EntityID: id, Holder: app.PolicyHolder}); err != nil {
			t.Fatal(err)
		}
		sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
		args = append(args, chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
			ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID, SignatureID: sid, Signature: app.Signature})
		ids = append(ids, id)
		recApps = append(recApps, stream.RecordApp{EntryID: "1-" + string(rune('0'+i)), EntityID: id})
	}
	tx, err := w.signer.Sign(batch.Call(w.dc.Batch, args, []uint64{500_000, 500_000, 500_000}), w.nonce, 3_000_000,
		chain.Fees{FeeCap: big.NewInt(30 * params.GWei), TipCap: big.NewInt(params.GWei)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	if err := w.queue.Record(ctx, stream.TxRecord{Nonce: w.nonce, Kind: stream.KindBatch, Batch: recApps,
		Hashes: []string{tx.Hash().Hex()}, RawTx: hexutil.Encode(raw), SignedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if errs, err := w.client.SendTransactions(ctx, []*types.Transaction{tx}); err != nil || errs[0] != nil {
		t.Fatalf("send: %v %v", err, errs)
	}

	// In flight: the journal lists the three.
	res := w.find(tx.Hash().Hex())
	if tr := res.Transaction; tr == nil || tr.State != "in flight" || tr.BatchSize != 3 || len(tr.Batch) != 3 ||
		tr.Batch[1].PolicyHolder != args[1].PolicyHolder.Hex() || tr.Batch[0].Outcome != "" {
		t.Fatalf("in-flight batch transaction: %+v", res.Transaction)
	}
	wantPlaces(t, "in flight", res.Applications, ids, map[string]int{ids[0]: 0, ids[1]: 1, ids[2]: 2}, stream.StateSubmitted)
	res = w.find(ids[2])
	wantPlaces(t, "by entityId", res.Applications, ids[2:], map[string]int{ids[2]: 2}, stream.StateSubmitted)

	// Mined, the two applied confirmed, the record forgotten: the node's
	// calldata and events tell the batch, the holders' indexes its
	// applications.
	w.dc.Commit()
	w.dc.Commit()
	rcpt, err := w.client.TransactionReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		if err := w.status.Confirmed(ctx, stream.Confirmation{EntityID: ids[i], EntryID: recApps[i].EntryID, TxHash: tx.Hash(),
			Block: rcpt.BlockNumber.Uint64()}); err != nil {
			t.Fatal(err)
		}
		if err := w.queue.Ack(ctx, stream.Settled{EntryID: recApps[i].EntryID, EntityID: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.queue.Forget(ctx, w.nonce); err != nil {
		t.Fatal(err)
	}
	res = w.find(tx.Hash().Hex())
	tr := res.Transaction
	if tr == nil || tr.State != "mined" || tr.BatchSize != 3 || len(tr.Batch) != 3 || tr.ProcessID != "" {
		t.Fatalf("mined batch transaction: %+v", tr)
	}
	if tr.Batch[0].Outcome != "applied" || tr.Batch[0].ProcessID == "" || tr.Batch[1].Outcome != "failed" ||
		tr.Batch[1].Reason == "" || tr.Batch[2].Outcome != "applied" {
		t.Fatalf("mined batch's applications: %+v", tr.Batch)
	}
	wantPlaces(t, "settled", res.Applications, ids, map[string]int{ids[0]: 0, ids[1]: 1, ids[2]: 2}, "")
	for _, a := range res.Applications {
		if (a.EntityID == ids[1]) != (a.Status == stream.StateSubmitted) {
			t.Errorf("settled batch: %s is %s", a.EntityID, a.Status)
		}
	}
}

// wantPlaces checks that got lists exactly ids, each at its place of 3
// (and in state, unless empty).
func wantPlaces(t *testing.T, when string, got []intake.Status, ids []string, places map[string]int, state string) {
	t.Helper()
	if len(got) != len(ids) {
		t.Fatalf("%s: %d applications %+v, want %v", when, len(got), got, ids)
	}
	for _, a := range got {
		i, ok := places[a.EntityID]
		if !ok || a.BatchIndex == nil || *a.BatchIndex != i || a.BatchSize != 3 || (state != "" && a.Status != state) {
			t.Errorf("%s: %+v, want place %d of 3 (%v) %s", when, a, i, ok, state)
		}
	}
}
