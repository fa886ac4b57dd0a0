package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/etherisc/depeg-relay/stream"
)

// bodyField is one field of the frontend's JSON body and the JSON types it
// may have. protectedBalance is a decimal string (a uint256 exceeds a
// JavaScript number); duration and bundleId are numbers. A number is kept
// as its literal text and a string as its contents, so that the one
// validator (stream.DecodeApplication) judges exactly what was sent: "1e3",
// "1.0" and "-5" are refused there, not rounded here.
type bodyField struct {
	name         string
	allowString  bool
	allowNumbers bool
}

var bodyFields = []bodyField{
	{stream.FieldPolicyHolder, true, false},
	{stream.FieldProtectedWallet, true, false},
	{stream.FieldProtectedBalance, true, true},
	{stream.FieldDuration, true, true},
	{stream.FieldBundleID, true, true},
	{stream.FieldSignatureID, true, false},
	{stream.FieldSignature, true, false},
}

// notAnObject says, in the intake's words (never Go's unmarshal message),
// why body is not one JSON object: what it is instead, or where its JSON
// breaks.
func notAnObject(body []byte, err error) string {
	const want = "body must be one JSON object with the application's fields"
	var syn *json.SyntaxError
	switch t := bytes.TrimSpace(body); {
	case len(t) == 0:
		return want + "; it is empty"
	case errors.As(err, &syn):
		return fmt.Sprintf("%s; it is not valid JSON (at byte %d)", want, syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return want + "; its JSON ends too early"
	case t[0] == '[':
		return want + "; it is an array"
	case t[0] == '"':
		return want + "; it is a string"
	case string(t) == "null":
		return want + "; it is null"
	case t[0] == 't' || t[0] == 'f':
		return want + "; it is a boolean"
	}
	return want + "; it is a number"
}

// Fields turns the POST body into the PendingApplication's string fields.
// It reports a body that is not a JSON object, and fields of the wrong JSON
// type; every other judgement (missing, malformed, out of range) is left to
// stream.DecodeApplication. Unknown fields are ignored, as the frontend's
// own API did. A null field counts as missing.
func Fields(body []byte) (map[string]string, []stream.Problem) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, []stream.Problem{{Reason: notAnObject(body, err)}}
	}
	if dec.More() {
		return nil, []stream.Problem{{Reason: "body holds more than one JSON value"}}
	}
	fields := make(map[string]string, len(bodyFields))
	var problems []stream.Problem
	for _, f := range bodyFields {
		v, ok := raw[f.name]
		v = bytes.TrimSpace(v)
		if !ok || len(v) == 0 || string(v) == "null" {
			continue // missing: the validator says so
		}
		switch {
		case v[0] == '"' && f.allowString:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				problems = append(problems, stream.Problem{Field: f.name, Reason: "not a valid JSON string"})
				continue
			}
			fields[f.name] = s
		case (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && f.allowNumbers:
			fields[f.name] = string(v)
		case f.allowNumbers:
			problems = append(problems, stream.Problem{Field: f.name, Reason: "must be a JSON number or a decimal string"})
		default:
			problems = append(problems, stream.Problem{Field: f.name, Reason: "must be a JSON string"})
		}
	}
	return fields, problems
}
