package relay_test

import (
	"crypto/ecdsa"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

func applyCall(t *testing.T, p *chain.Product, app *frontend.Application) chain.Call {
	t.Helper()
	sid, err := frontend.SignatureIDToBytes32(app.SignatureID)
	if err != nil {
		t.Fatal(err)
	}
	call, err := p.Apply(chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
		SignatureID: sid, Signature: app.Signature})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// newUserKey is a user's key, apart from the relay's wallet: the tests fund
// its address at genesis (envOptions.alsoFund) to compete with the relay.
func newUserKey(t *testing.T) (*ecdsa.PrivateKey, common.Address) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key, crypto.PubkeyToAddress(key.PublicKey)
}

// TestMinedRevertIsDeadLettered: someone else applies the same signature in
// the same block, ahead of us; our transaction reverts on chain and the entry
// is dead-lettered with the reason and our transaction hash.
func TestMinedRevertIsDeadLettered(t *testing.T) {
	userKey, userAddr := newUserKey(t)
	e := newEnv(t, envOptions{confirmations: 2, alsoFund: []common.Address{userAddr}})
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	q := e.enqueueApp(app)
	e.start()
	e.waitBroadcast(1)
	ours := e.txHash(q.entityID)

	// The user front-runs us with a much higher tip.
	user := chain.NewSigner(userKey, e.chain.ChainID)
	head, err := e.client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(5_000_000_000)
	tx, err := user.Sign(applyCall(t, e.product, app), 0, 1_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	// Settled: the entry acknowledged (with its dead letter) and then, last,
	// its journal record forgotten; waiting on the ack alone raced with the
	// record's removal.
	e.mineUntil(30*time.Second, "settled", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })

	dl := e.deadLetters()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	v := dl[0].Values
	if v["class"] != "reverted" || !strings.Contains(v["reason"].(string), "SIGNATURE_USED") || v["transactionHash"] != ours {
		t.Fatalf("dead letter %v: want class reverted, reason SIGNATURE_USED, transactionHash %s", v, ours)
	}
	if !strings.Contains(v["application"].(string), app.SignatureID) {
		t.Fatalf("dead letter does not keep the application: %v", v["application"])
	}
	if e.exists(stream.ApplicationKey(q.entityID)) || len(e.journal()) != 0 {
		t.Fatalf("hash or journal record left behind")
	}
	if got := metricValue(t, e, "depeg_relay_tx_reverted_last_24h"); got != 1 {
		t.Fatalf("reverted-in-24h gauge %v, want 1", got)
	}
}

// TestAdoptsRecordedTransaction: an entry left pending by the old processor
// (or by a relay whose journal was lost), whose hash names a transaction of
// ours that already created the application. The pre-flight would now say
// SIGNATURE_USED; that is success: the entry is acknowledged and no second
// transaction is sent.
func TestAdoptsRecordedTransaction(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2})
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The "old processor" submits from the same wallet and records the hash.
	tx := e.sendOutside(app)
	e.chain.Commit()
	fields := frontend.Fields(app)
	fields[stream.FieldTransactionHash] = tx.Hash().Hex()
	id := frontend.NewEntityID()
	if _, err := frontend.Enqueue(t.Context(), e.rdb, e.keys.Stream, id, fields); err != nil {
		t.Fatal(err)
	}
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)

	e.start()
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 && !e.exists(stream.ApplicationKey(id)) })
	if len(e.deadLetters()) != 0 {
		t.Fatalf("dead-lettered an application our own transaction created: %v", e.deadLetters())
	}
	if e.created(sid) != 1 || e.walletNonce() != 1 {
		t.Fatalf("created %d, wallet nonce %d; want 1, 1", e.created(sid), e.walletNonce())
	}
}

// TestResurrectedRecordIsForgotten: Redis restored from a snapshot brings
// back a journal record the relay had already forgotten, with the
// application's hash and its pending entry. The running relay adopts the
// application by its transactionHash, confirms it, and forgets the record
// of its own mined transaction too, instead of leaving it in the journal
// until the next restart (e2e/faults, "Redis loses its last second,
// processor running").
func TestResurrectedRecordIsForgotten(t *testing.T) {
	e := newEnv(t, envOptions{confirmations: 2})
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := e.enqueueApp(app)
	e.start()
	e.waitBroadcast(1)
	snapshot := e.journal()
	if len(snapshot) != 1 {
		t.Fatalf("journal %+v, want the one record", snapshot)
	}
	e.mineUntil(30*time.Second, "acknowledged", func() bool { return e.pending() == 0 && len(e.journal()) == 0 })

	// The restore: the record, and the application with its transactionHash
	// in a pending entry.
	if err := e.queue.Record(t.Context(), snapshot[0]); err != nil {
		t.Fatal(err)
	}
	fields := frontend.Fields(app)
	fields[stream.FieldTransactionHash] = snapshot[0].CurrentHash()
	if _, err := frontend.Enqueue(t.Context(), e.rdb, e.keys.Stream, first.entityID, fields); err != nil {
		t.Fatal(err)
	}
	e.mineUntil(30*time.Second, "the restored entry acknowledged and the record forgotten", func() bool {
		return e.pending() == 0 && e.queueLen() == 2 && len(e.journal()) == 0
	})
	if e.created(first.signatureID) != 1 || e.walletNonce() != 1 || len(e.deadLetters()) != 0 {
		t.Fatalf("created %d, wallet nonce %d, dead letters %v; want 1, 1, none", e.created(first.signatureID), e.walletNonce(), e.deadLetters())
	}
}
