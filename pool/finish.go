package pool

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/batch"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/stream"
)

// Chain is what the finisher reads of the node; *chain.Client has it.
type Chain interface {
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	Nonces(ctx context.Context, account common.Address, block *big.Int) (mined, pending uint64, err error)
	Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error)
}

// Journals is what the finisher does with the stream and a wallet's journal;
// *stream.Queue has it (ForWallet gives the other wallets' views).
type Journals interface {
	Registry
	ForWallet(wallet string, fence stream.Fence) *stream.Queue
}

// Status records confirmations (*stream.StatusStore), as the relay does.
type Status interface {
	Confirmed(ctx context.Context, cs ...stream.Confirmation) error
}

// Product reads the created process id from a receipt and the signature a
// journaled transaction carries (*chain.Product).
type Product interface {
	ProcessID(r *types.Receipt) (common.Hash, bool)
	SignatureOf(data []byte) ([]byte, error)
}

// FinisherConfig holds the finisher's settings.
type FinisherConfig struct {
	Confirmations uint64        // CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS
	Interval      time.Duration // between passes; default 10 s
	HandOnAfter   time.Duration // ORPHAN_HANDOFF_AFTER; default 10 min
	LeaseTTL      time.Duration // LEASE_TTL: a key must be seen unheld for longer than its renewal interval
	RPCTimeout    time.Duration // per call
	// Own are the wallets (lower-case hex) this process lists: their
	// journals are its own relays' business, never orphaned here.
	Own     map[string]bool
	Status  Status  // optional
	Product Product // optional: process ids for Status, signatures to release the claims
	// BatchContract is BATCH_CONTRACT_ADDRESS: the outcome of each
	// application of a batch transaction is its event from this contract
	// (batch.Outcomes). A batch read with another address (or none)
	// finds no event, so its applications are handed on, never confirmed:
	// a live key then meets SIGNATURE_USED for those created, which the
	// pool resolves as its own success.
	BatchContract common.Address
	Now           func() time.Time
}

// Orphan is a key no live process holds whose journal still has records.
type Orphan struct {
	Wallet  string    `json:"wallet"`
	Entries int       `json:"entries"` // journal records: transactions of one application, batches and gap fills
	Since   time.Time `json:"since"`   // first seen unheld
}

// Finisher finishes the journals of keys no live process holds: any
// process of the pool runs one, and the pool's lease on the orphaned key
// keeps two finishers (or a process that lists the key again) from working
// on one journal at once. It is a lifecycle part: Start, Close.
type Finisher struct {
	cfg  FinisherConfig
	log  zerolog.Logger
	rdb  redis.Cmdable
	id   *Identity
	c    Chain
	jnl  Journals
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	orphans []Orphan

	// Owned by the pass loop.
	seen map[string]time.Time // wallet -> first seen unheld
	lost map[string]uint64    // wallet/nonce -> head when first seen lost
}

// NewFinisher builds a finisher. It starts nothing.
func NewFinisher(cfg FinisherConfig, log zerolog.Logger, rdb redis.Cmdable, id *Identity, c Chain, jnl Journals) *Finisher {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.HandOnAfter <= 0 {
		cfg.HandOnAfter = 10 * time.Minute
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 10 * time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Finisher{cfg: cfg, log: log.With().Str("component", "pool").Logger(), rdb: rdb, id: id, c: c, jnl: jnl,
		seen: map[string]time.Time{}, lost: map[string]uint64{}}
}

// Start runs a pass every Interval until Close.
func (f *Finisher) Start(ctx context.Context) error {
	ctx, f.stop = context.WithCancel(context.WithoutCancel(ctx))
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(f.cfg.Interval)
		defer t.Stop()
		for {
			f.Pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Close stops the passes and waits for the one under way.
func (f *Finisher) Close() error {
	if f.stop != nil {
		f.stop()
	}
	f.wg.Wait()
	return nil
}

// Orphans is what the last pass found: keys no live process holds, with
// the records their journals still hold.
func (f *Finisher) Orphans() []Orphan {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Orphan(nil), f.orphans...)
}

// Pass looks at every registered wallet once. Errors are logged; the next
// pass tries again.
func (f *Finisher) Pass(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, f.cfg.RPCTimeout)
	wallets, err := f.jnl.Wallets(c)
	cancel()
	if err != nil {
		f.log.Warn().Err(err).Msg("pool pass: read wallets failed")
		return
	}
	now := f.cfg.Now()
	var orphans []Orphan
	for _, w := range wallets {
		if f.cfg.Own[w] || ctx.Err() != nil {
			delete(f.seen, w)
			continue
		}
		n, err := f.wallet(ctx, w, now)
		if err != nil {
			f.log.Warn().Err(err).Str("wallet", w).Msg("pool pass: orphaned journal not finished, will retry")
		}
		if n > 0 {
			orphans = append(orphans, Orphan{Wallet: w, Entries: n, Since: f.seen[w]})
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].Wallet < orphans[j].Wallet })
	f.mu.Lock()
	f.orphans = orphans
	f.mu.Unlock()
}

// wallet finishes what it can of one wallet's journal and returns how many
// records are left in it while nobody holds the key (0 when held).
func (f *Finisher) wallet(ctx context.Context, w string, now time.Time) (int, error) {
	c, cancel := context.WithTimeout(ctx, f.cfg.RPCTimeout)
	defer cancel()
	live, err := f.id.Live(c, w)
	if err != nil {
		return 0, err
	}
	if live {
		delete(f.seen, w)
		return 0, nil
	}
	// Only counted until the pool holds the key: reading decodes, and may
	// quarantine a record, which is the holder's to do.
	n, err := f.jnl.ForWallet(w, nil).JournalLen(c)
	if err != nil {
		return 0, fmt.Errorf("count orphaned journal: %w", err)
	}
	if n == 0 {
		delete(f.seen, w)
		return 0, nil
	}
	since, ok := f.seen[w]
	if !ok {
		f.seen[w] = now
		f.log.Warn().Str("wallet", w).Int("records", n).
			Msg("key held by no live process has unfinished transactions: the pool finishes them")
		return n, nil
	}
	// A holder alive would have renewed (and, had Redis lost the key,
	// restored) its lease within its renewal interval: only a key seen
	// unheld for longer than that is taken, so the pool never takes a key
	// from a live holder.
	if now.Sub(since) <= f.cfg.LeaseTTL/2 {
		return n, nil
	}
	l, err := lease.New(f.rdb, lease.Key(w), f.cfg.LeaseTTL)
	if err != nil {
		return n, err
	}
	got, err := l.TryAcquire(c)
	if err != nil || !got {
		return n, err // a process took the key up again: its business now
	}
	defer func() {
		rc, rcancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.RPCTimeout)
		defer rcancel()
		if err := l.Release(rc); err != nil {
			f.log.Warn().Err(err).Str("wallet", w).Msg("release of an orphaned key's lease failed; it expires")
		}
	}()
	// The records are read and settled behind the pool's own lease on the
	// key: a holder that came and went since the count may have changed
	// them, and no one can while the pool holds it.
	q := f.jnl.ForWallet(w, l)
	recs, err := q.Journal(c)
	if err != nil {
		return n, fmt.Errorf("read orphaned journal: %w", err)
	}
	return f.finish(c, q, w, recs, now.Sub(since))
}

// finish observes the chain for recs and carries out decideOrphan.
func (f *Finisher) finish(ctx context.Context, q *stream.Queue, w string, recs []stream.TxRecord, orphaned time.Duration) (int, error) {
	header, err := f.c.HeaderByNumber(ctx, nil)
	if err != nil {
		return len(recs), fmt.Errorf("read head: %w", err)
	}
	head := header.Number.Uint64()
	mined, _, err := f.c.Nonces(ctx, common.HexToAddress(w), header.Number)
	if err != nil {
		return len(recs), fmt.Errorf("read nonces: %w", err)
	}
	var hashes []common.Hash
	for _, r := range recs {
		for _, h := range r.Hashes {
			hashes = append(hashes, common.HexToHash(h))
		}
	}
	rcpts, err := f.c.Receipts(ctx, hashes)
	if err != nil {
		return len(recs), fmt.Errorf("read receipts: %w", err)
	}
	byHash := make(map[common.Hash]*types.Receipt, len(rcpts))
	for i, r := range rcpts {
		if r != nil && r.BlockNumber != nil {
			byHash[hashes[i]] = r
		}
	}
	pol := orphanPolicy{Confirmations: f.cfg.Confirmations, HandOnAfter: f.cfg.HandOnAfter}
	var settle []stream.Settled
	var confs []stream.Confirmation
	var done []uint64        // nonces of the records settled or handed on
	var claims []common.Hash // of the key's claims on the applications settled or handed on
	for _, r := range recs {
		var rc *types.Receipt
		for _, h := range r.Hashes {
			if x := byHash[common.HexToHash(h)]; x != nil {
				rc = x
			}
		}
		lostKey := fmt.Sprintf("%s/%d", w, r.Nonce)
		o := orphanObs{Head: head, MinedNonce: mined, Nonce: r.Nonce, LostSince: f.lost[lostKey], Orphaned: orphaned}
		if rc != nil {
			o.Mined, o.Success, o.Block = true, rc.Status == types.ReceiptStatusSuccessful, rc.BlockNumber.Uint64()
		}
		act, lostSince := decideOrphan(pol, o)
		if lostSince != 0 {
			f.lost[lostKey] = lostSince
		} else {
			delete(f.lost, lostKey)
		}
		if act == orphanWait {
			continue
		}
		var pid common.Hash
		var outcomes map[common.Hash]batch.Outcome
		if act == orphanSettle && r.Kind == stream.KindBatch {
			outcomes = batch.Outcomes(f.cfg.BatchContract, rc)
		} else if act == orphanSettle && f.cfg.Product != nil {
			pid, _ = f.cfg.Product.ProcessID(rc)
		}
		done = append(done, r.Nonce)
		delete(f.lost, lostKey)
		log := f.log.With().Str("wallet", w).Uint64("nonce", r.Nonce).Logger()
		for _, a := range decideApps(act, r, f.sigHashes(r), pid, outcomes) {
			claims = append(claims, a.SigHash)
			alog := log.With().Str("entry", a.App.EntryID).Str("entityId", a.App.EntityID).Logger()
			if !a.Confirm {
				alog.Warn().Str("why", handOnWhy(o, r.Kind)).Msg("orphaned key's application will not complete: entry handed back to the pool")
				continue
			}
			if a.App.EntryID == "" {
				continue
			}
			settle = append(settle, stream.Settled{EntryID: a.App.EntryID, EntityID: a.App.EntityID})
			confs = append(confs, stream.Confirmation{EntityID: a.App.EntityID, EntryID: a.App.EntryID, TxHash: rc.TxHash,
				Block: rc.BlockNumber.Uint64(), ProcessID: a.ProcessID})
			alog.Info().Str("mined_tx", rc.TxHash.Hex()).Msg("orphaned key's application confirmed by the pool, entry acknowledged")
		}
	}
	// As the relay settles: outcome recorded, then the ack, then the
	// records; a crash in between repeats idempotent steps.
	if f.cfg.Status != nil && len(confs) > 0 {
		if err := f.cfg.Status.Confirmed(ctx, confs...); err != nil {
			return len(recs), fmt.Errorf("record confirmations: %w", err)
		}
	}
	if err := q.Ack(ctx, settle...); err != nil {
		return len(recs), err
	}
	if err := q.Forget(ctx, done...); err != nil {
		return len(recs), err
	}
	// The key's claims go last: a crash before leaves claims whose entries
	// are acknowledged or unjournaled, which are stale and taken over.
	if err := q.ReleaseOwners(ctx, w, nonZero(claims)...); err != nil {
		f.log.Warn().Err(err).Str("wallet", w).Msg("release of an orphaned key's claims failed; they are stale now")
	}
	return len(recs) - len(done), nil
}

// sigHashes are the claim keys (keccak256 of each signature) of the
// applications a record's transaction carries, in its order: the batch's
// calldata (batch.Decode) for a batch, the product call (with Product) for
// a single application. nil when they cannot be read (a gap fill, no
// product, an undecodable transaction): decideApps then releases no claim
// and confirms no application of a batch.
func (f *Finisher) sigHashes(r stream.TxRecord) []common.Hash {
	if len(r.Applications()) == 0 {
		return nil
	}
	tx, err := chain.DecodeRawTx(r.RawTx)
	if err != nil {
		return nil
	}
	if r.Kind == stream.KindBatch {
		apps, _, err := batch.Decode(tx.Data())
		if err != nil {
			return nil
		}
		out := make([]common.Hash, len(apps))
		for i, a := range apps {
			out[i] = crypto.Keccak256Hash(a.Signature)
		}
		return out
	}
	if f.cfg.Product == nil {
		return nil
	}
	sig, err := f.cfg.Product.SignatureOf(tx.Data())
	if err != nil {
		return nil
	}
	return []common.Hash{crypto.Keccak256Hash(sig)}
}

func nonZero(hs []common.Hash) []common.Hash {
	out := hs[:0:0]
	for _, h := range hs {
		if h != (common.Hash{}) {
			out = append(out, h)
		}
	}
	return out
}

func handOnWhy(o orphanObs, kind string) string {
	switch {
	case o.Mined && o.Success && kind == stream.KindBatch:
		return "no ApplicationApplied event for it in the batch"
	case o.Mined:
		return "reverted"
	case o.Nonce < o.MinedNonce:
		return "nonce taken by another transaction"
	}
	return "not mined within ORPHAN_HANDOFF_AFTER"
}
