package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

var testKeys = stream.Keys{
	Stream:     "application:signatures",
	Group:      "depeg-backend-processor",
	Consumer:   "depeg-backend-processor-consumer",
	DeadLetter: "application:signatures:dead",
	Wallet:     "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
}

// newQueue starts a redis-server for the test and returns a queue on it
// with its consumer group created, as the relay does at startup.
func newQueue(t *testing.T, opts stream.Options) (*redistest.Server, *redis.Client, *stream.Queue) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	q := stream.NewQueueWithOptions(rdb, testKeys, opts)
	if err := q.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, rdb, q
}

// enqueue writes a stream entry the way the frontend does.
func enqueue(t *testing.T, rdb *redis.Client, entityID string) string {
	t.Helper()
	id, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: testKeys.Stream,
		Values: map[string]any{stream.FieldEntityID: entityID}}).Result()
	if err != nil {
		t.Fatalf("xadd: %v", err)
	}
	return id
}

// counter records callback invocations; callbacks run on the reading
// goroutine, so it is guarded for the race detector.
type counter struct {
	mu     sync.Mutex
	fields []string
	errs   []error
}

func (c *counter) add(field string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fields, c.errs = append(c.fields, field), append(c.errs, err)
}

func (c *counter) snapshot() ([]string, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.fields...), append([]error(nil), c.errs...)
}

// TestReadRecreatesLostGroup is the FLUSHALL case of issue 10: the frontend's
// XADD recreates the stream but not the group, and every XREADGROUP answered
// NOGROUP until the relay was restarted.
func TestReadRecreatesLostGroup(t *testing.T) {
	var calls counter
	_, rdb, q := newQueue(t, stream.Options{OnGroupRecreated: func() { calls.add("", nil) }})
	ctx := t.Context()
	enqueue(t, rdb, "01BEFORE")
	if got, err := q.ReadNew(ctx, 10, 0); err != nil || len(got) != 1 {
		t.Fatalf("first read: %v %v", got, err)
	}

	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	id := enqueue(t, rdb, "01AFTER") // the frontend keeps writing

	got, err := q.ReadNew(ctx, 10, time.Millisecond)
	if err != nil {
		t.Fatalf("read after flushall: %v", err)
	}
	if len(got) != 1 || got[0].ID != id || got[0].EntityID != "01AFTER" {
		t.Fatalf("read after flushall: %+v, want entry %s", got, id)
	}
	if n := q.GroupRecreations(); n != 1 {
		t.Fatalf("GroupRecreations = %d, want 1", n)
	}
	if f, _ := calls.snapshot(); len(f) != 1 {
		t.Fatalf("OnGroupRecreated called %d times, want 1", len(f))
	}
	// The group now holds the new entry as pending, as after any read.
	pending, err := q.ReadOwnPending(ctx, "0", 10)
	if err != nil || len(pending) != 1 || pending[0].ID != id {
		t.Fatalf("own pending after recreation: %+v %v", pending, err)
	}
	if n := q.GroupRecreations(); n != 1 {
		t.Fatalf("GroupRecreations = %d after a normal read, want still 1", n)
	}
}

// TestReadPendingRecreatesGroupAfterRestart is the restart-without-persistence
// case, seen first by the pending read a restarted relay starts with; the
// stream does not even exist until the group is created with MKSTREAM.
func TestReadPendingRecreatesGroupAfterRestart(t *testing.T) {
	srv, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	enqueue(t, rdb, "01BEFORE")
	if _, err := q.ReadNew(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}
	srv.Restart()

	got, err := q.ReadOwnPending(ctx, "0", 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("pending read after restart: %+v %v, want none and no error", got, err)
	}
	if n := q.GroupRecreations(); n != 1 {
		t.Fatalf("GroupRecreations = %d, want 1", n)
	}
	// The recreated group starts from id 0: an entry the frontend writes now
	// is delivered.
	id := enqueue(t, rdb, "01AFTER")
	if got, err := q.ReadNew(ctx, 10, time.Millisecond); err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("read new after restart: %+v %v", got, err)
	}
}

// TestReadOtherErrorsAreNotRetried: only NOGROUP means a lost group; a wrong
// key type is reported as it is, without touching the key.
func TestReadOtherErrorsAreNotRetried(t *testing.T) {
	_, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	if err := rdb.Del(ctx, testKeys.Stream).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, testKeys.Stream, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := q.ReadNew(ctx, 10, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "xreadgroup") {
		t.Fatalf("read of a string key: %v, want a wrapped xreadgroup error", err)
	}
	if n := q.GroupRecreations(); n != 0 {
		t.Fatalf("GroupRecreations = %d, want 0", n)
	}
}

// TestTrimmedPendingEntry: the frontend's XTRIM deletes an entry that is
// still pending; Redis then delivers its id with no fields.
func TestTrimmedPendingEntry(t *testing.T) {
	_, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	trimmed := enqueue(t, rdb, "01TRIMMED")
	if _, err := q.ReadNew(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XTrimMaxLen(ctx, testKeys.Stream, 0).Err(); err != nil {
		t.Fatal(err)
	}
	kept := enqueue(t, rdb, "01KEPT")
	if _, err := q.ReadNew(ctx, 10, 0); err != nil {
		t.Fatal(err)
	}

	got, err := q.ReadOwnPending(ctx, "0", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != trimmed || got[1].ID != kept {
		t.Fatalf("pending %+v, want %s then %s", got, trimmed, kept)
	}
	if !got[0].Trimmed || len(got[0].Fields) != 0 || got[0].EntityID != "" {
		t.Fatalf("trimmed entry %+v, want Trimmed with no fields", got[0])
	}
	if got[1].Trimmed || got[1].EntityID != "01KEPT" {
		t.Fatalf("kept entry %+v, want its entityId and not Trimmed", got[1])
	}
	// Dead-lettering it (as the relay will) acks it.
	if err := q.DeadLetter(ctx, stream.DeadLetter{EntryID: got[0].ID, Class: "malformed",
		Reason: "stream entry was trimmed before it was processed (no fields)", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := q.ReadOwnPending(ctx, "0", 10); err != nil || len(got) != 1 || got[0].ID != kept {
		t.Fatalf("pending after dead-lettering the trimmed entry: %+v %v", got, err)
	}
}

// TestDeadLetterMaxLen: the dead-letter stream is capped approximately.
// Redis trims whole macro nodes only, so the node size is made small here
// to see trimming with few entries.
func TestDeadLetterMaxLen(t *testing.T) {
	const maxLen, nodeSize, written = 10, 5, 60
	for _, tt := range []struct {
		name   string
		maxLen int64
		check  func(n int64) bool
		want   string
	}{
		{"capped", maxLen, func(n int64) bool { return n >= maxLen && n <= maxLen+nodeSize }, "about 10"},
		{"zero means no cap", 0, func(n int64) bool { return n == written }, "all 60"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, rdb, q := newQueue(t, stream.Options{DeadLetterMaxLen: tt.maxLen})
			ctx := t.Context()
			if err := rdb.ConfigSet(ctx, "stream-node-max-entries", fmt.Sprint(nodeSize)).Err(); err != nil {
				t.Fatal(err)
			}
			for i := range written {
				id := enqueue(t, rdb, fmt.Sprintf("01E%03d", i))
				if err := q.DeadLetter(ctx, stream.DeadLetter{EntryID: id, Class: "malformed",
					Reason: "test", At: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := rdb.XLen(ctx, testKeys.DeadLetter).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(n) {
				t.Fatalf("dead-letter stream holds %d entries, want %s", n, tt.want)
			}
			// The newest rejection is always kept.
			last, err := rdb.XRevRangeN(ctx, testKeys.DeadLetter, "+", "-", 1).Result()
			if err != nil || len(last) != 1 || last[0].Values["entityId"] != "" || last[0].Values["reason"] != "test" {
				t.Fatalf("newest dead letter: %+v %v", last, err)
			}
		})
	}
}

// TestJournalQuarantinesUnreadableRecords: one corrupt record used to fail
// Journal as a whole, and with it the relay's startup, forever.
func TestJournalQuarantinesUnreadableRecords(t *testing.T) {
	var calls counter
	_, rdb, q := newQueue(t, stream.Options{OnJournalQuarantined: calls.add})
	ctx := t.Context()
	good := []stream.TxRecord{
		{Nonce: 1, EntryID: "1-0", EntityID: "01A", Hashes: []string{"0x01"}, RawTx: "0xaa", SignedAt: time.Unix(1, 0).UTC()},
		{Nonce: 3, EntryID: "3-0", EntityID: "01C", Hashes: []string{"0x03"}, RawTx: "0xcc", SignedAt: time.Unix(3, 0).UTC()},
	}
	if err := q.Record(ctx, good...); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"2":    `{"nonce":2,"rawTx":`,      // truncated JSON
		"4":    `{"nonce":9}`,              // decodes, but under another nonce's field
		"5":    "null",                     // decodes to nonce 0
		"junk": "\xff\x00 not json at all", // not even a nonce field
	}
	for f, v := range bad {
		if err := rdb.HSet(ctx, q.JournalKey(), f, v).Err(); err != nil {
			t.Fatal(err)
		}
	}

	recs, err := q.Journal(ctx)
	if err != nil {
		t.Fatalf("Journal: %v", err)
	}
	if len(recs) != 2 || recs[0].Nonce != 1 || recs[1].Nonce != 3 || recs[1].RawTx != "0xcc" {
		t.Fatalf("Journal = %+v, want the good records 1 and 3", recs)
	}
	if n := q.JournalQuarantined(); n != uint64(len(bad)) {
		t.Fatalf("JournalQuarantined = %d, want %d", n, len(bad))
	}
	fields, errs := calls.snapshot()
	if len(fields) != len(bad) {
		t.Fatalf("callback fields %v, want %d", fields, len(bad))
	}
	for i, f := range fields {
		if _, ok := bad[f]; !ok || errs[i] == nil || !strings.Contains(errs[i].Error(), "journal record "+f) {
			t.Errorf("callback (%q, %v): want a bad field and an error naming it", f, errs[i])
		}
	}

	// Quarantined intact, and gone from the journal.
	quarantined, err := q.JournalQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(quarantined) != len(bad) {
		t.Fatalf("quarantine %q, want %q", quarantined, bad)
	}
	for f, v := range bad {
		if quarantined[f] != v {
			t.Errorf("quarantine[%s] = %q, want %q", f, quarantined[f], v)
		}
	}
	left, err := rdb.HKeys(ctx, q.JournalKey()).Result()
	if err != nil || len(left) != 2 {
		t.Fatalf("journal fields after quarantine: %v %v, want 1 and 3", left, err)
	}

	// Reading again changes nothing.
	if recs, err := q.Journal(ctx); err != nil || len(recs) != 2 || q.JournalQuarantined() != uint64(len(bad)) {
		t.Fatalf("second Journal: %d records, %v, quarantined %d", len(recs), err, q.JournalQuarantined())
	}
}

// TestJournalQuarantineKeepsEarlierValue: a second corrupt record under a
// nonce already in quarantine does not overwrite the first.
func TestJournalQuarantineKeepsEarlierValue(t *testing.T) {
	_, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	for _, v := range []string{"first{", "second{", "second{"} {
		if err := rdb.HSet(ctx, q.JournalKey(), "7", v).Err(); err != nil {
			t.Fatal(err)
		}
		if recs, err := q.Journal(ctx); err != nil || len(recs) != 0 {
			t.Fatalf("Journal: %+v %v", recs, err)
		}
	}
	got, err := q.JournalQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["7"] != "first{" || got["7#2"] != "second{" {
		t.Fatalf("quarantine %q, want 7=first{ and 7#2=second{", got)
	}
	if !strings.HasPrefix(q.JournalQuarantineKey(), "{depeg-relay:"+testKeys.Wallet+"}:") {
		t.Fatalf("quarantine key %s does not share the journal's hash tag", q.JournalQuarantineKey())
	}
}

// failScripts makes every script command fail, as a Redis error would.
type failScripts struct{}

func (failScripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (failScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (failScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "eval" || name == "evalsha" {
			cmd.SetErr(errors.New("injected script failure"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

// TestJournalQuarantineErrorFailsRead: when the move fails, Journal fails
// (and the relay retries its startup) rather than skip a record that is
// still in the journal.
func TestJournalQuarantineErrorFailsRead(t *testing.T) {
	_, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	if err := rdb.HSet(ctx, q.JournalKey(), "1", "broken{").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.AddHook(failScripts{})
	_, err := q.Journal(ctx)
	if err == nil || !strings.Contains(err.Error(), "quarantine journal record 1") || errors.Is(err, stream.ErrJournalChanged) {
		t.Fatalf("Journal with failing scripts: %v, want a wrapped quarantine error", err)
	}
	if n := q.JournalQuarantined(); n != 0 {
		t.Fatalf("JournalQuarantined = %d, want 0", n)
	}
	if v, err := rdb.HGet(ctx, q.JournalKey(), "1").Result(); err != nil || v != "broken{" {
		t.Fatalf("journal record after a failed move: %q %v, want it kept", v, err)
	}
}

// rewriteBeforeScript rewrites a journal field (through another client) just
// before the first script runs: the write Journal's read did not see.
type rewriteBeforeScript struct {
	other      *redis.Client
	key, field string
	value      string
	once       sync.Once
}

func (h *rewriteBeforeScript) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rewriteBeforeScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *rewriteBeforeScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "eval" || name == "evalsha" {
			h.once.Do(func() { h.other.HSet(ctx, h.key, h.field, h.value) })
		}
		return next(ctx, cmd)
	}
}

// TestJournalQuarantineSkipsChangedRecord: a record rewritten between the
// read and the move is not quarantined (it may be good now); Journal says so
// and the next read returns it.
func TestJournalQuarantineSkipsChangedRecord(t *testing.T) {
	srv, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	if err := rdb.HSet(ctx, q.JournalKey(), "1", "broken{").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.AddHook(&rewriteBeforeScript{other: srv.Client(), key: q.JournalKey(), field: "1",
		value: `{"nonce":1,"rawTx":"0x01"}`})
	if _, err := q.Journal(ctx); !errors.Is(err, stream.ErrJournalChanged) {
		t.Fatalf("Journal: %v, want ErrJournalChanged", err)
	}
	recs, err := q.Journal(ctx)
	if err != nil || len(recs) != 1 || recs[0].RawTx != "0x01" {
		t.Fatalf("second Journal: %+v %v, want the rewritten record", recs, err)
	}
	if got, err := q.JournalQuarantine(ctx); err != nil || len(got) != 0 || q.JournalQuarantined() != 0 {
		t.Fatalf("quarantine %q %v (count %d), want empty", got, err, q.JournalQuarantined())
	}
}

// TestLoadApplicationsWrongTypeIsPerEntry: a PendingApplication key that
// holds a string makes HGETALL answer WRONGTYPE. That is the entry's error,
// reported beside it; the other hashes of the same pipeline are read.
func TestLoadApplicationsWrongTypeIsPerEntry(t *testing.T) {
	_, rdb, q := newQueue(t, stream.Options{})
	ctx := t.Context()
	if err := rdb.HSet(ctx, stream.ApplicationKey("good"), stream.FieldPolicyHolder, "0xabc").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, stream.ApplicationKey("bad"), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fields, errs, err := q.LoadApplications(ctx, []string{"bad", "good", "missing"})
	if err != nil {
		t.Fatalf("whole call failed for one wrong-type key: %v", err)
	}
	if !errors.Is(errs[0], stream.ErrNotAHash) || !strings.Contains(errs[0].Error(), "PendingApplication:bad") ||
		!strings.Contains(errs[0].Error(), "WRONGTYPE") {
		t.Errorf("errs[0] = %v, want ErrNotAHash naming the key and WRONGTYPE", errs[0])
	}
	if fields[0] != nil {
		t.Errorf("fields[0] = %v, want nil", fields[0])
	}
	if errs[1] != nil || fields[1][stream.FieldPolicyHolder] != "0xabc" {
		t.Errorf("good hash: fields %v, err %v", fields[1], errs[1])
	}
	if errs[2] != nil || fields[2] != nil {
		t.Errorf("missing hash: fields %v, err %v; want nil, nil", fields[2], errs[2])
	}
}

// TestLoadApplicationsOutageFailsWholeCall: with Redis gone, the failure is
// Redis's, not any entry's: it is one error for the call, so the relay backs
// off instead of counting an attempt against every application.
func TestLoadApplicationsOutageFailsWholeCall(t *testing.T) {
	srv, _, q := newQueue(t, stream.Options{})
	srv.Stop()
	fields, errs, err := q.LoadApplications(t.Context(), []string{"a", "b"})
	if err == nil || fields != nil || errs != nil {
		t.Fatalf("LoadApplications with Redis stopped = %v, %v, %v; want a whole-call error", fields, errs, err)
	}
	if errors.Is(err, stream.ErrNotAHash) {
		t.Fatalf("outage reported as a wrong-type key: %v", err)
	}
}
