package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/logbuf"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/relay"
	"github.com/etherisc/depeg-relay/stream"
)

const testMnemonic = "test test test test test test test test test test test junk"

// stubHealth answers the monitor routes; these tests are about the intake.
type stubHealth struct{}

func (stubHealth) Check(context.Context) monitor.Report     { return monitor.Report{} }
func (stubHealth) Liveness(context.Context) monitor.Report  { return monitor.Report{} }
func (stubHealth) Readiness(context.Context) monitor.Report { return monitor.Report{} }

// countingChain counts the intake's RPC calls.
type countingChain struct {
	intake.Chain
	calls atomic.Int64
}

// TransactionReceipt and BlockNumber make it an intake.Confirmer, as
// *chain.Client is: the status of a submitted application counts its
// confirmations. They are not counted: only the submit path's calls are.
func (c *countingChain) TransactionReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	return c.Chain.(intake.Confirmer).TransactionReceipt(ctx, h)
}

func (c *countingChain) BlockNumber(ctx context.Context) (uint64, error) {
	return c.Chain.(intake.Confirmer).BlockNumber(ctx)
}

func (c *countingChain) ChainID(ctx context.Context) (*big.Int, error) {
	c.calls.Add(1)
	return c.Chain.ChainID(ctx)
}

func (c *countingChain) CallContract(ctx context.Context, msg ethereum.CallMsg, b *big.Int) ([]byte, error) {
	c.calls.Add(1)
	return c.Chain.CallContract(ctx, msg, b)
}

func (c *countingChain) EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error) {
	c.calls.Add(1)
	return c.Chain.EstimateGas(ctx, msg)
}

type gwOptions struct {
	disabled   bool
	rateLimit  int
	maxBody    int64
	adminToken string
	proxies    []string
}

// gateway is the processor's HTTP side with the intake on a real
// redis-server and an embedded EVM, and (started on demand) the real relay
// on the same Redis and chain.
type gateway struct {
	t         testing.TB
	chain     *devchain.Chain
	client    *chain.Client
	rdb       *redis.Client
	keys      stream.Keys
	queue     *stream.Queue
	status    *stream.StatusStore
	product   *chain.Product
	signer    *chain.Signer
	rpc       *countingChain
	srv       *httptest.Server
	doc       *openAPIDoc
	log       *logbuf.Buffer
	payer     *chain.Signer // a funded key that applies directly on chain
	payerN    uint64
	intakeCfg api.IntakeConfig // what the router was built with
}

func newGateway(t testing.TB, o gwOptions) *gateway {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	payerKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	wallet := crypto.PubkeyToAddress(key.PublicKey)
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{wallet, crypto.PubkeyToAddress(payerKey.PublicKey)}})
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	client, err := chain.Dial(context.Background(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	rdb := redistest.Start(t).Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "depeg-backend-processor-consumer", DeadLetter: "application:signatures:dead",
		Wallet: strings.ToLower(wallet.Hex())}
	g := &gateway{
		t: t, chain: dc, client: client, rdb: rdb, keys: keys,
		queue:   stream.NewQueue(rdb, keys),
		status:  stream.NewStatusStore(rdb, keys.Stream, time.Hour),
		product: chain.NewProduct(dc.Product),
		signer:  chain.NewSigner(key, dc.ChainID),
		payer:   chain.NewSigner(payerKey, dc.ChainID),
		rpc:     &countingChain{Chain: client},
		doc:     loadOpenAPI(t),
		log:     &logbuf.Buffer{},
	}
	if err := g.queue.EnsureGroup(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(g.log).Level(zerolog.DebugLevel)
	pub := stream.NewPublisher(rdb, keys.Stream, stream.PublishOptions{StatusTTL: time.Hour, Poll: 2 * time.Millisecond})
	svc := intake.New(intake.Config{Product: g.product, From: wallet, RPCTimeout: 5 * time.Second},
		log, g.rpc, pub, g.status, g.queue, intake.NewMetrics(prometheus.NewRegistry()))
	replayPub := stream.NewPublisher(rdb, keys.Stream, stream.PublishOptions{ClaimTTL: intake.ReplayClaimTTL, StatusTTL: time.Hour})
	cfg := api.IntakeConfig{
		Service: svc, Enabled: !o.disabled, AllowedOrigins: []string{"https://app.example"},
		MaxBodyBytes: o.maxBody, RateLimit: o.rateLimit, RateWindow: time.Minute, TrustedProxies: o.proxies,
		DeadLetters: intake.NewOperator(g.queue, replayPub), AdminToken: o.adminToken,
	}
	g.intakeCfg = cfg
	router := api.NewRouter(api.Config{Health: stubHealth{}, Log: log, Intake: &cfg})
	g.srv = httptest.NewServer(g.doc.checking(t, router))
	t.Cleanup(g.srv.Close)
	if tt, ok := t.(*testing.T); ok {
		tt.Cleanup(func() {
			if tt.Failed() {
				tt.Logf("log:\n%s", g.log.String())
			}
		})
	}
	return g
}

// startRelay runs the real relay on the gateway's Redis and chain until the
// test ends, with the intake's ObservedQueue as production wires it.
func (g *gateway) startRelay() { g.startRelayWith(16) }

// startRelayWith is startRelay with a window of maxInFlight transactions.
func (g *gateway) startRelayWith(maxInFlight int) {
	g.t.Helper()
	obs := &intake.ObservedQueue{Queue: g.queue, Status: g.status,
		OnError: func(op string, err error) { g.t.Errorf("bookkeeping %s: %v", op, err) }}
	// config's defaults, with the cadence of a test: blocks every 100 ms.
	cfg := relay.Settings(configtest.Defaults(g.t, g.chain.URL, g.chain.Product, testMnemonic))
	cfg.Confirmations, cfg.MaxInFlight = 2, maxInFlight
	cfg.ReadBlock, cfg.ErrorBackoff, cfg.BalanceTooLowWait = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	cfg.PollInterval, cfg.RebroadcastInterval = 25*time.Millisecond, 2*time.Second
	cfg.Status = g.status // as production wires it: confirmed outcomes recorded before the ack
	r := relay.New(cfg, zerolog.New(g.log).With().Str("component", "relay").Logger(), g.client,
		obs, g.signer, g.product,
		monitor.NewMetrics(prometheus.NewRegistry()), &monitor.Heartbeat{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	g.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			g.t.Errorf("relay: %v", err)
		}
	})
}

// produce seals a block every period until the test ends.
func (g *gateway) produce(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.chain.Produce(ctx, every) }()
	g.t.Cleanup(func() { cancel(); wg.Wait() })
}

// body is the frontend's JSON body for app.
func body(app *frontend.Application) map[string]any {
	f := frontend.Fields(app)
	return map[string]any{
		"policyHolder": f["policyHolder"], "protectedWallet": f["protectedWallet"],
		"protectedBalance": f["protectedBalance"], "duration": app.Duration.Int64(), "bundleId": app.BundleID.Int64(),
		"signatureId": f["signatureId"], "signature": f["signature"],
	}
}

func (g *gateway) newApp(bundle int64) *frontend.Application {
	g.t.Helper()
	app, err := frontend.NewSigned(g.chain.ChainID, g.chain.Helper, bundle)
	if err != nil {
		g.t.Fatal(err)
	}
	return app
}

type reply struct {
	code   int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (g *gateway) do(method, path string, payload []byte, header map[string]string) reply {
	g.t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+path, bytes.NewReader(payload))
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := g.srv.Client().Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{code: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &r.json)
	}
	return r
}

func (g *gateway) post(v any) reply {
	g.t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.do(http.MethodPost, "/api/application", raw, map[string]string{"Content-Type": "application/json", "Accept": "text/plain"})
}

func (g *gateway) state(entityID string) map[string]any {
	g.t.Helper()
	r := g.do(http.MethodGet, "/api/application/"+entityID, nil, nil)
	if r.code != http.StatusOK {
		g.t.Fatalf("status of %s: %d %s", entityID, r.code, r.raw)
	}
	return r.json
}

// entityOf finds the entity id of a stream entry.
func (g *gateway) entityOf(entryID string) string {
	g.t.Helper()
	msgs, err := g.rdb.XRangeN(context.Background(), g.keys.Stream, entryID, entryID, 1).Result()
	if err != nil || len(msgs) != 1 {
		g.t.Fatalf("entry %s: %v %v", entryID, msgs, err)
	}
	return msgs[0].Values["entityId"].(string)
}

// applyDirect applies app on chain from another funded key, as if someone
// else had submitted it: its signature is then used.
func (g *gateway) applyDirect(app *frontend.Application) {
	g.t.Helper()
	ctx := context.Background()
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	call, err := g.product.Apply(chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID, SignatureID: sid, Signature: app.Signature})
	if err != nil {
		g.t.Fatal(err)
	}
	tx, err := g.payer.Sign(call, g.payerN, 1_000_000, chain.Fees{FeeCap: big.NewInt(30 * params.GWei), TipCap: big.NewInt(params.GWei)})
	if err != nil {
		g.t.Fatal(err)
	}
	g.payerN++
	if errs, err := g.client.SendTransactions(ctx, []*types.Transaction{tx}); err != nil || errs[0] != nil {
		g.t.Fatalf("send: %v %v", err, errs)
	}
	g.chain.Commit()
	rc, err := g.client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || rc.Status != 1 {
		g.t.Fatalf("direct application not mined: %v %+v", err, rc)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, within, what, cond)
}

// openAPIDoc is the served description, read for the statuses it
// documents per route and method.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

func loadOpenAPI(t testing.TB) *openAPIDoc {
	t.Helper()
	var d openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &d
}

// documents reports whether the description lists status for the route.
func (d *openAPIDoc) documents(pattern, method string, status int) bool {
	op, ok := d.Paths[pattern][strings.ToLower(method)]
	if !ok {
		return false
	}
	_, ok = op.Responses[itoa(status)]
	return ok
}

func itoa(n int) string { return strconv.Itoa(n) }

// checking wraps the router so that every answer of a test is checked
// against the description: a route, method or status it does not list fails
// the test. This is what keeps openapi.json true to the real handlers.
func (d *openAPIDoc) checking(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		h.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		pattern := rctx.RoutePattern()
		if pattern == "" && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
			return // not a route: chi's own answer
		}
		if !d.documents(pattern, r.Method, status) {
			t.Errorf("undocumented answer: %s %s (route %q) -> %d", r.Method, r.URL.Path, pattern, status)
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func commonHash(v any) common.Hash {
	s, _ := v.(string)
	return common.HexToHash(s)
}

// fakeDeadLetters only exists so that the router mounts the admin routes.
type fakeDeadLetters struct{}

func (fakeDeadLetters) List(context.Context, string, int) (intake.Page, error) {
	return intake.Page{}, nil
}
func (fakeDeadLetters) Show(context.Context, string) (intake.DeadLetter, error) {
	return intake.DeadLetter{}, nil
}
func (fakeDeadLetters) Replay(context.Context, string) (intake.Replayed, error) {
	return intake.Replayed{}, nil
}

// nilGatherer makes the router mount /metrics.
type nilGatherer struct{}

func (nilGatherer) Gather() ([]*dto.MetricFamily, error) { return nil, nil }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
}
