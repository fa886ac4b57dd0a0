package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeadLetterEntry is one entry of the dead-letter stream as read back.
type DeadLetterEntry struct {
	// ID is the dead-letter stream's entry id (not the rejected entry's).
	ID string
	DeadLetter
	// ApplicationErr is set when the application copy is present but not
	// readable JSON; Fields is then nil.
	ApplicationErr error
}

// parseDeadLetter turns a dead-letter stream message back into its parts;
// it is lenient, since an operator must be able to see even a damaged one.
func parseDeadLetter(m redis.XMessage) DeadLetterEntry {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := DeadLetterEntry{ID: m.ID, DeadLetter: DeadLetter{
		EntryID: str("entryId"), EntityID: str("entityId"), Class: str("class"),
		Reason: str("reason"), TxHash: str("transactionHash"),
	}}
	if t, err := time.Parse(time.RFC3339Nano, str("time")); err == nil {
		e.At = t
	}
	// A place outside its batch, or half of one, reads as no batch.
	idx, errI := strconv.Atoi(str("batchIndex"))
	size, errS := strconv.Atoi(str("batchSize"))
	if errI == nil && errS == nil && size > 0 && idx >= 0 && idx < size {
		e.BatchIndex, e.BatchSize = idx, size
	}
	if raw := str("application"); raw != "" {
		var fields map[string]string
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			e.ApplicationErr = fmt.Errorf("application copy is not a JSON object of strings: %w", err)
		} else {
			e.Fields = fields
		}
	}
	return e
}

// DeadLetters returns up to count dead letters, newest first, strictly
// older than before (a dead-letter id; "" starts at the newest). The id of
// the last one returned is the cursor of the next page.
func (q *Queue) DeadLetters(ctx context.Context, before string, count int64) ([]DeadLetterEntry, error) {
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := q.rdb.XRevRangeN(ctx, q.keys.DeadLetter, end, "-", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read dead letters of %s before %q: %w", q.keys.DeadLetter, before, err)
	}
	out := make([]DeadLetterEntry, len(msgs))
	for i, m := range msgs {
		out[i] = parseDeadLetter(m)
	}
	return out, nil
}

// DeadLetterByID returns one dead letter by its dead-letter stream id.
func (q *Queue) DeadLetterByID(ctx context.Context, id string) (DeadLetterEntry, bool, error) {
	msgs, err := q.rdb.XRangeN(ctx, q.keys.DeadLetter, id, id, 1).Result()
	if err != nil {
		return DeadLetterEntry{}, false, fmt.Errorf("read dead letter %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return DeadLetterEntry{}, false, nil
	}
	return parseDeadLetter(msgs[0]), true, nil
}

// FindDeadLetter looks for the newest dead letter of entityID written at or
// after since, reading at most limit entries in pages. Dead letters of an
// application are written after it was created, so since (its creation
// time, e.g. from its ULID) bounds the search; limit bounds its cost.
func (q *Queue) FindDeadLetter(ctx context.Context, entityID string, since time.Time, limit int64) (DeadLetterEntry, bool, error) {
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	var found DeadLetterEntry
	ok := false
	for read := int64(0); read < limit; {
		page := min(int64(scanPage), limit-read)
		msgs, err := q.rdb.XRangeN(ctx, q.keys.DeadLetter, start, "+", page).Result()
		if err != nil {
			return DeadLetterEntry{}, false, fmt.Errorf("look for a dead letter of %s: %w", entityID, err)
		}
		for _, m := range msgs {
			if v, _ := m.Values["entityId"].(string); v == entityID {
				found, ok = parseDeadLetter(m), true
			}
		}
		if int64(len(msgs)) < page {
			break
		}
		read += int64(len(msgs))
		start = "(" + msgs[len(msgs)-1].ID
	}
	return found, ok, nil
}
