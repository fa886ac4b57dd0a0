package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// RPCCounts is a snapshot of the JSON-RPC traffic that went through an
// RPCProxy.
type RPCCounts struct {
	// HTTPRequests is the number of HTTP round trips (a batch is one).
	HTTPRequests int64 `json:"httpRequests"`
	// Batches is how many of them were JSON-RPC batches.
	Batches int64 `json:"batches"`
	// Calls is the number of JSON-RPC calls, each element of a batch counted.
	Calls int64 `json:"calls"`
	// ByMethod counts calls by method name.
	ByMethod map[string]int64 `json:"byMethod"`
	// Errors counts JSON-RPC error answers to single (non-batch) calls by
	// method, e.g. a refused eth_sendRawTransaction.
	Errors map[string]int64 `json:"errors,omitempty"`
	// RequestBytes and ResponseBytes are the HTTP bodies.
	RequestBytes  int64 `json:"requestBytes"`
	ResponseBytes int64 `json:"responseBytes"`
}

// Sub returns c - o, method by method.
func (c RPCCounts) Sub(o RPCCounts) RPCCounts {
	return RPCCounts{
		HTTPRequests: c.HTTPRequests - o.HTTPRequests, Batches: c.Batches - o.Batches, Calls: c.Calls - o.Calls,
		ByMethod: subMap(c.ByMethod, o.ByMethod), Errors: subMap(c.Errors, o.Errors),
		RequestBytes: c.RequestBytes - o.RequestBytes, ResponseBytes: c.ResponseBytes - o.ResponseBytes,
	}
}

func subMap(a, b map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(a))
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// RawTxSent is one eth_sendRawTransaction seen by the proxy, stamped when the
// request arrived (the moment the processor broadcast it).
type RawTxSent struct {
	At time.Time
	Tx *types.Transaction
}

// RPCProxy is a reverse proxy in front of a JSON-RPC HTTP endpoint that
// counts what passes through and reports every raw transaction sent. It never
// changes a request or a response.
type RPCProxy struct {
	// URL is the proxy's endpoint, to be given to the processor as
	// CHAIN_RPC_URL.
	URL string

	target string
	onSend func(RawTxSent)
	delay  time.Duration
	drop   *dropper // nil: every call reaches the node
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}

	mu     sync.Mutex
	counts RPCCounts
}

// rpcCall is the part of a JSON-RPC request the proxy reads.
type rpcCall struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// rpcAnswer is the part of a JSON-RPC response the proxy reads.
type rpcAnswer struct {
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartRPCProxy listens on a free loopback port and forwards to target.
// onSend, when not nil, is called synchronously for each raw transaction
// before it is forwarded; it must be quick. delay is added to every HTTP
// request, to play a node that is not on the same machine (a hosted RPC
// provider is 20 to 100 ms away).
func StartRPCProxy(target string, onSend func(RawTxSent), delay time.Duration) (*RPCProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("rpc proxy target: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rpc proxy listen: %w", err)
	}
	p := &RPCProxy{
		URL: "http://" + ln.Addr().String(), target: target, onSend: onSend, delay: delay, ln: ln, done: make(chan struct{}),
		counts: RPCCounts{ByMethod: map[string]int64{}, Errors: map[string]int64{}},
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	rp := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:      transport,
		ModifyResponse: p.inspectResponse,
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { // owned by Close, which waits on done
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

type methodKey struct{}

func (p *RPCProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		calls, batch := parseCalls(body)
		p.mu.Lock()
		p.counts.HTTPRequests++
		p.counts.RequestBytes += int64(len(body))
		if batch {
			p.counts.Batches++
		}
		for _, c := range calls {
			p.counts.Calls++
			p.counts.ByMethod[c.Method]++
		}
		p.mu.Unlock()
		for _, c := range calls {
			if c.Method == "eth_sendRawTransaction" && p.onSend != nil && len(c.Params) > 0 {
				if tx := decodeRawTx(c.Params[0]); tx != nil {
					p.onSend(RawTxSent{At: now, Tx: tx})
				}
			}
		}
		if !batch && len(calls) == 1 {
			r = r.WithContext(context.WithValue(r.Context(), methodKey{}, calls[0].Method))
		}
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		if p.drop != nil {
			if forward, keep, answers, batch, dropped := p.drop.filter(r.Context(), body); dropped {
				p.drop.serve(w, r, forward, keep, answers, batch)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// inspectResponse counts response bytes and, for single calls, error answers.
// Batch answers (receipts) are only counted, not parsed, so the harness does
// not spend the CPU it is measuring the processor against.
func (p *RPCProxy) inspectResponse(res *http.Response) error {
	method, _ := res.Request.Context().Value(methodKey{}).(string)
	if method == "" {
		res.Body = &countingBody{ReadCloser: res.Body, p: p}
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	var a rpcAnswer
	failed := json.Unmarshal(body, &a) == nil && a.Error != nil
	p.mu.Lock()
	p.counts.ResponseBytes += int64(len(body))
	if failed {
		p.counts.Errors[method]++
	}
	p.mu.Unlock()
	return nil
}

type countingBody struct {
	io.ReadCloser
	p *RPCProxy
}

func (b *countingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.p.mu.Lock()
	b.p.counts.ResponseBytes += int64(n)
	b.p.mu.Unlock()
	return n, err
}

// parseCalls reads a JSON-RPC request body: one call or a batch.
func parseCalls(body []byte) (calls []rpcCall, batch bool) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &calls) != nil {
			return []rpcCall{{Method: "<unparsable batch>"}}, true
		}
		return calls, true
	}
	var c rpcCall
	if json.Unmarshal(body, &c) != nil {
		c.Method = "<unparsable>"
	}
	return []rpcCall{c}, false
}

func decodeRawTx(param json.RawMessage) *types.Transaction {
	var s string
	if json.Unmarshal(param, &s) != nil {
		return nil
	}
	raw, err := hexutil.Decode(s)
	if err != nil {
		return nil
	}
	tx := new(types.Transaction)
	if tx.UnmarshalBinary(raw) != nil {
		return nil
	}
	return tx
}

// DropSendsBeyond makes the proxy play a node that keeps limit pending
// transactions per sender and silently drops the rest (see dropper). Call
// it before the proxy is used.
func (p *RPCProxy) DropSendsBeyond(limit uint64) {
	p.drop = newDropper(p.target, limit)
}

// Dropped is how many sends DropSendsBeyond answered as taken and dropped.
func (p *RPCProxy) Dropped() int64 {
	if p.drop == nil {
		return 0
	}
	return p.drop.Dropped()
}

// Counts returns a snapshot of the counters.
func (p *RPCProxy) Counts() RPCCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	c.ByMethod = maps.Clone(p.counts.ByMethod)
	c.Errors = maps.Clone(p.counts.Errors)
	return c
}

// Close stops the proxy and waits for its server goroutine.
func (p *RPCProxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	<-p.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
