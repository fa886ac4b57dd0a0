package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/etherisc/depeg-relay/stream"
)

// Event is the JSON body of one delivery: one status change of one
// application. README ("Webhooks") documents it for receivers.
type Event struct {
	// ID is equal for every copy of the same change (see EventID): the
	// key a receiver de-duplicates by.
	ID string `json:"id"`
	// State is submitted, confirmed, rejected or requeued.
	State    string `json:"state"`
	EntityID string `json:"entityId"`
	// EntryID is the queue's stream entry id; absent for requeued.
	EntryID string `json:"entryId,omitempty"`
	// TransactionHash: submitted, the transaction just signed; confirmed,
	// the one mined; rejected, the one that reverted, when one did.
	TransactionHash string `json:"transactionHash,omitempty"`
	// Block and ProcessID are set for confirmed (ProcessID when the
	// product's creation event was found).
	Block     uint64 `json:"block,omitempty"`
	ProcessID string `json:"processId,omitempty"`
	// Class and Reason are set for rejected: the bounded class of the
	// dead letter and its readable reason.
	Class  string `json:"class,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Reverts is set for requeued: how many of the application's mined
	// transactions reverted for a cause that can pass.
	Reverts int64 `json:"reverts,omitempty"`
	// OccurredAt is when the change was recorded, RFC 3339 in UTC.
	OccurredAt time.Time `json:"occurredAt"`
}

// NewEvent is the event of a status change.
func NewEvent(c stream.StatusChange) Event {
	return Event{
		ID: EventID(c), State: c.State, EntityID: c.EntityID, EntryID: c.EntryID, TransactionHash: c.TxHash,
		Block: c.Block, ProcessID: c.ProcessID, Class: c.Class, Reason: c.Reason, Reverts: c.Reverts,
		OccurredAt: c.At.UTC(),
	}
}

// EventID derives an event's id from what identifies the change, so that a
// change told twice (a step repeated after a crash or a failed write) gets
// the same id, while two different changes of one application do not: 32
// hex characters of SHA-256 over state, entity, entry, transaction, class
// and revert count. The time, block and reason are left out, since a
// repeated step records them anew.
func EventID(c stream.StatusChange) string {
	h := sha256.Sum256([]byte(strings.Join([]string{
		c.State, c.EntityID, c.EntryID, strings.ToLower(c.TxHash), c.Class, strconv.FormatInt(c.Reverts, 10),
	}, "\x00")))
	return hex.EncodeToString(h[:16])
}
