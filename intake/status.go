package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/oklog/ulid/v2"

	"github.com/etherisc/depeg-relay/stream"
)

// StateUnknown is reported for an application that is no longer pending
// and whose outcome was not recorded (its record expired, or it settled
// before the relay recorded outcomes).
const StateUnknown = "unknown"

// Status is what became of one application.
type Status struct {
	EntityID        string     `json:"entityId"`
	Status          string     `json:"status"`
	EntryID         string     `json:"entryId,omitempty"`
	TransactionHash string     `json:"transactionHash,omitempty"`
	Block           uint64     `json:"block,omitempty"`
	ProcessID       string     `json:"processId,omitempty"`
	Class           string     `json:"class,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	UpdatedAt       *time.Time `json:"updatedAt,omitempty"`
}

// ErrNotFound means no trace of the application is left (or there never
// was one).
var ErrNotFound = errors.New("application not found")

// ErrBadEntityID marks an entity id that is not a ULID, as every id the
// frontend (redis-om) or the intake makes is.
var ErrBadEntityID = errors.New("entityId is not a ULID")

// Status tells the state of one application in one Redis round trip,
// whatever the id: the relay-owned status record decides when it holds an
// outcome (confirmed or rejected); otherwise the live PendingApplication hash
// tells queued or submitted (its transactionHash), which covers applications
// the frontend wrote into Redis itself. Every rejection has its record:
// ObservedQueue writes it before the dead letter, so no search of the
// dead-letter stream is ever needed (one used to read up to 2,000 dead
// letters from the id's ULID time, so anyone could make a look-up expensive
// by asking for an id with an early timestamp).
func (s *Service) Status(ctx context.Context, entityID string) (Status, error) {
	if _, err := ulid.ParseStrict(entityID); err != nil {
		return Status{}, ErrBadEntityID
	}
	rec, found, live, err := s.status.Read(ctx, entityID)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if st, ok := derive(entityID, rec, found, live); ok {
		return st, nil
	}
	if found {
		st := fromRecord(entityID, rec)
		st.Status = StateUnknown
		return st, nil
	}
	return Status{}, ErrNotFound
}

// derive decides a status from the record and the live hash alone; false
// means neither tells (the application is gone, its outcome not recorded).
func derive(entityID string, rec stream.StatusRecord, found bool, live map[string]string) (Status, bool) {
	if found && (rec.State == stream.StateConfirmed || rec.State == stream.StateRejected) {
		return fromRecord(entityID, rec), true
	}
	if live != nil {
		st := Status{EntityID: entityID, Status: stream.StateQueued}
		if found {
			st.EntryID = rec.EntryID
		}
		if h := live[stream.FieldTransactionHash]; h != "" {
			st.Status, st.TransactionHash = stream.StateSubmitted, h
		}
		return st, true
	}
	return Status{}, false
}

func fromRecord(entityID string, rec stream.StatusRecord) Status {
	st := Status{EntityID: entityID, Status: rec.State, EntryID: rec.EntryID, TransactionHash: rec.TxHash,
		Block: rec.Block, ProcessID: rec.ProcessID, Class: rec.Class, Reason: rec.Reason}
	if !rec.UpdatedAt.IsZero() {
		st.UpdatedAt = &rec.UpdatedAt
	}
	return st
}

// PendingApplication is one pending application in the frontend's JSON
// (redis-om's entity: numbers for duration and bundleId, a date for
// timestamp, null for a transactionHash not yet known).
type PendingApplication struct {
	EntityID         string      `json:"entityId"`
	PolicyHolder     string      `json:"policyHolder"`
	ProtectedWallet  string      `json:"protectedWallet"`
	ProtectedBalance string      `json:"protectedBalance"`
	Duration         json.Number `json:"duration"`
	BundleID         json.Number `json:"bundleId"`
	SignatureID      string      `json:"signatureId"`
	Signature        string      `json:"signature"`
	TransactionHash  *string     `json:"transactionHash"`
	Timestamp        *time.Time  `json:"timestamp"`
}

// maxListed bounds one listing.
const maxListed = 500

// Pending lists a policy holder's pending applications, oldest first, from
// the relay-owned index (filled by the intake and by the relay as it reads
// entries; see ObservedQueue), reading each live hash. Ids whose hash is
// gone are dropped from the index on the way.
func (s *Service) Pending(ctx context.Context, holder common.Address) ([]PendingApplication, error) {
	ids, err := s.status.Holder(ctx, holder, maxListed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := []PendingApplication{}
	if len(ids) == 0 {
		return out, nil
	}
	loaded, _, err := s.queue.LoadApplications(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var gone []string
	for i, fields := range loaded {
		if fields == nil {
			gone = append(gone, ids[i])
			continue
		}
		app, err := stream.DecodeApplication(ids[i], fields)
		if err != nil || app.PolicyHolder != holder {
			continue // malformed (it will be dead-lettered) or not this holder's
		}
		p := PendingApplication{
			EntityID: ids[i], PolicyHolder: fields[stream.FieldPolicyHolder],
			ProtectedWallet: fields[stream.FieldProtectedWallet], ProtectedBalance: app.ProtectedBalance.String(),
			Duration: json.Number(app.Duration.String()), BundleID: json.Number(app.BundleID.String()),
			SignatureID: app.SignatureID, Signature: fields[stream.FieldSignature],
		}
		if app.TransactionHash != nil {
			h := app.TransactionHash.Hex()
			p.TransactionHash = &h
		}
		if !app.CreatedAt.IsZero() {
			t := app.CreatedAt.UTC()
			p.Timestamp = &t
		}
		out = append(out, p)
	}
	if err := s.status.Unindex(ctx, holder, gone...); err != nil {
		s.log.Warn().Err(err).Msg("drop settled applications from the holder index failed")
	}
	slices.SortFunc(out, func(a, b PendingApplication) int { return strings.Compare(a.EntityID, b.EntityID) })
	return out, nil
}
