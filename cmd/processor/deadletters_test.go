package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// TestDeadLettersSubcommand runs the built binary's deadletters subcommand
// against a real redis-server: list, show, and replay twice (queued once).
// It needs Redis only; the chain is never dialled.
func TestDeadLettersSubcommand(t *testing.T) {
	bin := processorBinary(t)
	srv := redistest.Start(t)
	rdb := srv.Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor",
		Consumer: "depeg-backend-processor-consumer", DeadLetter: "application:signatures:dead"}
	q := stream.NewQueue(rdb, keys)
	if err := q.EnsureGroup(context.Background()); err != nil {
		t.Fatal(err)
	}
	app, err := frontend.NewSigned(big.NewInt(1337), common.Address{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	entity := frontend.NewEntityID()
	if err := q.DeadLetter(context.Background(), stream.DeadLetter{EntryID: "1-1", EntityID: entity, Class: "funds",
		Reason: "ERROR:DP-015:ALLOWANCE_TOO_LOW", At: time.Now(), Fields: frontend.Fields(app)}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, map[string]any) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"deadletters"}, args...)...)
		cmd.Env = append(os.Environ(), "CHAIN_RPC_URL=http://127.0.0.1:1/APIKEY", "DEPEG_PRODUCT_ADDRESS=0x5FbDB2315678afecb367f032d93F642f64180aa3",
			"PROCESSOR_MNEMONIC="+testMnemonic, "REDIS_URL="+srv.URL())
		out, err := cmd.Output()
		var exit *exec.ExitError
		code := 0
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		_ = json.Unmarshal(out, &v)
		return code, v
	}
	code, page := run("list", "-limit", "5")
	dls, _ := page["deadLetters"].([]any)
	if code != 0 || len(dls) != 1 {
		t.Fatalf("list: exit %d, %v", code, page)
	}
	id := dls[0].(map[string]any)["id"].(string)
	if code, d := run("show", id); code != 0 || d["entityId"] != entity || d["class"] != "funds" {
		t.Fatalf("show: exit %d, %v", code, d)
	}
	_, first := run("replay", id)
	code, second := run("replay", id)
	if code != 0 || first["entryId"] == nil || first["entryId"] != second["entryId"] || second["existing"] != true {
		t.Fatalf("replays: %v / %v", first, second)
	}
	if n := rdb.XLen(context.Background(), keys.Stream).Val(); n != 1 {
		t.Fatalf("replayed twice: %d entries", n)
	}
	if code, d := run("show", "1-1"); code != 0 || d["id"] != id {
		t.Fatalf("show by the rejected entry's id: exit %d, %v", code, d)
	}
	if code, _ := run("show", "1-2"); code != 3 {
		t.Fatalf("unknown dead letter: exit %d", code)
	}
	if code, _ := run("bogus"); code != 2 {
		t.Fatalf("bad usage: exit %d", code)
	}
}
