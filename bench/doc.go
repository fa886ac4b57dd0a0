// Package bench is the load harness of the depeg relay. It plays the web
// frontend (signed applications written to Redis exactly as production writes
// them), runs the real processor binary as a subprocess against an embedded
// EVM reached over HTTP with real block times and a mainnet-like gas cost per
// application, and measures what operators care about: throughput until a
// backlog is drained, enqueue-to-broadcast and enqueue-to-confirmation
// latency, how full the blocks were kept, the processor's CPU and memory, and
// how many Redis round trips and RPC calls each application costs.
//
// Nothing between the processor and its dependencies is mocked. Two counting
// proxies sit in the middle (one for JSON-RPC over HTTP, one for the Redis
// protocol); they forward bytes unchanged and only count, so the figures are
// the processor's own traffic, not the harness's.
//
// The command is bench/cmd/load; BENCHMARKS.md has the figures and how to
// reproduce them.
package bench
