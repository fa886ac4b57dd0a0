package frontend_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestTrickle: every application is enqueued once, as the frontend writes
// it, and its signature id is reported at its index.
func TestTrickle(t *testing.T) {
	rdb := redistest.Start(t).Client()
	sids, done := frontend.Trickle(t.Context(), rdb, "s", big.NewInt(1337), common.HexToAddress("0x01"), 5, 2, time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(t.Context(), "s", "-", "+").Result()
	if err != nil || len(msgs) != 5 {
		t.Fatalf("stream holds %d entries (%v), want 5", len(msgs), err)
	}
	seen := map[[32]byte]bool{}
	for i, m := range msgs {
		fields, err := rdb.HGetAll(t.Context(), stream.ApplicationKey(m.Values[stream.FieldEntityID].(string))).Result()
		if err != nil {
			t.Fatal(err)
		}
		app, err := stream.DecodeApplication(m.Values[stream.FieldEntityID].(string), fields)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if app.SignatureID32 != sids[i] || seen[sids[i]] {
			t.Fatalf("entry %d: signature id %x, reported %x (duplicate %v)", i, app.SignatureID32, sids[i], seen[sids[i]])
		}
		seen[sids[i]] = true
	}
}
