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
)

// flightLine is one journal record as the inflight subcommand prints it.
type flightLine struct {
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
}

// inflightReport is the journal with what the node says of the wallet.
type inflightReport struct {
	Wallet       string       `json:"wallet"`
	MinedNonce   *uint64      `json:"minedNonce,omitempty"`
	PendingNonce *uint64      `json:"pendingNonce,omitempty"`
	Flights      []flightLine `json:"flights"`
}

// inflightCmd lists the journal, one line per nonce: its age since signing,
// the fees of the transaction the node accepted, what the node says of it
// (mined in which block, in its pool, or not known) and every hash signed
// for the nonce, the current one first.
func (e *opsEnv) inflightCmd(ctx context.Context, out io.Writer, asJSON bool) error {
	flights, err := e.journal(ctx)
	if err != nil {
		return err
	}
	rep := inflightReport{Wallet: e.wallet.Hex(), Flights: []flightLine{}}
	c, cancel := e.rpcCtx(ctx)
	mined, pending, nerr := e.client.Nonces(c, e.wallet, nil)
	cancel()
	if nerr == nil {
		rep.MinedNonce, rep.PendingNonce = &mined, &pending
	}
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
			return fmt.Errorf("receipts of the journal's transactions: %w", err)
		}
		for i, r := range rs {
			if r != nil {
				receipts[hashes[i]] = r
			}
		}
	}
	now := e.now()
	for _, f := range flights {
		rep.Flights = append(rep.Flights, flightOf(f, now, receipts, rep.MinedNonce, rep.PendingNonce))
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
	if !r.SignedAt.IsZero() {
		l.SignedAt = r.SignedAt.UTC().Format(time.RFC3339)
		a := int64(f.Age(now) / time.Second)
		l.AgeSeconds = &a
	}
	if f.Tx != nil {
		l.MaxFeeGwei, l.TipGwei, l.Gas = gweiString(f.Tx.GasFeeCap()), gweiString(f.Tx.GasTipCap()), f.Tx.Gas()
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

// writeInflight prints one line per nonce.
func writeInflight(out io.Writer, r inflightReport) error {
	node := "unknown"
	if r.MinedNonce != nil && r.PendingNonce != nil {
		node = fmt.Sprintf("mined nonce %d, pending nonce %d", *r.MinedNonce, *r.PendingNonce)
	}
	fmt.Fprintf(out, "wallet %s: %d in the journal; node: %s\n\n", r.Wallet, len(r.Flights), node)
	if len(r.Flights) == 0 {
		return nil
	}
	t := newTable(out, "NONCE", "AGE", "ENTITYID", "MAX FEE", "TIP", "GAS", "NODE", "HASHES (CURRENT FIRST)")
	for _, f := range r.Flights {
		if f.Unreadable != "" {
			t.row(f.Nonce, "", "", "", "", "", "unreadable", f.Unreadable)
			continue
		}
		age := ""
		if f.AgeSeconds != nil {
			age = (time.Duration(*f.AgeSeconds) * time.Second).String()
		}
		entity := f.EntityID
		if f.Kind != "" {
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
		t.row(f.Nonce, age, entity, f.MaxFeeGwei, f.TipGwei, gas, f.Node, hashes)
	}
	return t.flush()
}
