package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/stream"
)

// TestConsoleShowsNoSecret wires the console as the processor does, with
// every secret the configuration can hold (a Redis password, RPC
// credentials and an API key in the URL, the mnemonic, the admin token),
// and reads every page it serves while everything works, after a refused
// and an accepted replay, and while the node and then Redis are gone, when
// their errors are on the page: none may show any secret.
func TestConsoleShowsNoSecret(t *testing.T) {
	const (
		redisPassword = "redis-pass-9c1f0e"
		rpcPassword   = "rpc-pass-4a7b2d"
		apiKey        = "APIKEY8f3e61d2c0b9"
		adminToken    = "admin-token-0123456789abcdef0123456789"
	)
	w := newOpsWorld(t, "ADMIN_TOKEN="+adminToken, "PORT=1")
	if err := w.RDB.ConfigSet(t.Context(), "requirepass", redisPassword).Err(); err != nil {
		t.Fatal(err)
	}
	opts := w.RDB.Options()
	w.Cfg.RedisURL = config.NewSecret("redis://:" + redisPassword + "@" + opts.Addr)
	rpc, err := url.Parse(w.DC.URL)
	if err != nil {
		t.Fatal(err)
	}
	rpc.User = url.UserPassword("rpcuser", rpcPassword)
	rpc.RawQuery = "key=" + apiKey
	w.Cfg.ChainRPCURL = config.NewSecret(rpc.String())
	s, err := newService(t.Context(), w.Cfg, zerolog.Nop(), frontdoor.New(w.Cfg, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A dead letter with an application copy, so the page offers a replay.
	app, err := frontend.NewSigned(w.DC.ChainID, w.DC.Helper, 0)
	if err != nil {
		t.Fatal(err)
	}
	queue := stream.NewQueue(s.rdb, stream.Keys{Stream: w.Cfg.StreamKey, Group: w.Cfg.GroupName,
		Consumer: w.Cfg.ConsumerName, DeadLetter: w.Cfg.DeadLetterStreamKey})
	if err := queue.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := queue.DeadLetter(t.Context(), stream.DeadLetter{EntryID: "1-1", EntityID: frontend.NewEntityID(),
		Class: "application", Reason: "ERROR:DP-012:BUNDLE_ID_ZERO", At: time.Now(), Fields: frontend.Fields(app)}); err != nil {
		t.Fatal(err)
	}
	dls, err := queue.DeadLetters(t.Context(), "", 1)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters: %v %v", dls, err)
	}
	hs := httptest.NewServer(s.front.Server.Handler())
	t.Cleanup(hs.Close)

	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{redisPassword, rpcPassword, apiKey, adminToken, testMnemonic, hex.EncodeToString(crypto.FromECDSA(key))}
	client := hs.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if client.Jar, err = cookiejar.New(nil); err != nil { // the dead letters' unlock
		t.Fatal(err)
	}
	read := func(what string, req func() (*http.Response, error)) string {
		t.Helper()
		res, err := req()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) || strings.Contains(res.Header.Get("Location"), sec) {
				t.Errorf("%s shows a secret (%.6s...)", what, sec)
			}
		}
		return string(b)
	}
	get := func(path string) string {
		return read("GET "+path, func() (*http.Response, error) { return client.Get(hs.URL + path) })
	}
	post := func(path, token string) string {
		return read("POST "+path, func() (*http.Response, error) {
			return client.PostForm(hs.URL+path, url.Values{"token": {token}})
		})
	}

	page := get("/console")
	if !strings.Contains(page, `id="check-balance"`) || strings.Contains(page, "replay-button") {
		t.Fatalf("no console page, or dead letters shown before the unlock:\n%s", page)
	}
	post("/console/unlock", "wrong")
	post("/console/unlock", adminToken)
	page = get("/console")
	if !strings.Contains(page, "replay-button") {
		t.Fatalf("no replay button once unlocked:\n%s", page)
	}
	get("/console/search?q=" + app.PolicyHolder.Hex())
	get("/console/search?q=0x" + strings.Repeat("ab", 32))
	get("/console/assets/console.js")
	post("/console/deadletters/"+dls[0].ID+"/replay", "wrong")
	post("/console/deadletters/"+dls[0].ID+"/replay", adminToken)
	if page := get("/console?replayed=" + dls[0].ID); !strings.Contains(page, "re-queued") {
		t.Errorf("replay with the token did not re-queue")
	}

	// The node gone: the balance check's error is on the page.
	w.DC.Close()
	if err := s.checker.RefreshBalance(t.Context()); err == nil {
		t.Fatal("balance read from a closed chain")
	}
	page = get("/console")
	if !strings.Contains(page, "refresh failed") {
		t.Errorf("page does not say the balance refresh failed")
	}
	get("/console/search?q=0x" + strings.Repeat("cd", 32))

	// Redis gone: every Redis section says so.
	w.Srv.Stop()
	page = get("/console")
	if !strings.Contains(page, "Dead letters: Redis did not answer") || !strings.Contains(page, `<span class="badge bad">failing</span>`) ||
		!strings.Contains(page, "Redis unreachable: redis: ") || strings.Contains(page, "none waiting") {
		t.Errorf("page does not say Redis is gone:\n%s", page)
	}
	if strings.Contains(page, opts.Addr) {
		t.Errorf("page names Redis's address %s", opts.Addr)
	}
	get("/console/search?q=" + app.PolicyHolder.Hex())
}
