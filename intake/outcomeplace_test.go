package intake

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// TestStatusOfSettledBatch: an application confirmed or rejected inside a
// batch transaction is told with its place in the batch as the relay
// recorded it, without asking the node (no Chain here) and without
// BATCH_CONTRACT_ADDRESS: the place is the record's. An outcome recorded
// without a place (a transaction of its own, or written before batching)
// has none.
func TestStatusOfSettledBatch(t *testing.T) {
	r := newTestRedis(t)
	ctx := t.Context()
	svc := New(Config{RPCTimeout: time.Second}, zerolog.Nop(), nil, r.pub, r.status, r.queue, nil)
	confirmed, rejected, single := frontend.NewEntityID(), frontend.NewEntityID(), frontend.NewEntityID()
	tx := common.Hash{0xba}
	if err := r.status.Confirmed(ctx,
		stream.Confirmation{EntityID: confirmed, EntryID: "1-0", TxHash: tx, Block: 7, BatchIndex: 0, BatchSize: 2},
		stream.Confirmation{EntityID: single, EntryID: "3-0", TxHash: common.Hash{0x51}, Block: 7},
	); err != nil {
		t.Fatal(err)
	}
	o := &ObservedQueue{Queue: r.queue, Status: r.status}
	if err := o.DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: rejected, Class: stream.ClassReverted,
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", TxHash: tx.Hex(), BatchIndex: 1, BatchSize: 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, state string
		index     int
	}{{confirmed, stream.StateConfirmed, 0}, {rejected, stream.StateRejected, 1}} {
		st, err := svc.Status(ctx, tc.id)
		if err != nil || st.Status != tc.state || st.TransactionHash != tx.Hex() || st.BatchIndex == nil ||
			*st.BatchIndex != tc.index || st.BatchSize != 2 {
			t.Errorf("status of %s = %+v (%v); want %s in %s, batch place %d of 2", tc.id, st, err, tc.state, tx.Hex(), tc.index)
		}
	}
	if st, err := svc.Status(ctx, single); err != nil || st.BatchIndex != nil || st.BatchSize != 0 {
		t.Errorf("status of an application confirmed by its own transaction = %+v (%v); want no batch place", st, err)
	}
}
