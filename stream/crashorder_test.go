package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

var errCut = errors.New("connection cut mid-pipeline")

// cutPipeline runs only the first n commands of a pipeline against Redis,
// as a connection that dies part-way through it leaves things, and fails
// the rest.
type cutPipeline struct{ n int }

func (c cutPipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (c cutPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c cutPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := min(c.n, len(cmds))
		if n > 0 {
			if err := next(ctx, cmds[:n]); err != nil {
				return err
			}
		}
		for _, cmd := range cmds[n:] {
			cmd.SetErr(errCut)
		}
		if n < len(cmds) {
			return errCut
		}
		return nil
	}
}

// TestAckCutPartWayNeverLosesAnApplication: Ack's pipeline cut after any
// number of its commands leaves either the entry pending (read again, its
// application still there) or acknowledged; never an entry still pending
// whose application hash is gone, which the relay would read again and
// dead-letter as missing (the acks come first).
func TestAckCutPartWayNeverLosesAnApplication(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := t.Context()
	const entities = 2 // Ack's pipeline: XACK, HDEL claims, DEL, DEL
	for cut := 0; cut <= 4; cut++ {
		t.Run(fmt.Sprintf("after %d commands", cut), func(t *testing.T) {
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			q := stream.NewQueue(rdb, testKeys)
			if err := q.EnsureGroup(ctx); err != nil {
				t.Fatal(err)
			}
			var settled []stream.Settled
			for i := range entities {
				entity := fmt.Sprintf("E%d", i)
				if err := rdb.HSet(ctx, stream.ApplicationKey(entity), stream.FieldPolicyHolder, "0x01").Err(); err != nil {
					t.Fatal(err)
				}
				settled = append(settled, stream.Settled{EntryID: enqueue(t, rdb, entity), EntityID: entity})
			}
			if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: testKeys.Group, Consumer: testKeys.Consumer,
				Streams: []string{testKeys.Stream, ">"}}).Err(); err != nil {
				t.Fatal(err)
			}

			cutClient := srv.Client()
			cutClient.AddHook(cutPipeline{n: cut})
			err := stream.NewQueue(cutClient, testKeys).Ack(ctx, settled...)
			if (cut < 4) != (err != nil) {
				t.Fatalf("Ack cut after %d of 4 commands = %v", cut, err)
			}

			pending, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: testKeys.Stream, Group: testKeys.Group,
				Start: "-", End: "+", Count: 10}).Result()
			if err != nil {
				t.Fatal(err)
			}
			isPending := map[string]bool{}
			for _, p := range pending {
				isPending[p.ID] = true
			}
			for _, s := range settled {
				gone := rdb.Exists(ctx, stream.ApplicationKey(s.EntityID)).Val() == 0
				if gone && isPending[s.EntryID] {
					t.Fatalf("entry %s is still pending and its application %s is gone", s.EntryID, s.EntityID)
				}
			}
			if cut == 4 && (len(pending) != 0 || rdb.Exists(ctx, stream.ApplicationKey("E0"), stream.ApplicationKey("E1")).Val() != 0) {
				t.Fatalf("a whole Ack left %d pending entries or an application hash", len(pending))
			}
		})
	}
}

// stallXAdd holds the first XADD of a client until released: a writer
// stalled between its claim and its stream entry.
type stallXAdd struct {
	once     sync.Once
	stalled  chan struct{}
	released chan struct{}
}

func (s *stallXAdd) DialHook(next redis.DialHook) redis.DialHook { return next }
func (s *stallXAdd) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "xadd" {
			s.once.Do(func() {
				close(s.stalled)
				<-s.released
			})
		}
		return next(ctx, cmd)
	}
}
func (s *stallXAdd) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestStalledWriterDeletesItsDuplicateEntry is the one race Publish leaves
// to its last step: a writer stalls between its claim and its XADD for
// longer than its lease, another caller takes the claim over and publishes;
// when the stalled writer's XADD lands, it finds the other's entry recorded
// and deletes its own (XDEL). The stream holds the application once.
func TestStalledWriterDeletesItsDuplicateEntry(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	opts := stream.PublishOptions{Lease: 50 * time.Millisecond, Poll: 5 * time.Millisecond}
	stall := &stallXAdd{stalled: make(chan struct{}), released: make(chan struct{})}
	slowClient := srv.Client()
	slowClient.AddHook(stall)
	slow := stream.NewPublisher(slowClient, intakeStream, opts)
	fast := stream.NewPublisher(rdb, intakeStream, opts)
	pub := stream.Publication{ClaimID: "sig:stall", EntityID: "ESLOW", Fields: intakeFields(common.Address{3})}

	type answer struct {
		p   stream.Published
		err error
	}
	slowDone := make(chan answer, 1)
	go func() {
		p, err := slow.Publish(t.Context(), pub)
		slowDone <- answer{p, err}
	}()
	select {
	case <-stall.stalled:
	case a := <-slowDone:
		close(stall.released)
		t.Fatalf("the writer finished without an XADD: %+v %v", a.p, a.err)
	case <-time.After(10 * time.Second):
		close(stall.released)
		t.Fatal("the writer never reached its XADD")
	}

	// The claim's lease lapses; the other caller takes over and publishes
	// the claim's entity.
	pub.EntityID = "EFAST"
	won, err := fast.Publish(t.Context(), pub)
	close(stall.released)
	if err != nil {
		t.Fatal(err)
	}
	if won.EntityID != "ESLOW" || won.Existing {
		t.Fatalf("takeover answered %+v, want a fresh entry of ESLOW", won)
	}
	var late answer
	select {
	case late = <-slowDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled writer did not finish")
	}
	if late.err != nil {
		t.Fatal(late.err)
	}
	if !late.p.Existing || late.p.EntryID != won.EntryID {
		t.Fatalf("stalled writer answered %+v, want the recorded entry %s", late.p, won.EntryID)
	}
	if ids := entriesOf(t, rdb, "ESLOW"); len(ids) != 1 || ids[0] != won.EntryID {
		t.Fatalf("stream entries of ESLOW %v, want only %s", ids, won.EntryID)
	}
}

// TestEntryTimeReadsEveryDigit: the enqueue time of a stream id, at the
// edges of the digit range ('0' and '9' are digits, '/' and ':' beside
// them are not).
func TestEntryTimeReadsEveryDigit(t *testing.T) {
	for id, want := range map[string]int64{
		"1700000000000-0":  1700000000000,
		"1799999999999-9":  1799999999999,
		"0-0":              0,
		"170000000000/-0":  -1,
		"170000000000:-0":  -1,
		"1700000000000-/":  -1,
		"1700000000000-:":  -1,
		"1700000000000-":   -1,
		"-1700000000000-0": -1,
	} {
		got := stream.EntryTime(id)
		if want < 0 {
			if !got.IsZero() {
				t.Errorf("EntryTime(%q) = %v, want zero", id, got)
			}
			continue
		}
		if !got.Equal(time.UnixMilli(want)) {
			t.Errorf("EntryTime(%q) = %v, want %v", id, got, time.UnixMilli(want))
		}
	}
}
