// Package webhook tests the processor's webhooks end to end: the built
// binary relays applications on the embedded chain while the receiver is
// down, is restarted, and the receiver, once back, gets every status change
// signed.
package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/webhook"
)

const (
	testMnemonic = "test test test test test test test test test test test junk"
	streamKey    = "application:signatures"
	secret       = "whsec-e2e-0123456789abcdef0123456789abcdef"
	hookPass     = "pw-Xq7-never-shown"
	hookToken    = "T0K3N-never-shown"
	apps         = 6
)

// receiver verifies every delivery as README tells a receiver to and keeps
// the events by id; while down it answers 503.
type receiver struct {
	down atomic.Bool

	mu     sync.Mutex
	events map[string]webhook.Event
	copies int
	bad    []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, p, ok := req.BasicAuth(); !ok || u != "hook" || p != hookPass || req.URL.Path != "/in/"+hookToken {
		r.bad = append(r.bad, "credentials or path lost: "+req.URL.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := webhook.Verify([]byte(secret), req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e webhook.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" {
		r.bad = append(r.bad, "bad body: "+string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.events[e.ID] = e
	r.copies++
	w.WriteHeader(http.StatusNoContent)
}

// states are the states received per entity id.
func (r *receiver) states() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, e := range r.events {
		out[e.EntityID] = append(out[e.EntityID], e.State)
	}
	return out
}

// TestEveryChangeSurvivesReceiverOutageAndRestart: the receiver is down
// while the processor submits and confirms applications and rejects bad
// ones; the processor is stopped with every event waiting in Redis and
// started again; the receiver comes back and gets, signed and with the
// URL's credentials, submitted and confirmed for every application and
// rejected for every bad one. No secret shows in the logs, the monitor or
// the metrics.
func TestEveryChangeSurvivesReceiverOutageAndRestart(t *testing.T) {
	ctx := t.Context()
	bin := proctest.Build(t, t.TempDir(), "nodev")
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}}, 200*time.Millisecond)
	rs := redistest.Start(t)
	rdb := rs.Client()

	rcv := &receiver{events: map[string]webhook.Event{}}
	rcv.down.Store(true)
	hook := httptest.NewServer(rcv)
	t.Cleanup(hook.Close)
	u, err := url.Parse(hook.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User, u.Path = url.UserPassword("hook", hookPass), "/in/"+hookToken
	env := func(port int) []string {
		return []string{
			"REDIS_URL=" + rs.URL(), "CHAIN_RPC_URL=" + dc.URL, "DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(),
			"PROCESSOR_MNEMONIC=" + testMnemonic, "REDIS_QUEUE_CONSUMER_ID=relay-a",
			"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=2", "CHAIN_POLL_INTERVAL=100", "ERROR_TIMEOUT=300",
			"REDIS_READ_BLOCK_TIMEOUT=300", "BALANCE_REFRESH_INTERVAL=500", "SHUTDOWN_TIMEOUT=10000",
			"LEASE_TTL=2000", "REDIS_QUEUE_CLAIM_IDLE=4000",
			"WEBHOOK_URL=" + u.String(), "WEBHOOK_SECRET=" + secret,
			"PORT=" + strconv.Itoa(port), "NODE_ENV=production", "LOG_LEVEL=debug",
		}
	}
	first := proctest.Start(t, bin, proctest.Options{Name: "first", Env: env(freeport.Get(t))})
	first.WaitServing(t, 60*time.Second)

	want := map[string]string{} // entity id -> its last state
	for range apps {
		app, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
		if err != nil {
			t.Fatal(err)
		}
		id := frontend.NewEntityID()
		if _, err := frontend.Enqueue(ctx, rdb, streamKey, id, frontend.Fields(app)); err != nil {
			t.Fatal(err)
		}
		want[id] = "confirmed"
	}
	bad, err := frontend.BadCases(dc.ChainID, dc.Helper)
	if err != nil {
		t.Fatal(err)
	}
	for _, bc := range bad {
		if bc.Name != "wrong-signer" && bc.Name != "bundle-id-zero" {
			continue
		}
		if _, err := frontend.EnqueueBadCase(ctx, rdb, streamKey, bc); err != nil {
			t.Fatal(err)
		}
		want[bc.EntityID] = "rejected"
	}
	events := 2*apps + 2 // submitted and confirmed per application, rejected per bad one
	outbox := webhook.NewKeys(streamKey).Outbox()

	poll.Until(t, 90*time.Second, "every application settled and every event waiting in the outbox", func() bool {
		p, err := rdb.XPending(ctx, streamKey, "depeg-backend-processor").Result()
		n, _ := rdb.XLen(ctx, outbox).Result()
		return err == nil && p.Count == 0 && n == int64(events)
	})
	poll.Until(t, 30*time.Second, "the monitor showing the receiver failing", func() bool {
		_, rep, err := first.Monitor(ctx)
		wh, _ := rep["webhooks"].(map[string]any)
		failing, _ := wh["failing"].(string)
		return err == nil && wh["pending"] == float64(events) && strings.HasPrefix(failing, "server_error since ")
	})
	m, err := first.Metrics(ctx)
	if err != nil || m[`depeg_relay_webhook_attempts_total{result="server_error"}`] < 1 ||
		m["depeg_relay_webhook_events_queued_total"] != float64(events) {
		t.Fatalf("metrics: attempts answered 503 %v, queued %v (%v)",
			m[`depeg_relay_webhook_attempts_total{result="server_error"}`], m["depeg_relay_webhook_events_queued_total"], err)
	}
	_, monitorBody, _ := first.Get(ctx, "/api/monitor")
	_, metricsBody, _ := first.Get(ctx, "/metrics")
	if code := first.Stop(t, 20*time.Second); code != 0 {
		t.Fatalf("first process exited %d:\n%s", code, first.Tail(30))
	}
	if n, _ := rdb.XLen(ctx, outbox).Result(); n != int64(events) {
		t.Fatalf("after the stop the outbox holds %d events, want %d", n, events)
	}

	second := proctest.Start(t, bin, proctest.Options{Name: "second", Env: env(freeport.Get(t))})
	second.WaitServing(t, 60*time.Second)
	rcv.down.Store(false)
	poll.Until(t, 60*time.Second, "every change at the receiver", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.events) >= events
	})
	rcv.mu.Lock()
	if len(rcv.bad) > 0 || len(rcv.events) != events {
		t.Fatalf("receiver: %d events, refused %v", len(rcv.events), rcv.bad)
	}
	rcv.mu.Unlock()
	for id, st := range rcv.states() {
		last, ok := want[id]
		switch {
		case !ok:
			t.Errorf("events for an unknown application %s: %v", id, st)
		case last == "confirmed" && !(len(st) == 2 && strings.Contains(strings.Join(st, ","), "submitted") &&
			strings.Contains(strings.Join(st, ","), "confirmed")):
			t.Errorf("application %s: states %v, want submitted and confirmed", id, st)
		case last == "rejected" && !(len(st) == 1 && st[0] == "rejected"):
			t.Errorf("bad application %s: states %v, want rejected", id, st)
		}
	}
	if got := len(rcv.states()); got != len(want) {
		t.Errorf("events for %d applications, want %d", got, len(want))
	}
	poll.Until(t, 30*time.Second, "the outbox emptied and the monitor saying so", func() bool {
		n, _ := rdb.XLen(ctx, outbox).Result()
		_, rep, err := second.Monitor(ctx)
		wh, _ := rep["webhooks"].(map[string]any)
		return err == nil && n == 0 && wh["pending"] == float64(0) && wh["delivered"] == float64(events) && wh["failing"] == nil
	})
	if code := second.Stop(t, 20*time.Second); code != 0 {
		t.Fatalf("second process exited %d:\n%s", code, second.Tail(30))
	}

	dump := first.Stderr() + first.Stdout() + second.Stderr() + second.Stdout() + string(monitorBody) + string(metricsBody)
	if !strings.Contains(dump, "webhook delivery failed") {
		t.Fatalf("no failed delivery was logged; the check below proves nothing:\n%s", first.Tail(20))
	}
	for _, s := range []string{secret, hookPass, hookToken} {
		if strings.Contains(dump, s) {
			t.Errorf("%q shows in the logs, the monitor or the metrics", s)
		}
	}
	t.Logf("%d events for %d applications and 2 rejections, %d deliveries, across a receiver outage and a restart",
		events, apps, rcv.copies)
}
