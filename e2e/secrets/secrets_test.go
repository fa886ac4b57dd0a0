package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/tyler-smith/go-bip39"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/internal/rpcfault"
)

const streamKey = "application:signatures"

// secrets are what the processor is given and must never show.
type secrets struct {
	mnemonic   string
	privateKey string // hex, without 0x
	pathKey    string // in CHAIN_RPC_URL's path
	queryKey   string // in CHAIN_RPC_URL's query
	redisPass  string
	adminToken string
}

// needles are the strings whose presence anywhere is a leak: each secret,
// and every three consecutive words of the mnemonic.
func (s secrets) needles() map[string]string {
	n := map[string]string{
		s.mnemonic: "PROCESSOR_MNEMONIC", s.privateKey: "the wallet's private key",
		s.pathKey: "the API key in CHAIN_RPC_URL's path", s.queryKey: "the API key in CHAIN_RPC_URL's query",
		s.redisPass: "the Redis password", s.adminToken: "ADMIN_TOKEN",
	}
	words := strings.Fields(s.mnemonic)
	for i := 0; i+3 <= len(words); i++ {
		n[strings.Join(words[i:i+3], " ")] = fmt.Sprintf("words %d-%d of PROCESSOR_MNEMONIC", i+1, i+3)
	}
	return n
}

func randomToken(t *testing.T, n int) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// seen is everything the processor wrote or answered, by where it came
// from.
type seen struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (s *seen) add(where string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; ; i++ {
		k := where
		if i > 1 {
			k = fmt.Sprintf("%s #%d", where, i)
		}
		if _, taken := s.blobs[k]; !taken {
			s.blobs[k] = append([]byte(nil), b...)
			return
		}
	}
}

// TestSecretsNeverShow runs the built processor (with the test-only panic
// route: -tags faulthook) holding a fresh mnemonic, an API key in
// CHAIN_RPC_URL's path and query, a Redis password and an admin token,
// through a rejected configuration, -check (passing, node down, node echoing
// its URL in its errors, Redis down), the deadletters command, a start with
// the node down, and a running processor: every route of openapi.json with
// and without the token, the console, HEAD and unknown routes, a handler
// panic, /metrics, and the node failing with its URL in every error. None of
// the secrets may appear in any stdout, stderr, HTTP body, header or metric.
func TestSecretsNeverShow(t *testing.T) {
	bin := proctest.Build(t, t.TempDir(), "faulthook")

	entropy, err := bip39.NewEntropy(128)
	if err != nil {
		t.Fatal(err)
	}
	mnemonic, err := bip39.NewMnemonic(entropy)
	if err != nil {
		t.Fatal(err)
	}
	key, err := chain.DeriveKey(mnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	sec := secrets{mnemonic: mnemonic, privateKey: hex.EncodeToString(crypto.FromECDSA(key)),
		pathKey: "pk" + randomToken(t, 30), queryKey: "qk" + randomToken(t, 30),
		redisPass: "rp" + randomToken(t, 30), adminToken: "at" + randomToken(t, 38)}
	wallet := crypto.PubkeyToAddress(key.PublicKey)

	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{wallet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	produceCtx, stopProducing := context.WithCancel(context.Background())
	var producing sync.WaitGroup
	producing.Add(1)
	go func() { defer producing.Done(); dc.Produce(produceCtx, 250*time.Millisecond) }()
	t.Cleanup(func() { stopProducing(); producing.Wait() })

	redis := redistest.StartWith(t, redistest.Options{Password: sec.redisPass})
	rdb := redis.Client()
	node := rpcfault.Start(t, dc.URL)
	rpcURL := func(base string) string { return base + "/v3/" + sec.pathKey + "?apikey=" + sec.queryKey }
	closed := "http://127.0.0.1:" + strconv.Itoa(freeport.Get(t))

	base := []string{
		"REDIS_URL=" + redis.URL(),
		"CHAIN_RPC_URL=" + rpcURL(node.URL),
		"DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(),
		"PROCESSOR_MNEMONIC=" + sec.mnemonic,
		"ADMIN_TOKEN=" + sec.adminToken,
		"INTAKE_ENABLED=true",
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=1",
		"CHAIN_POLL_INTERVAL=100",
		"ERROR_TIMEOUT=300",
		"RPC_TIMEOUT=1000",
		"REDIS_READ_BLOCK_TIMEOUT=300",
		"BALANCE_REFRESH_INTERVAL=200",
		"SHUTDOWN_TIMEOUT=5000",
		"NODE_ENV=production",
		"LOG_LEVEL=debug", // the most the processor ever writes
	}
	env := func(over ...string) []string {
		out := append([]string(nil), base...)
		for _, kv := range over {
			name, _, _ := strings.Cut(kv, "=")
			for i, e := range out {
				if strings.HasPrefix(e, name+"=") {
					out = append(out[:i], out[i+1:]...)
					break
				}
			}
			if !strings.HasSuffix(kv, "=") {
				out = append(out, kv)
			}
		}
		return out
	}
	got := &seen{blobs: map[string][]byte{}}
	logDir := t.TempDir()
	run := func(name string, wantCode int, e []string, args ...string) {
		t.Helper()
		code, stdout, stderr := proctest.Run(t, bin, proctest.Options{Env: e, Args: args, Name: name, LogDir: logDir}, 30*time.Second)
		got.add(name+" stdout", []byte(stdout))
		got.add(name+" stderr", []byte(stderr))
		if wantCode >= 0 && code != wantCode {
			t.Errorf("%s: exit code %d, want %d:\n%s", name, code, wantCode, stderr)
		}
	}

	// Startup errors and the one-shot commands.
	run("bad-config", 2, env("MAX_FEE_PER_GAS=abc", "PORT=0", "DEPEG_PRODUCT_ADDRESS=0x1234"))
	// -check gives its whole run twice RPC_TIMEOUT: a second is this
	// suite's figure for the relays, but Redis and four calls through the
	// proxy to the race-built node can take two on a loaded machine.
	run("check", 0, env("RPC_TIMEOUT=10000"), "-check")
	run("check-node-down", 1, env("CHAIN_RPC_URL="+rpcURL(closed)), "-check")
	node.Set(rpcfault.Faults{StatusEvery: 1, StatusCodes: []int{503, 401}, Echo: true})
	echoesKey(t, rpcURL(node.URL), sec)
	run("check-node-echoes-url", 1, env(), "-check")
	node.Set(rpcfault.Faults{})
	run("check-redis-down", 1, env("REDIS_URL=redis://:"+sec.redisPass+"@127.0.0.1:"+strconv.Itoa(freeport.Get(t))), "-check")
	run("deadletters-list", 0, env(), "deadletters", "list")

	// A start while the node is down (it hangs up on every connection, so
	// each call fails with the URL in its error): it waits for the chain id,
	// logging each failure, and its monitor answers 500 meanwhile, naming
	// the chain by a category only. A failure is logged before the next
	// attempt, so three calls mean two failures in the logs.
	hangUp := startHangUp(t)
	down := proctest.Start(t, bin, proctest.Options{Env: env("CHAIN_RPC_URL="+rpcURL(hangUp.url), "PORT="+freePort(t)),
		Name: "start-node-down", LogDir: logDir})
	poll.UntilNil(t, 10*time.Second, "three chain id reads from a processor started with the node down", func() error {
		if !down.Running() {
			return poll.Final(fmt.Errorf("the processor exited: %v\n%s", down.Err(), down.Tail(20)))
		}
		if n := hangUp.calls.Load(); n < 3 {
			return fmt.Errorf("%d calls", n)
		}
		return nil
	})
	if code, body, err := down.Get(t.Context(), "/api/monitor"); err != nil || code != 500 {
		t.Errorf("start-node-down: /api/monitor answered %d (%v) while the node is down, want 500", code, err)
	} else {
		got.add("start-node-down /api/monitor", body)
	}
	down.Stop(t, 10*time.Second)
	got.add("start-node-down stdout", []byte(down.Stdout()))
	got.add("start-node-down stderr", []byte(down.Stderr()))

	// A running processor, with and without the admin routes.
	for _, admin := range []bool{true, false} {
		name := "running"
		over := []string{"PORT=" + freePort(t)}
		if !admin {
			name, over = "running-no-admin", append(over, "ADMIN_TOKEN=")
		}
		p := proctest.Start(t, bin, proctest.Options{Env: env(over...), Name: name, LogDir: logDir})
		p.WaitServing(t, 20*time.Second)
		exercise(t, p, got, sec, dc, rdb, node, admin)
		if code := p.Stop(t, 15*time.Second); code != 0 {
			t.Errorf("%s: exit code %d after SIGTERM, want 0:\n%s", name, code, p.Tail(20))
		}
		got.add(name+" stdout", []byte(p.Stdout()))
		got.add(name+" stderr", []byte(p.Stderr()))
	}

	// The verdict.
	if n := len(got.blobs); n < 40 {
		t.Fatalf("only %d outputs collected", n)
	}
	total := 0
	for where, b := range got.blobs {
		total += len(b)
		for needle, what := range sec.needles() {
			if bytes.Contains(b, []byte(needle)) {
				i := bytes.Index(b, []byte(needle))
				from, to := max(0, i-120), min(len(b), i+len(needle)+40)
				t.Errorf("%s shows %s: …%s…", where, what, b[from:to])
			}
		}
	}
	t.Logf("checked %d outputs (%d bytes) for %d secrets and mnemonic fragments", len(got.blobs), total, len(sec.needles()))
	if d := os.Getenv("SECRETS_TEST_DUMP"); d != "" { // keep what was checked, to read it
		for where, b := range got.blobs {
			_ = os.WriteFile(filepath.Join(d, regexp.MustCompile(`[^a-zA-Z0-9.-]+`).ReplaceAllString(where, "_")), b, 0o644)
		}
	}
}

// exercise calls every route of the running processor, makes it fail
// against the node and panic, and records every answer.
func exercise(t *testing.T, p *proctest.Proc, got *seen, sec secrets, dc *devchain.Chain, rdb *redis.Client, node *rpcfault.Proxy, admin bool) {
	t.Helper()
	ctx := t.Context()
	name := p.Name
	do := func(method, path string, body []byte, header http.Header) (int, []byte) {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		var code int
		var b []byte
		var err error
		if rd != nil {
			code, b, err = p.Do(ctx, method, path, rd, header)
		} else {
			code, b, err = p.Do(ctx, method, path, nil, header)
		}
		if err != nil {
			t.Errorf("%s %s %s: %v", name, method, path, err)
		}
		got.add(fmt.Sprintf("%s %s %s -> %d", name, method, path, code), b)
		return code, b
	}
	bearer := http.Header{"Authorization": {"Bearer " + sec.adminToken}}
	wrong := http.Header{"Authorization": {"Bearer " + strings.Repeat("x", 40)}}
	jsonType := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}

	// Something to show: an application through the intake, confirmed,
	// and a bad one dead-lettered.
	signed, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	post, err := json.Marshal(map[string]any{"policyHolder": signed.PolicyHolder.Hex(), "protectedWallet": signed.ProtectedWallet.Hex(),
		"protectedBalance": signed.ProtectedBalance.String(), "duration": signed.Duration.Int64(), "bundleId": signed.BundleID.Int64(),
		"signatureId": signed.SignatureID, "signature": hexutil.Encode(signed.Signature)})
	if err != nil {
		t.Fatal(err)
	}
	code, answer := do(http.MethodPost, "/api/application", post, jsonType)
	if code != http.StatusOK {
		t.Fatalf("%s: POST /api/application: %d %s", name, code, answer)
	}
	var accepted struct{ EntityID string }
	_ = json.Unmarshal(answer, &accepted)
	do(http.MethodPost, "/api/application", []byte(`{"policyHolder":"0xnope"}`), jsonType)
	do(http.MethodPost, "/api/application", []byte(`not json`), http.Header{"Content-Type": {"text/plain"}})
	bad, err := frontend.BadCases(dc.ChainID, dc.Helper)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := frontend.EnqueueBadCase(ctx, rdb, streamKey, bad[0]); err != nil {
		t.Fatal(err)
	}
	deadID := ""
	poll.Until(t, 20*time.Second, "the application confirmed and the bad one dead-lettered", func() bool {
		_, b, err := p.Get(ctx, "/api/application/"+accepted.EntityID)
		if err != nil || !strings.Contains(string(b), "confirmed") {
			return false
		}
		dl, err := rdb.XRevRangeN(ctx, streamKey+":dead", "+", "-", 1).Result()
		if err != nil || len(dl) == 0 {
			return false
		}
		deadID = dl[0].ID
		return true
	})

	// Every documented route, with every documented method, HEAD for the
	// GETs, with the token, a wrong one and none.
	var doc map[string]map[string]json.RawMessage
	if code, b := do(http.MethodGet, "/api/openapi.json", nil, nil); code != http.StatusOK {
		t.Fatalf("%s: openapi.json: %d", name, code)
	} else {
		var spec struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		doc = spec.Paths
	}
	params := strings.NewReplacer("{entityId}", accepted.EntityID, "{id}", deadID)
	for path, methods := range doc {
		for method := range methods {
			m := strings.ToUpper(method)
			if m != http.MethodGet && m != http.MethodPost && m != http.MethodOptions && m != http.MethodHead {
				continue // "parameters" and the like
			}
			target := params.Replace(path)
			if path == "/api/application" && m == http.MethodGet {
				target += "?address=" + signed.PolicyHolder.Hex()
			}
			var body []byte
			if m == http.MethodPost {
				body = []byte(`{}`)
				if path == "/api/application" {
					body = post // again: answered as existing
				}
			}
			for _, h := range []http.Header{bearer, wrong, nil} {
				do(m, target, body, h)
				if m == http.MethodGet {
					do(http.MethodHead, target, nil, h)
				}
			}
		}
	}
	for _, path := range []string{"/metrics", "/console", "/console/", "/console/search?q=" + accepted.EntityID,
		"/api/admin/deadletters?limit=5", "/nope", "/api/admin"} {
		do(http.MethodGet, path, nil, bearer)
		do(http.MethodGet, path, nil, nil)
	}
	// A handler panics while answering (the test route of -tags faulthook):
	// the panic is recovered, the request answered, and logged at error
	// level before the answer (that line, with the panic and the stack, is
	// among what is checked), answered with a 500 (an uptime checker must
	// not read a panic as healthy), and the processor goes on serving.
	for _, h := range []http.Header{bearer, nil} {
		errorsBefore := errorLines(p)
		if code, _ := do(http.MethodGet, panicPath, nil, h); code != http.StatusInternalServerError {
			t.Errorf("%s: GET %s answered %d, want 500 from the recovered panic", name, panicPath, code)
		}
		if n := errorLines(p); n <= errorsBefore {
			t.Errorf("%s: the recovered panic was not logged at error level (%d error lines before and after)", name, n)
		}
		if !p.Running() {
			t.Fatalf("%s: the processor exited after a handler panic:\n%s", name, p.Tail(20))
		}
		if code, _ := do(http.MethodGet, "/api/monitor", nil, nil); code == 0 {
			t.Errorf("%s: /api/monitor does not answer after a handler panic", name)
		}
	}

	// The node fails every call, echoing the URL it was called at (where
	// the key is): the relay, the tracker, the balance refresher and the
	// monitor all see those errors.
	node.Set(rpcfault.Faults{StatusEvery: 1, StatusCodes: []int{503, 401, 429}, Echo: true})
	echoesKey(t, node.URL+"/v3/"+sec.pathKey+"?apikey="+sec.queryKey, sec)
	before := strings.Count(p.Stderr(), `"level":"warn"`) + strings.Count(p.Stderr(), `"level":"error"`)
	_, b := do(http.MethodGet, "/metrics", nil, nil)
	rpcErrorsBefore := rpcErrors(b)
	poll.Until(t, 10*time.Second, "the processor logging node errors and counting them in /metrics", func() bool {
		do(http.MethodGet, "/api/monitor", nil, nil)
		do(http.MethodGet, "/api/monitor/readiness", nil, nil)
		_, b := do(http.MethodGet, "/metrics", nil, nil)
		after := strings.Count(p.Stderr(), `"level":"warn"`) + strings.Count(p.Stderr(), `"level":"error"`)
		return after >= before+3 && rpcErrors(b) >= rpcErrorsBefore+3
	})
	node.Set(rpcfault.Faults{})
	do(http.MethodGet, "/api/monitor", nil, nil)
	if !admin {
		if code, _ := do(http.MethodGet, "/api/admin/deadletters", nil, bearer); code == http.StatusOK {
			t.Errorf("%s: admin routes answer 200 without ADMIN_TOKEN", name)
		}
	}
}

// echoesKey makes sure the failing node really answers with the keys in its
// error text, so that the processor's redaction is what keeps them out.
func echoesKey(t *testing.T, url string, sec secrets) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if !strings.Contains(b.String(), sec.pathKey) || !strings.Contains(b.String(), sec.queryKey) {
		t.Fatalf("the failing node's answer %q does not carry the keys", b.String())
	}
}

func freePort(t *testing.T) string { return strconv.Itoa(freeport.Get(t)) }

// panicPath is testhook.PanicPath, which only the faulthook build (the
// processor's, not this test's) declares.
const panicPath = "/internal/test/panic"

// errorLines counts the error-level lines p has logged.
func errorLines(p *proctest.Proc) int {
	lines, _ := p.Logs()
	n := 0
	for _, l := range lines {
		if l.Level == "error" {
			n++
		}
	}
	return n
}

// rpcErrors sums depeg_relay_chain_rpc_errors_total over its operations in
// a /metrics answer.
func rpcErrors(metrics []byte) float64 {
	sum := 0.0
	for series, v := range proctest.ParseMetrics(string(metrics)) {
		if name, _, _ := strings.Cut(series, "{"); name == "depeg_relay_chain_rpc_errors_total" {
			sum += v
		}
	}
	return sum
}

// hangUp is a node that is down: it accepts each connection and closes it
// at once, counting them. The processor's HTTP client opens one connection
// per call that fails so, so calls is how many calls the node got.
type hangUp struct {
	url   string
	calls atomic.Int64
}

func startHangUp(t *testing.T) *hangUp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hangUp{url: "http://" + ln.Addr().String()}
	done := make(chan struct{})
	go func() { // owned by the cleanup, which waits on done
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.calls.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return h
}
