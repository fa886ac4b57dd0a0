// Package batch is the batch contract of the relay (DepegApplicationBatch.sol):
// several signed applications in one transaction, each with its own gas
// limit and its own outcome as an event (issue 22). Source, ABI, bytecode
// and the generated Go binding are committed; go generate rebuilds them.
package batch

//go:generate ./gen.sh
