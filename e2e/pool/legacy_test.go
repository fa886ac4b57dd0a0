package pool

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestLegacyKeyEntriesAreConfirmed: the old processor (key 0, consumer
// "depeg-backend-processor-consumer") read 20 entries and its transactions
// created every application, but it never acknowledged them; for half of
// them it never wrote transactionHash either. The new pool signs with keys
// 1-2 and names key 0 as legacy: it claims the old consumer's idle entries
// and confirms each on the old transaction (adopted by its hash, or as
// SIGNATURE_USED by a wallet of the pool), dead-letters none and sends
// nothing (issue 18).
func TestLegacyKeyEntriesAreConfirmed(t *testing.T) {
	const n = 20
	ctx := t.Context()
	bin := processor.Path(t)
	dc, wallets := startChain(t, 3, 250*time.Millisecond)
	srv := redistest.Start(t)
	rdb := srv.Client()

	oldKey, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	old := chain.NewSigner(oldKey, dc.ChainID)
	product := chain.NewProduct(dc.Product)
	q := stream.NewQueue(rdb, stream.Keys{Stream: streamKey, Group: groupName, Consumer: "depeg-backend-processor-consumer",
		DeadLetter: deadLetters})
	if err := q.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	sids := make([][32]byte, n)
	var last *types.Transaction
	for i := range n {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		sids[i], _ = frontend.SignatureIDToBytes32(app.SignatureID)
		id := frontend.NewEntityID()
		if _, err := frontend.Enqueue(ctx, rdb, streamKey, id, frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.ReadNew(ctx, 1, time.Millisecond); err != nil { // read by the old processor
			t.Fatal(err)
		}
		call, err := product.Apply(chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
			ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
			SignatureID: sids[i], Signature: app.Signature})
		if err != nil {
			t.Fatal(err)
		}
		head, err := dc.Client.HeaderByNumber(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tip := big.NewInt(2_000_000)
		tx, err := old.Sign(call, uint64(i), 1_000_000,
			chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(3)), tip), TipCap: tip})
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.Client.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := rdb.HSet(ctx, stream.ApplicationKey(id), stream.FieldTransactionHash, tx.Hash().Hex()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		last = tx
	}
	eventually(t, 30*time.Second, "the old processor's transactions mined", func() bool {
		r, err := dc.Client.TransactionReceipt(ctx, last.Hash())
		return err == nil && r != nil
	})

	startProcess(t, bin, srv, dc, "pool", "1-2", "LEGACY_PROCESSOR_ADDRESSES="+wallets[0].Hex(), "REDIS_QUEUE_CLAIM_IDLE=4000")
	eventually(t, 90*time.Second, "every entry of the old processor acknowledged", func() bool {
		pend, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil && err != redis.Nil {
			return false
		}
		return pend.Count == 0
	})
	if c, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || c != 0 {
		msgs, _ := rdb.XRange(ctx, deadLetters, "-", "+").Result()
		t.Fatalf("%d dead letters (%v): %v", c, err, msgs)
	}
	for i, sid := range sids {
		if c, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || c != 1 {
			t.Fatalf("application %d created %d times (%v), want once", i, c, err)
		}
	}
	for _, w := range wallets[1:] {
		if c, err := dc.Client.NonceAt(ctx, w, nil); err != nil || c != 0 {
			t.Fatalf("key %s sent %d transactions (%v): the pool must only confirm the old ones", w.Hex(), c, err)
		}
	}
}
