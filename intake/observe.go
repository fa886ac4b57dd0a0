package intake

import (
	"context"
	"regexp"

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
type ObservedQueue struct {
	*stream.Queue
	Status *stream.StatusStore
	// OnError is told about failed bookkeeping; op is "index" or "status".
	// nil ignores them.
	OnError func(op string, err error)
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
		o.report("status", err)
	}
	return o.Queue.DeadLetter(ctx, d)
}

func (o *ObservedQueue) report(op string, err error) {
	if o.OnError != nil {
		o.OnError(op, err)
	}
}
