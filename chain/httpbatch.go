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

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// lookupHTTP runs method once per hash in one JSON-RPC batch over HTTP and
// decodes the answer in a single json.Unmarshal into the results' own type.
// go-ethereum's rpc client decodes a batch answer into raw messages (a
// json.Decoder pass and a copy of every result) and then each result
// again: twice the scanning for the tracker's largest read, the receipts
// (issue 21: that first pass alone was 14% of the relay's CPU in the 5,000
// backlog bench). It is byHash over http(s) and keeps its answers:
// out[i] is nil where the node has no result (JSON null), and any failure
// fails the whole look-up, as one of the rpc client's batch elements would:
// a JSON-RPC error object, a missing result or answer (rpc.ErrNoResult,
// rpc.ErrMissingBatchResponse), a status outside 2xx (rpc.HTTPError), an
// answer that does not decode. The request goes through the endpoint's
// http.Client, so the URL's secrets are restored and scrubbed as for every
// other call (endpoint).
func lookupHTTP[T any](ctx context.Context, ep *endpoint, method string, hashes []common.Hash) ([]*T, error) {
	body := make([]byte, 0, len(hashes)*(len(method)+110))
	body = append(body, '[')
	for i, h := range hashes {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"jsonrpc":"2.0","id":`...)
		body = strconv.AppendInt(body, int64(i), 10)
		body = append(body, `,"method":"`...)
		body = append(body, method...)
		body = append(body, `","params":["`...)
		body = append(body, "0x"...)
		body = hex.AppendEncode(body, h[:])
		body = append(body, `"]}`...)
	}
	body = append(body, ']')
	answer, err := ep.post(ctx, body)
	if err != nil {
		return nil, err
	}

	var replies []struct {
		ID     json.RawMessage `json:"id"`
		Result *T              `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(answer, &replies); err != nil {
		var single struct {
			Error *rpcError `json:"error"`
		}
		if json.Unmarshal(answer, &single) == nil && single.Error != nil {
			return nil, single.Error // the node refused the batch as a whole
		}
		return nil, err
	}
	out := make([]*T, len(hashes))
	seen := make([]bool, len(hashes))
	var nullOrAbsent []int // a nil Result is a JSON null or no result at all
	for _, r := range replies {
		i, ok := replyIndex(r.ID, len(hashes))
		if !ok || seen[i] {
			continue // not ours, or answered already: ignored, as rpc does
		}
		seen[i] = true
		switch {
		case r.Error != nil:
			return nil, r.Error
		case r.Result == nil:
			nullOrAbsent = append(nullOrAbsent, i)
		default:
			out[i] = r.Result
		}
	}
	for _, s := range seen {
		if !s {
			return nil, rpc.ErrMissingBatchResponse
		}
	}
	if len(nullOrAbsent) > 0 {
		if err := resultsPresent(answer, len(hashes), nullOrAbsent); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resultsPresent tells a JSON null result (the node has nothing: fine)
// from an answer without one (rpc.ErrNoResult) for the calls in idx. It
// decodes the answer once more, which only answers holding a null need.
func resultsPresent(answer []byte, n int, idx []int) error {
	var raw []struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(answer, &raw); err != nil {
		return err
	}
	want := map[int]bool{}
	for _, i := range idx {
		want[i] = true
	}
	for _, r := range raw {
		i, ok := replyIndex(r.ID, n)
		if !ok || !want[i] {
			continue
		}
		delete(want, i) // the first answer for an id counts
		if r.Result == nil {
			return rpc.ErrNoResult
		}
	}
	return nil
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
