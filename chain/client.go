package chain

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/chain/depeg"
)

// Client is an ethclient plus the batched look-ups the relay needs: one
// JSON-RPC batch for all in-flight receipts instead of one call each.
type Client struct {
	*ethclient.Client
	rpc *rpc.Client
	ep  *endpoint // for PushesHeads and scrubbing subscription errors
}

// Dial builds the client of CHAIN_RPC_URL (http, https, ws or wss) without
// reaching the node: its first call does (endpoint.dial). The URL may carry
// an API key in its path or query, or credentials in its userinfo. No error
// of Dial or of the returned Client's methods (the embedded ethclient's and
// the batches) names more of it than scheme://host[:port]: see endpoint.
func Dial(ctx context.Context, rawURL string) (*Client, error) {
	ep, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dial chain rpc: %w", err)
	}
	rc, err := ep.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial chain rpc %s: %w", ep.origin, ep.scrubError(err))
	}
	return &Client{Client: ethclient.NewClient(rc), rpc: rc, ep: ep}, nil
}

// maxBatch bounds one JSON-RPC batch: geth refuses batches of more than
// 1000 calls and hosted providers often allow far fewer.
const maxBatch = 100

// Receipts fetches the receipts of hashes in JSON-RPC batches of at most
// maxBatch calls. A nil entry means the node has no receipt (not mined, or
// reorganised away). Any failed call fails the whole look-up: "unknown" must
// never be mistaken for "not mined".
func (c *Client) Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error) {
	decoded, err := byHash[rpcReceipt](ctx, c, "eth_getTransactionReceipt", "receipts", hashes)
	if err != nil {
		return nil, err
	}
	out := make([]*types.Receipt, len(decoded))
	for i, d := range decoded {
		if d == nil {
			continue
		}
		if out[i], err = d.receipt(); err != nil {
			return nil, fmt.Errorf("batch receipts: %w", err)
		}
	}
	return out, nil
}

// byHash runs method once per hash in JSON-RPC batches; a nil entry is a
// hash the node has nothing for.
func byHash[T any](ctx context.Context, c *Client, method, what string, hashes []common.Hash) ([]*T, error) {
	if c.overHTTP() {
		out, err := lookupHTTP[T](ctx, c.ep, method, hashes)
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", what, err)
		}
		return out, nil
	}
	out := make([]*T, len(hashes))
	err := c.batch(ctx, len(hashes), func(i int) rpc.BatchElem {
		return rpc.BatchElem{Method: method, Args: []any{hashes[i]}, Result: &out[i]}
	})
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", what, err)
	}
	return out, nil
}

// BlockHashes returns the canonical hashes of the given block numbers (zero
// hash for a block the node does not have), in batches. The relay compares
// them with its receipts' block hashes to notice reorgs without re-reading
// every receipt on every pass.
func (c *Client) BlockHashes(ctx context.Context, numbers []uint64) ([]common.Hash, error) {
	headers := make([]*types.Header, len(numbers))
	err := c.batch(ctx, len(numbers), func(i int) rpc.BatchElem {
		return rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.EncodeUint64(numbers[i]), false}, Result: &headers[i]}
	})
	if err != nil {
		return nil, fmt.Errorf("batch block hashes: %w", err)
	}
	out := make([]common.Hash, len(numbers))
	for i, h := range headers {
		if h != nil {
			out[i] = h.Hash()
		}
	}
	return out, nil
}

// EstimateGasBatch simulates several calls in JSON-RPC batches: one round
// trip for a whole read of applications instead of one each. gas[i] is valid
// where errs[i] is nil; errs[i] is the node's answer for that call (a revert
// is recognised by AsRevert). err is set when the batch itself failed.
func (c *Client) EstimateGasBatch(ctx context.Context, msgs []ethereum.CallMsg) (gas []uint64, errs []error, err error) {
	if c.overHTTP() {
		calls := make([]httpCall, len(msgs))
		for i, m := range msgs {
			calls[i] = httpCall{method: "eth_estimateGas", params: estimateParams(m)}
		}
		out, errs, err := batchesHTTP[hexutil.Uint64](ctx, c.ep, calls, false)
		if err != nil {
			return nil, nil, fmt.Errorf("batch estimate gas: %w", err)
		}
		gas = make([]uint64, len(msgs))
		for i, g := range out {
			if g != nil {
				gas[i] = uint64(*g)
			}
		}
		return gas, errs, nil
	}
	out := make([]hexutil.Uint64, len(msgs))
	errs, err = c.batchEach(ctx, len(msgs), func(i int) rpc.BatchElem {
		arg := map[string]any{"from": msgs[i].From, "to": msgs[i].To, "input": hexutil.Bytes(msgs[i].Data)}
		return rpc.BatchElem{Method: "eth_estimateGas", Args: []any{arg}, Result: &out[i]}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("batch estimate gas: %w", err)
	}
	gas = make([]uint64, len(msgs))
	for i := range out {
		gas[i] = uint64(out[i])
	}
	return gas, errs, nil
}

// SendTransactions broadcasts signed transactions in JSON-RPC batches, in the
// given order (the relay passes them by ascending nonce; a node also queues
// a nonce that arrives before its predecessor). errs[i] is the node's answer
// for tx i, to be read with ClassifySendError; err means the whole batch's
// fate is unknown.
func (c *Client) SendTransactions(ctx context.Context, txs []*types.Transaction) (errs []error, err error) {
	raws := make([]hexutil.Bytes, len(txs))
	for i, tx := range txs {
		if raws[i], err = tx.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("encode transaction %s: %w", tx.Hash(), err)
		}
	}
	if c.overHTTP() {
		calls := make([]httpCall, len(txs))
		for i, raw := range raws {
			calls[i] = httpCall{method: "eth_sendRawTransaction", params: rawTxParams(raw)}
		}
		if _, errs, err = batchesHTTP[common.Hash](ctx, c.ep, calls, false); err != nil {
			return nil, fmt.Errorf("batch send: %w", err)
		}
		return errs, nil
	}
	var ignored common.Hash
	errs, err = c.batchEach(ctx, len(txs), func(i int) rpc.BatchElem {
		return rpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{raws[i]}, Result: &ignored}
	})
	if err != nil {
		return nil, fmt.Errorf("batch send: %w", err)
	}
	return errs, nil
}

// overHTTP: the endpoint is http(s), and batches go through batchHTTP
// rather than the rpc client.
func (c *Client) overHTTP() bool { return c.ep != nil && c.ep.hc != nil }

// batchEach runs calls in batches of at most maxBatch and returns each call's
// own error; err is set only when a batch as a whole failed.
func (c *Client) batchEach(ctx context.Context, n int, elem func(i int) rpc.BatchElem) (errs []error, err error) {
	errs = make([]error, n)
	for start := 0; start < n; start += maxBatch {
		end := min(start+maxBatch, n)
		batch := make([]rpc.BatchElem, 0, end-start)
		for i := start; i < end; i++ {
			batch = append(batch, elem(i))
		}
		if err := c.rpc.BatchCallContext(ctx, batch); err != nil {
			return nil, err
		}
		for i, b := range batch {
			errs[start+i] = b.Error
		}
	}
	return errs, nil
}

// batch is batchEach for look-ups where any failed call fails them all.
func (c *Client) batch(ctx context.Context, n int, elem func(i int) rpc.BatchElem) error {
	errs, err := c.batchEach(ctx, n, elem)
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Signer signs EIP-1559 transactions for the relay's wallet. The private key
// never leaves it and is never formatted. A Signer built by NewRemoteSigner
// holds no key at all: it asks a key management service (remote.go).
type Signer struct {
	key     *ecdsa.PrivateKey
	remote  *remoteKey // nil for a local key
	address common.Address
	signer  types.Signer
}

// NewSigner binds a key to a chain id.
func NewSigner(key *ecdsa.PrivateKey, chainID *big.Int) *Signer {
	return &Signer{key: key, address: crypto.PubkeyToAddress(key.PublicKey), signer: types.LatestSignerForChainID(chainID)}
}

// Address is the wallet's address.
func (s *Signer) Address() common.Address { return s.address }

// String never reveals the key.
func (s *Signer) String() string { return "signer(" + s.address.Hex() + ")" }

// Sign builds and signs a dynamic-fee transaction. The caller has already
// applied FeePolicy, so fees are within MAX_FEE_PER_GAS.
func (s *Signer) Sign(call Call, nonce, gas uint64, fees Fees) (*types.Transaction, error) {
	if s.remote != nil {
		return s.signRemote(context.Background(), call, nonce, gas, fees)
	}
	tx, err := types.SignNewTx(s.key, s.signer, s.unsigned(call, nonce, gas, fees))
	if err != nil {
		return nil, fmt.Errorf("sign nonce %d: %w", nonce, err)
	}
	return tx, nil
}

// Call is a contract call ready to simulate or sign.
type Call struct {
	To   common.Address
	Data []byte
}

// Msg is the call as an eth_call / eth_estimateGas message from the wallet.
func (c Call) Msg(from common.Address) ethereum.CallMsg {
	to := c.To
	return ethereum.CallMsg{From: from, To: &to, Data: c.Data}
}

// Product packs calls to the deployed DepegProduct.
type Product struct {
	Address common.Address
	binding *depeg.DepegProduct
	created common.Hash // LogDepegApplicationCreated's topic
}

// NewProduct returns the binding of the product at address.
func NewProduct(address common.Address) *Product {
	b := depeg.NewDepegProduct()
	return &Product{Address: address, binding: b, created: b.GetABI().Events["LogDepegApplicationCreated"].ID}
}

// ApplicationArgs are the arguments of applyForPolicyWithBundleAndSignature.
type ApplicationArgs struct {
	PolicyHolder, ProtectedWallet        common.Address
	ProtectedBalance, Duration, BundleID *big.Int
	SignatureID                          [32]byte
	Signature                            []byte
}

// Apply packs applyForPolicyWithBundleAndSignature.
func (p *Product) Apply(a ApplicationArgs) (Call, error) {
	data, err := p.binding.TryPackApplyForPolicyWithBundleAndSignature(
		a.PolicyHolder, a.ProtectedWallet, a.ProtectedBalance, a.Duration, a.BundleID, a.SignatureID, a.Signature)
	if err != nil {
		return Call{}, fmt.Errorf("pack application: %w", err)
	}
	return Call{To: p.Address, Data: data}, nil
}

// ApplicationCreated reports whether a receipt holds the product's
// LogDepegApplicationCreated event: proof the application was created.
func (p *Product) ApplicationCreated(r *types.Receipt) bool {
	id := p.binding.GetABI().Events["LogDepegApplicationCreated"].ID
	for _, l := range r.Logs {
		if l.Address == p.Address && len(l.Topics) > 0 && l.Topics[0] == id {
			return true
		}
	}
	return false
}

// SignatureOf extracts the user's signature from packed application calldata,
// so a journaled transaction can be matched to the signature the contract
// keys "used" by.
func (p *Product) SignatureOf(data []byte) ([]byte, error) {
	a, err := p.DecodeApply(data)
	if err != nil {
		return nil, err
	}
	return a.Signature, nil
}
