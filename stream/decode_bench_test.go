package stream_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

var benchHelper = common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")

// BenchmarkDecodeApplication validates and types one PendingApplication hash
// as the frontend writes it: the relay's only parsing step per application.
func BenchmarkDecodeApplication(b *testing.B) {
	app, err := frontend.NewSigned(big.NewInt(1337), benchHelper, 1)
	if err != nil {
		b.Fatal(err)
	}
	fields := frontend.Fields(app)
	id := frontend.NewEntityID()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stream.DecodeApplication(id, fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeApplicationInvalid is the dead-letter path: every field is
// wrong and all problems are reported at once.
func BenchmarkDecodeApplicationInvalid(b *testing.B) {
	fields := map[string]string{
		stream.FieldPolicyHolder: "0xnot-an-address", stream.FieldProtectedWallet: "",
		stream.FieldProtectedBalance: "abc", stream.FieldDuration: "-1", stream.FieldBundleID: "x",
		stream.FieldSignatureID: strings.Repeat("a", 40), stream.FieldSignature: "0x1234",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stream.DecodeApplication("01BAD", fields); err == nil {
			b.Fatal("want an error")
		}
	}
}

// benchQueue enqueues n applications as the frontend does and returns a
// queue on a fresh redis-server with its consumer group.
func benchQueue(b *testing.B, n int) (*stream.Queue, *redis.Client) {
	b.Helper()
	rdb := redistest.Start(b).Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "bench", DeadLetter: "application:signatures:dead", Wallet: "0xbench"}
	q := stream.NewQueue(rdb, keys)
	ctx := context.Background()
	if err := q.EnsureGroup(ctx); err != nil {
		b.Fatal(err)
	}
	app, err := frontend.NewSigned(big.NewInt(1337), benchHelper, 1)
	if err != nil {
		b.Fatal(err)
	}
	fields := frontend.Fields(app)
	for start := 0; start < n; start += 1000 {
		pipe := rdb.Pipeline()
		for i := start; i < min(start+1000, n); i++ {
			id := fmt.Sprintf("01BENCH%019d", i)
			pipe.HSet(ctx, stream.ApplicationKey(id), fields)
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Stream, Values: map[string]any{stream.FieldEntityID: id}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return q, rdb
}

// BenchmarkQueueReadAck is the smallest consumer-group cycle on a real
// redis-server: read one new entry, acknowledge it (XACK and DEL of the hash
// in one pipeline). Two round trips per op.
func BenchmarkQueueReadAck(b *testing.B) {
	q, _ := benchQueue(b, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		es, err := q.ReadNew(ctx, 1, -1)
		if err != nil || len(es) != 1 {
			b.Fatalf("read: %v (%d entries)", err, len(es))
		}
		if err := q.Ack(ctx, stream.Settled{EntryID: es[0].ID, EntityID: es[0].EntityID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueLifecycle is every Redis step the relay takes for one
// application, in the order it takes them, with the entries read in batches
// of 16: per batch XREADGROUP, one pipelined HGETALL of the batch's hashes,
// one pipeline journaling the batch (HSET journal + HSET transactionHash
// each), the acknowledgement (XACK + DEL per hash, one pipeline) and the
// journal removal (one HDEL), as a tracker pass settles what it confirmed.
// One op is one application; rt/op counts round trips.
func BenchmarkQueueLifecycle(b *testing.B) {
	q, _ := benchQueue(b, b.N)
	ctx := context.Background()
	rts := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		es, err := q.ReadNew(ctx, 16, -1)
		rts++
		if err != nil || len(es) == 0 {
			b.Fatalf("read: %v (%d entries)", err, len(es))
		}
		ids := make([]string, len(es))
		for i, e := range es {
			ids[i] = e.EntityID
		}
		loaded, loadErrs, err := q.LoadApplications(ctx, ids)
		if err != nil {
			b.Fatal(err)
		}
		for i, err := range loadErrs {
			if err != nil {
				b.Fatalf("load %s: %v", es[i].EntityID, err)
			}
		}
		recs := make([]stream.TxRecord, len(es))
		for i, e := range es {
			if loaded[i] == nil {
				b.Fatalf("load %s: missing", e.EntityID)
			}
			recs[i] = stream.TxRecord{Nonce: uint64(done + i), EntryID: e.ID, EntityID: e.EntityID,
				Hashes:   []string{"0x8f1c1ae9b2bd1a5e6d1c2fbd57a3c2a5f0b5b5c7d3f1e2a4b6c8d0e2f4a6b8c0"},
				RawTx:    "0x" + strings.Repeat("ab", 420),
				SignedAt: time.Now()}
		}
		if err := q.Record(ctx, recs...); err != nil {
			b.Fatal(err)
		}
		settled := make([]stream.Settled, len(es))
		nonces := make([]uint64, len(es))
		for i, e := range es {
			settled[i] = stream.Settled{EntryID: e.ID, EntityID: e.EntityID}
			nonces[i] = recs[i].Nonce
		}
		if err := q.Ack(ctx, settled...); err != nil {
			b.Fatal(err)
		}
		if err := q.Forget(ctx, nonces...); err != nil {
			b.Fatal(err)
		}
		rts += 4
		done += len(es)
	}
	b.ReportMetric(float64(rts)/float64(b.N), "rt/op")
}
