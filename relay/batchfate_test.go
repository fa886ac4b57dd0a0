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
