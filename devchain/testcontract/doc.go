// Package testcontract holds the project's own DepegProduct test contract: the
// production ABI, the EIP-712 check and revert strings of the deployed
// contracts, plus a pause switch and a gas burner for tests, dev mode and load
// runs. Its bytecode and binding are committed; go generate rebuilds them.
package testcontract

//go:generate ./gen.sh
