package oncall

import (
	"bytes"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// TestAppShowsBatch: the app subcommand shows a batch transaction's size
// and each application of its calldata with its outcome, and each
// application found with its place in the batch.
func TestAppShowsBatch(t *testing.T) {
	h := "0x" + strings.Repeat("bb", 32)
	one := 1
	res := inspect.Result{Query: h, Kind: inspect.KindTransaction,
		Transaction: &inspect.Transaction{Hash: h, State: "mined", BatchSize: 2, Batch: []inspect.BatchApplication{
			{Index: 0, PolicyHolder: "0xa1", SignatureID: "sig-a", Outcome: "applied", ProcessID: "0xp0"},
			{Index: 1, PolicyHolder: "0xa2", SignatureID: "sig-b", Outcome: "failed", Reason: "ERROR:DMH-002:SIGNATURE_INVALID"},
		}},
		Applications: []intake.Status{{EntityID: "01M84VAXA3ENVW6NN6H78HSK71", Status: stream.StateSubmitted, TransactionHash: h,
			BatchIndex: &one, BatchSize: 2}}}
	var out bytes.Buffer
	if err := writeApp(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 applications", "#1 of 2 0xa1 sig-a applied 0xp0", "#2 of 2 0xa2 sig-b failed ERROR:DMH-002:SIGNATURE_INVALID",
		h + " (batch #2 of 2)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("app output lacks %q:\n%s", want, out.String())
		}
	}
}
