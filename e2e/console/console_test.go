// Package console drives the operator's page in a real browser: the built
// processor in dev mode (its own chain and Redis), a few good and bad
// applications from the built enqueue command, and Debian's Chromium,
// headless, driven by chromedp. It checks what an on-call engineer relies
// on: the page shows the checks, the balance and the dead letters (also with
// JavaScript off), the search finds an application, a replay without the
// admin token is refused and with it re-queues the dead letter, and no
// secret is ever on the page. A screenshot is kept as a test artifact.
package console

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/internal/devproc"
	"github.com/etherisc/depeg-relay/internal/freeport"
)

const (
	chromium   = "/usr/bin/chromium"
	adminToken = "console-e2e-admin-token-5f1d8a7c9b3e2d4f6a8c0e1b"
	// devMnemonic is what dev mode uses when PROCESSOR_MNEMONIC is unset.
	devMnemonic = "test test test test test test test test test test test junk"

	startBound   = 2 * time.Minute
	processBound = 2 * time.Minute
	pollEvery    = 100 * time.Millisecond
)

// browserPath finds Chromium. The test skips only when it is missing and CI
// is not set: .ci/run installs it, and there a skip would prove nothing.
func browserPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found with CI set (apt-get install chromium): %v", chromium, err)
		}
		t.Skipf("%s not installed (apt-get install chromium); CI runs this test", chromium)
	}
	return chromium
}

func TestConsoleInABrowser(t *testing.T) {
	browser := browserPath(t)
	bins := devproc.BuildBinaries(t, "./cmd/processor", "./cmd/enqueue")
	port := freeport.Get(t)
	p := devproc.Start(t, filepath.Join(bins, "processor"), []string{
		"PORT=" + strconv.Itoa(port),
		"DEV_CHAIN_PORT=" + strconv.Itoa(freeport.Get(t)),
		// Slow blocks keep the applications in flight long enough to
		// see them in the page's in-flight table.
		"DEV_BLOCK_TIME=2000",
		"CHAIN_POLL_INTERVAL=200",
		"BALANCE_REFRESH_INTERVAL=1000",
		"PROCESSOR_ACCOUNT_INDEX=0-2",
		"ADMIN_TOKEN=" + adminToken,
		"EXPLORER_URL=https://explorer.invalid",
	})
	ready := p.WaitReady(t, startBound)
	if ready.Console == "" {
		t.Fatalf("ready line lacks console: %+v", ready)
	}
	if ready.RedisShared {
		t.Fatalf("dev mode without REDIS_URL shares a Redis: %+v", ready)
	}
	opts, err := redis.ParseURL(ready.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })

	var wallets []string // the pool's three keys
	for i := range uint32(3) {
		key, err := chain.DeriveKey(devMnemonic, i)
		if err != nil {
			t.Fatal(err)
		}
		wallets = append(wallets, crypto.PubkeyToAddress(key.PublicKey).Hex())
	}
	b := newBrowser(t, browser)
	// text reads an element's visible text in one evaluation in the page:
	// the script replaces the live part of the page in place every few
	// seconds, and a node first looked up and then read (chromedp.Text) may
	// be gone in between ("No node with given id found").
	text := func(sel string) string {
		t.Helper()
		return run(t, b, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel)))
	}

	out := devproc.Run(t, filepath.Join(bins, "enqueue"), "-redis", ready.RedisURL, "-stream", ready.Stream,
		"-rpc", ready.ChainRPC, "-product", ready.Product, "-n", "6", "-bad")
	valid, bad := devproc.ParseEnqueued(t, out)
	if len(valid) != 6 || len(bad) < 2 {
		t.Fatalf("enqueued %d valid and %d bad, want 6 and some:\n%s", len(valid), len(bad), out)
	}
	// While they wait for blocks: the in-flight table lists them, each row
	// with the wallet of the key that signed it.
	var flights []string
	eventually(t, p, processBound, "applications in flight on the page", func(ctx context.Context) error {
		b.do(t, chromedp.Navigate(ready.Console), chromedp.WaitVisible(chromedp.CSS("#inflight")))
		flights = run(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#inflight tr.flight")).map(r => r.innerText)`))
		if len(flights) == 0 {
			return errors.New("nothing in flight yet")
		}
		return nil
	})
	for _, row := range flights {
		if !slices.ContainsFunc(wallets, func(w string) bool { return strings.Contains(row, w[:10]) }) {
			t.Errorf("in-flight row %q names none of the pool's wallets %v", row, wallets)
		}
	}
	saveScreenshot(t, run(t, b, chromedp.FullScreenshot(100)), "console-inflight.png")
	eventually(t, p, processBound, "every entry settled and the monitor healthy", func(ctx context.Context) error {
		xp, err := rdb.XPending(ctx, ready.Stream, ready.Group).Result()
		if err != nil || xp.Count != 0 {
			return fmt.Errorf("pending %v (err %v)", xp, err)
		}
		if n, err := rdb.XLen(ctx, ready.DeadLetter).Result(); err != nil || n < int64(len(bad)) {
			return fmt.Errorf("%d dead letters of %d (err %v)", n, len(bad), err)
		}
		code, body, err := devproc.Get(ctx, strings.TrimSuffix(ready.Console, "/console")+"/api/monitor")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("monitor %d %s (err %v)", code, body, err)
		}
		return nil
	})

	var pages []string // every page's HTML, checked for secrets at the end
	snapshot := func() {
		t.Helper()
		pages = append(pages, run(t, b, chromedp.OuterHTML(chromedp.CSS("html"))))
	}

	// The dead letters need the admin token: typed once, it unlocks them
	// for this browser (a cookie) on every later page.
	b.do(t, chromedp.Navigate(ready.Console), chromedp.WaitVisible(chromedp.CSS("#unlock-token")),
		chromedp.SendKeys(chromedp.CSS("#unlock-token"), adminToken), chromedp.Click(chromedp.CSS("#unlock")),
		chromedp.WaitVisible(chromedp.CSS("#lock")))

	// Reading, with JavaScript off: the markup alone carries every figure.
	b.do(t, scripts(false), chromedp.Navigate(ready.Console), chromedp.WaitVisible(chromedp.CSS("#checks")))
	for _, check := range []string{"balance", "processor", "nonAckPendingTx"} {
		if got := text("#check-" + check); !strings.Contains(got, "ok") {
			t.Errorf("check %s shows %q, want ok", check, got)
		}
	}
	if got := strings.TrimSpace(text("#balance")); !strings.HasSuffix(got, " ETH") || !strings.HasPrefix(got, "299") {
		t.Errorf("balance shows %q, want the three dev wallets' 299x ETH", got)
	}
	// Every key of the pool has its row: wallet, balance in readable
	// precision, runway, lease held by this process, in flight, window.
	for i, w := range wallets {
		row := text(fmt.Sprintf("#key-%d", i))
		bal := regexp.MustCompile(`(\d+(\.\d{1,4})?) ETH`).FindStringSubmatch(row)
		if !strings.Contains(row, w[:10]) || bal == nil || !strings.HasPrefix(bal[1], "99") ||
			!strings.Contains(row, "held by this process") {
			t.Errorf("key %d's row %q, want %s, a balance of 99x ETH in at most 4 decimals, held by this process", i, row, w)
		}
	}
	// The header: chain id, product, head block, version, uptime.
	if got := text("#chain-id"); got != "1337" {
		t.Errorf("header chain id %q", got)
	}
	if got := text("#product"); !strings.HasPrefix(got, ready.Product[:10]) {
		t.Errorf("header product %q, want %s", got, ready.Product)
	}
	if n, err := strconv.Atoi(text("#head-block")); err != nil || n < 1 {
		t.Errorf("header head block %q", text("#head-block"))
	}
	if text("#version") == "" || text("#uptime") == "" || text("#uptime") == "unknown" {
		t.Errorf("header version %q, uptime %q", text("#version"), text("#uptime"))
	}
	dead := text("#deadletters")
	for _, bc := range bad {
		if bc.WantReason != "entityId" && !strings.Contains(dead, bc.WantReason) {
			t.Errorf("dead letters do not show %s's reason %q", bc.Name, bc.WantReason)
		}
	}
	if !strings.Contains(text("#confirmations"), valid[0].EntityID) {
		t.Errorf("last confirmations do not list %s", valid[0].EntityID)
	}
	snapshot()

	// With JavaScript, as people use it; the screenshot is the README's.
	b.do(t, scripts(true), chromedp.Navigate(ready.Console), chromedp.WaitVisible(chromedp.CSS("#deadletters")))
	saveScreenshot(t, run(t, b, chromedp.FullScreenshot(100)), "console.png")
	snapshot()
	// The script refreshes the live part in place (every 10 s).
	first := text("#generated")
	deadline := time.Now().Add(25 * time.Second)
	for text("#generated") == first {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not refresh itself within 25 s (still %q)", first)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(250 * time.Millisecond):
		}
	}

	// Search by entityId answers with the application's status.
	b.do(t, chromedp.SendKeys(chromedp.CSS("#q"), valid[1].EntityID), chromedp.Submit(chromedp.CSS("#q")),
		chromedp.WaitVisible(chromedp.CSS("#search-result")))
	if got := text("#search-result"); !strings.Contains(got, valid[1].EntityID) || !strings.Contains(got, "confirmed") {
		t.Errorf("search for %s shows %q, want it confirmed", valid[1].EntityID, got)
	}
	snapshot()

	// Replay: the bundle-0 application is replayable (its fields are valid).
	target := deadLetterOf(t, rdb, ready.DeadLetter, "BUNDLE_ID_ZERO")
	buttonSel := fmt.Sprintf(`#dl-%s button.replay-button`, target)
	button := chromedp.CSS(buttonSel)
	before := rdb.XLen(t.Context(), ready.Stream).Val()
	b.do(t, chromedp.Navigate(ready.Console), chromedp.WaitVisible(button), click(buttonSel),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := text("#notice"); !strings.Contains(got, "Replay refused") {
		t.Errorf("replay without the token: notice %q", got)
	}
	snapshot()
	if n := rdb.XLen(t.Context(), ready.Stream).Val(); n != before {
		t.Fatalf("a refused replay queued %d entries", n-before)
	}
	b.do(t, chromedp.Navigate(ready.Console), chromedp.WaitVisible(button),
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken), click(buttonSel),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := text("#notice"); !strings.Contains(got, "Dead letter "+target+" re-queued") {
		t.Errorf("replay with the token: notice %q", got)
	}
	snapshot()
	if n := rdb.XLen(t.Context(), ready.Stream).Val(); n != before+1 {
		t.Fatalf("replay with the token queued %d entries, want 1", n-before)
	}

	// No secret on any page: the token, the mnemonic, the wallet's key.
	key, err := chain.DeriveKey(devMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{adminToken, devMnemonic, hex.EncodeToString(crypto.FromECDSA(key))}
	for i, page := range pages {
		for _, s := range secrets {
			if strings.Contains(page, s) {
				t.Errorf("page %d shows a secret (%.8s...)", i, s)
			}
		}
	}
}

// browser is a headless Chromium tab.
type browser struct{ ctx context.Context }

// newBrowser starts headless Chromium with a fresh profile, cut off from
// everything but the page: no background networking, component updates or
// sync, so the test runs offline and leaves nothing behind.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser, which lives as long as its
	// context: that one has no deadline, the steps have theirs.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return &browser{ctx: ctx}
}

// stepTimeout bounds each browser step, so a selector that never appears
// fails the test instead of hanging it.
const stepTimeout = 30 * time.Second

// do runs steps in the tab.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// run runs one step that returns a value in b's tab.
func run[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// click clicks the element sel with the page's own script, in one step. The
// console swaps its live part every few seconds (console.js) unless the
// operator is typing, and chromedp.Click, which finds the node and then
// clicks it by id, fails ("No node with given id found") when a swap comes
// between the two, as one can on a loaded machine.
func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		found, err := chromedp.Evaluate[bool](fmt.Sprintf(`(function () {
  var e = document.querySelector(%q);
  if (!e) { return false; }
  e.click();
  return true;
})()`, sel))(ctx, tg)
		if err == nil && !found {
			err = fmt.Errorf("click %s: no such element", sel)
		}
		return err
	})
}

// scripts switches JavaScript on or off in the tab.
func scripts(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// saveScreenshot writes a PNG to $CONSOLE_ARTIFACTS (when set) or the
// test's artifact directory (go test -artifacts keeps it).
func saveScreenshot(t *testing.T, png []byte, name string) {
	t.Helper()
	dir := os.Getenv("CONSOLE_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// deadLetterOf is the id of the dead letter whose reason mentions reason.
func deadLetterOf(t *testing.T, rdb *redis.Client, key, reason string) string {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if r, _ := m.Values["reason"].(string); strings.Contains(r, reason) {
			return m.ID
		}
	}
	t.Fatalf("no dead letter mentions %q", reason)
	return ""
}

// eventually is devproc.Eventually at this test's poll interval.
func eventually(t *testing.T, p *devproc.Proc, bound time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	devproc.Eventually(t, p, bound, pollEvery, what, cond)
}
