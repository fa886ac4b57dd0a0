package decide

// Hold is the submitting loop's memory of transactions in the node's
// pool at nonces the journal does not know (UnknownNonces). While it holds,
// nothing new is signed: such a transaction may carry an application still
// pending in the stream, whose simulation passes until it is mined, and a
// second transaction signed for it would revert with SIGNATURE_USED. Heights
// are block numbers.
type Hold struct {
	// UpTo is one past the highest unknown nonce seen while holding; zero
	// when not holding. Once the mined nonce reaches it, each of them was
	// mined (by the unknown transaction or a replacement of it).
	UpTo uint64
	// Unknown is how many unknown nonces the last check found.
	Unknown uint64
	// Since is the head when the hold began.
	Since uint64
	// GoneAt is the head when the pool was first seen without them while
	// they were not all mined: dropped, or an answer from a backend that
	// does not see the pool (a load balancer). It must still hold at a
	// later head before the hold ends.
	GoneAt Sighting
}

// Holding reports whether new submissions wait.
func (h Hold) Holding() bool { return h.UpTo != 0 }

// HoldEvent is what a check changed, for the log.
type HoldEvent int

const (
	HoldUnchanged HoldEvent = iota
	HoldStarted             // unknown transactions found: submissions wait
	HoldMined               // all of them mined: go on (their applications resolve as SIGNATURE_USED by our own transaction)
	HoldDropped             // the pool no longer holds them, in two blocks: go on from the node's pending nonce
)

// NextHold decides, from one check of the wallet's nonces, whether new
// submissions still wait. There is no time limit: a transaction the pool
// keeps without mining it (its tip below what miners take) keeps the hold,
// which the log and the monitor report, because signing past it would risk
// the very second transaction the hold prevents. It ends when the pool no
// longer holds any unknown nonce and either the mined nonce passed them all,
// or they were dropped, seen on two checks in different blocks so that one
// lagging backend's answer does not end it.
func NextHold(h Hold, unknown []uint64, mined, head uint64) (Hold, HoldEvent) {
	if len(unknown) > 0 {
		ev := HoldUnchanged
		if !h.Holding() {
			h.Since, ev = head, HoldStarted
		}
		h.UpTo = max(h.UpTo, unknown[len(unknown)-1]+1)
		h.Unknown, h.GoneAt = uint64(len(unknown)), 0
		return h, ev
	}
	switch {
	case !h.Holding():
		return Hold{}, HoldUnchanged
	case mined >= h.UpTo:
		return Hold{}, HoldMined
	case h.GoneAt == 0:
		h.Unknown, h.GoneAt = 0, h.GoneAt.Note(head)
		return h, HoldUnchanged
	case h.GoneAt.TwoBlocks(head, 0):
		return Hold{}, HoldDropped
	default:
		return h, HoldUnchanged
	}
}
