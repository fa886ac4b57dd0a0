package pool

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestKilledForGoodLeavesNothingPending: three processes with two keys
// each, keys 2-3, 4-5 and 6-7 (no process lists another's keys). The one
// with 4-5 is killed with SIGKILL mid-run and never started again. The pool
// finishes its journal: every entry is acknowledged once, nothing stays
// pending, the surviving monitors answer 200, the dead keys' journals are
// empty, and the chain shows one successful transaction per application
// and nothing else (issue 18, finding 1).
func TestKilledForGoodLeavesNothingPending(t *testing.T) {
	const n = 600
	ctx := t.Context()
	bin := processor.Path(t)
	dc, wallets := startChain(t, 8, 250*time.Millisecond)
	srv := redistest.Start(t)
	rdb := srv.Client()
	start := func(name, keys string) *proctest.Proc {
		return startProcess(t, bin, srv, dc, name, keys, "ORPHAN_HANDOFF_AFTER=5000", "MONITOR_MAX_WAIT_AGE=120000")
	}
	p1, p2, p3 := start("p1", "2-3"), start("p2", "4-5"), start("p3", "6-7")

	// The frontend enqueues at a frontend's pace (a burst, then a pause).
	sids, enqueued := frontend.Trickle(ctx, rdb, streamKey, dc.ChainID, dc.Helper, n, 40, 200*time.Millisecond)
	dead := wallets[4:6]
	journaled := func() int64 {
		var total int64
		for _, w := range dead {
			q := stream.NewQueue(rdb, stream.Keys{Stream: streamKey, Group: groupName, Wallet: strings.ToLower(w.Hex())})
			n, err := rdb.HLen(ctx, q.JournalKey()).Result()
			if err != nil {
				return -1
			}
			total += n
		}
		return total
	}
	// Killed while its keys have transactions in flight, so its journal
	// holds work that only the pool can finish.
	eventually(t, 60*time.Second, "p2's keys with transactions in flight", func() bool {
		return totalNonce(t, dc, dead) >= 20 && journaled() > 0
	})
	p2.Kill(t)
	t.Logf("p2 killed with %d records in its keys' journals", journaled())
	if err := <-enqueued; err != nil {
		t.Fatal(err)
	}

	eventually(t, 180*time.Second, "every entry acknowledged and the dead keys' journals empty", func() bool {
		p, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil || p.Count != 0 {
			return false
		}
		g, err := rdb.XInfoGroups(ctx, streamKey).Result()
		return err == nil && len(g) == 1 && g[0].Lag == 0 && journaled() == 0
	})
	for i, sid := range sids {
		if c, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || c != 1 {
			t.Fatalf("application %d created %d times (%v), want once", i, c, err)
		}
	}
	// One transaction per application and no other: a second transaction
	// for an application (reverted SIGNATURE_USED) or any other revert would
	// show as one more nonce.
	if total := totalNonce(t, dc, wallets); total != n {
		t.Fatalf("the keys mined %d transactions for %d applications", total, n)
	}
	if c, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || c != 0 {
		t.Fatalf("%d dead letters (%v)", c, err)
	}
	// Every claim on an application was given up with its outcome. A live
	// relay gives its claims up after the acknowledgement and the journal's
	// HDEL, so the last ones may still be there when the wait above ends;
	// a claim never given up times this out.
	eventually(t, 30*time.Second, "every claim on an application given up", func() bool {
		owners, err := rdb.Keys(ctx, stream.OwnerKeys(streamKey)+"*").Result()
		return err == nil && len(owners) == 0
	})
	// Each surviving process reports itself for the on-call commands
	// (stream.LiveStore), with the keys it relays.
	live, err := stream.NewLiveStore(rdb, streamKey).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		p    *proctest.Proc
		keys []int
	}{"p1": {p1, []int{2, 3}}, "p3": {p3, []int{6, 7}}} {
		var rep struct {
			Keys []struct {
				Wallet string `json:"wallet"`
				Lease  string `json:"lease"`
			} `json:"keys"`
		}
		found := false
		for process, body := range live {
			if strings.HasSuffix(process, "-"+strconv.Itoa(c.p.Pid())) {
				found = json.Unmarshal(body, &rep) == nil
			}
		}
		relays := map[string]bool{}
		for _, k := range rep.Keys {
			relays[k.Wallet] = k.Lease == ""
		}
		if !found || !relays[wallets[c.keys[0]].Hex()] || !relays[wallets[c.keys[1]].Hex()] {
			t.Errorf("%s does not report itself relaying keys %v: %v", name, c.keys, rep)
		}
	}
	for name, p := range map[string]*proctest.Proc{"p1": p1, "p3": p3} {
		eventually(t, 30*time.Second, name+" monitor 200", func() bool {
			code, _, err := p.Monitor(context.Background())
			return err == nil && code == 200
		})
	}
}
