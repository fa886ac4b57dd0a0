package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// dropper plays the node that accepts every transaction and silently drops
// those past a per-sender limit, as hosted RPC providers and busy public
// pools do (issue 21): a raw transaction whose nonce is limit or more above
// its sender's mined nonce is answered with its hash, as if taken, and never
// reaches the node. geth itself, at its pool's limit, refuses instead
// (devchain.Options.PoolSlots); the bench offers both kinds.
type dropper struct {
	target string
	limit  uint64
	client *http.Client

	mu      sync.Mutex
	mined   map[common.Address]minedNonce
	dropped int64
}

type minedNonce struct {
	n  uint64
	at time.Time
}

// minedTTL is how long a sender's mined nonce is reused before it is read
// again: shorter than any block time the bench uses.
const minedTTL = 100 * time.Millisecond

func newDropper(target string, limit uint64) *dropper {
	return &dropper{target: target, limit: limit, client: &http.Client{Timeout: 10 * time.Second}, mined: map[common.Address]minedNonce{}}
}

// drops reports whether the node would silently drop tx.
func (d *dropper) drops(ctx context.Context, tx *types.Transaction) bool {
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		return false
	}
	d.mu.Lock()
	m, ok := d.mined[from]
	d.mu.Unlock()
	if !ok || time.Since(m.at) > minedTTL {
		n, err := d.minedNonce(ctx, from)
		if err != nil {
			return false // unknown: let the node decide
		}
		m = minedNonce{n: n, at: time.Now()}
		d.mu.Lock()
		d.mined[from] = m
		d.mu.Unlock()
	}
	if tx.Nonce() < m.n+d.limit {
		return false
	}
	d.mu.Lock()
	d.dropped++
	d.mu.Unlock()
	return true
}

func (d *dropper) minedNonce(ctx context.Context, from common.Address) (uint64, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":["%s","latest"]}`, from.Hex())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.target, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var a struct {
		Result hexutil.Uint64 `json:"result"`
	}
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		return 0, err
	}
	return uint64(a.Result), nil
}

// Dropped is how many transactions were answered as taken and dropped.
func (d *dropper) Dropped() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// rpcRequest is one JSON-RPC call as sent, kept whole so it can be
// forwarded unchanged.
type rpcRequest struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// filter takes a request body and splits it: the calls to forward (as a
// body, nil when none remain) and the answers for the dropped sends, by
// position in the original request. ok is false when nothing was dropped:
// the body is then forwarded unchanged.
func (d *dropper) filter(ctx context.Context, body []byte) (forward []byte, keep []int, answers map[int]json.RawMessage, batch, ok bool) {
	var reqs []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	batch = len(trimmed) > 0 && trimmed[0] == '['
	if batch {
		if json.Unmarshal(trimmed, &reqs) != nil {
			return nil, nil, nil, batch, false
		}
	} else {
		reqs = []json.RawMessage{trimmed}
	}
	answers = map[int]json.RawMessage{}
	var rest []json.RawMessage
	for i, raw := range reqs {
		var r rpcRequest
		if json.Unmarshal(raw, &r) == nil && r.Method == "eth_sendRawTransaction" && len(r.Params) > 0 {
			if tx := decodeRawTx(r.Params[0]); tx != nil && d.drops(ctx, tx) {
				answers[i], _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": r.ID, "result": tx.Hash().Hex()})
				continue
			}
		}
		rest = append(rest, raw)
		keep = append(keep, i)
	}
	if len(answers) == 0 {
		return nil, nil, nil, batch, false
	}
	if len(rest) > 0 {
		if batch {
			forward, _ = json.Marshal(rest)
		} else {
			forward = rest[0]
		}
	}
	return forward, keep, answers, batch, true
}

// serve answers a request some of whose sends were dropped: the rest goes
// to the node, and the answers are put back in the request's order.
func (d *dropper) serve(w http.ResponseWriter, r *http.Request, forward []byte, keep []int, answers map[int]json.RawMessage, batch bool) {
	out := make([]json.RawMessage, len(keep)+len(answers))
	for i, a := range answers {
		out[i] = a
	}
	if forward != nil {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, d.target, bytes.NewReader(forward))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := d.client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var got []json.RawMessage
		if batch {
			if err := json.Unmarshal(body, &got); err != nil || len(got) != len(keep) {
				w.WriteHeader(res.StatusCode)
				_, _ = w.Write(body) // not a batch answer (an HTTP error): pass it on
				return
			}
		} else {
			got = []json.RawMessage{body}
		}
		for j, i := range keep {
			out[i] = got[j]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if batch {
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	_, _ = w.Write(out[0])
}
