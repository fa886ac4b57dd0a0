// Package kms holds the end-to-end test of SIGNER=aws-kms (issue 23): the
// built processor signs with two keys of a real KMS API (local-kms, package
// chain/kms/kmstest) while the KMS throttles every other Sign call, and a
// backlog is confirmed once; -check verifies the keys and names a disabled
// one.
//
// The package has no code outside its tests; this file only documents it.
package kms
