package frontend_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/oklog/ulid/v2"

	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/devchain/testcontract"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

func TestSignatureIDToBytes32(t *testing.T) {
	pad := func(s string) [32]byte {
		var b [32]byte
		copy(b[:], s)
		return b
	}
	tests := []struct {
		name    string
		id      string
		want    [32]byte
		wantErr bool
	}{
		{name: "empty", id: "", wantErr: true},
		{name: "ascii", id: "abc", want: [32]byte{'a', 'b', 'c'}},
		{name: "nanoid", id: "V1StGXR8_Z5jdHi6B-myT", want: pad("V1StGXR8_Z5jdHi6B-myT")},
		{name: "31 bytes", id: strings.Repeat("x", 31), want: pad(strings.Repeat("x", 31))},
		{name: "32 bytes", id: strings.Repeat("x", 32), wantErr: true},
		{name: "40 bytes", id: strings.Repeat("x", 40), wantErr: true},
		// "é" is 2 bytes and "€" 3 in UTF-8: limits count bytes, not runes.
		{name: "multibyte", id: "é€", want: [32]byte{0xc3, 0xa9, 0xe2, 0x82, 0xac}},
		{name: "multibyte 31 bytes", id: strings.Repeat("€", 10) + "x", want: pad(strings.Repeat("€", 10) + "x")},
		{name: "multibyte 33 bytes", id: strings.Repeat("€", 11), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := frontend.SignatureIDToBytes32(tt.id)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SignatureIDToBytes32(%q) = %x, want error", tt.id, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("SignatureIDToBytes32(%q): %v", tt.id, err)
			}
			if got != tt.want {
				t.Errorf("SignatureIDToBytes32(%q) = %x, want %x", tt.id, got, tt.want)
			}
		})
	}
}

func testApp() *frontend.Application {
	return &frontend.Application{
		ProtectedWallet:  common.HexToAddress("0x2CeC4C063Fef1074B0CD53022C3306A6FADb4729"),
		ProtectedBalance: big.NewInt(5_000_000_000),
		Duration:         big.NewInt(30 * 24 * 3600),
		BundleID:         big.NewInt(7),
		SignatureID:      "V1StGXR8_Z5jdHi6B-myT",
		Timestamp:        time.UnixMilli(1732380000123),
	}
}

func TestSignRecoversPolicyHolder(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	chainID := big.NewInt(1337)
	helper := common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
	app := testApp()
	if err := frontend.Sign(key, chainID, helper, app); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if want := crypto.PubkeyToAddress(key.PublicKey); app.PolicyHolder != want {
		t.Errorf("PolicyHolder = %s, want signer %s", app.PolicyHolder, want)
	}
	if len(app.Signature) != 65 {
		t.Fatalf("signature is %d bytes, want 65", len(app.Signature))
	}
	if v := app.Signature[64]; v != 27 && v != 28 {
		t.Errorf("v = %d, want 27 or 28", v)
	}

	hash, err := frontend.Digest(chainID, helper, app)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	sig := bytes.Clone(app.Signature)
	sig[64] -= 27
	pub, err := crypto.SigToPub(hash, sig)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != app.PolicyHolder {
		t.Errorf("recovered %s, want policy holder %s", got, app.PolicyHolder)
	}

	// Every signed field and the domain are bound into the hash.
	mutations := map[string]func(a *frontend.Application){
		"wallet":      func(a *frontend.Application) { a.ProtectedWallet[0] ^= 1 },
		"balance":     func(a *frontend.Application) { a.ProtectedBalance = big.NewInt(1) },
		"duration":    func(a *frontend.Application) { a.Duration = big.NewInt(1) },
		"bundle":      func(a *frontend.Application) { a.BundleID = big.NewInt(8) },
		"signatureId": func(a *frontend.Application) { a.SignatureID = "other" },
	}
	for name, mutate := range mutations {
		a := *app
		mutate(&a)
		h, err := frontend.Digest(chainID, helper, &a)
		if err != nil {
			t.Fatalf("%s: Digest: %v", name, err)
		}
		if bytes.Equal(h, hash) {
			t.Errorf("changing %s does not change the digest", name)
		}
	}
	if h, _ := frontend.Digest(big.NewInt(1), helper, app); bytes.Equal(h, hash) {
		t.Error("chain id is not bound into the digest")
	}
	if h, _ := frontend.Digest(chainID, common.Address{1}, app); bytes.Equal(h, hash) {
		t.Error("verifying contract is not bound into the digest")
	}

	bad := testApp()
	bad.SignatureID = strings.Repeat("x", 32)
	if err := frontend.Sign(key, chainID, helper, bad); err == nil {
		t.Error("Sign accepted a 32-byte signatureId")
	}
}

func TestFields(t *testing.T) {
	app := testApp()
	app.PolicyHolder = common.HexToAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
	app.Signature = append(bytes.Repeat([]byte{0xAB}, 64), 0x1c)
	want := map[string]string{
		"policyHolder":     "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
		"protectedWallet":  "0x2CeC4C063Fef1074B0CD53022C3306A6FADb4729",
		"protectedBalance": "5000000000",
		"duration":         "2592000",
		"bundleId":         "7",
		"signatureId":      "V1StGXR8_Z5jdHi6B-myT",
		"signature":        "0x" + strings.Repeat("ab", 64) + "1c",
		"timestamp":        "1732380000.123",
	}
	got := frontend.Fields(app)
	if len(got) != len(want) {
		t.Errorf("Fields has %d entries, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Fields[%q] = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["transactionHash"]; ok {
		t.Error("a fresh application has a transactionHash")
	}
}

func TestEpochSeconds(t *testing.T) {
	// What JavaScript prints for date.getTime() / 1000.
	tests := map[int64]string{
		1732380000123: "1732380000.123",
		1732380000100: "1732380000.1",
		1732380000120: "1732380000.12",
		1732380000000: "1732380000",
		1732380000001: "1732380000.001",
		1732380000999: "1732380000.999",
	}
	for ms, want := range tests {
		if got := frontend.EpochSeconds(time.UnixMilli(ms)); got != want {
			t.Errorf("EpochSeconds(%d ms) = %q, want %q", ms, got, want)
		}
	}
	// Sub-millisecond precision is dropped, as a JavaScript Date has none.
	if got := frontend.EpochSeconds(time.UnixMilli(1732380000123).Add(999 * time.Microsecond)); got != "1732380000.123" {
		t.Errorf("EpochSeconds truncation = %q", got)
	}
}

func TestNewSigned(t *testing.T) {
	chainID := big.NewInt(1337)
	helper := common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
	a, err := frontend.NewSigned(chainID, helper, 3)
	if err != nil {
		t.Fatalf("NewSigned: %v", err)
	}
	b, err := frontend.NewSigned(chainID, helper, 3)
	if err != nil {
		t.Fatalf("NewSigned: %v", err)
	}
	if a.PolicyHolder == b.PolicyHolder || a.ProtectedWallet == b.ProtectedWallet || a.SignatureID == b.SignatureID {
		t.Errorf("two applications share a key, wallet or signatureId: %+v %+v", a, b)
	}
	if len(a.SignatureID) != 21 || strings.Trim(a.SignatureID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		t.Errorf("signatureId %q is not a 21-char nanoid", a.SignatureID)
	}
	if a.BundleID.Int64() != 3 || a.Duration.Int64() != 2592000 {
		t.Errorf("bundle %v duration %v, want 3 and 2592000", a.BundleID, a.Duration)
	}
	if a.ProtectedBalance.Cmp(big.NewInt(5_000_000_000)) < 0 || a.ProtectedBalance.Cmp(big.NewInt(6_000_000_000)) >= 0 {
		t.Errorf("protectedBalance %v outside [5000, 6000) USDC", a.ProtectedBalance)
	}
	if time.Since(a.Timestamp) > time.Minute {
		t.Errorf("timestamp %v is not now", a.Timestamp)
	}
	hash, err := frontend.Digest(chainID, helper, a)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	sig := bytes.Clone(a.Signature)
	sig[64] -= 27
	pub, err := crypto.SigToPub(hash, sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != a.PolicyHolder {
		t.Errorf("signature does not recover to the policy holder (err %v)", err)
	}
}

func TestNewEntityID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := frontend.NewEntityID()
		u, err := ulid.ParseStrict(id)
		if err != nil {
			t.Fatalf("NewEntityID() = %q: %v", id, err)
		}
		if d := time.Since(ulid.Time(u.Time())); d < -time.Second || d > time.Minute {
			t.Errorf("ULID %s time is %v off now", id, d)
		}
		if seen[id] {
			t.Fatalf("duplicate ULID %s", id)
		}
		seen[id] = true
	}
}

func TestBadCases(t *testing.T) {
	cases, err := frontend.BadCases(big.NewInt(1337), common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"))
	if err != nil {
		t.Fatalf("BadCases: %v", err)
	}
	want := []string{"missing-hash", "no-entity-id", "bad-policy-holder", "bad-protected-balance",
		"long-signature-id", "wrong-signer", "bundle-id-zero"}
	byName := map[string]frontend.BadCase{}
	for _, c := range cases {
		if c.Name == "" || c.WantReasonContains == "" {
			t.Errorf("case %+v lacks a name or reason", c)
		}
		if c.RawEntry == nil {
			if _, err := ulid.ParseStrict(c.EntityID); err != nil {
				t.Errorf("case %s: entity id %q: %v", c.Name, c.EntityID, err)
			}
		}
		byName[c.Name] = c
	}
	for _, name := range want {
		if _, ok := byName[name]; !ok {
			t.Errorf("no bad case %q", name)
		}
	}
	if !byName["missing-hash"].NoHash {
		t.Error("missing-hash writes a hash")
	}
	if got := byName["long-signature-id"].Fields["signatureId"]; len(got) != 40 {
		t.Errorf("long signatureId is %d chars", len(got))
	}
	if got := byName["bundle-id-zero"].Fields["bundleId"]; got != "0" {
		t.Errorf("bundle-id-zero has bundleId %q", got)
	}
	if got := byName["bad-protected-balance"].Fields["protectedBalance"]; got != "abc" {
		t.Errorf("bad-protected-balance has %q", got)
	}
	if got := byName["bad-policy-holder"].Fields["policyHolder"]; common.IsHexAddress(got) {
		t.Errorf("bad-policy-holder has a valid address %q", got)
	}
}

// errorAs is errors.As for a target type, to keep assertions on one line.
func errorAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// revertReason extracts the Solidity revert string from an RPC error, as the
// relay will: the node puts the revert data in the JSON-RPC error's data.
func revertReason(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want a revert")
	}
	de, ok := errorAs[rpc.DataError](err)
	if !ok {
		t.Fatalf("error %v (%T) carries no revert data", err, err)
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		t.Fatalf("revert data %v is %T, want hex string", de.ErrorData(), de.ErrorData())
	}
	data, err := hexutil.Decode(s)
	if err != nil {
		t.Fatalf("decode revert data %q: %v", s, err)
	}
	reason, err := abi.UnpackRevert(data)
	if err != nil {
		t.Fatalf("unpack revert data %x: %v", data, err)
	}
	return reason
}

func applyCalldata(t *testing.T, p *testcontract.DepegProduct, app *frontend.Application) []byte {
	t.Helper()
	sigID, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	return p.PackApplyForPolicyWithBundleAndSignature(app.PolicyHolder, app.ProtectedWallet,
		app.ProtectedBalance, app.Duration, app.BundleID, sigID, app.Signature)
}

// TestContractAcceptsSignature proves that Sign produces exactly what the
// Solidity message helper verifies, and that the test contract reports the
// revert reasons the relay classifies.
func TestContractAcceptsSignature(t *testing.T) {
	relayKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := crypto.PubkeyToAddress(relayKey.PublicKey)
	chain, err := devchain.Start(devchain.Options{Fund: []common.Address{relayAddr}})
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	product := testcontract.NewDepegProduct()
	instance := product.Instance(chain.Client, chain.Product)
	send := func(data []byte) (*types.Transaction, error) {
		opts := bind.NewKeyedTransactor(relayKey, chain.ChainID)
		opts.Context = ctx
		return bind.Transact(instance, opts, data)
	}

	userKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	app := testApp()
	app.Timestamp = time.Now()
	if err := frontend.Sign(userKey, chain.ChainID, chain.Helper, app); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	tx, err := send(applyCalldata(t, product, app))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	chain.Commit()
	receipt, err := bind.WaitMined(ctx, chain.Client, tx.Hash())
	if err != nil {
		t.Fatalf("wait for apply: %v", err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("apply reverted: %+v", receipt)
	}
	if len(receipt.Logs) != 1 {
		t.Fatalf("apply emitted %d logs, want 1", len(receipt.Logs))
	}
	ev, err := product.UnpackLogDepegApplicationCreatedEvent(receipt.Logs[0])
	if err != nil {
		t.Fatalf("unpack LogDepegApplicationCreated: %v", err)
	}
	if ev.PolicyHolder != app.PolicyHolder || ev.ProtectedWallet != app.ProtectedWallet {
		t.Errorf("event names %s / %s, want %s / %s", ev.PolicyHolder, ev.ProtectedWallet, app.PolicyHolder, app.ProtectedWallet)
	}
	sigID, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	if n, err := chain.ApplicationsBySignatureID(ctx, sigID); err != nil || n != 1 {
		t.Errorf("ApplicationsBySignatureID = %d, %v; want 1", n, err)
	}

	// The same signature again: the helper remembers it.
	if _, err := send(applyCalldata(t, product, app)); !strings.Contains(revertReason(t, err), "ERROR:DMH-001:SIGNATURE_USED") {
		t.Errorf("second apply: %v, want SIGNATURE_USED", err)
	}

	// Signed by another key than the policy holder named in the call.
	wrong := testApp()
	wrong.SignatureID = "wrong-key"
	otherKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := frontend.Sign(otherKey, chain.ChainID, chain.Helper, wrong); err != nil {
		t.Fatal(err)
	}
	wrong.PolicyHolder = app.PolicyHolder
	_, err = chain.Client.CallContract(ctx, ethereum.CallMsg{From: relayAddr, To: &chain.Product, Data: applyCalldata(t, product, wrong)}, nil)
	if got := revertReason(t, err); got != "ERROR:DMH-002:SIGNATURE_INVALID" {
		t.Errorf("wrong-key apply reverted with %q, want ERROR:DMH-002:SIGNATURE_INVALID", got)
	}

	// Signed for another chain: same failure, the domain is bound in.
	foreign := testApp()
	foreign.SignatureID = "foreign-chain"
	if err := frontend.Sign(userKey, big.NewInt(1), chain.Helper, foreign); err != nil {
		t.Fatal(err)
	}
	_, err = chain.Client.CallContract(ctx, ethereum.CallMsg{From: relayAddr, To: &chain.Product, Data: applyCalldata(t, product, foreign)}, nil)
	if got := revertReason(t, err); got != "ERROR:DMH-002:SIGNATURE_INVALID" {
		t.Errorf("foreign-chain apply reverted with %q, want ERROR:DMH-002:SIGNATURE_INVALID", got)
	}

	// NewSigned applications are valid as they come.
	fresh, err := frontend.NewSigned(chain.ChainID, chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.Client.CallContract(ctx, ethereum.CallMsg{From: relayAddr, To: &chain.Product, Data: applyCalldata(t, product, fresh)}, nil); err != nil {
		t.Errorf("NewSigned application rejected: %v", err)
	}

	// The bad cases that only the chain can judge fail there as promised.
	cases, err := frontend.BadCases(chain.ChainID, chain.Helper)
	if err != nil {
		t.Fatal(err)
	}
	for _, bc := range cases {
		if bc.Name != "wrong-signer" && bc.Name != "bundle-id-zero" {
			continue
		}
		app := appFromFields(t, bc.Fields)
		_, err := chain.Client.CallContract(ctx, ethereum.CallMsg{From: relayAddr, To: &chain.Product, Data: applyCalldata(t, product, app)}, nil)
		if got := revertReason(t, err); !strings.Contains(got, bc.WantReasonContains) {
			t.Errorf("bad case %s reverted with %q, want it to contain %q", bc.Name, got, bc.WantReasonContains)
		}
	}
}

// appFromFields decodes a well-formed hash, as the relay would.
func appFromFields(t *testing.T, f map[string]string) *frontend.Application {
	t.Helper()
	num := func(k string) *big.Int {
		n, ok := new(big.Int).SetString(f[k], 10)
		if !ok {
			t.Fatalf("field %s=%q is not decimal", k, f[k])
		}
		return n
	}
	sig, err := hexutil.Decode(f["signature"])
	if err != nil {
		t.Fatalf("field signature: %v", err)
	}
	return &frontend.Application{
		PolicyHolder:     common.HexToAddress(f["policyHolder"]),
		ProtectedWallet:  common.HexToAddress(f["protectedWallet"]),
		ProtectedBalance: num("protectedBalance"),
		Duration:         num("duration"),
		BundleID:         num("bundleId"),
		SignatureID:      f["signatureId"],
		Signature:        sig,
	}
}

func TestEnqueue(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := t.Context()
	app, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	entityID := frontend.NewEntityID()
	fields := frontend.Fields(app)
	entryID, err := frontend.Enqueue(ctx, rdb, "application:signatures", entityID, fields)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}

	got, err := rdb.HGetAll(ctx, "PendingApplication:"+entityID).Result()
	if err != nil {
		t.Fatalf("HGETALL: %v", err)
	}
	if !maps.Equal(got, fields) {
		t.Errorf("HGETALL = %v, want %v", got, fields)
	}
	entries, err := rdb.XRange(ctx, "application:signatures", "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("stream has %d entries, want 1: %v", len(entries), entries)
	}
	if e := entries[0]; e.ID != entryID || len(e.Values) != 1 || e.Values["entityId"] != entityID {
		t.Errorf("entry = %+v, want %s {entityId: %s}", e, entryID, entityID)
	}
}

func TestEnqueueBadCase(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := t.Context()
	cases, err := frontend.BadCases(big.NewInt(1337), common.Address{1})
	if err != nil {
		t.Fatal(err)
	}
	const stream = "application:signatures"
	for _, bc := range cases {
		id, err := frontend.EnqueueBadCase(ctx, rdb, stream, bc)
		if err != nil {
			t.Fatalf("EnqueueBadCase(%s): %v", bc.Name, err)
		}
		entries, err := rdb.XRange(ctx, stream, id, id).Result()
		if err != nil || len(entries) != 1 {
			t.Fatalf("%s: XRANGE %s = %v, %v", bc.Name, id, entries, err)
		}
		values := entries[0].Values
		switch {
		case bc.RawEntry != nil:
			if _, ok := values["entityId"]; ok || values["foo"] != "bar" {
				t.Errorf("%s: entry %v", bc.Name, values)
			}
		default:
			if values["entityId"] != bc.EntityID {
				t.Errorf("%s: entry %v, want entityId %s", bc.Name, values, bc.EntityID)
			}
			n, err := rdb.Exists(ctx, "PendingApplication:"+bc.EntityID).Result()
			if err != nil {
				t.Fatal(err)
			}
			if hasHash := n == 1; hasHash == bc.NoHash {
				t.Errorf("%s: hash exists = %t, NoHash = %t", bc.Name, hasHash, bc.NoHash)
			}
		}
	}
	if n, err := rdb.XLen(ctx, stream).Result(); err != nil || n != int64(len(cases)) {
		t.Errorf("XLEN = %d, %v; want %d", n, err, len(cases))
	}
}
