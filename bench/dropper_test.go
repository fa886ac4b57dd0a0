package bench

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
)

// TestDropperDropsPastTheLimit: behind a proxy that plays a node keeping 2
// pending transactions per sender, five sends (one single call, one batch
// of four) are all answered as taken, and the node holds only the first
// two: the rest were dropped without a word, as hosted providers do.
func TestDropperDropsPastTheLimit(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{from}}, 0)
	p, err := StartRPCProxy(dc.URL, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.DropSendsBeyond(2)
	c, err := ethclient.Dial(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	signer := types.LatestSignerForChainID(dc.ChainID)
	txs := make([]*types.Transaction, 5)
	for i := range txs {
		txs[i] = types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: dc.ChainID, Nonce: uint64(i), GasTipCap: big.NewInt(1e9),
			GasFeeCap: big.NewInt(1e11), Gas: 21_000, To: &from, Value: big.NewInt(0)})
	}
	if err := c.SendTransaction(ctx, txs[0]); err != nil {
		t.Fatalf("single send: %v", err)
	}
	elems := make([]rpc.BatchElem, 4)
	for i := range elems {
		raw, _ := txs[i+1].MarshalBinary()
		elems[i] = rpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Encode(raw)}, Result: new(common.Hash)}
	}
	if err := c.Client().BatchCallContext(ctx, elems); err != nil {
		t.Fatalf("batch send: %v", err)
	}
	for i, b := range elems {
		if b.Error != nil || *b.Result.(*common.Hash) != txs[i+1].Hash() {
			t.Fatalf("send %d answered %v (%v), want taken", i+1, b.Error, b.Result)
		}
	}
	pending, err := dc.Client.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if pending != 2 || p.Dropped() != 3 {
		t.Fatalf("node's pending nonce %d, dropped %d; want 2 and 3", pending, p.Dropped())
	}
}
