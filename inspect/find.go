package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/oklog/ulid/v2"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// StatusReader tells what became of one application; *intake.Service has
// it. Finder reuses it so the console, the CLI and GET
// /api/application/{entityId} give one answer.
type StatusReader interface {
	Status(ctx context.Context, entityID string) (intake.Status, error)
}

// HolderIndex lists the applications indexed under a policy holder;
// *stream.StatusStore has it. (intake.Service.Pending would also do, but it
// prunes the index as it reads, and a look must write nothing.)
type HolderIndex interface {
	Holder(ctx context.Context, holder common.Address, limit int) ([]string, error)
}

// DeadLetterReader pages the dead-letter stream; *stream.Queue has it.
type DeadLetterReader interface {
	DeadLetters(ctx context.Context, before string, count int64) ([]stream.DeadLetterEntry, error)
}

// Chain is what a transaction look-up asks of the node; *chain.Client has
// it. Batches answer nil for a hash the node does not know.
type Chain interface {
	BlockNumber(ctx context.Context) (uint64, error)
	Receipts(ctx context.Context, hashes []common.Hash) ([]*types.Receipt, error)
	TransactionsByHash(ctx context.Context, hashes []common.Hash) ([]*types.Transaction, error)
}

// Finder finds applications by entityId, transaction hash or policy holder.
// Status is required; every other source is optional and, when missing, is
// simply not asked. Safe for concurrent use once built.
type Finder struct {
	Status  StatusReader
	Holders HolderIndex
	// DeadLetters finds rejected applications of a policy holder and the
	// application of a reverted transaction.
	DeadLetters DeadLetterReader
	// Journal finds the application of a transaction in flight.
	Journal func(ctx context.Context) ([]Flight, error)
	// Recent finds the application of a transaction confirmed lately by this
	// process (the console's list).
	Recent func() []monitor.Confirmation
	// Chain, Product and Wallet tell what the node knows of a transaction
	// found nowhere else: whether it is mined, whose it is, which policy
	// holder it applied for.
	Chain   Chain
	Product common.Address
	Wallet  common.Address
	// Pool are the other keys' wallets: a transaction from any of them is
	// the relay's too.
	Pool []common.Address
	// RPCTimeout bounds each node call; default 10 s.
	RPCTimeout time.Duration
}

// Kinds of query.
const (
	KindEntity      = "entityId"
	KindTransaction = "transaction"
	KindAddress     = "address"
)

// ErrQuery marks a query that is none of an entityId (a ULID), a
// transaction hash (0x and 64 hex digits) or an address (0x and 40).
var ErrQuery = errors.New("not an entityId, a transaction hash or an address")

// Result is what a query found. Applications are newest first; none and no
// Transaction means nothing is known of the query.
type Result struct {
	Query        string          `json:"query"`
	Kind         string          `json:"kind"`
	Applications []intake.Status `json:"applications"`
	Transaction  *Transaction    `json:"transaction,omitempty"`
}

// Found reports whether anything is known of the query.
func (r Result) Found() bool { return len(r.Applications) > 0 || r.Transaction != nil }

// Transaction is what the journal and the node tell of a transaction hash.
type Transaction struct {
	Hash string `json:"hash"`
	// State: "in flight" (in the journal, not yet final), "mined", "in the
	// node's pool" or "unknown to the node".
	State         string  `json:"state"`
	Nonce         *uint64 `json:"nonce,omitempty"`
	Block         uint64  `json:"block,omitempty"`
	Confirmations uint64  `json:"confirmations,omitempty"`
	Succeeded     *bool   `json:"succeeded,omitempty"`
	From          string  `json:"from,omitempty"`
	// Ours: sent from the relay's wallet.
	Ours         bool   `json:"ours"`
	PolicyHolder string `json:"policyHolder,omitempty"`
	SignatureID  string `json:"signatureId,omitempty"`
	ProcessID    string `json:"processId,omitempty"`
	// BatchSize and Batch are set for a batch transaction (issue 22): how
	// many applications it carries (from the journal, or its calldata),
	// and, as the node tells them, each one with its outcome once mined.
	BatchSize int                `json:"batchSize,omitempty"`
	Batch     []BatchApplication `json:"batch,omitempty"`
}

var (
	txHashRe  = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	addressRe = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

// Classify names the kind of a query, or "" for none.
func Classify(q string) string {
	switch {
	case txHashRe.MatchString(q):
		return KindTransaction
	case addressRe.MatchString(q):
		return KindAddress
	}
	if _, err := ulid.ParseStrict(q); err == nil {
		return KindEntity
	}
	return ""
}

// Bounds of one look-up: a policy holder with a huge index, or a long
// dead-letter stream, must not make a query unbounded.
const (
	maxApplications = 50
	deadLetterScan  = 500
)

// Find answers a query. Errors are Redis's or the node's (wrapped), or
// ErrQuery; "nothing found" is a Result with Found() false.
func (f *Finder) Find(ctx context.Context, query string) (Result, error) {
	q := strings.TrimSpace(query)
	res := Result{Query: q, Kind: Classify(q), Applications: []intake.Status{}}
	var ids []string
	var err error
	places := map[string]Place{} // of the applications in a batch transaction
	switch res.Kind {
	case KindEntity:
		ids = []string{strings.ToUpper(q)}
	case KindAddress:
		ids, err = f.byHolder(ctx, common.HexToAddress(q))
	case KindTransaction:
		ids, res.Transaction, err = f.byTransaction(ctx, common.HexToHash(q), places)
	default:
		return res, ErrQuery
	}
	if err != nil {
		return res, err
	}
	if res.Kind != KindTransaction && f.Journal != nil {
		flights, err := f.Journal(ctx)
		if err != nil {
			return res, err
		}
		maps.Copy(places, BatchPlaces(flights))
	}
	statuses, err := f.statuses(ctx, ids)
	if err != nil {
		return res, err
	}
	placeStatuses(statuses, places)
	res.Applications = statuses
	return res, nil
}

// statuses reads each application's status, dropping those no trace is
// left of, newest first (ULIDs sort by time).
func (f *Finder) statuses(ctx context.Context, ids []string) ([]intake.Status, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	slices.Reverse(ids)
	out := []intake.Status{}
	for _, id := range ids[:min(len(ids), maxApplications)] {
		st, err := f.Status.Status(ctx, id)
		switch {
		case errors.Is(err, intake.ErrNotFound), errors.Is(err, intake.ErrBadEntityID):
			continue
		case err != nil:
			return nil, fmt.Errorf("status of %s: %w", id, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// byHolder lists the applications indexed under holder, plus those of its
// recent dead letters (an application rejected before the index existed,
// or one whose index entry expired).
func (f *Finder) byHolder(ctx context.Context, holder common.Address) ([]string, error) {
	var ids []string
	if f.Holders != nil {
		got, err := f.Holders.Holder(ctx, holder, 10*maxApplications)
		if err != nil {
			return nil, fmt.Errorf("applications of %s: %w", holder.Hex(), err)
		}
		ids = append(ids, got...)
	}
	if f.DeadLetters != nil {
		dls, err := f.DeadLetters.DeadLetters(ctx, "", deadLetterScan)
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", holder.Hex(), err)
		}
		for _, d := range dls {
			if h := d.Fields[stream.FieldPolicyHolder]; d.EntityID != "" && strings.EqualFold(h, holder.Hex()) {
				ids = append(ids, d.EntityID)
			}
		}
	}
	return ids, nil
}

// byTransaction finds the applications a transaction hash carries (every
// one of a batch): in the journal (in flight), among this process's recent
// confirmations, in the dead letters (a reverted transaction), and finally
// on the node, whose answer names the policy holders, whose indexed
// applications are then matched by their transactionHash. It adds to
// places where each application of a batch sits in it.
func (f *Finder) byTransaction(ctx context.Context, hash common.Hash, places map[string]Place) ([]string, *Transaction, error) {
	tx := &Transaction{Hash: hash.Hex(), State: "unknown to the node"}
	var ids []string
	if f.Journal != nil {
		flights, err := f.Journal(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, fl := range flights {
			if slices.Contains(fl.Hashes(), hash) {
				n := fl.Record.Nonce
				tx.State, tx.Nonce, tx.Ours = "in flight", &n, true
				for _, a := range fl.Record.Applications() {
					if a.EntityID != "" {
						ids = append(ids, a.EntityID)
					}
				}
				if fl.Record.Kind == stream.KindBatch {
					tx.BatchSize = len(fl.Record.Applications())
				}
			}
		}
		maps.Copy(places, BatchPlaces(flights))
	}
	if f.Recent != nil {
		for _, c := range f.Recent() {
			if strings.EqualFold(c.TxHash, hash.Hex()) && c.EntityID != "" {
				ids = append(ids, c.EntityID)
			}
		}
	}
	if f.DeadLetters != nil {
		dls, err := f.DeadLetters.DeadLetters(ctx, "", deadLetterScan)
		if err != nil {
			return nil, nil, fmt.Errorf("dead letters of %s: %w", hash.Hex(), err)
		}
		for _, d := range dls {
			if strings.EqualFold(d.TxHash, hash.Hex()) && d.EntityID != "" {
				ids = append(ids, d.EntityID)
			}
		}
	}
	if f.Chain == nil {
		if tx.State == "in flight" {
			return ids, tx, nil
		}
		return ids, nil, nil
	}
	if err := f.fromNode(ctx, hash, tx); err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 && f.Holders != nil {
		found, err := f.byHolders(ctx, hash, tx, places)
		if err != nil {
			return nil, nil, err
		}
		ids = found
	}
	if len(ids) == 0 && tx.State == "unknown to the node" {
		return nil, nil, nil
	}
	return ids, tx, nil
}

// byHolders finds the applications of a transaction the node knows by
// their policy holders' indexed applications whose transactionHash is
// hash: the one holder of a single application, each distinct holder of a
// batch (a holder with one application in it also gives its place).
func (f *Finder) byHolders(ctx context.Context, hash common.Hash, tx *Transaction, places map[string]Place) ([]string, error) {
	var holders []string
	count := map[string]int{}
	index := map[string]int{}
	if tx.PolicyHolder != "" {
		holders = append(holders, tx.PolicyHolder)
	}
	for _, a := range tx.Batch {
		if count[a.PolicyHolder] == 0 {
			holders = append(holders, a.PolicyHolder)
		}
		count[a.PolicyHolder]++
		index[a.PolicyHolder] = a.Index
	}
	var ids []string
	for _, h := range holders[:min(len(holders), maxApplications)] {
		cands, err := f.Holders.Holder(ctx, common.HexToAddress(h), 10*maxApplications)
		if err != nil {
			return nil, fmt.Errorf("applications of %s: %w", h, err)
		}
		for _, id := range cands {
			st, err := f.Status.Status(ctx, id)
			if err != nil || !strings.EqualFold(st.TransactionHash, hash.Hex()) {
				continue
			}
			ids = append(ids, id)
			if count[h] == 1 {
				places[id] = Place{Index: index[h], Size: len(tx.Batch), Hashes: []common.Hash{hash}}
			}
		}
	}
	return ids, nil
}

// fromNode fills tx with what the node says: its receipt, its sender and
// the application its input carries.
func (f *Finder) fromNode(ctx context.Context, hash common.Hash, tx *Transaction) error {
	c, cancel := f.rpcCtx(ctx)
	defer cancel()
	txs, err := f.Chain.TransactionsByHash(c, []common.Hash{hash})
	if err != nil {
		return fmt.Errorf("look up transaction %s: %w", hash.Hex(), err)
	}
	if txs[0] == nil {
		return nil
	}
	t := txs[0]
	if tx.State != "in flight" {
		tx.State = "in the node's pool"
	}
	if from, err := types.Sender(types.LatestSignerForChainID(t.ChainId()), t); err == nil {
		tx.From = from.Hex()
		tx.Ours = tx.Ours || (f.Wallet != common.Address{} && from == f.Wallet) || slices.Contains(f.Pool, from)
	}
	if holder, sigID, ok := decodeApply(t, f.Product); ok {
		tx.PolicyHolder, tx.SignatureID = holder.Hex(), sigID
	}
	rcpts, err := f.Chain.Receipts(c, []common.Hash{hash})
	if err != nil {
		return fmt.Errorf("look up receipt of %s: %w", hash.Hex(), err)
	}
	r := rcpts[0]
	if apps, ok := decodeBatch(t, r); ok {
		tx.Batch, tx.BatchSize = apps, len(apps)
	}
	if r == nil || r.BlockNumber == nil {
		return nil
	}
	tx.State, tx.Block = "mined", r.BlockNumber.Uint64()
	ok := r.Status == types.ReceiptStatusSuccessful
	tx.Succeeded = &ok
	if pid, found := chain.NewProduct(f.Product).ProcessID(r); found && tx.Batch == nil { // a batch's are in Batch
		tx.ProcessID = pid.Hex()
	}
	head, err := f.Chain.BlockNumber(c)
	if err != nil {
		return fmt.Errorf("read head: %w", err)
	}
	if head >= tx.Block {
		tx.Confirmations = head - tx.Block + 1
	}
	return nil
}

func (f *Finder) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := f.RPCTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// decodeApply reads the policy holder and signatureId of an
// applyForPolicyWithBundleAndSignature call to product.
func decodeApply(t *types.Transaction, product common.Address) (common.Address, string, bool) {
	a, ok := chain.NewProduct(product).AppliedBy(t)
	if !ok {
		return common.Address{}, "", false
	}
	return a.PolicyHolder, string(bytes.TrimRight(a.SignatureID[:], "\x00")), true
}
