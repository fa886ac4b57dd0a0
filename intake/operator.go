package intake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/etherisc/depeg-relay/stream"
)

// DeadLetterQueue reads the dead-letter stream; *stream.Queue has it.
type DeadLetterQueue interface {
	DeadLetters(ctx context.Context, before string, count int64) ([]stream.DeadLetterEntry, error)
	DeadLetterByID(ctx context.Context, id string) (stream.DeadLetterEntry, bool, error)
}

// Operator is what an operator does with dead letters: list them, look at
// one, re-queue one once its cause is fixed (the policy holder raised the
// allowance, the product was unpaused). It is shared by the admin routes
// and the processor's deadletters subcommand.
type Operator struct {
	queue DeadLetterQueue
	pub   Publisher
}

// ReplayClaimTTL is how long a replay is remembered: a second replay of
// the same dead letter within it answers with the first one's entry.
// Replays are rare operator actions, so a long memory costs nothing.
const ReplayClaimTTL = 400 * 24 * time.Hour

// NewOperator wires an Operator. pub should remember claims for
// ReplayClaimTTL (stream.PublishOptions.ClaimTTL).
func NewOperator(queue DeadLetterQueue, pub Publisher) *Operator {
	return &Operator{queue: queue, pub: pub}
}

// DeadLetter is one dead letter as an operator sees it.
type DeadLetter struct {
	ID              string            `json:"id"`
	EntryID         string            `json:"entryId"`
	EntityID        string            `json:"entityId"`
	Class           string            `json:"class"`
	Reason          string            `json:"reason"`
	Time            *time.Time        `json:"time,omitempty"`
	TransactionHash string            `json:"transactionHash,omitempty"`
	Application     map[string]string `json:"application,omitempty"`
	// Replayed is the stream entry a replay queued, when known.
	Replayed string `json:"replayedEntryId,omitempty"`
}

func view(e stream.DeadLetterEntry) DeadLetter {
	d := DeadLetter{ID: e.ID, EntryID: e.EntryID, EntityID: e.EntityID, Class: e.Class, Reason: e.Reason,
		TransactionHash: e.TxHash, Application: e.Fields}
	if !e.At.IsZero() {
		t := e.At.UTC()
		d.Time = &t
	}
	return d
}

// Page is one page of dead letters, newest first; Next is the cursor of
// the following page (empty on the last).
type Page struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	Next        string       `json:"next,omitempty"`
}

// MaxPage bounds a page of dead letters.
const MaxPage = 500

// List returns up to limit dead letters older than before ("" = newest).
func (o *Operator) List(ctx context.Context, before string, limit int) (Page, error) {
	limit = min(max(limit, 1), MaxPage)
	es, err := o.queue.DeadLetters(ctx, before, int64(limit))
	if err != nil {
		return Page{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	p := Page{DeadLetters: make([]DeadLetter, len(es))}
	for i, e := range es {
		p.DeadLetters[i] = view(e)
	}
	if len(es) == limit {
		p.Next = es[len(es)-1].ID
	}
	return p, nil
}

// ErrDeadLetterNotFound means no dead letter has the id.
var ErrDeadLetterNotFound = errors.New("dead letter not found")

// ErrNotReplayable marks a dead letter that cannot be queued again: it has
// no application copy, or the copy could never be valid.
var ErrNotReplayable = errors.New("dead letter cannot be replayed")

// find reads the dead letter id names: a dead-letter stream id, or the id
// of the rejected stream entry (the one the relay's logs and the status
// route name). A dead letter is written after its entry, so the search by
// entry id reads the dead letters newest first and stops at the first one
// older than the entry: it reads at most the letters written since.
func (o *Operator) find(ctx context.Context, id string) (stream.DeadLetterEntry, error) {
	e, ok, err := o.queue.DeadLetterByID(ctx, id)
	if err != nil {
		return stream.DeadLetterEntry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ok {
		return e, nil
	}
	at := stream.EntryTime(id)
	for before := ""; !at.IsZero(); {
		es, err := o.queue.DeadLetters(ctx, before, MaxPage)
		if err != nil {
			return stream.DeadLetterEntry{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		for _, e := range es {
			if e.EntryID == id {
				return e, nil
			}
			if stream.EntryTime(e.ID).Before(at) {
				return stream.DeadLetterEntry{}, ErrDeadLetterNotFound
			}
		}
		if len(es) < MaxPage {
			break
		}
		before = es[len(es)-1].ID
	}
	return stream.DeadLetterEntry{}, ErrDeadLetterNotFound
}

// Show returns one dead letter, named by its id or by the rejected entry's
// id, with the entry a replay queued if any.
func (o *Operator) Show(ctx context.Context, id string) (DeadLetter, error) {
	e, err := o.find(ctx, id)
	if err != nil {
		return DeadLetter{}, err
	}
	d := view(e)
	if done, ok, err := o.pub.Lookup(ctx, stream.ReplayClaimID(e.ID)); err == nil && ok && done.EntryID != "" {
		d.Replayed = done.EntryID
	}
	return d, nil
}

// neverPasses are the dead-letter classes a replay cannot help: the
// signature does not match the application (signature), it was used by
// another transaction already (signature_used), or the fields are unusable
// (malformed). The same application is refused again within a second of
// being re-queued, so it is refused here instead. Everything else (funds,
// application, reverted, failing, unknown_revert, other) may pass once its
// cause is fixed.
var neverPasses = map[string]string{
	ClassMalformed:   "its fields are unusable; the frontend must post a new application",
	"signature":      "its signature does not match the application; the policy holder must sign again",
	"signature_used": "its signature was used by another transaction already; the policy holder must sign a new application",
}

// ReplayRefusal says why a dead letter of class can never pass a replay, or
// "" when a replay may help. The console offers Replay only where it is "".
func ReplayRefusal(class string) string { return neverPasses[class] }

// replayCopy is the application a replay writes back, or why there is none:
// no copy, a class that can never pass, or a copy the validator refuses.
func replayCopy(e stream.DeadLetterEntry) (map[string]string, stream.Application, error) {
	if e.EntityID == "" || e.Fields == nil {
		return nil, stream.Application{}, fmt.Errorf("%w: it carries no application copy", ErrNotReplayable)
	}
	if why := ReplayRefusal(e.Class); why != "" {
		return nil, stream.Application{}, fmt.Errorf("%w: class %s: %s", ErrNotReplayable, e.Class, why)
	}
	fields := maps.Clone(e.Fields)
	delete(fields, stream.FieldTransactionHash)
	app, err := stream.DecodeApplication(e.EntityID, fields)
	if err != nil {
		return nil, stream.Application{}, fmt.Errorf("%w: %w", ErrNotReplayable, err)
	}
	return fields, app, nil
}

// Replayable tells whether Replay would take d: the console shows its
// button only then.
func Replayable(d DeadLetter) bool {
	_, _, err := replayCopy(stream.DeadLetterEntry{DeadLetter: stream.DeadLetter{EntityID: d.EntityID, Class: d.Class, Fields: d.Application}})
	return err == nil
}

// Replayed is the outcome of a replay.
type Replayed struct {
	EntityID string `json:"entityId"`
	EntryID  string `json:"entryId"`
	// Existing is set when the dead letter had been replayed before: no
	// second entry was queued.
	Existing bool `json:"existing"`
}

// Replay queues a dead letter's application (named as Show names it) again, under its entity id,
// exactly once however often it is called (the claim is the dead letter's
// id; see stream.Publisher.Publish for the crash points). The application
// copy is written back without its transactionHash: the replay starts from
// a simulation, as a fresh application does. A copy that fails the
// validator, or of a class that can never pass (ReplayRefusal), is refused:
// it would only be dead-lettered again.
func (o *Operator) Replay(ctx context.Context, id string) (Replayed, error) {
	e, err := o.find(ctx, id)
	if err != nil {
		return Replayed{}, err
	}
	fields, app, err := replayCopy(e)
	if err != nil {
		return Replayed{}, err
	}
	res, err := o.pub.Publish(ctx, stream.Publication{
		ClaimID: stream.ReplayClaimID(e.ID), EntityID: e.EntityID, Fields: fields, Holder: app.PolicyHolder,
	})
	if err != nil {
		return Replayed{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return Replayed{EntityID: res.EntityID, EntryID: res.EntryID, Existing: res.Existing}, nil
}
