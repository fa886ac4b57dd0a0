package intake

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/stream"
)

// ObservedQueue is the relay's queue with the intake's bookkeeping added
// where the relay passes by anyway, so the relay needs no change for it:
// every application it loads is indexed under its policy holder (entries
// the frontend wrote straight into Redis are then listed by
// GET /api/application?address=), and every dead letter it writes becomes
// a rejected status record. All other methods are the embedded Queue's.
//
// The bookkeeping never fails the relay's step: an error goes to OnError
// and the relay carries on (a missing index entry or status record costs
// the reader an answer, "unknown" or "not found", never an application).
// Notifications are the exception: one that could not be taken
// (stream.ErrNotNotified) fails the step, so that the relay repeats it and
// the change is told at least once.
type ObservedQueue struct {
	*stream.Queue
	Status *stream.StatusStore
	// OnError is told about failed bookkeeping; op is "index" or "status".
	// nil ignores them.
	OnError func(op string, err error)
	// Notify, when set, is told about the changes the relay makes through
	// this queue: submitted (an application's first transaction journaled,
	// just before its broadcast) and requeued (a transient revert counted
	// and within MaxTransientReverts). Confirmations and rejections are
	// told by the StatusStore's own Notifier.
	Notify stream.Notifier
	// MaxTransientReverts is the relay's MAX_TRANSIENT_REVERTS: a counted
	// revert up to it sends the application back to the queue, one more
	// dead-letters it. 0 tells no requeues.
	MaxTransientReverts int
}

// holderRe recognises an index key; validation is DecodeApplication's, where
// the application is processed: a malformed holder is simply not indexed.
var holderRe = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

// LoadApplications loads like stream.Queue.LoadApplications, then indexes
// the loaded hashes (one more round trip per batch).
func (o *ObservedQueue) LoadApplications(ctx context.Context, entityIDs []string) ([]map[string]string, []error, error) {
	loaded, errs, err := o.Queue.LoadApplications(ctx, entityIDs)
	if err != nil {
		return loaded, errs, err
	}
	var items []stream.Indexed
	for i, fields := range loaded {
		if h := fields[stream.FieldPolicyHolder]; holderRe.MatchString(h) {
			items = append(items, stream.Indexed{EntityID: entityIDs[i], Holder: common.HexToAddress(h)})
		}
	}
	if err := o.Status.Index(ctx, items...); err != nil {
		o.report("index", err)
	}
	return loaded, errs, nil
}

// DeadLetter records the rejection, then dead-letters like
// stream.Queue.DeadLetter. The record is the index Service.Status reads (by
// entity id, one round trip), so it is written first: no crash leaves a
// dead letter without its record. The relay calls DeadLetter only once the
// rejection is final; if the dead letter then fails, the entry stays pending
// and the relay writes both again, and should a retry confirm the
// application after all, the confirmation replaces the record
// (stream.StatusStore.Confirmed).
func (o *ObservedQueue) DeadLetter(ctx context.Context, d stream.DeadLetter) error {
	if err := o.Status.Rejected(ctx, d); err != nil {
		if errors.Is(err, stream.ErrNotNotified) {
			return err
		}
		o.report("status", err)
	}
	return o.Queue.DeadLetter(ctx, d)
}

// Record journals like stream.Queue.Record, then tells Notify about each
// application's first transaction (each application of a batch). Replacements (a fee bump, its outcome)
// and gap fills are no status change. A failed notification fails the
// write: the relay then broadcasts nothing, removes the records and submits
// the applications again later (as after a lost reply), so they are told
// then.
func (o *ObservedQueue) Record(ctx context.Context, recs ...stream.TxRecord) error {
	if err := o.Queue.Record(ctx, recs...); err != nil || o.Notify == nil {
		return err
	}
	changes := submissions(recs)
	if len(changes) == 0 {
		return nil
	}
	if err := o.Notify.Notify(ctx, changes...); err != nil {
		return fmt.Errorf("notify %d submissions (first %s): %w: %w", len(changes), changes[0].EntityID, stream.ErrNotNotified, err)
	}
	return nil
}

// submissions are the "submitted" changes of journal records: one for
// each application (rec.Applications(): every one a batch carries) of a
// record written when its transaction is first signed.
func submissions(recs []stream.TxRecord) []stream.StatusChange {
	var changes []stream.StatusChange
	for _, r := range recs {
		if !firstSubmission(r) {
			continue
		}
		for _, a := range r.Applications() {
			if a.EntityID != "" {
				changes = append(changes, stream.StatusChange{State: stream.StateSubmitted, EntityID: a.EntityID,
					EntryID: a.EntryID, TxHash: r.Hashes[0], At: r.SignedAt})
			}
		}
	}
	return changes
}

// firstSubmission reports a journal record written when its transaction
// is first signed: one hash, no replacement under way, and no current hash
// recorded yet (a replacement's outcome sets it). A gap fill carries no
// application.
func firstSubmission(r stream.TxRecord) bool {
	return r.Kind != stream.KindGapFill && len(r.Hashes) == 1 && r.NextRawTx == "" && r.Current == ""
}

// CountRevert counts like stream.Queue.CountRevert, then tells Notify
// that the application goes back to the queue when the count is within
// MaxTransientReverts (above it the relay dead-letters it, which the
// StatusStore tells). A failed notification fails the count: the relay
// counts again on its next pass, which may count this revert twice (as a
// crash there would).
func (o *ObservedQueue) CountRevert(ctx context.Context, entityID string) (int64, error) {
	n, err := o.Queue.CountRevert(ctx, entityID)
	if err != nil || o.Notify == nil || n < 1 || n > int64(o.MaxTransientReverts) {
		return n, err
	}
	if err := o.Notify.Notify(ctx, stream.StatusChange{State: stream.ChangeRequeued, EntityID: entityID, Reverts: n,
		At: time.Now()}); err != nil {
		return 0, fmt.Errorf("notify requeue of %s: %w: %w", entityID, stream.ErrNotNotified, err)
	}
	return n, nil
}

func (o *ObservedQueue) report(op string, err error) {
	if o.OnError != nil {
		o.OnError(op, err)
	}
}
