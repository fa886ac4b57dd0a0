package intake

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/stream"
)

func argsOf(t *testing.T, a *frontend.Application) chain.ApplicationArgs {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(a.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
		ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleID: a.BundleID, SignatureID: sid, Signature: a.Signature}
}

func TestBatchPosition(t *testing.T) {
	var apps []chain.ApplicationArgs
	var sigs [][]byte
	for range 3 {
		a, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, argsOf(t, a))
		sigs = append(sigs, a.Signature)
	}
	data := batch.Call(common.Address{2}, apps, []uint64{1, 2, 3}).Data
	single, err := chain.NewProduct(common.Address{3}).Apply(apps[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data, sig []byte
		index     int
		size      int
		ok        bool
	}{
		{"first", data, sigs[0], 0, 3, true},
		{"last", data, sigs[2], 2, 3, true},
		{"not in the batch", data, []byte{1, 2, 3}, 0, 0, false},
		{"a single application's call", single.Data, sigs[0], 0, 0, false},
		{"no calldata", nil, sigs[0], 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, n, ok := batchPosition(tt.data, tt.sig)
			if i != tt.index || n != tt.size || ok != tt.ok {
				t.Fatalf("batchPosition = %d, %d, %v; want %d, %d, %v", i, n, ok, tt.index, tt.size, tt.ok)
			}
		})
	}
}

// TestStatusOfSubmittedBatch: an application whose transactionHash is a
// batch transaction on the chain is told submitted with its place in the
// batch (batchIndex, batchSize), once BATCH_CONTRACT_ADDRESS is set; without
// it the status is as before.
func TestStatusOfSubmittedBatch(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}, Batch: true}, 0)
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	r := newTestRedis(t)
	ctx := t.Context()
	var apps []chain.ApplicationArgs
	var ids []string
	for range 2 {
		a, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		id := frontend.NewEntityID()
		if _, err := frontend.Enqueue(ctx, r.rdb, "application:signatures", id, frontend.Fields(a)); err != nil {
			t.Fatal(err)
		}
		apps, ids = append(apps, argsOf(t, a)), append(ids, id)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := chain.NewSigner(key, dc.ChainID).Sign(batch.Call(dc.Batch, apps, []uint64{500_000, 500_000}), 0, 2_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := r.rdb.HSet(ctx, stream.ApplicationKey(id), stream.FieldTransactionHash, tx.Hash().Hex()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	on := New(Config{BatchContract: dc.Batch, RPCTimeout: 5 * time.Second}, zerolog.Nop(), client, r.pub, r.status, r.queue, nil)
	off := New(Config{RPCTimeout: 5 * time.Second}, zerolog.Nop(), client, r.pub, r.status, r.queue, nil)

	// In the node's pool: its place is known before it is mined.
	st, err := on.Status(ctx, ids[1])
	if err != nil || st.Status != stream.StateSubmitted || st.BatchIndex == nil || *st.BatchIndex != 1 || st.BatchSize != 2 {
		t.Fatalf("status of the second application before mining = %+v (%v), want submitted, batchIndex 1, batchSize 2", st, err)
	}
	dc.Commit()
	poll.Until(t, 10*time.Second, "batch mined", func() bool {
		st, err = on.Status(ctx, ids[0])
		return err == nil && st.Confirmations != nil && *st.Confirmations == 1
	})
	if st.BatchIndex == nil || *st.BatchIndex != 0 || st.BatchSize != 2 || st.TransactionHash != tx.Hash().Hex() {
		t.Fatalf("status of the first application once mined = %+v, want batchIndex 0, batchSize 2 in %s", st, tx.Hash().Hex())
	}
	if st, err := off.Status(ctx, ids[0]); err != nil || st.BatchIndex != nil || st.BatchSize != 0 {
		t.Fatalf("status without BATCH_CONTRACT_ADDRESS = %+v (%v), want no batch place", st, err)
	}
}
