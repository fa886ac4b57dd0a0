package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/oklog/ulid/v2"

	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/stream"
)

// StateUnknown is reported for an application that is no longer pending
// and whose outcome was not recorded (its record expired, or it settled
// before the relay recorded outcomes).
const StateUnknown = "unknown"

// Status is what became of one application.
type Status struct {
	EntityID        string `json:"entityId"`
	Status          string `json:"status"`
	EntryID         string `json:"entryId,omitempty"`
	TransactionHash string `json:"transactionHash,omitempty"`
	Block           uint64 `json:"block,omitempty"`
	ProcessID       string `json:"processId,omitempty"`
	Class           string `json:"class,omitempty"`
	Reason          string `json:"reason,omitempty"`
	// UpdatedAt is when the state was last recorded; for an application
	// still pending without a record of the relay's, when it was posted.
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
	// Confirmations is set while submitted: 0 until the transaction is
	// mined, then how many blocks hold it (the relay confirms at
	// CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS). Absent when the node did not
	// answer.
	Confirmations *uint64 `json:"confirmations,omitempty"`
	// BatchIndex and BatchSize are set when TransactionHash is a batch
	// transaction carrying the application with others (issue 22): its
	// position in the batch, from 0 as the batch contract's events number
	// it, and how many applications the batch carries. A submitted
	// application's place is read off the transaction's calldata (with
	// Config.BatchContract set); a confirmed or rejected one's is what the
	// relay recorded from the batch's events. Absent for a transaction of
	// its own, and when unknown (an outcome recorded before batching).
	BatchIndex *int `json:"batchIndex,omitempty"`
	BatchSize  int  `json:"batchSize,omitempty"`
}

// InBatch sets the application's place in its batch transaction.
func (st *Status) InBatch(index, size int) {
	st.BatchIndex, st.BatchSize = &index, size
}

// Confirmer tells how deep a transaction is; *chain.Client has it. The
// status of a submitted application reads it when the intake's Chain has
// it.
type Confirmer interface {
	TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error)
	BlockNumber(ctx context.Context) (uint64, error)
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
		if st.Status == stream.StateSubmitted {
			s.confirmations(ctx, &st)
			s.batchPlace(ctx, &st, live[stream.FieldSignature])
		}
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
			if !rec.UpdatedAt.IsZero() {
				t := rec.UpdatedAt.UTC()
				st.UpdatedAt = &t
			}
		}
		if st.UpdatedAt == nil {
			// The frontend's timestamp (seconds, as redis-om writes it).
			if f, err := strconv.ParseFloat(live[stream.FieldTimestamp], 64); err == nil && f > 0 && f < 1e11 {
				t := time.UnixMilli(int64(f * 1000)).UTC()
				st.UpdatedAt = &t
			}
		}
		if h := live[stream.FieldTransactionHash]; h != "" {
			st.Status, st.TransactionHash = stream.StateSubmitted, h
		}
		return st, true
	}
	return Status{}, false
}

// confirmations reads how deep a submitted application's transaction is;
// a node that does not answer leaves it out (the status is still true).
func (s *Service) confirmations(ctx context.Context, st *Status) {
	c, ok := s.chain.(Confirmer)
	if !ok || !hashRe.MatchString(st.TransactionHash) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	rc, err := c.TransactionReceipt(ctx, common.HexToHash(st.TransactionHash))
	if errors.Is(err, ethereum.NotFound) {
		var zero uint64
		st.Confirmations = &zero
		return
	}
	if err != nil || rc == nil || rc.BlockNumber == nil {
		return
	}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return
	}
	n := uint64(0)
	if b := rc.BlockNumber.Uint64(); head >= b {
		n = head - b + 1
	}
	st.Block, st.Confirmations = rc.BlockNumber.Uint64(), &n
}

// TxReader reads a transaction by its hash; *chain.Client has it.
type TxReader interface {
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
}

// batchPlace finds a submitted application's place in its transaction when
// that is a batch (Config.BatchContract): one more node call, made only
// with batching on. A node that does not answer leaves it out.
func (s *Service) batchPlace(ctx context.Context, st *Status, signature string) {
	r, ok := s.chain.(TxReader)
	if !ok || s.cfg.BatchContract == (common.Address{}) || !hashRe.MatchString(st.TransactionHash) {
		return
	}
	sig, err := hexutil.Decode(signature)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	tx, _, err := r.TransactionByHash(ctx, common.HexToHash(st.TransactionHash))
	if err != nil || tx == nil || tx.To() == nil || *tx.To() != s.cfg.BatchContract {
		return
	}
	if i, n, ok := batchPosition(tx.Data(), sig); ok {
		st.InBatch(i, n)
	}
}

// batchPosition finds signature among the applications of applyBatch
// calldata: its index and the batch's size. false when the calldata is
// not a batch or does not carry the signature.
func batchPosition(data, signature []byte) (index, size int, ok bool) {
	apps, _, err := batch.Decode(data)
	if err != nil {
		return 0, 0, false
	}
	for i, a := range apps {
		if bytes.Equal(a.Signature, signature) {
			return i, len(apps), true
		}
	}
	return 0, 0, false
}

// hashRe is a 0x transaction hash.
var hashRe = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

func fromRecord(entityID string, rec stream.StatusRecord) Status {
	st := Status{EntityID: entityID, Status: rec.State, EntryID: rec.EntryID, TransactionHash: rec.TxHash,
		Block: rec.Block, ProcessID: rec.ProcessID, Class: rec.Class, Reason: rec.Reason}
	if !rec.UpdatedAt.IsZero() {
		st.UpdatedAt = &rec.UpdatedAt
	}
	if rec.BatchSize > 0 {
		// The relay recorded the place from the batch's events when it
		// settled the application; no node call is needed.
		st.InBatch(rec.BatchIndex, rec.BatchSize)
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
