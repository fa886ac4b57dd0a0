// Package kill holds the crash test of the processor (issue 5): the built
// binary runs as a subprocess against a real redis-server and an EVM reached
// over HTTP with real block times, is killed with SIGKILL at random moments
// and restarted, and at the end every application must exist on chain exactly
// once, no transaction of the wallet may have reverted, and Redis must be
// clean (nothing pending, every hash purged, the journal empty).
//
// The package has no code outside its tests; this file only documents it.
package kill
