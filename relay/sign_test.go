package relay

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
)

// TestSignBatchConcurrently: a batch is signed several signatures at a time
// (a KMS signature takes tens of milliseconds), at most signConcurrency, and
// the transactions come back at consecutive nonces in the batch's order.
// Each remote signature waits until a second one is under way (or a
// generous deadline passes), so signing one after the other shows as a
// concurrency of 1.
func TestSignBatchConcurrently(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inside, most := 0, 0
	second := make(chan struct{})
	var once sync.Once
	rs := chain.NewRemoteSigner(crypto.PubkeyToAddress(key.PublicKey), big.NewInt(1337), func(_ context.Context, d []byte) ([]byte, error) {
		mu.Lock()
		inside++
		most = max(most, inside)
		if inside >= 2 {
			once.Do(func() { close(second) })
		}
		mu.Unlock()
		select {
		case <-second:
		case <-time.After(time.Second):
		}
		mu.Lock()
		inside--
		mu.Unlock()
		return crypto.Sign(d, key)
	})
	s := &submitter{core: &core{signer: rs}}
	to := common.HexToAddress("0x00000000000000000000000000000000000000c0")
	ready := make([]txPlan, 20)
	for i := range ready {
		ready[i] = txPlan{call: chain.Call{To: to, Data: []byte{byte(i)}}, gas: 50_000}
	}
	txs, err := s.signAll(ready, 7, chain.Fees{FeeCap: big.NewInt(3e9), TipCap: big.NewInt(1e9)})
	if err != nil {
		t.Fatal(err)
	}
	for i, tx := range txs {
		if tx.Nonce() != 7+uint64(i) || tx.Data()[0] != byte(i) {
			t.Fatalf("transaction %d: nonce %d data %x, want nonce %d data %02x", i, tx.Nonce(), tx.Data(), 7+i, i)
		}
	}
	if most < 2 || most > signConcurrency {
		t.Fatalf("at most %d signatures at once, want 2..%d", most, signConcurrency)
	}
	t.Logf("at most %d signatures at once", most)
}
