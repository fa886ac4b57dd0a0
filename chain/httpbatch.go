package chain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// lookupHTTP runs method once per hash in one JSON-RPC batch over HTTP
// (batchHTTP). It is byHash over http(s) and keeps its answers: out[i] is
// nil where the node has no result (JSON null), and any failure fails the
// whole look-up: a JSON-RPC error object, a missing result or answer
// (rpc.ErrNoResult, rpc.ErrMissingBatchResponse), a status outside 2xx
// (rpc.HTTPError), an answer that does not decode.
func lookupHTTP[T any](ctx context.Context, ep *endpoint, method string, hashes []common.Hash) ([]*T, error) {
	calls := make([]httpCall, len(hashes))
	for i, h := range hashes {
		p := make([]byte, 0, 2+2+2*len(h)+2)
		p = append(p, `["0x`...)
		p = hex.AppendEncode(p, h[:])
		calls[i] = httpCall{method: method, params: append(p, `"]`...)}
	}
	out, errs, err := batchesHTTP[T](ctx, ep, calls, true)
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return out, nil
}

// batchesHTTP is batchHTTP in batches of at most maxBatch calls.
func batchesHTTP[T any](ctx context.Context, ep *endpoint, calls []httpCall, nullable bool) (results []*T, errs []error, err error) {
	results = make([]*T, 0, len(calls))
	errs = make([]error, 0, len(calls))
	for start := 0; start < len(calls); start += maxBatch {
		r, e, err := batchHTTP[T](ctx, ep, calls[start:min(start+maxBatch, len(calls))], nullable)
		if err != nil {
			return nil, nil, err
		}
		results, errs = append(results, r...), append(errs, e...)
	}
	return results, errs, nil
}

// estimateParams is eth_estimateGas's params for msg as the rpc client
// encodes EstimateGasBatch's argument ({"from", "input", "to"}, keys in
// order, a nil To as null): TestEstimateParamsAsJSON.
func estimateParams(msg ethereum.CallMsg) []byte {
	p := make([]byte, 0, 100+2*len(msg.Data))
	p = append(p, `[{"from":"0x`...)
	p = hex.AppendEncode(p, msg.From[:])
	p = append(p, `","input":"0x`...)
	p = hex.AppendEncode(p, msg.Data)
	if msg.To == nil {
		return append(p, `","to":null}]`...)
	}
	p = append(p, `","to":"0x`...)
	p = hex.AppendEncode(p, msg.To[:])
	return append(p, `"}]`...)
}

// rawTxParams is eth_sendRawTransaction's params for raw.
func rawTxParams(raw []byte) []byte {
	p := make([]byte, 0, 8+2*len(raw))
	p = append(p, `["0x`...)
	p = hex.AppendEncode(p, raw)
	return append(p, `"]`...)
}

// httpCall is one call of a batch: its method and its params, a JSON array.
type httpCall struct {
	method string
	params []byte
}

// batchHTTP sends calls as one JSON-RPC batch over HTTP and decodes the
// answer in a single json.Unmarshal into the results' own type.
// go-ethereum's rpc client decodes a batch answer into raw messages (a
// json.Decoder pass and a copy of every result) and then each result
// again: twice the scanning, for the tracker's largest read above all, the
// receipts (issue 21: that first pass alone was 14% of the relay's CPU in
// the 5,000 backlog bench). Its answers are rpc.Client.BatchCallContext's:
// with nullable, results[i] is nil for a JSON null result (rpc's Result a
// **T), without it a null is decoded into a T as any other result (a *T),
// which for most types is an error; errs[i] is the call's own
// error (a JSON-RPC error object, rpc.ErrNoResult for an answer without
// result, rpc.ErrMissingBatchResponse for none, a result that does not
// decode); err is set when the batch as a whole failed (transport, a
// status outside 2xx as rpc.HTTPError, an answer that is no batch).
// Answers with ids it did not send, repeated answers and null entries are
// ignored, as rpc ignores them. An answer with a null or missing result,
// or one that does not decode, is decoded again call by call (answerSlow),
// which is what tells those cases apart. The request goes through the
// endpoint's http.Client, so the URL's secrets are restored and scrubbed as
// for every other call (endpoint).
func batchHTTP[T any](ctx context.Context, ep *endpoint, calls []httpCall, nullable bool) (results []*T, errs []error, err error) {
	size := 2
	for _, c := range calls {
		size += len(c.method) + len(c.params) + 60
	}
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i, c := range calls {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"jsonrpc":"2.0","id":`...)
		body = strconv.AppendInt(body, int64(i), 10)
		body = append(body, `,"method":"`...)
		body = append(body, c.method...)
		body = append(body, `","params":`...)
		body = append(body, c.params...)
		body = append(body, '}')
	}
	body = append(body, ']')
	answer, err := ep.post(ctx, body)
	if err != nil {
		return nil, nil, err
	}

	var replies []struct {
		ID     json.RawMessage `json:"id"`
		Result *T              `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if json.Unmarshal(answer, &replies) != nil {
		return answerSlow[T](answer, len(calls), nullable)
	}
	results = make([]*T, len(calls))
	errs = make([]error, len(calls))
	seen := make([]bool, len(calls))
	for _, r := range replies {
		i, ok := replyIndex(r.ID, len(calls))
		if !ok || seen[i] {
			continue // not ours, or answered already
		}
		seen[i] = true
		switch {
		case r.Error != nil:
			errs[i] = r.Error
		case r.Result == nil: // null, or no result at all
			return answerSlow[T](answer, len(calls), nullable)
		default:
			results[i] = r.Result
		}
	}
	for i, s := range seen {
		if !s {
			errs[i] = rpc.ErrMissingBatchResponse
		}
	}
	return results, errs, nil
}

// answerSlow decodes a batch answer as rpc.Client.BatchCallContext does:
// into raw messages, then each result on its own (see batchHTTP for
// nullable), so that a null result is
// told from a missing one and a result that does not decode fails its call
// only. An answer that is one error object (a node refusing the batch as a
// whole) fails the batch with that error.
func answerSlow[T any](answer []byte, n int, nullable bool) (results []*T, errs []error, err error) {
	var replies []struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(answer, &replies); err != nil {
		var single struct {
			Error *rpcError `json:"error"`
		}
		if json.Unmarshal(answer, &single) == nil && single.Error != nil {
			return nil, nil, single.Error
		}
		return nil, nil, err
	}
	results = make([]*T, n)
	errs = make([]error, n)
	seen := make([]bool, n)
	for _, r := range replies {
		i, ok := replyIndex(r.ID, n)
		if !ok || seen[i] {
			continue
		}
		seen[i] = true
		switch {
		case r.Error != nil:
			errs[i] = r.Error
		case r.Result == nil:
			errs[i] = rpc.ErrNoResult
		case nullable:
			errs[i] = json.Unmarshal(r.Result, &results[i])
		default:
			results[i] = new(T)
			errs[i] = json.Unmarshal(r.Result, results[i])
		}
	}
	for i, s := range seen {
		if !s {
			errs[i] = rpc.ErrMissingBatchResponse
		}
	}
	return results, errs, nil
}

// replyIndex reads an answer's id as the index lookupHTTP gave its call:
// the decimal it wrote, byte for byte, as rpc matches ids.
func replyIndex(id json.RawMessage, n int) (int, bool) {
	i, err := strconv.Atoi(string(id))
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != string(id) {
		return 0, false
	}
	return i, true
}

// post sends one JSON-RPC request body as rpc's HTTP transport does
// (content type and accept JSON) and returns the answer's body. A status
// outside 2xx is an rpc.HTTPError with the body, as rpc reports it.
func (e *endpoint) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.origin+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, rpc.HTTPError{Status: resp.Status, StatusCode: resp.StatusCode, Body: answer}
	}
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// rpcError is a JSON-RPC error object, read as rpc reads it: an rpc.Error
// with its code and an rpc.DataError with its data.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *rpcError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("json-rpc error %d", e.Code)
	}
	return e.Message
}

func (e *rpcError) ErrorCode() int { return e.Code }

func (e *rpcError) ErrorData() any { return e.Data }
