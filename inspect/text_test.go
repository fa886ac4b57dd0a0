package inspect

import (
	"encoding/json"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostile are texts a terminal or a browser acts on instead of showing.
var hostile = []string{
	"\x1b]0;pwned\x07",             // OSC: retitles the terminal
	"\x1b]2;title\x1b\\",           // OSC ended by ST
	"\x1b[2J\x1b[H",                // clears the screen
	"ok\r\x1b[2KFAKE ROW",          // overwrites the line
	"\x1b[1A\x1b[2K",               // moves up and erases a row
	"bell\a",                       // rings
	"a\u009b2Jb",                   // C1 CSI
	"a\x7fb",                       // DEL
	"abc\u202edef",                 // right-to-left override
	"a\u2066b\u2069",               // isolates
	"a\u200db\ufeff",               // zero width joiner, BOM
	"tab\there\nnew",               // layout
	"\xff\xfe not UTF-8",           // invalid bytes
	"\U000e0001 language tag",      // format character above U+FFFF
	"\u2028line separator\u2029",   // separators
	"\x1bP+q544e\x1b\\ DCS query",  // device control string
	"\x1b]8;;http://x\x1b\\link",   // OSC 8 hyperlink
	"\x1b[?1049h alternate screen", // private mode
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ERROR:DMH-002:SIGNATURE_INVALID", "ERROR:DMH-002:SIGNATURE_INVALID"},
		{`policyHolder: "0x12" is not a 0x address`, `policyHolder: "0x12" is not a 0x address`},
		{`back\slash é € 𝄞`, `back\slash é € 𝄞`},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"ok\rFAKE", `ok\x0dFAKE`},
		{"a\u202eb", `a\u202eb`},
		{"a\u009bb", `a\x9bb`},
		{"\xff", `\xff`},
		{"\U000e0001", `\U000e0001`},
		{"\ufffd", "\ufffd"},
		{"a\nb", `a\x0ab`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPrintableLeavesNothingRaw: whatever the input, the output holds only
// printable characters, and text that needed no escape is unchanged.
func TestPrintableLeavesNothingRaw(t *testing.T) {
	for _, in := range hostile {
		out := Printable(in)
		if !utf8.ValidString(out) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", in, out)
		}
		for _, r := range out {
			if !unicode.IsPrint(r) {
				t.Fatalf("Printable(%q) = %q keeps %U", in, out, r)
			}
		}
	}
}

// TestPrintableJSON: encoded JSON keeps its values (decoding gives back the
// input, invalid bytes aside, which encoding/json already replaced) and
// holds no raw character but its layout's newlines.
func TestPrintableJSON(t *testing.T) {
	for _, in := range hostile {
		enc, err := json.MarshalIndent(map[string]string{"reason": in, "entityId": "01ENTITY"}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out := PrintableJSON(enc)
		for _, r := range string(out) {
			if r != '\n' && !unicode.IsPrint(r) {
				t.Fatalf("PrintableJSON of %q keeps %U: %s", in, r, out)
			}
		}
		var back map[string]string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("PrintableJSON of %q does not decode: %v\n%s", in, err, out)
		}
		var want map[string]string
		_ = json.Unmarshal(enc, &want)
		if back["reason"] != want["reason"] || back["entityId"] != "01ENTITY" {
			t.Fatalf("PrintableJSON of %q decodes to %q, want %q", in, back["reason"], want["reason"])
		}
	}
	if got := string(PrintableJSON([]byte("{\"a\": \"b\"}\n"))); got != "{\"a\": \"b\"}\n" {
		t.Fatalf("plain JSON changed: %q", got)
	}
}
