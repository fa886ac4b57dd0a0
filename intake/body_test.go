package intake

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/stream"
)

func TestFields(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     map[string]string
		problems []string // fields with a type problem ("" = the body)
	}{
		{"frontend body", `{"policyHolder":"0xA","protectedWallet":"0xB","protectedBalance":"5000000000",
			"duration":2592000,"bundleId":1,"signatureId":"id","signature":"0x00","extra":true}`,
			map[string]string{"policyHolder": "0xA", "protectedWallet": "0xB", "protectedBalance": "5000000000",
				"duration": "2592000", "bundleId": "1", "signatureId": "id", "signature": "0x00"}, nil},
		{"numbers kept literally", `{"protectedBalance":-5,"duration":1e3,"bundleId":1.0}`,
			map[string]string{"protectedBalance": "-5", "duration": "1e3", "bundleId": "1.0"}, nil},
		{"decimal strings for numbers", `{"duration":"30","bundleId":"2"}`,
			map[string]string{"duration": "30", "bundleId": "2"}, nil},
		{"null is missing", `{"signature":null}`, map[string]string{}, nil},
		{"wrong types", `{"policyHolder":5,"bundleId":true,"signature":{"a":1},"duration":[1]}`,
			map[string]string{}, []string{"policyHolder", "duration", "bundleId", "signature"}},
		{"not an object", `[1,2]`, nil, []string{""}},
		{"not json", `policyHolder=0x`, nil, []string{""}},
		{"empty", ``, nil, []string{""}},
		{"two values", `{} {}`, nil, []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, probs := Fields([]byte(tc.body))
			var names []string
			for _, p := range probs {
				names = append(names, p.Field)
			}
			if !reflect.DeepEqual(names, tc.problems) {
				t.Fatalf("problems %+v, want fields %v", probs, tc.problems)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSubmitRefusesHostileText: a signatureId that would act on a terminal
// (retitle it, clear it, move the cursor back over a line, reorder it) is
// refused at the door as malformed, naming the field and the character by
// its code point, never echoing it. The refusal comes before any Redis or
// node call, so the service needs neither here.
func TestSubmitRefusesHostileText(t *testing.T) {
	svc := New(Config{}, zerolog.Nop(), nil, nil, nil, nil, nil)
	for _, id := range []string{"\x1b]0;pwned\x07", "ab\x1b[2J", "ok\rFAKE ROW", "a\u202eb", "a\u009b2J", "bell\a"} {
		body, err := json.Marshal(map[string]any{
			"policyHolder": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "protectedWallet": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
			"protectedBalance": "5000000000", "duration": 2592000, "bundleId": 1, "signatureId": id,
			"signature": "0x" + strings.Repeat("ab", 65),
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Submit(t.Context(), body)
		var rej *Rejection
		if !errors.As(err, &rej) || rej.Class != ClassMalformed || rej.Field != stream.FieldSignatureID ||
			!strings.Contains(rej.Reason, "non-printable character U+") {
			t.Fatalf("signatureId %q: %v (%+v)", id, err, rej)
		}
		for _, r := range rej.Error() {
			if !unicode.IsPrint(r) {
				t.Fatalf("signatureId %q: the refusal carries %U: %q", id, r, rej.Error())
			}
		}
	}
}

// TestBodyProblemsInOurWords: a body that is not one JSON object is told
// what it is, never with encoding/json's message ("cannot unmarshal array
// into Go value of type map[string]json.RawMessage").
func TestBodyProblemsInOurWords(t *testing.T) {
	for body, want := range map[string]string{
		`[1,2]`:           "it is an array",
		`"x"`:             "it is a string",
		`null`:            "it is null",
		`true`:            "it is a boolean",
		`42`:              "it is a number",
		``:                "it is empty",
		`{"policyHolder"`: "its JSON ends too early",
		`policyHolder=0x`: "it is not valid JSON (at byte 1)",
	} {
		_, problems := Fields([]byte(body))
		if len(problems) != 1 || !strings.HasPrefix(problems[0].Reason, "body must be one JSON object") ||
			!strings.Contains(problems[0].Reason, want) {
			t.Errorf("%q: %+v, want %q", body, problems, want)
		}
		for _, goWords := range []string{"unmarshal", "Go value", "json:", "invalid character"} {
			if len(problems) == 1 && strings.Contains(problems[0].Reason, goWords) {
				t.Errorf("%q: %q speaks Go (%q)", body, problems[0].Reason, goWords)
			}
		}
	}
}
