package bench

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// signedArgs returns n applications signed for helper, as the relay packs
// them.
func signedArgs(t *testing.T, chainID *big.Int, helper common.Address, n int) []chain.ApplicationArgs {
	t.Helper()
	out := make([]chain.ApplicationArgs, n)
	for i := range out {
		a, err := frontend.NewSigned(chainID, helper, bundleID)
		if err != nil {
			t.Fatal(err)
		}
		sid, err := frontend.SignatureIDToBytes32(a.SignatureID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet, ProtectedBalance: a.ProtectedBalance,
			Duration: a.Duration, BundleID: a.BundleID, SignatureID: sid, Signature: a.Signature}
	}
	return out
}

func TestCarried(t *testing.T) {
	apps := signedArgs(t, big.NewInt(devchain.ChainID), common.HexToAddress("0x01"), 3)
	single, err := chain.NewProduct(common.Address{}).Apply(apps[0])
	if err != nil {
		t.Fatal(err)
	}
	batched := batch.Call(common.Address{}, apps, []uint64{1, 2, 3})
	for _, c := range []struct {
		name string
		data []byte
		want []chain.ApplicationArgs
	}{
		{"product call", single.Data, apps[:1]},
		{"batch of three", batched.Data, apps},
		{"something else", []byte{0xde, 0xad, 0xbe, 0xef, 0}, nil},
		{"nothing", nil, nil},
	} {
		got := carried(c.data)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d applications, want %d", c.name, len(got), len(c.want))
			continue
		}
		for i, a := range c.want {
			if got[i] != crypto.Keccak256Hash(a.Signature) {
				t.Errorf("%s: application %d is %s, want its signature's hash", c.name, i, got[i])
			}
		}
	}
}

// TestObserverCountsABatchSendForEachApplication: a batch broadcast is a
// first send of each application it carries, one broadcast in all; a
// transaction carrying none of ours is foreign.
func TestObserverCountsABatchSendForEachApplication(t *testing.T) {
	apps := signedArgs(t, big.NewInt(devchain.ChainID), common.HexToAddress("0x01"), 3)
	obs := &observer{bySig: map[common.Hash]int{}, byEntity: map[string]int{}}
	for i, a := range apps[:2] {
		obs.apps = append(obs.apps, &appState{sigHash: crypto.Keccak256Hash(a.Signature), hashes: map[common.Hash]bool{}})
		obs.bySig[obs.apps[i].sigHash] = i
	}
	tx := func(data []byte) *types.Transaction {
		return types.NewTx(&types.DynamicFeeTx{Data: data, Gas: 1})
	}
	at := time.Now()
	batched := tx(batch.Call(common.Address{}, apps, []uint64{1, 1, 1}).Data) // the third is not the harness's
	obs.onSend(RawTxSent{At: at, Tx: batched})
	obs.onSend(RawTxSent{At: at.Add(time.Second), Tx: tx([]byte{1, 2, 3, 4})})
	sent, _, sends := obs.progress()
	if sent != 2 || sends != 2 || obs.foreignSends != 1 {
		t.Fatalf("sent %d, sends %d, foreign %d; want 2, 2, 1", sent, sends, obs.foreignSends)
	}
	for i, a := range obs.apps {
		if !a.firstSent.Equal(at) || a.sends != 1 || !a.hashes[batched.Hash()] {
			t.Errorf("application %d: first sent %v, %d sends, hashes %v", i, a.firstSent, a.sends, a.hashes)
		}
	}
}

// TestReadBlocksCountsBatches: on a devchain with the batch contract, a
// block holding a batch of three and a lone application counts four
// applications in two transactions, the gas of both receipts, the batch's
// gas limit as the largest with its three applications, and marks each
// application included.
func TestReadBlocksCountsBatches(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dc := devchaintest.Start(t, devchain.Options{Batch: true, Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}}, 0)
	apps := signedArgs(t, dc.ChainID, dc.Helper, 4)
	obs := &observer{bySig: map[common.Hash]int{}, byEntity: map[string]int{}}
	for i, a := range apps {
		obs.apps = append(obs.apps, &appState{sigHash: crypto.Keccak256Hash(a.Signature), hashes: map[common.Hash]bool{}})
		obs.bySig[obs.apps[i].sigHash] = i
	}
	limits := []uint64{500_000, 500_000, 500_000}
	batched := batch.Call(dc.Batch, apps[:3], limits)
	single, err := chain.NewProduct(dc.Product).Apply(apps[3])
	if err != nil {
		t.Fatal(err)
	}
	head, err := dc.Client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(1_000_000_000) // above the node's minimum tip
	fees := chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip}
	signer := chain.NewSigner(key, dc.ChainID)
	var txs []*types.Transaction
	for i, c := range []struct {
		call chain.Call
		gas  uint64
	}{{batched, batch.GasFor(limits, len(batched.Data))}, {single, 1_000_000}} {
		tx, err := signer.Sign(c.call, uint64(i), c.gas, fees)
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.Client.SendTransaction(t.Context(), tx); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	t0 := time.Now()
	h := dc.Commit()
	var gas uint64
	for _, tx := range txs {
		var r *types.Receipt
		poll.Until(t, 10*time.Second, "receipt", func() bool {
			r, err = dc.Client.TransactionReceipt(t.Context(), tx.Hash())
			return err == nil
		})
		if r.Status != types.ReceiptStatusSuccessful || r.BlockHash != h {
			t.Fatalf("transaction %s: status %d in %s, want success in %s", tx.Hash(), r.Status, r.BlockHash, h)
		}
		gas += r.GasUsed
	}
	blocks, err := readBlocks(t.Context(), dc, obs, []seal{{At: t0.Add(time.Millisecond), Hash: h}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(blocks))
	}
	b := blocks[0]
	if b.Ours != 4 || b.Txs != 2 || b.OurGas != gas || b.maxTxGas != txs[0].Gas() || b.maxTxApps != 3 {
		t.Fatalf("block %+v (max tx gas %d with %d); want 4 applications in 2 transactions using %d, largest %d with 3",
			b, b.maxTxGas, b.maxTxApps, gas, txs[0].Gas())
	}
	for i, a := range obs.apps {
		if a.minedBlock != b.Number {
			t.Errorf("application %d included in block %d, want %d", i, a.minedBlock, b.Number)
		}
	}
}

// TestSummariseBatchedBlocks: capacity counts the applications the largest
// transaction carries besides the gas left beside its limit, and the
// summary gives applications per transaction and gas per application from
// the receipts.
func TestSummariseBatchedBlocks(t *testing.T) {
	const perApp, txLimit = 240_000, 5_400_000
	full := BlockInfo{Ours: 128, Txs: 8, OurGas: 128 * perApp, GasUsed: 128 * perApp, GasLimit: 30_000_000, maxTxGas: txLimit, maxTxApps: 16}
	blocks := []BlockInfo{{GasLimit: 30_000_000}, full, full, {Ours: 96, Txs: 6, OurGas: 96 * perApp, GasLimit: 30_000_000, maxTxGas: txLimit, maxTxApps: 16},
		{Ours: 2, Txs: 1, OurGas: 2 * perApp, GasLimit: 30_000_000, maxTxGas: 1_000_000, maxTxApps: 2}}
	s := summariseBlocks(blocks, 30_000_000)
	wantCap := 16 + (30_000_000-txLimit)/perApp // 118
	if s.Capacity != wantCap || s.GasPerApp != perApp || s.Transactions != 23 || s.TxGasLimitApps != 16 || s.Blocks != 3 || s.AtLeast90 != 2 {
		t.Fatalf("summary %+v, want capacity %d", s, wantCap)
	}
	if want := 354.0 / 23; s.AppsPerTx != want {
		t.Fatalf("%.3f applications per transaction, want %.3f", s.AppsPerTx, want)
	}
}

func TestBatchOption(t *testing.T) {
	for _, c := range []struct {
		batch int
		ok    bool
	}{{0, true}, {2, true}, {16, true}, {1, false}, {-1, false}} {
		o := Options{Batch: c.batch}
		if err := o.defaults(); (err == nil) != c.ok {
			t.Errorf("batch %d: %v, want ok %v", c.batch, err, c.ok)
		}
	}
	if env := batchEnv(0, common.HexToAddress("0x01")); env != nil {
		t.Errorf("batching off: %v, want nothing", env)
	}
	addr := common.HexToAddress("0x00000000000000000000000000000000000000Ba")
	env := batchEnv(16, addr)
	if strings.Join(env, " ") != "BATCH_CONTRACT_ADDRESS="+addr.Hex()+" BATCH_MAX_APPLICATIONS=16" {
		t.Errorf("batching 16: %v", env)
	}
}

func TestCarriage(t *testing.T) {
	r := &Report{Blocks: BlockSummary{Transactions: 5, AppsPerTx: 12.8, GasPerApp: 243_000}}
	if got := r.carriage(); got != "5 of ours mined: 12.80 applications per transaction, 243000 gas per application (receipts)" {
		t.Errorf("without metrics: %q", got)
	}
	r.Metrics = map[string]float64{appsPerTxSum: 64, appsPerTxCount: 5, gasPerAppSum: 5 * 243_100, gasPerAppCount: 5}
	if got := r.carriage(); !strings.HasSuffix(got, "; processor metrics: 12.80 per transaction, 243100 gas per application") {
		t.Errorf("with metrics: %q", got)
	}
	r.Metrics[appsPerTxCount] = 0
	if _, ok := metricMean(r.Metrics, appsPerTxSum, appsPerTxCount); ok {
		t.Error("a histogram that observed nothing has a mean")
	}
}
