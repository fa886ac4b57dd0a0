package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeadLetter is a final rejection. It carries a copy of the application's
// fields because the hash is purged afterwards: nothing the user signed is lost.
type DeadLetter struct {
	EntryID  string
	EntityID string
	Class    string // bounded: malformed, signature, application, funds, reverted, other
	Reason   string // readable, e.g. "ERROR:DMH-002:SIGNATURE_INVALID"
	TxHash   string // set when a mined transaction reverted
	At       time.Time
	Fields   map[string]string // the application hash as it was, may be nil
	// BatchIndex and BatchSize place an application that failed inside a
	// batch transaction (TxHash): its position, from 0 as the batch
	// contract's events number it, and how many applications the batch
	// carried. BatchSize 0: not a batch.
	BatchIndex int
	BatchSize  int
}

// DeadLetter appends the rejection to the dead-letter stream, then acks the
// entry and purges the hash. The stream is capped by Options.DeadLetterMaxLen
// (the oldest rejections are trimmed first), so a flood of garbage cannot
// fill Redis's memory. The record is written first, so a crash in
// between leaves the entry pending (and it is dead-lettered again on restart,
// at worst twice) rather than acknowledged without a trace.
func (q *Queue) DeadLetter(ctx context.Context, d DeadLetter) error {
	values := map[string]any{
		"entryId":  d.EntryID,
		"entityId": d.EntityID,
		"class":    d.Class,
		"reason":   d.Reason,
		"time":     d.At.UTC().Format(time.RFC3339Nano),
	}
	if d.TxHash != "" {
		values["transactionHash"] = d.TxHash
	}
	if d.BatchSize > 0 {
		// Only for a batch: a dead letter of a transaction of its own keeps
		// exactly the fields it always had.
		values["batchIndex"], values["batchSize"] = strconv.Itoa(d.BatchIndex), strconv.Itoa(d.BatchSize)
	}
	if d.Fields != nil {
		raw, err := json.Marshal(d.Fields)
		if err != nil {
			return fmt.Errorf("encode dead letter %s: %w", d.EntryID, err)
		}
		values["application"] = string(raw)
	}
	args := &redis.XAddArgs{Stream: q.keys.DeadLetter, Values: values}
	if n := q.opts.DeadLetterMaxLen; n > 0 {
		// Approximate trimming: exact MAXLEN would rewrite a macro node on
		// every append; "~" drops whole nodes and stays O(1) amortized.
		args.MaxLen, args.Approx = n, true
	}
	if err := q.rdb.XAdd(ctx, args).Err(); err != nil {
		return fmt.Errorf("dead-letter entry %s: %w", d.EntryID, err)
	}
	return q.Ack(ctx, Settled{EntryID: d.EntryID, EntityID: d.EntityID})
}
