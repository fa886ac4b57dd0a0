package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

// flightLine is one journal record as the inflight subcommand prints it.
type flightLine struct {
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
	Applications []flightApp `json:"applications,omitempty"`
}

// flightApp is one application of a batch in flight.
type flightApp struct {
	EntityID string `json:"entityId"`
	EntryID  string `json:"entryId"`
}

// inflightReport is every key's journal with what the node says of its
// wallet: Flights lists the records of all keys, each with its wallet.
type inflightReport struct {
	Header statusHeader `json:"header"`
	// Wallet is the first key's.
	Wallet  string        `json:"wallet"`
	Keys    []inflightKey `json:"keys"`
	Flights []flightLine  `json:"flights"`
}

// inflightKey is one key's journal size and the node's nonces of it.
type inflightKey struct {
	Wallet       string  `json:"wallet"`
	Records      int     `json:"records"`
	MinedNonce   *uint64 `json:"minedNonce,omitempty"`
	PendingNonce *uint64 `json:"pendingNonce,omitempty"`
}

// inflightCmd lists every key's journal, one line per nonce: its wallet,
// its age since signing, the fees of the transaction the node accepted,
// what the node says of it (mined in which block, in its pool, or not
// known) and every hash signed for the nonce, the current one first.
func (e *opsEnv) inflightCmd(ctx context.Context, out io.Writer, asJSON bool) error {
	rep := inflightReport{Header: e.header(ctx), Wallet: e.wallet().Hex(), Keys: []inflightKey{}, Flights: []flightLine{}}
	now := e.now()
	for _, k := range e.keys {
		flights, err := inspect.Journal(ctx, e.rdb, k.queue.JournalKey())
		if err != nil {
			return err
		}
		ik := inflightKey{Wallet: k.wallet.Hex(), Records: len(flights)}
		c, cancel := e.rpcCtx(ctx)
		mined, pending, nerr := e.client.Nonces(c, k.wallet, nil)
		cancel()
		if nerr == nil {
			ik.MinedNonce, ik.PendingNonce = &mined, &pending
		}
		rep.Keys = append(rep.Keys, ik)
		var hashes []common.Hash
		for _, f := range flights {
			hashes = append(hashes, f.Hashes()...)
		}
		receipts := map[common.Hash]*types.Receipt{}
		if len(hashes) > 0 {
			c, cancel := e.rpcCtx(ctx)
			rs, err := e.client.Receipts(c, hashes)
			cancel()
			if err != nil {
				return fmt.Errorf("receipts of %s's journal: %w", k.wallet.Hex(), err)
			}
			for i, r := range rs {
				if r != nil {
					receipts[hashes[i]] = r
				}
			}
		}
		for _, f := range flights {
			l := flightOf(f, now, receipts, ik.MinedNonce, ik.PendingNonce)
			l.Wallet = ik.Wallet
			rep.Flights = append(rep.Flights, l)
		}
	}
	if asJSON {
		return writeJSON(out, rep)
	}
	return writeInflight(out, rep)
}

// flightOf describes one record; mined and pending are the node's nonces
// (nil when the node did not answer).
func flightOf(f inspect.Flight, now time.Time, receipts map[common.Hash]*types.Receipt, mined, pending *uint64) flightLine {
	l := flightLine{Nonce: f.Field, Unreadable: f.Unreadable}
	if f.Unreadable != "" {
		l.Node = "unreadable"
		return l
	}
	r := f.Record
	l.EntityID, l.EntryID, l.Kind, l.Next = r.EntityID, r.EntryID, r.Kind, r.NextRawTx != ""
	if r.Kind == stream.KindBatch {
		for _, a := range r.Applications() {
			l.Applications = append(l.Applications, flightApp{EntityID: a.EntityID, EntryID: a.EntryID})
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

// writeInflight prints one line per key, then one line per nonce with its
// key's wallet.
func writeInflight(out io.Writer, r inflightReport) error {
	writeHeader(out, r.Header)
	if len(r.Keys) == 0 {
		_, err := fmt.Fprintln(out, "no key: none is registered in Redis (set PROCESSOR_MNEMONIC and PROCESSOR_ACCOUNT_INDEX to name them)")
		return err
	}
	t := newTable(out, "WALLET", "IN JOURNAL", "NODE")
	for _, k := range r.Keys {
		node := "unknown (node did not answer)"
		if k.MinedNonce != nil && k.PendingNonce != nil {
			node = fmt.Sprintf("mined nonce %d, pending nonce %d", *k.MinedNonce, *k.PendingNonce)
		}
		t.row(k.Wallet, strconv.Itoa(k.Records), node)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if len(r.Flights) == 0 {
		_, err := fmt.Fprintln(out, "nothing in flight")
		return err
	}
	t = newTable(out, "WALLET", "NONCE", "AGE", "ENTITYID", "MAX FEE", "TIP", "GAS", "NODE", "HASHES (CURRENT FIRST)")
	for _, f := range r.Flights {
		if f.Unreadable != "" {
			t.row(f.Wallet, f.Nonce, "", "", "", "", "", "unreadable", f.Unreadable)
			continue
		}
		age := ""
		if f.AgeSeconds != nil {
			age = (time.Duration(*f.AgeSeconds) * time.Second).String()
		}
		entity := f.EntityID
		switch {
		case f.Kind == stream.KindBatch:
			entity = fmt.Sprintf("batch of %d", len(f.Applications))
		case f.Kind != "":
			entity = f.Kind
		}
		gas := ""
		if f.Gas != 0 {
			gas = strconv.FormatUint(f.Gas, 10)
		}
		hashes := strings.Join(f.Hashes, " ")
		if f.Next {
			hashes += " (replacement pending)"
		}
		t.row(f.Wallet, f.Nonce, age, entity, f.MaxFeeGwei, f.TipGwei, gas, f.Node, hashes)
		for i, a := range f.Applications { // a batch's, one row each under it
			t.row("", "", "", fmt.Sprintf("%s %s", inspect.Place{Index: i, Size: len(f.Applications)}, a.EntityID), "", "", "", "", "")
		}
	}
	return t.flush()
}
