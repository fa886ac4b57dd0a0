package relay

import (
	"testing"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

func TestBatchFate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       outcomeSeen
		want    fate
		requeue string
	}{
		{"no event for it: nothing learnt, try again", outcomeSeen{}, fateRequeue, stream.RequeueBatchFailed},
		{"applied", outcomeSeen{Found: true, Applied: true}, fateConfirmed, ""},
		{"out of its own gas limit", outcomeSeen{Found: true, OutOfGas: true}, fateCounted, stream.RequeueOutOfGas},
		{"product paused", outcomeSeen{Found: true, Class: chain.RevertProductInactive}, fateCounted, stream.RequeueProductInactive},
		{"signature used: looked up in the queue", outcomeSeen{Found: true, Class: chain.RevertSignatureUsed}, fateRequeue, stream.RequeueSignatureUsed},
		{"invalid signature is final", outcomeSeen{Found: true, Class: chain.RevertSignature}, fateDeadLetter, ""},
		{"unknown revert is final", outcomeSeen{Found: true, Class: chain.RevertUnknown}, fateDeadLetter, ""},
		{"unknown revert that passes when replayed without a limit: counted", outcomeSeen{Found: true, Class: chain.RevertUnknown, Replayed: true}, fateCounted, stream.RequeuePassesNow},
		{"a known final revert stays final, replayed or not", outcomeSeen{Found: true, Class: chain.RevertFunds, Replayed: true}, fateDeadLetter, ""},
	} {
		f, rq := batchFate(tc.o)
		if f != tc.want || rq != tc.requeue {
			t.Errorf("%s: batchFate(%+v) = %d %q, want %d %q", tc.name, tc.o, f, rq, tc.want, tc.requeue)
		}
	}
}

func TestCountedFate(t *testing.T) {
	for _, tc := range []struct {
		count, max int64
		want       fate
	}{
		{1, 3, fateRequeue},
		{3, 3, fateRequeue},
		{4, 3, fateDeadLetter},
		{1, 0, fateDeadLetter},
	} {
		if got := countedFate(tc.count, tc.max); got != tc.want {
			t.Errorf("countedFate(%d, %d) = %d, want %d", tc.count, tc.max, got, tc.want)
		}
	}
}

// TestBatchingReadsAndSeedsInTransactions: the node window counts
// transactions. With batching a pass reads perTx entries per free slot, at
// most MAX_IN_FLIGHT (or one batch), and the window is seeded with two
// blocks of batches, not of applications.
func TestBatchingReadsAndSeedsInTransactions(t *testing.T) {
	batching := &Batching{MaxApplications: 16, GasBudget: 8_000_000}
	for _, tc := range []struct {
		name      string
		batch     *Batching
		free      int
		wantRead  int
		wantLimit uint64
	}{
		{"one per transaction", nil, 10, 10, 240},
		{"one per transaction, capped at MAX_IN_FLIGHT", nil, 600, 512, 240},
		{"batches of 16", batching, 10, 160, 16},
		{"batches of 16, capped at MAX_IN_FLIGHT", batching, 100, 512, 16},
	} {
		co := &core{cfg: Config{MaxInFlight: 512, Batch: tc.batch}, w: newWindow(512)}
		if got := co.readCount(tc.free); got != tc.wantRead {
			t.Errorf("%s: readCount(%d) = %d, want %d", tc.name, tc.free, got, tc.wantRead)
		}
		s := &submitter{core: co, blockGas: 30_000_000, head: 7}
		s.seedNodeWindow(250_000)
		if _, limit := co.w.nodeWindowNow(); limit != tc.wantLimit {
			t.Errorf("%s: seeded window %d, want %d", tc.name, limit, tc.wantLimit)
		}
	}
}
