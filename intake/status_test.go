package intake

import (
	"context"
	"errors"
	"maps"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

func TestDerive(t *testing.T) {
	live := map[string]string{stream.FieldPolicyHolder: "0x1"}
	submitted := map[string]string{stream.FieldPolicyHolder: "0x1", stream.FieldTransactionHash: "0xabc"}
	confirmed := stream.StatusRecord{State: stream.StateConfirmed, EntryID: "1-0", TxHash: "0xabc", Block: 9, ProcessID: "0xp"}
	rejected := stream.StatusRecord{State: stream.StateRejected, EntryID: "1-0", Class: "funds", Reason: "DP-015"}
	queued := stream.StatusRecord{State: stream.StateQueued, EntryID: "1-0"}
	cases := []struct {
		name    string
		rec     stream.StatusRecord
		found   bool
		live    map[string]string
		decided bool
		want    string
	}{
		{"confirmed record wins over a live hash", confirmed, true, live, true, stream.StateConfirmed},
		{"confirmed after purge", confirmed, true, nil, true, stream.StateConfirmed},
		{"rejected after purge", rejected, true, nil, true, stream.StateRejected},
		{"queued record, live hash", queued, true, live, true, stream.StateQueued},
		{"queued record, transaction written", queued, true, submitted, true, stream.StateSubmitted},
		{"frontend's own entry, live", stream.StatusRecord{}, false, live, true, stream.StateQueued},
		{"frontend's own entry, submitted", stream.StatusRecord{}, false, submitted, true, stream.StateSubmitted},
		{"queued record, hash gone", queued, true, nil, false, ""},
		{"nothing", stream.StatusRecord{}, false, nil, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := derive("E", tc.rec, tc.found, tc.live)
			if ok != tc.decided || st.Status != tc.want {
				t.Fatalf("derive = %+v, %v; want %q, %v", st, ok, tc.want, tc.decided)
			}
			if tc.want == stream.StateSubmitted && st.TransactionHash != "0xabc" {
				t.Fatalf("submitted without its transaction: %+v", st)
			}
			if tc.want == stream.StateConfirmed && (st.Block != 9 || st.ProcessID != "0xp") {
				t.Fatalf("confirmed without block and processId: %+v", st)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		acc  Accepted
		err  error
		want string
	}{
		{Accepted{}, nil, "accepted"},
		{Accepted{Existing: true}, nil, "duplicate"},
		{Accepted{}, &Rejection{Class: "funds"}, "funds"},
		{Accepted{}, errors.New("boom"), "unavailable"},
	} {
		if got := outcome(tc.acc, tc.err); got != tc.want {
			t.Errorf("outcome(%+v, %v) = %q, want %q", tc.acc, tc.err, got, tc.want)
		}
	}
}

type testRedis struct {
	rdb    *redis.Client
	queue  *stream.Queue
	status *stream.StatusStore
	pub    *stream.Publisher
}

func newTestRedis(t *testing.T) testRedis {
	t.Helper()
	rdb := redistest.Start(t).Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "g", Consumer: "c", DeadLetter: "dead", Wallet: "w"}
	q := stream.NewQueue(rdb, keys)
	if err := q.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	return testRedis{rdb: rdb, queue: q, status: stream.NewStatusStore(rdb, keys.Stream, time.Hour),
		pub: stream.NewPublisher(rdb, keys.Stream, stream.PublishOptions{ClaimTTL: ReplayClaimTTL})}
}

// TestObservedQueue: what the relay loads is indexed, what it dead-letters
// is recorded; its own steps are unchanged.
func TestObservedQueue(t *testing.T) {
	r := newTestRedis(t)
	var failures []string
	o := &ObservedQueue{Queue: r.queue, Status: r.status, OnError: func(op string, err error) { failures = append(failures, op) }}
	app, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	id := frontend.NewEntityID()
	ctx := context.Background()
	if _, err := frontend.Enqueue(ctx, r.rdb, "application:signatures", id, frontend.Fields(app)); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := o.LoadApplications(ctx, []string{id, "missing"})
	if err != nil || loaded[0] == nil || loaded[1] != nil {
		t.Fatalf("load: %v %v", loaded, err)
	}
	ids, err := r.status.Holder(ctx, app.PolicyHolder, 10)
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("index %v %v", ids, err)
	}
	if err := o.DeadLetter(ctx, stream.DeadLetter{EntryID: "1-0", EntityID: id, Class: "signature", Reason: "ERROR:DMH-002:SIGNATURE_INVALID", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	svc := New(Config{}, zerolog.Nop(), nil, r.pub, r.status, r.queue, nil)
	st, err := svc.Status(ctx, id)
	if err != nil || st.Status != stream.StateRejected || st.Class != "signature" {
		t.Fatalf("status %+v %v", st, err)
	}
	if len(failures) != 0 {
		t.Fatalf("bookkeeping failed: %v", failures)
	}
}

func TestReplayRefusals(t *testing.T) {
	r := newTestRedis(t)
	ctx := context.Background()
	op := NewOperator(r.queue, r.pub)
	write := func(d stream.DeadLetter) string {
		t.Helper()
		if err := r.queue.DeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
		page, err := op.List(ctx, "", 1)
		if err != nil || len(page.DeadLetters) != 1 {
			t.Fatalf("list %+v %v", page, err)
		}
		return page.DeadLetters[0].ID
	}
	noCopy := write(stream.DeadLetter{EntryID: "1-0", Class: "malformed", Reason: "stream entry has no entityId field"})
	if _, err := op.Replay(ctx, noCopy); !errors.Is(err, ErrNotReplayable) {
		t.Fatalf("replay without a copy: %v", err)
	}
	bad := write(stream.DeadLetter{EntryID: "2-0", EntityID: frontend.NewEntityID(), Class: "malformed",
		Reason: "invalid", Fields: map[string]string{stream.FieldPolicyHolder: "0xnope"}})
	if _, err := op.Replay(ctx, bad); !errors.Is(err, ErrNotReplayable) {
		t.Fatalf("replay of a malformed copy: %v", err)
	}
	if _, err := op.Replay(ctx, "9-9"); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("replay of an unknown id: %v", err)
	}

	// A well-formed copy whose class can never pass is refused without
	// queueing anything; the same copy under a class a fix may cure is
	// queued (issue 24: a signature letter was re-queued and failed again).
	app, err := frontend.NewSigned(big.NewInt(1), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []string{"signature", "signature_used", "malformed"} {
		id := write(stream.DeadLetter{EntryID: "3-0", EntityID: frontend.NewEntityID(), Class: class,
			Reason: "ERROR:DMH-002:SIGNATURE_INVALID", Fields: frontend.Fields(app)})
		if _, err := op.Replay(ctx, id); !errors.Is(err, ErrNotReplayable) || !strings.Contains(err.Error(), class) {
			t.Fatalf("replay of a %s letter: %v", class, err)
		}
		if d, err := op.Show(ctx, id); err != nil || Replayable(d) {
			t.Fatalf("%s letter shown as replayable: %v", class, err)
		}
	}
	if n := r.rdb.XLen(ctx, "application:signatures").Val(); n != 0 {
		t.Fatalf("refused replays queued %d entries", n)
	}
	funds := write(stream.DeadLetter{EntryID: "4-0", EntityID: frontend.NewEntityID(), Class: "funds",
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", Fields: frontend.Fields(app)})
	if d, err := op.Show(ctx, funds); err != nil || !Replayable(d) {
		t.Fatalf("funds letter not replayable: %v", err)
	}
	// The rejected entry's id names the letter as well as its own id does.
	if d, err := op.Show(ctx, "4-0"); err != nil || d.ID != funds {
		t.Fatalf("show by entry id: %+v %v", d, err)
	}
	if _, err := op.Show(ctx, "5-0"); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("show of an entry id no letter names: %v", err)
	}
	res, err := op.Replay(ctx, "4-0")
	if err != nil {
		t.Fatalf("replay of a funds letter by entry id: %v", err)
	}
	if again, err := op.Replay(ctx, funds); err != nil || !again.Existing || again.EntryID != res.EntryID {
		t.Fatalf("replay by letter id after replay by entry id: %+v %v", again, err)
	}
}

func TestReplayRefusalByClass(t *testing.T) {
	for class, never := range map[string]bool{"signature": true, "signature_used": true, "malformed": true,
		"funds": false, "application": false, "reverted": false, "failing": false, "unknown_revert": false, "other": false} {
		if got := ReplayRefusal(class) != ""; got != never {
			t.Errorf("ReplayRefusal(%q) refuses: %v, want %v", class, got, never)
		}
	}
}

// commandCalls is how many commands of each kind the server ran since the
// last CONFIG RESETSTAT (INFO commandstats), leaving out those two.
func commandCalls(t *testing.T, rdb *redis.Client) map[string]int {
	t.Helper()
	info, err := rdb.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.Atoi(v)
				calls[name] = n
			}
		}
	}
	return calls
}

// TestStatusCostsTheSameWhateverTheID: with thousands of dead letters in
// Redis, a look-up runs the same commands, counted by the server, for an id
// from the epoch, an id from the future, a rejected, a confirmed and a live
// application: it reads the status record and the live hash and nothing
// else, and the rejected one is still answered with its reason.
func TestStatusCostsTheSameWhateverTheID(t *testing.T) {
	r := newTestRedis(t)
	ctx := t.Context()
	pipe := r.rdb.Pipeline()
	for i := range 3000 {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "dead", Values: map[string]any{"entryId": strconv.Itoa(i) + "-0",
			"entityId": frontend.NewEntityID(), "class": "malformed", "reason": "invalid application"}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	o := &ObservedQueue{Queue: r.queue, Status: r.status}
	rejected, confirmed, live := frontend.NewEntityID(), frontend.NewEntityID(), frontend.NewEntityID()
	if err := o.DeadLetter(ctx, stream.DeadLetter{EntryID: "1-0", EntityID: rejected, Class: "funds",
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.status.Confirmed(ctx, stream.Confirmation{EntityID: confirmed, EntryID: "2-0", TxHash: common.Hash{1}, Block: 3}); err != nil {
		t.Fatal(err)
	}
	app, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := frontend.Enqueue(ctx, r.rdb, "application:signatures", live, frontend.Fields(app)); err != nil {
		t.Fatal(err)
	}
	svc := New(Config{}, zerolog.Nop(), nil, r.pub, r.status, r.queue, nil)
	epoch := ulid.MustNew(0, strings.NewReader(strings.Repeat("\x00", 16))).String()
	future := ulid.MustNew(ulid.MaxTime(), strings.NewReader(strings.Repeat("\xff", 16))).String()

	var first map[string]int
	for _, tc := range []struct {
		id, want string
		err      error
	}{
		{epoch, "", ErrNotFound}, {future, "", ErrNotFound}, {rejected, stream.StateRejected, nil},
		{confirmed, stream.StateConfirmed, nil}, {live, stream.StateQueued, nil},
	} {
		if err := r.rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		st, err := svc.Status(ctx, tc.id)
		if !errors.Is(err, tc.err) || st.Status != tc.want {
			t.Fatalf("status of %s: %+v %v, want %q %v", tc.id, st, err, tc.want, tc.err)
		}
		if tc.want == stream.StateRejected && st.Reason != "ERROR:DP-015:ALLOWANCE_TOO_LOW" {
			t.Fatalf("rejection without its reason: %+v", st)
		}
		calls := commandCalls(t, r.rdb)
		if first == nil {
			first = calls
		}
		if !maps.Equal(calls, first) || calls["hgetall"] != 2 || len(calls) != 1 {
			t.Fatalf("status of %s ran %v, want what every look-up runs: two HGETALLs (%v)", tc.id, calls, first)
		}
	}
}

// TestRejectionRecordedBeforeTheDeadLetter: the status record a look-up
// reads is written before the dead letter, so no crash between the two
// leaves a dead letter that no look-up finds. A dead letter that fails
// (Redis refuses the XADD) has still recorded the final rejection.
func TestRejectionRecordedBeforeTheDeadLetter(t *testing.T) {
	r := newTestRedis(t)
	ctx := t.Context()
	// The dead-letter stream's key holds a string: XADD answers WRONGTYPE.
	if err := r.rdb.Set(ctx, "dead", "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	o := &ObservedQueue{Queue: r.queue, Status: r.status}
	id := frontend.NewEntityID()
	if err := o.DeadLetter(ctx, stream.DeadLetter{EntryID: "1-0", EntityID: id, Class: "signature",
		Reason: "ERROR:DMH-002:SIGNATURE_INVALID", At: time.Now()}); err == nil {
		t.Fatal("dead letter into a string key succeeded")
	}
	svc := New(Config{}, zerolog.Nop(), nil, r.pub, r.status, r.queue, nil)
	if st, err := svc.Status(ctx, id); err != nil || st.Status != stream.StateRejected || st.Class != "signature" {
		t.Fatalf("status %+v %v, want the rejection recorded", st, err)
	}
}
