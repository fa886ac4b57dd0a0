// Package depeg is the Go binding of the deployed DepegProduct, generated from
// the subset of its ABI the relay uses (DepegProduct.abi). go generate rebuilds it.
package depeg

//go:generate go tool abigen --v2 --abi DepegProduct.abi --pkg depeg --type DepegProduct --out depegproduct.go
