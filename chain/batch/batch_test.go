package batch_test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// env is a chain with a funded key of the env's own, by default the
// devchain with its test product and a batch contract deployed for it.
type env struct {
	t testing.TB
	// dc is the devchain, nil on an osaka chain.
	dc       *devchain.Chain
	client   evmClient
	commit   func()
	chainID  *big.Int
	key      *ecdsa.PrivateKey
	signer   *chain.Signer
	contract common.Address
	nonce    uint64
}

// evmClient is what the env asks of a chain: the devchain's JSON-RPC
// client and the simulated backend's in-process one both serve it.
type evmClient interface {
	bind.ContractBackend
	bind.DeployBackend
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := startEnv(t)
	e.contract = e.deploy(common.FromHex(batch.DepegApplicationBatchMetaData.Bin), batch.NewDepegApplicationBatch().PackConstructor(e.dc.Product))
	return e
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// startEnv starts a devchain with a funded key of the env's own, and
// deploys nothing but the devchain's test product.
func startEnv(t testing.TB) *env {
	t.Helper()
	key := newKey(t)
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}}, 0)
	return &env{t: t, dc: dc, client: dc.Client, commit: func() { dc.Commit() }, chainID: dc.ChainID, key: key, signer: chain.NewSigner(key, dc.ChainID)}
}

// startOsakaEnv starts a simulated chain on mainnet's gas schedule (Osaka,
// as go-ethereum's mainnet chainspec has it), with a funded key of the
// env's own. The devchain runs go-ethereum's dev config, whose Bogota
// instruction set already prices state as EIP-8037 and EIP-8038 propose
// (97,920 gas for a new storage slot, storage and account access
// repriced), which mainnet does not; gas measured for a product that
// writes storage therefore differs between the two.
func startOsakaEnv(t testing.TB) *env {
	t.Helper()
	key := newKey(t)
	alloc := types.GenesisAlloc{crypto.PubkeyToAddress(key.PublicKey): {Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}}
	sim := simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) {
		cfg := *params.AllDevChainProtocolChanges
		cfg.AmsterdamTime, cfg.BogotaTime = nil, nil
		ec.Genesis.Config = &cfg
	})
	t.Cleanup(func() { sim.Close() })
	return &env{t: t, client: sim.Client(), commit: func() { sim.Commit() }, chainID: big.NewInt(devchain.ChainID), key: key,
		signer: chain.NewSigner(key, big.NewInt(devchain.ChainID))}
}

// deploy deploys code with its packed constructor arguments from the env's
// key and returns the contract's address.
func (e *env) deploy(code, args []byte) common.Address {
	e.t.Helper()
	opts := bind.NewKeyedTransactor(e.key, e.chainID)
	opts.Context = e.t.Context()
	addr, tx, err := bind.DeployContract(opts, code, e.client, args)
	if err != nil {
		e.t.Fatal(err)
	}
	e.nonce++
	if r := e.mine(tx); r.Status != types.ReceiptStatusSuccessful {
		e.t.Fatalf("deploy failed")
	}
	return addr
}

// mine seals a block and returns tx's receipt.
func (e *env) mine(tx *types.Transaction) *types.Receipt {
	e.t.Helper()
	e.commit()
	var r *types.Receipt
	poll.Until(e.t, 10*time.Second, "receipt", func() bool {
		var err error
		r, err = e.client.TransactionReceipt(context.Background(), tx.Hash())
		return err == nil
	})
	return r
}

// app is an application as the batch carries it.
func app(t *testing.T, a *frontend.Application, gasLimit uint64) batch.DepegApplicationBatchApplication {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(a.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return batch.DepegApplicationBatchApplication{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
		ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleId: a.BundleID, SignatureId: sid,
		Signature: a.Signature, GasLimit: new(big.Int).SetUint64(gasLimit)}
}

func (e *env) signed() *frontend.Application {
	e.t.Helper()
	a, err := frontend.NewSigned(e.dc.ChainID, e.dc.Helper, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// send sends one batch with gas and mines it.
func (e *env) send(apps []batch.DepegApplicationBatchApplication, gas uint64) *types.Receipt {
	e.t.Helper()
	return e.sendCall(chain.Call{To: e.contract, Data: batch.NewDepegApplicationBatch().PackApplyBatch(apps)}, gas)
}

// sendCall sends call from the env's key with gas and mines it.
func (e *env) sendCall(call chain.Call, gas uint64) *types.Receipt {
	e.t.Helper()
	head, err := e.client.HeaderByNumber(e.t.Context(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := e.signer.Sign(call, e.nonce, gas,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.SendTransaction(e.t.Context(), tx); err != nil {
		e.t.Fatal(err)
	}
	e.nonce++
	return e.mine(tx)
}

func (e *env) created(a *frontend.Application) uint64 {
	e.t.Helper()
	sid, _ := frontend.SignatureIDToBytes32(a.SignatureID)
	n, err := e.dc.ApplicationsBySignatureID(e.t.Context(), sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func sigHash(a *frontend.Application) common.Hash { return crypto.Keccak256Hash(a.Signature) }

// TestMixedBatch: valid applications, an invalid signature, a signature
// already used, and one whose own gas limit is too small, in one batch:
// each gets its own event and its own fate, and the others are created.
func TestMixedBatch(t *testing.T) {
	e := newEnv(t)
	used := e.signed()
	if r := e.send([]batch.DepegApplicationBatchApplication{app(t, used, 500_000)}, 1_000_000); r.Status != types.ReceiptStatusSuccessful {
		t.Fatal("first batch failed")
	}
	good1, good2, starved := e.signed(), e.signed(), e.signed()
	forged := e.signed()
	forged.PolicyHolder = common.HexToAddress("0x000000000000000000000000000000000000dEaD") // signed by someone else
	apps := []batch.DepegApplicationBatchApplication{
		app(t, good1, 500_000), app(t, forged, 500_000), app(t, used, 500_000), app(t, starved, 30_000), app(t, good2, 500_000),
	}
	r := e.send(apps, 3_000_000)
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("batch failed as a whole")
	}
	out := batch.Outcomes(e.contract, r)
	if len(out) != 5 {
		t.Fatalf("%d outcomes, want 5: %+v", len(out), out)
	}
	for i, a := range []*frontend.Application{good1, good2} {
		o := out[sigHash(a)]
		if !o.Applied || o.ProcessID == (common.Hash{}) || e.created(a) != 1 {
			t.Errorf("valid application %d: outcome %+v, created %d", i, o, e.created(a))
		}
	}
	for _, c := range []struct {
		name   string
		a      *frontend.Application
		index  uint64
		reason string
	}{
		{"forged", forged, 1, "SIGNATURE_INVALID"},
		{"used", used, 2, "SIGNATURE_USED"},
		{"starved", starved, 3, ""},
	} {
		o := out[sigHash(c.a)]
		if o.Applied || o.Index != c.index || !strings.Contains(o.Reason, c.reason) || (c.reason == "" && o.Reason != "") {
			t.Errorf("%s: outcome %+v, want failed at %d with %q", c.name, o, c.index, c.reason)
		}
	}
	if o := out[sigHash(forged)]; o.Class() != chain.RevertSignature || o.OutOfGas() {
		t.Errorf("forged: class %v, out of gas %v; want signature, no", o.Class(), o.OutOfGas())
	}
	if o := out[sigHash(used)]; o.Class() != chain.RevertSignatureUsed {
		t.Errorf("used: class %v, want signature_used", o.Class())
	}
	if o := out[sigHash(starved)]; !o.OutOfGas() {
		t.Errorf("starved: not out of gas: %+v", o)
	}
	if e.created(forged) != 0 || e.created(starved) != 0 || e.created(used) != 1 {
		t.Errorf("created: forged %d, starved %d, used %d; want 0, 0, 1", e.created(forged), e.created(starved), e.created(used))
	}
}

// TestPausedProductFailsEachApplication: a paused product fails every
// application with its own event (DP-010, which the relay requeues); the
// batch transaction itself succeeds and nothing is created.
func TestPausedProductFailsEachApplication(t *testing.T) {
	e := newEnv(t)
	if err := e.dc.SetActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	a, b := e.signed(), e.signed()
	r := e.send([]batch.DepegApplicationBatchApplication{app(t, a, 500_000), app(t, b, 500_000)}, 2_000_000)
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatal("batch failed as a whole")
	}
	out := batch.Outcomes(e.contract, r)
	for _, x := range []*frontend.Application{a, b} {
		if o := out[sigHash(x)]; o.Applied || !strings.Contains(o.Reason, "PRODUCT_NOT_ACTIVE") || e.created(x) != 0 {
			t.Errorf("outcome %+v, created %d; want DP-010 and nothing", o, e.created(x))
		}
	}
}

// TestTooLittleGasFailsTheWholeBatch: when the transaction cannot give an
// application its own gas limit (63/64 rule), the whole batch reverts
// instead of failing that application for the batch's own shortage.
func TestTooLittleGasFailsTheWholeBatch(t *testing.T) {
	e := newEnv(t)
	a, b := e.signed(), e.signed()
	r := e.send([]batch.DepegApplicationBatchApplication{app(t, a, 500_000), app(t, b, 500_000)}, 700_000)
	if r.Status != types.ReceiptStatusFailed {
		t.Fatalf("batch with too little gas succeeded")
	}
	if len(batch.Outcomes(e.contract, r)) != 0 || e.created(a) != 0 || e.created(b) != 0 {
		t.Fatalf("a reverted batch left outcomes or applications")
	}
}

// TestBatchSavesGas: ten applications in one batch cost at most 93% of
// their gas as ten transactions of one application each (issue 22's goal
// on the devchain product), since the batch pays the 21,000 intrinsic gas
// once.
func TestBatchSavesGas(t *testing.T) {
	e := newEnv(t)
	const n = 10
	product := chain.NewProduct(e.dc.Product)
	var single uint64
	for range n {
		a := e.signed()
		sid, _ := frontend.SignatureIDToBytes32(a.SignatureID)
		call, err := product.Apply(chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
			ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleID: a.BundleID, SignatureID: sid, Signature: a.Signature})
		if err != nil {
			t.Fatal(err)
		}
		r := e.sendCall(call, 500_000)
		if r.Status != types.ReceiptStatusSuccessful {
			t.Fatal("single application failed")
		}
		single += r.GasUsed
	}
	apps := make([]batch.DepegApplicationBatchApplication, n)
	for i := range apps {
		apps[i] = app(t, e.signed(), 300_000)
	}
	r := e.send(apps, 5_000_000)
	if r.Status != types.ReceiptStatusSuccessful || len(batch.Outcomes(e.contract, r)) != n {
		t.Fatal("batch failed")
	}
	ratio := float64(r.GasUsed) / float64(single)
	t.Logf("gas per application: %d alone, %d in a batch of %d (%.1f%%)", single/n, r.GasUsed/n, n, 100*ratio)
	if ratio > 0.93 {
		t.Fatalf("a batch costs %.1f%% of single transactions, want at most 93%%", 100*ratio)
	}
}

// TestGasForIsEnough: a batch sent with exactly GasFor its applications'
// limits (each the node's estimate of its call plus a margin) applies
// every one of them: the bound the relay will use never starves a batch.
func TestGasForIsEnough(t *testing.T) {
	e := newEnv(t)
	product := chain.NewProduct(e.dc.Product)
	var apps []chain.ApplicationArgs
	var limits []uint64
	for range 6 {
		a := e.signed()
		sid, _ := frontend.SignatureIDToBytes32(a.SignatureID)
		args := chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet,
			ProtectedBalance: a.ProtectedBalance, Duration: a.Duration, BundleID: a.BundleID, SignatureID: sid, Signature: a.Signature}
		call, err := product.Apply(args)
		if err != nil {
			t.Fatal(err)
		}
		est, err := e.dc.Client.EstimateGas(t.Context(), call.Msg(e.signer.Address()))
		if err != nil {
			t.Fatal(err)
		}
		limit := est + est/5 // GAS_LIMIT_MARGIN_PERCENT's default
		limits = append(limits, limit)
		apps = append(apps, args)
	}
	call := batch.Call(e.contract, apps, limits)
	data := call.Data
	r := e.sendCall(call, batch.GasFor(limits, len(data)))
	out := batch.Outcomes(e.contract, r)
	applied := 0
	for _, o := range out {
		if o.Applied {
			applied++
		}
	}
	if r.Status != types.ReceiptStatusSuccessful || applied != len(apps) {
		t.Fatalf("batch with GasFor: status %d, %d of %d applied", r.Status, applied, len(apps))
	}
	t.Logf("GasFor %d, used %d (%.0f%%)", batch.GasFor(limits, len(data)), r.GasUsed, 100*float64(r.GasUsed)/float64(batch.GasFor(limits, len(data))))
}
