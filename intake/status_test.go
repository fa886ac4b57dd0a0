package intake

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
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
}
