package stream

import (
	"errors"
	"strings"
)

// Problem is one field-level defect found by DecodeApplication.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// problemFields are the fields DecodeApplication reports on, in its order.
var problemFields = []string{
	FieldEntityID, FieldPolicyHolder, FieldProtectedWallet, FieldProtectedBalance, FieldDuration,
	FieldBundleID, FieldSignatureID, FieldSignature, FieldTransactionHash,
}

// Problems splits an error of DecodeApplication back into its field-level
// problems, so an HTTP caller can be told which field is wrong without a
// second validator. DecodeApplication joins "<field>: <reason>" parts with
// "; " after ErrInvalidApplication's text; a part is only split where "; "
// is followed by a known field name and ": ", so a reason quoting hostile
// input with "; " inside stays whole (at worst a forged "; signature: "
// inside a quoted value adds a bogus entry, never hides a real one).
// It returns nil for an error that is not ErrInvalidApplication.
func Problems(err error) []Problem {
	if err == nil || !errors.Is(err, ErrInvalidApplication) {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), ErrInvalidApplication.Error()+": ")
	var out []Problem
	for msg != "" {
		field, rest, ok := cutField(msg)
		if !ok {
			// Not of the expected shape: report it whole rather than lose it.
			out = append(out, Problem{Reason: msg})
			break
		}
		end := len(rest)
		for i := 0; i < len(rest); i++ {
			if strings.HasPrefix(rest[i:], "; ") {
				if _, _, ok := cutField(rest[i+2:]); ok {
					end = i
					break
				}
			}
		}
		out = append(out, Problem{Field: field, Reason: rest[:end]})
		msg = strings.TrimPrefix(rest[end:], "; ")
	}
	return out
}

// cutField recognises "<known field>: " at the start of s.
func cutField(s string) (field, rest string, ok bool) {
	for _, f := range problemFields {
		if strings.HasPrefix(s, f+": ") {
			return f, s[len(f)+2:], true
		}
	}
	return "", "", false
}
