package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// scriptedNode answers a batch of eth_getTransactionReceipt calls as the
// script says for each hash (by its first byte): "receipt", "null",
// "absent" (neither result nor error), "error", "missing" (no answer),
// "dup" (answered twice, the second time with null), "extra" (an answer
// with an id nobody asked besides the receipt), "nullentry" (a null in the
// array besides the receipt). Whole answers: "refuse" (one error object
// instead of the array), "status" (429).
func scriptedNode(t testing.TB, script map[byte]string, rcpt json.RawMessage) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var calls []struct {
			ID     json.RawMessage
			Params []common.Hash
		}
		if err := json.NewDecoder(r.Body).Decode(&calls); err != nil {
			t.Errorf("node: %v", err)
			return
		}
		var out []string
		for _, c := range calls {
			id := string(c.ID)
			switch script[c.Params[0][0]] {
			case "receipt":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, rcpt))
			case "null":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, id))
			case "absent":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s}`, id))
			case "error":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"header not found"}}`, id))
			case "missing":
			case "dup":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, rcpt),
					fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":null}`, id))
			case "extra":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, rcpt),
					`{"jsonrpc":"2.0","id":987654,"result":null}`)
			case "nullentry":
				out = append(out, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, rcpt), "null")
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
		script  []string // what the node does for the hashes 0x00.., 0x01.., ...
		wantErr string   // in lookupHTTP's error; "" for none
	}{
		{[]string{"receipt", "receipt", "receipt"}, ""},
		{[]string{"receipt", "null", "receipt"}, ""},
		{[]string{"null", "null"}, ""},
		{[]string{"receipt", "absent", "receipt"}, rpc.ErrNoResult.Error()},
		{[]string{"null", "absent"}, rpc.ErrNoResult.Error()},
		{[]string{"receipt", "error"}, "header not found"},
		{[]string{"receipt", "missing"}, rpc.ErrMissingBatchResponse.Error()},
		{[]string{"dup", "receipt"}, ""},
		{[]string{"extra", "null"}, ""},
		{[]string{"nullentry", "receipt"}, ""},
		{[]string{"refuse"}, "batch too large"},
		{[]string{"status"}, "429"},
	} {
		t.Run(strings.Join(tc.script, ","), func(t *testing.T) {
			script := map[byte]string{}
			hashes := make([]common.Hash, len(tc.script))
			for i, s := range tc.script {
				hashes[i][0] = byte(i)
				script[byte(i)] = s
			}
			srv := scriptedNode(t, script, rcpt)
			c, err := Dial(t.Context(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			if c.ep.hc == nil {
				t.Fatal("an http endpoint has no http client")
			}
			got, gotErr := c.Receipts(t.Context(), hashes)
			viaRPC := *c
			viaRPC.ep = nil // byHash through rpc.Client.BatchCallContext
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

// BenchmarkLookupHTTP reads 108 receipts (a full block of applications)
// from a canned node: lookupHTTP against the rpc client's batch.
func BenchmarkLookupHTTP(b *testing.B) {
	rcpt, err := json.Marshal(sampleReceipt(3))
	if err != nil {
		b.Fatal(err)
	}
	script := map[byte]string{}
	hashes := make([]common.Hash, 108)
	for i := range hashes {
		hashes[i][0] = byte(i)
		script[byte(i)] = "receipt"
	}
	srv := scriptedNode(b, script, rcpt)
	c, err := Dial(b.Context(), srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	viaRPC := *c
	viaRPC.ep = nil
	for _, bc := range []struct {
		name string
		c    *Client
	}{{"lookupHTTP", c}, {"rpc", &viaRPC}} {
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
