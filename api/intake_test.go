package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// TestOpenAPIMatchesRoutes compares the description with the router's
// routes, all of them switched on: a route added without its description,
// or described but gone, fails here.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	cfg := api.IntakeConfig{Service: nil, DeadLetters: fakeDeadLetters{}, AdminToken: "x"}
	r := api.NewRouter(api.Config{Health: stubHealth{}, Gatherer: nilGatherer{}, Log: zerolog.Nop(), Intake: &cfg})
	var routed []string
	err := chi.Walk(r.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed = append(routed, strings.ToLower(method)+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	doc := loadOpenAPI(t)
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(routed)
	slices.Sort(documented)
	if !slices.Equal(routed, documented) {
		t.Fatalf("routes and openapi.json differ:\nrouted     %v\ndocumented %v", routed, documented)
	}
	var raw map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &raw); err != nil || !strings.HasPrefix(raw["openapi"].(string), "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
}

func TestBadBodies(t *testing.T) {
	g := newGateway(t, gwOptions{maxBody: 2048})
	used := g.newApp(1)
	g.applyDirect(used)
	wrongSigner := g.newApp(1)
	other, _ := crypto.GenerateKey()
	holder := wrongSigner.PolicyHolder
	if err := frontend.Sign(other, g.chain.ChainID, g.chain.Helper, wrongSigner); err != nil {
		t.Fatal(err)
	}
	wrongSigner.PolicyHolder = holder
	bundle0 := g.newApp(0)

	with := func(app *frontend.Application, kv ...any) map[string]any {
		b := body(app)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(b, kv[i].(string))
			} else {
				b[kv[i].(string)] = kv[i+1]
			}
		}
		return b
	}
	cases := []struct {
		name    string
		body    any // marshalled; a string is sent as is
		ctype   string
		code    int
		field   string
		reason  string // contained in the reason (or error for 413/415)
		class   string
		problem int // problems listed, when > 0
	}{
		{"missing field", with(g.newApp(1), "signature", nil), "", 400, "signature", "missing", "malformed", 1},
		{"several missing", with(g.newApp(1), "signature", nil, "duration", nil), "", 400, "duration", "missing", "malformed", 2},
		{"bad address", with(g.newApp(1), "policyHolder", "0xnot-an-address"), "", 400, "policyHolder", "not a 0x address", "malformed", 1},
		{"bad checksum", with(g.newApp(1), "protectedWallet", "0x5FBDB2315678afecb367f032d93F642f64180aa3"), "", 400, "protectedWallet", "checksum", "malformed", 1},
		{"negative balance", with(g.newApp(1), "protectedBalance", "-5"), "", 400, "protectedBalance", "non-negative decimal", "malformed", 1},
		{"negative balance number", with(g.newApp(1), "protectedBalance", -5), "", 400, "protectedBalance", "non-negative decimal", "malformed", 1},
		{"non-numeric balance", with(g.newApp(1), "protectedBalance", "abc"), "", 400, "protectedBalance", "non-negative decimal", "malformed", 1},
		{"fractional duration", with(g.newApp(1), "duration", 1.5), "", 400, "duration", "non-negative decimal", "malformed", 1},
		{"duration of wrong type", with(g.newApp(1), "duration", true), "", 400, "duration", "JSON number", "malformed", 1},
		{"signatureId of 32 bytes", with(g.newApp(1), "signatureId", strings.Repeat("a", 32)), "", 400, "signatureId", "shorter than 32", "malformed", 1},
		{"short signature", with(g.newApp(1), "signature", "0x1234"), "", 400, "signature", "130 hex digits", "malformed", 1},
		{"not json", "policyHolder=0x", "", 400, "", "it is not valid JSON (at byte 1)", "malformed", 1},
		{"array body", "[1,2]", "", 400, "", "body must be one JSON object with the application's fields; it is an array", "malformed", 1},
		{"wrong signer", body(wrongSigner), "", 400, "signature", "SIGNATURE_INVALID", "signature", 0},
		{"used signature", body(used), "", 409, "signature", "SIGNATURE_USED", "signature_used", 0},
		{"bundle 0", body(bundle0), "", 400, "bundleId", "BUNDLE_ID_ZERO", "application", 0},
		{"foreign riskpool", body(g.newApp(1000)), "", 400, "bundleId", "RISKPOOL_MISMATCH", "application", 0},
		{"oversized body", with(g.newApp(1), "padding", strings.Repeat("x", 4096)), "", 413, "", "body too large", "", 0},
		{"wrong content type", body(g.newApp(1)), "text/plain", 415, "", "application/json", "", 0},
		{"form content type", body(g.newApp(1)), "application/x-www-form-urlencoded", 415, "", "application/json", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, ok := tc.body.(string)
			if !ok {
				b, err := json.Marshal(tc.body)
				if err != nil {
					t.Fatal(err)
				}
				raw = string(b)
			}
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/json; charset=utf-8"
			}
			r := g.do(http.MethodPost, "/api/application", []byte(raw), map[string]string{"Content-Type": ctype})
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.raw)
			}
			if r.json == nil {
				t.Fatalf("not a JSON answer: %q", r.raw)
			}
			text := r.json["reason"]
			if tc.code == 413 || tc.code == 415 {
				text = r.json["error"]
			}
			if s, _ := text.(string); !strings.Contains(s, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", text, tc.reason)
			}
			if got, _ := r.json["field"].(string); got != tc.field {
				t.Errorf("field %q, want %q", got, tc.field)
			}
			if got, _ := r.json["class"].(string); got != tc.class {
				t.Errorf("class %q, want %q", got, tc.class)
			}
			if tc.problem > 0 {
				if ps, _ := r.json["problems"].([]any); len(ps) != tc.problem {
					t.Errorf("problems %v, want %d", r.json["problems"], tc.problem)
				}
			}
		})
	}
	if n := g.rdb.XLen(context.Background(), g.keys.Stream).Val(); n != 0 {
		t.Fatalf("refused applications reached the stream: %d entries", n)
	}
}

// TestValidPostEndsConfirmed follows one application from the POST to its
// confirmation on chain, watching its status move queued -> submitted ->
// confirmed, and its outcome outlive the purged hash.
func TestValidPostEndsConfirmed(t *testing.T) {
	g := newGateway(t, gwOptions{})
	app := g.newApp(1)
	// JSON by default, with the entity id the status route takes.
	r := g.do(http.MethodPost, "/api/application", mustJSON(t, body(app)), map[string]string{"Content-Type": "application/json"})
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("post: %d %q %s", r.code, r.header.Get("Content-Type"), r.raw)
	}
	entry, _ := r.json["entryId"].(string)
	entity, _ := r.json["entityId"].(string)
	if entity == "" || g.entityOf(entry) != entity {
		t.Fatalf("post answered %s", r.raw)
	}
	if st := g.state(entity); st["status"] != "queued" || st["entryId"] != entry || st["updatedAt"] == nil {
		t.Fatalf("before the relay: %v", st)
	}
	// The old API's client, asking for text/plain, still gets the bare id.
	if plain := g.post(body(app)); plain.code != http.StatusOK || string(plain.raw) != entry ||
		!strings.HasPrefix(plain.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("post asking for text/plain: %d %q %s", plain.code, plain.header.Get("Content-Type"), plain.raw)
	}
	// The hash is in the frontend's layout, byte for byte what
	// frontend.Fields writes (but the timestamp, stamped by the intake).
	stored := g.rdb.HGetAll(context.Background(), stream.ApplicationKey(entity)).Val()
	want := frontend.Fields(app)
	delete(want, "timestamp")
	if ts := stored["timestamp"]; ts == "" {
		t.Fatal("no timestamp")
	}
	delete(stored, "timestamp")
	if !maps.Equal(stored, want) {
		t.Fatalf("hash %v\nwant %v", stored, want)
	}

	g.startRelay() // no blocks yet: the transaction stays pending
	var tx string
	eventually(t, 10*time.Second, "submitted", func() bool {
		st := g.state(entity)
		tx, _ = st["transactionHash"].(string)
		return st["status"] == "submitted" && tx != ""
	})
	// Submitted, not mined: an update time and no confirmation yet.
	if st := g.state(entity); st["status"] == "submitted" && (st["confirmations"] != 0.0 || st["updatedAt"] == nil) {
		t.Fatalf("submitted: %v", st)
	}
	// "submitted" is written with the journal, before the broadcast (so
	// that no crash sends what the user is not shown): wait until the node
	// holds the transaction, or the block sealed next may go out without it
	// (CI once sealed it between the two, and no later block came).
	eventually(t, 10*time.Second, "the node holding the transaction", func() bool {
		_, pending, err := g.chain.Client.TransactionByHash(context.Background(), common.HexToHash(tx))
		return err == nil && pending
	})
	// Mined in one block, below the relay's 2 confirmations: still
	// submitted, with 1 confirmation and its block.
	g.chain.Commit()
	eventually(t, 10*time.Second, "one confirmation", func() bool {
		st := g.state(entity)
		return st["status"] == "submitted" && st["confirmations"] == 1.0 && st["block"] != nil
	})
	g.produce(50 * time.Millisecond)
	var st map[string]any
	eventually(t, 20*time.Second, "confirmed", func() bool {
		st = g.state(entity)
		return st["status"] == "confirmed"
	})
	// The outcome is recorded before the hash is purged.
	eventually(t, 10*time.Second, "hash purged after confirmation", func() bool {
		return g.rdb.Exists(context.Background(), stream.ApplicationKey(entity)).Val() == 0
	})
	rc, err := g.client.TransactionReceipt(context.Background(), commonHash(st["transactionHash"]))
	if err != nil {
		t.Fatal(err)
	}
	pid, ok := g.product.ProcessID(rc)
	if !ok || st["processId"] != pid.Hex() || st["block"] != float64(rc.BlockNumber.Uint64()) {
		t.Fatalf("status %v, receipt block %d processId %s", st, rc.BlockNumber, pid.Hex())
	}
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	if n, _ := g.chain.ApplicationsBySignatureID(context.Background(), sid); n != 1 {
		t.Fatalf("created %d times", n)
	}
	// Posting it again gives the same answer, not SIGNATURE_USED.
	again := g.do(http.MethodPost, "/api/application", mustJSON(t, body(app)),
		map[string]string{"Content-Type": "application/json", "Accept": "application/json"})
	if again.code != 200 || again.json["entryId"] != entry || again.json["existing"] != true {
		t.Fatalf("repeat after confirmation: %d %s", again.code, again.raw)
	}
}

func TestConcurrentDuplicatePosts(t *testing.T) {
	g := newGateway(t, gwOptions{})
	raw := mustJSON(t, body(g.newApp(1)))
	const n = 12
	answers := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.do(http.MethodPost, "/api/application", raw, map[string]string{"Content-Type": "application/json", "Accept": "text/plain"})
			codes[i], answers[i] = r.code, string(r.raw)
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 200 || answers[i] != answers[0] {
			t.Fatalf("answer %d: %d %q, first %q", i, codes[i], answers[i], answers[0])
		}
	}
	if l := g.rdb.XLen(context.Background(), g.keys.Stream).Val(); l != 1 {
		t.Fatalf("%d stream entries for one signature", l)
	}
	if keys := g.rdb.Keys(context.Background(), "PendingApplication:*").Val(); len(keys) != 1 {
		t.Fatalf("application hashes %v", keys)
	}
}

// TestCoexistenceWithFrontendPath runs both writers side by side: one
// application posted to the intake, one written into Redis by the
// frontend's old path, same policy holder. Both are processed, both are
// listed once the relay has read them, both end confirmed.
func TestCoexistenceWithFrontendPath(t *testing.T) {
	g := newGateway(t, gwOptions{})
	key, _ := crypto.GenerateKey()
	sign := func() *frontend.Application {
		app := g.newApp(1)
		if err := frontend.Sign(key, g.chain.ChainID, g.chain.Helper, app); err != nil {
			t.Fatal(err)
		}
		return app
	}
	posted, direct := sign(), sign()
	r := g.post(body(posted))
	if r.code != 200 {
		t.Fatalf("post: %d %s", r.code, r.raw)
	}
	postedID := g.entityOf(string(r.raw))
	directID := frontend.NewEntityID()
	if _, err := frontend.Enqueue(context.Background(), g.rdb, g.keys.Stream, directID, frontend.Fields(direct)); err != nil {
		t.Fatal(err)
	}
	list := func() []map[string]any {
		r := g.do(http.MethodGet, "/api/application?address="+strings.ToLower(posted.PolicyHolder.Hex()), nil, nil)
		if r.code != 200 {
			t.Fatalf("list: %d %s", r.code, r.raw)
		}
		var out []map[string]any
		if err := json.Unmarshal(r.raw, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if l := list(); len(l) != 1 || l[0]["entityId"] != postedID || l[0]["transactionHash"] != nil || l[0]["duration"] != float64(posted.Duration.Int64()) {
		t.Fatalf("before the relay read anything: %v", l)
	}
	if st := g.state(directID); st["status"] != "queued" {
		t.Fatalf("direct application: %v", st)
	}
	g.startRelay()
	eventually(t, 10*time.Second, "both listed with their transactions", func() bool {
		l := list()
		return len(l) == 2 && l[0]["transactionHash"] != nil && l[1]["transactionHash"] != nil
	})
	g.produce(50 * time.Millisecond)
	eventually(t, 20*time.Second, "both confirmed", func() bool {
		return g.state(postedID)["status"] == "confirmed" && g.state(directID)["status"] == "confirmed"
	})
	// The outcome is recorded before the hash is purged: the listing
	// empties a moment after the status says confirmed.
	eventually(t, 10*time.Second, "settled applications no longer listed", func() bool { return len(list()) == 0 })
}

// TestReplayDeadLetter re-queues an application that was rejected for a
// cause since fixed (a funds rejection: the holder raised the allowance):
// replayed twice, it is queued once, and ends confirmed.
func TestReplayDeadLetter(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	g := newGateway(t, gwOptions{adminToken: token})
	auth := map[string]string{"Authorization": "Bearer " + token}
	app := g.newApp(1)
	entity := frontend.NewEntityID()
	fields := frontend.Fields(app)
	fields[stream.FieldTransactionHash] = "0x" + strings.Repeat("ab", 32) // an earlier attempt's, dropped on replay
	// Dead-lettered as the relay does: the rejection recorded, then the dead letter.
	rejected := &intake.ObservedQueue{Queue: g.queue, Status: g.status}
	if err := rejected.DeadLetter(context.Background(), stream.DeadLetter{EntryID: "1-1", EntityID: entity, Class: "funds",
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", At: time.Now(), Fields: fields}); err != nil {
		t.Fatal(err)
	}
	if st := g.state(entity); st["status"] != "rejected" || st["class"] != "funds" {
		t.Fatalf("status of the rejection: %v", st)
	}
	page := g.do(http.MethodGet, "/api/admin/deadletters?limit=10", nil, auth)
	dls, _ := page.json["deadLetters"].([]any)
	if page.code != 200 || len(dls) != 1 {
		t.Fatalf("list: %d %s", page.code, page.raw)
	}
	id := dls[0].(map[string]any)["id"].(string)
	first := g.do(http.MethodPost, "/api/admin/deadletters/"+id+"/replay", nil, auth)
	second := g.do(http.MethodPost, "/api/admin/deadletters/"+id+"/replay", nil, auth)
	if first.code != 200 || second.code != 200 || first.json["entryId"] != second.json["entryId"] ||
		first.json["existing"] != false || second.json["existing"] != true {
		t.Fatalf("replays: %s / %s", first.raw, second.raw)
	}
	if l := g.rdb.XLen(context.Background(), g.keys.Stream).Val(); l != 1 {
		t.Fatalf("replayed twice, %d entries", l)
	}
	if h := g.rdb.HGet(context.Background(), stream.ApplicationKey(entity), stream.FieldTransactionHash).Val(); h != "" {
		t.Fatalf("replayed with the old transactionHash %s", h)
	}
	if st := g.state(entity); st["status"] != "queued" || st["entryId"] != first.json["entryId"] {
		t.Fatalf("after replay: %v", st)
	}
	show := g.do(http.MethodGet, "/api/admin/deadletters/"+id, nil, auth)
	if show.code != 200 || show.json["replayedEntryId"] != first.json["entryId"] {
		t.Fatalf("show: %s", show.raw)
	}
	g.startRelay()
	g.produce(50 * time.Millisecond)
	eventually(t, 20*time.Second, "replayed application confirmed", func() bool {
		return g.state(entity)["status"] == "confirmed"
	})
	if r := g.do(http.MethodPost, "/api/admin/deadletters/0-1/replay", nil, auth); r.code != 404 {
		t.Fatalf("unknown dead letter: %d", r.code)
	}
}

func TestAdminRoutes(t *testing.T) {
	const token = "s3cr3t-admin-token-0123456789abcdef"
	off := newGateway(t, gwOptions{})
	if r := off.do(http.MethodGet, "/api/admin/deadletters", nil, map[string]string{"Authorization": "Bearer " + token}); r.code != 404 {
		t.Fatalf("admin routes without a token configured: %d", r.code)
	}
	g := newGateway(t, gwOptions{adminToken: token})
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": "Bearer " + token + "x"}} {
		if r := g.do(http.MethodGet, "/api/admin/deadletters", nil, h); r.code != 401 || strings.Contains(string(r.raw), token) {
			t.Fatalf("%v: %d %s", h, r.code, r.raw)
		}
	}
	if r := g.do(http.MethodGet, "/api/admin/deadletters?limit=0", nil, map[string]string{"Authorization": "Bearer " + token}); r.code != 400 {
		t.Fatalf("limit 0: %d", r.code)
	}
	if r := g.do(http.MethodGet, "/api/admin/deadletters", nil, map[string]string{"Authorization": "Bearer " + token}); r.code != 200 {
		t.Fatalf("with token: %d %s", r.code, r.raw)
	}
	if strings.Contains(g.log.String(), token) {
		t.Fatal("the admin token reached the log")
	}
}

func TestRateLimitedClient(t *testing.T) {
	g := newGateway(t, gwOptions{rateLimit: 3, proxies: []string{"127.0.0.1/32"}})
	from := func(ip string) int {
		return g.do(http.MethodGet, "/api/application?address=0x00000000000000000000000000000000000000aa", nil,
			map[string]string{"X-Forwarded-For": ip}).code
	}
	for i := range 3 {
		if c := from("203.0.113.5"); c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	r := g.do(http.MethodPost, "/api/application", mustJSON(t, body(g.newApp(1))),
		map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.5"})
	if r.code != http.StatusTooManyRequests || r.json["error"] != "too many requests" || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v %s", r.code, r.header, r.raw)
	}
	if c := from("203.0.113.6"); c != 200 {
		t.Fatalf("another client limited too: %d", c)
	}
	// A spoofed X-Forwarded-For from an untrusted peer is ignored: the peer
	// (127.0.0.1 is trusted here, so this is the left-most untrusted hop).
	if c := from("203.0.113.6, 203.0.113.5"); c != 429 {
		t.Fatalf("client behind a second proxy hop not limited: %d", c)
	}
}

// TestIntakeSwitchedOff closes the door while the relay goes on with what
// the frontend writes directly, and the status routes keep answering.
func TestIntakeSwitchedOff(t *testing.T) {
	g := newGateway(t, gwOptions{disabled: true})
	r := g.post(body(g.newApp(1)))
	if r.code != 503 || r.json["error"] != "intake is switched off" {
		t.Fatalf("post while off: %d %s", r.code, r.raw)
	}
	if l := g.rdb.XLen(context.Background(), g.keys.Stream).Val(); l != 0 {
		t.Fatalf("%d entries written while off", l)
	}
	direct := frontend.NewEntityID()
	if _, err := frontend.Enqueue(context.Background(), g.rdb, g.keys.Stream, direct, frontend.Fields(g.newApp(1))); err != nil {
		t.Fatal(err)
	}
	g.startRelay()
	g.produce(50 * time.Millisecond)
	eventually(t, 20*time.Second, "direct application confirmed", func() bool {
		return g.state(direct)["status"] == "confirmed"
	})
}

// TestProductPausedIsQueued: a transient revert is not the applicant's
// fault; the application is queued and the relay retries it.
func TestProductPausedIsQueued(t *testing.T) {
	g := newGateway(t, gwOptions{})
	if err := g.chain.SetActive(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	r := g.do(http.MethodPost, "/api/application", mustJSON(t, body(g.newApp(1))),
		map[string]string{"Content-Type": "application/json", "Accept": "application/json"})
	if r.code != 200 || !strings.Contains(r.json["deferred"].(string), "PRODUCT_NOT_ACTIVE") {
		t.Fatalf("paused product: %d %s", r.code, r.raw)
	}
	if c := g.rpc.calls.Load(); c != 3 {
		t.Fatalf("%d RPC calls for the first application, want 3 (chain id, helper, simulation)", c)
	}
	g.post(body(g.newApp(1)))
	if c := g.rpc.calls.Load(); c != 4 {
		t.Fatalf("%d RPC calls after the second, want 4: the domain is cached", c)
	}
}

func TestStatusAndListErrors(t *testing.T) {
	g := newGateway(t, gwOptions{})
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/application/not-a-ulid", 400},
		{"/api/application/" + frontend.NewEntityID(), 404},
		{"/api/application", 400},
		{"/api/application?address=0x12", 400},
	} {
		if r := g.do(http.MethodGet, tc.path, nil, nil); r.code != tc.code || r.json["error"] == nil {
			t.Errorf("%s: %d %s, want %d", tc.path, r.code, r.raw, tc.code)
		}
	}
}

func TestCORS(t *testing.T) {
	g := newGateway(t, gwOptions{})
	pre := func(origin string) reply {
		return g.do(http.MethodOptions, "/api/application", nil, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
	}
	if r := pre("https://app.example"); r.code != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("allowed origin: %d %v", r.code, r.header)
	}
	if r := pre("https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", r.header)
	}
	r := g.do(http.MethodPost, "/api/application", []byte(`{}`), map[string]string{"Origin": "https://app.example", "Content-Type": "application/json"})
	if r.code != 400 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("error answers must be readable by the frontend: %d %v", r.code, r.header)
	}
}

// TestRetryCompletesCrashedPost: a POST died after its XADD, before it
// recorded the entry, and the relay (here: someone) has since applied the
// signature on chain. The retry must not be refused as SIGNATURE_USED nor
// queue a second entry: it finds the first entry and answers with it.
func TestRetryCompletesCrashedPost(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	app := g.newApp(1)
	keys := stream.NewIntakeKeys(g.keys.Stream)
	claim := stream.SignatureClaimID(crypto.Keccak256Hash(app.Signature))
	entity := frontend.NewEntityID()
	claimedAt := strconv.FormatInt(time.Now().UnixMilli()-1, 10)
	if err := g.rdb.HSet(ctx, keys.Claim(claim), "entityId", entity, "claimedAt", claimedAt).Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.rdb.Set(ctx, keys.Lease(claim), "dead-writer", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	entry, err := frontend.Enqueue(ctx, g.rdb, g.keys.Stream, entity, frontend.Fields(app))
	if err != nil {
		t.Fatal(err)
	}
	g.applyDirect(app)
	r := g.post(body(app))
	if r.code != 200 || string(r.raw) != entry {
		t.Fatalf("retry: %d %s, want 200 %s", r.code, r.raw, entry)
	}
	if n := g.rdb.XLen(ctx, g.keys.Stream).Val(); n != 1 {
		t.Fatalf("%d entries", n)
	}
	if st := g.state(entity); st["entryId"] != entry {
		t.Fatalf("status %v", st)
	}
}
