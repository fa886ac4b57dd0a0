// Package devchain runs an embedded EVM (go-ethereum's simulated backend)
// with the project's DepegProduct test contract deployed, reachable over real
// JSON-RPC on 127.0.0.1. Tests and the service's dev mode talk to it exactly as
// they talk to a remote node (HTTP, batching, revert data in rpc errors), so
// nothing is mocked between the relay and the chain; only block production is
// under the caller's control (Commit, Produce).
package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/devchain/testcontract"
)

// ChainID is the chain id of every devchain; the simulated backend hard-codes it.
const ChainID = 1337

const (
	// host is the only interface a devchain ever binds: it holds funded keys
	// and accepts unsigned admin-free RPC, so it must not be reachable from
	// the network.
	host = "127.0.0.1"

	defaultGasLimit = 30_000_000

	// startTimeout bounds deploying the contract while starting.
	startTimeout = 30 * time.Second

	// bindAttempts is how often Start retries when a port picked for Port 0
	// was taken by someone else between picking and binding.
	bindAttempts = 5

	// receiptPoll is how often a sent transaction's receipt is polled; blocks
	// are sealed on demand, so receipts appear within milliseconds.
	receiptPoll = 10 * time.Millisecond
)

// Options configures Start. The zero value is a usable chain on a free port.
type Options struct {
	// Port is the TCP port of the JSON-RPC HTTP server on 127.0.0.1.
	// 0 picks a free port.
	Port int
	// Fund lists addresses credited with FundAmount in the genesis block,
	// e.g. the processor's hot wallet or a load generator's keys.
	Fund []common.Address
	// FundAmount is the genesis balance of each address in Fund, in wei.
	// nil means 1000 ETH.
	FundAmount *big.Int
	// GasLimit is the block gas limit. 0 means 30,000,000 (mainnet-like), so
	// the gas burner of the test contract fills blocks as it would on mainnet.
	GasLimit uint64
	// PoolSlots, when set, makes the node keep at most that many executable
	// transactions per sender, and as many queued ones, dropping the rest
	// without telling the sender: a busy geth pool or a hosted provider's
	// node (txpool.accountslots and globalslots), instead of the simulated
	// backend's roomy default. Local-transaction tracking is off too, as on
	// a remote node, so dropped transactions stay dropped.
	PoolSlots uint64
	// PoolSenders is how many senders the pool makes room for with
	// PoolSlots each (default 1). geth keeps AccountSlots per sender only
	// as a guarantee; what caps a sender is the pool's global size, which a
	// busy pool has filled with others. So one sender is capped by global
	// slots of PoolSlots, and N senders of ours, each with its guarantee, by
	// N x PoolSlots.
	PoolSenders uint64
	// OwnerKey, when set, deploys the product: the same key gives the same
	// product and helper addresses on every start (dev mode's fixed
	// addresses, which README's signed example needs). Nil: a fresh key.
	OwnerKey *ecdsa.PrivateKey
	// PriceBump, when set, is the pool's replacement rule in percent
	// (txpool.pricebump; geth's default is 10): a same-nonce replacement
	// must raise both fees by at least this much or it is refused.
	PriceBump uint64
	// Batch, when set, also deploys the batch contract for the product
	// (package chain/batch, DepegApplicationBatch), from the owner right
	// after the product, and sets Chain.Batch: dev mode batches with it.
	// The owner's next nonce deploys it, so with OwnerKey its address is
	// fixed too.
	Batch bool
}

// Chain is a running devchain with the test DepegProduct deployed (and,
// with Options.Batch, the batch contract for it).
//
// Commit, Produce and the owner helpers may be called concurrently. Blocks
// should be sealed through Chain.Commit rather than Backend.Commit while
// Produce runs: the simulated beacon does not serialise concurrent seals.
type Chain struct {
	// URL is the JSON-RPC endpoint, http://127.0.0.1:<port>.
	URL string
	// WSURL is the same endpoint over a websocket, ws://127.0.0.1:<port>
	// (same port): what a client that subscribes to newHeads dials.
	WSURL string
	// ChainID is 1337.
	ChainID *big.Int
	// Product is the address of the deployed test DepegProduct.
	Product common.Address
	// Helper is the product's message helper, the EIP-712 verifyingContract.
	Helper common.Address
	// Batch is the batch contract deployed for Product with Options.Batch;
	// the zero address without it.
	Batch common.Address
	// Owner deployed the product and is the only account allowed to pause it
	// or change its gas burn.
	Owner common.Address
	// Backend is the simulated chain itself, for Fork, AdjustTime and the like.
	Backend *simulated.Backend
	// Client is dialled to URL over HTTP, so it behaves like a client of a
	// remote node (Client.Client() gives the rpc client for batches).
	Client *ethclient.Client

	ownerKey *ecdsa.PrivateKey
	binding  *testcontract.DepegProduct
	contract *bind.BoundContract

	// sealMu serialises block sealing and guards closed.
	sealMu sync.Mutex
	closed bool
	// ownerMu keeps the owner's transactions in nonce order.
	ownerMu sync.Mutex
}

// Start launches a devchain, serves JSON-RPC on 127.0.0.1 and deploys the test
// DepegProduct from a fresh owner key. It starts no goroutine of its own
// beyond those of the embedded node; the caller must Close the chain.
func Start(opts Options) (*Chain, error) {
	ownerKey := opts.OwnerKey
	if ownerKey == nil {
		var err error
		if ownerKey, err = crypto.GenerateKey(); err != nil {
			return nil, fmt.Errorf("generate owner key: %w", err)
		}
	}
	c := &Chain{
		ChainID:  big.NewInt(ChainID),
		Owner:    crypto.PubkeyToAddress(ownerKey.PublicKey),
		ownerKey: ownerKey,
		binding:  testcontract.NewDepegProduct(),
	}
	backend, port, err := startBackend(opts, genesisAlloc(opts, c.Owner))
	if err != nil {
		return nil, err
	}
	c.Backend = backend
	c.URL = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	c.WSURL = "ws://" + net.JoinHostPort(host, strconv.Itoa(port))

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.init(ctx, opts); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// genesisAlloc funds the owner (who pays for deployment and admin calls) and
// every address the caller asked for.
func genesisAlloc(opts Options, owner common.Address) types.GenesisAlloc {
	amount := opts.FundAmount
	if amount == nil {
		amount = new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))
	}
	alloc := types.GenesisAlloc{
		owner: {Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))},
	}
	for _, a := range opts.Fund {
		alloc[a] = types.Account{Balance: new(big.Int).Set(amount)}
	}
	return alloc
}

// startBackend creates the simulated backend with its HTTP server enabled.
// simulated.Backend does not expose its node, so the port actually bound
// cannot be read back: for Port 0 a free port is picked first, and the start
// retried on the rare collision with another process binding it meanwhile.
func startBackend(opts Options, alloc types.GenesisAlloc) (*simulated.Backend, int, error) {
	gasLimit := opts.GasLimit
	if gasLimit == 0 {
		gasLimit = defaultGasLimit
	}
	attempts := 1
	if opts.Port == 0 {
		attempts = bindAttempts
	}
	var lastErr error
	for range attempts {
		port := opts.Port
		if port == 0 {
			p, err := freePort()
			if err != nil {
				return nil, 0, err
			}
			port = p
		}
		backend, err := newBackend(alloc, gasLimit, port, opts)
		if err == nil {
			return backend, port, nil
		}
		lastErr = err
	}
	return nil, 0, lastErr
}

// newBackend turns the panic simulated.NewBackend raises when the node cannot
// start (typically: the HTTP port is taken) into an error.
func newBackend(alloc types.GenesisAlloc, gasLimit uint64, port int, opts Options) (backend *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start simulated backend on %s:%d: %v", host, port, r)
		}
	}()
	return simulated.NewBackend(alloc,
		simulated.WithBlockGasLimit(gasLimit),
		withHTTP(port),
		withPool(opts),
	), nil
}

// withPool applies Options.PoolSlots and Options.PriceBump; zero values
// keep the default pool.
func withPool(opts Options) func(*node.Config, *ethconfig.Config) {
	return func(_ *node.Config, ethConf *ethconfig.Config) {
		if opts.PriceBump != 0 {
			ethConf.TxPool.PriceBump = opts.PriceBump
		}
		if slots := opts.PoolSlots; slots != 0 {
			senders := max(opts.PoolSenders, 1)
			ethConf.TxPool.AccountSlots, ethConf.TxPool.GlobalSlots = slots, slots*senders
			ethConf.TxPool.AccountQueue, ethConf.TxPool.GlobalQueue = slots, slots*senders
			ethConf.TxPool.NoLocals = true
		}
	}
}

// withHTTP enables the node's plain JSON-RPC HTTP server, which the simulated
// backend leaves off (it only attaches in-process), and JSON-RPC over a
// websocket on the same port (geth serves both on one listener when the
// ports match), so a client can subscribe to newHeads as on a hosted node's
// wss endpoint. Only the read/send namespaces a relay uses are exposed; the
// authenticated engine API stays off because nothing registers it.
func withHTTP(port int) func(*node.Config, *ethconfig.Config) {
	modules := []string{"eth", "net", "web3", "txpool"}
	return func(nodeConf *node.Config, _ *ethconfig.Config) {
		nodeConf.HTTPHost = host
		nodeConf.HTTPPort = port
		nodeConf.HTTPModules = modules
		nodeConf.HTTPVirtualHosts = []string{"localhost"}
		nodeConf.WSHost = host
		nodeConf.WSPort = port
		nodeConf.WSModules = modules
		nodeConf.IPCPath = ""
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// init dials the HTTP endpoint and deploys the product (and the batch
// contract with options.Batch) through it, which also proves the endpoint
// works before Start returns.
func (c *Chain) init(ctx context.Context, options Options) error {
	client, err := ethclient.DialContext(ctx, c.URL)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.URL, err)
	}
	c.Client = client

	code := common.FromHex(testcontract.DepegProductMetaData.Bin)
	if len(code) == 0 {
		return errors.New("deploy product: test contract has no bytecode")
	}
	opts := c.ownerOpts(ctx)
	addr, tx, err := bind.DeployContract(opts, code, c.Client, nil)
	if err != nil {
		return fmt.Errorf("deploy product: %w", err)
	}
	c.Product = addr
	c.contract = c.binding.Instance(c.Client, addr)
	if err := c.mine(ctx, tx); err != nil {
		return fmt.Errorf("deploy product: %w", err)
	}
	helper, err := bind.Call(c.contract, &bind.CallOpts{Context: ctx},
		c.binding.PackGetMessageHelperAddress(), c.binding.UnpackGetMessageHelperAddress)
	if err != nil {
		return fmt.Errorf("read message helper address: %w", err)
	}
	c.Helper = helper
	if options.Batch {
		if c.Batch, err = c.deployBatch(ctx); err != nil {
			return err
		}
	}
	return nil
}

// deployBatch deploys the batch contract for the product from the owner
// and waits until it is mined.
func (c *Chain) deployBatch(ctx context.Context) (common.Address, error) {
	code := common.FromHex(batch.DepegApplicationBatchMetaData.Bin)
	if len(code) == 0 {
		return common.Address{}, errors.New("deploy batch contract: it has no bytecode")
	}
	addr, tx, err := bind.DeployContract(c.ownerOpts(ctx), code, c.Client, batch.NewDepegApplicationBatch().PackConstructor(c.Product))
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy batch contract: %w", err)
	}
	if err := c.mine(ctx, tx); err != nil {
		return common.Address{}, fmt.Errorf("deploy batch contract: %w", err)
	}
	return addr, nil
}

func (c *Chain) ownerOpts(ctx context.Context) *bind.TransactOpts {
	opts := bind.NewKeyedTransactor(c.ownerKey, c.ChainID)
	opts.Context = ctx
	return opts
}

// Commit seals a block now with whatever is in the pool, including
// transactions sent over HTTP, and returns the new head's hash. After Close it
// does nothing and returns the zero hash.
//
// Block timestamps are wall-clock seconds, but each block is at least one
// second after its parent: committing faster than once a second moves the
// chain's clock ahead of the wall clock.
func (c *Chain) Commit() common.Hash {
	c.sealMu.Lock()
	defer c.sealMu.Unlock()
	if c.closed {
		return common.Hash{}
	}
	return c.Backend.Commit()
}

// Produce seals a block every period until ctx is done, like a real chain
// with a fixed block time. It blocks; the caller runs it in a goroutine it
// owns and waits for.
func (c *Chain) Produce(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Commit()
		}
	}
}

// Close stops the node and releases the HTTP port. Safe to call twice.
func (c *Chain) Close() error {
	c.sealMu.Lock()
	defer c.sealMu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.Client != nil {
		c.Client.Close()
	}
	if err := c.Backend.Close(); err != nil {
		return fmt.Errorf("close simulated backend: %w", err)
	}
	return nil
}

// SetActive pauses (false) or resumes (true) the product, so tests can
// provoke ERROR:DP-010:PRODUCT_NOT_ACTIVE. It returns once the change is mined.
func (c *Chain) SetActive(ctx context.Context, active bool) error {
	if err := c.ownerTx(ctx, c.binding.PackSetActive(active)); err != nil {
		return fmt.Errorf("set product active=%t: %w", active, err)
	}
	return nil
}

// SetGasBurnIterations makes each application burn extra gas (one keccak per
// iteration), so an application costs what it does on mainnet and blocks can
// be filled. It returns once the change is mined.
func (c *Chain) SetGasBurnIterations(ctx context.Context, n uint64) error {
	if err := c.ownerTx(ctx, c.binding.PackSetGasBurnIterations(new(big.Int).SetUint64(n))); err != nil {
		return fmt.Errorf("set gas burn iterations=%d: %w", n, err)
	}
	return nil
}

// ApplicationsBySignatureID reports how many applications were created with
// this signatureId at the head block: exactly one is the relay's promise.
func (c *Chain) ApplicationsBySignatureID(ctx context.Context, id [32]byte) (uint64, error) {
	n, err := bind.Call(c.contract, &bind.CallOpts{Context: ctx},
		c.binding.PackApplicationsBySignatureId(id), c.binding.UnpackApplicationsBySignatureId)
	if err != nil {
		return 0, fmt.Errorf("read applicationsBySignatureId(%x): %w", id, err)
	}
	return n.Uint64(), nil
}

// ApplicationCount reports how many applications the product created in all.
func (c *Chain) ApplicationCount(ctx context.Context) (uint64, error) {
	n, err := bind.Call(c.contract, &bind.CallOpts{Context: ctx},
		c.binding.PackApplicationCount(), c.binding.UnpackApplicationCount)
	if err != nil {
		return 0, fmt.Errorf("read applicationCount: %w", err)
	}
	return n.Uint64(), nil
}

// ownerTx sends calldata to the product from the owner, seals a block and
// waits for a successful receipt.
func (c *Chain) ownerTx(ctx context.Context, data []byte) error {
	c.ownerMu.Lock()
	defer c.ownerMu.Unlock()
	// An admin call tips three times the node's suggestion, so a pause sent
	// while the relay's transactions wait in the pool is mined ahead of them
	// in the same block, as an operator's emergency pause would be.
	opts := c.ownerOpts(ctx)
	tip, err := c.Client.SuggestGasTipCap(ctx)
	if err != nil {
		return fmt.Errorf("suggest tip: %w", err)
	}
	opts.GasTipCap = tip.Mul(tip, big.NewInt(3))
	tx, err := bind.Transact(c.contract, opts, data)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return c.mine(ctx, tx)
}

// mine seals a block and waits until tx has a successful receipt. One seal
// suffices: the beacon syncs the pool before sealing, so a transaction sent
// before Commit is in that block (or in an earlier one sealed by Produce).
func (c *Chain) mine(ctx context.Context, tx *types.Transaction) error {
	c.Commit()
	t := time.NewTicker(receiptPoll)
	defer t.Stop()
	for {
		receipt, err := c.Client.TransactionReceipt(ctx, tx.Hash())
		switch {
		case err == nil && receipt.Status == types.ReceiptStatusSuccessful:
			return nil
		case err == nil:
			return fmt.Errorf("tx %s reverted in block %s", tx.Hash(), receipt.BlockNumber)
		case !errors.Is(err, ethereum.NotFound) && ctx.Err() != nil:
			return fmt.Errorf("wait for receipt of %s: %w", tx.Hash(), err)
		}
		// NotFound, or the receipt index lagging the head for a moment: poll
		// again until the caller's deadline.
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for receipt of %s: %w", tx.Hash(), ctx.Err())
		case <-t.C:
		}
	}
}
