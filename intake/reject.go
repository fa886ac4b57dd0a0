package intake

import (
	"errors"
	"strings"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// Rejection classes beside chain.RevertClass's labels.
const (
	ClassMalformed = "malformed"
)

// Rejection is an application refused at the door, with what to tell the
// poster: the field at fault (empty when none is), the reason, and the class
// (the dead-letter classes: malformed, signature, signature_used,
// application, funds, reverted).
type Rejection struct {
	Field  string
	Reason string
	Class  string
	// Problems lists every field problem of a malformed body.
	Problems []stream.Problem
}

func (r *Rejection) Error() string {
	if r.Field != "" {
		return "application rejected: " + r.Field + ": " + r.Reason
	}
	return "application rejected: " + r.Reason
}

// ErrUnavailable wraps failures that are nobody's fault in the request
// (Redis or the chain node did not answer, another request holds the same
// signature): the poster should retry.
var ErrUnavailable = errors.New("intake temporarily unavailable")

// malformed turns field problems into a Rejection naming the first field.
func malformed(problems []stream.Problem) *Rejection {
	r := &Rejection{Class: ClassMalformed, Problems: problems}
	if len(problems) > 0 {
		r.Field, r.Reason = problems[0].Field, problems[0].Reason
	}
	return r
}

// revertFields names the application field a contract revert is about, so
// the frontend can point at it. Matched on the reason codes of the contract
// (docs/design.md, "The fixed contracts"); the class comes from chain.ClassifyRevert, the one classifier.
var revertFields = []struct{ code, field string }{
	{"DMH-001", stream.FieldSignature},
	{"DMH-002", stream.FieldSignature},
	{"ECDSA:", stream.FieldSignature},
	{"DP-011", stream.FieldProtectedWallet},
	{"DP-012", stream.FieldBundleID},
	{"DP-013", stream.FieldBundleID},
	{"DP-014", stream.FieldPolicyHolder},
	{"DP-015", stream.FieldPolicyHolder},
	{"DP-016", stream.FieldProtectedBalance},
}

// fromRevert is the Rejection for a final revert (simulated, or the
// off-chain signature check that answers like one).
func fromRevert(rev *chain.RevertError) *Rejection {
	r := &Rejection{Reason: rev.Reason, Class: rev.Class.String()}
	for _, rf := range revertFields {
		if strings.Contains(rev.Reason, rf.code) {
			r.Field = rf.field
			break
		}
	}
	return r
}
