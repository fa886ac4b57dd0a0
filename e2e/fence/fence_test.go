// Package fence tests that a wallet never has two signers, even when Redis
// loses its lease key (issue 18, finding 4): two processor subprocesses list
// the same two keys, and while applications flow, the lease keys are
// deleted from Redis again and again. The holder sets them again (Keep, or
// the fenced journal write), the standby waits longer than the holder's
// renewal interval before it would take a key that is gone, and the journal
// write before every broadcast passes only while its process holds the
// lease. Once, a foreign token takes both keys mid-flight, which the fence
// must stop the holder at. Each process reaches the node through a recording proxy, so the
// test judges what each one signed and sent, not only what was mined.
package fence

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/chainaudit"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/internal/rpcfault"
	"github.com/etherisc/depeg-relay/lease"
)

const (
	testMnemonic = "test test test test test test test test test test test junk"
	streamKey    = "application:signatures"
	groupName    = "depeg-backend-processor"
	deadLetters  = "application:signatures:dead"
	apps         = 300
	leaseTTL     = 2 * time.Second
	losses       = 8
)

func TestLostLeaseKeysNeverGiveTwoSigners(t *testing.T) {
	ctx := t.Context()
	bin := proctest.Build(t, t.TempDir(), "nodev")
	wallets := make([]common.Address, 2)
	for i := range wallets {
		key, err := chain.DeriveKey(testMnemonic, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		wallets[i] = crypto.PubkeyToAddress(key.PublicKey)
	}
	dc := devchaintest.Start(t, devchain.Options{Fund: wallets}, 250*time.Millisecond)
	srv := redistest.Start(t)
	rdb := srv.Client()
	leaseKeys := []string{lease.Key(strings.ToLower(wallets[0].Hex())), lease.Key(strings.ToLower(wallets[1].Hex()))}

	start := func(name string, node *rpcfault.Proxy) *proctest.Proc {
		p := proctest.Start(t, bin, proctest.Options{Name: name, Env: []string{
			"REDIS_URL=" + srv.URL(), "CHAIN_RPC_URL=" + node.URL,
			"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(), "PROCESSOR_MNEMONIC=" + testMnemonic,
			"PROCESSOR_ACCOUNT_INDEX=0,1",
			"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=200", "ERROR_TIMEOUT=300",
			"REDIS_READ_BLOCK_TIMEOUT=300", "MAX_IN_FLIGHT=32", "BALANCE_REFRESH_INTERVAL=500",
			"STUCK_TX_BLOCKS=50", // no replacements: every hash a process sends is a new signature
			"LEASE_TTL=" + strconv.Itoa(int(leaseTTL.Milliseconds())), "REDIS_QUEUE_CLAIM_IDLE=5000",
			"SHUTDOWN_TIMEOUT=10000", "PORT=" + strconv.Itoa(freeport.Get(t)), "NODE_ENV=production",
		}})
		p.WaitServing(t, 60*time.Second)
		return p
	}
	holderPid := func(k int) int {
		v, err := rdb.Get(ctx, leaseKeys[k]).Result()
		if err != nil {
			return 0
		}
		parts := strings.Split(v, "/")
		if len(parts) != 3 {
			return 0
		}
		pid, _ := strconv.Atoi(parts[1])
		return pid
	}
	node1, node2 := rpcfault.Start(t, dc.URL), rpcfault.Start(t, dc.URL)
	p1 := start("p1", node1)
	poll.Until(t, 30*time.Second, "p1 holds both keys", func() bool { return holderPid(0) == p1.Pid() && holderPid(1) == p1.Pid() })
	p2 := start("p2", node2)
	procs := map[string]*proctest.Proc{"p1": p1, "p2": p2}
	nodes := map[string]*rpcfault.Proxy{"p1": node1, "p2": node2}

	// The frontend enqueues over about 6 s.
	// The frontend enqueues at a frontend's pace (a burst, then a pause).
	sids, enqueued := frontend.Trickle(ctx, rdb, streamKey, dc.ChainID, dc.Helper, apps, 25, 500*time.Millisecond)

	// Redis loses the lease keys again and again while work flows; each
	// time, wait until some process holds both again before the next loss.
	holders := map[int]int{}
	for i := range losses {
		if i == losses/2 {
			// Once, a process the two do not know takes both keys (as a
			// standby that missed a restore would): the holder's journal
			// writes are refused from that instant, its Keep stops its
			// relays, and both wait. Then that process goes away.
			const foreign = "elsewhere/1/cafe"
			for _, k := range leaseKeys {
				if err := rdb.Set(ctx, k, foreign, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			}
			poll.Until(t, 30*time.Second, "both processes in standby behind the foreign holder", func() bool {
				for _, p := range procs {
					for k := range leaseKeys {
						if !standbyOn(ctx, p, k, foreign) {
							return false
						}
					}
				}
				return true
			})
		}
		if err := rdb.Del(ctx, leaseKeys...).Err(); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, 30*time.Second, fmt.Sprintf("both lease keys held again after loss %d", i+1), func() bool {
			return holderPid(0) != 0 && holderPid(1) != 0
		})
		holders[holderPid(0)]++
		holders[holderPid(1)]++
		// The standby looks again before the next loss: a waiter cannot
		// know of a restore it never saw (the fence alone then keeps the
		// two apart, which this test would not tell from the wait).
		for k := range leaseKeys {
			for name, p := range procs {
				if p.Pid() != holderPid(k) {
					poll.Until(t, 10*time.Second, fmt.Sprintf("%s in standby for key %d after loss %d", name, k, i+1), func() bool {
						return standbyOn(ctx, p, k, "")
					})
				}
			}
		}
	}
	if err := <-enqueued; err != nil {
		t.Fatal(err)
	}
	if err := poll.Wait(ctx, 120*time.Second, 100*time.Millisecond, func() error {
		p, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil || p.Count != 0 {
			return fmt.Errorf("pending %v (%v)", p, err)
		}
		g, err := rdb.XInfoGroups(ctx, streamKey).Result()
		if err != nil || len(g) != 1 || g[0].Lag != 0 {
			return fmt.Errorf("groups %v (%v)", g, err)
		}
		return nil
	}); err != nil {
		// Go on: what each process signed tells why.
		t.Errorf("not every entry acknowledged: %v\np1:\n%s\np2:\n%s", err, p1.Tail(8), p2.Tail(8))
	}

	// What each process signed and sent, nonce by nonce and application by
	// application.
	product := chain.NewProduct(dc.Product)
	signer := types.LatestSignerForChainID(dc.ChainID)
	type slot struct {
		wallet common.Address
		nonce  uint64
	}
	byNonce := map[slot]map[common.Hash]string{} // hash -> process
	bySig := map[string]map[slot]bool{}
	for name, node := range nodes {
		for _, tx := range node.Sent() {
			from, err := types.Sender(signer, tx)
			if err != nil {
				t.Fatal(err)
			}
			s := slot{from, tx.Nonce()}
			if byNonce[s] == nil {
				byNonce[s] = map[common.Hash]string{}
			}
			byNonce[s][tx.Hash()] = name
			if sig, err := product.SignatureOf(tx.Data()); err == nil {
				k := hex.EncodeToString(sig)
				if bySig[k] == nil {
					bySig[k] = map[slot]bool{}
				}
				bySig[k][s] = true
			}
		}
	}
	for s, hashes := range byNonce {
		if len(hashes) > 1 {
			var desc []string
			for h, name := range hashes {
				desc = append(desc, name+":"+h.Hex())
			}
			t.Errorf("wallet %s nonce %d signed %d times: %s", s.wallet.Hex(), s.nonce, len(hashes), strings.Join(desc, " "))
		}
	}
	for sig, slots := range bySig {
		if len(slots) > 1 {
			t.Errorf("application %s… got %d transactions (nonces %v)", sig[:8], len(slots), slots)
		}
	}
	for i, sid := range sids {
		if n, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || n != 1 {
			t.Errorf("application %d created %d times (%v), want once", i, n, err)
			break
		}
	}
	var mined int
	for _, w := range wallets {
		a, err := chainaudit.Wallet(ctx, dc.Client, dc.ChainID, w, product)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Reverted) > 0 || len(a.Useless) > 0 {
			t.Errorf("wallet %s: %d reverted, %d useless transactions, first %v", w.Hex(), len(a.Reverted), len(a.Useless), append(a.Reverted, a.Useless...)[0])
		}
		mined += len(a.Mined)
	}
	if mined != apps {
		t.Errorf("the keys mined %d transactions for %d applications", mined, apps)
	}
	if n, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || n != 0 {
		t.Errorf("%d dead letters (%v)", n, err)
	}
	var sent []string
	for name, node := range nodes {
		// For the record only (log wording is not asserted): how often the
		// fence refused a journal write of this process.
		fenced := strings.Count(procs[name].Stderr(), "journal write fenced")
		sent = append(sent, fmt.Sprintf("%s (pid %d) sent %d, held a key after %d of %d losses, %d fenced log lines",
			name, procs[name].Pid(), len(node.Sent()), holders[procs[name].Pid()], 2*losses, fenced))
		if _, foreign := procs[name].Logs(); len(foreign) > 0 {
			t.Errorf("%s wrote non-JSON output (a panic?): %s", name, strings.Join(foreign, "\n"))
		}
	}
	t.Logf("%d applications, each created once, %d lease-key losses; %s", apps, losses, strings.Join(sent, "; "))
}

// standbyOn reports whether p's monitor shows key k held by another process
// (whose token starts with holder).
func standbyOn(ctx context.Context, p *proctest.Proc, k int, holder string) bool {
	_, rep, err := p.Monitor(ctx)
	keys, _ := rep["keys"].([]any)
	if err != nil || len(keys) <= k {
		return false
	}
	kr, _ := keys[k].(map[string]any)
	s, _ := kr["lease"].(string)
	return strings.HasPrefix(s, "standby - the wallet's lease is held by "+holder)
}
