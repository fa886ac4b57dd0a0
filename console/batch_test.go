package console_test

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

const (
	batchEntity0 = "01M84VAXA3ENVW6NN6H78HSK70"
	batchEntity1 = "01M84VAXA3ENVW6NN6H78HSK71"
	batchEntity2 = "01M84VAXA3ENVW6NN6H78HSK72"
)

// batchFinder answers txHash as a mined batch of three.
type batchFinder struct{}

func (batchFinder) Find(_ context.Context, q string) (inspect.Result, error) {
	at := func(i int) *int { return &i }
	return inspect.Result{Query: q, Kind: inspect.KindTransaction,
		Transaction: &inspect.Transaction{Hash: txHash, State: "mined", Block: 42, Confirmations: 2, BatchSize: 3,
			Batch: []inspect.BatchApplication{
				{Index: 0, PolicyHolder: "0x00000000000000000000000000000000000000a1", SignatureID: "sig-a", Outcome: "applied", ProcessID: "0xp0"},
				{Index: 1, PolicyHolder: "0x00000000000000000000000000000000000000a2", SignatureID: "sig-b", Outcome: "failed", Reason: "ERROR:DMH-002:SIGNATURE_INVALID"},
				{Index: 2, PolicyHolder: "0x00000000000000000000000000000000000000a3", SignatureID: "sig-c", Outcome: "applied", ProcessID: "0xp2"},
			}},
		Applications: []intake.Status{
			{EntityID: batchEntity2, Status: stream.StateConfirmed, TransactionHash: txHash, Block: 42, BatchIndex: at(2), BatchSize: 3},
			{EntityID: batchEntity1, Status: stream.StateSubmitted, TransactionHash: txHash, BatchIndex: at(1), BatchSize: 3},
			{EntityID: batchEntity0, Status: stream.StateConfirmed, TransactionHash: txHash, Block: 42, BatchIndex: at(0), BatchSize: 3},
		}}, nil
}

// TestBatchShown: the console shows an application carried by a batch with
// its batch transaction and place ("#2 of 3"), a batch transaction's search
// with every application and its outcome, and an in-flight batch with the
// applications it carries.
func TestBatchShown(t *testing.T) {
	f := newFixture(t, func(c *console.Config) {
		c.Finder = batchFinder{}
		c.InFlight = func(context.Context) ([]console.Flight, error) {
			return []console.Flight{{Wallet: common.HexToAddress(wallet), Flight: inspect.Flight{Field: "8", Record: stream.TxRecord{
				Nonce: 8, Kind: stream.KindBatch, Hashes: []string{txHash},
				Batch: []stream.RecordApp{{EntryID: "1-0", EntityID: batchEntity0}, {EntryID: "2-0", EntityID: batchEntity1}}}}}}, nil
		}
	})
	_, _, body := f.get(t, console.Path)
	mustContain(t, body, `<summary>batch of 2</summary><code>`+batchEntity0+`</code> <code>`+batchEntity1+`</code>`)
	_, _, body = f.get(t, console.Path+"/search?q="+txHash)
	mustContain(t, body, "3 applications", "<td>#1 of 3</td>", "<td>#3 of 3</td>", "sig-b", "failed ERROR:DMH-002:SIGNATURE_INVALID",
		"applied <code>0xp2</code>", `batch #2 of 3</span>`, `batch #3 of 3</span>`, `batch #1 of 3</span>`, batchEntity1)
}
