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
	// Kind is empty for an application's transaction, KindBatch for a
	// transaction carrying several through the batch contract (listed in
	// Batch, in the batch's order), and KindGapFill for a zero-value
	// self-transfer that fills a nonce nothing else holds.
	Kind string `json:"kind,omitempty"`
	// Batch lists the applications of a KindBatch transaction; EntryID and
	// EntityID are then empty.
	Batch []RecordApp `json:"batch,omitempty"`
}

// RecordApp is one application a journaled transaction carries: its
// stream entry, its application hash and when it was enqueued.
type RecordApp struct {
	EntryID    string    `json:"entryId"`
	EntityID   string    `json:"entityId"`
	EnqueuedAt time.Time `json:"enqueuedAt,omitzero"`
}

// KindBatch marks a journal record of a batch transaction (issue 22).
const KindBatch = "batch"

// Applications are the applications the recorded transaction carries, in
// its order: the batch's list, the one application of a single
// transaction, none for a gap fill. Every reader of a record's entries
// goes through it, so a batch is never read as one application.
func (r TxRecord) Applications() []RecordApp {
	if r.Kind == KindBatch {
		return r.Batch
	}
	if r.EntryID == "" && r.EntityID == "" {
		return nil
	}
	return []RecordApp{{EntryID: r.EntryID, EntityID: r.EntityID, EnqueuedAt: r.EnqueuedAt}}
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

// ErrFenced is a journal write refused because this process does not hold
// the wallet's lease (Options.Fence): another process may be signing for the
// wallet, so nothing may be broadcast. Nothing was written. The lease's Keep
// notices the loss and stops the relay.
var ErrFenced = errors.New("journal write fenced: this process does not hold the wallet's lease")

// fenceLua is the start of every fenced journal script: KEYS[1] is the
// lease key, ARGV[1] this holder's token, ARGV[2] the lease TTL in ms,
// ARGV[3] '1' when a lease key Redis lost may be set again. Anything but the
// token (another holder, lease.Released) refuses the write with a FENCED
// error; a missing key refuses it unless it may be restored.
const fenceLua = `
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[1] then
  if v or ARGV[3] ~= '1' then
    return redis.error_reply('FENCED lease not held')
  end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
`

// recordScript sets journal fields (KEYS[2]; ARGV[4..] field, value pairs)
// behind the fence: one HSET for up to 3,500 pairs, so that Redis runs one
// command a batch instead of one a record, and unpack stays inside the
// Lua stack's limit (8,000 values; a chunk is even, so pairs stay whole).
var recordScript = redis.NewScript(fenceLua + `
for i = 4, #ARGV, 7000 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 6999, #ARGV)))
end
return 1
`)

// forgetScript deletes journal fields (KEYS[2]; ARGV[4..]) behind the
// fence, in one HDEL for up to 7,000 fields (see recordScript).
var forgetScript = redis.NewScript(fenceLua + `
for i = 4, #ARGV, 7000 do
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + 6999, #ARGV)))
end
return 1
`)

// fenced runs a journal script behind the fence with args after the
// fence's own; ErrFenced when this process does not hold the lease.
func (q *Queue) fenced(ctx context.Context, script *redis.Script, args []any) error {
	key, token, ttl, restore := q.opts.Fence.Fence()
	r := "0"
	if restore {
		r = "1"
	}
	err := script.Run(ctx, q.rdb, []string{key, q.JournalKey()}, append([]any{token, ttl.Milliseconds(), r}, args...)...).Err()
	if redis.HasErrorPrefix(err, "FENCED") {
		return ErrFenced
	}
	return err
}

// Record writes journal records, then each application's transactionHash
// field (which the frontend shows the user). All must be stored before any
// of the transactions is broadcast; an error means "send none of them"
// (records that did get written are overwritten when their nonces are used
// again, and were never broadcast).
//
// With a Fence the records are one script that first checks the lease, and
// the transactionHash fields (the frontend's keys, on other cluster slots)
// follow in a second round trip only once it succeeded: a refused write
// (ErrFenced) leaves nothing, so no user is shown a transaction that is
// never broadcast. A crash between the two leaves records without their
// transactionHash, as a crash inside one pipeline could: the transactions
// are tracked and broadcast as usual (docs/design.md, section 3).
func (q *Queue) Record(ctx context.Context, recs ...TxRecord) error {
	if len(recs) == 0 {
		return nil
	}
	raws := make([][]byte, len(recs))
	for i, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode journal record nonce %d: %w", r.Nonce, err)
		}
		raws[i] = raw
	}
	pipe := q.rdb.Pipeline()
	if q.opts.Fence != nil {
		args := make([]any, 0, 2*len(recs))
		for i, r := range recs {
			args = append(args, strconv.FormatUint(r.Nonce, 10), raws[i])
		}
		if err := q.fenced(ctx, recordScript, args); err != nil {
			return fmt.Errorf("journal %d transactions (first nonce %d): %w", len(recs), recs[0].Nonce, err)
		}
	} else {
		pairs := make([]any, 0, 2*len(recs))
		for i, r := range recs {
			pairs = append(pairs, strconv.FormatUint(r.Nonce, 10), raws[i])
		}
		pipe.HSet(ctx, q.JournalKey(), pairs...)
	}
	for _, r := range recs {
		h := r.CurrentHash()
		if h == "" {
			continue
		}
		for _, a := range r.Applications() {
			if a.EntityID != "" {
				pipe.HSet(ctx, ApplicationKey(a.EntityID), FieldTransactionHash, h)
			}
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("journal %d transactions: %w", len(recs), err)
	}
	return nil
}

// Forget removes journal records, once their outcome is acknowledged (or
// when they were never broadcast), in one command; with a Fence only while
// this process holds the lease (ErrFenced otherwise): a relay that lost it
// must not delete records the wallet's new holder wrote at the same nonces.
func (q *Queue) Forget(ctx context.Context, nonces ...uint64) error {
	if len(nonces) == 0 {
		return nil
	}
	fields := make([]string, len(nonces))
	for i, n := range nonces {
		fields[i] = strconv.FormatUint(n, 10)
	}
	var err error
	if q.opts.Fence != nil {
		args := make([]any, len(fields))
		for i, f := range fields {
			args[i] = f
		}
		err = q.fenced(ctx, forgetScript, args)
	} else {
		err = q.rdb.HDel(ctx, q.JournalKey(), fields...).Err()
	}
	if err != nil {
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
	return DecodeTxRecord(field, raw)
}

// DecodeTxRecord is the one decoder of a journal value stored under field,
// for every reader: the relay's Journal (which quarantines what it
// refuses) and read-only looks (package inspect). The error wraps the JSON
// decoder's when the value is not a record.
func DecodeTxRecord(field, raw string) (TxRecord, error) {
	var r TxRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return TxRecord{}, fmt.Errorf("decode journal record %s: %w", field, err)
	}
	if want := strconv.FormatUint(r.Nonce, 10); field != want {
		return TxRecord{}, fmt.Errorf("decode journal record %s: it holds nonce %d", field, r.Nonce)
	}
	if r.Kind == KindBatch && len(r.Batch) == 0 {
		return TxRecord{}, fmt.Errorf("decode journal record %s: a batch that lists no applications", field)
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
