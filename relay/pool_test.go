package relay_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/pool"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

// poolKey is one more key of the env's mnemonic, with a relay of its own.
type poolKey struct {
	signer *chain.Signer
	queue  *stream.Queue
}

// keyAddress is the address of the test mnemonic's key idx.
func keyAddress(t *testing.T, idx uint32) common.Address {
	t.Helper()
	k, err := chain.DeriveKey(testMnemonic, idx)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// newPoolKey prepares key idx as a second relay of the pool on the env's
// stream: its own consumer and journal.
func (e *env) newPoolKey(idx uint32) *poolKey {
	e.t.Helper()
	k, err := chain.DeriveKey(testMnemonic, idx)
	if err != nil {
		e.t.Fatal(err)
	}
	s := chain.NewSigner(k, e.chain.ChainID)
	keys := e.keys
	keys.Wallet = strings.ToLower(s.Address().Hex())
	keys.Consumer = e.keys.Consumer + "/" + keys.Wallet
	return &poolKey{signer: s, queue: stream.NewQueue(e.rdb, keys)}
}

// identity is the pool's identity over the env's Redis, with legacy wallets.
func (e *env) identity(legacy ...common.Address) *pool.Identity {
	return pool.NewIdentity(e.rdb, e.queue, legacy)
}

// startKey runs a relay for k under cfg until the test ends.
func (e *env) startKey(k *poolKey, cfg relay.Config) {
	e.t.Helper()
	e.startKeyOn(k, k.queue, cfg)
}

// startKeyOn runs a relay for k on q (k's queue, wrapped by the test) under
// cfg until the test ends.
func (e *env) startKeyOn(k *poolKey, q relay.Queue, cfg relay.Config) {
	e.t.Helper()
	r := relay.New(cfg, zerolog.New(e.log).With().Str("key", k.signer.Address().Hex()).Timestamp().Logger(),
		&chainProbe{Chain: e.client, p: e.probe}, q, k.signer, e.product, e.probe, e.hb)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			e.t.Errorf("relay %s: %v", k.signer.Address().Hex(), err)
		}
	})
	e.t.Cleanup(func() { cancel(); wg.Wait() })
}

// deliver hands the next new entry of the stream to consumer, as if its
// relay had read it.
func (e *env) deliver(consumer string) {
	e.t.Helper()
	if err := e.queue.EnsureGroup(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	if err := e.rdb.XReadGroup(e.t.Context(), &redis.XReadGroupArgs{Group: e.keys.Group, Consumer: consumer,
		Streams: []string{e.keys.Stream, ">"}, Count: 1, Block: -1}).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// TestSameApplicationTwoKeysOneTransaction: the same application in two
// entries (a frontend retry), one read by each key of the pool, gets one
// transaction: the second key finds the first's claim and follows its
// outcome, so both entries are acknowledged, nothing is dead-lettered, and
// the two wallets together sent one transaction (issue 18, finding 2).
// On the fake clock: the key that follows the other's claim looks again
// ERROR_TIMEOUT later, and each look of the test lets one such wait pass.
func TestSameApplicationTwoKeysOneTransaction(t *testing.T) {
	second := keyAddress(t, 1)
	e := newEnv(t, envOptions{confirmations: 2, alsoFund: []common.Address{second}, fakeClock: true})
	e.cfg.Pool = e.identity()
	e.step = e.cfg.ErrorBackoff
	k1 := e.newPoolKey(1)
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := e.enqueueApp(app)
	e.deliver(e.keys.Consumer)
	b := e.enqueueApp(app)
	e.deliver(k1.queue.Consumer())
	// Both keys are held, as every running relay's is: a claim of a key
	// nobody holds is stale until journaled, and the other key could take
	// it over in between (a race this test is not about).
	for _, w := range []common.Address{e.signer.Address(), second} {
		if err := e.rdb.Set(t.Context(), lease.Key(strings.ToLower(w.Hex())), "held-by-test", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	e.startKey(k1, e.cfg)
	e.mineUntil(30*time.Second, "both entries acknowledged", func() bool {
		return e.pending() == 0 && !e.exists(stream.ApplicationKey(a.entityID)) && !e.exists(stream.ApplicationKey(b.entityID))
	})
	if n := e.created(a.signatureID); n != 1 {
		t.Errorf("application created %d times, want 1", n)
	}
	if d := e.deadLetters(); len(d) != 0 {
		t.Errorf("dead letters: %v", d)
	}
	n0, n1 := e.nonceOf(e.signer.Address()), e.nonceOf(second)
	if n0+n1 != 1 {
		t.Errorf("transactions sent: key 0 %d, key 1 %d; want one in all", n0, n1)
	}
	// The claims are given up right after the entries are acknowledged.
	e.until(10*time.Second, "no claim left after both entries settled", func() bool {
		keys, err := e.rdb.Keys(t.Context(), stream.OwnerKeys(e.keys.Stream)+"*").Result()
		return err == nil && len(keys) == 0
	})
}

// TestSignatureUsedByPoolWalletIsConfirmed: an application that another
// wallet of the pool applied (here the old processor's, named as legacy)
// is confirmed when its entry is read, never dead-lettered as "not ours"
// (issue 18, finding 2).
func TestSignatureUsedByPoolWalletIsConfirmed(t *testing.T) {
	legacy := keyAddress(t, 7)
	e := newEnv(t, envOptions{confirmations: 2, alsoFund: []common.Address{legacy}})
	e.cfg.Pool = e.identity(legacy)
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	old := e.newPoolKey(7)
	e.sendFrom(old.signer, app)
	e.chain.Commit()
	a := e.enqueueApp(app)
	e.start()
	e.mineUntil(30*time.Second, "entry acknowledged", func() bool {
		return e.pending() == 0 && !e.exists(stream.ApplicationKey(a.entityID))
	})
	if d := e.deadLetters(); len(d) != 0 {
		t.Errorf("dead letters: %v", d)
	}
	if n := e.nonceOf(e.signer.Address()); n != 0 {
		t.Errorf("relay sent %d transactions, want none", n)
	}
	if n := e.created(a.signatureID); n != 1 {
		t.Errorf("application created %d times, want 1", n)
	}
}

// TestSignatureUsedByOutsiderIsRejected: the same, applied by a wallet
// outside the pool, stays a final rejection: the pool widens "ours" to its
// own wallets, not to everyone. On the fake clock: SIGNATURE_USED by no
// transaction of ours is looked at again ERROR_TIMEOUT later, in a later
// block, before it is final; each look of the test lets that wait pass.
func TestSignatureUsedByOutsiderIsRejected(t *testing.T) {
	outsider := keyAddress(t, 9)
	e := newEnv(t, envOptions{confirmations: 2, alsoFund: []common.Address{outsider}, fakeClock: true})
	e.cfg.Pool = e.identity()
	e.step = e.cfg.ErrorBackoff
	app, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.sendFrom(e.newPoolKey(9).signer, app)
	e.chain.Commit()
	e.enqueueApp(app)
	e.start()
	e.mineUntil(30*time.Second, "entry dead-lettered", func() bool { return e.pending() == 0 && len(e.deadLetters()) == 1 })
	if r := e.deadLetters()[0].Values["reason"]; !strings.Contains(r.(string), "not ours") {
		t.Errorf("dead letter reason %q, want the outsider named", r)
	}
}

// nonceOf is how many transactions addr has had mined.
func (e *env) nonceOf(addr common.Address) uint64 {
	e.t.Helper()
	n, err := e.client.NonceAt(e.t.Context(), addr, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sendFrom sends app's application call from s at its next nonce, past any
// relay.
func (e *env) sendFrom(s *chain.Signer, app *frontend.Application) *types.Transaction {
	e.t.Helper()
	head, err := e.client.HeaderByNumber(e.t.Context(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	nonce, err := e.client.PendingNonceAt(e.t.Context(), s.Address())
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(2_000_000)
	tx, err := s.Sign(applyCall(e.t, e.product, app), nonce, 1_000_000,
		chain.Fees{FeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip), TipCap: tip})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.SendTransaction(e.t.Context(), tx); err != nil {
		e.t.Fatal(err)
	}
	devchaintest.Pooled(e.t, e.client, tx) // the next sendFrom reads its nonce from the pool
	return tx
}

// claimAttempts is a relay's queue that records when the relay looked for
// idle entries to claim (ClaimIdle), so a test waits on the chances it had
// instead of on wall time.
type claimAttempts struct {
	*stream.Queue
	mu sync.Mutex
	at []time.Time
}

func (q *claimAttempts) ClaimIdle(ctx context.Context, minIdle time.Duration, limit int) ([]stream.Claimed, error) {
	q.mu.Lock()
	q.at = append(q.at, time.Now())
	q.mu.Unlock()
	return q.Queue.ClaimIdle(ctx, minIdle, limit)
}

// since is how many claim attempts started at or after t.
func (q *claimAttempts) since(t time.Time) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, a := range q.at {
		if !a.Before(t) {
			n++
		}
	}
	return n
}

// TestHeldEntriesStayWithTheirRelay: while a relay holds new submissions
// (the node's pool has a transaction of its wallet that its journal does
// not know), the entries it has read stay its own: another key of the pool
// with room does not claim them as idle, however long the hold lasts, and
// signs nothing for them. When the hold ends the relay submits them itself
// (issue 18, finding 3).
//
// ClaimIdle is seconds, not the 400 ms it was: the holding relay touches its
// entries every ClaimIdle/4 from its tracker, and with 400 ms one tracker
// pass late by 300 ms (a loaded machine) let them turn idle and the other
// key rightly claim them. Now only a stall of three seconds does.
func TestHeldEntriesStayWithTheirRelay(t *testing.T) {
	second := keyAddress(t, 1)
	e := newEnv(t, envOptions{confirmations: 1, alsoFund: []common.Address{second}})
	e.cfg.ClaimIdle = 4 * time.Second
	e.cfg.Pool = e.identity()
	unknown, err := frontend.NewSigned(e.chain.ChainID, e.chain.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.sendOutside(unknown) // nonce 0 in the node's pool, in no journal
	apps := e.enqueue(3)
	e.readAs(e.keys.Consumer)
	e.start()
	eventually(t, 10*time.Second, "the relay holding", func() bool {
		return metricValue(t, e, "depeg_relay_chain_unknown_pool_transactions") == 1
	})
	// The holding relay touched its entries last (at start) before it held.
	// Had it stopped there, they would be idle for ClaimIdle from idleAt
	// on: each claim attempt of the other key from then is a chance to take
	// them, and it gets two.
	idleAt := time.Now().Add(e.cfg.ClaimIdle)
	k1 := e.newPoolKey(1)
	claims := &claimAttempts{Queue: k1.queue}
	e.startKeyOn(k1, claims, e.cfg)
	eventually(t, 30*time.Second, "two claim attempts of the other key past a claim idle time", func() bool {
		return claims.since(idleAt) >= 2
	})
	if got := e.counterValue("depeg_relay_stream_entries_claimed_total"); got != 0 {
		t.Fatalf("%v entries claimed from the holding relay", got)
	}
	if n := e.nonceOf(second); n != 0 {
		t.Fatalf("the other key sent %d transactions", n)
	}
	p, err := e.rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: e.keys.Stream, Group: e.keys.Group,
		Consumer: e.keys.Consumer, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(p) != 3 {
		t.Fatalf("entries pending under the holding relay: %d (%v), want 3", len(p), err)
	}
	// The unknown transaction is mined: the hold ends and the relay
	// submits its entries itself.
	e.mineUntil(30*time.Second, "entries confirmed", func() bool { return e.pending() == 0 })
	for _, a := range apps {
		if n := e.created(a.signatureID); n != 1 {
			t.Fatalf("application created %d times", n)
		}
	}
	if n0, n1 := e.nonceOf(e.signer.Address()), e.nonceOf(second); n0 != 4 || n1 != 0 {
		t.Fatalf("nonces: holding key %d (want 4), other key %d (want 0)", n0, n1)
	}
}
