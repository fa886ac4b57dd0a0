// Package sharedproduct is a test product for the batch contract's gas
// figure (issue 22) on a product that, like the deployed DepegProduct,
// calls other contracts (a signature registry, a riskpool, a treasury and
// an ERC20) and touches storage every application shares (a process
// counter, the list of applications, the bundle's and the riskpool's
// totals, the treasury's wallets). The devchain's test product burns a
// fixed amount of gas instead, which a batch cannot make cheaper.
// Source, ABIs, bytecode and the generated Go bindings are committed;
// go generate rebuilds them.
package sharedproduct

//go:generate ./gen.sh
