// Package webhook pushes every status change of an application to the
// receiver at WEBHOOK_URL: submitted, confirmed, rejected and requeued, as a
// JSON Event signed with HMAC-SHA256 (Sign, Verify).
//
// It has three parts:
//
//   - Outbox is a stream.Notifier: the status store and the intake's
//     ObservedQueue tell it each change once it is recorded, and it appends
//     the event to a Redis stream of its own ({depeg-relay:webhook:<stream>}:outbox).
//     The stream is capped at a maximum length: past it the oldest events are
//     trimmed and counted (…:dropped), so a receiver that never comes back
//     cannot grow Redis without bound.
//   - Deliverer is a lifecycle part: one goroutine that reads the outbox in a
//     consumer group and posts each event, retrying with exponential backoff
//     (cenkalti/backoff) until the receiver answers 2xx, then acknowledges and
//     deletes it. What it has not delivered stays in Redis, so a restart loses
//     nothing: a new deliverer under the same consumer name replays its own
//     pending events first, and the events of a consumer that went silent are
//     claimed by another process after ClaimIdle.
//   - Sign and Verify are the signature, pure functions.
//
// Delivery is at least once, never exactly once. A receiver may see an event
// twice: when its 2xx answer was lost, when the relay repeats a step whose
// notification failed, or when a process stalled past ClaimIdle and another
// took its events. Every event carries an id derived from what it says
// (state, entity, entry, transaction, class, revert count), equal for every
// copy, so a receiver de-duplicates by id. Order is the order of the outbox
// within one process; with several processes delivering, events of different
// applications interleave, and a receiver orders one application's events by
// occurredAt.
//
// Nothing here ever prints the URL (it may carry credentials, sent as Basic
// auth) or the secret: errors and logs name a failure by its class.
package webhook
