package chain

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestProcessIDAsTheBinding: ProcessID reads the processId wherever the
// binding's unpacking of LogDepegApplicationCreated would (and the same
// one), and nothing where it fails: another address or topic, no topic,
// data of every length around the event's six words.
func TestProcessIDAsTheBinding(t *testing.T) {
	p := NewProduct(common.HexToAddress("0xD82ECD693B6223a5A6fFA82536CB47D01C6EeA3e"))
	other := common.HexToAddress("0x00000000000000000000000000000000000000f1")
	var logs []*types.Log
	for _, addr := range []common.Address{p.Address, other} {
		for _, topics := range [][]common.Hash{nil, {crypto.Keccak256Hash([]byte("other"))}, {p.created}, {p.created, {7}}} {
			for _, n := range []int{0, 1, 31, 32, 160, 191, 192, 193, 224, 256} {
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(i + 1)
				}
				logs = append(logs, &types.Log{Address: addr, Topics: topics, Data: data})
			}
		}
	}
	for _, l := range logs {
		var want common.Hash
		wantOK := false
		if l.Address == p.Address {
			if ev, err := p.binding.UnpackLogDepegApplicationCreatedEvent(l); err == nil {
				want, wantOK = ev.ProcessId, true
			}
		}
		got, ok := p.ProcessID(&types.Receipt{Logs: []*types.Log{l}})
		if got != want || ok != wantOK {
			t.Errorf("log at %s, topics %v, %d bytes: %s %v, the binding's %s %v", l.Address, l.Topics, len(l.Data), got, ok, want, wantOK)
		}
	}
	// The first log that has one counts.
	first := &types.Log{Address: p.Address, Topics: []common.Hash{p.created}, Data: make([]byte, 192)}
	first.Data[31] = 1
	second := &types.Log{Address: p.Address, Topics: []common.Hash{p.created}, Data: make([]byte, 192)}
	second.Data[31] = 2
	if got, ok := p.ProcessID(&types.Receipt{Logs: []*types.Log{logs[0], first, second}}); !ok || got != (common.Hash{31: 1}) {
		t.Errorf("several events: %s %v", got, ok)
	}
}

// BenchmarkProcessID reads the processId of a confirmed application's
// receipt (the event last of three logs).
func BenchmarkProcessID(b *testing.B) {
	p := NewProduct(common.HexToAddress("0xD82ECD693B6223a5A6fFA82536CB47D01C6EeA3e"))
	r := sampleReceipt(2)
	r.Logs = append(r.Logs, &types.Log{Address: p.Address, Topics: []common.Hash{p.created}, Data: make([]byte, 192)})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.ProcessID(r); !ok {
			b.Fatal("no processId")
		}
	}
}
