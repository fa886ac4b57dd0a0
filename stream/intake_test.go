package stream_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

const intakeStream = "application:signatures"

func intakeRedis(t *testing.T) *redis.Client {
	t.Helper()
	return redistest.Start(t).Client()
}

func intakeFields(holder common.Address) map[string]string {
	return map[string]string{stream.FieldPolicyHolder: holder.Hex(), stream.FieldSignatureID: "abc"}
}

// entriesOf lists the stream entries that carry entityID.
func entriesOf(t *testing.T, rdb *redis.Client, entityID string) []string {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), intakeStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		if m.Values[stream.FieldEntityID] == entityID {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func TestPublishOnce(t *testing.T) {
	rdb := intakeRedis(t)
	p := stream.NewPublisher(rdb, intakeStream, stream.PublishOptions{})
	holder := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	pub := stream.Publication{ClaimID: "sig:1", EntityID: "E1", Fields: intakeFields(holder), StampTimestamp: true, Holder: holder}
	first, err := p.Publish(t.Context(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if first.Existing || first.EntityID != "E1" || first.EntryID == "" {
		t.Fatalf("first publish %+v", first)
	}
	pub.EntityID = "E2" // a retry builds a new candidate id; the first one wins
	again, err := p.Publish(t.Context(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Existing || again.EntityID != "E1" || again.EntryID != first.EntryID {
		t.Fatalf("repeat %+v, first %+v", again, first)
	}
	got, ok, err := p.Lookup(t.Context(), "sig:1")
	if err != nil || !ok || got.EntryID != first.EntryID {
		t.Fatalf("lookup %+v %v %v", got, ok, err)
	}
	if ids := entriesOf(t, rdb, "E1"); len(ids) != 1 {
		t.Fatalf("entries %v", ids)
	}
	h := rdb.HGetAll(t.Context(), stream.ApplicationKey("E1")).Val()
	if h[stream.FieldTimestamp] == "" || h[stream.FieldPolicyHolder] != holder.Hex() {
		t.Fatalf("hash %v", h)
	}
	ss := stream.NewStatusStore(rdb, intakeStream, 0)
	rec, found, live, err := ss.Read(t.Context(), "E1")
	if err != nil || !found || rec.State != stream.StateQueued || rec.EntryID != first.EntryID || live == nil {
		t.Fatalf("status %+v found %v live %v err %v", rec, found, live, err)
	}
	ids, err := ss.Holder(t.Context(), holder, 10)
	if err != nil || len(ids) != 1 || ids[0] != "E1" {
		t.Fatalf("index %v %v", ids, err)
	}
}

func TestPublishConcurrentDuplicatesConverge(t *testing.T) {
	rdb := intakeRedis(t)
	p := stream.NewPublisher(rdb, intakeStream, stream.PublishOptions{Poll: time.Millisecond})
	const n = 16
	results := make([]stream.Published, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.Publish(t.Context(), stream.Publication{
				ClaimID: "sig:dup", EntityID: "E" + strconv.Itoa(i), Fields: intakeFields(common.Address{1}),
			})
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].EntityID != results[0].EntityID || results[i].EntryID != results[0].EntryID {
			t.Fatalf("diverged: %+v vs %+v", results[i], results[0])
		}
		if !results[i].Existing {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d callers think they published", fresh)
	}
	n2, _ := rdb.XLen(t.Context(), intakeStream).Result()
	if n2 != 1 {
		t.Fatalf("stream has %d entries", n2)
	}
}

// crashAfterClaim leaves what a writer that died right after step 1 leaves:
// a claim without an entry id and its lease, which lapses after lease.
func crashAfterClaim(t *testing.T, rdb *redis.Client, p *stream.Publisher, claimID, entityID string, lease time.Duration) {
	t.Helper()
	ms := strconv.FormatInt(time.Now().UnixMilli()-5, 10)
	if err := rdb.HSet(t.Context(), p.Keys().Claim(claimID), "entityId", entityID, "claimedAt", ms).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(t.Context(), p.Keys().Lease(claimID), "dead-writer", lease).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestPublishCompletesAfterCrash(t *testing.T) {
	cases := []struct {
		name     string
		wroteXAD bool // the dead writer got as far as XADD
	}{
		{"after claim", false},
		{"after xadd", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rdb := intakeRedis(t)
			p := stream.NewPublisher(rdb, intakeStream, stream.PublishOptions{Poll: 5 * time.Millisecond})
			// The dead writer's lease lasts until the busy claim is checked
			// (with a lease of 300 ms from here, a stall that long before the
			// check found it lapsed and the publish rightly took over), then
			// lapses 300 ms later, while the next publish waits.
			crashAfterClaim(t, rdb, p, "sig:c", "EDEAD", time.Minute)
			var deadEntry string
			if tc.wroteXAD {
				rdb.HSet(t.Context(), stream.ApplicationKey("EDEAD"), intakeFields(common.Address{2}))
				var err error
				deadEntry, err = rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: intakeStream, Values: map[string]any{"entityId": "EDEAD"}}).Result()
				if err != nil {
					t.Fatal(err)
				}
			}
			// A busy claim is waited for, not written: a short deadline ends
			// in ErrInProgress (or, on a loaded machine, in the deadline
			// cutting the claim's own round trip), and nothing is added.
			short, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
			_, err := p.Publish(short, stream.Publication{ClaimID: "sig:c", EntityID: "ENEW", Fields: intakeFields(common.Address{2})})
			cancel()
			if !errors.Is(err, stream.ErrInProgress) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("publish during a live lease: %v", err)
			}
			if n := rdb.XLen(t.Context(), intakeStream).Val(); n != int64(len(entriesOf(t, rdb, "EDEAD"))) {
				t.Fatalf("an entry was written during a live lease (%d entries)", n)
			}
			if err := rdb.PExpire(t.Context(), p.Keys().Lease("sig:c"), 300*time.Millisecond).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := p.Publish(t.Context(), stream.Publication{ClaimID: "sig:c", EntityID: "ENEW", Fields: intakeFields(common.Address{2})})
			if err != nil {
				t.Fatal(err)
			}
			if got.EntityID != "EDEAD" {
				t.Fatalf("took over as %s, want the claim's entity", got.EntityID)
			}
			ids := entriesOf(t, rdb, "EDEAD")
			if len(ids) != 1 || ids[0] != got.EntryID {
				t.Fatalf("entries %v, answer %s", ids, got.EntryID)
			}
			if tc.wroteXAD && got.EntryID != deadEntry {
				t.Fatalf("a second entry was added: %s besides %s", got.EntryID, deadEntry)
			}
			if rdb.Exists(t.Context(), stream.ApplicationKey("EDEAD")).Val() != 1 {
				t.Fatal("hash not written")
			}
		})
	}
}

func TestStatusStorePrecedence(t *testing.T) {
	rdb := intakeRedis(t)
	ss := stream.NewStatusStore(rdb, intakeStream, time.Hour)
	ctx := t.Context()
	state := func(id string) string {
		rec, _, _, err := ss.Read(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.State
	}
	// rejected, then confirmed (a retry that succeeded): confirmed wins.
	if err := ss.Rejected(ctx, stream.DeadLetter{EntityID: "A", EntryID: "1-0", Class: "funds", Reason: "DP-015"}); err != nil {
		t.Fatal(err)
	}
	if state("A") != stream.StateRejected {
		t.Fatal("rejection not recorded")
	}
	c := stream.Confirmation{EntityID: "A", EntryID: "1-0", TxHash: common.Hash{1}, Block: 7, ProcessID: common.Hash{2}}
	if err := ss.Confirmed(ctx, c); err != nil {
		t.Fatal(err)
	}
	// confirmed, then rejected (a duplicate entry whose hash is gone): confirmed stays.
	if err := ss.Rejected(ctx, stream.DeadLetter{EntityID: "A", Class: "malformed", Reason: "hash missing"}); err != nil {
		t.Fatal(err)
	}
	rec, found, live, err := ss.Read(ctx, "A")
	if err != nil || !found || live != nil {
		t.Fatal(found, live, err)
	}
	if rec.State != stream.StateConfirmed || rec.Block != 7 || rec.TxHash != c.TxHash.Hex() ||
		rec.ProcessID != c.ProcessID.Hex() || rec.Class != "" || rec.Reason != "" {
		t.Fatalf("record %+v", rec)
	}
	if ttl := rdb.PTTL(ctx, stream.NewIntakeKeys(intakeStream).Status("A")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
}

func TestIndexAndUnindex(t *testing.T) {
	rdb := intakeRedis(t)
	ss := stream.NewStatusStore(rdb, intakeStream, time.Hour)
	h := common.HexToAddress("0xAbC0000000000000000000000000000000000001")
	var items []stream.Indexed
	for i := range 300 {
		items = append(items, stream.Indexed{EntityID: "E" + strconv.Itoa(i), Holder: h})
	}
	if err := ss.Index(t.Context(), items...); err != nil {
		t.Fatal(err)
	}
	ids, err := ss.Holder(t.Context(), h, 1000)
	if err != nil || len(ids) != 300 {
		t.Fatalf("%d ids, %v", len(ids), err)
	}
	if ids, _ := ss.Holder(t.Context(), h, 10); len(ids) != 10 {
		t.Fatalf("limit ignored: %d", len(ids))
	}
	if err := ss.Unindex(t.Context(), h, "E1", "E2"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := ss.Holder(t.Context(), h, 1000); len(ids) != 298 {
		t.Fatalf("%d after unindex", len(ids))
	}
}

func TestDeadLetterReading(t *testing.T) {
	rdb := intakeRedis(t)
	q := stream.NewQueue(rdb, stream.Keys{Stream: intakeStream, Group: "g", Consumer: "c", DeadLetter: "dead", Wallet: "w"})
	if err := q.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 5 {
		d := stream.DeadLetter{EntryID: "0-" + strconv.Itoa(i+1), EntityID: "E" + strconv.Itoa(i), Class: "funds",
			Reason: "r", At: time.Now(), Fields: map[string]string{"signatureId": "s" + strconv.Itoa(i)}}
		if err := q.DeadLetter(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	page1, err := q.DeadLetters(t.Context(), "", 2)
	if err != nil || len(page1) != 2 || page1[0].EntityID != "E4" || page1[1].EntityID != "E3" {
		t.Fatalf("page 1 %+v %v", page1, err)
	}
	page2, err := q.DeadLetters(t.Context(), page1[1].ID, 10)
	if err != nil || len(page2) != 3 || page2[0].EntityID != "E2" {
		t.Fatalf("page 2 %+v %v", page2, err)
	}
	one, ok, err := q.DeadLetterByID(t.Context(), page2[2].ID)
	if err != nil || !ok || one.EntityID != "E0" || one.Fields["signatureId"] != "s0" || one.At.IsZero() {
		t.Fatalf("by id %+v %v %v", one, ok, err)
	}
	if _, ok, _ := q.DeadLetterByID(t.Context(), "1-1"); ok {
		t.Fatal("unknown id found")
	}
	found, ok, err := q.FindDeadLetter(t.Context(), "E3", start.Add(-time.Second), 100)
	if err != nil || !ok || found.ID != page1[1].ID {
		t.Fatalf("find %+v %v %v", found, ok, err)
	}
	if _, ok, _ := q.FindDeadLetter(t.Context(), "E3", time.Now().Add(time.Hour), 100); ok {
		t.Fatal("found a dead letter older than since")
	}
}

// TestPublishStampsTheClaimTime: StampTimestamp writes the claim's time
// (Redis clock, milliseconds) as the frontend's timestamp field, in seconds
// with the milliseconds kept, so every writer completing the claim writes
// the same hash.
func TestPublishStampsTheClaimTime(t *testing.T) {
	rdb := intakeRedis(t)
	p := stream.NewPublisher(rdb, intakeStream, stream.PublishOptions{})
	before := time.Now()
	got, err := p.Publish(t.Context(), stream.Publication{ClaimID: "sig:ts", EntityID: "ETS",
		Fields: intakeFields(common.Address{4}), StampTimestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	claimedAt, err := rdb.HGet(t.Context(), p.Keys().Claim("sig:ts"), "claimedAt").Int64()
	if err != nil {
		t.Fatal(err)
	}
	stamp := rdb.HGet(t.Context(), stream.ApplicationKey(got.EntityID), stream.FieldTimestamp).Val()
	if want := strconv.FormatFloat(float64(claimedAt)/1000, 'f', -1, 64); stamp != want {
		t.Fatalf("timestamp %q, want the claim time %d ms as seconds %q", stamp, claimedAt, want)
	}
	secs, err := strconv.ParseFloat(stamp, 64)
	if err != nil || secs < float64(before.Add(-time.Minute).Unix()) || secs > float64(time.Now().Add(time.Minute).Unix()) {
		t.Fatalf("timestamp %q (%v) is not about now (%v)", stamp, err, before)
	}
}

// TestTakeoverFindsTheDeadWritersEntryInALongStream: a takeover looks for
// the dead writer's entry from the claim time on, not from the start of the
// stream, and reads on past a full page: with a long stream before the
// claim, a scan from the start would spend its limit on older entries, and
// one that stopped at a full page would miss the entry behind it; either
// adds a second entry of the application.
func TestTakeoverFindsTheDeadWritersEntryInALongStream(t *testing.T) {
	rdb := intakeRedis(t)
	pipe := rdb.Pipeline()
	for i := range 1200 {
		pipe.XAdd(t.Context(), &redis.XAddArgs{Stream: intakeStream, Values: map[string]any{"entityId": "OLD" + strconv.Itoa(i)}})
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := stream.NewPublisher(rdb, intakeStream, stream.PublishOptions{Poll: 5 * time.Millisecond, ScanLimit: 1000})
	// The dead writer's claim, timed by the Redis clock as the claim script
	// times it: after every older entry.
	now, err := rdb.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(t.Context(), p.Keys().Claim("sig:long"), "entityId", "EDEAD", "claimedAt", strconv.FormatInt(now.UnixMilli(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(t.Context(), p.Keys().Lease("sig:long"), "dead-writer", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	// Exactly one full page of other applications' entries after the
	// claim, then the dead writer's: the scan must read on past a full page.
	for i := range 500 {
		pipe.XAdd(t.Context(), &redis.XAddArgs{Stream: intakeStream, Values: map[string]any{"entityId": "NEW" + strconv.Itoa(i)}})
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	rdb.HSet(t.Context(), stream.ApplicationKey("EDEAD"), intakeFields(common.Address{5}))
	dead, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: intakeStream, Values: map[string]any{"entityId": "EDEAD"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Publish(t.Context(), stream.Publication{ClaimID: "sig:long", EntityID: "ENEW", Fields: intakeFields(common.Address{5})})
	if err != nil {
		t.Fatal(err)
	}
	if ids := entriesOf(t, rdb, "EDEAD"); got.EntryID != dead || len(ids) != 1 {
		t.Fatalf("takeover answered %s, entries of EDEAD %v; want only the dead writer's %s", got.EntryID, ids, dead)
	}
}
