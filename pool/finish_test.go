package pool_test

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/pool"
	"github.com/etherisc/depeg-relay/stream"
)

const mnemonic = "test test test test test test test test test test test junk"

// orphanEnv is a key that journaled transactions and died: its journal,
// its entries pending under its consumer, no lease.
type orphanEnv struct {
	t      *testing.T
	dc     *devchain.Chain
	client *chain.Client
	rdb    *redis.Client
	signer *chain.Signer
	q      *stream.Queue // the dead key's queue
	keys   stream.Keys
	prod   *chain.Product
	clock  *fakeclock.Clock
}

func newOrphanEnv(t *testing.T) *orphanEnv {
	t.Helper()
	key, err := chain.DeriveKey(mnemonic, 4)
	if err != nil {
		t.Fatal(err)
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	// The batch contract is deployed by the devchain's owner: the dead
	// key's nonces start at 0.
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{addr}, Batch: true}, 0)
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	rdb := redistest.Start(t).Client()
	wallet := strings.ToLower(addr.Hex())
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "dead-process/" + wallet, DeadLetter: "application:signatures:dead", Wallet: wallet}
	e := &orphanEnv{t: t, dc: dc, client: client, rdb: rdb, signer: chain.NewSigner(key, dc.ChainID),
		q: stream.NewQueue(rdb, keys), keys: keys, prod: chain.NewProduct(dc.Product),
		clock: fakeclock.New(time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC))}
	if err := e.q.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.TakeOver(t.Context()); err != nil { // registers the wallet, as the dead key's relay did
		t.Fatal(err)
	}
	return e
}

// journal enqueues an application, reads it as the dead key, signs its
// transaction at nonce, journals it and, if broadcast, sends it.
func (e *orphanEnv) journal(nonce uint64, broadcast bool) (entityID, entryID string) {
	e.t.Helper()
	app, err := frontend.NewSigned(e.dc.ChainID, e.dc.Helper, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	entityID = frontend.NewEntityID()
	if entryID, err = frontend.Enqueue(e.t.Context(), e.rdb, e.keys.Stream, entityID, frontend.Fields(app)); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.q.ReadNew(e.t.Context(), 1, time.Millisecond); err != nil {
		e.t.Fatal(err)
	}
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	call, err := e.prod.Apply(chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
		SignatureID: sid, Signature: app.Signature})
	if err != nil {
		e.t.Fatal(err)
	}
	head, err := e.client.HeaderByNumber(e.t.Context(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := e.signer.Sign(call, nonce, 1_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	// Claimed before signing, as the dead key's relay did.
	if _, err := e.q.ClaimOwners(e.t.Context(), e.keys.Wallet, stream.OwnerClaim{SigHash: crypto.Keccak256Hash(app.Signature), EntryID: entryID}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.q.Record(e.t.Context(), stream.TxRecord{Nonce: nonce, EntryID: entryID, EntityID: entityID,
		Hashes: []string{tx.Hash().Hex()}, RawTx: hexutil.Encode(raw), SignedAt: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
	if broadcast {
		if err := e.client.SendTransaction(e.t.Context(), tx); err != nil {
			e.t.Fatal(err)
		}
	}
	return entityID, entryID
}

func (e *orphanEnv) finisher(own ...string) *pool.Finisher {
	ownSet := map[string]bool{}
	for _, w := range own {
		ownSet[w] = true
	}
	live := stream.NewQueue(e.rdb, stream.Keys{Stream: e.keys.Stream, Group: e.keys.Group, Consumer: "live/0x00",
		DeadLetter: e.keys.DeadLetter, Wallet: "0x0000000000000000000000000000000000000001"})
	return pool.NewFinisher(pool.FinisherConfig{Confirmations: 2, HandOnAfter: 10 * time.Minute, LeaseTTL: 15 * time.Second,
		RPCTimeout: 5 * time.Second, Own: ownSet, Now: e.clock.Now, Product: e.prod}, zerolog.Nop(), e.rdb,
		pool.NewIdentity(e.rdb, live, nil), e.client, live)
}

// claims is how many claims on applications the pool holds.
func (e *orphanEnv) claims() int {
	keys, err := e.rdb.Keys(e.t.Context(), stream.OwnerKeys(e.keys.Stream)+"*").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

func (e *orphanEnv) journalLen() int64 {
	n, err := e.rdb.HLen(e.t.Context(), e.q.JournalKey()).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *orphanEnv) pendingIDs() map[string]bool {
	p, err := e.rdb.XPendingExt(e.t.Context(), &redis.XPendingExtArgs{Stream: e.keys.Stream, Group: e.keys.Group,
		Start: "-", End: "+", Count: 100}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, x := range p {
		out[x.ID] = true
	}
	return out
}

// TestFinisherSettlesAndHandsOnOrphanedJournal: a key no live process holds
// left three transactions in its journal: two broadcast and mined, one
// journaled and never broadcast. The pool acknowledges the two mined ones
// once deep (hashes purged, records gone), and hands the unmined one back
// after ORPHAN_HANDOFF_AFTER (record gone, entry still pending, to be
// claimed by a live key). Nothing is done while the key looks held, and
// nothing before it has been seen unheld for longer than its renewal
// interval (issue 18, finding 1).
func TestFinisherSettlesAndHandsOnOrphanedJournal(t *testing.T) {
	e := newOrphanEnv(t)
	ent0, entry0 := e.journal(0, true)
	ent1, entry1 := e.journal(1, true)
	_, entry2 := e.journal(2, false)
	e.dc.Commit()
	e.dc.Commit()
	f := e.finisher()
	ctx := t.Context()

	// First sight: counted as orphaned, nothing done.
	f.Pass(ctx)
	if got := f.Orphans(); len(got) != 1 || got[0].Entries != 3 || got[0].Wallet != e.keys.Wallet {
		t.Fatalf("orphans after first pass = %+v, want %s with 3", got, e.keys.Wallet)
	}
	if n := e.journalLen(); n != 3 {
		t.Fatalf("journal after first sight = %d records, want 3 (nothing done yet)", n)
	}
	// A live holder appears (its lease key): hands off.
	if err := e.rdb.Set(ctx, lease.Key(e.keys.Wallet), "other-process/1/ab", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	f.Pass(ctx)
	if n := e.journalLen(); n != 3 || len(f.Orphans()) != 0 {
		t.Fatalf("with a live holder: journal %d, orphans %+v; want untouched and none", n, f.Orphans())
	}
	if err := e.rdb.Del(ctx, lease.Key(e.keys.Wallet)).Err(); err != nil {
		t.Fatal(err)
	}
	// Seen unheld again: the clock starts over, so no action within the
	// renewal interval.
	f.Pass(ctx)
	e.clock.Advance(5 * time.Second)
	f.Pass(ctx)
	if n := e.journalLen(); n != 3 {
		t.Fatalf("journal %d records within the renewal interval, want 3", n)
	}
	e.clock.Advance(5 * time.Second) // 10 s > LEASE_TTL/2
	f.Pass(ctx)
	if n := e.journalLen(); n != 1 {
		t.Fatalf("journal after settling = %d records, want 1 (the unmined one)", n)
	}
	pend := e.pendingIDs()
	if pend[entry0] || pend[entry1] || !pend[entry2] {
		t.Fatalf("pending after settling = %v; want only %s", pend, entry2)
	}
	for _, id := range []string{ent0, ent1} {
		if n, _ := e.rdb.Exists(ctx, stream.ApplicationKey(id)).Result(); n != 0 {
			t.Errorf("application %s not purged", id)
		}
	}
	if got := f.Orphans(); len(got) != 1 || got[0].Entries != 1 {
		t.Fatalf("orphans = %+v, want one with 1 record", got)
	}
	if n := e.claims(); n != 1 {
		t.Fatalf("claims after settling = %d, want 1 (the unmined application's)", n)
	}
	if v, _ := e.rdb.Get(ctx, lease.Key(e.keys.Wallet)).Result(); v != "" && v != lease.Released {
		t.Errorf("the pool kept the orphaned key's lease after its pass: %q", v)
	}
	// The unmined one waits until ORPHAN_HANDOFF_AFTER, then is handed on.
	e.clock.Advance(9 * time.Minute)
	f.Pass(ctx)
	if n := e.journalLen(); n != 1 {
		t.Fatalf("unmined record handed on early: journal %d", n)
	}
	e.clock.Advance(time.Minute)
	f.Pass(ctx)
	if n := e.journalLen(); n != 0 {
		t.Fatalf("unmined record not handed on after ORPHAN_HANDOFF_AFTER: journal %d", n)
	}
	if n := e.claims(); n != 0 {
		t.Fatalf("claims after handing on = %d, want 0: a live key must be free to sign", n)
	}
	if !e.pendingIDs()[entry2] {
		t.Fatalf("handed-on entry %s is no longer pending: it must wait for a live key", entry2)
	}
	if got := f.Orphans(); len(got) != 0 {
		t.Fatalf("orphans after everything = %+v, want none", got)
	}
	// The chain shows exactly the two broadcast transactions.
	if n, err := e.client.NonceAt(ctx, e.signer.Address(), nil); err != nil || n != 2 {
		t.Fatalf("dead key's mined nonce = %d (%v), want 2", n, err)
	}
}

// TestFinisherLeavesOwnKeys: a key this process lists is never finished
// by the pool, whatever its lease says.
func TestFinisherLeavesOwnKeys(t *testing.T) {
	e := newOrphanEnv(t)
	e.journal(0, true)
	e.dc.Commit()
	e.dc.Commit()
	f := e.finisher(e.keys.Wallet)
	f.Pass(t.Context())
	e.clock.Advance(time.Hour)
	f.Pass(t.Context())
	if n := e.journalLen(); n != 1 || len(f.Orphans()) != 0 {
		t.Fatalf("own key: journal %d, orphans %+v; want untouched", n, f.Orphans())
	}
}
