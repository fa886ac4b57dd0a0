package oncall

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// appCmd answers what became of an application, found by its entityId, a
// transaction hash or its policy holder: the same look-up as the console's
// search box, with the same status answer as GET /api/application/{entityId}.
func (e *opsEnv) appCmd(ctx context.Context, query string, out io.Writer, asJSON bool) error {
	product := chain.NewProduct(e.cfg.DepegProductAddress)
	// Only Status is used: it reads the status record, the live hash and
	// the dead letters. The publisher is never asked to publish.
	svc := intake.New(intake.Config{Product: product, From: e.wallet(), RPCTimeout: e.cfg.RPCTimeout, BatchContract: e.cfg.BatchContract}, zerolog.Nop(),
		e.client, stream.NewPublisher(e.rdb, e.cfg.StreamKey, stream.PublishOptions{}), e.status, e.queue, nil)
	// Every key's journal, and every key's wallet as the relay's.
	var pool []common.Address
	for _, k := range e.keys {
		pool = append(pool, k.wallet)
	}
	journals := func(ctx context.Context) ([]inspect.Flight, error) {
		wfs, err := e.journals(ctx)
		out := make([]inspect.Flight, len(wfs))
		for i, f := range wfs {
			out[i] = f.Flight
		}
		return out, err
	}
	f := &inspect.Finder{
		Status: svc, Holders: e.status, DeadLetters: e.queue, Journal: journals,
		Chain: e.client, Product: e.cfg.DepegProductAddress, Wallet: e.wallet(), Pool: pool, RPCTimeout: e.cfg.RPCTimeout,
	}
	res, err := f.Find(ctx, query)
	if err != nil {
		return err
	}
	if asJSON {
		err = writeJSON(out, res)
	} else {
		err = writeApp(out, res)
	}
	if err != nil {
		return err
	}
	if !res.Found() {
		return errNothing
	}
	return nil
}

// writeApp prints the transaction (for a hash), then one line per
// application.
func writeApp(out io.Writer, r inspect.Result) error {
	if tx := r.Transaction; tx != nil {
		t := newTable(out)
		t.row("transaction", tx.Hash)
		state := tx.State
		if tx.Succeeded != nil {
			state += map[bool]string{true: ", succeeded", false: ", reverted"}[*tx.Succeeded]
		}
		t.row("state", state)
		if tx.Nonce != nil {
			t.row("nonce", strconv.FormatUint(*tx.Nonce, 10))
		}
		if tx.Block != 0 {
			t.row("block", fmt.Sprintf("%d (%d confirmations)", tx.Block, tx.Confirmations))
		}
		if tx.From != "" {
			t.row("from", tx.From+map[bool]string{true: " (the relay's wallet)", false: ""}[tx.Ours])
		}
		if tx.PolicyHolder != "" {
			t.row("policy holder", tx.PolicyHolder)
			t.row("signatureId", tx.SignatureID)
		}
		if tx.ProcessID != "" {
			t.row("processId", tx.ProcessID)
		}
		if tx.BatchSize > 0 {
			t.row("batch", fmt.Sprintf("%d applications", tx.BatchSize))
		}
		for _, a := range tx.Batch {
			outcome := a.Outcome
			if a.ProcessID != "" {
				outcome += " " + a.ProcessID
			}
			if a.Reason != "" {
				outcome += " " + a.Reason
			}
			t.row("", fmt.Sprintf("%s %s %s %s", inspect.Place{Index: a.Index, Size: len(tx.Batch)}, a.PolicyHolder,
				a.SignatureID, outcome))
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	if len(r.Applications) == 0 {
		_, err := fmt.Fprintf(out, "no application found for %s %s\n", r.Kind, inspect.Printable(r.Query))
		return err
	}
	t := newTable(out, "ENTITYID", "STATUS", "TRANSACTION", "BLOCK", "CLASS", "REASON", "UPDATED")
	for _, a := range r.Applications {
		block, updated := "", ""
		if a.Block != 0 {
			block = strconv.FormatUint(a.Block, 10)
		}
		if a.UpdatedAt != nil {
			updated = a.UpdatedAt.UTC().Format(time.RFC3339)
		}
		txText := a.TransactionHash
		if a.BatchIndex != nil {
			txText += " (batch " + inspect.Place{Index: *a.BatchIndex, Size: a.BatchSize}.String() + ")"
		}
		t.row(a.EntityID, a.Status, txText, block, a.Class, a.Reason, updated)
	}
	return t.flush()
}
