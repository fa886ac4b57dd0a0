package intake

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/etherisc/depeg-relay/stream"
)

// FuzzFields feeds POST /api/application bodies as anyone on the internet
// may send them. Properties: no panic; every problem names a body field or
// the body, readably (one line of UTF-8, bounded); an accepted body yields
// only the application's fields, which written back as JSON strings read the
// same again; and the relay's validator takes whatever comes out without
// panicking.
func FuzzFields(f *testing.F) {
	for _, seed := range []string{
		`{"policyHolder":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","protectedWallet":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8",` +
			`"protectedBalance":"5000000000","duration":2592000,"bundleId":1,"signatureId":"V1StGXR8_Z5jdHi6B-myT",` +
			`"signature":"0x` + strings.Repeat("ab", 65) + `"}`,
		`{"protectedBalance":-5,"duration":1e3,"bundleId":1.0}`,
		`{"duration":"30","bundleId":"2","extra":{"deep":[1,2,{"x":null}]}}`,
		`{"signature":null,"signatureId":"\u0000\ud800"}`,
		`{"policyHolder":5,"bundleId":true,"signature":{"a":1},"duration":[1]}`,
		`[1,2]`, `policyHolder=0x`, ``, `{} {}`, `{"a":1}garbage`, `null`, `"x"`, `{"duration":1`, "\xff\xfe{}",
		`{"bundleId":99999999999999999999999999999999999999999999999999999999999999999999999999999999}`,
		`{"signatureId":"` + strings.Repeat("é", 40) + `"}`, `{"policyHolder":"0x1","policyHolder":"0x2"}`,
		// Terminal escapes, raw and JSON-escaped (issue 19).
		`{"signatureId":"\u001b]0;pwned\u0007","duration":1}`, "{\"signatureId\":\"ok\r\x1b[2K\"}",
		`{"signatureId":"a\u202eb\u009b"}`,
	} {
		f.Add([]byte(seed))
	}
	known := map[string]bool{}
	for _, bf := range bodyFields {
		known[bf.name] = true
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, problems := Fields(body)
		for _, p := range problems {
			if p.Field != "" && !known[p.Field] {
				t.Fatalf("problem names %q, not a body field", p.Field)
			}
			if p.Reason == "" || !utf8.ValidString(p.Reason) || strings.ContainsAny(p.Reason, "\n\r") || len(p.Reason) > 512 {
				t.Fatalf("problem reason is not one readable line: %q", p.Reason)
			}
		}
		for name := range fields {
			if !known[name] {
				t.Fatalf("field %q is not an application field", name)
			}
		}
		// Whatever the intake passes on, the one validator judges it, and
		// what it accepts is printable text where a person will read it.
		if app, err := stream.DecodeApplication("01ENTITY", fields); err == nil {
			for _, r := range app.SignatureID {
				if !unicode.IsPrint(r) {
					t.Fatalf("signatureId %q accepted with %U", app.SignatureID, r)
				}
			}
		}
		if len(problems) > 0 {
			return
		}
		again, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		back, problems := Fields(again)
		if len(problems) > 0 || len(back) != len(fields) {
			t.Fatalf("fields %q written back as %s read as %q, %v", fields, again, back, problems)
		}
		for k, v := range fields {
			if back[k] != v && utf8.ValidString(v) {
				t.Fatalf("field %s: %q read back as %q", k, v, back[k])
			}
		}
	})
}
