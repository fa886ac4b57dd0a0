package batch_test

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/chain/batch/internal/sharedproduct"
	"github.com/etherisc/depeg-relay/frontend"
)

// sharedBundle is the bundle every application of the shared-state product
// goes to, funded far beyond what the tests lock.
const sharedBundle = 1

// sharedEnv is a devchain with the shared-state product (a signature
// registry, a riskpool, a treasury and an ERC20 behind it) and a batch
// contract that applies to it.
type sharedEnv struct {
	*env
	product, registry, token, riskpool, treasury common.Address
	instanceWallet, riskpoolWallet               common.Address

	productB  *sharedproduct.SharedProduct
	tokenB    *sharedproduct.PremiumToken
	registryB *sharedproduct.SignatureRegistry
	riskpoolB *sharedproduct.Riskpool
	treasuryB *sharedproduct.Treasury
}

func newSharedEnv(t testing.TB, start func(testing.TB) *env) *sharedEnv {
	t.Helper()
	e := &sharedEnv{env: start(t), productB: sharedproduct.NewSharedProduct(), tokenB: sharedproduct.NewPremiumToken(),
		registryB: sharedproduct.NewSignatureRegistry(), riskpoolB: sharedproduct.NewRiskpool(), treasuryB: sharedproduct.NewTreasury(),
		instanceWallet: common.HexToAddress("0x00000000000000000000000000000000000001A5"),
		riskpoolWallet: common.HexToAddress("0x00000000000000000000000000000000000002B6")}
	e.product = e.deploy(common.FromHex(sharedproduct.SharedProductMetaData.Bin), e.productB.PackConstructor(e.instanceWallet, e.riskpoolWallet))
	e.registry = read(e, e.product, e.productB.PackGetMessageHelperAddress(), e.productB.UnpackGetMessageHelperAddress)
	e.token = read(e, e.product, e.productB.PackToken(), e.productB.UnpackToken)
	e.riskpool = read(e, e.product, e.productB.PackRiskpool(), e.productB.UnpackRiskpool)
	e.treasury = read(e, e.product, e.productB.PackTreasury(), e.productB.UnpackTreasury)
	capital, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	e.sendAll([]chain.Call{{To: e.product, Data: e.productB.PackFundBundle(big.NewInt(sharedBundle), capital)}})
	e.contract = e.deploy(common.FromHex(batch.DepegApplicationBatchMetaData.Bin), batch.NewDepegApplicationBatch().PackConstructor(e.product))
	return e
}

// read calls a view function of the contract at addr.
func read[T any](e *sharedEnv, addr common.Address, data []byte, unpack func([]byte) (T, error)) T {
	e.t.Helper()
	bc := bind.NewBoundContract(addr, e.productB.GetABI(), e.client, e.client, e.client)
	v, err := bind.Call(bc, &bind.CallOpts{Context: e.t.Context()}, data, unpack)
	if err != nil {
		e.t.Fatalf("read %s: %v", addr, err)
	}
	return v
}

// sendAll sends calls from the env's key in one block and fails unless
// every one succeeds.
func (e *sharedEnv) sendAll(calls []chain.Call) {
	e.t.Helper()
	head, err := e.client.HeaderByNumber(e.t.Context(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	fees := chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip}
	var txs []*types.Transaction
	for _, c := range calls {
		tx, err := e.signer.Sign(c, e.nonce, setupGas, fees)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.client.SendTransaction(e.t.Context(), tx); err != nil {
			e.t.Fatal(err)
		}
		e.nonce++
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if r := e.mine(tx); r.Status != types.ReceiptStatusSuccessful {
			e.t.Fatalf("setup transaction %s failed (gas used %d of %d)", tx.Hash(), r.GasUsed, tx.Gas())
		}
	}
}

// setupGas is the limit of a setup transaction: a faucet creates three
// storage slots, which cost 97,920 gas each on the devchain (EIP-8037).
const setupGas = 1_000_000

// holderFunds is what a holder is given and allows the treasury to take:
// ten times any premium the tests charge, so an allowance never drops to
// zero (which would earn a refund the real holders' leftovers do not).
var holderFunds = new(big.Int).Exp(big.NewInt(10), big.NewInt(12), nil)

// signed returns n applications signed for the registry, their holders
// funded and the treasury allowed to take their premiums.
func (e *sharedEnv) signed(n int) []*frontend.Application {
	e.t.Helper()
	apps := make([]*frontend.Application, n)
	calls := make([]chain.Call, n)
	for i := range apps {
		a, err := frontend.NewSigned(e.chainID, e.registry, sharedBundle)
		if err != nil {
			e.t.Fatal(err)
		}
		apps[i] = a
		calls[i] = chain.Call{To: e.token, Data: e.tokenB.PackFaucet(a.PolicyHolder, e.treasury, holderFunds)}
	}
	e.sendAll(calls)
	return apps
}

func args(t testing.TB, a *frontend.Application) chain.ApplicationArgs {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(a.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return chain.ApplicationArgs{PolicyHolder: a.PolicyHolder, ProtectedWallet: a.ProtectedWallet, ProtectedBalance: a.ProtectedBalance,
		Duration: a.Duration, BundleID: a.BundleID, SignatureID: sid, Signature: a.Signature}
}

// applyAlone sends each application as its own transaction to the product,
// as the relay does without batching, and returns the gas each used.
func (e *sharedEnv) applyAlone(apps []*frontend.Application) []uint64 {
	e.t.Helper()
	product := chain.NewProduct(e.product)
	used := make([]uint64, len(apps))
	for i, a := range apps {
		call, err := product.Apply(args(e.t, a))
		if err != nil {
			e.t.Fatal(err)
		}
		r := e.sendCall(call, 3_000_000)
		if r.Status != types.ReceiptStatusSuccessful {
			e.t.Fatalf("application %d alone failed", i)
		}
		e.checkCreated(r, a, common.Address{}, 0)
		used[i] = r.GasUsed
	}
	return used
}

// applyBatch sends apps as one batch with GasFor their limits and returns
// the gas it used; false, with nothing sent, when GasFor is over what one
// transaction may have since Osaka (EIP-7825, 16,777,216).
func (e *sharedEnv) applyBatch(apps []*frontend.Application) (uint64, bool) {
	e.t.Helper()
	as := make([]chain.ApplicationArgs, len(apps))
	limits := make([]uint64, len(apps))
	for i, a := range apps {
		as[i], limits[i] = args(e.t, a), e.limit(a)
	}
	call := batch.Call(e.contract, as, limits)
	gas := batch.GasFor(limits, len(call.Data))
	if gas > params.MaxTxGas {
		return 0, false
	}
	r := e.sendCall(call, gas)
	if r.Status != types.ReceiptStatusSuccessful {
		e.t.Fatalf("batch of %d failed as a whole", len(apps))
	}
	out := batch.Outcomes(e.contract, r)
	if len(out) != len(apps) {
		e.t.Fatalf("batch of %d: %d outcomes", len(apps), len(out))
	}
	for i, a := range apps {
		e.checkCreated(r, a, e.contract, uint64(i))
	}
	return r.GasUsed, true
}

// limit is a's own gas limit in a batch as the relay sets it: the node's
// estimate of the product call plus GAS_LIMIT_MARGIN_PERCENT's default 20%.
func (e *sharedEnv) limit(a *frontend.Application) uint64 {
	e.t.Helper()
	call, err := chain.NewProduct(e.product).Apply(args(e.t, a))
	if err != nil {
		e.t.Fatal(err)
	}
	est, err := e.client.EstimateGas(e.t.Context(), call.Msg(e.signer.Address()))
	if err != nil {
		e.t.Fatalf("estimate application: %v", err)
	}
	return est + est/5
}

// checkCreated asserts that a's application was created by receipt r and
// that the chain holds it: the product's creation event with the process
// id, the batch's event with the same id at index (when batch is set), the
// signature marked used, the application's record, the sum insured locked
// in the bundle and the premium taken from the holder.
func (e *sharedEnv) checkCreated(r *types.Receipt, a *frontend.Application, batchContract common.Address, index uint64) {
	e.t.Helper()
	var created *sharedproduct.SharedProductLogDepegApplicationCreated
	for _, l := range r.Logs {
		if l.Address != e.product {
			continue
		}
		if ev, err := e.productB.UnpackLogDepegApplicationCreatedEvent(l); err == nil && ev.PolicyHolder == a.PolicyHolder {
			created = ev
		}
	}
	if created == nil {
		e.t.Fatalf("no LogDepegApplicationCreated for holder %s", a.PolicyHolder)
		return
	}
	pid := common.Hash(created.ProcessId)
	if batchContract != (common.Address{}) {
		if o := batch.Outcomes(batchContract, r)[sigHash(a)]; !o.Applied || o.ProcessID != pid || o.Index != index {
			e.t.Fatalf("batch outcome %+v, want applied at %d with %s", o, index, pid)
		}
	}
	if !read(e, e.registry, e.registryB.PackSignatureIsUsed(sigHash(a)), e.registryB.UnpackSignatureIsUsed) {
		e.t.Errorf("signature of %s not marked used", pid)
	}
	rec := read(e, e.product, e.productB.PackApplications(pid), e.productB.UnpackApplications)
	sum, premium := e.premium(a)
	if rec.PolicyHolder != a.PolicyHolder || rec.ProtectedWallet != a.ProtectedWallet || rec.SumInsured.Cmp(sum) != 0 ||
		rec.Premium.Cmp(premium) != 0 || created.ProtectedBalance.Cmp(a.ProtectedBalance) != 0 {
		e.t.Errorf("application %s: record %+v, event %+v", pid, rec, created)
	}
	if locked := read(e, e.riskpool, e.riskpoolB.PackLockedPerPolicy(pid), e.riskpoolB.UnpackLockedPerPolicy); locked.Cmp(sum) != 0 {
		e.t.Errorf("application %s: %s locked, want %s", pid, locked, sum)
	}
	bal := read(e, e.token, e.tokenB.PackBalanceOf(a.PolicyHolder), e.tokenB.UnpackBalanceOf)
	if want := new(big.Int).Sub(holderFunds, premium); bal.Cmp(want) != 0 {
		e.t.Errorf("holder %s: balance %s, want %s", a.PolicyHolder, bal, want)
	}
}

// premium is the product's sum insured and premium for a.
func (e *sharedEnv) premium(a *frontend.Application) (*big.Int, *big.Int) {
	e.t.Helper()
	p := read(e, e.product, e.productB.PackCalculatePremium(a.ProtectedBalance), e.productB.UnpackCalculatePremium)
	return p.SumInsured, p.Premium
}

// totals are the shared counters every application raises.
type totals struct {
	applications, premiums, locked, wallets *big.Int
}

func (e *sharedEnv) totals() totals {
	e.t.Helper()
	return totals{
		applications: read(e, e.product, e.productB.PackApplicationCount(), e.productB.UnpackApplicationCount),
		premiums:     read(e, e.treasury, e.treasuryB.PackPremiumCollected(), e.treasuryB.UnpackPremiumCollected),
		locked:       read(e, e.riskpool, e.riskpoolB.PackTotalLockedCapital(), e.riskpoolB.UnpackTotalLockedCapital),
		wallets: new(big.Int).Add(read(e, e.token, e.tokenB.PackBalanceOf(e.instanceWallet), e.tokenB.UnpackBalanceOf),
			read(e, e.token, e.tokenB.PackBalanceOf(e.riskpoolWallet), e.tokenB.UnpackBalanceOf)),
	}
}

// warmUp applies one application alone, so the counters every application
// shares are no longer zero, as on the deployed product: the first
// application ever pays for creating them, which is no application's
// steady cost.
func (e *sharedEnv) warmUp() {
	e.t.Helper()
	e.applyAlone(e.signed(1))
}

func sum(xs []uint64) (s uint64) {
	for _, x := range xs {
		s += x
	}
	return s
}

// TestSharedProductBatchGas measures gas per application on the
// shared-state product: each application alone against batches of 2, 4, 8
// and 16, every application's event and chain state checked, the shared
// totals checked to have grown by exactly what was applied, and the ratios
// logged. A batch pays the transaction's 21,000 once and finds the shared
// slots and the called contracts warm after its first application
// (EIP-2929), but adds its own event and calldata per application: the
// test asserts only that a batch costs less per application than a
// transaction of one, and reports by how much.
func TestSharedProductBatchGas(t *testing.T) {
	for _, s := range schedules {
		t.Run(s.name, func(t *testing.T) { testSharedProductBatchGas(t, s.start) })
	}
}

// schedules are the gas schedules measured: the devchain's, which the
// relay's tests and the bench run on, and mainnet's.
var schedules = []struct {
	name  string
	start func(testing.TB) *env
}{{"devchain", startEnv}, {"osaka", startOsakaEnv}}

func testSharedProductBatchGas(t *testing.T, start func(testing.TB) *env) {
	e := newSharedEnv(t, start)
	e.warmUp()
	before := e.totals()
	var wantPremiums, wantLocked big.Int
	count := func(apps []*frontend.Application) {
		for _, a := range apps {
			s, p := e.premium(a)
			wantPremiums.Add(&wantPremiums, p)
			wantLocked.Add(&wantLocked, s)
		}
	}
	const singles = 8
	alone := e.signed(singles)
	count(alone)
	single := float64(sum(e.applyAlone(alone))) / singles
	t.Logf("shared-state product: %.0f gas per application alone", single)
	applied := singles
	for _, k := range []int{2, 4, 8, 16} {
		apps := e.signed(k)
		used, sent := e.applyBatch(apps)
		if !sent {
			t.Logf("batch of %2d: over the gas a transaction may have (EIP-7825), not sent", k)
			continue
		}
		count(apps)
		perApp := float64(used) / float64(k)
		applied += k
		t.Logf("batch of %2d: %.0f gas per application, %.1f%% of alone", k, perApp, 100*perApp/single)
		if perApp >= single {
			t.Errorf("batch of %d: %.0f gas per application, not less than %.0f alone", k, perApp, single)
		}
	}
	after := e.totals()
	for _, c := range []struct {
		name              string
		before, after, by *big.Int
	}{
		{"applications", before.applications, after.applications, big.NewInt(int64(applied))},
		{"premiums collected", before.premiums, after.premiums, &wantPremiums},
		{"capital locked", before.locked, after.locked, &wantLocked},
		{"wallets' tokens", before.wallets, after.wallets, &wantPremiums},
	} {
		if got := new(big.Int).Sub(c.after, c.before); got.Cmp(c.by) != 0 {
			t.Errorf("%s grew by %s, want %s", c.name, got, c.by)
		}
	}
}

// TestSharedProductFailuresInABatch: on the shared-state product too, an
// application that fails (its signature already used, its holder without
// allowance) gets its own event and leaves the shared totals as if it had
// not been there, and the others are created.
func TestSharedProductFailuresInABatch(t *testing.T) {
	e := newSharedEnv(t, startEnv)
	e.warmUp()
	apps := e.signed(3)
	used := apps[0]
	e.applyAlone([]*frontend.Application{used})
	poor, err := frontend.NewSigned(e.chainID, e.registry, sharedBundle) // never funded
	if err != nil {
		t.Fatal(err)
	}
	before := e.totals()
	order := []*frontend.Application{apps[1], used, poor, apps[2]}
	as := make([]chain.ApplicationArgs, len(order))
	limits := make([]uint64, len(order))
	for i, a := range order {
		as[i], limits[i] = args(t, a), 2_000_000
	}
	call := batch.Call(e.contract, as, limits)
	r := e.sendCall(call, batch.GasFor(limits, len(call.Data)))
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatal("batch failed as a whole")
	}
	e.checkCreated(r, apps[1], e.contract, 0)
	e.checkCreated(r, apps[2], e.contract, 3)
	out := batch.Outcomes(e.contract, r)
	for _, c := range []struct {
		a      *frontend.Application
		index  uint64
		reason string
	}{{used, 1, "ERROR:DMH-001:SIGNATURE_USED"}, {poor, 2, "ERROR:DP-014:BALANCE_TOO_LOW"}} {
		if o := out[sigHash(c.a)]; o.Applied || o.Index != c.index || o.Reason != c.reason {
			t.Errorf("outcome %+v, want failed at %d with %q", o, c.index, c.reason)
		}
	}
	if read(e, e.registry, e.registryB.PackSignatureIsUsed(sigHash(poor)), e.registryB.UnpackSignatureIsUsed) {
		t.Error("a failed application's signature stayed marked used")
	}
	after := e.totals()
	if n := new(big.Int).Sub(after.applications, before.applications); n.Int64() != 2 {
		t.Errorf("%s applications created, want 2", n)
	}
	var want big.Int
	for _, a := range []*frontend.Application{apps[1], apps[2]} {
		_, p := e.premium(a)
		want.Add(&want, p)
	}
	if got := new(big.Int).Sub(after.premiums, before.premiums); got.Cmp(&want) != 0 {
		t.Errorf("premiums grew by %s, want %s", got, &want)
	}
}

// BenchmarkSharedProductGas reports gas per application on the
// shared-state product ("gas/app") alone and in batches of 2 to 16, and
// each batch's share of the cost alone ("%alone", against applications
// alone measured in the same chain). Time per op is the devchain's and
// means nothing here.
func BenchmarkSharedProductGas(b *testing.B) {
	for _, s := range schedules {
		b.Run(s.name+"/alone", func(b *testing.B) {
			e := newSharedEnv(b, s.start)
			e.warmUp()
			var gas uint64
			for b.Loop() {
				b.StopTimer()
				apps := e.signed(1)
				b.StartTimer()
				gas += sum(e.applyAlone(apps))
			}
			b.ReportMetric(float64(gas)/float64(b.N), "gas/app")
		})
		for _, k := range []int{2, 4, 8, 16} {
			b.Run(fmt.Sprintf("%s/batch=%d", s.name, k), func(b *testing.B) {
				e := newSharedEnv(b, s.start)
				e.warmUp()
				alone := float64(sum(e.applyAlone(e.signed(4)))) / 4
				var gas uint64
				for b.Loop() {
					b.StopTimer()
					apps := e.signed(k)
					b.StartTimer()
					used, sent := e.applyBatch(apps)
					if !sent {
						b.Skipf("a batch of %d is over the gas a transaction may have (EIP-7825)", k)
					}
					gas += used
				}
				perApp := float64(gas) / float64(b.N*k)
				b.ReportMetric(perApp, "gas/app")
				b.ReportMetric(100*perApp/alone, "%alone")
			})
		}
	}
}
