package bench

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := Summarise(ds)
	if l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 || l.Count != 100 {
		t.Fatalf("got %+v", l)
	}
	if one := Summarise([]time.Duration{7 * time.Millisecond}); one.P50 != 7 || one.P99 != 7 {
		t.Fatalf("one sample: %+v", one)
	}
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_xreadgroup:calls=12,usec=80,usec_per_call=6.67,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n"
	got := parseCommandStats(info)
	if got["xreadgroup"] != 12 || got["client|setinfo"] != 2 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestReadCommand(t *testing.T) {
	in := "*3\r\n$4\r\nHSET\r\n$1\r\nk\r\n$0\r\n\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$1\r\nx\r\nPING\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	var names []string
	total := 0
	for {
		raw, name, err := readCommand(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += len(raw)
		names = append(names, name)
	}
	if strings.Join(names, " ") != "hset client|setinfo ping" || total != len(in) {
		t.Fatalf("names %v, %d of %d bytes", names, total, len(in))
	}
}

// TestRedisProxy counts a single command and a pipeline as two round trips
// and three commands, and passes replies through.
func TestRedisProxy(t *testing.T) {
	srv := redistest.Start(t)
	p, err := StartRedisProxy(srv.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	// Connection set-up (HELLO) first; go-redis keeps pipelines on
	// connections of their own.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	warm := c.Pipeline()
	warm.Ping(ctx)
	if _, err := warm.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	before := p.Counts()
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	pipe.Get(ctx, "a")
	get := pipe.Get(ctx, "a")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if get.Val() != "1" {
		t.Fatalf("get through proxy: %q", get.Val())
	}
	d := p.Counts().Sub(before)
	if d.RoundTrips != 2 || d.Commands != 3 || d.ByCommand["get"] != 2 || d.ByCommand["set"] != 1 {
		t.Fatalf("counts %+v", d)
	}
}

// TestRPCProxy counts each element of a batch as a call and one HTTP request.
func TestRPCProxy(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(string(body), "[") {
			io.WriteString(w, `[{"jsonrpc":"2.0","id":1,"result":null},{"jsonrpc":"2.0","id":2,"result":null}]`)
			return
		}
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"nonce too low"}}`)
	}))
	defer node.Close()
	p, err := StartRPCProxy(node.URL, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	post := func(body string) {
		res, err := http.Post(p.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	post(`[{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":["0x01"]},` +
		`{"jsonrpc":"2.0","id":2,"method":"eth_getTransactionReceipt","params":["0x02"]}]`)
	post(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}`)
	c := p.Counts()
	if c.HTTPRequests != 2 || c.Batches != 1 || c.Calls != 3 || c.ByMethod["eth_getTransactionReceipt"] != 2 ||
		c.Errors["eth_sendRawTransaction"] != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestSummariseBlocks(t *testing.T) {
	blocks := []BlockInfo{
		{GasLimit: 30_000_000},
		{Ours: 108, Txs: 108, OurGas: 108 * 276_652, GasUsed: 108 * 276_652, GasLimit: 30_000_000, maxTxGas: 331_982, maxTxApps: 1},
		{Ours: 90, Txs: 90, OurGas: 90 * 276_652, GasUsed: 90 * 276_652, GasLimit: 30_000_000, maxTxGas: 331_982, maxTxApps: 1},
		{Ours: 50, Txs: 50, OurGas: 50 * 276_652, GasUsed: 50 * 276_652, GasLimit: 30_000_000, maxTxGas: 331_982, maxTxApps: 1},
		{Ours: 3, Txs: 3, OurGas: 3 * 276_652, GasUsed: 3 * 276_652, GasLimit: 30_000_000, maxTxGas: 331_982, maxTxApps: 1},
	}
	s := summariseBlocks(blocks, 30_000_000)
	if s.Capacity != 108 || s.Blocks != 3 || s.AtLeast90 != 1 || s.IdleBefore != 1 || s.Total != 5 || s.AppsPerTx != 1 || s.GasPerApp != 276_652 {
		t.Fatalf("summary %+v", s)
	}
}

func TestAccountIndexesAndWallets(t *testing.T) {
	if got := AccountIndexes(1); got != "0" {
		t.Errorf("one key: %q, want 0", got)
	}
	if got := AccountIndexes(8); got != "0-7" {
		t.Errorf("eight keys: %q, want 0-7", got)
	}
	ws, err := Wallets(Mnemonic, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The hardhat/anvil accounts 0 and 1 of the test mnemonic.
	if len(ws) != 2 || ws[0].Hex() != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" || ws[1].Hex() != "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" {
		t.Fatalf("wallets %v", ws)
	}
}
