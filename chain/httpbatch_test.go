package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
)

// scriptedNode answers each call of a batch as the script says for its
// place in the batch: "result" (with result), "null", "absent" (neither
// result nor error), "error" (a revert with data), "missing" (no answer),
// "dup" (answered twice, the second time with null), "extra" (besides the
// result, an answer with an id nobody asked), "nullentry" (besides the
// result, a null in the array), "bad" (a result of the wrong JSON type).
// Whole answers: "refuse" (one error object instead of the array),
// "status" (429).
func scriptedNode(t testing.TB, script []string, result json.RawMessage) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var calls []struct{ ID json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&calls); err != nil {
			t.Errorf("node: %v", err)
			return
		}
		var out []string
		for i, c := range calls {
			id := string(c.ID)
			switch script[i%len(script)] {
			case "result":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result))
			case "null":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, id))
			case "absent":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s}`, id))
			case "error":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":3,"message":"execution reverted: ERROR:DMH-001:SIGNATURE_USED","data":"%s"}}`, id, revertData("ERROR:DMH-001:SIGNATURE_USED")))
			case "missing":
			case "dup":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result),
					fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, id))
			case "extra":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result),
					`{"jsonrpc":"2.0","id":987654,"result":null}`)
			case "nullentry":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result), "null")
			case "bad":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":[1]}`, id))
			case "refuse":
				fmt.Fprint(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}`)
				return
			case "status":
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, "slow down")
				return
			}
		}
		fmt.Fprint(w, "["+strings.Join(out, ",")+"]")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// dialBoth dials url and returns the client, which batches over HTTP
// (batchHTTP), and a copy that batches through rpc.Client.BatchCallContext.
func dialBoth(t testing.TB, url string) (*Client, *Client) {
	t.Helper()
	c, err := Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if !c.overHTTP() {
		t.Fatal("an http endpoint does not batch over http")
	}
	viaRPC := *c
	viaRPC.ep = nil
	return c, &viaRPC
}

// TestLookupHTTPAnswersAsRPC: Receipts over http (lookupHTTP) gives what
// the rpc client's batch gave for every shape of answer: the receipts, nil
// for a null result, and an error for a JSON-RPC error, a missing result or
// answer, a refused batch or a status outside 2xx; answers with ids nobody
// asked, repeated answers and null entries are ignored.
func TestLookupHTTPAnswersAsRPC(t *testing.T) {
	rcpt, err := json.Marshal(sampleReceipt(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		script  []string // what the node does for each call
		wantErr string   // in lookupHTTP's error; "" for none
	}{
		{[]string{"result", "result", "result"}, ""},
		{[]string{"result", "null", "result"}, ""},
		{[]string{"null", "null"}, ""},
		{[]string{"result", "absent", "result"}, rpc.ErrNoResult.Error()},
		{[]string{"null", "absent"}, rpc.ErrNoResult.Error()},
		{[]string{"result", "error"}, "SIGNATURE_USED"},
		{[]string{"result", "missing"}, rpc.ErrMissingBatchResponse.Error()},
		{[]string{"dup", "result"}, ""},
		{[]string{"extra", "null"}, ""},
		{[]string{"nullentry", "result"}, ""},
		{[]string{"result", "bad"}, "cannot unmarshal"},
		{[]string{"refuse"}, "batch too large"},
		{[]string{"status"}, "429"},
	} {
		t.Run(strings.Join(tc.script, ","), func(t *testing.T) {
			hashes := make([]common.Hash, len(tc.script))
			for i := range hashes {
				hashes[i][0] = byte(i)
			}
			c, viaRPC := dialBoth(t, scriptedNode(t, tc.script, rcpt).URL)
			got, gotErr := c.Receipts(t.Context(), hashes)
			want, wantErr := viaRPC.Receipts(t.Context(), hashes)

			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("error %v, the rpc client's %v", gotErr, wantErr)
			}
			if tc.wantErr == "" && gotErr != nil || tc.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one saying %q", gotErr, tc.wantErr)
			}
			if tc.script[0] == "status" {
				var he rpc.HTTPError
				if !errors.As(gotErr, &he) || he.StatusCode != http.StatusTooManyRequests || string(he.Body) != "slow down" {
					t.Errorf("not the rpc.HTTPError the rpc client gives: %#v", gotErr)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("receipts %v, the rpc client's %v", got, want)
			}
			if gotErr == nil {
				for i, s := range tc.script {
					if (got[i] != nil) != (s != "null") {
						t.Errorf("hash %d (%s): receipt %v", i, s, got[i])
					}
				}
			}
		})
	}
}

// TestBatchHTTPPerCallAsRPC: estimates and sends over http give each call
// the answer and the error the rpc client's batch gave it, and fail the
// batch where it failed it; a revert keeps its data (AsRevert).
func TestBatchHTTPPerCallAsRPC(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0xD82ECD693B6223a5A6fFA82536CB47D01C6EeA3e")
	signer := types.LatestSignerForChainID(big.NewInt(1337))
	for _, script := range [][]string{
		{"result", "result", "result"},
		{"result", "error", "result"},
		{"result", "absent", "null"},
		{"missing", "result", "bad"},
		{"dup", "extra", "nullentry"},
		{"refuse"},
		{"status"},
	} {
		t.Run(strings.Join(script, ","), func(t *testing.T) {
			msgs := make([]ethereum.CallMsg, len(script))
			txs := make([]*types.Transaction, len(script))
			for i := range script {
				msgs[i] = ethereum.CallMsg{From: crypto.PubkeyToAddress(key.PublicKey), To: &to, Data: []byte{byte(i), 1, 2}}
				txs[i] = types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: uint64(i), Gas: 21_000, To: &to})
			}
			t.Run("estimate", func(t *testing.T) {
				c, viaRPC := dialBoth(t, scriptedNode(t, script, json.RawMessage(`"0x5208"`)).URL)
				gas, errs, err := c.EstimateGasBatch(t.Context(), msgs)
				wantGas, wantErrs, wantErr := viaRPC.EstimateGasBatch(t.Context(), msgs)
				sameAnswers(t, errs, err, wantErrs, wantErr)
				if !reflect.DeepEqual(gas, wantGas) {
					t.Errorf("gas %v, the rpc client's %v", gas, wantGas)
				}
				for i, s := range script {
					if s == "error" && (AsRevert(errs[i]) == nil || AsRevert(errs[i]).Reason != "ERROR:DMH-001:SIGNATURE_USED") {
						t.Errorf("revert not read from the error: %v", errs[i])
					}
				}
			})
			t.Run("send", func(t *testing.T) {
				c, viaRPC := dialBoth(t, scriptedNode(t, script, json.RawMessage(`"0x`+strings.Repeat("ab", 32)+`"`)).URL)
				errs, err := c.SendTransactions(t.Context(), txs)
				wantErrs, wantErr := viaRPC.SendTransactions(t.Context(), txs)
				sameAnswers(t, errs, err, wantErrs, wantErr)
			})
		})
	}
}

// sameAnswers fails unless the per-call errors read the same and the batch
// failed on both paths or on neither.
func sameAnswers(t *testing.T, errs []error, err error, wantErrs []error, wantErr error) {
	t.Helper()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("batch error %v, the rpc client's %v", err, wantErr)
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("%d answers, the rpc client's %d", len(errs), len(wantErrs))
	}
	for i := range errs {
		if fmt.Sprint(errs[i]) != fmt.Sprint(wantErrs[i]) {
			t.Errorf("call %d: %v, the rpc client's %v", i, errs[i], wantErrs[i])
		}
	}
}

// TestEstimateParamsAsJSON: the hand-written params are the JSON the rpc
// client sent for EstimateGasBatch's argument.
func TestEstimateParamsAsJSON(t *testing.T) {
	to := common.HexToAddress("0xD82ECD693B6223a5A6fFA82536CB47D01C6EeA3e")
	for _, m := range []ethereum.CallMsg{
		{From: common.HexToAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"), To: &to, Data: []byte{0xde, 0xad, 0xbe, 0xef}},
		{From: common.HexToAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"), To: &to},
		{Data: []byte{1}},
		{},
	} {
		want, err := json.Marshal([]any{map[string]any{"from": m.From, "to": m.To, "input": hexutil.Bytes(m.Data)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := estimateParams(m); string(got) != string(want) {
			t.Errorf("%s, want %s", got, want)
		}
	}
	if got, want := string(rawTxParams([]byte{1, 0xab})), `["0x01ab"]`; got != want {
		t.Errorf("raw tx params %s, want %s", got, want)
	}
}

// BenchmarkLookupHTTP reads 108 receipts (a full block of applications)
// from a canned node: lookupHTTP against the rpc client's batch.
func BenchmarkLookupHTTP(b *testing.B) {
	rcpt, err := json.Marshal(sampleReceipt(3))
	if err != nil {
		b.Fatal(err)
	}
	hashes := make([]common.Hash, 108)
	for i := range hashes {
		hashes[i][0] = byte(i)
	}
	c, viaRPC := dialBoth(b, scriptedNode(b, []string{"result"}, rcpt).URL)
	for _, bc := range []struct {
		name string
		c    *Client
	}{{"lookupHTTP", c}, {"rpc", viaRPC}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs, err := bc.c.Receipts(b.Context(), hashes)
				if err != nil || len(rs) != len(hashes) || rs[0] == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
