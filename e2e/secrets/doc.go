// Package secrets holds the secrets test of the processor (issue 10): the
// built binary, holding a mnemonic, an API key in CHAIN_RPC_URL's path and
// query, a Redis password and an admin token, is run through startup
// errors, RPC errors, -check, a handler panic and every HTTP route, and none
// of the secrets may show in what it writes or answers.
//
// The package has no code outside its tests; this file only documents it.
package secrets
