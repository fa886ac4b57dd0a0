package relay_test

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// TestBatchStatusRecordsPlace: every application confirmed by a batch
// transaction has, in its status record, its place in that batch as the
// batch contract's events number it (issue 22: the status API and the
// console show it once the application is confirmed, not only while
// submitted); an application confirmed by a transaction of its own has
// none.
func TestBatchStatusRecordsPlace(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2, batch: 8})
	st := stream.NewStatusStore(e.rdb, e.keys.Stream, time.Hour)
	e.cfg.Status = st
	var apps []enqueued
	sigHash := map[string]common.Hash{}
	for range 20 {
		app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		a := e.enqueueApp(app)
		apps = append(apps, a)
		sigHash[a.entityID] = crypto.Keccak256Hash(app.Signature)
	}
	e.start()
	e.mineUntil(60*time.Second, "every application acknowledged", func() bool {
		return e.queueLen() == int64(len(apps)) && e.pending() == 0
	})
	outcomes := map[common.Hash]map[common.Hash]batch.Outcome{} // by transaction
	batched := 0
	for _, a := range apps {
		rec, ok, _, err := st.Read(t.Context(), a.entityID)
		if err != nil || !ok || rec.State != stream.StateConfirmed {
			t.Fatalf("status of %s: %+v found=%v err=%v; want confirmed", a.entityID, rec, ok, err)
		}
		h := common.HexToHash(rec.TxHash)
		outs, seen := outcomes[h]
		if !seen {
			rc, err := e.client.TransactionReceipt(t.Context(), h)
			if err != nil {
				t.Fatalf("receipt of %s: %v", h.Hex(), err)
			}
			outs = batch.Outcomes(e.chain.Batch, rc)
			outcomes[h] = outs
		}
		o, inBatch := outs[sigHash[a.entityID]]
		switch {
		case !inBatch:
			// A lone application may go in its own product call.
			if rec.BatchSize != 0 || rec.BatchIndex != 0 {
				t.Errorf("%s confirmed by its own transaction %s has batch place %d of %d", a.entityID, h.Hex(), rec.BatchIndex, rec.BatchSize)
			}
		case rec.BatchIndex != int(o.Index) || rec.BatchSize != len(outs):
			t.Errorf("%s: recorded place %d of %d, the events of %s say %d of %d", a.entityID, rec.BatchIndex, rec.BatchSize,
				h.Hex(), o.Index, len(outs))
		default:
			batched++
		}
	}
	if batched < len(apps)/2 {
		t.Fatalf("%d of %d applications confirmed with a batch place; want most", batched, len(apps))
	}
	t.Logf("%d applications in %d transactions, %d with a batch place", len(apps), len(outcomes), batched)
}
