#!/usr/bin/env bash
# Regenerates the test contract's ABI, bytecode and Go binding.
# Needs node/npm (solc 0.8.26 from the npm registry) and the abigen tool from go.mod.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --yes solc@0.8.26 --optimize --base-path . --abi --bin -o "$out" DepegProduct.sol
cp "$out/DepegProduct_sol_DepegProduct.abi" DepegProduct.abi
cp "$out/DepegProduct_sol_DepegProduct.bin" DepegProduct.bin
go tool abigen --v2 --abi DepegProduct.abi --bin DepegProduct.bin --pkg testcontract --type DepegProduct --out depegproduct.go
