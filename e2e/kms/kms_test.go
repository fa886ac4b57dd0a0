package kms

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/chain/kms/kmstest"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

const (
	streamKey   = "application:signatures"
	groupName   = "depeg-backend-processor"
	deadLetters = "application:signatures:dead"
)

// throttler forwards to local-kms and answers every other Sign call with
// ThrottlingException, as KMS does past its request quota.
type throttler struct {
	signs, throttled atomic.Int64
	rp               *httputil.ReverseProxy
}

func (p *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == "TrentService.Sign" && p.signs.Add(1)%2 == 1 {
		p.throttled.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// TestBacklogSignedWithKMSKeys: the built processor with SIGNER=aws-kms and
// two KMS keys (one by id, one by alias), no mnemonic anywhere, while the
// KMS throttles every other Sign call: -check passes and names each key's
// wallet; a list with a disabled key fails -check naming it; the processor
// started with that disabled key in its list leaves it out and confirms a
// backlog of 60 applications, each created once, with transactions from
// both usable keys and none from the disabled one, no dead letter, and no
// nonce spent beyond one per application. Then the first key is disabled
// mid-run: that key stops (named in the log and by the monitor) and the
// other confirms 30 more applications, once each.
func TestBacklogSignedWithKMSKeys(t *testing.T) {
	const n = 60
	ctx := t.Context()
	bin := proctest.Build(t, t.TempDir(), "nodev")

	srv := kmstest.Start(t)
	id1, id2, off := srv.CreateKey(t), srv.CreateKey(t), srv.CreateKey(t)
	alias2 := srv.Alias(t, id2, "relay-2")
	keys := kms.New(srv.Client(), kms.Options{})
	var wallets []common.Address
	for _, id := range []string{id1, id2, off} {
		k, err := keys.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wallets = append(wallets, k.Address())
	}
	srv.Disable(t, off)

	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &throttler{rp: httputil.NewSingleHostReverseProxy(target)}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	dc := devchaintest.Start(t, devchain.Options{Fund: wallets}, 250*time.Millisecond)

	rs := redistest.Start(t)
	rdb := rs.Client()

	env := func(ids ...string) []string {
		e := []string{
			"REDIS_URL=" + rs.URL(), "CHAIN_RPC_URL=" + dc.URL, "DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(),
			"SIGNER=aws-kms", "AWS_KMS_KEY_IDS=" + strings.Join(ids, ","),
			"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=200", "ERROR_TIMEOUT=500",
			"REDIS_READ_BLOCK_TIMEOUT=300", "BALANCE_REFRESH_INTERVAL=500",
			"LEASE_TTL=2000", "REDIS_QUEUE_CLAIM_IDLE=4000", "PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT=3000",
			"PORT=" + strconv.Itoa(freeport.Get(t)), "NODE_ENV=production",
		}
		for _, kv := range srv.Env() {
			if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_KMS=") {
				kv = "AWS_ENDPOINT_URL_KMS=" + ps.URL
			}
			e = append(e, kv)
		}
		return e
	}

	code, stdout, stderr := proctest.Run(t, bin, proctest.Options{Name: "check", Env: env(id1, alias2), Args: []string{"-check"}}, time.Minute)
	out := stdout + stderr
	if code != 0 || !strings.Contains(out, wallets[0].Hex()) || !strings.Contains(out, wallets[1].Hex()) {
		t.Fatalf("-check with two usable keys: exit %d, want 0 naming both wallets:\n%s", code, out)
	}
	code, stdout, stderr = proctest.Run(t, bin, proctest.Options{Name: "check-disabled", Env: env(id1, off), Args: []string{"-check"}}, time.Minute)
	if out := stdout + stderr; code != 1 || !strings.Contains(out, off) || !strings.Contains(out, "Disabled") {
		t.Fatalf("-check with a disabled key: exit %d, want 1 naming the key %s and its state:\n%s", code, off, out)
	}

	sids := make([][32]byte, n)
	for i := range n {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		sids[i], _ = frontend.SignatureIDToBytes32(app.SignatureID)
		if _, err := frontend.Enqueue(ctx, rdb, streamKey, frontend.NewEntityID(), frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
	}
	p := proctest.Start(t, bin, proctest.Options{Name: "relay", Env: env(id1, alias2, off)})
	p.WaitServing(t, time.Minute)
	poll.Until(t, 2*time.Minute, "every entry acknowledged", func() bool {
		pend, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil && err != redis.Nil {
			return false
		}
		read, err := rdb.XInfoGroups(ctx, streamKey).Result()
		return err == nil && len(read) == 1 && read[0].EntriesRead == n && pend.Count == 0
	})
	if c, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || c != 0 {
		msgs, _ := rdb.XRange(ctx, deadLetters, "-", "+").Result()
		t.Fatalf("%d dead letters (%v): %v", c, err, msgs)
	}
	for i, sid := range sids {
		if c, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || c != 1 {
			t.Fatalf("application %d created %d times (%v), want once", i, c, err)
		}
	}
	var total uint64
	for i, w := range wallets {
		c, err := dc.Client.NonceAt(ctx, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i < 2 && c == 0:
			t.Errorf("KMS key %d (%s) sent nothing: both usable keys should relay", i+1, w.Hex())
		case i == 2 && c != 0:
			t.Errorf("the disabled key sent %d transactions", c)
		}
		total += c
	}
	if total != n {
		t.Errorf("%d transactions mined for %d applications", total, n)
	}
	if proxy.throttled.Load() == 0 {
		t.Error("no Sign call was throttled: the test did not inject what it claims")
	}
	if log := p.Stdout() + p.Stderr(); !strings.Contains(log, off) {
		t.Errorf("the processor's output never names the disabled key %s", off)
	}
	t.Logf("%d Sign calls, %d throttled", proxy.signs.Load(), proxy.throttled.Load())

	// The first key is disabled while the processor runs: the first time its
	// relay tries to sign, that key stops (named in the log), the monitor
	// reports it, and the other key confirms every application, those the
	// stopped key had read included, once each.
	before, err := dc.Client.NonceAt(ctx, wallets[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Disable(t, id1)
	const more = 30
	later := make([][32]byte, more)
	for i := range more {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		later[i], _ = frontend.SignatureIDToBytes32(app.SignatureID)
		if _, err := frontend.Enqueue(ctx, rdb, streamKey, frontend.NewEntityID(), frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 2*time.Minute, "every later entry acknowledged", func() bool {
		pend, err := rdb.XPending(ctx, streamKey, groupName).Result()
		if err != nil && err != redis.Nil {
			return false
		}
		read, err := rdb.XInfoGroups(ctx, streamKey).Result()
		return err == nil && len(read) == 1 && read[0].EntriesRead == n+more && pend.Count == 0
	})
	for i, sid := range later {
		if c, err := dc.ApplicationsBySignatureID(ctx, sid); err != nil || c != 1 {
			t.Fatalf("later application %d created %d times (%v), want once", i, c, err)
		}
	}
	if after, err := dc.Client.NonceAt(ctx, wallets[0], nil); err != nil || after != before {
		t.Fatalf("the disabled key's nonce went from %d to %d (%v)", before, after, err)
	}
	if c, err := rdb.XLen(ctx, deadLetters).Result(); err != nil || c != 0 {
		t.Fatalf("%d dead letters (%v)", c, err)
	}
	if !p.Running() {
		t.Fatalf("the processor exited when one key was disabled:\n%s", p.Tail(20))
	}
	log := p.Stdout() + p.Stderr()
	if !strings.Contains(log, "key stopped") || !strings.Contains(log, id1) || !strings.Contains(log, "DisabledException") {
		t.Fatalf("the log does not say the key %s stopped (DisabledException):\n%s", id1, p.Tail(30))
	}
	poll.UntilNil(t, 30*time.Second, "the monitor naming the stopped key", func() error {
		code, body, err := p.Get(ctx, "/api/monitor")
		if err != nil {
			return err
		}
		if code != http.StatusInternalServerError || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(wallets[0].Hex())) {
			return fmt.Errorf("monitor %d: %s", code, body)
		}
		return nil
	})
}
