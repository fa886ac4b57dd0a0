// Package faults holds the fault suite of the processor (issue 10): the
// built binary runs as a subprocess against a real redis-server and an EVM
// reached over HTTP, each behind a TCP proxy the test controls (toxiproxy,
// in process) and, for the node, a JSON-RPC proxy that answers 429/5xx,
// garbage or as a lagging backend (internal/rpcfault). Each scenario injects
// one fault while applications keep arriving, checks the invariants of
// DESIGN.md section 5 against the chain and Redis, and adds one row to the
// table the suite prints (TABLE.md holds the last one committed).
//
// The package has no code outside its tests; this file only documents it.
package faults
