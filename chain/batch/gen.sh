#!/usr/bin/env bash
# Regenerates the batch contract's ABI, bytecode and Go binding.
# Needs node/npm (solc 0.8.26 from the npm registry) and the abigen tool from go.mod.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --yes solc@0.8.26 --optimize --base-path . --abi --bin -o "$out" DepegApplicationBatch.sol
cp "$out/DepegApplicationBatch_sol_DepegApplicationBatch.abi" DepegApplicationBatch.abi
cp "$out/DepegApplicationBatch_sol_DepegApplicationBatch.bin" DepegApplicationBatch.bin
go tool abigen --v2 --abi DepegApplicationBatch.abi --bin DepegApplicationBatch.bin --pkg batch --type DepegApplicationBatch --out binding.go
