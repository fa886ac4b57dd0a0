package pool

import (
	"testing"
	"time"
)

func TestDecideOrphan(t *testing.T) {
	p := orphanPolicy{Confirmations: 3, HandOnAfter: 10 * time.Minute}
	tests := []struct {
		name     string
		o        orphanObs
		want     orphanAction
		wantLost uint64
	}{
		{"1 success exactly deep", orphanObs{Mined: true, Success: true, Block: 100, Head: 102, Nonce: 5, MinedNonce: 6}, orphanSettle, 0},
		{"3 success one block short", orphanObs{Mined: true, Success: true, Block: 100, Head: 101, Nonce: 5, MinedNonce: 6}, orphanWait, 0},
		{"2 failed deep", orphanObs{Mined: true, Block: 100, Head: 110, Nonce: 5, MinedNonce: 6}, orphanHandOn, 0},
		{"3 failed not deep", orphanObs{Mined: true, Block: 100, Head: 100, Nonce: 5, MinedNonce: 6}, orphanWait, 0},
		{"2 failed exactly deep", orphanObs{Mined: true, Block: 100, Head: 102, Nonce: 5, MinedNonce: 6}, orphanHandOn, 0},
		{"3 failed one block short", orphanObs{Mined: true, Block: 100, Head: 101, Nonce: 5, MinedNonce: 6}, orphanWait, 0},
		{"mined, orphaned long, still waits for depth", orphanObs{Mined: true, Success: true, Block: 100, Head: 100, Orphaned: time.Hour}, orphanWait, 0},
		{"4 nonce mined, no receipt, first pass", orphanObs{Head: 50, Nonce: 5, MinedNonce: 6}, orphanWait, 50},
		{"4 nonce mined, no receipt, same block", orphanObs{Head: 50, Nonce: 5, MinedNonce: 6, LostSince: 50}, orphanWait, 50},
		{"5 nonce mined, no receipt, later block", orphanObs{Head: 51, Nonce: 5, MinedNonce: 6, LostSince: 50}, orphanHandOn, 50},
		{"6 unmined, orphaned exactly HandOnAfter", orphanObs{Head: 51, Nonce: 6, MinedNonce: 6, Orphaned: 10 * time.Minute}, orphanHandOn, 0},
		{"7 unmined, orphaned less", orphanObs{Head: 51, Nonce: 6, MinedNonce: 6, Orphaned: 10*time.Minute - time.Millisecond}, orphanWait, 0},
		{"7 unmined, above mined nonce", orphanObs{Head: 51, Nonce: 9, MinedNonce: 6}, orphanWait, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lost := decideOrphan(p, tt.o)
			if got != tt.want || lost != tt.wantLost {
				t.Fatalf("decideOrphan = %v, lost %d; want %v, lost %d", got, lost, tt.want, tt.wantLost)
			}
		})
	}
}

func TestDecideOrphanOneConfirmation(t *testing.T) {
	// With 1 confirmation (or 0, read as 1) the including block is enough.
	for _, c := range []uint64{0, 1} {
		got, _ := decideOrphan(orphanPolicy{Confirmations: c}, orphanObs{Mined: true, Success: true, Block: 7, Head: 7})
		if got != orphanSettle {
			t.Fatalf("confirmations %d: %v, want settle", c, got)
		}
		// A receipt in a block the head has not reached (a node behind
		// the one that answered the receipt) is not yet one confirmation.
		if got, _ := decideOrphan(orphanPolicy{Confirmations: c}, orphanObs{Mined: true, Success: true, Block: 8, Head: 7}); got != orphanWait {
			t.Fatalf("confirmations %d, receipt in block 8 at head 7: %v, want wait", c, got)
		}
	}
}
