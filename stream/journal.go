package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// TxRecord is the journal's memory of one signed transaction, written before
// the transaction is broadcast so that a restart can track or re-broadcast it
// instead of building a second, different transaction for the application
// (docs/design.md, "Invariants"). Hashes lists every hash ever signed for
// the nonce, refused replacements included, so a receipt of any of them is
// found; RawTx is the transaction the node accepted and CurrentHash the one
// the user is shown.
type TxRecord struct {
	Nonce      uint64    `json:"nonce"`
	EntryID    string    `json:"entryId"`
	EntityID   string    `json:"entityId"`
	Hashes     []string  `json:"hashes"`
	RawTx      string    `json:"rawTx"` // 0x hex of the signed transaction the node accepted
	SignedAt   time.Time `json:"signedAt"`
	EnqueuedAt time.Time `json:"enqueuedAt,omitzero"`
	// NextRawTx is a fee-bumped replacement signed and about to be sent (or
	// sent, its answer not yet recorded). A restart sends it again; if the
	// node refuses it, RawTx stays the current transaction.
	NextRawTx string `json:"nextRawTx,omitempty"`
	// Current is the hash the application's transactionHash field shows:
	// the accepted transaction, or the replacement being tried. Empty means
	// the last of Hashes (records written before this field existed).
	Current string `json:"current,omitempty"`
	// Kind is empty for an application's transaction and KindGapFill for a
	// zero-value self-transfer that fills a nonce nothing else holds.
	Kind string `json:"kind,omitempty"`
}

// KindGapFill marks a journal record of a nonce-gap fill: it carries no
// application, so it is never acknowledged, only forgotten once confirmed.
const KindGapFill = "gap-fill"

// CurrentHash is the hash shown to the user as the application's
// transactionHash.
func (r TxRecord) CurrentHash() string {
	if r.Current != "" || len(r.Hashes) == 0 {
		return r.Current
	}
	return r.Hashes[len(r.Hashes)-1]
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
		if h := r.CurrentHash(); h != "" && r.EntityID != "" {
			pipe.HSet(ctx, ApplicationKey(r.EntityID), FieldTransactionHash, h)
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

// JournalQuarantineKey is the hash where Journal moves records it cannot
// read (field: the journal field, value: the raw bytes as they were). It
// shares the journal's hash tag, so the move is one atomic script on one
// cluster slot.
func (q *Queue) JournalQuarantineKey() string { return q.JournalKey() + ":quarantine" }

// Journal returns every record, by ascending nonce. The journal only holds
// unacknowledged transactions, so it is bounded by the in-flight window.
//
// A record that is not a TxRecord stored under its own nonce (not JSON, or a
// field that is not the decimal nonce of its value) is moved to the
// quarantine hash and left out of the result, instead of failing the whole
// read: the relay reads the journal on startup, and one corrupt record would
// otherwise keep it from ever starting. Such a record cannot be tracked or
// re-broadcast anyway; its stream entry stays pending and is simulated
// again. The move keeps the raw value for an operator (JournalQuarantine),
// is reported through Options.OnJournalQuarantined and counted by
// JournalQuarantined.
func (q *Queue) Journal(ctx context.Context) ([]TxRecord, error) {
	all, err := q.rdb.HGetAll(ctx, q.JournalKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	out := make([]TxRecord, 0, len(all))
	for field, raw := range all {
		r, err := decodeTxRecord(field, raw)
		if err == nil {
			out = append(out, r)
			continue
		}
		if err := q.quarantine(ctx, field, raw); err != nil {
			return nil, err
		}
		q.journalQuarantined.Add(1)
		if q.opts.OnJournalQuarantined != nil {
			q.opts.OnJournalQuarantined(field, err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nonce < out[j].Nonce })
	return out, nil
}

// JournalQuarantine returns the quarantined journal records, field to raw
// value, for an operator to inspect. Nothing ever removes them: an operator
// deletes the hash (or a field) once done.
func (q *Queue) JournalQuarantine(ctx context.Context) (map[string]string, error) {
	all, err := q.rdb.HGetAll(ctx, q.JournalQuarantineKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal quarantine: %w", err)
	}
	return all, nil
}

// ErrJournalChanged means a journal record changed between Journal's read
// and its attempt to quarantine it; reading the journal again sees the new
// value. Only one process may use a wallet (invariant 8; docs/design.md,
// "Invariants"), so this points at a second writer.
var ErrJournalChanged = errors.New("journal record changed while being quarantined")

// decodeTxRecord reads one journal value. Record stores each record under
// its decimal nonce, so a field that disagrees with its value's nonce (or
// "null", which decodes to nonce 0) is as unreadable as broken JSON: trusting
// it would make Forget delete the wrong field.
func decodeTxRecord(field, raw string) (TxRecord, error) {
	var r TxRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return TxRecord{}, fmt.Errorf("decode journal record %s: %w", field, err)
	}
	if want := strconv.FormatUint(r.Nonce, 10); field != want {
		return TxRecord{}, fmt.Errorf("decode journal record %s: it holds nonce %d", field, r.Nonce)
	}
	return r, nil
}

// quarantineScript moves one journal field to the quarantine hash if it
// still holds the value that was read (KEYS[1] journal, KEYS[2] quarantine,
// ARGV[1] field, ARGV[2] value). An earlier, different quarantined value
// under the same field is kept: the new one goes to "<field>#2", "#3", ...
// It returns the quarantine field used, or nil when the journal value
// changed (then nothing is moved).
var quarantineScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return false
end
local f, n = ARGV[1], 1
while true do
  local cur = redis.call('HGET', KEYS[2], f)
  if not cur or cur == ARGV[2] then break end
  n = n + 1
  f = ARGV[1] .. '#' .. n
end
redis.call('HSET', KEYS[2], f, ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[1])
return f
`)

// quarantine moves one unreadable journal record atomically: a crash leaves
// it either in the journal (and it is moved on the next read) or in the
// quarantine, never lost or in both.
func (q *Queue) quarantine(ctx context.Context, field, raw string) error {
	err := quarantineScript.Run(ctx, q.rdb, []string{q.JournalKey(), q.JournalQuarantineKey()}, field, raw).Err()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("quarantine journal record %s: %w", field, ErrJournalChanged)
	}
	if err != nil {
		return fmt.Errorf("quarantine journal record %s: %w", field, err)
	}
	return nil
}

// QuarantineRecord moves the journal record of nonce to the quarantine hash,
// as Journal does with records that do not decode: for a record the relay
// can read but not use (its signed transaction does not decode, or is not
// the call it should be). The raw value is kept for an operator, since it
// may be the only copy of a transaction still in some node's pool.
func (q *Queue) QuarantineRecord(ctx context.Context, nonce uint64, why error) error {
	field := strconv.FormatUint(nonce, 10)
	raw, err := q.rdb.HGet(ctx, q.JournalKey(), field).Result()
	if errors.Is(err, redis.Nil) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("read journal record %s: %w", field, err)
	}
	if err := q.quarantine(ctx, field, raw); err != nil {
		return err
	}
	q.journalQuarantined.Add(1)
	if q.opts.OnJournalQuarantined != nil {
		q.opts.OnJournalQuarantined(field, why)
	}
	return nil
}
