package pool

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/stream"
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

func TestDecideApps(t *testing.T) {
	h := func(b byte) common.Hash { return common.Hash{b} }
	a := func(n string) stream.RecordApp { return stream.RecordApp{EntryID: n + "-0", EntityID: n} }
	single := stream.TxRecord{EntryID: "s-0", EntityID: "s"}
	gap := stream.TxRecord{Kind: stream.KindGapFill}
	three := stream.TxRecord{Kind: stream.KindBatch, Batch: []stream.RecordApp{a("x"), a("y"), a("z")}}
	sigs3 := []common.Hash{h(1), h(2), h(3)}
	pid := h(0xaa)
	applied := func(i uint64, p byte) batch.Outcome { return batch.Outcome{Index: i, Applied: true, ProcessID: h(p)} }
	type fate struct {
		entity  string
		sig     common.Hash
		confirm bool
		pid     common.Hash
	}
	tests := []struct {
		name     string
		act      orphanAction
		rec      stream.TxRecord
		sigs     []common.Hash
		outcomes map[common.Hash]batch.Outcome
		want     []fate
	}{
		{"1 wait decides nothing", orphanWait, three, sigs3, nil, nil},
		{"2 single handed on", orphanHandOn, single, []common.Hash{h(9)}, nil, []fate{{"s", h(9), false, common.Hash{}}}},
		{"2 batch handed on, every application", orphanHandOn, three, sigs3, nil,
			[]fate{{"x", h(1), false, common.Hash{}}, {"y", h(2), false, common.Hash{}}, {"z", h(3), false, common.Hash{}}}},
		{"3 single settled", orphanSettle, single, []common.Hash{h(9)}, nil, []fate{{"s", h(9), true, pid}}},
		{"3 single settled, signature unreadable", orphanSettle, single, nil, nil, []fate{{"s", common.Hash{}, true, pid}}},
		{"gap fill carries none", orphanSettle, gap, nil, nil, []fate{}},
		{"4+5 applied, failed, missing", orphanSettle, three, sigs3,
			map[common.Hash]batch.Outcome{h(1): applied(0, 0xb1), h(2): {Index: 1, Reason: "ERROR:DMH-002:SIGNATURE_INVALID"}},
			[]fate{{"x", h(1), true, h(0xb1)}, {"y", h(2), false, common.Hash{}}, {"z", h(3), false, common.Hash{}}}},
		{"4 every one applied", orphanSettle, three, sigs3,
			map[common.Hash]batch.Outcome{h(1): applied(0, 0xb1), h(2): applied(1, 0xb2), h(3): applied(2, 0xb3)},
			[]fate{{"x", h(1), true, h(0xb1)}, {"y", h(2), true, h(0xb2)}, {"z", h(3), true, h(0xb3)}}},
		{"5 applied at another index", orphanSettle, three, sigs3,
			map[common.Hash]batch.Outcome{h(1): applied(2, 0xb1)},
			[]fate{{"x", h(1), false, common.Hash{}}, {"y", h(2), false, common.Hash{}}, {"z", h(3), false, common.Hash{}}}},
		{"5 calldata lists fewer than the record", orphanSettle, three, sigs3[:2],
			map[common.Hash]batch.Outcome{h(1): applied(0, 0xb1), h(2): applied(1, 0xb2)},
			[]fate{{"x", common.Hash{}, false, common.Hash{}}, {"y", common.Hash{}, false, common.Hash{}}, {"z", common.Hash{}, false, common.Hash{}}}},
		{"5 calldata unreadable", orphanSettle, three, nil,
			map[common.Hash]batch.Outcome{h(1): applied(0, 0xb1)},
			[]fate{{"x", common.Hash{}, false, common.Hash{}}, {"y", common.Hash{}, false, common.Hash{}}, {"z", common.Hash{}, false, common.Hash{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideApps(tt.act, tt.rec, tt.sigs, pid, tt.outcomes)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("decideApps = %+v, want nothing", got)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("decideApps = %+v, want %d fates", got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.App.EntityID != w.entity || g.App.EntryID != w.entity+"-0" || g.SigHash != w.sig || g.Confirm != w.confirm || g.ProcessID != w.pid {
					t.Errorf("fate %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
