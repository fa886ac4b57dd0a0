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
	"github.com/etherisc/depeg-relay/stream"
)

// flight is one nonce of ours whose outcome is not final yet: a transaction
// carrying an application, a nonce-gap fill carrying none, or a transaction
// adopted from an application's transactionHash (no nonce of ours, only a
// receipt to wait for).
//
// Once in the window, st, rec, tx, next, sent and log are written only by
// the window's methods, under its lock. app, baseLog, the nonce and
// st.Signed never change. tx, next and log change only on the tracker's
// goroutine (a replacement journaled or answered), so the tracker reads them
// without the lock; the submitter reads them only through the window.
//
// What the transaction carries (app) is kept apart from the transaction's own
// state (st, tx, next), so that one transaction could later carry several
// applications: app would become a slice, and the lifecycle stays as it is.
type flight struct {
	rec stream.TxRecord
	st  flightState
	// app is the application the transaction carries; nil for a gap fill.
	app *carried
	// tx is the signed transaction the node accepted (re-broadcast as is);
	// nil when adopted.
	tx *types.Transaction
	// next is a replacement being tried: sent on the next broadcast, and
	// current once the node takes it (see window.answered).
	next *types.Transaction
	// reportedRevert: the revert was counted once, however many passes its
	// outcome takes to settle.
	reportedRevert bool
	// sent: broadcast at least once by this process (for the re-send count).
	sent bool
	log  zerolog.Logger
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
}

// key is the flight's key in window.flights: the stream entry for an
// application, the nonce for a gap fill.
func (f *flight) key() string {
	if f.app == nil {
		return gapKey(f.rec.Nonce)
	}
	return f.app.entryID
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
	f.st.FeeCap = tx.GasFeeCap()
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
	f := &flight{rec: rec, st: flightState{Nonce: rec.Nonce, Signed: true, GapFill: rec.Kind == stream.KindGapFill}}
	if rec.NextRawTx != "" {
		if f.next, err = decodeTx(rec.NextRawTx, rec.Nonce); err != nil {
			return nil, err
		}
		f.st.Phase = phaseReplacing
	}
	if rec.Kind == stream.KindGapFill {
		f.baseLog = log.With().Str("kind", rec.Kind).Logger()
	} else {
		sig, err := product.SignatureOf(tx.Data())
		if err != nil {
			return nil, fmt.Errorf("journal nonce %d: %w", rec.Nonce, err)
		}
		f.app = &carried{entryID: rec.EntryID, entityID: rec.EntityID, signature: sig,
			sigHash: crypto.Keccak256Hash(sig), enqueuedAt: rec.EnqueuedAt}
		f.baseLog = log.With().Str("entry", rec.EntryID).Str("entityId", rec.EntityID).Logger()
	}
	f.setTx(tx)
	return f, nil
}
