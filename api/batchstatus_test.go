package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// TestStatusShowsBatchPlaceOfOutcomes: GET /api/application/{entityId}
// answers batchIndex and batchSize for an application confirmed or
// rejected inside a batch transaction, as the relay recorded them (issue
// 22), index 0 included; an application confirmed by a transaction of its
// own has neither.
func TestStatusShowsBatchPlaceOfOutcomes(t *testing.T) {
	g := newGateway(t, gwOptions{})
	ctx := context.Background()
	first, third, failed, single := frontend.NewEntityID(), frontend.NewEntityID(), frontend.NewEntityID(), frontend.NewEntityID()
	tx := common.Hash{0xba}
	if err := g.status.Confirmed(ctx,
		stream.Confirmation{EntityID: first, EntryID: "1-0", TxHash: tx, Block: 5, ProcessID: common.Hash{1}, BatchIndex: 0, BatchSize: 3},
		stream.Confirmation{EntityID: third, EntryID: "3-0", TxHash: tx, Block: 5, ProcessID: common.Hash{3}, BatchIndex: 2, BatchSize: 3},
		stream.Confirmation{EntityID: single, EntryID: "4-0", TxHash: common.Hash{0x51}, Block: 6, ProcessID: common.Hash{4}},
	); err != nil {
		t.Fatal(err)
	}
	// As the relay's ObservedQueue rejects: the record, then the dead letter.
	obs := &intake.ObservedQueue{Queue: g.queue, Status: g.status}
	if err := obs.DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: failed, Class: stream.ClassReverted,
		Reason: "reverted in batch transaction (application 2 of 3): ERROR:DP-015:ALLOWANCE_TOO_LOW", TxHash: tx.Hex(),
		BatchIndex: 1, BatchSize: 3}); err != nil {
		t.Fatal(err)
	}
	described := statusSchema(t)
	for _, tc := range []struct {
		id, status  string
		index, size float64
	}{
		{first, stream.StateConfirmed, 0, 3},
		{third, stream.StateConfirmed, 2, 3},
		{failed, stream.StateRejected, 1, 3},
	} {
		st := g.state(tc.id)
		described.check(t, st)
		if st["status"] != tc.status || st["transactionHash"] != tx.Hex() || st["batchIndex"] != tc.index || st["batchSize"] != tc.size {
			t.Errorf("status of %s: %v; want %s in %s, batchIndex %v, batchSize %v", tc.id, st, tc.status, tx.Hex(), tc.index, tc.size)
		}
	}
	st := g.state(single)
	if _, ok := st["batchIndex"]; ok || st["batchSize"] != nil || st["status"] != stream.StateConfirmed {
		t.Errorf("status of an application confirmed by its own transaction: %v; want confirmed without batchIndex or batchSize", st)
	}
}

// statusProps are the properties of openapi.json's Status schema: each
// one's type and minimum.
type statusProps map[string]struct {
	Type    string   `json:"type"`
	Minimum *float64 `json:"minimum"`
}

// statusSchema reads the Status schema's properties from openapi.json.
func statusSchema(t *testing.T) statusProps {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties statusProps `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas["Status"].Properties
}

// check fails the test for a field of a status answer that the schema does
// not describe, or whose value is not of the described type and minimum.
func (p statusProps) check(t *testing.T, answer map[string]any) {
	t.Helper()
	for k, v := range answer {
		d, ok := p[k]
		if !ok {
			t.Errorf("answered field %q is not in openapi.json's Status schema", k)
			continue
		}
		switch d.Type {
		case "integer":
			n, ok := v.(float64)
			if !ok || n != float64(int64(n)) || (d.Minimum != nil && n < *d.Minimum) {
				t.Errorf("field %q = %v, the schema says an integer >= %v", k, v, d.Minimum)
			}
		case "string":
			if _, ok := v.(string); !ok {
				t.Errorf("field %q = %v, the schema says a string", k, v)
			}
		}
	}
}
