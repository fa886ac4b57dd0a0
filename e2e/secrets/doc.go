// Package secrets holds the secrets test of the processor (issue 10): the
// built binary, holding a mnemonic, an API key in CHAIN_RPC_URL's path and
// query, a Redis password and an admin token, is run through startup
// errors, RPC errors, -check, a handler panic and every HTTP route, and none
// of the secrets may show in what it writes or answers. With SIGNER=aws-kms
// (issue 23, kms_test.go), AWS credentials in its environment and a KMS
// endpoint that quotes them in its errors, and a PROCESSOR_MNEMONIC_FILE,
// the same holds for the credentials and the file's words.
//
// The package has no code outside its tests; this file only documents it.
package secrets
