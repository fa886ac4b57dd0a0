package stream

// The words the relay writes into Redis and the monitor counts by, with one
// owner: a dead letter's class (DeadLetter.Class, and the label of
// dead_lettered_total) and the cause of a requeue after a revert (the label
// of revert_requeued_total). Both are bounded sets: a label value per raw
// error text would grow the number of series without bound.

// Dead-letter reason classes.
const (
	ClassMalformed = "malformed" // the stream entry or application hash is unusable
	ClassSignature = "signature" // signature invalid or does not match the policy holder
	// ClassSignatureUsed: the signature was already applied by a transaction
	// that was not ours (chain.RevertSignatureUsed).
	ClassSignatureUsed = "signature_used"
	ClassApplication   = "application" // the contract rejected the application itself
	ClassFunds         = "funds"       // policy holder lacks balance or allowance
	ClassReverted      = "reverted"    // our transaction reverted on chain
	// ClassFailing: the entry failed every one of its bounded attempts for a
	// reason of its own that is not a verdict on the application (the node
	// answered its simulation with an error that is not a revert). The dead
	// letter keeps the application, so it can be enqueued again.
	ClassFailing = "failing"
	// ClassUnknownRevert: the simulation reverted with a reason the
	// classifier does not know (chain.RevertUnknown): nothing was mined.
	ClassUnknownRevert = "unknown_revert"
	// ClassOther: what a counter records for any class not in this list.
	ClassOther = "other"
)

// DeadLetterClasses lists every class, ClassOther last.
func DeadLetterClasses() []string {
	return []string{ClassMalformed, ClassSignature, ClassSignatureUsed, ClassApplication, ClassFunds,
		ClassReverted, ClassFailing, ClassUnknownRevert, ClassOther}
}

// Causes of a revert that puts the application back in the queue.
const (
	RequeueProductInactive = "product_inactive" // ERROR:DP-010, the product was paused
	RequeueOutOfGas        = "out_of_gas"
	RequeuePassesNow       = "passes_now" // the replayed call no longer reverts
	// RequeueBatchFailed: a batch transaction reverted as a whole (none of
	// its applications was applied).
	RequeueBatchFailed = "batch_failed"
	// RequeueSignatureUsed: an application of a batch met SIGNATURE_USED;
	// back in the queue, its simulation looks the earlier use up as for
	// any application (ours: tracked to confirmation; not ours: final).
	RequeueSignatureUsed = "signature_used"
)

// RequeueCauses lists every requeue cause.
func RequeueCauses() []string {
	return []string{RequeueProductInactive, RequeueOutOfGas, RequeuePassesNow, RequeueBatchFailed, RequeueSignatureUsed}
}
