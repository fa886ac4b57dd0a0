package devchain_test

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/devchain/testcontract"
	"github.com/etherisc/depeg-relay/internal/poll"
)

func start(t *testing.T, opts devchain.Options) *devchain.Chain {
	t.Helper()
	c, err := devchain.Start(opts)
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close devchain: %v", err)
		}
	})
	return c
}

func TestChain(t *testing.T) {
	funded := common.HexToAddress("0x00000000000000000000000000000000000000f1")
	c := start(t, devchain.Options{Fund: []common.Address{funded}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatalf("parse URL %q: %v", c.URL, err)
	}
	if host := u.Hostname(); host != "127.0.0.1" {
		t.Errorf("URL host = %q, want 127.0.0.1", host)
	}

	// Over plain HTTP JSON-RPC, as any client of a remote node would ask.
	rc, err := rpc.DialContext(ctx, c.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", c.URL, err)
	}
	defer rc.Close()
	var id hexutil.Big
	if err := rc.CallContext(ctx, &id, "eth_chainId"); err != nil {
		t.Fatalf("eth_chainId: %v", err)
	}
	if id.ToInt().Int64() != 1337 || c.ChainID.Int64() != 1337 {
		t.Errorf("eth_chainId = %v, ChainID = %v; want 1337", id.ToInt(), c.ChainID)
	}

	// Batches and the txpool namespace, which a relay uses to inspect its
	// in-flight transactions, are served too. The pool drops the mined
	// deployment when its reorg loop has seen the new head, which it does
	// on its own goroutine: a read right after the block may still count it
	// (CI, under load: "txpool status map[pending:0x1]" at head 1).
	var head hexutil.Uint64
	var status map[string]hexutil.Uint
	poll.UntilNil(t, 10*time.Second, "the pool empty after the deployment's block", func() error {
		batch := []rpc.BatchElem{
			{Method: "eth_blockNumber", Result: &head},
			{Method: "txpool_status", Result: &status},
		}
		if err := c.Client.Client().BatchCallContext(ctx, batch); err != nil {
			t.Fatalf("batch: %v", err)
		}
		for _, e := range batch {
			if e.Error != nil {
				t.Fatalf("batch %s: %v", e.Method, e.Error)
			}
		}
		if head < 1 || status["pending"] != 0 {
			return fmt.Errorf("head %d (want >= 1, the deployment), txpool status %v", head, status)
		}
		return nil
	})

	bal, err := c.Client.BalanceAt(ctx, funded, nil)
	if err != nil {
		t.Fatalf("balance of funded address: %v", err)
	}
	if want := new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether)); bal.Cmp(want) != 0 {
		t.Errorf("funded balance = %v, want %v", bal, want)
	}

	product := testcontract.NewDepegProduct()
	out, err := c.Client.CallContract(ctx, ethereum.CallMsg{To: &c.Product, Data: product.PackGetMessageHelperAddress()}, nil)
	if err != nil {
		t.Fatalf("call getMessageHelperAddress: %v", err)
	}
	helper, err := product.UnpackGetMessageHelperAddress(out)
	if err != nil {
		t.Fatalf("unpack getMessageHelperAddress: %v", err)
	}
	if helper != c.Helper || helper == (common.Address{}) {
		t.Errorf("getMessageHelperAddress = %s, Chain.Helper = %s", helper, c.Helper)
	}
	if code, err := c.Client.CodeAt(ctx, c.Helper, nil); err != nil || len(code) == 0 {
		t.Errorf("helper code: %d bytes, err %v", len(code), err)
	}

	active := func() bool {
		t.Helper()
		out, err := c.Client.CallContract(ctx, ethereum.CallMsg{To: &c.Product, Data: product.PackActive()}, nil)
		if err != nil {
			t.Fatalf("call active: %v", err)
		}
		v, err := product.UnpackActive(out)
		if err != nil {
			t.Fatalf("unpack active: %v", err)
		}
		return v
	}
	if !active() {
		t.Fatal("product starts inactive")
	}
	if err := c.SetActive(ctx, false); err != nil {
		t.Fatalf("SetActive(false): %v", err)
	}
	if active() {
		t.Error("product still active after SetActive(false)")
	}
	if err := c.SetActive(ctx, true); err != nil {
		t.Fatalf("SetActive(true): %v", err)
	}
	if !active() {
		t.Error("product inactive after SetActive(true)")
	}
	if err := c.SetGasBurnIterations(ctx, 100); err != nil {
		t.Fatalf("SetGasBurnIterations: %v", err)
	}
	if n, err := c.ApplicationCount(ctx); err != nil || n != 0 {
		t.Errorf("ApplicationCount = %d, %v; want 0", n, err)
	}
	if n, err := c.ApplicationsBySignatureID(ctx, [32]byte{'x'}); err != nil || n != 0 {
		t.Errorf("ApplicationsBySignatureID = %d, %v; want 0", n, err)
	}
}

// TestFees records what the simulated chain charges, since relay tests depend
// on fees staying far below MAX_FEE_PER_GAS.
func TestFees(t *testing.T) {
	c := start(t, devchain.Options{})
	ctx := t.Context()
	head, err := c.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	tip, err := c.Client.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatalf("suggest tip: %v", err)
	}
	if head.BaseFee == nil || head.BaseFee.Cmp(big.NewInt(params.GWei)) > 0 {
		t.Errorf("base fee = %v, want <= 1 gwei", head.BaseFee)
	}
	if head.GasLimit != 30_000_000 {
		t.Errorf("gas limit = %d, want 30000000", head.GasLimit)
	}
	t.Logf("block %v: base fee %v wei, suggested tip %v wei", head.Number, head.BaseFee, tip)
}

func TestProduce(t *testing.T) {
	c := start(t, devchain.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Produce(ctx, 10*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-done
	}()
	first, err := c.Client.BlockNumber(ctx)
	if err != nil {
		t.Fatalf("block number: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := c.Client.BlockNumber(ctx)
		if err != nil {
			t.Fatalf("block number: %v", err)
		}
		if n >= first+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("head stuck at %d (started at %d)", n, first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Owner transactions still work while Produce seals concurrently.
	if err := c.SetActive(ctx, false); err != nil {
		t.Fatalf("SetActive while producing: %v", err)
	}
}

func TestCloseReleasesPort(t *testing.T) {
	c, err := devchain.Start(devchain.Options{})
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if h := c.Commit(); h != (common.Hash{}) {
		t.Errorf("Commit after Close = %s, want zero hash", h)
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatalf("port %s still taken after Close: %v", u.Host, err)
	}
	l.Close()

	// A chain can be started again on that very port.
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("parse port of %s: %v", c.URL, err)
	}
	again := start(t, devchain.Options{Port: port})
	if again.URL != c.URL {
		t.Errorf("restarted URL = %s, want %s", again.URL, c.URL)
	}
}

func TestOwnerKeyIsFresh(t *testing.T) {
	a := start(t, devchain.Options{})
	b := start(t, devchain.Options{})
	if a.Owner == b.Owner || a.URL == b.URL {
		t.Errorf("two chains share owner %s or URL %s", a.Owner, a.URL)
	}
}

// TestBatchContract: with Options.Batch the batch contract is deployed for
// the product (its product() is Chain.Product); with a fixed owner key its
// address is the same on every start, and the product's address is the one
// a chain without it has. Without the option nothing is deployed.
func TestBatchContract(t *testing.T) {
	owner, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, devchain.Options{Batch: true, OwnerKey: owner})
	if c.Batch == (common.Address{}) {
		t.Fatal("Chain.Batch is the zero address with Options.Batch")
	}
	code, err := c.Client.CodeAt(t.Context(), c.Batch, nil)
	if err != nil || len(code) == 0 {
		t.Fatalf("code at %s: %d bytes, %v; want the batch contract", c.Batch, len(code), err)
	}
	b := batch.NewDepegApplicationBatch()
	product, err := bind.Call(b.Instance(c.Client, c.Batch), &bind.CallOpts{Context: t.Context()}, b.PackProduct(), b.UnpackProduct)
	if err != nil {
		t.Fatalf("product(): %v", err)
	}
	if product != c.Product {
		t.Errorf("batch contract's product() = %s, want %s", product, c.Product)
	}

	again := start(t, devchain.Options{Batch: true, OwnerKey: owner})
	plain := start(t, devchain.Options{OwnerKey: owner})
	if again.Batch != c.Batch || again.Product != c.Product || plain.Product != c.Product {
		t.Errorf("same owner key: batch %s then %s, product %s, %s and (without batch) %s; want each the same",
			c.Batch, again.Batch, c.Product, again.Product, plain.Product)
	}
	if plain.Batch != (common.Address{}) {
		t.Errorf("Chain.Batch = %s without Options.Batch, want the zero address", plain.Batch)
	}
	if n, err := plain.Client.NonceAt(t.Context(), plain.Owner, nil); err != nil || n != 1 {
		t.Errorf("owner's nonce without Options.Batch = %d, %v; want 1 (the product's deployment alone)", n, err)
	}
}

// TestWebsocketPushesHeads: the same port serves JSON-RPC over a websocket,
// and a newHeads subscription on it is told of every sealed block, as a
// hosted node's wss endpoint tells the relay.
func TestWebsocketPushesHeads(t *testing.T) {
	c := start(t, devchain.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if want := strings.Replace(c.URL, "http://", "ws://", 1); c.WSURL != want {
		t.Fatalf("WSURL = %q, want %q", c.WSURL, want)
	}
	ws, err := ethclient.DialContext(ctx, c.WSURL)
	if err != nil {
		t.Fatalf("dial %s: %v", c.WSURL, err)
	}
	defer ws.Close()
	heads := make(chan *types.Header, 4)
	sub, err := ws.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatalf("subscribe newHeads: %v", err)
	}
	defer sub.Unsubscribe()
	for range 2 {
		sealed := c.Commit()
		select {
		case h := <-heads:
			if h.Hash() != sealed {
				t.Fatalf("pushed head %s, sealed %s", h.Hash(), sealed)
			}
		case err := <-sub.Err():
			t.Fatalf("subscription ended: %v", err)
		case <-ctx.Done():
			t.Fatal("no head pushed for a sealed block")
		}
	}
}
