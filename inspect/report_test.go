package inspect

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

func u64(n uint64) *uint64 { return &n }

func TestLeaseText(t *testing.T) {
	tests := []struct {
		token     string
		journaled int
		want      string
	}{
		{"relay-a/42/0123abcd", 0, "held by relay-a/42"},
		{"relay-a/42/0123abcd", 3, "held by relay-a/42"},
		{"", 0, "not held"},
		{lease.Released, 0, "not held"},
		{"", 2, "not held, 2 in its journal (orphaned: the pool finishes them)"},
		{lease.Released, 1, "not held, 1 in its journal (orphaned: the pool finishes them)"},
	}
	for _, tt := range tests {
		if got := LeaseText(tt.token, tt.journaled); got != tt.want {
			t.Errorf("LeaseText(%q, %d) = %q, want %q", tt.token, tt.journaled, got, tt.want)
		}
	}
}

func TestRunwayAndWindowText(t *testing.T) {
	if got := RunwayText(monitor.KeyReport{}); got != "unknown" {
		t.Errorf("RunwayText(none) = %q", got)
	}
	if got := RunwayText(monitor.KeyReport{Runway: "31.0 hours"}); got != "31.0 hours" {
		t.Errorf("RunwayText = %q", got)
	}
	if got := WindowText(monitor.KeyReport{NodeHeld: u64(3)}); got != "unknown" {
		t.Errorf("WindowText(half) = %q", got)
	}
	if got := WindowText(monitor.KeyReport{NodeHeld: u64(3), NodeWindow: u64(16)}); got != "node holds 3 of 16" {
		t.Errorf("WindowText = %q", got)
	}
}

func TestNewKeyStatus(t *testing.T) {
	w := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	flights := []Flight{
		{Field: "1", Record: stream.TxRecord{Nonce: 1, EntryID: "1-0", EntityID: "A"}},
		{Field: "2", Record: stream.TxRecord{Nonce: 2, Kind: stream.KindBatch, Batch: []stream.RecordApp{{EntityID: "B"}, {EntityID: "C"}, {EntityID: "D"}}}},
		{Field: "3", Record: stream.TxRecord{Nonce: 3, Kind: stream.KindGapFill}},
		{Field: "x", Unreadable: "not a journal record"},
	}
	live := monitor.KeyReport{Runway: "5.0 hours", NodeHeld: u64(2), NodeWindow: u64(16)}
	tests := []struct {
		name string
		obs  KeyObs
		want KeyStatus
	}{
		{"nothing answered", KeyObs{Wallet: w},
			KeyStatus{Wallet: w.Hex(), Runway: NotReported, NodeWindow: NotReported, Lease: "not held"}},
		{"journal, lease, node and live report", KeyObs{Wallet: w, Flights: flights, LeaseToken: "relay-a/42/ab",
			Balance: big.NewInt(1_500_000_000_000_000_000), Mined: u64(1), Pending: u64(4), Live: &live},
			KeyStatus{Wallet: w.Hex(), BalanceEth: "1.5", Runway: "5.0 hours", NodeWindow: "node holds 2 of 16", Lease: "held by relay-a/42",
				InFlight: 3, InFlightApplications: 4, MinedNonce: u64(1), PendingNonce: u64(4)}},
		{"orphaned: every record counted for the lease", KeyObs{Wallet: w, Flights: flights},
			KeyStatus{Wallet: w.Hex(), Runway: NotReported, NodeWindow: NotReported,
				Lease: "not held, 4 in its journal (orphaned: the pool finishes them)", InFlight: 3, InFlightApplications: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewKeyStatus(tt.obs)
			if got.Wallet != tt.want.Wallet || got.BalanceEth != tt.want.BalanceEth || got.Runway != tt.want.Runway ||
				got.NodeWindow != tt.want.NodeWindow || got.Lease != tt.want.Lease || got.InFlight != tt.want.InFlight ||
				got.InFlightApplications != tt.want.InFlightApplications ||
				!equalPtr(got.MinedNonce, tt.want.MinedNonce) || !equalPtr(got.PendingNonce, tt.want.PendingNonce) {
				t.Fatalf("NewKeyStatus = %+v, want %+v", got, tt.want)
			}
		})
	}
	if n := SumInFlight([]KeyStatus{{InFlight: 2}, {InFlight: 5}}); n != 7 {
		t.Fatalf("SumInFlight = %d, want 7", n)
	}
}

func equalPtr(a, b *uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func TestDescribeFlight(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	first, second := common.Hash{0x01}, common.Hash{0x02}
	rec := stream.TxRecord{Nonce: 5, EntryID: "1-0", EntityID: "A", Hashes: []string{first.Hex(), second.Hex()},
		Current: second.Hex(), SignedAt: now.Add(-90 * time.Second)}
	fl := Flight{Field: "5", Record: rec}
	batch := Flight{Field: "6", Record: stream.TxRecord{Nonce: 6, Kind: stream.KindBatch, Hashes: []string{first.Hex()},
		Batch: []stream.RecordApp{{EntryID: "2-0", EntityID: "B"}, {EntryID: "3-0", EntityID: "C"}}}}
	ok := &types.Receipt{Status: types.ReceiptStatusSuccessful, BlockNumber: big.NewInt(40)}
	failed := &types.Receipt{Status: types.ReceiptStatusFailed, BlockNumber: big.NewInt(41)}
	tests := []struct {
		name           string
		f              Flight
		receipts       map[common.Hash]*types.Receipt
		mined, pending *uint64
		wantNode       string
		wantApps       int
	}{
		{"current hash mined", fl, map[common.Hash]*types.Receipt{second: ok}, u64(6), u64(6), "mined in block 40 (succeeded)", 0},
		{"earlier hash mined, reverted", fl, map[common.Hash]*types.Receipt{first: failed}, u64(6), u64(6),
			"mined in block 41 (reverted) as " + first.Hex(), 0},
		{"nonce used by another", fl, nil, u64(6), u64(6), "nonce used, none of its hashes mined", 0},
		{"in the node's pool", fl, nil, u64(5), u64(6), "in the node's pool", 0},
		{"not in the node's pool", fl, nil, u64(5), u64(5), "not in the node's pool", 0},
		{"node did not answer", fl, nil, nil, nil, "unknown (node did not answer)", 0},
		{"unreadable", Flight{Field: "x", Unreadable: "not a journal record"}, nil, u64(5), u64(5), "unreadable", 0},
		{"batch lists its applications", batch, nil, u64(5), u64(7), "in the node's pool", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DescribeFlight("0xw", tt.f, now, tt.receipts, tt.mined, tt.pending)
			if l.Node != tt.wantNode || len(l.Applications) != tt.wantApps || l.Wallet != "0xw" || l.Nonce != tt.f.Field {
				t.Fatalf("DescribeFlight = %+v, want node %q and %d applications", l, tt.wantNode, tt.wantApps)
			}
		})
	}
	l := DescribeFlight("0xw", fl, now, nil, u64(5), u64(6))
	if l.Current != second.Hex() || len(l.Hashes) != 2 || l.Hashes[1] != first.Hex() || l.AgeSeconds == nil || *l.AgeSeconds != 90 ||
		l.EntityID != "A" || l.EntryID != "1-0" || l.SignedAt != "2026-12-07T05:58:30Z" {
		t.Fatalf("DescribeFlight(single) = %+v", l)
	}
	b := DescribeFlight("0xw", batch, now, nil, nil, nil)
	if b.Kind != stream.KindBatch || b.Applications[1] != (FlightApp{EntityID: "C", EntryID: "3-0"}) || b.EntityID != "" {
		t.Fatalf("DescribeFlight(batch) = %+v", b)
	}
}
