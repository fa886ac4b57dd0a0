// Command load is the relay's load harness: it starts Redis, an embedded EVM
// with real block times and the real processor binary, plays the frontend
// (a backlog at once, or a steady rate), and prints throughput, latency,
// block fill, the processor's CPU and memory, and Redis and RPC traffic per
// application. See BENCHMARKS.md.
//
//	go run ./bench/cmd/load -n 5000 -max-in-flight 512 -json out.json
//	go run ./bench/cmd/load -n 5000 -pool-slots 16 -keys 8   # vs -keys 1: the share of full blocks
//	go run ./bench/cmd/load -n 2000 -pool-slots 16 -batch 16 # batching: applications per transaction, gas per application
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/etherisc/depeg-relay/bench"
)

type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }
func (e *envFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	os.Exit(run())
}

func run() int {
	var o bench.Options
	var env envFlags
	var jsonOut string
	baseFee := flag.String("base-fee-floor", "1000000", "seal empty blocks before the run until the base fee (wei) is at most this")
	flag.StringVar(&o.Processor, "processor", "", "processor binary (default: build ./cmd/processor)")
	flag.StringVar(&o.Rev, "rev", "", "build the processor from this git revision (git archive) instead of the working tree")
	flag.StringVar(&o.Mode, "mode", "backlog", "backlog (N at once) or rate (R per second for D)")
	flag.IntVar(&o.N, "n", 5000, "backlog size")
	flag.StringVar(&o.BacklogStart, "backlog-start", "after", "enqueue the backlog after the processor is up (after) or before it starts (before)")
	flag.Float64Var(&o.Rate, "rate", 20, "applications per second in rate mode")
	flag.DurationVar(&o.Duration, "duration", 60e9, "how long to enqueue in rate mode")
	flag.DurationVar(&o.BlockTime, "block-time", 1e9, "block time")
	flag.Uint64Var(&o.GasLimit, "gas-limit", 30_000_000, "block gas limit")
	flag.Uint64Var(&o.GasPerApp, "gas-per-app", 250_000, "target gas of one application (the test contract's burner is tuned to it)")
	flag.IntVar(&o.MaxInFlight, "max-in-flight", 0, "MAX_IN_FLIGHT (0: the processor default)")
	flag.IntVar(&o.Confirmations, "confirmations", 2, "CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS (production default 6)")
	flag.DurationVar(&o.PollInterval, "poll", 0, "CHAIN_POLL_INTERVAL (0: the processor default)")
	flag.DurationVar(&o.RPCLatency, "rpc-latency", 0, "add this to every HTTP request to the node (a hosted node is 20-100ms away)")
	flag.DurationVar(&o.RedisLatency, "redis-latency", 0, "add this to every Redis round trip of the processor")
	flag.DurationVar(&o.Idle, "idle", 10e9, "watch the idle processor this long after the load drained")
	flag.DurationVar(&o.Timeout, "timeout", 30*60e9, "give up on the load after this long")
	flag.DurationVar(&o.Stall, "stall", 2*60e9, "give up when nothing is broadcast or acknowledged for this long")
	flag.IntVar(&o.Keys, "keys", 1, "wallets the processor sends from: PROCESSOR_ACCOUNT_INDEX=0-(keys-1) of the test mnemonic, each funded")
	flag.Uint64Var(&o.PoolSlots, "pool-slots", 0, "the node keeps at most this many pending transactions per sender (geth txpool.accountslots/globalslots; 0: roomy)")
	flag.BoolVar(&o.KMS, "kms", false, "the keys are AWS KMS keys (SIGNER=aws-kms) on a local-kms the bench starts (built from the module proxy once)")
	flag.DurationVar(&o.KMSLatency, "kms-latency", 0, "with -kms: added to every KMS call, as a hosted KMS is tens of milliseconds away")
	flag.BoolVar(&o.PoolDrops, "pool-drops", false, "with -pool-slots: the node accepts the sends past its limit and drops them silently (a hosted provider), instead of refusing them (geth)")
	flag.IntVar(&o.Batch, "batch", 0, "batch up to N applications per transaction through the batch contract the devchain deploys (BATCH_MAX_APPLICATIONS; 0: off)")
	flag.BoolVar(&o.WS, "ws", false, "the processor reaches the node over its websocket (newHeads), past the counting proxy (no RPC or broadcast figures)")
	flag.Var(&env, "env", "extra KEY=VALUE for the processor (repeatable)")
	flag.StringVar(&o.WorkDir, "workdir", "", "keep the processor's log here (default: a temporary directory)")
	flag.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	flag.Parse()
	o.Env = env
	floor, ok := new(big.Int).SetString(*baseFee, 10)
	if !ok {
		fmt.Fprintln(os.Stderr, "load: -base-fee-floor must be an integer number of wei")
		return 2
	}
	o.BaseFeeFloor = floor
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	rep.Print(os.Stdout)
	if jsonOut != "" {
		raw, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(jsonOut, raw, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load: write json:", err)
			return 1
		}
	}
	if rep.Error != "" {
		return 1
	}
	return 0
}
