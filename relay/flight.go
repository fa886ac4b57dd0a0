package relay

import (
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// flight is one application whose transaction is submitted but whose outcome
// is not final yet. Fields are guarded by Relay.mu except log, which is
// immutable.
type flight struct {
	rec        stream.TxRecord
	tx         *types.Transaction // the signed bytes to re-broadcast; nil when adopted
	journaled  bool               // false for a transaction adopted from the hash's transactionHash
	sigHash    common.Hash
	enqueuedAt time.Time
	lastSent   time.Time
	// sentAtBlock is the head when the current hash was first broadcast (0:
	// not known yet, set by the next tracker pass). A flight still unmined
	// STUCK_TX_BLOCKS later is replaced with higher fees.
	sentAtBlock uint64
	// minedIn is the block of the last receipt seen; when the receipt then
	// vanishes, a reorg took it and the transaction is re-broadcast at once.
	minedIn   uint64
	minedHash common.Hash
	// lowestSince is the head when this flight's nonce became the wallet's
	// next one to be mined; only that flight can be stuck on its own fees.
	lowestSince uint64
	// atCap: the fees cannot be raised further under MAX_FEE_PER_GAS, so the
	// flight waits (re-broadcasting identical bytes) instead of replacing.
	atCap bool
	log   zerolog.Logger
	// baseLog carries the application's fields without the transaction's,
	// so a replacement's logger does not repeat "tx".
	baseLog zerolog.Logger
}

// hashes are every transaction hash that may carry this application.
func (f *flight) hashes() []common.Hash {
	out := make([]common.Hash, len(f.rec.Hashes))
	for i, h := range f.rec.Hashes {
		out[i] = common.HexToHash(h)
	}
	return out
}

// flightFromRecord rebuilds a flight from the journal after a restart.
func flightFromRecord(rec stream.TxRecord, product *chain.Product, log zerolog.Logger) (*flight, error) {
	raw, err := hexutil.Decode(rec.RawTx)
	if err != nil {
		return nil, fmt.Errorf("decode raw transaction of nonce %d: %w", rec.Nonce, err)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("decode raw transaction of nonce %d: %w", rec.Nonce, err)
	}
	if tx.Nonce() != rec.Nonce {
		return nil, fmt.Errorf("journal nonce %d holds a transaction with nonce %d", rec.Nonce, tx.Nonce())
	}
	sig, err := product.SignatureOf(tx.Data())
	if err != nil {
		return nil, fmt.Errorf("journal nonce %d: %w", rec.Nonce, err)
	}
	f := &flight{
		rec:        rec,
		tx:         tx,
		journaled:  true,
		sigHash:    crypto.Keccak256Hash(sig),
		enqueuedAt: rec.EnqueuedAt,
	}
	f.baseLog = log.With().Str("entry", rec.EntryID).Str("entityId", rec.EntityID).Logger()
	f.log = f.baseLog.With().Str("tx", tx.Hash().Hex()).Uint64("nonce", rec.Nonce).Logger()
	return f, nil
}
