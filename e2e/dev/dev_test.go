// Package dev runs the README's first command as a newcomer would: the built
// processor in -dev mode as a subprocess, fed by the built enqueue command,
// and checks that the whole relay works: valid applications confirmed on the
// embedded chain and acknowledged, bad ones dead-lettered with their reason,
// /api/monitor answering 200, and a clean exit on SIGTERM.
package dev

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/depeg"
	"github.com/etherisc/depeg-relay/internal/devproc"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

// built holds the processor and enqueue binaries, built once for both
// tests of the package (each build takes most of a test's time).
var built struct {
	once sync.Once
	dir  string
	err  error
}

// binaries builds ./cmd/processor and ./cmd/enqueue on first use and
// returns the directory holding them.
func binaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "e2e-dev-"); built.err != nil {
			return
		}
		built.err = devproc.Build(context.Background(), built.dir, "./cmd/processor", "./cmd/enqueue")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// Bounds of each phase. The build is bounded by the test binary's -timeout
// (a cold build of go-ethereum takes minutes on two cores).
const (
	startBound    = 2 * time.Minute  // dev chain up, contract deployed, HTTP serving
	processBound  = 2 * time.Minute  // every entry confirmed or dead-lettered
	shutdownBound = 30 * time.Second // SHUTDOWN_TIMEOUT defaults to 20s
	pollEvery     = 100 * time.Millisecond
)

// Default names of the frontend's layout (docs/design.md, "The fixed
// contracts"). Dev mode on a Redis it shares (REDIS_URL set) must not use
// them: it takes names of its own.
const (
	defaultStream     = "application:signatures"
	defaultGroup      = "depeg-backend-processor"
	defaultConsumer   = "depeg-backend-processor-consumer"
	defaultDeadLetter = "application:signatures:dead"
)

// devMnemonic is dev mode's phrase (the hardhat/anvil one); index 0 is the
// wallet everyone else using it has.
const devMnemonic = "test test test test test test test test test test test junk"

func TestDevModeRelaysEnqueuedApplications(t *testing.T) {
	bins := binaries(t)
	srv := redistest.Start(t)
	rdb := srv.Client()

	p, ready, monitorURL := startShared(t, bins, srv)
	valid, bad := enqueue(t, bins, srv, ready)
	settled(t, p, rdb, ready, monitorURL, valid, bad)

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	select {
	case <-p.Done():
		if p.Err() != nil {
			t.Fatalf("processor exit after SIGTERM: %v, want exit code 0\n%s", p.Err(), p.LogTail())
		}
	case <-time.After(shutdownBound):
		t.Fatalf("processor still running %s after SIGTERM\n%s", shutdownBound, p.LogTail())
	}
}

// TestTwoDevModesShareOneRedis is the case dev mode once got wrong: two dev
// modes on one Redis shared a consumer, took each other's entries and
// dead-lettered the other's valid applications as SIGNATURE_INVALID (each
// simulates against its own chain). With names and wallets of their own,
// every valid application of each is confirmed on its own chain.
func TestTwoDevModesShareOneRedis(t *testing.T) {
	bins := binaries(t)
	srv := redistest.Start(t)
	rdb := srv.Client()

	p1, r1, m1 := startShared(t, bins, srv)
	p2, r2, m2 := startShared(t, bins, srv)
	if r1.Stream == r2.Stream || r1.Group == r2.Group || r1.DeadLetter == r2.DeadLetter || r1.Wallet == r2.Wallet {
		t.Fatalf("two dev modes share names or a wallet (and so a journal):\n%+v\n%+v", r1, r2)
	}
	v1, b1 := enqueue(t, bins, srv, r1)
	v2, b2 := enqueue(t, bins, srv, r2)
	settled(t, p1, rdb, r1, m1, v1, b1)
	settled(t, p2, rdb, r2, m2, v2, b2)
}

// startShared runs dev mode on srv (REDIS_URL set, so shared) and waits
// until it serves; it checks that dev mode took names of its own.
func startShared(t *testing.T, bins string, srv *redistest.Server) (*devproc.Proc, devproc.Ready, string) {
	t.Helper()
	port := freeport.Get(t)
	p := devproc.Start(t, filepath.Join(bins, "processor"), []string{
		"PORT=" + strconv.Itoa(port),
		"DEV_CHAIN_PORT=" + strconv.Itoa(freeport.Get(t)),
		"DEV_BLOCK_TIME=200",
		"CHAIN_POLL_INTERVAL=200",
		"REDIS_URL=" + srv.URL(),
	})
	ready := p.WaitReady(t, startBound)
	if ready.RedisURL != srv.URL() || !ready.RedisShared {
		t.Fatalf("dev mode uses Redis %q (shared %v), want the one at REDIS_URL %q", ready.RedisURL, ready.RedisShared, srv.URL())
	}
	for _, n := range []struct{ got, prod string }{
		{ready.Stream, defaultStream}, {ready.Group, defaultGroup}, {ready.Consumer, defaultConsumer}, {ready.DeadLetter, defaultDeadLetter},
	} {
		if n.got == n.prod || n.got == "" {
			t.Fatalf("dev mode on a shared Redis uses the name %q, want one of its own", n.got)
		}
	}
	monitorURL := fmt.Sprintf("http://127.0.0.1:%d/api/monitor", port)
	eventually(t, p, startBound, "/api/monitor answers", func(ctx context.Context) error {
		_, _, err := devproc.Get(ctx, monitorURL)
		return err
	})
	return p, ready, monitorURL
}

// enqueue plays the frontend on dev mode's stream: five valid applications
// and the bad cases.
func enqueue(t *testing.T, bins string, srv *redistest.Server, ready devproc.Ready) ([]devproc.Valid, []devproc.Bad) {
	t.Helper()
	out := devproc.Run(t, filepath.Join(bins, "enqueue"),
		"-redis", srv.URL(), "-stream", ready.Stream, "-rpc", ready.ChainRPC, "-product", ready.Product, "-n", "5", "-bad")
	valid, bad := devproc.ParseEnqueued(t, out)
	if len(valid) != 5 || len(bad) == 0 {
		t.Fatalf("enqueue printed %d valid and %d bad entries, want 5 and some:\n%s", len(valid), len(bad), out)
	}
	return valid, bad
}

// settled waits until every entry is settled and the monitor is healthy,
// then checks the dead letters and the chain.
func settled(t *testing.T, p *devproc.Proc, rdb *redis.Client, ready devproc.Ready, monitorURL string, valid []devproc.Valid, bad []devproc.Bad) {
	t.Helper()
	eventually(t, p, processBound, "every entry settled and /api/monitor healthy", func(ctx context.Context) error {
		xp, err := rdb.XPending(ctx, ready.Stream, ready.Group).Result()
		if err != nil {
			return fmt.Errorf("xpending: %w", err)
		}
		if xp.Count != 0 {
			return fmt.Errorf("%d entries pending", xp.Count)
		}
		if n, err := rdb.XLen(ctx, ready.DeadLetter).Result(); err != nil || n < int64(len(bad)) {
			return fmt.Errorf("dead letters: %d of %d (err %v)", n, len(bad), err)
		}
		for _, a := range valid {
			if n, err := rdb.Exists(ctx, stream.ApplicationKey(a.EntityID)).Result(); err != nil || n != 0 {
				return fmt.Errorf("application %s not purged yet (err %v)", a.EntityID, err)
			}
		}
		status, body, err := devproc.Get(ctx, monitorURL)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("/api/monitor answered %d: %s", status, body)
		}
		return nil
	})

	checkOwnNames(t, rdb, ready)
	checkDeadLetters(t, rdb, ready.DeadLetter, valid, bad)
	checkOnChain(t, ready, valid)
}

// checkOwnNames reads in Redis that dev mode on a shared Redis worked under
// the names of its own its ready line gave, not only announced them: its
// group is on its stream, every consumer of that group is its own, and
// nothing exists under the frontend's default names. Its wallet is not the
// one every other user of the dev phrase has (index 0), since the journal
// is keyed by the wallet.
func checkOwnNames(t *testing.T, rdb *redis.Client, ready devproc.Ready) {
	t.Helper()
	ctx := t.Context()
	for _, key := range []string{defaultStream, defaultDeadLetter} {
		if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
			t.Errorf("dev mode on a shared Redis left the default key %q (exists %d, err %v)", key, n, err)
		}
	}
	groups, err := rdb.XInfoGroups(ctx, ready.Stream).Result()
	if err != nil {
		t.Fatalf("groups of dev mode's stream %q: %v", ready.Stream, err)
	}
	if len(groups) != 1 || groups[0].Name != ready.Group {
		t.Errorf("dev mode's stream %q has groups %+v, want only its own %q", ready.Stream, groups, ready.Group)
	}
	consumers, err := rdb.XInfoConsumers(ctx, ready.Stream, ready.Group).Result()
	if err != nil {
		t.Fatalf("consumers of dev mode's group %q: %v", ready.Group, err)
	}
	if len(consumers) == 0 {
		t.Errorf("dev mode's group %q has no consumer", ready.Group)
	}
	for _, c := range consumers {
		if !strings.HasPrefix(c.Name, ready.Consumer) {
			t.Errorf("dev mode's group %q has the consumer %q, not one of its own (%q)", ready.Group, c.Name, ready.Consumer)
		}
	}
	key, err := chain.DeriveKey(devMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if shared := crypto.PubkeyToAddress(key.PublicKey); common.HexToAddress(ready.Wallet) == shared {
		t.Errorf("dev mode on a shared Redis uses the wallet %s (index 0 of the dev phrase), want one of its own", ready.Wallet)
	}
}

// checkDeadLetters wants one dead letter per bad case, with the reason the
// enqueue command announced, and none for a valid application.
func checkDeadLetters(t *testing.T, rdb *redis.Client, deadLetterKey string, valid []devproc.Valid, bad []devproc.Bad) {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), deadLetterKey, "-", "+").Result()
	if err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	byEntry := map[string]map[string]any{}
	for _, m := range msgs {
		id, _ := m.Values["entryId"].(string)
		byEntry[id] = m.Values
	}
	for _, b := range bad {
		dl, ok := byEntry[b.EntryID]
		if !ok {
			t.Errorf("bad case %s (entry %s) has no dead letter", b.Name, b.EntryID)
			continue
		}
		reason, _ := dl["reason"].(string)
		if !strings.Contains(reason, b.WantReason) {
			t.Errorf("bad case %s: dead-letter reason %q does not mention %q", b.Name, reason, b.WantReason)
		}
		for _, field := range []string{"class", "time"} {
			if s, _ := dl[field].(string); s == "" {
				t.Errorf("bad case %s: dead letter has no %s: %v", b.Name, field, dl)
			}
		}
	}
	for _, a := range valid {
		if dl, ok := byEntry[a.EntryID]; ok {
			t.Errorf("valid application %s was dead-lettered: %v", a.EntityID, dl)
		}
	}
}

// checkOnChain wants exactly one LogDepegApplicationCreated per valid
// application on the dev chain: confirmed, and never applied twice.
func checkOnChain(t *testing.T, ready devproc.Ready, valid []devproc.Valid) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, ready.ChainRPC)
	if err != nil {
		t.Fatalf("dial dev chain: %v", err)
	}
	defer ec.Close()
	binding := depeg.NewDepegProduct()
	event := binding.GetABI().Events[depeg.DepegProductLogDepegApplicationCreatedEventName]
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(0),
		Addresses: []common.Address{common.HexToAddress(ready.Product)},
		Topics:    [][]common.Hash{{event.ID}},
	})
	if err != nil {
		t.Fatalf("read application events: %v", err)
	}
	created := map[common.Address]int{}
	for i := range logs {
		ev, err := binding.UnpackLogDepegApplicationCreatedEvent(&logs[i])
		if err != nil {
			t.Fatalf("decode application event: %v", err)
		}
		created[ev.PolicyHolder]++
	}
	for _, a := range valid {
		if n := created[a.PolicyHolder]; n != 1 {
			t.Errorf("application %s (policy holder %s) created %d times on chain, want 1", a.EntityID, a.PolicyHolder.Hex(), n)
		}
	}
}

// --- the processor subprocess ---

// eventually is devproc.Eventually at this test's poll interval.
func eventually(t *testing.T, p *devproc.Proc, bound time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	devproc.Eventually(t, p, bound, pollEvery, what, cond)
}
