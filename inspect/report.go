package inspect

import (
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// The reports of the on-call's status and inflight subcommands, built here
// from what Redis and the node answered, so that cmd/processor only reads
// and prints (issue 20). Every function is pure.

// NotReported is what status says of a key's live figures when no running
// process reports them (none relays the key, or Redis lost the report).
const NotReported = "unknown (no running process reports this key)"

// KeyStatus is one key of the pool: its wallet, balance (exact, in ETH),
// who holds its lease, its journal and what the node says of its nonces.
type KeyStatus struct {
	Wallet     string `json:"wallet"`
	BalanceEth string `json:"balanceEth,omitempty"`
	// Runway and NodeWindow are what the process relaying the key knows
	// from its own memory (its spend, the window it learnt from the node),
	// as it last recorded them (stream.LiveStore); NotReported when no
	// running process reports the key.
	Runway     string `json:"runway"`
	NodeWindow string `json:"nodeWindow"`
	Lease      string `json:"lease"`
	// InFlight counts the journal's readable records (transactions);
	// InFlightApplications the applications they carry, which a batch
	// makes more.
	InFlight             int     `json:"inFlight"`
	InFlightApplications int     `json:"inFlightApplications"`
	MinedNonce           *uint64 `json:"minedNonce,omitempty"`
	PendingNonce         *uint64 `json:"pendingNonce,omitempty"`
}

// KeyObs is what one read of a key returned: its journal, its lease key's
// value ("" when unset), and the node's answers (nil where it did not
// answer).
type KeyObs struct {
	Wallet         common.Address
	Flights        []Flight
	LeaseToken     string
	Balance        *big.Int
	Mined, Pending *uint64
	Live           *monitor.KeyReport // the key's running process's report; nil when none reports it
}

// NewKeyStatus is the status of one key from what was read of it.
func NewKeyStatus(o KeyObs) KeyStatus {
	ks := KeyStatus{Wallet: o.Wallet.Hex(), Runway: NotReported, NodeWindow: NotReported,
		MinedNonce: o.Mined, PendingNonce: o.Pending}
	for _, f := range o.Flights {
		if f.Unreadable == "" {
			ks.InFlight++
			ks.InFlightApplications += len(f.Record.Applications())
		}
	}
	ks.Lease = LeaseText(o.LeaseToken, len(o.Flights))
	if o.Balance != nil {
		ks.BalanceEth = monitor.FormatEth(o.Balance)
	}
	if o.Live != nil {
		ks.Runway, ks.NodeWindow = RunwayText(*o.Live), WindowText(*o.Live)
	}
	return ks
}

// SumInFlight is the pool's journaled records.
func SumInFlight(ks []KeyStatus) int {
	n := 0
	for _, k := range ks {
		n += k.InFlight
	}
	return n
}

// LeaseText says who holds a key: the holder's host and pid (its token
// without the random part, which is the fence's), or nobody, and then
// whether records wait in its journal (an orphaned key: the pool's
// finisher settles them).
func LeaseText(token string, journaled int) string {
	if holder, held := lease.HolderOf(token); held {
		if holder != "" {
			return "held by " + holder
		}
		return "held"
	}
	if journaled > 0 {
		return fmt.Sprintf("not held, %d in its journal (orphaned: the pool finishes them)", journaled)
	}
	return "not held"
}

// RunwayText is a key's runway as its relaying process reports it.
func RunwayText(k monitor.KeyReport) string {
	if k.Runway == "" {
		return "unknown"
	}
	return k.Runway
}

// WindowText is a key's node window: how many of its unmined transactions
// the node holds, of how many the relay keeps outstanding.
func WindowText(k monitor.KeyReport) string {
	if k.NodeHeld == nil || k.NodeWindow == nil {
		return "unknown"
	}
	return fmt.Sprintf("node holds %d of %d", *k.NodeHeld, *k.NodeWindow)
}

// FlightLine is one journal record as the inflight subcommand shows it.
type FlightLine struct {
	Wallet     string   `json:"wallet"`
	Nonce      string   `json:"nonce"`
	EntityID   string   `json:"entityId,omitempty"`
	EntryID    string   `json:"entryId,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	SignedAt   string   `json:"signedAt,omitempty"`
	AgeSeconds *int64   `json:"ageSeconds,omitempty"`
	MaxFeeGwei string   `json:"maxFeeGwei,omitempty"`
	TipGwei    string   `json:"tipGwei,omitempty"`
	Gas        uint64   `json:"gas,omitempty"`
	Node       string   `json:"node"`
	Current    string   `json:"current,omitempty"`
	Hashes     []string `json:"hashes,omitempty"`
	// Next is a replacement signed and not yet answered (nextRawTx).
	Next       bool   `json:"replacementPending,omitempty"`
	Unreadable string `json:"unreadable,omitempty"`
	// Applications are those a batch transaction carries, in its order
	// (Kind "batch"; entityId and entryId are then empty).
	Applications []FlightApp `json:"applications,omitempty"`
}

// FlightApp is one application of a batch in flight.
type FlightApp struct {
	EntityID string `json:"entityId"`
	EntryID  string `json:"entryId"`
}

// DescribeFlight describes one record of wallet's journal: receipts are
// the node's of the record's hashes (absent: none), mined and pending the
// node's nonces of the wallet (nil when the node did not answer).
func DescribeFlight(wallet string, f Flight, now time.Time, receipts map[common.Hash]*types.Receipt, mined, pending *uint64) FlightLine {
	l := FlightLine{Wallet: wallet, Nonce: f.Field, Unreadable: f.Unreadable}
	if f.Unreadable != "" {
		l.Node = "unreadable"
		return l
	}
	r := f.Record
	l.EntityID, l.EntryID, l.Kind, l.Next = r.EntityID, r.EntryID, r.Kind, r.NextRawTx != ""
	if r.Kind == stream.KindBatch {
		for _, a := range r.Applications() {
			l.Applications = append(l.Applications, FlightApp{EntityID: a.EntityID, EntryID: a.EntryID})
		}
	}
	if !r.SignedAt.IsZero() {
		l.SignedAt = r.SignedAt.UTC().Format(time.RFC3339)
		a := int64(f.Age(now) / time.Second)
		l.AgeSeconds = &a
	}
	if f.Tx != nil {
		l.MaxFeeGwei, l.TipGwei, l.Gas = monitor.FormatGwei(f.Tx.GasFeeCap()), monitor.FormatGwei(f.Tx.GasTipCap()), f.Tx.Gas()
	}
	for i, h := range f.Hashes() {
		if i == 0 {
			l.Current = h.Hex()
		}
		l.Hashes = append(l.Hashes, h.Hex())
		if rc, ok := receipts[h]; ok && l.Node == "" {
			outcome := "succeeded"
			if rc.Status != types.ReceiptStatusSuccessful {
				outcome = "reverted"
			}
			l.Node = fmt.Sprintf("mined in block %d (%s)", rc.BlockNumber.Uint64(), outcome)
			if i > 0 {
				l.Node += " as " + h.Hex()
			}
		}
	}
	if l.Node == "" {
		switch {
		case mined == nil || pending == nil:
			l.Node = "unknown (node did not answer)"
		case r.Nonce < *mined:
			l.Node = "nonce used, none of its hashes mined"
		case r.Nonce < *pending:
			l.Node = "in the node's pool"
		default:
			l.Node = "not in the node's pool"
		}
	}
	return l
}
