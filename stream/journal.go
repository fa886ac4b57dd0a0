package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// TxRecord is the journal's memory of one signed transaction, written before
// the transaction is broadcast so that a restart can track or re-broadcast it
// instead of building a second, different transaction for the application
// (DESIGN.md section 5, invariant 2). Hashes lists every hash ever broadcast
// for the nonce; the last one is the current raw transaction.
type TxRecord struct {
	Nonce      uint64    `json:"nonce"`
	EntryID    string    `json:"entryId"`
	EntityID   string    `json:"entityId"`
	Hashes     []string  `json:"hashes"`
	RawTx      string    `json:"rawTx"` // 0x hex of the signed transaction
	SignedAt   time.Time `json:"signedAt"`
	EnqueuedAt time.Time `json:"enqueuedAt,omitzero"`
}

// JournalKey is the wallet's journal hash (field: nonce). The hash tag keeps
// the relay's own keys together on one Redis Cluster slot.
func (q *Queue) JournalKey() string { return "{depeg-relay:" + q.keys.Wallet + "}:journal" }

// Record writes journal records and each application's transactionHash
// field (which the frontend shows the user) in one round trip. All must be
// stored before any of the transactions is broadcast; an error means "send
// none of them" (records that did get written are overwritten when their
// nonces are used again, and were never broadcast).
func (q *Queue) Record(ctx context.Context, recs ...TxRecord) error {
	pipe := q.rdb.Pipeline()
	for _, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode journal record nonce %d: %w", r.Nonce, err)
		}
		pipe.HSet(ctx, q.JournalKey(), strconv.FormatUint(r.Nonce, 10), raw)
		if len(r.Hashes) > 0 {
			pipe.HSet(ctx, ApplicationKey(r.EntityID), FieldTransactionHash, r.Hashes[len(r.Hashes)-1])
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("journal %d transactions: %w", len(recs), err)
	}
	return nil
}

// Forget removes journal records, once their outcome is acknowledged (or
// when they were never broadcast), in one command.
func (q *Queue) Forget(ctx context.Context, nonces ...uint64) error {
	if len(nonces) == 0 {
		return nil
	}
	fields := make([]string, len(nonces))
	for i, n := range nonces {
		fields[i] = strconv.FormatUint(n, 10)
	}
	if err := q.rdb.HDel(ctx, q.JournalKey(), fields...).Err(); err != nil {
		return fmt.Errorf("forget journal nonces %v: %w", nonces, err)
	}
	return nil
}

// Journal returns every record, by ascending nonce. The journal only holds
// unacknowledged transactions, so it is bounded by the in-flight window.
func (q *Queue) Journal(ctx context.Context) ([]TxRecord, error) {
	all, err := q.rdb.HGetAll(ctx, q.JournalKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	out := make([]TxRecord, 0, len(all))
	for field, raw := range all {
		var r TxRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, fmt.Errorf("decode journal record %s: %w", field, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nonce < out[j].Nonce })
	return out, nil
}
