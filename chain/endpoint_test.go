package chain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/chain"
)

// The secrets a provider URL may carry, each unique so that any trace of one
// in an error is found.
const (
	keyPath  = "pathkey0a1b2c3d4e5f"
	keyQuery = "querykey9f8e7d6c5b"
	keyUser  = "userkey5a5b5c5d5e"
	keyPass  = "passkey1e2d3c4b5a"
)

var allKeys = []string{keyPath, keyQuery, keyUser, keyPass}

// urlShape puts keys into a base URL (scheme://host:port) where providers put them.
type urlShape struct {
	name  string
	build func(base string) string
	keys  []string // the keys in the URL
}

var shapes = []urlShape{
	{"path", func(b string) string { return b + "/v3/" + keyPath }, []string{keyPath}},
	{"query", func(b string) string { return b + "/rpc?chain=1&apikey=" + keyQuery }, []string{keyQuery}},
	{"userinfo", func(b string) string { return withUser(b) }, []string{keyUser, keyPass}},
	{"all", func(b string) string { return withUser(b) + "/v3/" + keyPath + "?apikey=" + keyQuery }, allKeys},
}

func withUser(base string) string {
	scheme, host, _ := strings.Cut(base, "://")
	return scheme + "://" + keyUser + ":" + keyPass + "@" + host
}

// request is what the node was asked, as it saw it.
type request struct {
	path, query, user, pass string
	auth                    bool
}

// node is an httptest server that records every request before handing it
// to its handler.
type node struct {
	*httptest.Server
	mu   sync.Mutex
	seen []request
}

func startNode(t *testing.T, h http.Handler) *node {
	t.Helper()
	n := &node{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, auth := r.BasicAuth()
		n.mu.Lock()
		n.seen = append(n.seen, request{path: r.URL.Path, query: r.URL.RawQuery, user: user, pass: pass, auth: auth})
		n.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(n.Close)
	return n
}

func (n *node) requests() []request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]request(nil), n.seen...)
}

// host is the server's host:port, which errors may and should name.
func (n *node) host() string { return strings.TrimPrefix(n.URL, "http://") }

// echo answers with status and a body that repeats everything the request
// carried, as a careless provider might.
func echo(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s http://%s:%s@%s%s rejected (path %s, query %s, user %s, password %s, authorization %s)",
			r.Method, user, pass, r.Host, r.URL.RequestURI(), r.URL.Path, r.URL.Query().Get("apikey"),
			user, pass, r.Header.Get("Authorization"))
	})
}

// eth is a JSON-RPC service: it answers, or, when fail is set, fails with an
// error that echoes the text fail points to.
type eth struct{ fail *string }

type echoError struct{ msg string }

func (e echoError) Error() string  { return e.msg }
func (e echoError) ErrorCode() int { return -32099 }
func (e echoError) ErrorData() any { return e.msg }

func (s eth) ChainId() (*hexutil.Big, error) {
	if s.fail != nil {
		return nil, echoError{"project " + *s.fail + " is over its limit"}
	}
	return (*hexutil.Big)(big.NewInt(1337)), nil
}

func (s eth) GetTransactionReceipt(common.Hash) (map[string]any, error) {
	if s.fail != nil {
		return nil, echoError{"no receipts for " + *s.fail}
	}
	return nil, nil
}

func (s eth) EstimateGas(map[string]any) (hexutil.Uint64, error) {
	if s.fail != nil {
		return 0, echoError{"execution reverted: " + *s.fail}
	}
	return 21000, nil
}

func rpcServer(t *testing.T, svc eth) *rpc.Server {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// assertRedacted fails if err is nil or shows any key, and if it does not
// name host (when host is set).
func assertRedacted(t *testing.T, err error, host string) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%v", err)} {
		for _, k := range allKeys {
			if strings.Contains(text, k) {
				t.Errorf("error shows a key (%s): %s", k, text)
			}
		}
	}
	if host != "" && !strings.Contains(err.Error(), host) {
		t.Errorf("error does not name the host %s: %v", host, err)
	}
}

// requestOf is what a node should see when asked at raw.
func requestOf(raw string) request {
	u, _ := url.Parse(raw)
	pass, hasPass := u.User.Password()
	r := request{path: u.Path, query: u.RawQuery, user: u.User.Username(), pass: pass, auth: hasPass}
	if r.path == "" {
		r.path = "/"
	}
	return r
}

func dial(t *testing.T, rawURL string) *chain.Client {
	t.Helper()
	c, err := chain.Dial(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var someHashes = []common.Hash{{1}, {2}, {3}}

// TestDialRestoresTheURL: the node still gets the real path, query and basic
// auth, for single calls and batches.
func TestDialRestoresTheURL(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			n := startNode(t, rpcServer(t, eth{}))
			raw := s.build(n.URL)
			c := dial(t, raw)
			id, err := c.ChainID(t.Context())
			if err != nil || id.Int64() != 1337 {
				t.Fatalf("chain id %v, %v", id, err)
			}
			if _, err := c.Receipts(t.Context(), someHashes); err != nil {
				t.Fatalf("receipts: %v", err)
			}
			want := requestOf(raw)
			got := n.requests()
			if len(got) != 2 {
				t.Fatalf("node saw %d requests, want 2", len(got))
			}
			for _, r := range got {
				if r != want {
					t.Errorf("node saw %+v, want %+v", r, want)
				}
			}
		})
	}
}

// TestClientErrorsNeverShowTheKey provokes each kind of failure through every
// shape of URL and reads the errors of single calls, batches and the
// per-call errors of a batch.
func TestClientErrorsNeverShowTheKey(t *testing.T) {
	closed := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			t.Run("connection refused", func(t *testing.T) {
				host := closed(t)
				c := dial(t, s.build("http://"+host))
				_, err := c.ChainID(t.Context())
				assertRedacted(t, err, host)
				if chain.ClassifySendError(err) != chain.SendUnknown {
					t.Errorf("refused is no longer classified as unknown: %v", err)
				}
				_, err = c.Receipts(t.Context(), someHashes)
				assertRedacted(t, err, host)
			})
			for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusUnauthorized} {
				t.Run(fmt.Sprint(status), func(t *testing.T) {
					n := startNode(t, echo(status))
					c := dial(t, s.build(n.URL))
					_, err := c.ChainID(t.Context())
					assertRedacted(t, err, "")
					var he rpc.HTTPError
					if !errors.As(err, &he) || he.StatusCode != status || !strings.Contains(err.Error(), "rejected") {
						t.Errorf("want the HTTP status %d and the rest of the body, got %v", status, err)
					}
					_, err = c.Receipts(t.Context(), someHashes)
					assertRedacted(t, err, "")
				})
			}
			t.Run("timeout", func(t *testing.T) {
				// The handler holds the request until the client gives up
				// (the server notices once the body is read) or the test ends.
				release := make(chan struct{})
				n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}))
				t.Cleanup(func() { close(release) })
				c := dial(t, s.build(n.URL))
				for _, call := range []func(context.Context) error{
					func(ctx context.Context) error { _, err := c.ChainID(ctx); return err },
					func(ctx context.Context) error { _, err := c.Receipts(ctx, someHashes); return err },
				} {
					ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
					err := call(ctx)
					cancel()
					assertRedacted(t, err, n.host())
					if !errors.Is(err, context.DeadlineExceeded) || chain.ClassifySendError(err) != chain.SendUnknown {
						t.Errorf("timeout is not context.DeadlineExceeded: %v", err)
					}
				}
			})
			t.Run("redirect", func(t *testing.T) {
				n := startNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "/moved"+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				}))
				c := dial(t, s.build(n.URL))
				_, err := c.ChainID(t.Context())
				assertRedacted(t, err, "")
				if got := len(n.requests()); got != 1 {
					t.Errorf("redirect followed: node saw %d requests", got)
				}
			})
			t.Run("json-rpc error echoes the URL", func(t *testing.T) {
				var echoed string
				n := startNode(t, rpcServer(t, eth{fail: &echoed}))
				raw := s.build(n.URL)
				u, _ := url.Parse(raw)
				pass, _ := u.User.Password()
				echoed = strings.Join([]string{raw, u.Path, u.RawQuery, u.User.String(), pass}, " ")
				c := dial(t, raw)
				_, err := c.ChainID(t.Context())
				assertRedacted(t, err, n.host())
				var re rpc.Error
				var de rpc.DataError
				if !errors.As(err, &re) || re.ErrorCode() != -32099 || !errors.As(err, &de) {
					t.Errorf("JSON-RPC error lost its code or data: %#v", err)
				} else if data := fmt.Sprint(de.ErrorData()); strings.Contains(data, s.keys[0]) || !strings.Contains(data, "over its limit") {
					t.Errorf("error data %q", data)
				}
				_, err = c.Receipts(t.Context(), someHashes)
				assertRedacted(t, err, n.host())
				_, errs, err := c.EstimateGasBatch(t.Context(), []ethereum.CallMsg{{}, {}})
				if err != nil || len(errs) != 2 {
					t.Fatalf("estimate batch: %v %v", errs, err)
				}
				for _, e := range errs {
					assertRedacted(t, e, "")
					if chain.AsRevert(e) == nil {
						t.Errorf("scrubbed revert no longer recognised: %v", e)
					}
				}
			})
		})
	}
}

// TestDialErrorsNeverShowTheKey covers what can fail while dialling: a URL
// Dial refuses. Dial reaches no node, over any scheme (a refused websocket
// is in TestWebsocketErrorsNeverShowTheKey).
func TestDialErrorsNeverShowTheKey(t *testing.T) {
	for _, bad := range []string{"ftp://" + keyUser + "@host/" + keyPath, "http://host/%zz" + keyPath, "/tmp/" + keyPath + ".ipc"} {
		_, err := chain.Dial(t.Context(), bad)
		assertRedacted(t, err, "")
	}
}

// TestWebsocketKeepsTheURL: over ws the handshake carries the real path,
// query and basic auth.
func TestWebsocketKeepsTheURL(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			n := startNode(t, rpcServer(t, eth{}).WebsocketHandler([]string{"*"}))
			raw := s.build("ws://" + n.host())
			c := dial(t, raw)
			if id, err := c.ChainID(t.Context()); err != nil || id.Int64() != 1337 {
				t.Fatalf("chain id %v, %v", id, err)
			}
			want := requestOf(raw)
			if got := n.requests(); len(got) != 1 || got[0] != want {
				t.Errorf("node saw %+v, want %+v", got, want)
			}
		})
	}
}
