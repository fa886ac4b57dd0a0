package console_test

import (
	"context"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

const (
	adminToken = "console-test-admin-token-0123456789abcdef"
	wallet     = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
	txHash     = "0x4217c4e4b5d3f8a8b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1e693"
	entity     = "01M84VAXA3ENVW6NN6H78HSK7Z"
)

// fakeHealth returns a fixed report.
type fakeHealth struct{ r monitor.Report }

func (f fakeHealth) Check(context.Context) monitor.Report { return f.r }

// fakeDeadLetters is an operator over a fixed list; Replay marks a letter.
type fakeDeadLetters struct {
	mu       sync.Mutex
	letters  []intake.DeadLetter
	replayed map[string]string
	block    bool // List waits for its context
	lists    int  // List calls
}

func (f *fakeDeadLetters) List(ctx context.Context, _ string, _ int) (intake.Page, error) {
	f.mu.Lock()
	f.lists++
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return intake.Page{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]intake.DeadLetter, len(f.letters))
	for i, d := range f.letters {
		d.Replayed = f.replayed[d.ID]
		out[i] = d
	}
	return intake.Page{DeadLetters: out}, nil
}

func (f *fakeDeadLetters) Show(_ context.Context, id string) (intake.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.letters {
		if d.ID == id {
			d.Replayed = f.replayed[id]
			return d, nil
		}
	}
	return intake.DeadLetter{}, intake.ErrDeadLetterNotFound
}

func (f *fakeDeadLetters) Replay(_ context.Context, id string) (intake.Replayed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.letters {
		if d.ID == id {
			if d.Application == nil {
				return intake.Replayed{}, intake.ErrNotReplayable
			}
			f.replayed[id] = "1800000000999-0"
			return intake.Replayed{EntityID: d.EntityID, EntryID: "1800000000999-0"}, nil
		}
	}
	return intake.Replayed{}, intake.ErrDeadLetterNotFound
}

// fakeFinder answers one entityId.
type fakeFinder struct{}

func (fakeFinder) Find(_ context.Context, q string) (inspect.Result, error) {
	if q != entity {
		if inspect.Classify(q) == "" {
			return inspect.Result{}, inspect.ErrQuery
		}
		return inspect.Result{Query: q, Kind: inspect.Classify(q), Applications: []intake.Status{}}, nil
	}
	return inspect.Result{Query: q, Kind: inspect.KindEntity, Applications: []intake.Status{{
		EntityID: entity, Status: stream.StateConfirmed, TransactionHash: txHash, Block: 42, ProcessID: "0xabc",
	}}}, nil
}

func float(v float64) *float64 { return &v }
func i64(v int64) *int64       { return &v }

type fixture struct {
	srv  *httptest.Server
	dead *fakeDeadLetters
	con  *console.Console
	// jar keeps the cookies of the fixture's browser (the unlock).
	jar http.CookieJar
}

func newFixture(t *testing.T, mutate func(*console.Config)) *fixture {
	t.Helper()
	now := time.Unix(1_800_000_000, 0).UTC()
	hist := monitor.NewBalanceHistory(6*time.Hour, 360)
	for i := range 60 {
		hist.Add(now.Add(-time.Duration(60-i)*5*time.Minute), new(big.Int).Mul(big.NewInt(int64(2000-i*10)), big.NewInt(1e15)))
	}
	inFlight := 1
	held, window := uint64(1), uint64(16)
	app, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dead := &fakeDeadLetters{replayed: map[string]string{}, letters: []intake.DeadLetter{
		{ID: "1799999999000-0", EntryID: "1799999990000-0", EntityID: entity, Class: "funds",
			Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", Application: frontend.Fields(app)},
		{ID: "1799999998000-0", EntryID: "1799999980000-0", Class: "malformed", Reason: "stream entry has no entityId"},
		{ID: "1799999997000-0", EntryID: "1799999970000-0", EntityID: "01M84VAXA3ENVW6NN6H78HSK7Y", Class: "malformed",
			Reason: "invalid application: signature: missing", Application: map[string]string{"policyHolder": "0x00000000000000000000000000000000000000a1"}},
		// A well-formed copy whose signature can never pass: no button.
		{ID: "1799999996000-0", EntryID: "1799999960000-0", EntityID: "01M84VAXA3ENVW6NN6H78HSK7X", Class: "signature",
			Reason: "ERROR:DMH-002:SIGNATURE_INVALID", Application: frontend.Fields(app)},
	}}
	cfg := console.Config{
		Health: fakeHealth{monitor.Report{
			Balance: "error - balance 1.4 ETH below alert 1.5 ETH", Processor: monitor.StatusOK, NonAckPendingTx: monitor.StatusOK,
			BalanceEth: "1.4", AlertBalanceEth: "1.5", BalanceAgeSeconds: float(3.2), Runway: "31.0 hours at 0.0452 ETH/hour",
			SpendWeiPerHour: "45200000000000000", InFlight: &inFlight, NodeHeld: &held, NodeWindow: &window,
			PendingCount: i64(1), Lag: i64(0), DeadLetterCount: i64(2), OldestPendingAgeSeconds: float(12),
			LastLoopIteration: now.Format(time.RFC3339), LastLoopAgeSeconds: float(1),
			FeeCap: "waiting - base fee or a stuck transaction's fees are at MAX_FEE_PER_GAS",
		}},
		Wallets: []console.Wallet{{Address: common.HexToAddress(wallet), History: hist}},
		Recent: func() []monitor.Confirmation {
			return []monitor.Confirmation{{EntityID: entity, TxHash: txHash, Block: 42, At: now.Add(-time.Minute)}}
		},
		InFlight: func(context.Context) ([]console.Flight, error) {
			return []console.Flight{{Wallet: common.HexToAddress(wallet), Flight: inspect.Flight{Field: "7", Record: stream.TxRecord{Nonce: 7, EntityID: entity, Hashes: []string{txHash},
				SignedAt: now.Add(-30 * time.Second)}}}}, nil
		},
		DeadLetters: dead,
		Finder:      fakeFinder{},
		AdminToken:  adminToken,
		ExplorerURL: "https://explorer.example/",
		Names:       console.Names{Stream: "application:signatures", Group: "depeg-backend-processor", Consumer: "c", DeadLetter: "dl"},
		Log:         zerolog.Nop(),
		Now:         func() time.Time { return now },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount(console.Path, con.Handler())
	srv := httptest.NewServer(r)
	t.Cleanup(func() { srv.Close(); con.Close() })
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, dead: dead, con: con, jar: jar}
}

// client is the fixture's browser, with its cookies; 303s stay visible.
func (f *fixture) client() *http.Client {
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Jar = f.jar
	return &c
}

// post sends a form from the fixture's browser.
func (f *fixture) post(t *testing.T, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	res, err := f.client().PostForm(f.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// unlock shows the dead letters to the fixture's browser.
func (f *fixture) unlock(t *testing.T) {
	t.Helper()
	if code, h, _ := f.post(t, console.Path+"/unlock", url.Values{"token": {adminToken}}); code != http.StatusSeeOther ||
		h.Get("Location") != console.Path+"#deadletters" {
		t.Fatalf("unlock: %d %q", code, h.Get("Location"))
	}
}

func (f *fixture) get(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	res, err := f.client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func (f *fixture) replay(t *testing.T, id, token string) (int, http.Header, string) {
	t.Helper()
	form := url.Values{}
	if token != "" {
		form.Set("token", token)
	}
	res, err := f.client().PostForm(f.srv.URL+console.Path+"/deadletters/"+id+"/replay", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestPageShowsEverything(t *testing.T) {
	f := newFixture(t, nil)
	f.unlock(t)
	code, h, body := f.get(t, console.Path)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /console: %d %s", code, h.Get("Content-Type"))
	}
	mustContain(t, body,
		// every check, and why the failing one fails
		`id="check-balance"`, `id="check-processor"`, `id="check-nonAckPendingTx"`,
		"balance 1.4 ETH below alert 1.5 ETH", "1 check(s) failing",
		// the wallet, its runway and chart
		"1.4 ETH", "31.0 hours at 0.0452 ETH/hour", "<polyline", `class="alert"`,
		`href="https://explorer.example/address/`+wallet+`"`,
		// the queue
		"Node holds / window", "1 / 16", "Waiting at the fee cap", "yes: base fee",
		// in flight, confirmations with explorer links, dead letters with reasons and buttons
		`href="https://explorer.example/tx/`+txHash+`"`, `href="https://explorer.example/block/42"`,
		"ERROR:DP-015:ALLOWANCE_TOO_LOW", "stream entry has no entityId", `formaction="/console/deadletters/1799999999000-0/replay"`,
		// search
		`action="/console/search"`,
	)
	if n := strings.Count(body, "replay-button"); n != 1 {
		t.Errorf("%d replay buttons, want 1 (one letter has no application copy, one an invalid one, one a signature that never passes)", n)
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	// Nothing inline and nothing from elsewhere: CSP would block inline
	// code, and an air-gapped network has no elsewhere. The runbook links
	// are the one way out, a link and never a resource.
	runbook := regexp.MustCompile(`<a class="runbook" href="` + regexp.QuoteMeta(console.RunbookBase) + `#[a-z0-9-]+" rel="noreferrer">`)
	if !runbook.MatchString(body) {
		t.Errorf("the failing balance check links to no runbook")
	}
	body = runbook.ReplaceAllString(body, "")
	for _, re := range []string{`<script>`, `<script [^>]*>[^<]`, ` style=`, ` on[a-z]+=`, `(src|href)="(https?:)?//(?:[^e]|e[^x])`} {
		if loc := regexp.MustCompile(re).FindStringIndex(body); loc != nil {
			t.Errorf("page has %q: %s", re, body[max(0, loc[0]-40):min(len(body), loc[1]+40)])
		}
	}
}

func TestReadingNeedsNoScript(t *testing.T) {
	f := newFixture(t, nil)
	f.unlock(t)
	_, _, body := f.get(t, console.Path)
	// With JavaScript off the browser shows the markup as served: every
	// figure must be in it, not filled in by the script.
	withoutScripts := regexp.MustCompile(`(?s)<script.*?</script>`).ReplaceAllString(body, "")
	mustContain(t, withoutScripts, "balance 1.4 ETH below alert 1.5 ETH", "ERROR:DP-015:ALLOWANCE_TOO_LOW", "<svg", entity)
	code, h, js := f.get(t, console.Path+"/assets/console.js")
	if code != http.StatusOK || !strings.Contains(h.Get("Content-Type"), "javascript") || !strings.Contains(js, "data-refresh") {
		t.Fatalf("script: %d %s", code, h.Get("Content-Type"))
	}
	if code, h, _ := f.get(t, console.Path+"/assets/console.css"); code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", code, h.Get("Content-Type"))
	}
	for _, p := range []string{"/assets/../console.go", "/assets/nothing.js", "/assets/"} {
		if code, _, _ := f.get(t, console.Path+p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}

func TestReplayNeedsTheToken(t *testing.T) {
	f := newFixture(t, nil)
	const id = "1799999999000-0"
	for _, token := range []string{"", "wrong-token", adminToken + "x"} {
		code, _, body := f.replay(t, id, token)
		if code != http.StatusUnauthorized || !strings.Contains(body, "Replay refused") {
			t.Fatalf("token %q: %d", token, code)
		}
		if strings.Contains(body, adminToken) {
			t.Fatal("refusal shows the admin token")
		}
	}
	if len(f.dead.replayed) != 0 {
		t.Fatal("a refused replay re-queued")
	}
	code, h, _ := f.replay(t, id, adminToken)
	if code != http.StatusSeeOther || h.Get("Location") != "/console?replayed="+id+"#deadletters" {
		t.Fatalf("replay: %d %q", code, h.Get("Location"))
	}
	_, _, body := f.get(t, h.Get("Location"))
	if strings.Contains(body, "re-queued") {
		t.Fatal("the replay's notice (entity and entry) shown to a browser that did not unlock the dead letters")
	}
	f.unlock(t)
	_, _, body = f.get(t, h.Get("Location"))
	mustContain(t, body, "Dead letter "+id+" re-queued", "replayed as 1800000000999-0")
	if strings.Contains(body, adminToken) {
		t.Fatal("page after the replay shows the admin token")
	}
	if code, _, body := f.replay(t, "1799999998000-0", adminToken); code != http.StatusConflict || !strings.Contains(body, "cannot be replayed") {
		t.Fatalf("letter without copy: %d", code)
	}
	if code, _, _ := f.replay(t, "1-1", adminToken); code != http.StatusNotFound {
		t.Fatalf("unknown letter: %d", code)
	}
	if code, _, _ := f.replay(t, "not-an-id", adminToken); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
}

func TestReadOnlyWithoutAdminToken(t *testing.T) {
	f := newFixture(t, func(c *console.Config) { c.AdminToken = "" })
	_, _, body := f.get(t, console.Path)
	if strings.Contains(body, "replay-button") || strings.Contains(body, `name="token"`) {
		t.Fatal("replay offered without ADMIN_TOKEN")
	}
	// Without ADMIN_TOKEN nothing unlocks the dead letters.
	if strings.Contains(body, "ERROR:DP-015:ALLOWANCE_TOO_LOW") || f.dead.lists != 0 {
		t.Fatal("dead letters shown without ADMIN_TOKEN")
	}
	mustContain(t, body, "only when ADMIN_TOKEN is set", "processor deadletters list")
	if code, _, _ := f.post(t, console.Path+"/unlock", url.Values{"token": {""}}); code != http.StatusForbidden {
		t.Fatalf("unlock without ADMIN_TOKEN: %d", code)
	}
	if code, _, _ := f.replay(t, "1799999999000-0", "anything"); code != http.StatusForbidden {
		t.Fatalf("replay without ADMIN_TOKEN: %d", code)
	}
	if len(f.dead.replayed) != 0 {
		t.Fatal("replayed without ADMIN_TOKEN")
	}
}

func TestSearch(t *testing.T) {
	f := newFixture(t, nil)
	_, _, body := f.get(t, console.Path+"/search?q="+entity)
	mustContain(t, body, `id="search-result"`, `<span class="state confirmed">confirmed</span>`, `href="https://explorer.example/block/42"`)
	_, _, body = f.get(t, console.Path+"/search?q=bogus")
	mustContain(t, body, "Type an entityId")
	_, _, body = f.get(t, console.Path+"/search?q=0x0000000000000000000000000000000000000001")
	mustContain(t, body, "Nothing is known of it")
	_, _, body = f.get(t, console.Path+"/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
	if strings.Contains(body, "<script>alert") {
		t.Fatal("query not escaped")
	}
}

// TestSlowRedisCostsOnlyTheSectionTimeout: sections whose Redis hangs are
// cut at SectionTimeout, and the page says so. The text names the cut ("did
// not answer within 0.1 s"); the elapsed bound only detects a hang: ten
// times what the page may take (SectionTimeout and the 250 ms the page then
// waits), so a loaded machine does not break it. Nothing else would end the
// wait (the fakes block until their context ends), so the request has a
// deadline of its own, well past the bound, and a page that ignored the
// timeout fails the test there instead of hanging it.
func TestSlowRedisCostsOnlyTheSectionTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	const hang = 10 * (timeout + 250*time.Millisecond)
	f := newFixture(t, func(c *console.Config) {
		c.SectionTimeout = timeout
		c.DeadLetters.(*fakeDeadLetters).block = true
		c.InFlight = func(ctx context.Context) ([]console.Flight, error) {
			<-ctx.Done()
			return nil, errors.New("dial tcp 10.0.0.7:6379: i/o timeout (redis://:hunter2@10.0.0.7)")
		}
	})
	f.unlock(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*hang)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+console.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := f.client().Do(req)
	if err != nil {
		t.Fatalf("page with Redis hanging: %v after %s", err, time.Since(start))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > hang {
		t.Fatalf("page took %s with Redis hanging (section timeout %s)", took, timeout)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	body := string(b)
	mustContain(t, body, "Dead letters: Redis did not answer within 0.1 s.", "In flight: Redis did not answer", `id="check-balance"`)
	if strings.Contains(body, "hunter2") || strings.Contains(body, "10.0.0.7") {
		t.Fatal("a section's error text reached the page")
	}
}

func TestNewNeedsHealth(t *testing.T) {
	if _, err := console.New(console.Config{}); err == nil {
		t.Fatal("console without Health built")
	}
}

// TestRunbooksExist: every check's runbook link points at a heading of
// README (GitHub's anchor: lower case, spaces as dashes, punctuation gone).
func TestRunbooksExist(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
			h = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(h, "")
			anchors[strings.ReplaceAll(h, " ", "-")] = true
		}
	}
	for check, anchor := range console.Runbooks() {
		if !anchors[anchor] {
			t.Errorf("check %s links to README#%s, which is no heading", check, anchor)
		}
	}
}

// TestPoolOfKeys: with three keys each key has its row (wallet, balance in
// readable precision, runway, lease holder or standby, in flight, node
// window), the header tells chain, product, head block, version and
// uptime, the in-flight rows name their wallet, and orphaned keys are
// listed. With the report of a Redis outage and no key lines, what the
// page does not know says "unknown".
func TestPoolOfKeys(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC() // the fixture's clock
	keys := []string{wallet, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"}
	one, three := 1, 3
	h0, w0, h2, w2 := uint64(1), uint64(16), uint64(3), uint64(16)
	rep := monitor.Report{Balance: monitor.StatusOK, Processor: monitor.StatusOK, NonAckPendingTx: monitor.StatusOK,
		BalanceEth: "1123.456789012345678901", AlertBalanceEth: "0.5", Runway: "90.0 hours at 12 ETH/hour",
		OrphanedKeys: []monitor.OrphanedKey{{Wallet: "0x90F79bf6EB2c4f870365E785982E1f101E93b906", Entries: 2, Since: "2026-11-23T18:30:00Z"}},
		Keys: []monitor.KeyReport{
			{Wallet: keys[0], Balance: monitor.StatusOK, Processor: monitor.StatusOK, BalanceEth: "999.999873452000000001",
				Runway: "80.0 hours", InFlight: &one, NodeHeld: &h0, NodeWindow: &w0},
			{Wallet: keys[1], Balance: monitor.StatusOK, Processor: monitor.StatusOK, BalanceEth: "123.456915560345678900",
				Lease: "standby - the wallet's lease is held by relay-b/77/0123", InFlight: new(int)},
			{Wallet: keys[2], Balance: monitor.StatusOK, Processor: monitor.StatusOK, BalanceEth: "0.000000000000000001",
				InFlight: &three, NodeHeld: &h2, NodeWindow: &w2},
		}}
	health := &fakeHealth{r: rep}
	f := newFixture(t, func(c *console.Config) {
		c.Health = health
		c.Wallets = nil
		for _, k := range keys {
			c.Wallets = append(c.Wallets, console.Wallet{Address: common.HexToAddress(k)})
		}
		c.MinBalance = big.NewInt(25e16)
		c.Header = console.Header{ChainID: "1337", Product: common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
			Version: "0123456789ab", Started: now.Add(-90 * time.Minute),
			Head: func(context.Context) (uint64, error) { return 4242, nil }}
		c.InFlight = func(context.Context) ([]console.Flight, error) {
			var fs []console.Flight
			for i, k := range keys {
				fs = append(fs, console.Flight{Wallet: common.HexToAddress(k), Flight: inspect.Flight{Field: strconv.Itoa(i),
					Record: stream.TxRecord{Nonce: uint64(i), EntityID: entity, Hashes: []string{txHash}, SignedAt: now}}})
			}
			return fs, nil
		}
	})
	_, _, body := f.get(t, console.Path)
	mustContain(t, body,
		`id="chain-id">1337<`, `0x5FbDB2315678afecb367f032d93F642f64180aa3`, `id="head-block">4242<`, `id="version">0123456789ab<`,
		`id="uptime">90 min<`,
		`id="key-0"`, `id="key-1"`, `id="key-2"`,
		"999.9999 ETH", "123.4569 ETH", "&lt; 0.0001 ETH", "1123.4568 ETH", "80.0 hours",
		"held by this process", "standby - the wallet&#39;s lease is held by relay-b/77/0123", "1 / 16", "3 / 16",
		`id="min-balance">0.25 ETH per key`,
		`id="orphans"`, "2026-11-23T18:30:00Z",
	)
	if strings.Contains(body, "999.999873452") {
		t.Errorf("a balance shown with 18 decimals")
	}
	for _, k := range keys {
		// every key's row, and its in-flight row with its wallet
		if n := strings.Count(body, "https://explorer.example/address/"+k); n < 2 {
			t.Errorf("wallet %s shown %d times, want its key row and its in-flight row", k, n)
		}
	}

	// Redis down, the monitor without key lines: the rows say unknown.
	health.r = monitor.Report{Redis: "error - redis: connection refused since 2026-11-23T18:40:00Z",
		NonAckPendingTx: "error - redis: connection refused"}
	_, _, body = f.get(t, console.Path)
	if n := strings.Count(body, `<td class="lease">unknown</td>`); n != 3 {
		t.Errorf("%d key rows say their lease is unknown with Redis down, want 3", n)
	}
	if n := strings.Count(body, `<td class="balance">unknown</td>`); n != 3 {
		t.Errorf("%d key rows say their balance is unknown, want 3", n)
	}
}
