package console_test

import (
	"context"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/internal/configtest"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// deadLetterText is what the dead letters of the fixture show when they are
// shown: reasons, a policy holder and the entity ids.
var deadLetterText = []string{"ERROR:DP-015:ALLOWANCE_TOO_LOW", "stream entry has no entityId",
	"0x00000000000000000000000000000000000000a1", "01M84VAXA3ENVW6NN6H78HSK7Y", "replay-button"}

func lacksAll(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range deadLetterText {
		if strings.Contains(body, s) {
			t.Fatalf("%s: the page shows %q", what, s)
		}
	}
}

// TestDeadLettersNeedTheToken: through the console's handler, the dead
// letters (holders, reasons) are neither read nor shown until the browser
// posts ADMIN_TOKEN; a wrong token, a forged, expired or foreign cookie do
// not unlock them; Hide locks them again. The token never reaches a page
// or the cookie.
func TestDeadLettersNeedTheToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC()
	clock := now
	f := newFixture(t, func(c *console.Config) { c.Now = func() time.Time { return clock } })
	_, _, body := f.get(t, console.Path)
	lacksAll(t, "anonymous", body)
	mustContain(t, body, `action="/console/unlock"`, `id="unlock-token"`, "Dead letters (total)")
	if f.dead.lists != 0 {
		t.Fatalf("the dead letters were read %d times for an anonymous page", f.dead.lists)
	}

	for _, token := range []string{"", "wrong", adminToken + "x", strings.ToUpper(adminToken)} {
		code, h, body := f.post(t, console.Path+"/unlock", url.Values{"token": {token}})
		if code != http.StatusUnauthorized || h.Get("Set-Cookie") != "" {
			t.Fatalf("unlock with %q: %d, cookie %q", token, code, h.Get("Set-Cookie"))
		}
		lacksAll(t, "wrong token", body)
	}

	code, h, _ := f.post(t, console.Path+"/unlock", url.Values{"token": {adminToken}})
	set := h.Get("Set-Cookie")
	if code != http.StatusSeeOther || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") ||
		!strings.Contains(set, "Path=/console") || strings.Contains(set, adminToken) {
		t.Fatalf("unlock: %d, cookie %q", code, set)
	}
	_, _, body = f.get(t, console.Path)
	mustContain(t, body, deadLetterText...)
	mustContain(t, body, `action="/console/lock"`)
	if strings.Contains(body, adminToken) {
		t.Fatal("the unlocked page shows the admin token")
	}

	// The cookie expires, and cannot be forged or stretched.
	base, _ := url.Parse(f.srv.URL + console.Path)
	cookie := f.jar.Cookies(base)[0]
	ts, mac, _ := strings.Cut(cookie.Value, ".")
	clock = now.Add(13 * time.Hour)
	_, _, body = f.get(t, console.Path)
	lacksAll(t, "after 13 hours", body)
	clock = now
	for _, forged := range []string{
		strconv.FormatInt(now.Unix()-3600, 10) + "." + mac, // another time under the MAC of the first
		ts + "." + strings.Repeat("0", len(mac)), ts, "", "x.y",
	} {
		anon := newFixture(t, func(c *console.Config) { c.Now = func() time.Time { return clock } })
		anon.jar.SetCookies(base, []*http.Cookie{{Name: cookie.Name, Value: forged, Path: "/console"}})
		_, _, body := anon.get(t, console.Path)
		lacksAll(t, "forged cookie "+forged, body)
	}
	// A console with another ADMIN_TOKEN does not take this one's cookie.
	other := newFixture(t, func(c *console.Config) {
		c.AdminToken = "another-token-0123456789abcdef"
		c.Now = func() time.Time { return clock }
	})
	other.jar.SetCookies(base, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/console"}})
	_, _, body = other.get(t, console.Path)
	lacksAll(t, "cookie of another token", body)

	if code, _, _ := f.post(t, console.Path+"/lock", nil); code != http.StatusSeeOther {
		t.Fatalf("lock: %d", code)
	}
	_, _, body = f.get(t, console.Path)
	lacksAll(t, "after Hide", body)
}

// hostile is attacker text: a terminal title, a screen clear, a carriage
// return, a bell, a C1 CSI, DEL and a right-to-left override.
const hostile = "\x1b]0;pwned\x07ok\r\x1b[2JFAKE\a\u009b\x7f\u202eevil"

// TestPageShowsForeignTextEscaped: what the page shows from Redis, the
// chain and the monitor (dead letters, the journal, a search's answer, a
// check's reason) reaches the page escaped, with no control or format
// character left for the browser to act on.
func TestPageShowsForeignTextEscaped(t *testing.T) {
	f := newFixture(t, func(c *console.Config) {
		c.Health = fakeHealth{monitor.Report{Balance: "error - " + hostile, Processor: monitor.StatusOK, NonAckPendingTx: monitor.StatusOK}}
		c.DeadLetters = &fakeDeadLetters{replayed: map[string]string{}, letters: []intake.DeadLetter{{
			ID: "1799999999000-0", EntryID: hostile, EntityID: hostile, Class: hostile, Reason: hostile,
			Application: map[string]string{stream.FieldPolicyHolder: hostile},
		}}}
		c.InFlight = func(context.Context) ([]console.Flight, error) {
			return []console.Flight{{Flight: inspect.Flight{Field: hostile, Unreadable: hostile}},
				{Flight: inspect.Flight{Field: "3", Record: stream.TxRecord{Nonce: 3, EntityID: hostile, Kind: hostile}}}}, nil
		}
		c.Finder = hostileFinder{}
	})
	f.unlock(t)
	_, _, body := f.get(t, console.Path+"/search?q="+entity)
	for _, r := range body {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) {
			t.Fatalf("the page carries a raw %U", r)
		}
	}
	if n := strings.Count(body, `\x1b]0;pwned\x07`); n < 8 {
		t.Fatalf("the hostile text is shown escaped %d times, want it in every place (8)", n)
	}
}

// hostileFinder answers with hostile text in every field.
type hostileFinder struct{}

func (hostileFinder) Find(_ context.Context, q string) (inspect.Result, error) {
	return inspect.Result{Query: q, Kind: inspect.KindEntity, Applications: []intake.Status{{
		EntityID: entity, Status: stream.StateRejected, Class: hostile, Reason: hostile,
	}}, Transaction: &inspect.Transaction{Hash: txHash, State: "mined", SignatureID: hostile}}, nil
}

// richBalance answers every balance with 1000 ETH.
type richBalance struct{}

func (richBalance) BalanceAt(context.Context, common.Address, *big.Int) (*big.Int, error) {
	return new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)), nil
}

// TestRedisUnreachableOnThePage: with the monitor's own checker reading a
// Redis that refuses connections, the page says Redis is unreachable and
// why, by category and never by address, and shows the queue as unknown,
// never "none waiting" or an empty queue.
func TestRedisUnreachableOnThePage(t *testing.T) {
	port := freeport.Get(t) // nothing listens there
	addr := "127.0.0.1:" + strconv.Itoa(port)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	hb := &monitor.Heartbeat{}
	hb.Beat(time.Now())
	defaults := configtest.Unwired(t) // the balance is a fake, Redis refuses
	checker, err := monitor.NewChecker(monitor.CheckerConfig{
		Wallet: common.HexToAddress(wallet), AlertBalance: big.NewInt(1), LoopMaxAge: time.Minute,
		MaxPending: 10, StreamKey: "application:signatures", Group: "g", DeadLetterStream: "dl",
		CheckTimeout: defaults.MonitorCheckTimeout, BalanceRefresh: defaults.BalanceRefreshInterval,
		FeeCapGrace: defaults.ErrorTimeout, Balance: richBalance{}, Redis: rdb, Heartbeat: hb,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = checker.Close() })
	f := newFixture(t, func(c *console.Config) { c.Health = checker; c.Now = time.Now })
	_, _, body := f.get(t, console.Path)
	mustContain(t, body, `id="redis-down"`, "Redis unreachable: redis: connection refused", `id="check-redis"`,
		"unknown (Redis unreachable)", "check(s) failing")
	for _, leak := range []string{addr, strconv.Itoa(port), "127.0.0.1", "dial tcp", "none waiting"} {
		if strings.Contains(body, leak) {
			t.Fatalf("the page shows %q while Redis is down", leak)
		}
	}
}
