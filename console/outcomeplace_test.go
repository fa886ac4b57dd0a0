package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestSettledBatchPlaceShown: an application confirmed, or rejected, inside
// a batch transaction is shown with its place ("batch #2 of 3") once its
// outcome is recorded, read through the real status store, intake and
// search on a real redis-server, not only while it is submitted; one
// confirmed by a transaction of its own shows none.
func TestSettledBatchPlaceShown(t *testing.T) {
	rdb := redistest.Start(t).Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "g", Consumer: "c", DeadLetter: "dead", Wallet: "w"}
	queue := stream.NewQueue(rdb, keys)
	ctx := t.Context()
	if err := queue.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	status := stream.NewStatusStore(rdb, keys.Stream, time.Hour)
	svc := intake.New(intake.Config{}, zerolog.Nop(), nil, stream.NewPublisher(rdb, keys.Stream, stream.PublishOptions{}), status, queue, nil)
	confirmed, rejected, single := frontend.NewEntityID(), frontend.NewEntityID(), frontend.NewEntityID()
	tx := common.Hash{0xba}
	if err := status.Confirmed(ctx,
		stream.Confirmation{EntityID: confirmed, EntryID: "1-0", TxHash: tx, Block: 42, BatchIndex: 1, BatchSize: 3},
		stream.Confirmation{EntityID: single, EntryID: "3-0", TxHash: common.Hash{0x51}, Block: 42},
	); err != nil {
		t.Fatal(err)
	}
	if err := (&intake.ObservedQueue{Queue: queue, Status: status}).DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: rejected,
		Class: stream.ClassReverted, Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", TxHash: tx.Hex(), BatchIndex: 2, BatchSize: 3}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *console.Config) { c.Finder = &inspect.Finder{Status: svc} })
	for id, want := range map[string][]string{
		confirmed: {`<span class="state confirmed">confirmed</span>`, `batch #2 of 3</span>`},
		rejected:  {`<span class="state rejected">rejected</span>`, `batch #3 of 3</span>`},
	} {
		_, _, body := f.get(t, console.Path+"/search?q="+id)
		mustContain(t, body, want...)
	}
	_, _, body := f.get(t, console.Path+"/search?q="+single)
	mustContain(t, body, `<span class="state confirmed">confirmed</span>`)
	if strings.Contains(body, "batch #") {
		t.Error("an application confirmed by its own transaction is shown with a batch place")
	}
}
