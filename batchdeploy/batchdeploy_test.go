package batchdeploy

import (
	"context"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
)

const testMnemonic = "test test test test test test test test test test test junk"

// deployEnv is a devchain with the first key of testMnemonic funded (index
// 0; index 1 holds nothing), and a redis-server for the keys' leases.
type deployEnv struct {
	dc     *devchain.Chain
	client *chain.Client // dialled to dc, as deploy-batch dials CHAIN_RPC_URL
	rdb    *redis.Client
}

// newDeployEnv starts the chain sealing a block every blockTime (0: none).
func newDeployEnv(t *testing.T, blockTime time.Duration) deployEnv {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{wallet(t, 0)}}, blockTime)
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return deployEnv{dc: dc, client: client, rdb: rdb}
}

// key is testMnemonic's key at index.
func key(t *testing.T, index uint32) Key {
	t.Helper()
	k, err := chain.DeriveKey(testMnemonic, index)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Address: crypto.PubkeyToAddress(k.PublicKey), Name: "test",
		Sign: func(_ context.Context, digest []byte) ([]byte, error) { return crypto.Sign(digest, k) }}
}

// wallet is testMnemonic's address at index.
func wallet(t *testing.T, index uint32) common.Address { t.Helper(); return key(t, index).Address }

// options deploys for the chain's product from testMnemonic's key at index,
// with the processor's default fee caps.
func (e deployEnv) options(t *testing.T, index uint32) Options {
	k := key(t, index)
	return Options{
		Product:             e.dc.Product,
		OpenKey:             func(context.Context) (Key, error) { return k, nil },
		Redis:               e.rdb,
		LeaseTTL:            time.Minute,
		Fees:                chain.FeePolicy{MaxFee: big.NewInt(500 * params.GWei), MaxTip: big.NewInt(5 * params.GWei)},
		GasMarginPercent:    20,
		RPCTimeout:          5 * time.Second,
		PollInterval:        50 * time.Millisecond,
		RebroadcastInterval: time.Minute,
		Confirmations:       2,
	}
}

// nonces reads the wallet's mined and pending nonces.
func (e deployEnv) nonces(t *testing.T, w common.Address) (mined, pending uint64) {
	t.Helper()
	mined, err := e.dc.Client.NonceAt(t.Context(), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pending, err = e.dc.Client.PendingNonceAt(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	return mined, pending
}

// TestDeploy: the contract is deployed at the first key's first nonce, is a
// batch contract of the product, and the key's lease is released.
func TestDeploy(t *testing.T) {
	e := newDeployEnv(t, 50*time.Millisecond)
	addr, err := Deploy(t.Context(), e.client, e.options(t, 0), zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	from := wallet(t, 0)
	if want := crypto.CreateAddress(from, 0); addr != want {
		t.Errorf("Deploy = %s, want %s (the first key's first nonce)", addr, want)
	}
	if err := Check(t.Context(), e.dc.Client, addr, e.dc.Product); err != nil {
		t.Errorf("at the returned address: %v", err)
	}
	if mined, pending := e.nonces(t, from); mined != 1 || pending != 1 {
		t.Errorf("nonces = %d mined, %d pending; want 1, 1 (one deployment)", mined, pending)
	}
	if v, err := e.rdb.Get(t.Context(), lease.Key(strings.ToLower(from.Hex()))).Result(); err != nil || v != lease.Released {
		t.Errorf("the key's lease = %q, %v; want %q (released)", v, err, lease.Released)
	}
}

// TestDeployRefuses: Deploy sends nothing (the key's nonce stays, nothing
// is pending) from a key that cannot pay, from a key a running processor
// holds, or for a product address without code.
func TestDeployRefuses(t *testing.T) {
	e := newDeployEnv(t, 50*time.Millisecond)
	held, err := lease.New(e.rdb, lease.Key(strings.ToLower(wallet(t, 0).Hex())), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     uint32
		product common.Address // zero: the chain's
		hold    bool
		want    error
		wantS   string // in the error
	}{
		{"unfunded key", 1, common.Address{}, false, ErrUnderfunded, "short by"},
		{"key held by a running processor", 0, common.Address{}, true, ErrKeyBusy, ""},
		{"product without code", 0, common.HexToAddress("0xa1"), false, nil, "no contract at DEPEG_PRODUCT_ADDRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.options(t, tc.key)
			if tc.product != (common.Address{}) {
				o.Product = tc.product
			}
			if tc.hold {
				if ok, err := held.TryAcquire(t.Context()); !ok || err != nil {
					t.Fatalf("take the lease: %t, %v", ok, err)
				}
				t.Cleanup(func() { _ = held.Release(t.Context()) })
			}
			addr, err := Deploy(t.Context(), e.client, o, zerolog.New(io.Discard))
			switch {
			case err == nil:
				t.Fatalf("Deploy succeeded at %s", addr)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			case !strings.Contains(err.Error(), tc.wantS):
				t.Errorf("error %q does not say %q", err, tc.wantS)
			}
			if mined, pending := e.nonces(t, wallet(t, tc.key)); mined != 0 || pending != 0 {
				t.Errorf("key's nonces = %d mined, %d pending; want 0, 0 (nothing sent)", mined, pending)
			}
		})
	}
}

// TestDeployRefusesKeyWithPending: a key with a transaction still pending
// (the chain seals no block here) is refused, and nothing is added to what
// the node holds for it.
func TestDeployRefusesKeyWithPending(t *testing.T) {
	k, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	from := crypto.PubkeyToAddress(k.PublicKey)
	e := newDeployEnv(t, 0)
	head, err := e.dc.Client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(params.GWei)
	tx, err := chain.NewSigner(k, e.dc.ChainID).Sign(chain.Call{To: common.HexToAddress("0xc1")}, 0, 21_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.dc.Client.SendTransaction(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	devchaintest.Pooled(t, e.dc.Client, tx) // Deploy reads the pool's pending nonce
	// Bounded: a deployment sent anyway would wait for a block forever.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := Deploy(ctx, e.client, e.options(t, 0), zerolog.New(io.Discard)); !errors.Is(err, ErrKeyBusy) {
		t.Fatalf("Deploy = %v, want ErrKeyBusy", err)
	}
	if mined, pending := e.nonces(t, from); mined != 0 || pending != 1 {
		t.Errorf("nonces = %d mined, %d pending; want 0, 1 (the one transaction sent before)", mined, pending)
	}
}

// TestCheck: the product itself (code, but no batch contract), another
// product's batch contract and an address without code are refused.
func TestCheck(t *testing.T) {
	dc := devchaintest.Start(t, devchain.Options{Batch: true}, 0)
	for _, tc := range []struct {
		name          string
		addr, product common.Address
		ok            bool
	}{
		{"batch contract of the product", dc.Batch, dc.Product, true},
		{"batch contract of another product", dc.Batch, common.HexToAddress("0xa1"), false},
		{"no code", common.HexToAddress("0xb1"), dc.Product, false},
		{"the product itself", dc.Product, dc.Product, false},
	} {
		err := Check(t.Context(), dc.Client, tc.addr, tc.product)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWrongContract)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestFormatETH(t *testing.T) {
	eth := func(s string) *big.Int {
		v, _ := new(big.Int).SetString(s, 10)
		return v
	}
	for _, tc := range []struct {
		wei  *big.Int
		want string
	}{
		{big.NewInt(0), "0"},
		{big.NewInt(1), "0.000000000000000001"},
		{big.NewInt(-1), "-0.000000000000000001"},
		{big.NewInt(params.Ether), "1"},
		{eth("13500000000000000"), "0.0135"},
		{eth("1000500000000000000000"), "1000.5"},
	} {
		if got := FormatETH(tc.wei); got != tc.want {
			t.Errorf("FormatETH(%s) = %q, want %q", tc.wei, got, tc.want)
		}
	}
}
