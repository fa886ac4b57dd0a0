package relay

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/relay/decide"
	"github.com/etherisc/depeg-relay/stream"
)

// flight is one nonce of ours whose outcome is not final yet: a transaction
// carrying an application, a batch transaction carrying several (through
// the batch contract), a nonce-gap fill carrying none, or a transaction
// adopted from an application's transactionHash (no nonce of ours, only a
// receipt to wait for).
//
// Once in the window, st, rec, tx, next, sent and log are written only by
// the window's methods, under its lock. apps, baseLog, the nonce and
// st.Signed never change. tx, next and log change only on the tracker's
// goroutine (a replacement journaled or answered), so the tracker reads them
// without the lock; the submitter reads them only through the window.
//
// What the transaction carries (apps) is kept apart from the transaction's
// own state (st, tx, next): a batch is bumped, replaced, re-broadcast and
// adopted as one transaction, and only its outcome is read per application
// (batchFate).
type flight struct {
	rec stream.TxRecord
	st  decide.State
	// apps are the applications the transaction carries, in its order: one
	// for an application's own transaction, several for a batch, none for
	// a gap fill.
	apps []*carried
	// tx is the signed transaction the node accepted (re-broadcast as is);
	// nil when adopted.
	tx *types.Transaction
	// next is a replacement being tried: sent on the next broadcast, and
	// current once the node takes it (see window.answered).
	next *types.Transaction
	// receipt is the receipt st was decided on while st.MinedIn is set:
	// once the flight is deep, a pass whose canonical hash of that block is
	// still the receipt's judges it on this one instead of reading it again
	// (decide.LookKept).
	receipt *types.Receipt
	// reportedRevert: the revert was counted once, however many passes its
	// outcome takes to settle.
	reportedRevert bool
	// sent: broadcast at least once by this process (for the re-send count).
	sent bool
	// ownNonce, for an adopted transaction that this wallet sent, is its
	// nonce: a journal record Redis brought back for it (a snapshot restore
	// resurrects records already forgotten) is forgotten when it settles.
	ownNonce    uint64
	hasOwnNonce bool
	log         zerolog.Logger
	// baseLog carries the application's fields without the transaction's,
	// so a replacement's logger does not repeat "tx".
	baseLog zerolog.Logger
}

// carried is the application a flight's transaction applies.
type carried struct {
	entryID, entityID string
	signature         []byte
	sigHash           common.Hash
	enqueuedAt        time.Time
	// settled and reverts are the tracker's memory of a batch's application
	// while its outcome is carried out over passes (settleBatch): done, and
	// its transient revert count once counted.
	settled bool
	reverts int64
}

// key is the flight's key in window.flights: the stream entry of its first
// application (an entry is in one flight at most), the nonce for a gap fill.
func (f *flight) key() string {
	if len(f.apps) == 0 {
		return gapKey(f.rec.Nonce)
	}
	return f.apps[0].entryID
}

// batched reports a transaction to the batch contract, whose applications
// each have their own outcome in its events.
func (f *flight) batched() bool { return f.rec.Kind == stream.KindBatch }

// app is the application of a flight that carries exactly one (its own
// transaction, or an adopted one); nil otherwise. The revert path of a
// single transaction reads it: a batch's applications meet their fates in
// its events instead (batchFate).
func (f *flight) app() *carried {
	if len(f.apps) != 1 || f.batched() {
		return nil
	}
	return f.apps[0]
}

func gapKey(nonce uint64) string { return "gap:" + strconv.FormatUint(nonce, 10) }

// hashes are every transaction hash that may carry this flight's nonce.
func (f *flight) hashes() []common.Hash {
	out := make([]common.Hash, len(f.rec.Hashes))
	for i, h := range f.rec.Hashes {
		out[i] = common.HexToHash(h)
	}
	return out
}

// sending is the transaction a broadcast sends: the replacement being tried,
// else the accepted one.
func (f *flight) sending() *types.Transaction {
	if f.next != nil {
		return f.next
	}
	return f.tx
}

// setTx makes tx the accepted transaction.
func (f *flight) setTx(tx *types.Transaction) {
	f.tx = tx
	f.st.FeeCap, f.st.TipCap = tx.GasFeeCap(), tx.GasTipCap()
	f.log = f.baseLog.With().Str("tx", tx.Hash().Hex()).Uint64("nonce", tx.Nonce()).Logger()
}

func decodeTx(raw string, nonce uint64) (*types.Transaction, error) {
	tx, err := chain.DecodeRawTx(raw)
	if err != nil {
		return nil, fmt.Errorf("journal nonce %d: %w", nonce, err)
	}
	if tx.Nonce() != nonce {
		return nil, fmt.Errorf("journal nonce %d holds a transaction with nonce %d", nonce, tx.Nonce())
	}
	return tx, nil
}

// flightFromRecord rebuilds a flight from the journal after a restart.
func flightFromRecord(rec stream.TxRecord, product *chain.Product, log zerolog.Logger) (*flight, error) {
	tx, err := decodeTx(rec.RawTx, rec.Nonce)
	if err != nil {
		return nil, err
	}
	f := &flight{rec: rec, st: decide.State{Nonce: rec.Nonce, Signed: true, GapFill: rec.Kind == stream.KindGapFill}}
	if rec.NextRawTx != "" {
		if f.next, err = decodeTx(rec.NextRawTx, rec.Nonce); err != nil {
			return nil, err
		}
		f.st.Phase = decide.PhaseReplacing
	}
	switch rec.Kind {
	case stream.KindGapFill:
		f.baseLog = log.With().Str("kind", rec.Kind).Logger()
	case stream.KindBatch:
		apps, _, err := batch.Decode(tx.Data())
		if err != nil {
			return nil, fmt.Errorf("journal nonce %d: %w", rec.Nonce, err)
		}
		listed := rec.Applications()
		if len(apps) != len(listed) {
			return nil, fmt.Errorf("journal nonce %d: the batch carries %d applications, its record lists %d", rec.Nonce, len(apps), len(listed))
		}
		for i, a := range listed {
			f.apps = append(f.apps, &carried{entryID: a.EntryID, entityID: a.EntityID, signature: apps[i].Signature,
				sigHash: crypto.Keccak256Hash(apps[i].Signature), enqueuedAt: a.EnqueuedAt})
		}
		f.baseLog = log.With().Str("kind", rec.Kind).Int("applications", len(apps)).Str("entry", listed[0].EntryID).Logger()
	default:
		sig, err := product.SignatureOf(tx.Data())
		if err != nil {
			return nil, fmt.Errorf("journal nonce %d: %w", rec.Nonce, err)
		}
		f.apps = []*carried{{entryID: rec.EntryID, entityID: rec.EntityID, signature: sig,
			sigHash: crypto.Keccak256Hash(sig), enqueuedAt: rec.EnqueuedAt}}
		f.baseLog = log.With().Str("entry", rec.EntryID).Str("entityId", rec.EntityID).Logger()
	}
	f.setTx(tx)
	return f, nil
}
