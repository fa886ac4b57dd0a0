package monitor

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

const (
	testStream = "application:signatures"
	testGroup  = "depeg-backend-processor"
	testDLQ    = "application:dead-letters"
)

// fakeBalance is a BalanceReader that counts its calls.
type fakeBalance struct {
	mu    sync.Mutex
	wei   *big.Int
	err   error
	calls atomic.Int64
}

func (f *fakeBalance) BalanceAt(ctx context.Context, _ common.Address, _ *big.Int) (*big.Int, error) {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return new(big.Int).Set(f.wei), nil
}

func (f *fakeBalance) set(wei *big.Int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wei, f.err = wei, err
}

// eth returns x ETH in wei; x may be fractional ("0.5").
func eth(t testing.TB, x string) *big.Int {
	t.Helper()
	r, ok := new(big.Rat).SetString(x)
	if !ok {
		t.Fatalf("bad amount %q", x)
	}
	r.Mul(r, new(big.Rat).SetInt64(params.Ether))
	if !r.IsInt() {
		t.Fatalf("amount %q has sub-wei digits", x)
	}
	return new(big.Int).Set(r.Num())
}

// fixture is a Checker on a real redis-server with the group created, a
// fresh heartbeat, a 2 ETH balance already read, and a fake clock.
type fixture struct {
	srv     *redistest.Server
	rdb     *redis.Client
	clock   *fakeclock.Clock
	bal     *fakeBalance
	hb      *Heartbeat
	metrics *Metrics
	checker *Checker
}

func newFixture(t *testing.T, mutate func(*CheckerConfig)) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	f := &fixture{
		srv:   srv,
		rdb:   srv.Client(),
		clock: fakeclock.New(time.Now().UTC().Truncate(time.Second)),
		bal:   &fakeBalance{wei: eth(t, "2")},
		hb:    &Heartbeat{},
	}
	if err := f.rdb.XGroupCreateMkStream(t.Context(), testStream, testGroup, "0").Err(); err != nil {
		t.Fatalf("create group: %v", err)
	}
	f.metrics = NewMetrics(nil, WithClock(f.clock.Now))
	cfg := CheckerConfig{
		Wallet:           common.HexToAddress("0x00000000000000000000000000000000000000aa"),
		AlertBalance:     eth(t, "1"),
		LoopMaxAge:       60 * time.Second,
		MaxPending:       10,
		StreamKey:        testStream,
		Group:            testGroup,
		DeadLetterStream: testDLQ,
		// Test inputs, not defaults (those are config's): the staleness
		// tests move the clock past BalanceMaxAge, 3 x BalanceRefresh.
		CheckTimeout:   time.Second,
		BalanceRefresh: 30 * time.Second,
		FeeCapGrace:    time.Minute,
		Balance:        f.bal,
		Redis:          f.rdb,
		Heartbeat:      f.hb,
		InFlight:       func() int { return 3 },
		Metrics:        f.metrics,
		Now:            f.clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewChecker(cfg)
	if err != nil {
		t.Fatalf("new checker: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f.checker = c
	f.hb.Beat(f.clock.Now())
	if err := c.RefreshBalance(t.Context()); err != nil {
		t.Fatalf("refresh balance: %v", err)
	}
	return f
}

// addPending adds n entries and reads them into the group without acking.
// Their ids are the fake clock's time (the enqueue time the checker reads),
// so an age is exact, whatever the Redis server's clock and the test's pace.
func (f *fixture) addPending(t *testing.T, n int) {
	t.Helper()
	ctx := t.Context()
	for i := range n {
		if err := f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: testStream, ID: fmt.Sprintf("%d-*", f.clock.Now().UnixMilli()),
			Values: map[string]any{"entityId": i}}).Err(); err != nil {
			t.Fatalf("xadd: %v", err)
		}
	}
	res, err := f.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: testGroup, Consumer: "c1", Streams: []string{testStream, ">"}, Count: int64(n), Block: -1,
	}).Result()
	if err != nil {
		t.Fatalf("xreadgroup: %v", err)
	}
	if got := len(res[0].Messages); got != n {
		t.Fatalf("read %d entries, want %d", got, n)
	}
}
