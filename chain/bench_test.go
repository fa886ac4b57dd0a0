package chain_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
)

const benchMnemonic = "test test test test test test test test test test test junk"

var benchProduct = common.HexToAddress("0xaaA6975B481Eb6B050f213095E368Daf00C34D03")

func benchArgs(b *testing.B) chain.ApplicationArgs {
	b.Helper()
	sig := make([]byte, 65)
	_, _ = rand.Read(sig)
	var id [32]byte
	copy(id[:], "V1StGXR8_Z5jdHi6B-myT")
	return chain.ApplicationArgs{
		PolicyHolder:     common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
		ProtectedWallet:  common.HexToAddress("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
		ProtectedBalance: big.NewInt(5_123_456_789), Duration: big.NewInt(2_592_000), BundleID: big.NewInt(1),
		SignatureID: id, Signature: sig,
	}
}

// BenchmarkSignerSign signs one application transaction (EIP-1559, chain id
// 1337) with the relay's wallet: the only signing the relay does per
// application.
func BenchmarkSignerSign(b *testing.B) {
	key, err := chain.DeriveKey(benchMnemonic, 0)
	if err != nil {
		b.Fatal(err)
	}
	s := chain.NewSigner(key, big.NewInt(1337))
	call, err := chain.NewProduct(benchProduct).Apply(benchArgs(b))
	if err != nil {
		b.Fatal(err)
	}
	fees := chain.Fees{FeeCap: big.NewInt(30 * params.GWei), TipCap: big.NewInt(params.GWei)}
	b.ReportAllocs()
	nonce := uint64(0)
	for b.Loop() {
		if _, err := s.Sign(call, nonce, 331_982, fees); err != nil {
			b.Fatal(err)
		}
		nonce++
	}
}

// BenchmarkProductApply packs applyForPolicyWithBundleAndSignature calldata.
func BenchmarkProductApply(b *testing.B) {
	p := chain.NewProduct(benchProduct)
	args := benchArgs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignatureOf unpacks the user's signature from journaled calldata
// (done once per journal record at start-up, not per loop iteration).
func BenchmarkSignatureOf(b *testing.B) {
	p := chain.NewProduct(benchProduct)
	call, err := p.Apply(benchArgs(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.SignatureOf(call.Data); err != nil {
			b.Fatal(err)
		}
	}
}

var benchReasons = []string{
	"ERROR:DMH-001:SIGNATURE_USED", "ERROR:DMH-002:SIGNATURE_INVALID", "ECDSA: invalid signature 's' value",
	"ERROR:DP-010:PRODUCT_NOT_ACTIVE", "ERROR:DP-011:WALLET_ADDRESS_ZERO", "ERROR:DP-014:BALANCE_TOO_LOW",
	"ERROR:DP-016:UNDERWRITING_FAILED", "something else entirely",
}

// BenchmarkClassifyRevert maps a revert reason to its class; one op is one
// reason, cycling through the table (known and unknown reasons).
func BenchmarkClassifyRevert(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = chain.ClassifyRevert(benchReasons[i%len(benchReasons)])
		i++
	}
}

// benchDataError is what go-ethereum's rpc client returns for a JSON-RPC
// error with data: the revert payload of eth_estimateGas.
type benchDataError struct {
	msg  string
	data any
}

func (e benchDataError) Error() string  { return e.msg }
func (e benchDataError) ErrorCode() int { return 3 }
func (e benchDataError) ErrorData() any { return e.data }

// revertData ABI-encodes Error(string), as a node returns it.
func revertData(reason string) string {
	sel := crypto.Keccak256([]byte("Error(string)"))[:4]
	buf := append([]byte{}, sel...)
	word := func(n int) []byte { return common.LeftPadBytes(big.NewInt(int64(n)).Bytes(), 32) }
	buf = append(buf, word(32)...)
	buf = append(buf, word(len(reason))...)
	padded := make([]byte, (len(reason)+31)/32*32)
	copy(padded, reason)
	buf = append(buf, padded...)
	return hexutil.Encode(buf)
}

// BenchmarkAsRevert recognises and decodes a revert from an RPC error: the
// node's Error(string) data, a bare "execution reverted" message, and a
// transport error (not a revert).
func BenchmarkAsRevert(b *testing.B) {
	cases := []struct {
		name string
		err  error
	}{
		{"data", benchDataError{msg: "execution reverted: ERROR:DMH-001:SIGNATURE_USED", data: revertData("ERROR:DMH-001:SIGNATURE_USED")}},
		{"message", errors.New("execution reverted: ERROR:DP-014:BALANCE_TOO_LOW")},
		{"transport", fmt.Errorf("post: %w", context.DeadlineExceeded)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = chain.AsRevert(c.err)
			}
		})
	}
}

// BenchmarkClassifySendError maps a node's answer to eth_sendRawTransaction.
func BenchmarkClassifySendError(b *testing.B) {
	errs := []error{nil, errors.New("already known"), errors.New("nonce too low"),
		errors.New("replacement transaction underpriced"), context.DeadlineExceeded, errors.New("something new")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = chain.ClassifySendError(errs[i%len(errs)])
		i++
	}
}

// BenchmarkReceipts is the tracker's one RPC per pass that grows with the
// window: a JSON-RPC batch of eth_getTransactionReceipt for every hash in
// flight, over HTTP to an embedded geth node. The cost per pass is linear in
// the hashes asked for (the window), never in the backlog.
func BenchmarkReceipts(b *testing.B) {
	key, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{from}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := chain.Dial(ctx, dc.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.Close)

	// 512 mined transfers to look up.
	signer := types.LatestSignerForChainID(dc.ChainID)
	var hashes []common.Hash
	to := common.HexToAddress("0x00000000000000000000000000000000000000f1")
	for nonce := range uint64(512) {
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: dc.ChainID, Nonce: nonce,
			GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1)})
		if err := client.SendTransaction(ctx, tx); err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, tx.Hash())
	}
	dc.Commit()
	for _, n := range []int{16, 128, 512} {
		b.Run(fmt.Sprintf("hashes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs, err := client.Receipts(ctx, hashes[:n])
				if err != nil {
					b.Fatal(err)
				}
				if rs[n-1] == nil {
					b.Fatal("transfer not mined")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/hash")
		})
	}
}
