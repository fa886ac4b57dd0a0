package bench

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
)

// Calibration is how the test contract's gas burner was tuned so that one
// application costs about the target gas.
type Calibration struct {
	Target     uint64 `json:"targetGas"`
	Iterations uint64 `json:"iterations"`
	// BaseGas is an application's gas used with no burn iterations (warm
	// contract storage); PerIteration is the marginal gas of one iteration.
	BaseGas      uint64  `json:"baseGas"`
	PerIteration float64 `json:"perIterationGas"`
	// Measured is the gas used by a real application transaction after
	// tuning, read from its receipt.
	Measured uint64 `json:"measuredGas"`
}

// calibrate tunes SetGasBurnIterations from receipts of real application
// transactions sent from key (funded at genesis): one warm-up (so the
// contract's counters are non-zero, as they are for every later
// application), one with no burn, one with 2000 iterations, then one to check
// the chosen setting.
func calibrate(ctx context.Context, dc *devchain.Chain, key *ecdsa.PrivateKey, target uint64) (Calibration, error) {
	cal := Calibration{Target: target}
	apply := func(iterations uint64) (uint64, error) {
		if err := dc.SetGasBurnIterations(ctx, iterations); err != nil {
			return 0, err
		}
		return sendApplication(ctx, dc, key)
	}
	if _, err := apply(1); err != nil {
		return cal, fmt.Errorf("calibration warm-up: %w", err)
	}
	g0, err := apply(0)
	if err != nil {
		return cal, fmt.Errorf("calibration at 0 iterations: %w", err)
	}
	const probe = 2000
	g1, err := apply(probe)
	if err != nil {
		return cal, fmt.Errorf("calibration at %d iterations: %w", probe, err)
	}
	cal.BaseGas = g0
	cal.PerIteration = float64(g1-g0) / probe
	if target > g0 && cal.PerIteration > 0 {
		cal.Iterations = uint64(float64(target-g0)/cal.PerIteration + 0.5)
	}
	if cal.Measured, err = apply(cal.Iterations); err != nil {
		return cal, fmt.Errorf("calibration check at %d iterations: %w", cal.Iterations, err)
	}
	return cal, nil
}

// sendApplication submits one freshly signed application from key, seals a
// block and returns the gas the transaction used.
func sendApplication(ctx context.Context, dc *devchain.Chain, key *ecdsa.PrivateKey) (uint64, error) {
	app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
	if err != nil {
		return 0, err
	}
	call, err := applicationCall(chain.NewProduct(dc.Product), app)
	if err != nil {
		return 0, err
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := dc.Client.PendingNonceAt(ctx, from)
	if err != nil {
		return 0, fmt.Errorf("nonce: %w", err)
	}
	head, err := dc.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("head: %w", err)
	}
	tip := big.NewInt(1_000_000_000)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	signer := chain.NewSigner(key, dc.ChainID)
	tx, err := signer.Sign(call, nonce, 5_000_000, chain.Fees{FeeCap: feeCap, TipCap: tip})
	if err != nil {
		return 0, err
	}
	if err := dc.Client.SendTransaction(ctx, tx); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	dc.Commit()
	for {
		r, err := dc.Client.TransactionReceipt(ctx, tx.Hash())
		switch {
		case err == nil && r.Status != types.ReceiptStatusSuccessful:
			return 0, fmt.Errorf("calibration transaction %s reverted", tx.Hash())
		case err == nil:
			return r.GasUsed, nil
		case !errors.Is(err, ethereum.NotFound):
			return 0, fmt.Errorf("receipt: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// applicationCall packs what the relay would send for app.
func applicationCall(p *chain.Product, app *frontend.Application) (chain.Call, error) {
	sid, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		return chain.Call{}, err
	}
	return p.Apply(chain.ApplicationArgs{
		PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
		SignatureID: sid, Signature: app.Signature,
	})
}

// settleBaseFee seals empty blocks until the base fee is at most floor (or
// 400 blocks were sealed). A backlog that fills every block raises the base
// fee by 12.5% per block; starting from the genesis 1 gwei, 5000 applications
// (about 42 full blocks) would end near 140 gwei, above the default
// MAX_FEE_PER_GAS of 30 gwei, and the relay would rightly stop at the cap.
// The benchmark measures the relay, not the fee market, so it starts from a
// low base fee and reports the base fee at the start and the end.
func settleBaseFee(ctx context.Context, dc *devchain.Chain, floor *big.Int) (*big.Int, error) {
	for range 400 {
		h, err := dc.Client.HeaderByNumber(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("read head: %w", err)
		}
		if h.BaseFee == nil || h.BaseFee.Cmp(floor) <= 0 {
			return h.BaseFee, nil
		}
		dc.Commit()
	}
	h, err := dc.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read head: %w", err)
	}
	return h.BaseFee, nil
}

// seal is one block the harness sealed.
type seal struct {
	At   time.Time // when Commit returned
	Took time.Duration
	Hash common.Hash
}

// producer seals a block every period, like a chain with a fixed block time,
// and remembers when each block was sealed.
type producer struct {
	dc    *devchain.Chain
	every time.Duration

	mu    sync.Mutex
	seals []seal
}

func (p *producer) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			start := time.Now()
			h := p.dc.Commit()
			now := time.Now()
			p.mu.Lock()
			p.seals = append(p.seals, seal{At: now, Took: now.Sub(start), Hash: h})
			p.mu.Unlock()
		}
	}
}

func (p *producer) sealed() []seal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seal(nil), p.seals...)
}
