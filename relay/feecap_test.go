package relay_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/relay/decide"
)

// TestPricedOutFlightsLeaveNoEmptyBlock (issue 21): a backlog whose own
// blocks raise the base fee (pricedOutEnv: three applications fill a block,
// about +9% a block) prices its early transactions out: their fee cap,
// 2 x base fee + tip when signed, stops covering the next block's base fee
// plus the tip some eight blocks on, while the base fee is still below the
// fee cap. The tip is
// the builder's minimum, so the builder skips such a transaction from then
// on, and with it every later nonce of the wallet. Replaced only once the
// base fee passed the fee cap (the rule before), the flight was never
// replaced at all: the block that skipped it went out empty, the base fee
// fell 12.5%, it fitted again, and so on, an empty block every few. Replaced
// as soon as its fee cap is short of next base fee + tip, it never misses a
// block: every block from the first of ours to the last carries ours.
//
// Blocks are sealed one at a time, each after a tracker pass that began
// after the one before (its replacements sent), as a real chain's block time
// leaves the relay a pass per block.
func TestPricedOutFlightsLeaveNoEmptyBlock(t *testing.T) {
	e := pricedOutEnv(t, envOptions{confirmations: 1, maxInFlight: 64})
	const apps = 60
	e.enqueue(apps)
	first := e.chain.Backend.Client()
	start, err := first.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	// While the window is empty the relay simulates its next batch, sixteen
	// of these applications, before a pass can come: a hang detector, not
	// a target (see pricedOutEnv's RPC_TIMEOUT).
	const simulating = 2 * time.Minute
	e.waitBroadcastWithin(simulating, 1)
	e.passes(3)
	for sealed := 0; e.pending() > 0; sealed++ {
		if sealed == 100 {
			t.Fatalf("%d applications still pending after %d blocks", e.pending(), sealed)
		}
		e.chain.Commit()
		// As env.passes(3), or until nothing is left, when the tracker
		// makes no pass.
		want := e.probe.passes.Load() + 3
		e.until(simulating, "3 tracker passes", func() bool {
			return e.probe.passes.Load() >= want || e.pending() == 0
		})
	}

	head, err := first.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ours []int // applications of ours in each block after start
	var bases []*big.Int
	firstIn, lastIn := -1, -1
	for n := start.Number.Uint64() + 1; n <= head.Number.Uint64(); n++ {
		b, err := first.BlockByNumber(t.Context(), new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, tx := range b.Transactions() {
			if tx.To() != nil && *tx.To() == e.chain.Product {
				k++
			}
		}
		i := len(ours)
		ours, bases = append(ours, k), append(bases, b.BaseFee())
		if k > 0 {
			lastIn = i
			if firstIn < 0 {
				firstIn = i
			}
		}
	}
	if firstIn < 0 {
		t.Fatal("no block carried an application")
	}
	t.Logf("applications a block: %v; base fees: %v", ours, bases)
	total := 0
	for _, k := range ours {
		total += k
	}
	if total != apps {
		t.Fatalf("%d applications mined in %v, want %d", total, ours, apps)
	}
	// The premise: the backlog's own blocks raised the base fee to more than
	// twice what the first transactions were priced at, so a fee cap of 2 x
	// base fee + tip fell short of its tip on the way.
	peak := new(big.Int)
	for _, b := range bases[firstIn : lastIn+1] {
		if b.Cmp(peak) > 0 {
			peak = b
		}
	}
	if peak.Cmp(new(big.Int).Mul(bases[firstIn], big.NewInt(2))) <= 0 {
		t.Fatalf("base fee rose from %v to at most %v: the blocks did not price the backlog out (applications a block: %v)",
			bases[firstIn], peak, ours)
	}
	for i := firstIn; i <= lastIn; i++ {
		if ours[i] == 0 {
			t.Errorf("block %d carried none of ours between the first (%d) and the last (%d); applications a block %v, base fees %v",
				start.Number.Uint64()+1+uint64(i), start.Number.Uint64()+1+uint64(firstIn), start.Number.Uint64()+1+uint64(lastIn), ours, bases)
			break
		}
	}
}

// pricedOutEnv is an env whose blocks a few applications fill: about
// 850,000 gas an application (277,000 and 350 an iteration of the burner),
// 935,000 with the margin, so three fit a block of 3 million gas and four do
// not; three use 2.55 million, 1.05 million over the target, and raise the
// base fee by about 9% a block. Empty blocks first take the base fee down to
// the tip, the builder's minimum, as the batched benchmark starts (its
// -base-fee-floor): a tip that matters beside the base fee, so that a fee
// cap that covers the next base fee but not the tip as well is a band of
// several blocks, not one wei that a block's rise steps over. Only the fee
// rule replaces (STUCK_TX_BLOCKS is out of reach).
func pricedOutEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	o.gasLimit = 3_000_000
	e := newEnv(t, o)
	if err := e.chain.SetGasBurnIterations(t.Context(), 1_640); err != nil {
		t.Fatal(err)
	}
	for {
		h, err := e.client.HeaderByNumber(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.BaseFee.Cmp(big.NewInt(minerMinTip)) <= 0 {
			break
		}
		e.chain.Commit()
	}
	e.cfg.Fees.MaxTip = big.NewInt(minerMinTip)
	e.cfg.GasMarginPercent = 10
	e.cfg.StuckBlocks = 1000
	// The in-process node runs these applications' gas burn under the race
	// detector: one batch estimate of sixteen (each call executed several
	// times by geth's search) has taken more than the default 10 s on a
	// loaded machine, and the relay then backed off ERROR_TIMEOUT (30 s)
	// with nothing in flight. A node that is slow, not down, is what these
	// tests have; the timeout of an unanswered call is not what they test.
	e.cfg.RPCTimeout = time.Minute
	return e
}

// TestReplacedInThePassBeforeTheBlockItCannotEnter pins the head the rule
// looks from: a user's applications, tipping ten times more, fill block after
// block ahead of our one transaction and raise the base fee, and stop at the
// first head whose next base fee plus our tip is more than our fee cap. The
// tracker's pass over that head must replace it, so that the very next block,
// which nothing else competes for, takes it. With the head's own base fee in
// place of the next one (a block late), or without the tip (the builder
// takes no transaction tipping less than its minimum), that block goes out
// empty.
func TestReplacedInThePassBeforeTheBlockItCannotEnter(t *testing.T) {
	userKey, userAddr := newUserKey(t)
	e := pricedOutEnv(t, envOptions{confirmations: 1, alsoFund: []common.Address{userAddr}})
	q := e.enqueue(1)[0]
	e.start()
	e.waitBroadcast(1)
	recs := e.journal()
	if len(recs) != 1 {
		t.Fatalf("journal %+v, want one record", recs)
	}
	sent := decodeRaw(t, recs[0].RawTx)
	user := chain.NewSigner(userKey, e.chain.ChainID)
	userTip := big.NewInt(10 * minerMinTip)
	var userNonce uint64
	for blocks := 0; ; blocks++ {
		head, err := e.client.HeaderByNumber(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if new(big.Int).Add(decide.NextBaseFee(head), sent.GasTipCap()).Cmp(sent.GasFeeCap()) > 0 {
			break // the next block would leave ours out
		}
		if blocks == 40 {
			t.Fatalf("40 full blocks took the base fee to %v only; fee cap %v", head.BaseFee, sent.GasFeeCap())
		}
		for range 3 {
			app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := user.Sign(applyCall(t, e.product, app), userNonce, 1_000_000,
				chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(3)), userTip), TipCap: userTip})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.client.SendTransaction(t.Context(), tx); err != nil {
				t.Fatal(err)
			}
			userNonce++
		}
		e.chain.Commit()
		e.passes(3)
		if n := e.created(q.signatureID); n != 0 {
			t.Fatalf("ours mined while the user's filled the blocks (%d full blocks): the premise failed", blocks+1)
		}
	}
	if userNonce == 0 {
		t.Fatal("the fee cap was short from the start: the premise failed")
	}
	e.chain.Commit()
	if n := e.created(q.signatureID); n != 1 {
		t.Fatalf("the block after the head that priced ours out has %d of ours, want it (fee cap %v, tip %v)",
			n, sent.GasFeeCap(), sent.GasTipCap())
	}
}
