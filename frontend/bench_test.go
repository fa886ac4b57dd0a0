package frontend_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/frontend"
)

var (
	benchChainID = big.NewInt(1337)
	benchHelper  = common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
)

// BenchmarkDigest computes the EIP-712 hash of a Policy message.
func BenchmarkDigest(b *testing.B) {
	app, err := frontend.NewSigned(benchChainID, benchHelper, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := frontend.Digest(benchChainID, benchHelper, app); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign signs a Policy message as the user's wallet does (digest and
// secp256k1 signature).
func BenchmarkSign(b *testing.B) {
	app, err := frontend.NewSigned(benchChainID, benchHelper, 1)
	if err != nil {
		b.Fatal(err)
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := frontend.Sign(key, benchChainID, benchHelper, app); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the EIP-712 check the message helper makes on chain,
// done off chain: digest, public key recovery, compare with the policy
// holder. It is what a relay would pay to refuse a bad signature without an
// eth_estimateGas round trip.
func BenchmarkVerify(b *testing.B) {
	app, err := frontend.NewSigned(benchChainID, benchHelper, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		digest, err := frontend.Digest(benchChainID, benchHelper, app)
		if err != nil {
			b.Fatal(err)
		}
		sig := bytes.Clone(app.Signature)
		sig[crypto.RecoveryIDOffset] -= 27
		pub, err := crypto.SigToPub(digest, sig)
		if err != nil {
			b.Fatal(err)
		}
		if crypto.PubkeyToAddress(*pub) != app.PolicyHolder {
			b.Fatal("signer is not the policy holder")
		}
	}
}

// BenchmarkNewSigned creates and signs a whole application with a fresh
// user key, as the load harness does before a run.
func BenchmarkNewSigned(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := frontend.NewSigned(benchChainID, benchHelper, 1); err != nil {
			b.Fatal(err)
		}
	}
}
