package oncall

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
	"github.com/etherisc/depeg-relay/stream"
)

// inflightReport is every key's journal with what the node says of its
// wallet: Flights lists the records of all keys, each with its wallet.
type inflightReport struct {
	Header statusHeader `json:"header"`
	// Wallet is the first key's.
	Wallet  string               `json:"wallet"`
	Keys    []inflightKey        `json:"keys"`
	Flights []inspect.FlightLine `json:"flights"`
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
	rep := inflightReport{Header: e.header(ctx), Wallet: e.wallet().Hex(), Keys: []inflightKey{}, Flights: []inspect.FlightLine{}}
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
			rep.Flights = append(rep.Flights, inspect.DescribeFlight(ik.Wallet, f, now, receipts, ik.MinedNonce, ik.PendingNonce))
		}
	}
	if asJSON {
		return writeJSON(out, rep)
	}
	return writeInflight(out, rep)
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
