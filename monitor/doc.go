// Package monitor answers the question "is the relay doing its job?" for the
// uptime checker and for Prometheus.
//
// It has four parts, each usable without the others:
//
//   - Heartbeat: the relay loop stamps it once per iteration, so a stalled
//     loop is visible even though the process is still alive.
//   - Metrics: counters, gauges and histograms under the "depeg_relay"
//     namespace, registered on an explicit registry, plus a bounded window of
//     recent gas spend from which the wallet's runway is estimated.
//   - Checker: the three checks of the /api/monitor contract (balance,
//     processor, nonAckPendingTx), and redis and fees beside them. It is a
//     lifecycle part: from Start to Close it refreshes the balance in the
//     background so that a probe never waits on the RPC node. The Redis
//     checks run per probe under a short timeout so that an outage is
//     reported, not hidden behind a hanging request.
//   - Startup: the same routes while the process waits for Redis and the
//     node, before the Checker exists: what is missing, and since when.
//
// Public answers name an error by its category (ErrorCategory), never a
// host or URL; the whole error goes to the log.
//
// monitor knows nothing about the relay or chain packages: it declares the
// small interfaces it reads from (BalanceReader, BacklogReader) and the relay
// calls into it. Of stream it uses the words stream owns: the backlog's
// figures, read by stream.BacklogReader (monitor issues no Redis command of
// its own), the stream-id layout, and the dead-letter classes.
package monitor
