// Package intake is the gateway in front of the relay: it takes a policy
// application as the web frontend posts it, refuses at the door what could
// never become a policy (the one validator of package stream, the EIP-712
// signature checked off-chain, a simulation of the contract call), and
// stores what passes exactly as the frontend's own Redis path does, once per
// signature. It also answers what became of an application (queued,
// submitted, confirmed, rejected), lists a policy holder's pending
// applications without RediSearch, and lets an operator list and re-queue
// dead letters.
//
// It knows nothing of HTTP (package api serves it) and nothing of the relay
// loop: the relay reaches it through ObservedQueue (indexing and rejections,
// wired in cmd/processor) and through stream.StatusStore.Confirmed, which
// the relay calls when it settles a confirmed entry.
package intake
