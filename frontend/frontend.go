// Package frontend does what the web frontend does with a policy application:
// the user's EIP-712 signature, the redis-om HASH it stores, and the stream
// entry that hands the application to the relay. Tests, cmd/enqueue and the
// load harness use it so that the relay is always fed byte-for-byte what
// production feeds it (docs/design.md, "The fixed contracts").
package frontend

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
	"github.com/oklog/ulid/v2"

	"github.com/etherisc/depeg-relay/stream"
)

// Field names of the PendingApplication hash and of the stream entry: the
// relay's stream package owns the layout (docs/design.md, "The fixed contracts"); the frontend
// stand-in writes exactly what the relay reads.
const (
	FieldPolicyHolder     = stream.FieldPolicyHolder
	FieldProtectedWallet  = stream.FieldProtectedWallet
	FieldProtectedBalance = stream.FieldProtectedBalance
	FieldDuration         = stream.FieldDuration
	FieldBundleID         = stream.FieldBundleID
	FieldSignatureID      = stream.FieldSignatureID
	FieldSignature        = stream.FieldSignature
	FieldTimestamp        = stream.FieldTimestamp
	FieldTransactionHash  = stream.FieldTransactionHash
	StreamFieldEntityID   = stream.FieldEntityID
)

// EIP-712 domain and type of the policy message, as the deployed message
// helper checks them.
const (
	DomainName    = "EtheriscDepeg"
	DomainVersion = "1"
	PrimaryType   = "Policy"
)

const (
	// signatureIDLength and signatureIDAlphabet are nanoid's defaults. The
	// alphabet has 64 symbols, so masking a random byte with 63 is unbiased.
	signatureIDLength   = 21
	signatureIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

	// policyDuration is the 30 days the frontend offers by default.
	policyDuration = 30 * 24 * time.Hour
)

// Application is one policy application as the frontend creates it.
type Application struct {
	// PolicyHolder signed the message; Sign sets it to the signing key.
	PolicyHolder common.Address
	// ProtectedWallet is the message's "wallet".
	ProtectedWallet  common.Address
	ProtectedBalance *big.Int
	// Duration is in seconds.
	Duration *big.Int
	BundleID *big.Int
	// SignatureID is the nanoid the frontend generates; on chain it is the
	// bytes32 of SignatureIDToBytes32.
	SignatureID string
	// Signature is 65 bytes r||s||v with v in {27, 28}, as ethers produces.
	Signature []byte
	// Timestamp is when the frontend created the application.
	Timestamp time.Time
}

// SignatureIDToBytes32 encodes a signatureId as ethers' formatBytes32String
// does: its UTF-8 bytes right-padded with zeros. Like ethers it rejects 32
// bytes or more (no room for the terminating zero); unlike ethers it rejects
// the empty string, which the frontend never produces and which would make
// every empty id collide on chain.
func SignatureIDToBytes32(id string) ([32]byte, error) {
	return stream.SignatureIDToBytes32(id)
}

// TypedData is the EIP-712 message the user signs for app in the frontend.
// It fails only on an invalid SignatureID or a nil number.
func TypedData(chainID *big.Int, verifyingContract common.Address, app *Application) (apitypes.TypedData, error) {
	if chainID == nil || app.ProtectedBalance == nil || app.Duration == nil || app.BundleID == nil {
		return apitypes.TypedData{}, errors.New("chainID, protectedBalance, duration and bundleId must be set")
	}
	sigID, err := SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		return apitypes.TypedData{}, err
	}
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"},
				{Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			PrimaryType: {
				{Name: "wallet", Type: "address"},
				{Name: "protectedBalance", Type: "uint256"},
				{Name: "duration", Type: "uint256"},
				{Name: "bundleId", Type: "uint256"},
				{Name: "signatureId", Type: "bytes32"},
			},
		},
		PrimaryType: PrimaryType,
		Domain: apitypes.TypedDataDomain{
			Name:              DomainName,
			Version:           DomainVersion,
			ChainId:           (*math.HexOrDecimal256)(new(big.Int).Set(chainID)),
			VerifyingContract: verifyingContract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			// apitypes takes addresses as hex strings (common.Address is
			// not one of the Go types it accepts).
			"wallet":           app.ProtectedWallet.Hex(),
			"protectedBalance": new(big.Int).Set(app.ProtectedBalance),
			"duration":         new(big.Int).Set(app.Duration),
			"bundleId":         new(big.Int).Set(app.BundleID),
			"signatureId":      sigID[:],
		},
	}, nil
}

// Digest is the EIP-712 hash the policy holder signs; the contract recovers
// the signer from it. The relay may use it to check a signature before paying
// gas for an application that would revert.
func Digest(chainID *big.Int, verifyingContract common.Address, app *Application) ([]byte, error) {
	td, err := TypedData(chainID, verifyingContract, app)
	if err != nil {
		return nil, fmt.Errorf("build typed data: %w", err)
	}
	hash, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		return nil, fmt.Errorf("hash typed data: %w", err)
	}
	return hash, nil
}

// Sign signs app as the user's wallet does (eth_signTypedData_v4 through
// ethers) and makes key's address the policy holder.
func Sign(key *ecdsa.PrivateKey, chainID *big.Int, verifyingContract common.Address, app *Application) error {
	app.PolicyHolder = crypto.PubkeyToAddress(key.PublicKey)
	hash, err := Digest(chainID, verifyingContract, app)
	if err != nil {
		return fmt.Errorf("sign application %s: %w", app.SignatureID, err)
	}
	sig, err := crypto.Sign(hash, key)
	if err != nil {
		return fmt.Errorf("sign application %s: %w", app.SignatureID, err)
	}
	sig[crypto.RecoveryIDOffset] += 27 // go-ethereum yields v in {0,1}; ethers and ecrecover use {27,28}
	app.Signature = sig
	return nil
}

// NewSigned creates an application as a fresh user would: a new key as the
// policy holder, a random wallet to protect, about 5000 USDC (6 decimals),
// 30 days, a new nanoid signatureId, signed for chainID and verifyingContract
// (the message helper).
func NewSigned(chainID *big.Int, verifyingContract common.Address, bundleID int64) (*Application, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate policy holder key: %w", err)
	}
	var wallet common.Address
	if _, err := rand.Read(wallet[:]); err != nil {
		return nil, fmt.Errorf("generate protected wallet: %w", err)
	}
	extra, err := rand.Int(rand.Reader, big.NewInt(1000_000_000))
	if err != nil {
		return nil, fmt.Errorf("generate protected balance: %w", err)
	}
	sigID, err := NewSignatureID()
	if err != nil {
		return nil, err
	}
	app := &Application{
		ProtectedWallet:  wallet,
		ProtectedBalance: extra.Add(extra, big.NewInt(5000_000_000)),
		Duration:         big.NewInt(int64(policyDuration / time.Second)),
		BundleID:         big.NewInt(bundleID),
		SignatureID:      sigID,
		Timestamp:        time.Now(),
	}
	if err := Sign(key, chainID, verifyingContract, app); err != nil {
		return nil, err
	}
	return app, nil
}

// NewSignatureID returns a 21-character nanoid (alphabet A-Za-z0-9_-) from
// crypto/rand, like the frontend's signatureId.
func NewSignatureID() (string, error) {
	return randomID(signatureIDLength)
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate signatureId: %w", err)
	}
	for i := range b {
		b[i] = signatureIDAlphabet[b[i]&63]
	}
	return string(b), nil
}

// Fields is app encoded as the frontend's redis-om 0.4 HASH: every value a
// string, addresses checksummed, numbers in decimal, the signature as
// lowercase 0x hex, and the timestamp as epoch seconds with milliseconds as
// JavaScript prints Date/1000 (e.g. "1732380000.123", "1732380000.1",
// "1732380000"). transactionHash is absent, as in a fresh application.
func Fields(app *Application) map[string]string {
	return map[string]string{
		FieldPolicyHolder:     app.PolicyHolder.Hex(),
		FieldProtectedWallet:  app.ProtectedWallet.Hex(),
		FieldProtectedBalance: decimal(app.ProtectedBalance),
		FieldDuration:         decimal(app.Duration),
		FieldBundleID:         decimal(app.BundleID),
		FieldSignatureID:      app.SignatureID,
		FieldSignature:        hexutil.Encode(app.Signature),
		FieldTimestamp:        EpochSeconds(app.Timestamp),
	}
}

// EpochSeconds formats t as redis-om 0.4 stores a date in a HASH: epoch
// milliseconds divided by 1000 and printed like a JavaScript number. Go's
// shortest float formatting equals JavaScript's for these magnitudes.
func EpochSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

func decimal(n *big.Int) string {
	if n == nil {
		return ""
	}
	return n.String()
}

// NewEntityID returns a new ULID for an application, as redis-om generates
// its entity ids. Entropy comes from crypto/rand on every call, with no shared
// generator: the call is safe for concurrent use and needs no package state.
// Like redis-om's (non-monotonic) ulid(), two ids made in the same millisecond
// are unordered; nothing depends on their order, the stream entry id carries
// arrival order.
func NewEntityID() string {
	// crypto/rand.Read never fails (it aborts the program instead), so
	// MustNew cannot panic here.
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}
