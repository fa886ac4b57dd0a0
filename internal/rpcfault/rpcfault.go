// Package rpcfault is a JSON-RPC reverse proxy for tests that misbehaves on
// purpose, the way hosted nodes do: it answers a share of the requests with
// 429 or 5xx, garbles the node's answers, plays a load-balanced backend that
// lags a few blocks behind, or refuses chosen calls with an error that is not
// a revert. Between faults it forwards requests unchanged. It also records
// every raw transaction sent through it, so a test can check what was
// signed, not only what was mined.
//
// TCP-level faults (connections cut, refused, slow) belong to a TCP proxy in
// front of it; this one works on HTTP requests and JSON-RPC calls.
package rpcfault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// Faults is what the proxy does wrong; the zero value forwards everything.
// The "1 in N" counters share one request count, so faults set together fall
// on different requests only when their N differ.
type Faults struct {
	// StatusEvery answers 1 request in StatusEvery with the next code of
	// StatusCodes (cycled; 429 when empty) and a short text body, without
	// forwarding it: a rate limiter or a gateway in front of the node.
	StatusEvery int
	StatusCodes []int
	// GarbageEvery forwards 1 request in GarbageEvery, then answers 200 with
	// something that is not the node's JSON-RPC answer (HTML, truncated
	// JSON, an empty body, a result of the wrong shape): the call may have
	// taken effect, its answer is lost.
	GarbageEvery int
	// LagEvery answers 1 request in LagEvery as a backend LagBlocks behind
	// the head would: its head, its blocks, nonces, balances, receipts,
	// logs and simulations are those of the older block, and it knows no
	// pending transaction. Sends are forwarded (the backend would
	// propagate them).
	LagEvery  int
	LagBlocks uint64
	// Reject, when it returns non-nil for a call, answers that call with
	// the error instead of forwarding it (batch elements one by one).
	Reject func(method string, params json.RawMessage) *Error
	// Echo puts the request's path and query into the status answers'
	// bodies and into Reject's messages, as providers that echo the URL
	// they were called at do (where the API key lives).
	Echo bool
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is the proxy's endpoint; any path and query may be added (they
	// are not forwarded: the node is called at its own URL).
	URL string

	upstream string
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	fwd      *http.Client

	mu     sync.Mutex
	faults Faults
	sent   []*types.Transaction

	requests atomic.Int64
	statuses atomic.Int64
	garbled  atomic.Int64
	lagged   atomic.Int64
	rejected atomic.Int64
}

// Start serves the proxy on a free loopback port in front of upstream (a
// JSON-RPC HTTP URL) until the test ends.
func Start(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rpcfault listen: %v", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), upstream: upstream, ln: ln, done: make(chan struct{}),
		fwd: &http.Client{Timeout: 30 * time.Second}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { // owned by p: the cleanup waits on done
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = p.srv.Close()
		<-p.done
	})
	return p
}

// Set replaces the faults; Set(Faults{}) heals the proxy.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// Sent is every transaction sent through the proxy with
// eth_sendRawTransaction, accepted by the node or not, in order.
func (p *Proxy) Sent() []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*types.Transaction(nil), p.sent...)
}

// Counts is how many requests the proxy saw, and how many of them it
// answered with a status, garbled, answered as the lagging backend, and how
// many calls it rejected.
type Counts struct{ Requests, Statuses, Garbled, Lagged, Rejected int64 }

// Counts reads the counters.
func (p *Proxy) Counts() Counts {
	return Counts{p.requests.Load(), p.statuses.Load(), p.garbled.Load(), p.lagged.Load(), p.rejected.Load()}
}

type call struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type answer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	f := p.faults
	p.mu.Unlock()
	due := func(every int) bool { return every > 0 && n%int64(every) == 0 }

	calls, batch := parseCalls(body)
	p.record(calls)
	echo := ""
	if f.Echo {
		echo = " (" + r.URL.RequestURI() + ")"
	}
	if due(f.StatusEvery) {
		p.statuses.Add(1)
		code := http.StatusTooManyRequests
		if len(f.StatusCodes) > 0 {
			code = f.StatusCodes[int(n/int64(f.StatusEvery))%len(f.StatusCodes)]
		}
		http.Error(w, http.StatusText(code)+echo, code)
		return
	}
	if calls == nil { // not JSON-RPC: pass it on untouched
		p.forwardRaw(w, r.Context(), body)
		return
	}
	var lag *lagView
	if due(f.LagEvery) && f.LagBlocks > 0 {
		if lag, err = p.newLagView(r.Context(), f.LagBlocks); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		p.lagged.Add(1)
	}
	answers := make([]*answer, len(calls))
	var forward []call
	var forwardIdx []int
	for i, c := range calls {
		if f.Reject != nil {
			if e := f.Reject(c.Method, c.Params); e != nil {
				p.rejected.Add(1)
				e2 := *e
				e2.Message += echo
				answers[i] = &answer{JSONRPC: "2.0", ID: c.ID, Error: &e2}
				continue
			}
		}
		if lag != nil {
			if a := lag.local(c); a != nil {
				answers[i] = a
				continue
			}
			c = lag.rewrite(c)
		}
		forward = append(forward, c)
		forwardIdx = append(forwardIdx, i)
	}
	if len(forward) > 0 {
		got, err := p.forwardCalls(r.Context(), forward, batch)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for j, a := range got {
			if lag != nil {
				lag.filter(forward[j], a)
			}
			answers[forwardIdx[j]] = a
		}
	}
	var out []byte
	if batch {
		out, _ = json.Marshal(answers)
	} else {
		out, _ = json.Marshal(answers[0])
	}
	if due(f.GarbageEvery) {
		p.garbled.Add(1)
		out = garbage(n/int64(f.GarbageEvery), out)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// parseCalls reads a single call or a batch; nil when the body is neither.
func parseCalls(body []byte) (calls []call, batch bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if json.Unmarshal(trimmed, &calls) != nil || len(calls) == 0 {
			return nil, false
		}
		return calls, true
	}
	var c call
	if json.Unmarshal(trimmed, &c) != nil || c.Method == "" {
		return nil, false
	}
	return []call{c}, false
}

func (p *Proxy) record(calls []call) {
	for _, c := range calls {
		if c.Method != "eth_sendRawTransaction" {
			continue
		}
		var params []string
		if json.Unmarshal(c.Params, &params) != nil || len(params) == 0 {
			continue
		}
		raw, err := hexutil.Decode(params[0])
		if err != nil {
			continue
		}
		tx := new(types.Transaction)
		if tx.UnmarshalBinary(raw) != nil {
			continue
		}
		p.mu.Lock()
		p.sent = append(p.sent, tx)
		p.mu.Unlock()
	}
}

func (p *Proxy) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return p.fwd.Do(req)
}

func (p *Proxy) forwardRaw(w http.ResponseWriter, ctx context.Context, body []byte) {
	res, err := p.post(ctx, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

// forwardCalls sends calls upstream and returns their answers in the same
// order.
func (p *Proxy) forwardCalls(ctx context.Context, calls []call, batch bool) ([]*answer, error) {
	var body []byte
	if batch {
		body, _ = json.Marshal(calls)
	} else {
		body, _ = json.Marshal(calls[0])
	}
	res, err := p.post(ctx, body)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upstream answered %d: %s", res.StatusCode, raw)
	}
	var got []*answer
	if batch {
		if err := json.Unmarshal(raw, &got); err != nil {
			return nil, fmt.Errorf("upstream batch answer: %w", err)
		}
	} else {
		var a answer
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("upstream answer: %w", err)
		}
		got = []*answer{&a}
	}
	byID := make(map[string]*answer, len(got))
	for _, a := range got {
		byID[string(a.ID)] = a
	}
	out := make([]*answer, len(calls))
	for i, c := range calls {
		a, ok := byID[string(c.ID)]
		if !ok {
			a = &answer{JSONRPC: "2.0", ID: c.ID, Error: &Error{Code: -32603, Message: "rpcfault: no upstream answer"}}
		}
		out[i] = a
	}
	return out, nil
}

// garbage is the k-th garbled answer: the shapes cycle.
func garbage(k int64, real []byte) []byte {
	switch k % 5 {
	case 0:
		return []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")
	case 1:
		return real[:len(real)/2]
	case 2:
		return nil
	case 3:
		return []byte(`{"jsonrpc":"2.0","id":1,"result":{"unexpected":true}}`)
	default:
		return []byte("\x00\x9f\x92\x96 not json")
	}
}

// lagView answers as a backend whose head is head.
type lagView struct {
	head uint64
}

func (p *Proxy) newLagView(ctx context.Context, blocks uint64) (*lagView, error) {
	got, err := p.forwardCalls(ctx, []call{{JSONRPC: "2.0", ID: json.RawMessage("1"), Method: "eth_blockNumber"}}, false)
	if err != nil {
		return nil, err
	}
	if got[0].Error != nil {
		return nil, errors.New(got[0].Error.Message)
	}
	var h hexutil.Uint64
	if err := json.Unmarshal(got[0].Result, &h); err != nil {
		return nil, err
	}
	head := uint64(h)
	if head > blocks {
		head -= blocks
	} else {
		head = 0
	}
	return &lagView{head: head}, nil
}

func (l *lagView) hex() string { return hexutil.EncodeUint64(l.head) }

// local answers the calls the lagging backend answers without the node.
func (l *lagView) local(c call) *answer {
	ok := func(v any) *answer {
		b, _ := json.Marshal(v)
		return &answer{JSONRPC: "2.0", ID: c.ID, Result: b}
	}
	switch c.Method {
	case "eth_blockNumber":
		return ok(l.hex())
	case "eth_getBlockByNumber", "eth_getHeaderByNumber":
		var params []json.RawMessage
		if json.Unmarshal(c.Params, &params) == nil && len(params) > 0 {
			if n, isNum := blockNumber(params[0]); isNum && n > l.head {
				return ok(nil)
			}
		}
	case "eth_getLogs":
		var params []map[string]any
		if json.Unmarshal(c.Params, &params) == nil && len(params) > 0 {
			if s, _ := params[0]["fromBlock"].(string); s != "" {
				if n, err := hexutil.DecodeUint64(s); err == nil && n > l.head {
					return ok([]any{})
				}
			}
		}
	}
	return nil
}

// blockTagAt is the position of the block parameter of the methods that
// take one.
var blockTagAt = map[string]int{
	"eth_getBlockByNumber": 0, "eth_getHeaderByNumber": 0,
	"eth_getTransactionCount": 1, "eth_getBalance": 1, "eth_getCode": 1, "eth_getStorageAt": 2,
	"eth_call": 1, "eth_estimateGas": 1, "eth_feeHistory": 1,
}

// rewrite pins a call's block parameter at the lagging head.
func (l *lagView) rewrite(c call) call {
	if c.Method == "eth_getLogs" {
		var params []map[string]any
		if json.Unmarshal(c.Params, &params) == nil && len(params) > 0 {
			if _, byHash := params[0]["blockHash"]; !byHash {
				to, _ := params[0]["toBlock"].(string)
				if n, err := hexutil.DecodeUint64(to); err != nil || n > l.head {
					params[0]["toBlock"] = l.hex()
				}
				c.Params, _ = json.Marshal(params)
			}
		}
		return c
	}
	at, ok := blockTagAt[c.Method]
	if !ok {
		return c
	}
	var params []json.RawMessage
	if json.Unmarshal(c.Params, &params) != nil {
		return c
	}
	pinned, _ := json.Marshal(l.hex())
	for len(params) <= at {
		params = append(params, json.RawMessage("null"))
	}
	if n, isNum := blockNumber(params[at]); !isNum || n > l.head {
		var tag string
		if json.Unmarshal(params[at], &tag) != nil || tag != "earliest" {
			params[at] = pinned
		}
	}
	c.Params, _ = json.Marshal(params)
	return c
}

// filter hides from an answer what the lagging backend has not seen yet.
func (l *lagView) filter(c call, a *answer) {
	switch c.Method {
	case "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getBlockByHash":
	default:
		return
	}
	var v struct {
		BlockNumber *hexutil.Uint64 `json:"blockNumber"`
		Number      *hexutil.Uint64 `json:"number"`
	}
	if len(a.Result) == 0 || json.Unmarshal(a.Result, &v) != nil {
		return
	}
	n := v.BlockNumber
	if n == nil {
		n = v.Number
	}
	// A transaction still pending (no block) is unknown to this backend too.
	if n == nil || uint64(*n) > l.head {
		a.Result = json.RawMessage("null")
	}
}

// blockNumber reads a block parameter that is a number (hex string).
func blockNumber(raw json.RawMessage) (uint64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil || !strings.HasPrefix(s, "0x") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil
}
