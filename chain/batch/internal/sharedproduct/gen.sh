#!/usr/bin/env bash
# Regenerates the shared-state test product's ABI, bytecode and Go binding.
# Needs node/npm (solc 0.8.26 from the npm registry) and the abigen tool from go.mod.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --yes solc@0.8.26 --optimize --base-path . --abi --bin -o "$out" SharedProduct.sol
for c in SharedProduct PremiumToken SignatureRegistry Riskpool Treasury; do
	cp "$out/SharedProduct_sol_$c.abi" "$c.abi"
done
cp "$out/SharedProduct_sol_SharedProduct.bin" SharedProduct.bin
go tool abigen --v2 --abi SharedProduct.abi --bin SharedProduct.bin --pkg sharedproduct --type SharedProduct --out sharedproduct.go
for c in PremiumToken SignatureRegistry Riskpool Treasury; do
	go tool abigen --v2 --abi "$c.abi" --pkg sharedproduct --type "$c" --out "$(echo "$c" | tr 'A-Z' 'a-z').go"
done
