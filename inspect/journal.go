// Package inspect reads what the relay keeps, for people: the journal of
// transactions in flight, and what became of an application found by its
// entityId, a transaction hash or its policy holder. It writes nothing, so
// the console and the on-call's subcommands can use it against a live
// deployment: the relay's own Journal read quarantines a record it cannot
// decode, which is right for the relay and wrong for a look.
package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// HashReader reads a whole Redis hash; redis.Cmdable has it.
type HashReader interface {
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
}

// Flight is one journal record as a person reads it.
type Flight struct {
	// Field is the journal field (the decimal nonce).
	Field  string
	Record stream.TxRecord
	// Tx is the signed transaction the node accepted (RawTx), nil when the
	// record has none or it does not decode.
	Tx *types.Transaction
	// Unreadable says why the record could not be read; the relay moves
	// such a record to the quarantine when it next reads the journal.
	Unreadable string
}

// Age is how long ago the record's transaction was first signed; zero when
// unknown.
func (f Flight) Age(now time.Time) time.Duration {
	if f.Record.SignedAt.IsZero() {
		return 0
	}
	return max(now.Sub(f.Record.SignedAt), 0)
}

// Journal reads the journal hash at key without changing it, by ascending
// nonce; unreadable records are listed last, with the reason.
func Journal(ctx context.Context, rdb HashReader, key string) ([]Flight, error) {
	all, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", key, err)
	}
	out := make([]Flight, 0, len(all))
	for field, raw := range all {
		out = append(out, decodeFlight(field, raw))
	}
	slices.SortFunc(out, func(a, b Flight) int {
		if (a.Unreadable == "") != (b.Unreadable == "") {
			if a.Unreadable == "" {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.Record.Nonce, b.Record.Nonce); c != 0 {
			return c
		}
		return cmp.Compare(a.Field, b.Field)
	})
	return out, nil
}

// decodeFlight reads one record as the relay does (stream.DecodeTxRecord,
// chain.DecodeRawTx), without quarantining what it cannot read.
func decodeFlight(field, raw string) Flight {
	f := Flight{Field: field}
	rec, err := stream.DecodeTxRecord(field, raw)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			f.Unreadable = "not a journal record: " + inner.Error()
		} else {
			f.Unreadable = err.Error()
		}
		return f
	}
	f.Record = rec
	if rec.RawTx != "" {
		if tx, err := chain.DecodeRawTx(rec.RawTx); err == nil {
			f.Tx = tx
		}
	}
	return f
}

// Hashes lists every hash of the record as hashes, current first.
func (f Flight) Hashes() []common.Hash {
	cur := f.Record.CurrentHash()
	var out []common.Hash
	if cur != "" {
		out = append(out, common.HexToHash(cur))
	}
	for _, h := range f.Record.Hashes {
		if h != cur {
			out = append(out, common.HexToHash(h))
		}
	}
	return out
}
